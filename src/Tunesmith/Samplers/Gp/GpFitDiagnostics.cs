namespace Tunesmith.Samplers.Gp;

/// <summary>
/// How well a Gaussian process explains a set of observations, from a fresh fit on them (<see cref="GpSampler"/>'s
/// kernel, priors and value scaling): the share of the variance the fit puts in noise, the leave-one-out predictive R²
/// and the fitted length scales of the numeric parameters, in units of the parameter's range (log parameters in log space).
/// </summary>
/// <param name="Observations">How many observations the process was fitted on.</param>
/// <param name="Dimensions">How many parameters the process models.</param>
/// <param name="NoiseShare">Noise variance over signal plus noise variance: the share of the values the fit leaves unexplained.</param>
/// <param name="LeaveOneOutR2">1 − (leave-one-out squared error) / (variance of the values): 1 for a perfect fit, ≤ 0 for no skill.</param>
/// <param name="ShortestLengthScale">The shortest numeric length scale (NaN without numeric parameters).</param>
/// <param name="MeanLengthScale">The geometric mean of the numeric length scales (NaN without numeric parameters).</param>
public sealed record GpFitReport(int Observations, int Dimensions, double NoiseShare, double LeaveOneOutR2, double ShortestLengthScale, double MeanLengthScale)
{
    /// <summary>
    /// The mode of the length-scale prior in <paramref name="dimensions"/> dimensions (≈ 0.2·√d): a fit whose scales fall
    /// well below it found structure finer than a smooth function of that many parameters is expected to have.
    /// </summary>
    public static double PriorLengthScale(int dimensions) => Math.Exp(GpHyperparameterFit.LogLengthScaleMode(dimensions));
}

/// <summary>Fits a process to observations and reports on the fit (<see cref="GpFitReport"/>).</summary>
internal static class GpFitDiagnostics
{
    /// <summary>Fits a process to <paramref name="points"/> (values larger-is-better, standardized as the sampler does) and reports on the fit.</summary>
    public static GpFitReport Measure(IReadOnlyList<(double[] X, double Y)> points, bool[] categorical, bool deterministic = false)
    {
        var n = points.Count;
        var d = categorical.Length;
        var y = GpSampler.StandardizedValues(points.ToList(), warp: !categorical.Any(c => c));
        var x = new double[n * d];
        for (var i = 0; i < n; i++) points[i].X.CopyTo(x, i * d);
        var hyper = GpHyperparameterFit.Fit(x, n, d, categorical, y, GpHyperparameterFit.Default(d, deterministic), deterministic, maxIterations: 80);
        var gp = new GaussianProcess(x, n, d, categorical, y, hyper);
        // Leave-one-out residuals from one factorization: r_i = [K⁻¹y]_i / [K⁻¹]_ii.
        var alpha = (double[])y.Clone();
        gp.Cholesky.Solve(alpha);
        var inverse = gp.Cholesky.Inverse();
        var mean = y.Average();
        double sse = 0, sst = 0;
        for (var i = 0; i < n; i++)
        {
            var r = alpha[i] / inverse[i * n + i];
            sse += r * r;
            sst += (y[i] - mean) * (y[i] - mean);
        }
        var theta = hyper.InverseSquaredLengthScales();
        var scales = Enumerable.Range(0, d).Where(j => !categorical[j]).Select(j => 1 / Math.Sqrt(theta[j])).ToArray();
        return new GpFitReport(n, d,
            hyper.NoiseVariance / (hyper.NoiseVariance + hyper.SignalVariance),
            sst > 0 ? 1 - sse / sst : 1,
            scales.Length > 0 ? scales.Min() : double.NaN,
            scales.Length > 0 ? Math.Exp(scales.Average(Math.Log)) : double.NaN);
    }
}
