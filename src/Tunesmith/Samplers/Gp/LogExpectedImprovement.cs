using MathNet.Numerics;

namespace Tunesmith.Samplers.Gp;

/// <summary>
/// The logarithm of expected improvement (maximization), computed so that it stays finite and informative where EI
/// itself underflows to zero (Ament et al., 2023): far from the incumbent the acquisition still has a slope to climb.
/// </summary>
internal static class LogExpectedImprovement
{
    private const double LogSqrt2Pi = 0.91893853320467274178;
    private const double InvSqrt2Pi = 0.39894228040143267794;
    private const double VarianceFloor = 1e-12;

    /// <summary>
    /// log EI at a point with posterior <paramref name="mean"/> and <paramref name="variance"/> over incumbent
    /// <paramref name="best"/>, and its derivatives in the mean and the variance.
    /// </summary>
    public static double Value(double mean, double variance, double best, out double dMean, out double dVariance)
    {
        var clamped = variance < VarianceFloor;
        var v = clamped ? VarianceFloor : variance;
        var sigma = Math.Sqrt(v);
        var z = (mean - best) / sigma;
        var logH = LogH(z, out var dLogH);
        dMean = dLogH / sigma;
        dVariance = clamped ? 0 : (1 - dLogH * z) / (2 * v);
        return logH + 0.5 * Math.Log(v);
    }

    /// <summary>log h(z) where h(z) = φ(z) + z·Φ(z) (EI of a standard normal), with d log h / dz = Φ(z) / h(z).</summary>
    public static double LogH(double z, out double derivative)
    {
        if (z > -3)
        {
            var cdf = 0.5 * SpecialFunctions.Erfc(-z / Math.Sqrt(2));
            var pdf = InvSqrt2Pi * Math.Exp(-0.5 * z * z);
            var h = pdf + z * cdf;
            derivative = cdf / h;
            return Math.Log(h);
        }
        // For z ≤ −3 write h = φ(z)·(1 − x·R(x)) with x = −z and R the Mills ratio R(x) = 1/(x + t),
        // t = 1/(x + 2/(x + 3/(x + ...))); then 1 − x·R = t/(x + t) has no cancellation.
        var x = -z;
        var tail = 0.0;
        for (var k = 60; k >= 2; k--) tail = k / (x + tail);
        var t = 1 / (x + tail);
        derivative = 1 / t;
        return -0.5 * z * z - LogSqrt2Pi + Math.Log(t / (x + t));
    }
}
