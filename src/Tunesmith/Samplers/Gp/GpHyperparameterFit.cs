namespace Tunesmith.Samplers.Gp;

/// <summary>
/// Fits kernel hyperparameters by maximizing the marginal likelihood times priors (a MAP estimate) with bounded L-BFGS
/// and analytic gradients. Priors: log-normal length scales centred on √2 + ½·ln d (long scales in high dimensions, after
/// Hvarfner et al., 2024), a log-normal signal variance around 1 (values are standardized), and a small noise.
/// </summary>
internal static class GpHyperparameterFit
{
    private const double LogTwoPi = 1.8378770664093454836;
    private const double NoiseFloor = 1e-6;
    private const double DeterministicNoise = 1e-6;

    /// <summary>The prior mode: where a cold fit starts.</summary>
    public static GpHyperparameters Default(int d, bool deterministic)
    {
        var p = new double[d + 2];
        var (mean, _) = LengthScalePrior(d);
        for (var j = 0; j < d; j++) p[j] = mean;
        p[d] = 0;
        p[d + 1] = deterministic ? Math.Log(DeterministicNoise) : Math.Log(1e-3);
        return new GpHyperparameters(p);
    }

    /// <summary>Fits from <paramref name="start"/> (a previous fit or <see cref="Default"/>) on row-major points <paramref name="x"/>.</summary>
    public static GpHyperparameters Fit(double[] x, int n, int d, bool[] categorical, double[] y, GpHyperparameters start,
        bool deterministic, int maxIterations)
    {
        var (lower, upper) = Bounds(d, deterministic);
        var eta = (double[])start.Packed.Clone();
        var before = NegativeLogPosterior(x, n, d, categorical, y, eta, new double[d + 2], deterministic);
        var value = BoundedLbfgs.Minimize((e, g) => NegativeLogPosterior(x, n, d, categorical, y, e, g, deterministic),
            eta, lower, upper, maxIterations, gradientTolerance: 1e-3, relativeTolerance: 1e-7);
        if (!double.IsFinite(value) || (double.IsFinite(before) && value > before)) return start;
        return new GpHyperparameters(eta);
    }

    /// <summary>The box the optimizer keeps hyperparameters in (log space).</summary>
    public static (double[] Lower, double[] Upper) Bounds(int d, bool deterministic)
    {
        var lower = new double[d + 2];
        var upper = new double[d + 2];
        for (var j = 0; j < d; j++) { lower[j] = -12; upper[j] = 12; }
        lower[d] = Math.Log(1e-2);
        upper[d] = Math.Log(1e3);
        lower[d + 1] = deterministic ? Math.Log(DeterministicNoise) : Math.Log(NoiseFloor);
        upper[d + 1] = deterministic ? Math.Log(DeterministicNoise) : 0;
        return (lower, upper);
    }

    // Prior on log θ (θ = ℓ⁻²): the log-normal ℓ ~ LN(√2 + ½ ln d, 3) of Hvarfner et al., centred in log space on its
    // mode exp(√2 − 3 + ½ ln d) ≈ 0.2·√d (the scale a MAP fit in ℓ settles at): log θ ~ N(−2(√2 − 3 + ½ ln d), 4·3).
    private static (double Mean, double Variance) LengthScalePrior(int d) => (-2 * LogLengthScaleMode(d), 4 * 3.0);

    /// <summary>log of the length-scale prior's mode, √2 − 3 + ½ ln d (the scale ≈ 0.2·√d).</summary>
    public static double LogLengthScaleMode(int d) => Math.Sqrt(2) - 3 + 0.5 * Math.Log(Math.Max(d, 1));

    private const double SignalPriorVariance = 4.0;
    // Gamma(1.1, 30) on the noise variance (standardized units): mostly below 0.1, so a handful of wiggly points is
    // explained by short length scales rather than by noise, while deterministic data still pushes it to the floor.
    private const double NoiseShape = 1.1;
    private const double NoiseRate = 30;

    /// <summary>−log(marginal likelihood · priors) and its gradient in the packed log hyperparameters; +∞ when the matrix cannot be factored.</summary>
    public static double NegativeLogPosterior(double[] x, int n, int d, bool[] categorical, double[] y, double[] eta, double[] gradient, bool deterministic)
    {
        Array.Clear(gradient);
        var theta = new double[d];
        for (var j = 0; j < d; j++) theta[j] = Math.Exp(eta[j]);
        var signal = Math.Exp(eta[d]);
        var noise = Math.Exp(eta[d + 1]);
        // Each pair's squared distance and exp(−√(5s)) serve both the matrix and its gradient.
        var pairs = n * (n - 1) / 2;
        var correlation = new double[pairs];
        var derivative = new double[pairs];
        var k = new double[n * n];
        for (int a = 0, p = 0; a < n; a++)
        {
            var xa = new ReadOnlySpan<double>(x, a * d, d);
            k[a * n + a] = signal + noise;
            for (var b = a + 1; b < n; b++, p++)
            {
                var s = MaternKernel.SquaredDistance(xa, new ReadOnlySpan<double>(x, b * d, d), theta, categorical);
                var r = Math.Sqrt(5 * s);
                var e = Math.Exp(-r);
                correlation[p] = (1 + r + 5.0 / 3.0 * s) * e;
                derivative[p] = -5.0 / 6.0 * (1 + r) * e;
                k[a * n + b] = k[b * n + a] = signal * correlation[p];
            }
        }
        JitteredCholesky chol;
        try { chol = JitteredCholesky.Create(k, n); }
        catch (InvalidOperationException) { return double.PositiveInfinity; }
        var alpha = (double[])y.Clone();
        chol.Solve(alpha);
        var value = 0.5 * JitteredCholesky.Dot(y, alpha) + 0.5 * chol.LogDeterminant() + 0.5 * n * LogTwoPi;

        // d(−log L)/dη = −½ tr((ααᵀ − K⁻¹) ∂K/∂η), summed over the upper triangle (off-diagonal terms twice).
        var inverse = chol.Inverse();
        var lengthGradient = new double[d];
        for (int a = 0, p = 0; a < n; a++)
        {
            var xa = new ReadOnlySpan<double>(x, a * d, d);
            var wDiagonal = alpha[a] * alpha[a] - inverse[a * n + a];
            gradient[d] += -0.5 * wDiagonal * signal;
            gradient[d + 1] += -0.5 * wDiagonal * noise;
            for (var b = a + 1; b < n; b++, p++)
            {
                var w = alpha[a] * alpha[b] - inverse[a * n + b];
                gradient[d] += -w * signal * correlation[p];
                var common = -w * signal * derivative[p];
                var xb = new ReadOnlySpan<double>(x, b * d, d);
                for (var j = 0; j < d; j++)
                    lengthGradient[j] += common * MaternKernel.UnscaledComponent(xa[j], xb[j], categorical[j]);
            }
        }
        for (var j = 0; j < d; j++) gradient[j] += lengthGradient[j] * theta[j];

        var (lsMean, lsVariance) = LengthScalePrior(d);
        for (var j = 0; j < d; j++)
        {
            value += (eta[j] - lsMean) * (eta[j] - lsMean) / (2 * lsVariance);
            gradient[j] += (eta[j] - lsMean) / lsVariance;
        }
        value += eta[d] * eta[d] / (2 * SignalPriorVariance);
        gradient[d] += eta[d] / SignalPriorVariance;
        if (deterministic) gradient[d + 1] = 0;
        else
        {
            // In log space (with the Jacobian): −log p(η) = −k·η + rate·e^η.
            value += -NoiseShape * eta[d + 1] + NoiseRate * noise;
            gradient[d + 1] += -NoiseShape + NoiseRate * noise;
        }
        return value;
    }
}
