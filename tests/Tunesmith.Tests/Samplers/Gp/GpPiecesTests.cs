using MathNet.Numerics;
using Tunesmith.Samplers.Gp;
using Xunit;

namespace Tunesmith.Tests.Samplers.Gp;

public sealed class GpPiecesTests
{
    private static double[] RandomPoints(Random random, int n, int d)
    {
        var x = new double[n * d];
        for (var i = 0; i < x.Length; i++) x[i] = random.NextDouble();
        return x;
    }

    [Fact]
    public void Kernel_matrix_is_symmetric_and_positive_definite()
    {
        var random = new Random(1);
        const int n = 40, d = 3;
        var x = RandomPoints(random, n, d);
        for (var i = 0; i < n; i++) x[i * d + 2] = random.Next(3); // a categorical feature
        var k = MaternKernel.Matrix(x, n, d, [4.0, 0.5, 2.0], [false, false, true], signal: 1.7, noise: 0);
        for (var i = 0; i < n; i++)
        {
            Assert.Equal(1.7, k[i * n + i], 12);
            for (var j = 0; j < n; j++) Assert.Equal(k[i * n + j], k[j * n + i]);
        }
        for (var trial = 0; trial < 20; trial++)
        {
            var v = Enumerable.Range(0, n).Select(_ => random.NextDouble() - 0.5).ToArray();
            var quadratic = 0.0;
            for (var i = 0; i < n; i++)
                for (var j = 0; j < n; j++) quadratic += v[i] * k[i * n + j] * v[j];
            Assert.True(quadratic > 0, $"vᵀKv = {quadratic}");
        }
        var chol = JitteredCholesky.Create(k, n);
        Assert.Equal(0, chol.Jitter);
    }

    [Fact]
    public void Marginal_likelihood_gradient_matches_finite_differences()
    {
        var random = new Random(2);
        const int n = 25, d = 3;
        var x = RandomPoints(random, n, d);
        for (var i = 0; i < n; i++) x[i * d + 2] = random.Next(2);
        var categorical = new[] { false, false, true };
        var y = Enumerable.Range(0, n).Select(i => Math.Sin(6 * x[i * d]) + x[i * d + 1] + 0.3 * x[i * d + 2]).ToArray();
        var eta = new[] { 1.0, -0.5, 0.3, 0.2, Math.Log(1e-2) };
        var gradient = new double[eta.Length];
        GpHyperparameterFit.NegativeLogPosterior(x, n, d, categorical, y, eta, gradient, deterministic: false);
        for (var j = 0; j < eta.Length; j++)
        {
            const double h = 1e-5;
            var plus = (double[])eta.Clone(); plus[j] += h;
            var minus = (double[])eta.Clone(); minus[j] -= h;
            var scratch = new double[eta.Length];
            var numeric = (GpHyperparameterFit.NegativeLogPosterior(x, n, d, categorical, y, plus, scratch, false)
                - GpHyperparameterFit.NegativeLogPosterior(x, n, d, categorical, y, minus, scratch, false)) / (2 * h);
            Assert.True(Math.Abs(numeric - gradient[j]) < 1e-4 * Math.Max(1, Math.Abs(numeric)), $"η[{j}]: analytic {gradient[j]}, numeric {numeric}");
        }
    }

    [Fact]
    public void Posterior_gradient_matches_finite_differences()
    {
        var random = new Random(3);
        const int n = 30, d = 2;
        var x = RandomPoints(random, n, d);
        var y = Enumerable.Range(0, n).Select(i => Math.Cos(5 * x[i * d]) * x[i * d + 1]).ToArray();
        var gp = new GaussianProcess(x, n, d, [false, false], y, new GpHyperparameters([2.0, 1.0, 0.0, Math.Log(1e-4)]));
        var q = new[] { 0.37, 0.61 };
        var dMean = new double[d];
        var dVariance = new double[d];
        var work = new double[3 * n];
        gp.PredictWithGradient(q, dMean, dVariance, work);
        for (var j = 0; j < d; j++)
        {
            const double h = 1e-6;
            var plus = (double[])q.Clone(); plus[j] += h;
            var minus = (double[])q.Clone(); minus[j] -= h;
            var p = gp.Predict(plus, work);
            var m = gp.Predict(minus, work);
            Assert.Equal((p.Mean - m.Mean) / (2 * h), dMean[j], 4);
            Assert.Equal((p.Variance - m.Variance) / (2 * h), dVariance[j], 4);
        }
    }

    [Fact]
    public void Cholesky_adds_jitter_to_a_singular_matrix()
    {
        // Three identical points: rank one, not positive definite without jitter.
        const int n = 3;
        var k = Enumerable.Repeat(1.0, n * n).ToArray();
        var chol = JitteredCholesky.Create(k, n);
        Assert.True(chol.Jitter > 0);
        Assert.All(chol.Factor, v => Assert.True(double.IsFinite(v)));
        var b = new[] { 1.0, 1.0, 1.0 };
        chol.Solve(b);
        Assert.All(b, v => Assert.True(double.IsFinite(v)));
    }

    [Fact]
    public void Log_ei_matches_log_of_ei_where_ei_is_not_tiny()
    {
        foreach (var mean in new[] { -2.0, -0.5, 0.0, 0.3, 1.5, 4.0 })
            foreach (var variance in new[] { 0.01, 0.25, 1.0, 3.0 })
            {
                const double best = 0.4;
                var sigma = Math.Sqrt(variance);
                var z = (mean - best) / sigma;
                var cdf = 0.5 * SpecialFunctions.Erfc(-z / Math.Sqrt(2));
                var pdf = Math.Exp(-0.5 * z * z) / Math.Sqrt(2 * Math.PI);
                var ei = sigma * (z * cdf + pdf);
                if (ei < 1e-10) continue;
                var logEi = LogExpectedImprovement.Value(mean, variance, best, out _, out _);
                Assert.True(Math.Abs(logEi - Math.Log(ei)) < 1e-8 * Math.Max(1, Math.Abs(Math.Log(ei))), $"mean {mean}, var {variance}: {logEi} vs {Math.Log(ei)}");
            }
    }

    [Fact]
    public void Log_ei_stays_finite_and_increasing_where_ei_underflows()
    {
        var previous = double.NegativeInfinity;
        foreach (var z in new[] { -1e4, -1e3, -100.0, -40.0, -38.5, -10.0, -3.0001, -2.9999, -1.0, 0.0, 2.0 })
        {
            var logH = LogExpectedImprovement.LogH(z, out var slope);
            Assert.True(double.IsFinite(logH), $"log h({z}) = {logH}");
            Assert.True(slope > 0 && double.IsFinite(slope), $"slope at {z} = {slope}");
            Assert.True(logH > previous, $"log h is not increasing at {z}");
            previous = logH;
        }
        // The two branches agree where they meet.
        Assert.Equal(LogExpectedImprovement.LogH(-3 - 1e-9, out _), LogExpectedImprovement.LogH(-3 + 1e-9, out _), 6);
        // Past the underflow of EI itself the gradient still points at the incumbent.
        LogExpectedImprovement.Value(-50, 1, 0, out var dMean, out _);
        Assert.True(dMean > 0);
    }

    [Fact]
    public void Posterior_interpolates_noiseless_training_points()
    {
        var random = new Random(4);
        const int n = 15, d = 2;
        var x = RandomPoints(random, n, d);
        var y = Enumerable.Range(0, n).Select(i => x[i * d] * x[i * d] - x[i * d + 1]).ToArray();
        var gp = new GaussianProcess(x, n, d, [false, false], y, new GpHyperparameters([1.0, 1.0, 0.0, Math.Log(1e-8)]));
        var work = new double[n];
        for (var i = 0; i < n; i++)
        {
            var (mean, variance) = gp.Predict(x.AsSpan(i * d, d), work);
            Assert.Equal(y[i], mean, 4);
            Assert.True(variance < 1e-5, $"variance {variance} at a training point");
        }
        var far = gp.Predict([5.0, -5.0], work);
        Assert.True(far.Variance > 0.9 * gp.Signal);
    }

    [Fact]
    public void Bounded_lbfgs_stops_on_the_box_when_the_minimum_is_outside()
    {
        var x = new[] { 0.5, 0.5 };
        var value = BoundedLbfgs.Minimize((v, g) =>
        {
            g[0] = 2 * (v[0] - 2);
            g[1] = 2 * (v[1] - 0.25);
            return (v[0] - 2) * (v[0] - 2) + (v[1] - 0.25) * (v[1] - 0.25);
        }, x, [0, 0], [1, 1], maxIterations: 50);
        Assert.Equal(1.0, x[0], 9);
        Assert.Equal(0.25, x[1], 6);
        Assert.Equal(1.0, value, 9);
    }

    [Fact]
    public void Posterior_mean_alone_matches_the_full_prediction()
    {
        var random = new Random(9);
        const int n = 20, d = 3;
        var x = RandomPoints(random, n, d);
        for (var i = 0; i < n; i++) x[i * d + 2] = i % 3; // a categorical coordinate
        var y = Enumerable.Range(0, n).Select(i => Math.Sin(4 * x[i * d]) + x[i * d + 1] + 0.3 * x[i * d + 2]).ToArray();
        var gp = new GaussianProcess(x, n, d, [false, false, true], y, new GpHyperparameters([1.0, 0.5, 0.0, 0.2, Math.Log(1e-3)]));
        var work = new double[n];
        for (var k = 0; k < 10; k++)
        {
            double[] q = [random.NextDouble(), random.NextDouble(), random.Next(3)];
            Assert.Equal(gp.Predict(q, work).Mean, gp.PredictMean(q), 10);
        }
    }

    private static GpFeatureSpace EdgeSpace() => new(new Dictionary<string, Tunesmith.Spaces.Distribution>
    {
        ["a"] = new Tunesmith.Spaces.FloatDistribution(1e-5, 1, Log: true),
        ["n"] = new Tunesmith.Spaces.IntDistribution(1, 20),
        ["c"] = new Tunesmith.Spaces.CategoricalDistribution(["A", "B", "C"]),
    });

    // Inverse squared length scales: 0.01 is a length scale of 10 range widths (nearly flat), 100 one of 0.1.
    private static readonly double[] Flat = [0.01, 0.01, 0.01];

    [Fact]
    public void Edge_redraw_moves_only_the_best_trials_coordinate_that_lies_at_an_end_of_its_range()
    {
        var space = EdgeSpace();
        var names = space.Names.ToList();
        var (ia, inn, ic) = (names.IndexOf("a"), names.IndexOf("n"), names.IndexOf("c"));
        var best = new double[3];
        best[ia] = 0; // a at its lower end
        best[inn] = space.TryEncode(new Dictionary<string, object?> { ["a"] = 0.01, ["n"] = 7L, ["c"] = "C" })![inn];
        best[ic] = 2;
        var worse = (double[])best.Clone();
        worse[ia] = 0.5;
        var observed = new List<(double[] X, double Y)> { (worse, -3.0), (best, -1.0) };
        var moved = 0;
        for (var seed = 0; seed < 20; seed++)
        {
            var x = GpSampler.EdgeRedraw(space, observed, Flat, new Random(seed))!;
            Assert.Equal(best[inn], x[inn]);
            Assert.Equal(2, x[ic]);
            Assert.InRange(x[ia], 0, 1);
            if (x[ia] > 0.05) moved++;
        }
        Assert.True(moved >= 15, $"a left its end in only {moved} of 20 draws");

        // a at its end, but the model resolves it within its range (length scale 0.1): its end is left alone.
        var resolved = (double[])Flat.Clone();
        resolved[ia] = 100;
        Assert.Null(GpSampler.EdgeRedraw(space, observed, resolved, new Random(1)));
        // No numeric coordinate of the best at an end: nothing to redraw (the category is never redrawn).
        best[ia] = 0.5;
        Assert.Null(GpSampler.EdgeRedraw(space, observed, Flat, new Random(1)));
        // An integer counts as at its end on the cell centre of its top value.
        best[inn] = space.TryEncode(new Dictionary<string, object?> { ["a"] = 0.01, ["n"] = 20L, ["c"] = "C" })![inn];
        var redrawn = GpSampler.EdgeRedraw(space, observed, Flat, new Random(3))!;
        Assert.Equal(best[ia], redrawn[ia]);
        Assert.NotEqual(best[inn], redrawn[inn]);
    }

    [FsCheck.Xunit.Property(MaxTest = 200)]
    public bool Edge_redraw_changes_at_most_one_nearly_flat_numeric_coordinate_that_was_at_an_end_and_stays_on_the_grid(int seed, byte edgeMask, byte category, byte flatMask)
    {
        var space = EdgeSpace();
        var random = new Random(seed);
        var x = new double[space.Dimensions];
        for (var j = 0; j < x.Length; j++)
            x[j] = space.IsCategorical[j] ? category % 3 : (edgeMask >> j & 1) == 1 ? (edgeMask >> (j + 3) & 1) : random.NextDouble();
        space.Snap(x);
        var observed = new List<(double[] X, double Y)> { (x, 0.0) };
        var low = new double[x.Length];
        var high = Enumerable.Repeat(1.0, x.Length).ToArray();
        space.Snap(low);
        space.Snap(high);
        var theta = Enumerable.Range(0, x.Length).Select(j => (flatMask >> j & 1) == 1 ? 0.5 : 2.0).ToArray(); // ℓ ≈ 1.41 or 0.71
        var atEnd = Enumerable.Range(0, x.Length).Where(j => !space.IsCategorical[j] && theta[j] < 1 && (x[j] == low[j] || x[j] == high[j])).ToList();
        var redrawn = GpSampler.EdgeRedraw(space, observed, theta, new Random(seed + 1));
        if (redrawn is null) return atEnd.Count == 0;
        var changed = Enumerable.Range(0, x.Length).Where(j => redrawn[j] != x[j]).ToList();
        var snapped = (double[])redrawn.Clone();
        space.Snap(snapped);
        return atEnd.Count > 0 && changed.Count <= 1 && changed.All(atEnd.Contains) && snapped.SequenceEqual(redrawn);
    }
}
