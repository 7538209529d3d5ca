using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Samplers;
using Tunesmith.Samplers.Sobol;
using Tunesmith.Spaces;
using Xunit;

namespace Tunesmith.Tests.Samplers;

/// <summary>The Sobol sampler (joint space from the history) passes the conformance suite.</summary>
public sealed class SobolSamplerConformanceTests : SamplerConformanceTests
{
    protected override ISampler CreateSampler(int? seed) => new SobolSampler(seed);
}

/// <summary>The Sobol sampler given a declarative space up front passes the conformance suite.</summary>
public sealed class SobolSamplerWithSpaceConformanceTests : SamplerConformanceTests
{
    protected override ISampler CreateSampler(int? seed)
    {
        var space = SvmSpace();
        foreach (var (name, distribution) in MixedSpace) space.Add(name, distribution);
        return new SobolSampler(seed, space);
    }
}

public sealed class SobolSequenceTests
{
    [Fact]
    public void Direction_number_table_is_well_formed_for_at_least_64_dimensions()
    {
        Assert.True(SobolSequence.MaxDimensions >= 64);
        var polynomials = new HashSet<(int, uint)>();
        var previousDegree = 0;
        for (var d = 0; d < SobolSequence.MaxDimensions - 1; d++)
        {
            var sequence = new SobolSequence(d + 2, seed: 1, scramble: false);
            Assert.Equal(d + 2, sequence.Dimensions);
        }
        var rows = typeof(SobolSequence).Assembly.GetType("Tunesmith.Samplers.Sobol.JoeKuoDirectionNumbers")!
            .GetProperty("Rows")!.GetValue(null) as IReadOnlyList<(int Degree, uint Coefficients, uint[] Initial)>;
        Assert.NotNull(rows);
        foreach (var (degree, coefficients, initial) in rows!)
        {
            Assert.Equal(degree, initial.Length);
            Assert.True(degree >= previousDegree, "degrees must not decrease");
            previousDegree = degree;
            Assert.True(coefficients < 1u << Math.Max(0, degree - 1), $"coefficients {coefficients} do not fit degree {degree}");
            Assert.True(polynomials.Add((degree, coefficients)), $"polynomial ({degree}, {coefficients}) appears twice");
            for (var i = 0; i < initial.Length; i++)
            {
                Assert.True(initial[i] % 2 == 1, "initial direction numbers are odd");
                Assert.True(initial[i] < 1u << (i + 1), $"m_{i + 1} = {initial[i]} must be below 2^{i + 1}");
            }
        }
    }

    [Fact]
    public void Unscrambled_sequence_starts_with_the_known_points()
    {
        var sobol = new SobolSequence(2, scramble: false);
        double[][] expected = [[0, 0], [0.5, 0.5], [0.25, 0.75], [0.75, 0.25]];
        for (var n = 0; n < expected.Length; n++)
            Assert.Equal(expected[n], sobol.Point(n));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Every_aligned_block_of_2_to_the_m_points_stratifies_every_dimension(bool scramble)
    {
        var sobol = new SobolSequence(SobolSequence.MaxDimensions, seed: 3, scramble);
        for (var m = 1; m <= 9; m++)
        {
            var n = 1 << m;
            foreach (var start in new long[] { 0, n, 5L * n })
                for (var d = 0; d < sobol.Dimensions; d++)
                {
                    var cells = new bool[n];
                    for (var i = 0; i < n; i++)
                    {
                        var u = sobol.Coordinate(start + i, d);
                        Assert.InRange(u, 0, 1 - 1e-16);
                        var cell = (int)(u * n);
                        Assert.False(cells[cell], $"dimension {d}, m = {m}: two points in cell {cell}");
                        cells[cell] = true;
                    }
                }
        }
    }

    [Fact]
    public void First_two_dimensions_form_a_zero_m_two_net()
    {
        var sobol = new SobolSequence(2, seed: 9);
        const int m = 8;
        for (var a = 0; a <= m; a++)
        {
            var seen = new HashSet<(int, int)>();
            for (var i = 0; i < 1 << m; i++)
            {
                var p = sobol.Point(i);
                Assert.True(seen.Add(((int)(p[0] * (1 << a)), (int)(p[1] * (1 << (m - a))))), $"two points in one 2^-{a} x 2^-{m - a} box");
            }
        }
    }

    [Fact]
    public void Same_seed_gives_the_same_points_and_another_seed_other_points()
    {
        var a = new SobolSequence(8, seed: 4);
        var b = new SobolSequence(8, seed: 4);
        var c = new SobolSequence(8, seed: 5);
        for (var i = 0; i < 32; i++) Assert.Equal(a.Point(i), b.Point(i));
        Assert.NotEqual(a.Point(1), c.Point(1));
    }

    [Fact]
    public void Parallel_workers_get_distinct_stratified_points()
    {
        var space = new SearchSpace().Float("x", 0, 1).Float("y", -5, 5).Int("n", 0, 63);
        var study = Study.Create("sobol", sampler: new SobolSampler(seed: 2, space));
        study.Optimize(t => t.Suggest(space).GetDouble("x"), trials: 64, parallelism: 4);
        var trials = study.Trials;
        Assert.Equal(64, trials.Count);
        Assert.Equal(64, trials.Select(t => (int)((double)t.Params["x"]! * 64)).Distinct().Count());
        Assert.Equal(64, trials.Select(t => (int)(((double)t.Params["y"]! + 5) / 10 * 64)).Distinct().Count());
        Assert.Equal(64, trials.Select(t => (long)t.Params["n"]!).Distinct().Count());
    }

    [Fact]
    public void Define_by_run_parameters_join_the_sequence_once_a_trial_has_completed()
    {
        var study = Study.Create("sobol", sampler: new SobolSampler(seed: 6));
        study.Optimize(t => t.SuggestFloat("x", 0, 1), trials: 128);
        var block = study.Trials.Skip(64).Select(t => (int)((double)t.Params["x"]! * 64)).Distinct().Count();
        Assert.Equal(64, block);
    }

    [Fact]
    public void Categorical_unit_mapping_uses_every_choice_equally()
    {
        var c = new CategoricalDistribution(["a", "b", "c"]);
        var counts = Enumerable.Range(0, 300).Select(i => SobolSampler.FromUnit(c, (i + 0.5) / 300)).GroupBy(v => v).Select(g => g.Count()).ToList();
        Assert.Equal([100, 100, 100], counts);
        Assert.Equal("c", SobolSampler.FromUnit(c, 0.9999999999));
    }

    [Fact]
    public void Registry_builds_sobol()
    {
        var sampler = SamplerRegistry.Create("sobol", new SamplerRequest(new Dictionary<string, object?> { ["scramble"] = false }, Seed: 3));
        Assert.Equal("sobol", sampler.Name);
        Assert.Equal(3, sampler.Seed);
        Assert.Throws<ArgumentException>(() => SamplerRegistry.Create("sobol", new SamplerRequest(new Dictionary<string, object?> { ["bogus"] = 1 })));
    }
}
