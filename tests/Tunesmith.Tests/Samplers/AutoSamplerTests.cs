using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Samplers;
using Tunesmith.Samplers.Tpe;
using Tunesmith.Spaces;
using Tunesmith.Storage;
using Xunit;

namespace Tunesmith.Tests.Samplers;

public sealed class AutoSamplerConformanceTests : SamplerConformanceTests
{
    protected override ISampler CreateSampler(int? seed) => AutoSampler.Create(new SamplerRequest(new Dictionary<string, object?>(), seed));
}

public sealed class AutoSamplerTests
{
    private static readonly string[] All = ["random", "grid", "sobol", "tpe", "gp", "cmaes", "rf"];
    private static readonly string[] WithoutGp = ["random", "grid", "sobol", "tpe", "cmaes"];

    public static TheoryData<SpaceShape, int?, string[], string> Table => new()
    {
        // Every parameter discrete and the grid fits the budget: run it whole.
        { new SpaceShape(0, 2, 1, false, 60), 100, All, "grid" },
        { new SpaceShape(0, 1, 1, false, 12), null, All, "grid" },
        // A grid larger than the budget is searched by a model instead.
        { new SpaceShape(0, 3, 0, false, 8000), 100, All, "gp" },
        { new SpaceShape(0, 3, 0, false, 8000), null, All, "cmaes" },
        // Conditional spaces: a GP per branch for short runs, TPE per branch for long ones, a forest for variable repeats.
        { new SpaceShape(3, 1, 1, true, null), 100, All, "gp" },
        { new SpaceShape(3, 1, 1, true, null), 5000, All, "tpe" },
        { new SpaceShape(3, 1, 1, true, null), 100, WithoutGp, "tpe" },
        // Variable repeats (20 parameters over all layer counts here): the forest, then a GP per layer count from 10
        // trials per parameter of every layer count.
        { new SpaceShape(0, 5, 4, true, null) { VariableRepeat = true, RepeatBranchDimensions = 20 }, 199, All, "rf" },
        { new SpaceShape(0, 5, 4, true, null) { VariableRepeat = true, RepeatBranchDimensions = 20 }, 200, All, "gp" },
        { new SpaceShape(0, 5, 4, true, null) { VariableRepeat = true, RepeatBranchDimensions = 20 }, 200, ["random", "tpe", "rf"], "rf" },
        { new SpaceShape(0, 5, 4, true, null) { VariableRepeat = true, RepeatBranchDimensions = 20 }, 1000, All, "rf" },
        // Several interacting categorical parameters: grouped TPE with broad numeric kernels, whatever the budget.
        { new SpaceShape(2, 0, 4, false, null), 200, All, "tpe" },
        { new SpaceShape(2, 0, 4, false, null), null, All, "tpe" },
        { new SpaceShape(2, 0, 4, false, null), 2000, All, "tpe" },
        // Small numeric or mixed space, short run: GP.
        { new SpaceShape(6, 0, 0, false, null), 200, All, "gp" },
        { new SpaceShape(4, 1, 1, false, null), 50, All, "gp" },
        { new SpaceShape(20, 0, 0, false, null), 300, All, "gp" },
        // Too many dimensions for GP: CMA-ES only for long runs, TPE otherwise.
        { new SpaceShape(21, 0, 0, false, null), 300, All, "tpe" },
        { new SpaceShape(30, 0, 0, false, null), 2000, All, "cmaes" },
        // Long runs: CMA-ES on numeric spaces, TPE with categoricals.
        { new SpaceShape(5, 2, 0, false, null), 1000, All, "cmaes" },
        { new SpaceShape(5, 2, 0, false, null), null, All, "cmaes" },
        { new SpaceShape(5, 0, 2, false, null), 1000, All, "tpe" },
        // One parameter: CMA-ES needs at least two.
        { new SpaceShape(1, 0, 0, false, null), 1000, All, "tpe" },
        // Until a GP sampler is registered, short runs fall back to TPE.
        { new SpaceShape(6, 0, 0, false, null), 200, WithoutGp, "tpe" },
    };

    [Theory]
    [MemberData(nameof(Table))]
    public void Decision_table_picks_the_sampler_for_the_shape_and_budget(SpaceShape shape, int? budget, string[] available, string expected)
    {
        var choice = AutoSampler.Decide(shape, budget, available);
        Assert.Equal(expected, choice.Sampler);
        Assert.False(string.IsNullOrWhiteSpace(choice.Reason));
    }

    [Fact]
    public void Shape_counts_parameter_kinds_conditions_and_the_grid()
    {
        var flat = new SearchSpace().Float("lr", 1e-5, 1, log: true).Int("layers", 1, 4).Float("drop", 0, 0.5, step: 0.1).Choice("opt", ["adam", "sgd"]);
        Assert.Equal(new SpaceShape(1, 2, 1, false, null), SpaceShape.Of(flat));

        var grid = new SearchSpace().Int("layers", 1, 4).Float("drop", 0, 0.5, step: 0.1).Choice("opt", ["adam", "sgd"]);
        Assert.Equal(new SpaceShape(0, 2, 1, false, 4 * 6 * 2), SpaceShape.Of(grid));

        var branched = new SearchSpace().Branch("kernel", ("linear", s => s.Float("C", 1e-3, 1e3, log: true)), ("rbf", s => s.Float("gamma", 1e-4, 1, log: true)));
        Assert.True(SpaceShape.Of(branched).Conditional);
        Assert.False(SpaceShape.Of(branched).VariableRepeat);

        var layers = new SearchSpace().Repeat("layers", new IntDistribution(1, 4), b => b.Int("width", 16, 512, log: true));
        Assert.True(SpaceShape.Of(layers) is { Conditional: true, VariableRepeat: true, RepeatBranchDimensions: 1 + 2 + 3 + 4 });
        var blocks = new SearchSpace().Float("lr", 1e-4, 1, log: true)
            .Repeat("layers", new IntDistribution(1, 4), b => b.Int("width", 16, 512, log: true).Choice("act", ["relu", "gelu"]));
        Assert.Equal(4 * 1 + 2 * (1 + 2 + 3 + 4), SpaceShape.Of(blocks).RepeatBranchDimensions);
        Assert.Equal(0, SpaceShape.Of(branched).RepeatBranchDimensions);
    }

    [Fact]
    public void Auto_models_each_branch_of_a_conditional_space_on_its_own()
    {
        var branched = new SearchSpace().Branch("kernel",
            ("linear", s => s.Float("C", 1e-3, 1e3, log: true)),
            ("rbf", s => s.Float("gamma", 1e-4, 1, log: true).Float("C", 1e-3, 1e3, log: true)));
        AutoSampler Auto(SearchSpace? space, int budget) =>
            (AutoSampler)SamplerRegistry.Create("auto", new SamplerRequest(new Dictionary<string, object?>(), 1, space, budget));
        Assert.Equal("auto(gp+branches)", Auto(branched, 100).Name);
        // Below 40 trials each branch's GP would still be drawing its first ten at random: branch-aware TPE instead.
        Assert.Equal("auto(gp+branches)", Auto(branched, AutoSampler.MinBranchGpBudget).Name);
        var shortRun = Assert.IsType<Tunesmith.Samplers.Branches.BranchAwareSampler>(Auto(branched, AutoSampler.MinBranchGpBudget - 1).Inner);
        Assert.True(((TpeSampler)shortRun.Inner).Options is { Multivariate: true, Group: true });
        Assert.Same(AutoChoice.BranchTpe, Auto(branched, 20).Choice.Options);
        var longRun = Assert.IsType<Tunesmith.Samplers.Branches.BranchAwareSampler>(Auto(branched, 1000).Inner);
        Assert.True(((TpeSampler)longRun.Inner).Options is { Multivariate: true, Group: true });
        // A space defined by the objective as it runs may branch too.
        var byRun = Assert.IsType<Tunesmith.Samplers.Branches.BranchAwareSampler>(Auto(null, 100).Inner);
        Assert.True(((TpeSampler)byRun.Inner).Options is { Multivariate: true, Group: true });
        // Blocks that repeat (1 + 2 + 3 = 6 parameters over the layer counts): a forest for short runs, a GP per layer
        // count from 10 trials per parameter.
        var layers = new SearchSpace().Repeat("layers", new IntDistribution(1, 3), b => b.Int("width", 8, 64));
        Assert.Equal("auto(rf)", Auto(layers, 59).Name);
        Assert.Equal("auto(gp+branches)", Auto(layers, 60).Name);
    }

    [Fact]
    public void Auto_gives_several_categorical_parameters_grouped_tpe_with_broad_numeric_kernels_and_a_share_of_gp_proposals()
    {
        var space = new SearchSpace().Choice("opt", ["sgd", "adam"]).Choice("act", ["relu", "selu"]).Choice("norm", ["none", "batch"])
            .Choice("init", ["he", "normal"]).Float("lr", 1e-5, 1, log: true);
        var auto = (AutoSampler)SamplerRegistry.Create("auto", new SamplerRequest(new Dictionary<string, object?>(), 1, space, 100));
        Assert.Equal("auto(tpe+gp_share)", auto.Name);
        var pair = Assert.IsType<Tunesmith.Samplers.Portfolio.ModelShareSampler>(auto.Inner);
        Assert.Equal(0.15, pair.Share);
        Assert.Equal(1, Assert.IsType<Tunesmith.Samplers.Gp.GpSampler>(pair.Second).Seed);
        Assert.True(Assert.IsType<TpeSampler>(pair.Main).Options is { Multivariate: true, Group: true, ScottBandwidth: true, Gamma: 0.1, MaxGood: 25, CategoryMoveRate: 0.5, UntriedCombinationsFirst: true, Seed: 1 },
            $"options: {((TpeSampler)pair.Main).Options}");
        Assert.Contains("a Gaussian process proposes a share of the trials", auto.Choice.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void On_a_flat_space_auto_runs_a_gp_that_hands_a_rugged_landscape_to_tpe()
    {
        var space = new SearchSpace();
        for (var j = 0; j < 5; j++) space.Float($"x{j}", -2.56, 5.12);
        AutoSampler Auto(int seed) => (AutoSampler)SamplerRegistry.Create("auto", new SamplerRequest(new Dictionary<string, object?>(), seed, space, 200));
        Assert.Equal("auto(gp+tpe_if_rugged)", Auto(1).Name);
        Assert.Equal(true, Auto(1).Choice.Options?["rugged_fallback"]);
        // With the stall rule for the runs the check keeps (docs/GP.md).
        Assert.Equal(new Tunesmith.Samplers.Portfolio.RuggedFallbackOptions(), ((Tunesmith.Samplers.Portfolio.RuggedFallbackSampler)Auto(1).Inner).Options);
        Assert.Equal(30, ((Tunesmith.Samplers.Portfolio.RuggedFallbackSampler)Auto(1).Inner).Options.StallTrials);
        // A conditional space keeps its per-branch GP without the check.
        Assert.False(AutoSampler.Decide(new SpaceShape(3, 1, 1, true, null), 100, All).Options!.ContainsKey("rugged_fallback"));

        // Rastrigin: after 50 GP trials the fit finds ripples it cannot resolve, and TPE proposes the rest.
        double Run(AutoSampler auto, Func<double[], double> f, int trials)
        {
            var study = Study.Create($"auto-rugged-{Guid.NewGuid():N}", sampler: auto);
            study.Optimize(t => { var c = t.Suggest(space); return f(Enumerable.Range(0, 5).Select(j => c.GetDouble($"x{j}")).ToArray()); }, trials: trials);
            return study.BestTrial!.Value!.Value;
        }
        var rastrigin = Auto(3);
        Run(rastrigin, x => 10 * x.Length + x.Sum(v => v * v - 10 * Math.Cos(2 * Math.PI * v)), 52);
        var rugged = Assert.IsType<Tunesmith.Samplers.Portfolio.RuggedFallbackSampler>(rastrigin.Inner);
        Assert.True(rugged.Rugged, $"{rugged.Report}");
        // A smooth bowl keeps the GP.
        var sphere = Auto(3);
        Run(sphere, x => x.Sum(v => (v - 1) * (v - 1)), 52);
        Assert.False(((Tunesmith.Samplers.Portfolio.RuggedFallbackSampler)sphere.Inner).Rugged);
        Assert.Null(((Tunesmith.Samplers.Portfolio.RuggedFallbackSampler)sphere.Inner).HandoverAt);
    }

    [Fact]
    public void Auto_over_a_small_discrete_space_runs_the_whole_grid_once()
    {
        var space = new SearchSpace().Int("a", 1, 3).Choice("b", ["x", "y"]);
        var sampler = (AutoSampler)SamplerRegistry.Create("auto", new SamplerRequest(new Dictionary<string, object?>(), 1, space, 50));
        Assert.Equal("auto(grid)", sampler.Name);
        Assert.IsAssignableFrom<IFiniteSampler>(sampler);
        var study = Study.Create("auto-grid", sampler: sampler);
        study.Optimize(t => { var c = t.Suggest(space); return c.GetInt("a"); }, trials: 50);
        var seen = study.Trials.Select(t => $"{t.Params["a"]}/{t.Params["b"]}").ToArray();
        Assert.Equal(6, seen.Length);
        Assert.Equal(6, seen.Distinct().Count());
    }

    [Fact]
    public async Task The_study_records_which_sampler_auto_chose()
    {
        var space = new SearchSpace().Float("x", -5, 5).Float("y", -5, 5).Choice("opt", ["adam", "sgd"]);
        var sampler = AutoSampler.Create(new SamplerRequest(new Dictionary<string, object?>(), 3, space, 2000));
        Assert.Equal("auto(tpe)", sampler.Name);
        await using var storage = new InMemoryStudyStorage();
        await using var study = await Study.CreateAsync("auto-record", new StudyOptions { Sampler = sampler, StorageInstance = storage });
        var record = await storage.GetStudyAsync("auto-record");
        Assert.Equal("auto(tpe)", record!.SystemAttributes[SystemAttributeKeys.Sampler]);
    }

    [Fact]
    public void Auto_refuses_options_and_says_to_name_a_sampler()
    {
        var e = Assert.Throws<ArgumentException>(() => SamplerRegistry.Create("auto", new SamplerRequest(new Dictionary<string, object?> { ["gamma"] = 0.2 })));
        Assert.Contains("gamma", e.Message);
    }
}
