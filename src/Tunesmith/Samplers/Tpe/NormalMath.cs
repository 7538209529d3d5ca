using System.Runtime.CompilerServices;
namespace Tunesmith.Samplers.Tpe;

/// <summary>The standard normal functions the truncated kernels need (.NET has no erf).</summary>
internal static class NormalMath
{
    public const double LogSqrt2Pi = 0.91893853320467274178;
    private const double InvSqrt2 = 0.70710678118654752440;

    /// <summary>
    /// The complementary error function, from a Chebyshev fit of erfc(z)·exp(z²) in t = 1/(1 + z/2): fractional error
    /// below 1.2e-7 everywhere, which keeps log-probabilities in the tails meaningful (an absolute-error fit would not).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double Erfc(double x)
    {
        var z = Math.Abs(x);
        var t = 1.0 / (1.0 + 0.5 * z);
        var poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
            + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
        var r = t * Math.Exp(poly);
        return x >= 0 ? r : 2.0 - r;
    }

    /// <summary>Upper tail Q(z) = 1 − Φ(z), accurate for large z.</summary>
    public static double UpperTail(double z) => 0.5 * Erfc(z * InvSqrt2);

    /// <summary>log(Φ(b) − Φ(a)) for a &lt; b, without cancellation in either tail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double LogMass(double a, double b)
    {
        double mass;
        if (a >= 0) mass = UpperTail(a) - UpperTail(b);
        else if (b <= 0) mass = UpperTail(-b) - UpperTail(-a);
        else mass = 1.0 - UpperTail(b) - UpperTail(-a);
        // A very narrow interval, or one so far out that the tails underflow: the midpoint rule is exact enough there.
        if (b - a < 1e-4 || !(mass > 1e-250))
        {
            var mid = 0.5 * (a + b);
            return -0.5 * mid * mid - LogSqrt2Pi + Math.Log(b - a);
        }
        return Math.Log(mass);
    }

    /// <summary>A standard normal draw (Box–Muller; one of the pair is discarded so draws stay independent of call order).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double NextGaussian(Random random)
    {
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
