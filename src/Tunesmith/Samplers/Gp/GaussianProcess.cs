namespace Tunesmith.Samplers.Gp;

/// <summary>
/// Kernel hyperparameters in log space, packed as one vector for the optimizer:
/// [log θ₁ … log θ_d, log σ², log noise], θ being inverse squared length scales.
/// </summary>
internal sealed record GpHyperparameters(double[] Packed)
{
    public int Dimensions => Packed.Length - 2;
    public double SignalVariance => Math.Exp(Packed[^2]);
    public double NoiseVariance => Math.Exp(Packed[^1]);

    public double[] InverseSquaredLengthScales()
    {
        var theta = new double[Dimensions];
        for (var j = 0; j < theta.Length; j++) theta[j] = Math.Exp(Packed[j]);
        return theta;
    }
}

/// <summary>
/// A Gaussian process posterior (zero prior mean on standardized values) conditioned on training points: the mean and
/// the latent variance at any point, with gradients in the point's numeric coordinates for acquisition refinement.
/// </summary>
internal sealed class GaussianProcess
{
    private readonly double[] _x;
    private readonly double[] _theta;
    private readonly double[] _alpha;

    /// <summary>Conditions a process with hyperparameters <paramref name="hyper"/> on <paramref name="n"/> row-major points and their values.</summary>
    public GaussianProcess(double[] x, int n, int d, bool[] categorical, double[] y, GpHyperparameters hyper)
    {
        _x = x;
        Count = n;
        Dimensions = d;
        Categorical = categorical;
        _theta = hyper.InverseSquaredLengthScales();
        Signal = hyper.SignalVariance;
        Noise = hyper.NoiseVariance;
        Cholesky = JitteredCholesky.Create(MaternKernel.Matrix(x, n, d, _theta, categorical, Signal, Noise), n);
        _alpha = (double[])y.Clone();
        Cholesky.Solve(_alpha);
    }

    public int Count { get; }
    public int Dimensions { get; }
    public bool[] Categorical { get; }
    public double Signal { get; }
    public double Noise { get; }
    public JitteredCholesky Cholesky { get; }

    /// <summary>Posterior mean at <paramref name="q"/>, without the variance's cost.</summary>
    public double PredictMean(ReadOnlySpan<double> q)
    {
        var mean = 0.0;
        for (var i = 0; i < Count; i++)
            mean += _alpha[i] * Signal * MaternKernel.Correlation(MaternKernel.SquaredDistance(q, new ReadOnlySpan<double>(_x, i * Dimensions, Dimensions), _theta, Categorical));
        return mean;
    }

    /// <summary>Posterior mean and latent variance (observation noise excluded) at <paramref name="q"/>; <paramref name="work"/> holds at least Count values.</summary>
    public (double Mean, double Variance) Predict(ReadOnlySpan<double> q, Span<double> work)
    {
        var n = Count;
        var d = Dimensions;
        var k = work[..n];
        for (var i = 0; i < n; i++)
            k[i] = Signal * MaternKernel.Correlation(MaternKernel.SquaredDistance(q, new ReadOnlySpan<double>(_x, i * d, d), _theta, Categorical));
        var mean = JitteredCholesky.Dot(k, _alpha);
        Cholesky.SolveLower(k);
        var variance = Signal - JitteredCholesky.Dot(k, k);
        return (mean, Math.Max(variance, 0));
    }

    /// <summary>
    /// As <see cref="Predict"/>, plus the gradients of mean and variance in the numeric coordinates of <paramref name="q"/>
    /// (categorical coordinates get 0). <paramref name="work"/> holds at least 3·Count values.
    /// </summary>
    public (double Mean, double Variance) PredictWithGradient(ReadOnlySpan<double> q, Span<double> dMean, Span<double> dVariance, Span<double> work)
    {
        var n = Count;
        var d = Dimensions;
        var k = work[..n];
        var derivative = work.Slice(n, n);
        var w = work.Slice(2 * n, n);
        for (var i = 0; i < n; i++)
        {
            var s = MaternKernel.SquaredDistance(q, new ReadOnlySpan<double>(_x, i * d, d), _theta, Categorical);
            k[i] = Signal * MaternKernel.Correlation(s);
            derivative[i] = Signal * MaternKernel.CorrelationDerivative(s);
        }
        var mean = JitteredCholesky.Dot(k, _alpha);
        k.CopyTo(w);
        Cholesky.SolveLower(w);
        var variance = Signal - JitteredCholesky.Dot(w, w);
        Cholesky.SolveUpper(w); // w = K⁻¹ k
        dMean.Clear();
        dVariance.Clear();
        for (var i = 0; i < n; i++)
        {
            var a = derivative[i] * _alpha[i];
            var b = derivative[i] * w[i];
            var row = new ReadOnlySpan<double>(_x, i * d, d);
            for (var j = 0; j < d; j++)
            {
                if (Categorical[j]) continue;
                var diff = 2 * _theta[j] * (q[j] - row[j]);
                dMean[j] += a * diff;
                dVariance[j] -= 2 * b * diff;
            }
        }
        if (variance <= 0) { dVariance.Clear(); variance = 0; }
        return (mean, variance);
    }
}
