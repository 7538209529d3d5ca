namespace Tunesmith.Samplers.Gp;

/// <summary>
/// The Matérn-5/2 kernel with one inverse squared length scale per feature (ARD). Numeric features contribute
/// θ·(x − x')² to the squared distance, categorical ones θ·[x ≠ x'] (a Hamming distance), so mixed spaces share one kernel.
/// </summary>
internal static class MaternKernel
{
    /// <summary>The kernel's correlation at squared scaled distance <paramref name="s"/> (1 at s = 0).</summary>
    public static double Correlation(double s)
    {
        var r = Math.Sqrt(5 * s);
        return (1 + r + 5.0 / 3.0 * s) * Math.Exp(-r);
    }

    /// <summary>The derivative of <see cref="Correlation"/> with respect to <paramref name="s"/>: finite at s = 0, unlike the one in r.</summary>
    public static double CorrelationDerivative(double s)
    {
        var r = Math.Sqrt(5 * s);
        return -5.0 / 6.0 * (1 + r) * Math.Exp(-r);
    }

    /// <summary>The squared scaled distance between two feature vectors.</summary>
    public static double SquaredDistance(ReadOnlySpan<double> a, ReadOnlySpan<double> b, ReadOnlySpan<double> theta, bool[] categorical)
    {
        var s = 0.0;
        for (var j = 0; j < a.Length; j++)
        {
            if (categorical[j]) { if (a[j] != b[j]) s += theta[j]; }
            else { var diff = a[j] - b[j]; s += theta[j] * diff * diff; }
        }
        return s;
    }

    /// <summary>The contribution of one feature to the squared distance before scaling by θ.</summary>
    public static double UnscaledComponent(double a, double b, bool categorical) =>
        categorical ? (a != b ? 1.0 : 0.0) : (a - b) * (a - b);

    /// <summary>
    /// The covariance matrix σ²·k(xᵢ, xⱼ) + noise·I of <paramref name="n"/> row-major feature vectors, column-major
    /// (symmetric, so the layout only matters to callers that write into it).
    /// </summary>
    public static double[] Matrix(double[] x, int n, int d, ReadOnlySpan<double> theta, bool[] categorical, double signal, double noise)
    {
        var k = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            var xi = new ReadOnlySpan<double>(x, i * d, d);
            k[i * n + i] = signal + noise;
            for (var j = i + 1; j < n; j++)
            {
                var v = signal * Correlation(SquaredDistance(xi, new ReadOnlySpan<double>(x, j * d, d), theta, categorical));
                k[i * n + j] = v;
                k[j * n + i] = v;
            }
        }
        return k;
    }
}
