using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Samplers;
using Tunesmith.Spaces;
using Tunesmith.Storage;
using Xunit;

namespace Tunesmith.Tests.Samplers;

public sealed class GridSamplerTests
{
    private static readonly Dictionary<string, IReadOnlyList<object?>> Values = new()
    {
        ["lr"] = [0.1, 0.01, 0.001],
        ["layers"] = [1L, 2L, 3L, 4L],
        ["optimizer"] = ["adam", "sgd"],
    };

    private static double Objective(Trial t) =>
        t.SuggestFloat("lr", 1e-4, 1, log: true) * t.SuggestInt("layers", 1, 4) + (t.SuggestCategorical("optimizer", new[] { "adam", "sgd" }) == "adam" ? 0 : 1);

    private static string Key(FrozenTrial t) => ParamValues.ToJson(t.Params.OrderBy(kv => kv.Key, StringComparer.Ordinal));

    private static HashSet<string> CrossProduct() =>
        (from lr in Values["lr"] from layers in Values["layers"] from opt in Values["optimizer"]
         select ParamValues.ToJson(new Dictionary<string, object?> { ["layers"] = layers, ["lr"] = lr, ["optimizer"] = opt })).ToHashSet();

    [Fact]
    public async Task A_grid_exhausted_before_the_budget_says_why_the_run_stops()
    {
        var logs = new Tunesmith.Tests.Storage.ListLoggerFactory();
        var study = await Study.CreateOrLoadAsync("small", new StudyOptions
        {
            Sampler = new GridSampler(new Dictionary<string, IReadOnlyList<object?>> { ["x"] = [1L, 2L] }), LoggerFactory = logs,
        });
        await study.OptimizeAsync((t, _) => Task.FromResult((double)t.SuggestInt("x", 1, 2)), new OptimizeOptions { Trials = 3 });
        Assert.Equal(2, study.Trials.Count);
        Assert.Equal(["Warning: The grid's 2 combinations are all tried; stopping before the budget of 3 trials"], logs.Lines.Where(l => !l.StartsWith("Debug", StringComparison.Ordinal)));
        // A budget the grid fills says nothing.
        var full = await Study.CreateOrLoadAsync("full", new StudyOptions
        {
            Sampler = new GridSampler(new Dictionary<string, IReadOnlyList<object?>> { ["x"] = [1L, 2L] }), LoggerFactory = logs,
        });
        await full.OptimizeAsync((t, _) => Task.FromResult((double)t.SuggestInt("x", 1, 2)), new OptimizeOptions { Trials = 2 });
        Assert.Single(logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal));
    }

    [Fact]
    public void Grid_runs_each_point_once_with_six_workers()
    {
        var study = Study.Create("grid", sampler: new GridSampler(Values));
        study.Optimize(Objective, parallelism: 6);
        var trials = study.Trials;
        Assert.Equal(24, trials.Count);
        Assert.All(trials, t => Assert.Equal(TrialState.Complete, t.State));
        Assert.Equal(24, trials.Select(Key).Distinct().Count());
        Assert.True(CrossProduct().SetEquals(trials.Select(Key)));
    }

    [Fact]
    public async Task Two_studies_on_one_storage_with_differently_shuffled_grids_run_each_point_once()
    {
        var storage = new InMemoryStudyStorage();
        var a = await Study.CreateOrLoadAsync("shared", new StudyOptions { StorageInstance = storage, Sampler = new GridSampler(Values, seed: 1, shuffle: true) });
        var b = await Study.CreateOrLoadAsync("shared", new StudyOptions { StorageInstance = storage, Sampler = new GridSampler(Values, seed: 2, shuffle: true) });
        Parallel.Invoke(() => a.Optimize(Objective, parallelism: 3), () => b.Optimize(Objective, parallelism: 3));
        var trials = a.Trials;
        Assert.Equal(24, trials.Count);
        Assert.True(CrossProduct().SetEquals(trials.Select(Key)));
    }

    [Fact]
    public void Exhausted_grid_stops_the_study()
    {
        var study = Study.Create("grid", sampler: new GridSampler(Values));
        study.Optimize(Objective, trials: 100);
        Assert.Equal(24, study.Trials.Count);
        study.Optimize(Objective, trials: 100, parallelism: 2);
        Assert.Equal(24, study.Trials.Count);
        var error = Assert.Throws<InvalidOperationException>(() => study.Ask());
        Assert.Contains("grid", error.Message);
    }

    [Fact]
    public async Task A_trial_budget_smaller_than_the_grid_runs_a_part_and_a_resume_finishes_it()
    {
        var storage = new InMemoryStudyStorage();
        var first = await Study.CreateOrLoadAsync("resume", new StudyOptions { StorageInstance = storage, Sampler = new GridSampler(Values) });
        first.Optimize(Objective, trials: 10);
        Assert.Equal(10, first.Trials.Count(t => t.State == TrialState.Complete));
        var second = await Study.LoadAsync("resume", new StudyOptions { StorageInstance = storage, Sampler = new GridSampler(Values) });
        second.Optimize(Objective);
        var trials = second.Trials;
        Assert.Equal(24, trials.Count);
        Assert.True(CrossProduct().SetEquals(trials.Select(Key)));
    }

    [Fact]
    public void Enqueued_trials_run_before_the_grid()
    {
        var study = Study.Create("grid", sampler: new GridSampler(Values));
        var mine = new Dictionary<string, object?> { ["lr"] = 0.5, ["layers"] = 2L, ["optimizer"] = "sgd" };
        study.Enqueue(mine);
        study.Optimize(Objective);
        var trials = study.Trials;
        Assert.Equal(25, trials.Count);
        Assert.Equal(ParamValues.ToJson(mine.OrderBy(kv => kv.Key, StringComparer.Ordinal)), Key(trials[0]));
        Assert.True(CrossProduct().SetEquals(trials.Skip(1).Select(Key)));
    }

    [Fact]
    public void Conditional_space_grid_enumerates_exactly_the_configurations_the_space_can_produce()
    {
        double[] cs = [0.1, 1, 10];
        double[] gammas = [0.01, 0.1];
        var space = new SearchSpace()
            .Branch("kernel",
                ("linear", s => s.Choice("C", cs.Cast<object?>())),
                ("rbf", s => s.Choice("C", cs.Cast<object?>()).Choice("gamma", gammas.Cast<object?>())),
                ("poly", s => s.Choice("C", cs.Cast<object?>()).Choice("gamma", gammas.Cast<object?>()).Int("degree", 2, 4)))
            .Derived("scaled", c => c.GetDouble("C") * 2);
        var grid = new GridSampler(space);
        var expected = cs.Length + cs.Length * gammas.Length + cs.Length * gammas.Length * 3;
        Assert.Equal(expected, grid.Count);
        Assert.Equal(expected, grid.EnumerateConfigurations().Select(c => ParamValues.ToJson(c)).Distinct().Count());
        Assert.All(grid.EnumerateConfigurations(), c =>
        {
            Assert.False(c.ContainsKey("scaled"));
            var kernel = (string)c["kernel"]!;
            Assert.Equal(kernel != "linear", c.ContainsKey("gamma"));
            Assert.Equal(kernel == "poly", c.ContainsKey("degree"));
        });

        var study = Study.Create("svm-grid", sampler: grid);
        study.Optimize(t =>
        {
            var c = t.Suggest(space);
            Assert.Equal(c.GetDouble("C") * 2, c.GetDouble("scaled"));
            return c.GetDouble("C");
        }, parallelism: 3);
        Assert.Equal(expected, study.Trials.Count);
        Assert.All(study.Trials, t => Assert.True(t.State == TrialState.Complete, t.FailReason));
    }

    [Fact]
    public void Repeat_blocks_are_enumerated_for_every_count()
    {
        var sampled = new SearchSpace().Repeat("layers", new IntDistribution(1, 3), b => b.Choice("units", [16L, 32L]));
        Assert.Equal(2 + 4 + 8, new GridSampler(sampled).Count);
        var fixedCount = new SearchSpace().Repeat("layers", 2, b => b.Choice("act", ["relu", "tanh", "gelu"]));
        var grid = new GridSampler(fixedCount);
        Assert.Equal(9, grid.Count);
        // A fixed count is not a parameter: it is set when the trial walks the space.
        Assert.All(grid.EnumerateConfigurations(), c => Assert.Equal(["layers.0.act", "layers.1.act"], c.Keys.Order(StringComparer.Ordinal)));
    }

    [Fact]
    public void Stepped_floats_and_ints_are_enumerated_on_their_grid()
    {
        var grid = new GridSampler(new SearchSpace().Float("dropout", 0, 1, step: 0.1).Int("batch", 16, 64, step: 16));
        var configurations = grid.EnumerateConfigurations();
        Assert.Equal(11 * 4, configurations.Count);
        var dropouts = configurations.Select(c => (double)c["dropout"]!).Distinct().Order().ToList();
        Assert.Equal(11, dropouts.Count);
        Assert.Contains(0.3, dropouts);
        Assert.Equal(1.0, dropouts[^1]);
        Assert.Equal([16L, 32L, 48L, 64L], configurations.Select(c => (long)c["batch"]!).Distinct().Order());
    }

    [Fact]
    public void A_continuous_float_cannot_be_a_grid_and_the_error_names_it()
    {
        var error = Assert.Throws<SearchSpaceException>(() => new GridSampler(new SearchSpace().Int("n", 1, 3).Float("lr", 1e-4, 1, log: true)));
        Assert.Equal("lr", error.Parameter);
        Assert.Contains("'lr'", error.Message);
    }

    [Fact]
    public void Explicit_values_are_validated_naming_the_parameter()
    {
        var empty = Assert.Throws<SearchSpaceException>(() => new GridSampler(new Dictionary<string, IReadOnlyList<object?>> { ["a"] = [1L], ["b"] = [] }));
        Assert.Equal("b", empty.Parameter);
        var twice = Assert.Throws<SearchSpaceException>(() => new GridSampler(new Dictionary<string, IReadOnlyList<object?>> { ["c"] = [1L, 1.0] }));
        Assert.Equal("c", twice.Parameter);
    }

    [Fact]
    public void A_parameter_outside_the_grid_fails_the_trial_naming_it()
    {
        var study = Study.Create("grid", sampler: new GridSampler(new Dictionary<string, IReadOnlyList<object?>> { ["x"] = [1L, 2L] }));
        study.Optimize(t => t.SuggestInt("x", 0, 5) + t.SuggestFloat("unknown", 0, 1));
        Assert.Equal(2, study.Trials.Count);
        Assert.All(study.Trials, t =>
        {
            Assert.Equal(TrialState.Failed, t.State);
            Assert.Contains("'unknown'", t.FailReason);
        });
    }

    [Fact]
    public void A_grid_value_outside_the_suggested_distribution_fails_the_trial_naming_it()
    {
        var study = Study.Create("grid", sampler: new GridSampler(new Dictionary<string, IReadOnlyList<object?>> { ["x"] = [1L, 9L] }));
        study.Optimize(t => t.SuggestInt("x", 0, 5));
        var failed = Assert.Single(study.Trials, t => t.State == TrialState.Failed);
        Assert.Equal(9L, failed.Params.TryGetValue("x", out var v) ? v : 9L);
        Assert.Contains("'x'", failed.FailReason);
    }

    [Fact]
    public void Shuffle_is_a_seeded_permutation_with_the_same_key()
    {
        var plain = new GridSampler(Values);
        var a = new GridSampler(Values, seed: 5, shuffle: true);
        var b = new GridSampler(Values, seed: 5, shuffle: true);
        var c = new GridSampler(Values, seed: 6, shuffle: true);
        static List<string> Order(GridSampler g) => g.EnumerateConfigurations().Select(x => ParamValues.ToJson(x)).ToList();
        Assert.Equal(Order(a), Order(b));
        Assert.NotEqual(Order(a), Order(c));
        Assert.NotEqual(Order(plain), Order(a));
        Assert.Equal(Order(plain).Order(StringComparer.Ordinal), Order(a).Order(StringComparer.Ordinal));
        Assert.Equal(plain.EnumerationKey, a.EnumerationKey);
        Assert.NotEqual(plain.EnumerationKey, new GridSampler(new Dictionary<string, IReadOnlyList<object?>> { ["lr"] = [0.1] }).EnumerationKey);
    }

    [Fact]
    public void Registry_builds_a_grid_from_values_or_from_the_space()
    {
        var fromValues = SamplerRegistry.Create("grid", new SamplerRequest(new Dictionary<string, object?>
        {
            ["values"] = new Dictionary<string, object?> { ["a"] = new List<object?> { 1, 2, 3 }, ["b"] = new object?[] { "x", "y" } },
        }));
        Assert.Equal(6, Assert.IsType<GridSampler>(fromValues).Count);
        var fromSpace = SamplerRegistry.Create("grid", new SamplerRequest(new Dictionary<string, object?>(), Space: new SearchSpace().Int("n", 1, 5)));
        Assert.Equal(5, Assert.IsType<GridSampler>(fromSpace).Count);
        Assert.Throws<ArgumentException>(() => SamplerRegistry.Create("grid", new SamplerRequest(new Dictionary<string, object?>())));
        var unknown = Assert.Throws<ArgumentException>(() => SamplerRegistry.Create("grid", new SamplerRequest(new Dictionary<string, object?> { ["shufle"] = true }, Space: new SearchSpace().Int("n", 1, 5))));
        Assert.Contains("shufle", unknown.Message);
        Assert.Contains("grid", SamplerRegistry.Names);
    }
}
