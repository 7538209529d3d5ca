using FsCheck;
using FsCheck.Xunit;
using Tunesmith.Execution;
using Tunesmith.Samplers;
using Tunesmith.Samplers.Gp;
using Tunesmith.Samplers.Portfolio;
using Tunesmith.Samplers.Tpe;
using Tunesmith.Spaces;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Tests.Samplers.Portfolio;

/// <summary>Grouped TPE with a share of GP proposals passes the sampler conformance suite.</summary>
public sealed class ModelShareSamplerConformanceTests : SamplerConformanceTests
{
    protected override ISampler CreateSampler(int? seed) =>
        new ModelShareSampler(new TpeSampler(new TpeOptions { Seed = seed, Multivariate = true, Group = true }),
            new GpSampler(seed, new GpOptions { CandidateCount = 256 }), share: 0.3, warmupTrials: 5);

    protected override int TrialsPerRun => 24;
}

public sealed class ModelShareSamplerTests
{
    private static ModelShareSampler Pair(int? seed, double share, int warmup = 10) =>
        new(new TpeSampler(new TpeOptions { Seed = seed }), new GpSampler(seed), share, warmup);

    [Fact]
    public void The_second_model_proposes_its_share_of_the_trials_after_the_warm_up_the_same_way_under_a_seed()
    {
        var sampler = Pair(7, 0.15);
        Assert.DoesNotContain(Enumerable.Range(0, 200), n => sampler.SecondProposes(n, finishedTrials: 9));
        var chosen = Enumerable.Range(0, 4000).Where(n => sampler.SecondProposes(n, finishedTrials: 10)).ToList();
        Assert.InRange(chosen.Count, 0.12 * 4000, 0.18 * 4000);
        Assert.Equal(chosen, Enumerable.Range(0, 4000).Where(n => Pair(7, 0.15).SecondProposes(n, 10)));
        Assert.NotEqual(chosen, Enumerable.Range(0, 4000).Where(n => Pair(8, 0.15).SecondProposes(n, 10)));
        Assert.Equal("tpe+gp_share", sampler.Name);
    }

    [Fact]
    public void The_share_and_warm_up_are_validated()
    {
        Assert.Throws<ArgumentException>(() => Pair(1, 0));
        Assert.Throws<ArgumentException>(() => Pair(1, 1));
        Assert.Throws<ArgumentException>(() => Pair(1, double.NaN));
        Assert.Throws<ArgumentException>(() => Pair(1, 0.2, warmup: -1));
    }

    /// <summary>Whichever model proposes a trial, its values are values of the space (categories included).</summary>
    [Property(MaxTest = 12)]
    public bool Every_proposal_carries_only_valid_values_of_the_space(PositiveInt seed, PositiveInt shareStep, PositiveInt history)
    {
        var space = new SearchSpace().Choice("opt", ["sgd", "adam", "rmsprop"]).Choice("act", ["relu", "selu"]).Choice("norm", ["none", "batch", "layer"])
            .Float("lr", 1e-5, 1, log: true).Int("units", 8, 64, step: 8);
        var share = 0.1 + 0.8 * (shareStep.Get % 9) / 8.0;
        var sampler = new ModelShareSampler(new TpeSampler(new TpeOptions { Seed = seed.Get, Multivariate = true, Group = true, CategoryMoveRate = 0.5 }),
            new GpSampler(seed.Get, new GpOptions { CandidateCount = 256 }), share, warmupTrials: 4);
        var study = Study.Create($"share-{Guid.NewGuid():N}", sampler: sampler);
        study.Optimize(t =>
        {
            var c = t.Suggest(space);
            return (c.GetString("opt") == "adam" ? 0 : 0.2) + (c.GetString("act") == "selu" ? 0 : 0.1) + Math.Abs(Math.Log10(c.GetDouble("lr")) + 3) + c.GetLong("units") / 64.0;
        }, trials: 8 + history.Get % 16);
        var distributions = space.Flatten().ToDictionary(p => p.Name, p => p.Distribution);
        return study.Trials.All(t => t.Params.Count == distributions.Count && t.Params.All(kv => distributions[kv.Key].Contains(kv.Value)));
    }

    // An optimizer whose best learning rate differs from the others': "o1" is best, but only near x = 0.35, where the
    // search rarely is once "o0" (best near x = 0.85) has been refined. Grouped TPE with category moves (auto's settings
    // for categorical-heavy spaces) then moves to o1 with o0's x or with the x of some earlier o1 trial, and stays in o0
    // in 13 of these 20 seeds; a GP, whose one kernel over categories and numbers learns x per optimizer, proposes o1 near
    // its own best x.
    private static bool FindsTheOptimizerWithItsOwnLearningRate(int seed, double gpShare)
    {
        var options = new Dictionary<string, object?>((IDictionary<string, object?>)AutoChoice.CategoricalTpe);
        if (gpShare > 0) options["gp_share"] = gpShare;
        else options.Remove("gp_share");
        var sampler = SamplerRegistry.Create("tpe", new SamplerRequest(options, seed));
        var study = Study.Create($"share-{Guid.NewGuid():N}", Direction.Minimize, sampler, storage: "memory:");
        string[] optimizers = ["o0", "o1", "o2"];
        study.Optimize(t =>
        {
            var o = Array.IndexOf(optimizers, t.SuggestCategorical("opt", optimizers));
            var a = t.SuggestCategorical("a", new[] { "a0", "a1", "a2" });
            var b = t.SuggestCategorical("b", new[] { "b0", "b1", "b2" });
            var x = t.SuggestFloat("x", 0, 1) - new[] { 0.85, 0.35, 0.15 }[o];
            return new[] { 0.1, 0.0, 0.15 }[o] + (a == "a0" ? 0 : 0.1) + (b == "b0" ? 0 : 0.1) + 60 * x * x;
        }, trials: 50);
        return (string)study.BestTrial!.Params["opt"]! == "o1";
    }

    [Fact]
    public void A_share_of_gp_proposals_finds_the_optimizer_whose_learning_rate_tpe_never_tried()
    {
        var found = Enumerable.Range(0, 20).Count(seed => FindsTheOptimizerWithItsOwnLearningRate(seed, gpShare: 0.15));
        Assert.True(found >= 17, $"found o1 in {found} of 20 seeds");
    }

    [Fact]
    public void A_study_file_gp_share_wraps_tpe_and_bad_values_fail_with_the_option_named()
    {
        var sampler = Assert.IsType<ModelShareSampler>(SamplerRegistry.Create("tpe",
            new SamplerRequest(new Dictionary<string, object?> { ["gp_share"] = 0.25, ["multivariate"] = true }, 3)));
        Assert.Equal(0.25, sampler.Share);
        Assert.True(Assert.IsType<TpeSampler>(sampler.Main).Options.Multivariate);
        Assert.IsType<GpSampler>(sampler.Second);
        Assert.IsType<TpeSampler>(SamplerRegistry.Create("tpe", new SamplerRequest(new Dictionary<string, object?> { ["gp_share"] = 0L })));
        foreach (var bad in new object[] { 1.0, -0.1, "lots", true })
        {
            var e = Assert.Throws<ArgumentException>(() => SamplerRegistry.Create("tpe", new SamplerRequest(new Dictionary<string, object?> { ["gp_share"] = bad })));
            Assert.Contains("gp_share", e.Message, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', e.Message);
        }
    }

    [Fact]
    public void A_study_file_sets_gp_share_and_a_bad_value_fails_at_load_in_one_located_line()
    {
        const string Head = """
            name: c
            command: python3 train.py --opt {opt} --act {act} --norm {norm} --lr {lr}
            space:
              opt: { choice: [sgd, adam] }
              act: { choice: [relu, selu] }
              norm: { choice: [none, batch] }
              lr: { float: [1.0e-5, 1.0], log: true }

            """;
        var file = Tunesmith.Execution.StudyFile.Parse(Head + "sampler: { tpe: { group: true, category_move_rate: 0.5, untried_combinations_first: true, gp_share: 0.2, seed: 4 } }\n");
        var sampler = Assert.IsType<ModelShareSampler>(file.CreateSampler());
        Assert.Equal((0.2, 4), (sampler.Share, sampler.Seed));
        Assert.True(Assert.IsType<TpeSampler>(sampler.Main).Options is { Group: true, CategoryMoveRate: 0.5, UntriedCombinationsFirst: true });

        var error = Assert.Throws<Tunesmith.Spaces.Spec.StudyFileException>(() => Tunesmith.Execution.StudyFile.Parse(Head + "sampler: { tpe: { gp_share: 1.5 } }\n"));
        Assert.DoesNotContain('\n', error.Message);
        Assert.StartsWith("study.yaml:8:", error.Message);
        Assert.Contains("sampler 'tpe': option 'gp_share' must be a number in [0, 1), got 1.5", error.Message);
    }
}
