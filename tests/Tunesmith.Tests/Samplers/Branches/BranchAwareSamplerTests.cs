using FsCheck;
using FsCheck.Xunit;
using Tunesmith.Execution;
using Tunesmith.Samplers;
using Tunesmith.Samplers.Branches;
using Tunesmith.Samplers.Rf;
using Tunesmith.Samplers.Tpe;
using Tunesmith.Spaces;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Tests.Samplers.Branches;

/// <summary>Branch-aware TPE passes the sampler conformance suite.</summary>
public sealed class BranchAwareTpeConformanceTests : SamplerConformanceTests
{
    protected override ISampler CreateSampler(int? seed) =>
        new BranchAwareSampler(() => new TpeSampler(new TpeOptions { Seed = seed, Multivariate = true, Group = true }));
}

/// <summary>Branch-aware forest passes the sampler conformance suite.</summary>
public sealed class BranchAwareForestConformanceTests : SamplerConformanceTests
{
    protected override ISampler CreateSampler(int? seed) =>
        new BranchAwareSampler(() => new RandomForestSampler(new RandomForestOptions { Seed = seed, RandomCandidates = 100 }));

    protected override int TrialsPerRun => 24;
}

public sealed class BranchAwareSamplerTests
{
    // An SVM-like space: the simplest branch (linear) has a shallow optimum of 0.3, poly the global one at 0.
    private static readonly SearchSpace Svm = new SearchSpace()
        .Choice("kernel", ["linear", "rbf", "poly"])
        .Float("linear_c", 1e-3, 1e3, log: true, when: Condition.When("kernel", "linear"))
        .Float("rbf_c", 1e-3, 1e3, log: true, when: Condition.When("kernel", "rbf"))
        .Float("rbf_gamma", 1e-4, 10, log: true, when: Condition.When("kernel", "rbf"))
        .Float("poly_c", 1e-3, 1e3, log: true, when: Condition.When("kernel", "poly"))
        .Float("poly_gamma", 1e-4, 10, log: true, when: Condition.When("kernel", "poly"))
        .Int("poly_degree", 2, 5, when: Condition.When("kernel", "poly"));

    private static double SvmValue(Configuration c) => c.GetString("kernel") switch
    {
        "linear" => 0.3 + 0.04 * Math.Pow(Math.Log10(c.GetDouble("linear_c")) - 0.5, 2),
        "rbf" => 0.14 + 0.05 * Math.Pow(Math.Log10(c.GetDouble("rbf_c")) - 1.5, 2) + 0.12 * Math.Pow(Math.Log10(c.GetDouble("rbf_gamma")) + 2.5, 2),
        _ => 0.06 * Math.Pow(Math.Log10(c.GetDouble("poly_c")) - 2, 2) + 0.15 * Math.Pow(Math.Log10(c.GetDouble("poly_gamma")) + 1.5, 2)
            + 0.1 * Math.Pow(c.GetLong("poly_degree") - 3, 2),
    };

    private static Study Run(ISampler sampler, int trials)
    {
        var study = Study.Create($"branches-{Guid.NewGuid():N}", sampler: sampler);
        study.Optimize(t => SvmValue(t.Suggest(Svm)), trials: trials);
        return study;
    }

    private static BranchAwareSampler Tpe(int seed) =>
        new(() => new TpeSampler(new TpeOptions { Seed = seed, Multivariate = true, Group = true }));

    /// <summary>
    /// Workers asking at once: a running trial whose params are not stored yet still belongs to the branch chosen for it,
    /// so the branch's GP believes it and the next ask in that branch goes elsewhere. The branch's GP saw none of them
    /// before, and every ask of a round in the same branch went to the same point.
    /// </summary>
    [Fact]
    public void Parallel_asks_in_the_same_branch_are_spread_by_the_branch_s_own_model()
    {
        var closest = new List<string>();
        for (var seed = 0; seed < 3; seed++)
        {
            var study = Run(new BranchAwareSampler(() => new Tunesmith.Samplers.Gp.GpSampler(seed)), 30);
            // 8 workers ask at once: each ask sees the ones before it running, their params not yet stored.
            var round = Enumerable.Range(0, 8).Select(i => study.Ask().Suggest(Svm)).ToList();
            foreach (var branch in round.GroupBy(c => c.GetString("kernel")))
            {
                var points = branch.Select(c => c.Where(kv => kv.Key != "kernel").OrderBy(kv => kv.Key, StringComparer.Ordinal)
                    .Select(kv => kv.Value is double d ? Math.Log10(d) : Convert.ToDouble(kv.Value, System.Globalization.CultureInfo.InvariantCulture)).ToArray()).ToList();
                for (var a = 0; a < points.Count; a++)
                    for (var b = a + 1; b < points.Count; b++)
                    {
                        var distance = Math.Sqrt(points[a].Zip(points[b]).Sum(p => (p.First - p.Second) * (p.First - p.Second)));
                        if (distance < 1e-4) closest.Add($"seed {seed}, {branch.Key}: asks {a} and {b} at distance {distance:G3}");
                    }
            }
        }
        Assert.True(closest.Count == 0, string.Join("; ", closest));
    }

    [Fact]
    public void Branch_choice_is_reproducible_under_a_seed()
    {
        var first = Run(Tpe(7), 40).Trials.Select(t => (string)t.Params["kernel"]!).ToArray();
        var second = Run(Tpe(7), 40).Trials.Select(t => (string)t.Params["kernel"]!).ToArray();
        Assert.Equal(first, second);
        var other = Run(Tpe(8), 40).Trials.Select(t => (string)t.Params["kernel"]!).ToArray();
        Assert.NotEqual(first, other);
    }

    [Fact]
    public void Every_branch_gets_its_minimum_share_before_any_is_preferred()
    {
        var study = Run(new BranchAwareSampler(() => new RandomSampler(1), new BranchAwareOptions { MinTrialsPerBranch = 5 }), 30);
        var counts = study.Trials.GroupBy(t => (string)t.Params["kernel"]!).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(3, counts.Count);
        Assert.All(counts.Values, n => Assert.True(n >= 5, $"branch counts {string.Join(", ", counts)}"));
    }

    /// <summary>
    /// A branch whose few trials happen to lie close together is still valued by what it could reach: its margin comes
    /// from the spread of the whole study, not from its own four values (whose spread of 0.3 said it could gain
    /// nothing, and it was never tried again).
    /// </summary>
    [Fact]
    public void A_branch_whose_few_trials_lie_close_together_is_still_revisited()
    {
        var space = new SearchSpace().Choice("b", ["near", "wide"])
            .Float("near_p", 0, 1, when: Condition.When("b", "near"))
            .Float("wide_p", 0, 1, when: Condition.When("b", "wide"));
        var values = new Queue<double>(new[] { 10.0, 10.1, 10.2, 10.3 }.Concat(Enumerable.Range(0, 30).Select(i => 1.0 + i)));
        var study = Study.Create($"near-{Guid.NewGuid():N}", sampler: new RandomSampler(1));
        for (var i = 0; i < 34; i++) study.Enqueue(new Dictionary<string, object?> { ["b"] = i < 4 ? "near" : "wide" });
        study.Optimize(t => { t.Suggest(space); return values.Dequeue(); }, trials: 34);
        var structure = BranchStructure.Find(study.Trials, new BranchAwareOptions())!;
        var near = Enumerable.Range(0, 200).Count(seed =>
            (string)BranchChooser.Choose(structure, study.Trials, Direction.Minimize, new BranchAwareOptions(), new Random(seed))! == "near");
        Assert.InRange(near, 20, 180);
    }

    [Fact]
    public void Structure_is_read_from_the_trials_and_a_root_categorical_counts_when_alone()
    {
        var study = Run(new RandomSampler(3), 12);
        var structure = BranchStructure.Find(study.Trials, new BranchAwareOptions());
        Assert.NotNull(structure);
        Assert.Equal("kernel", structure!.Variable);
        Assert.Equal(["linear", "rbf", "poly"], structure.Values.Cast<string>().ToArray());

        var flat = Study.Create($"flat-{Guid.NewGuid():N}", sampler: new RandomSampler(2));
        flat.Optimize(t => t.SuggestFloat("x", 0, 1) + (t.SuggestCategorical("c", new[] { "a", "b" }) == "a" ? 1 : 0), trials: 6);
        Assert.Equal("c", BranchStructure.Find(flat.Trials, new BranchAwareOptions())?.Variable);
        Assert.Null(BranchStructure.Find(flat.Trials, new BranchAwareOptions { RootCategorical = false }));
    }

    [Fact]
    public void Registry_wraps_a_sampler_when_asked_and_rejects_bad_branch_options()
    {
        var sampler = SamplerRegistry.Create("tpe", new SamplerRequest(new Dictionary<string, object?> { ["branch_aware"] = true, ["group"] = true }, Seed: 1));
        var wrapped = Assert.IsType<BranchAwareSampler>(sampler);
        Assert.Equal("tpe+branches", wrapped.Name);
        Assert.IsType<RandomForestSampler>(((BranchAwareSampler)SamplerRegistry.Create("rf", new SamplerRequest(
            new Dictionary<string, object?> { ["branch_aware"] = true }))).Inner);
        Assert.IsType<TpeSampler>(SamplerRegistry.Create("tpe", new SamplerRequest(new Dictionary<string, object?>())));
        var e = Assert.Throws<ArgumentException>(() => SamplerRegistry.Create("gp", new SamplerRequest(new Dictionary<string, object?> { ["branch_min_trials"] = 0L })));
        Assert.Contains("branch_min_trials", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tpe", "branch_min_trials", 6L)]
    [InlineData("rf", "branch_optimism", 2.0)]
    [InlineData("gp", "branch_root_categorical", false)]
    public void A_branch_option_without_branch_aware_is_refused_not_dropped(string sampler, string key, object value)
    {
        foreach (var options in new[] { new Dictionary<string, object?> { [key] = value }, new Dictionary<string, object?> { ["branch_aware"] = false, [key] = value } })
        {
            var e = Assert.Throws<ArgumentException>(() => SamplerRegistry.Create(sampler, new SamplerRequest(options)));
            Assert.Equal($"sampler '{sampler}': option '{key}' needs branch_aware: true", e.Message);
        }
        Assert.IsType<BranchAwareSampler>(SamplerRegistry.Create(sampler, new SamplerRequest(new Dictionary<string, object?> { ["branch_aware"] = true, [key] = value })));
    }

    /// <summary>
    /// Whatever the branches and the history, a proposal for a branch carries only that branch's parameters (and the
    /// branch choice): nothing is borrowed from another branch's trials.
    /// </summary>
    [Property(MaxTest = 25)]
    public bool A_proposal_for_a_branch_carries_only_that_branchs_parameters(PositiveInt seed, PositiveInt branchCount, PositiveInt history)
    {
        var k = 2 + branchCount.Get % 3;
        var space = new SearchSpace().Choice("b", Enumerable.Range(0, k).Select(i => (object?)$"v{i}"));
        for (var i = 0; i < k; i++)
            for (var p = 0; p <= i; p++)
                space.Float($"v{i}_p{p}", 0, 1, when: Condition.When("b", $"v{i}"));
        var sampler = new BranchAwareSampler(() => new TpeSampler(new TpeOptions { Seed = seed.Get, StartupTrials = 2, Multivariate = true, Group = true }),
            new BranchAwareOptions { MinTrialsPerBranch = 2 });
        var study = Study.Create($"prop-{Guid.NewGuid():N}", sampler: sampler);
        study.Optimize(t =>
        {
            var c = t.Suggest(space);
            return c.Values.OfType<double>().Sum() + int.Parse(c.GetString("b")[1..], System.Globalization.CultureInfo.InvariantCulture);
        }, trials: 4 + history.Get % 20);
        foreach (var trial in study.Trials)
        {
            var branch = (string)trial.Params["b"]!;
            if (!trial.Params.Keys.All(n => n == "b" || n.StartsWith(branch + "_", StringComparison.Ordinal))) return false;
        }
        var next = new SamplingContext(study.RefreshAsync().GetAwaiter().GetResult(), study.Trials[^1] with { Number = study.Trials.Count, Params = new Dictionary<string, object?>() }, new Random(seed.Get));
        var relative = sampler.SampleRelative(next, sampler.InferRelativeSearchSpace(next));
        if (relative.Count == 0) return true;
        var chosen = (string)relative["b"]!;
        return relative.Keys.All(n => n == "b" || n.StartsWith(chosen + "_", StringComparison.Ordinal));
    }
}
