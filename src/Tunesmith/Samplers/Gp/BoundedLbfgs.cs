namespace Tunesmith.Samplers.Gp;

/// <summary>A function value that also writes its gradient into the second argument.</summary>
internal delegate double GradientFunction(double[] x, double[] gradient);

/// <summary>
/// Minimizes a smooth function inside a box by projected L-BFGS: quasi-Newton steps on the coordinates that are free
/// to move, projected back onto the box, with Armijo backtracking. Small and allocation-light, for the few-dozen
/// dimensional problems of a GP sampler (kernel hyperparameters, acquisition refinement).
/// </summary>
internal static class BoundedLbfgs
{
    /// <summary>Minimizes <paramref name="f"/> from <paramref name="x"/> (updated in place); returns the final value.</summary>
    public static double Minimize(GradientFunction f, double[] x, double[] lower, double[] upper,
        int maxIterations, double gradientTolerance = 1e-5, double relativeTolerance = 1e-10, int memory = 8)
    {
        var n = x.Length;
        for (var i = 0; i < n; i++) x[i] = Math.Clamp(x[i], lower[i], upper[i]);
        var g = new double[n];
        var fx = f(x, g);
        if (!double.IsFinite(fx)) return fx;

        var s = new double[memory][];
        var y = new double[memory][];
        var rho = new double[memory];
        var alpha = new double[memory];
        var stored = 0;
        var head = 0;
        var d = new double[n];
        var free = new bool[n];
        var xn = new double[n];
        var gn = new double[n];

        for (var iteration = 0; iteration < maxIterations; iteration++)
        {
            var projectedMax = 0.0;
            for (var i = 0; i < n; i++)
            {
                var atLower = x[i] <= lower[i] && g[i] > 0;
                var atUpper = x[i] >= upper[i] && g[i] < 0;
                free[i] = !(atLower || atUpper) && lower[i] < upper[i];
                if (free[i]) projectedMax = Math.Max(projectedMax, Math.Abs(g[i]));
            }
            if (projectedMax < gradientTolerance) break;

            // Two-loop recursion on the free coordinates.
            for (var i = 0; i < n; i++) d[i] = free[i] ? g[i] : 0;
            for (var k = 0; k < stored; k++)
            {
                var idx = (head - 1 - k + memory) % memory;
                alpha[idx] = rho[idx] * MaskedDot(s[idx], d, free);
                for (var i = 0; i < n; i++) if (free[i]) d[i] -= alpha[idx] * y[idx][i];
            }
            if (stored > 0)
            {
                var last = (head - 1 + memory) % memory;
                var gamma = MaskedDot(s[last], y[last], free) / Math.Max(MaskedDot(y[last], y[last], free), 1e-300);
                if (!(gamma > 0) || !double.IsFinite(gamma)) gamma = 1;
                for (var i = 0; i < n; i++) d[i] *= gamma;
            }
            for (var k = stored - 1; k >= 0; k--)
            {
                var idx = (head - 1 - k + memory) % memory;
                var beta = rho[idx] * MaskedDot(y[idx], d, free);
                for (var i = 0; i < n; i++) if (free[i]) d[i] += s[idx][i] * (alpha[idx] - beta);
            }
            var slope = 0.0;
            for (var i = 0; i < n; i++) { d[i] = free[i] ? -d[i] : 0; slope += d[i] * g[i]; }
            if (!(slope < 0))
            {
                stored = 0;
                slope = 0;
                for (var i = 0; i < n; i++) { d[i] = free[i] ? -g[i] : 0; slope += d[i] * g[i]; }
            }

            var step = stored == 0 ? Math.Min(1.0, 1.0 / projectedMax) : 1.0;
            var accepted = false;
            double fn = double.NaN;
            for (var trial = 0; trial < 30; trial++)
            {
                var decrease = 0.0;
                for (var i = 0; i < n; i++)
                {
                    xn[i] = Math.Clamp(x[i] + step * d[i], lower[i], upper[i]);
                    decrease += g[i] * (xn[i] - x[i]);
                }
                fn = f(xn, gn);
                if (double.IsFinite(fn) && fn <= fx + 1e-4 * decrease) { accepted = true; break; }
                step *= 0.5;
            }
            if (!accepted) break;

            var sNew = s[head] ??= new double[n];
            var yNew = y[head] ??= new double[n];
            var sy = 0.0;
            for (var i = 0; i < n; i++)
            {
                sNew[i] = xn[i] - x[i];
                yNew[i] = gn[i] - g[i];
                sy += sNew[i] * yNew[i];
            }
            if (sy > 1e-12)
            {
                rho[head] = 1 / sy;
                head = (head + 1) % memory;
                stored = Math.Min(stored + 1, memory);
            }
            var improvement = fx - fn;
            Array.Copy(xn, x, n);
            Array.Copy(gn, g, n);
            fx = fn;
            if (improvement <= relativeTolerance * (1 + Math.Abs(fx))) break;
        }
        return fx;
    }

    private static double MaskedDot(double[] a, double[] b, bool[] mask)
    {
        var s = 0.0;
        for (var i = 0; i < a.Length; i++) if (mask[i]) s += a[i] * b[i];
        return s;
    }
}
