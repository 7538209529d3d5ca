using Tunesmith.Execution;
using Tunesmith.Samplers;
using Tunesmith.Samplers.Rf;
using Tunesmith.Spaces;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Tests.Samplers.Rf;

/// <summary>The forest sampler passes the sampler conformance suite, past its startup phase.</summary>
public sealed class RandomForestSamplerConformanceTests : SamplerConformanceTests
{
    protected override ISampler CreateSampler(int? seed) => new RandomForestSampler(new RandomForestOptions { Seed = seed, RandomCandidates = 100 });

    protected override int TrialsPerRun => 24;
}

public sealed class RandomForestSamplerTests
{
    private static double Median(IEnumerable<double> values)
    {
        var a = values.Order().ToArray();
        return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2;
    }

    // Three numeric parameters and a categorical one whose best choice is "c".
    private static double Best(ISampler sampler, int trials)
    {
        var study = Study.Create($"rf-{Guid.NewGuid():N}", sampler: sampler);
        study.Optimize(t =>
        {
            var x = t.SuggestFloat("x", -5, 5);
            var y = t.SuggestFloat("y", -5, 5);
            var n = t.SuggestInt("n", 0, 20);
            var c = t.SuggestCategorical("c", new[] { "a", "b", "c", "d" });
            return (x - 1) * (x - 1) + (y + 2) * (y + 2) + Math.Abs(n - 7) / 4.0 + (c == "c" ? 0 : 2);
        }, trials: trials);
        return study.BestTrial!.Value!.Value;
    }

    [Fact]
    public void Forest_beats_random_search_on_a_mixed_space()
    {
        var seeds = Enumerable.Range(0, 5).ToArray();
        var rf = Median(seeds.Select(s => Best(new RandomForestSampler(new RandomForestOptions { Seed = s, RandomCandidates = 200 }), 40)));
        var random = Median(seeds.Select(s => Best(new RandomSampler(s), 40)));
        Assert.True(rf < random / 2, $"forest median best {rf} vs random {random}");
    }

    [Fact]
    public void Options_are_validated_and_read_from_a_study_file()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RandomForestSampler(new RandomForestOptions { Trees = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RandomForestSampler(new RandomForestOptions { FeatureFraction = 1.5 }));
        var e = Assert.Throws<ArgumentException>(() => RandomForestOptions.FromStudyFile(new Dictionary<string, object?> { ["n_tres"] = 5 }));
        Assert.Contains("n_tres", e.Message, StringComparison.Ordinal);
        var sampler = SamplerRegistry.Create("rf", new SamplerRequest(new Dictionary<string, object?> { ["n_trees"] = 20L, ["random_proposal_rate"] = 0.0 }, Seed: 3));
        var rf = Assert.IsType<RandomForestSampler>(sampler);
        Assert.Equal(20, rf.Options.Trees);
        Assert.Equal(3, rf.Seed);
    }

    [Fact]
    public async Task Relative_space_is_the_union_of_the_trials_parameters()
    {
        var study = Study.Create($"rf-union-{Guid.NewGuid():N}", sampler: new RandomForestSampler(new RandomForestOptions { Seed = 1, StartupTrials = 4 }));
        var space = new SearchSpace().Choice("k", ["a", "b"])
            .Float("a_x", 0, 1, when: Condition.When("k", "a"))
            .Float("b_y", 0, 1, when: Condition.When("k", "b"));
        study.Optimize(t =>
        {
            var c = t.Suggest(space);
            return c.GetString("k") == "a" ? c.GetDouble("a_x") : 1 + c.GetDouble("b_y");
        }, trials: 20);
        var ks = study.Trials.Select(t => (string)t.Params["k"]!).Distinct().Count();
        Assert.Equal(2, ks);
        var sampler = (RandomForestSampler)study.Sampler;
        var context = new SamplingContext(await study.RefreshAsync(), study.Trials[^1], new Random(1));
        var relative = sampler.InferRelativeSearchSpace(context);
        Assert.Equal(["a_x", "b_y", "k"], relative.Keys.Order(StringComparer.Ordinal).ToArray());
    }
}
