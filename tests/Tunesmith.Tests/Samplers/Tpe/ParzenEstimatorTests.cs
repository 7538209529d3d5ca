using FsCheck;
using FsCheck.Xunit;
using Tunesmith.Samplers.Tpe;
using Tunesmith.Spaces;
using Xunit;

namespace Tunesmith.Tests.Samplers.Tpe;

public sealed class ParzenEstimatorTests
{
    private static double Phi(double z) => 0.5 * NormalMath.Erfc(-z / Math.Sqrt(2));

    private static double TruncatedNormalPdf(double x, double mu, double s) =>
        Math.Exp(-0.5 * Math.Pow((x - mu) / s, 2)) / (s * Math.Sqrt(2 * Math.PI)) / (Phi((1 - mu) / s) - Phi(-mu / s));

    /// <param name="unnormalized">
    /// Optuna 3.x's scoring: each continuous kernel at its height (density × bandwidth), so the broad prior outweighs
    /// narrow kernels.
    /// </param>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Joint_log_density_equals_the_weighted_mixture_of_truncated_normals(bool unnormalized)
    {
        var dims = new[] { ParamEncoding.For(new FloatDistribution(0, 1)), ParamEncoding.For(new FloatDistribution(-3, 3)) };
        var observations = new[] { 0.2, 0.3, 0.8, 0.1, 0.5, 0.55, 0.9, 0.95 };
        var options = new TpeOptions { ScottBandwidth = true, UnnormalizedKernels = unnormalized };
        var estimator = new ParzenEstimator(dims, observations, [1, 1, 1, 1], options, joint: true);
        var points = new[] { 0.2, 0.3, 0.9, 0.9, 0.5, 0.45, 0.0, 1.0 };
        var logPdf = new double[4];
        estimator.LogPdf(points, logPdf);

        var sigma = Math.Clamp(0.2 * Math.Pow(4, -1.0 / 6), 1.0 / Math.Min(100, 1 + 5), 1);
        var height = unnormalized ? sigma * sigma : 1.0; // the prior's σ is 1 in both dimensions
        for (var i = 0; i < 4; i++)
        {
            var p = 0.2 * TruncatedNormalPdf(points[2 * i], 0.5, 1) * TruncatedNormalPdf(points[2 * i + 1], 0.5, 1);
            for (var k = 0; k < 4; k++)
                p += 0.2 * height * TruncatedNormalPdf(points[2 * i], observations[2 * k], sigma) * TruncatedNormalPdf(points[2 * i + 1], observations[2 * k + 1], sigma);
            Assert.Equal(Math.Log(p), logPdf[i], 9);
        }
    }

    [Fact]
    public void Discrete_probabilities_sum_to_one_over_the_values()
    {
        var dims = new[] { ParamEncoding.For(new IntDistribution(1, 9, Step: 2)) };
        var observations = new[] { dims[0].Encode(3L), dims[0].Encode(3L), dims[0].Encode(9L) };
        var estimator = new ParzenEstimator(dims, observations, [1, 1, 1], new TpeOptions(), joint: false);
        var points = new long[] { 1, 3, 5, 7, 9 }.Select(v => dims[0].Encode(v)).ToArray();
        var logPdf = new double[points.Length];
        estimator.LogPdf(points, logPdf);
        Assert.Equal(1.0, logPdf.Sum(Math.Exp), 6);
        Assert.True(logPdf[1] > logPdf[3], "the twice-observed value must be more likely than an unobserved one");
    }

    [Fact]
    public void Categorical_probabilities_sum_to_one_and_favour_observed_choices()
    {
        var dims = new[] { ParamEncoding.For(new CategoricalDistribution(["a", "b", "c", "d"])) };
        var estimator = new ParzenEstimator(dims, [1.0, 1.0, 2.0], [1, 1, 1], new TpeOptions(), joint: false);
        var logPdf = new double[4];
        estimator.LogPdf([0.0, 1.0, 2.0, 3.0], logPdf);
        Assert.Equal(1.0, logPdf.Sum(Math.Exp), 9);
        Assert.True(logPdf[1] > logPdf[2] && logPdf[2] > logPdf[0]);
    }

    /// <summary>
    /// The categorical part of a mixed density is the joint probability summed over the numeric values (here an integer,
    /// whose values' probabilities sum to one), for any observations and weights: the same kernels, the numbers marginalized out.
    /// </summary>
    [Property(MaxTest = 50)]
    public bool The_categorical_marginal_is_the_joint_summed_over_the_numeric_values(PositiveInt seed, NonNegativeInt count)
    {
        var random = new Random(seed.Get);
        var dims = new[]
        {
            ParamEncoding.For(new CategoricalDistribution(["a", "b", "c"])), ParamEncoding.For(new IntDistribution(0, 4)),
            ParamEncoding.For(new CategoricalDistribution(["p", "q"])),
        };
        var n = count.Get % 12;
        var observations = Enumerable.Range(0, n).SelectMany(_ => new[] { (double)random.Next(3), dims[1].Encode((long)random.Next(5)), random.Next(2) }).ToArray();
        var weights = Enumerable.Range(0, n).Select(_ => 0.1 + random.NextDouble()).ToArray();
        var estimator = new ParzenEstimator(dims, observations, weights, new TpeOptions(), joint: true);
        foreach (var (c1, c2) in new[] { (0, 0), (1, 1), (2, 0) })
        {
            var points = Enumerable.Range(0, 5).SelectMany(v => new[] { c1, dims[1].Encode((long)v), c2 }).ToArray();
            var joint = new double[5];
            estimator.LogPdf(points, joint);
            var marginal = new double[1];
            estimator.LogPmfCategorical(points.AsSpan(0, 3), marginal);
            if (Math.Abs(Math.Log(joint.Sum(Math.Exp)) - marginal[0]) > 1e-9) return false;
        }
        return true;
    }

    /// <summary>
    /// Whatever the rows, every category move differs from the best row in one or two categorical parameters, keeps the
    /// best row's numbers or takes those of the best row with the new values, and is no point tried before.
    /// </summary>
    [Property(MaxTest = 60)]
    public bool Category_moves_change_one_or_two_categories_of_the_best_row_and_are_untried(PositiveInt seed, NonNegativeInt count)
    {
        var random = new Random(seed.Get);
        var dims = new[]
        {
            ParamEncoding.For(new CategoricalDistribution(["a", "b", "c"])), ParamEncoding.For(new FloatDistribution(0, 1)),
            ParamEncoding.For(new CategoricalDistribution(["p", "q"])), ParamEncoding.For(new CategoricalDistribution(["x", "y", "z"])),
        };
        var rows = Enumerable.Range(0, 1 + count.Get % 30)
            .Select(_ => new[] { random.Next(3), Math.Round(random.NextDouble(), 1), random.Next(2), random.Next(3) }).ToList();
        var moves = CategoryNeighbours.Untried(dims, rows, []);
        var categorical = new[] { 0, 2, 3 };
        foreach (var m in moves)
        {
            var changed = categorical.Where(j => m[j] != rows[0][j]).ToArray();
            if (changed.Length is < 1 or > 2) return false;
            if (m[1] != rows[0][1] && m[1] != rows.First(r => changed.All(j => r[j] == m[j]))[1]) return false;
            if (rows.Any(r => categorical.All(j => r[j] == m[j]) && Math.Abs(r[1] - m[1]) <= 0.02)) return false;
        }
        // With a single row nothing is tried but the row itself: every one- and two-category change is offered.
        return rows.Count > 1 || moves.Count == (2 + 1 + 2) + (2 * 1 + 2 * 2 + 1 * 2);
    }

    /// <summary>
    /// Untried combinations first: the moves kept are exactly those whose categories no row or running point has, unless
    /// there are none, when every move is kept; order is kept either way.
    /// </summary>
    [Property(MaxTest = 60)]
    public bool Untried_combinations_first_keeps_the_moves_to_new_combinations_while_any_is_left(PositiveInt seed, NonNegativeInt count, NonNegativeInt running)
    {
        var random = new Random(seed.Get);
        var dims = new[]
        {
            ParamEncoding.For(new CategoricalDistribution(["a", "b", "c"])), ParamEncoding.For(new FloatDistribution(0, 1)),
            ParamEncoding.For(new CategoricalDistribution(["p", "q"])), ParamEncoding.For(new CategoricalDistribution(["x", "y", "z"])),
        };
        double[] Row() => [random.Next(3), Math.Round(random.NextDouble(), 1), random.Next(2), random.Next(3)];
        var rows = Enumerable.Range(0, 1 + count.Get % 40).Select(_ => Row()).ToList();
        var pending = Enumerable.Range(0, running.Get % 4).Select(_ => Row()).ToList();
        var moves = CategoryNeighbours.Untried(dims, rows, pending);
        var kept = CategoryNeighbours.UntriedCombinationsFirst(dims, moves, rows, pending);
        var categorical = new[] { 0, 2, 3 };
        bool Seen(double[] m) => rows.Concat(pending).Any(r => categorical.All(j => r[j] == m[j]));
        var fresh = moves.Where(m => !Seen(m)).ToList();
        return fresh.Count > 0 ? kept.SequenceEqual(fresh) : kept.SequenceEqual(moves);
    }

    [Fact]
    public void Samples_stay_on_the_unit_interval_and_on_value_cells()
    {
        var dims = new[] { ParamEncoding.For(new FloatDistribution(0, 1)), ParamEncoding.For(new IntDistribution(0, 4)) };
        var estimator = new ParzenEstimator(dims, [0.0, dims[1].Encode(0L), 1.0, dims[1].Encode(4L)], [1, 1], new TpeOptions(), joint: true);
        var samples = estimator.Sample(new Random(1), 500);
        for (var i = 0; i < 500; i++)
        {
            Assert.InRange(samples[2 * i], 0, 1);
            var decoded = Assert.IsType<long>(dims[1].Decode(samples[2 * i + 1]));
            Assert.Equal(dims[1].Encode(decoded), samples[2 * i + 1], 12);
        }
    }

    [Theory]
    [InlineData(-1.0, 1.0)]
    [InlineData(3.0, 3.5)]
    [InlineData(-9.0, -8.5)]
    [InlineData(30.0, 31.0)]
    public void Log_mass_matches_the_normal_distribution_in_the_bulk_and_stays_finite_in_the_tails(double a, double b)
    {
        var logMass = NormalMath.LogMass(a, b);
        Assert.True(double.IsFinite(logMass));
        if (b < 8) Assert.Equal(Math.Log(Phi(b) - Phi(a)), logMass, 4);
        if (a > 0) Assert.Equal(Math.Log(NormalMath.UpperTail(a) - NormalMath.UpperTail(b)), logMass, 3);
    }
}
