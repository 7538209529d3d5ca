using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Samplers;
using Tunesmith.Spaces;
using FsCheck.Xunit;
using Xunit;

namespace Tunesmith.Tests.Spaces;

public sealed class SearchSpaceTests
{
    private static SearchSpaceException Names(string parameter, Action build)
    {
        var error = Assert.Throws<SearchSpaceException>(build);
        Assert.Contains($"'{parameter}'", error.Message);
        return error;
    }

    [Fact]
    public void Low_not_below_high_is_an_error_naming_the_parameter()
    {
        Assert.Equal("lr", Names("lr", () => new SearchSpace().Float("lr", 0.5, 0.1)).Parameter);
        Names("layers", () => new SearchSpace().Int("layers", 5, 2));
        Names("step_float", () => new SearchSpace().Float("step_float", 1, 1 - 1e-9, step: 0.5));
    }

    [Fact]
    public void Log_scale_with_low_not_positive_is_an_error_naming_the_parameter()
    {
        Names("lr", () => new SearchSpace().Float("lr", 0, 1, log: true));
        Names("lr", () => new SearchSpace().Float("lr", -1, 1, log: true));
        Names("units", () => new SearchSpace().Int("units", 0, 512, log: true));
    }

    [Fact]
    public void Empty_choices_are_an_error_naming_the_parameter() =>
        Names("optimizer", () => new SearchSpace().Choice("optimizer", []));

    [Fact]
    public void Duplicate_choices_are_an_error_naming_the_parameter() =>
        Names("optimizer", () => new SearchSpace().Choice("optimizer", ["adam", "adam"]));

    [Fact]
    public void A_step_that_does_not_divide_the_range_is_an_error_naming_the_parameter()
    {
        Names("dropout", () => new SearchSpace().Float("dropout", 0, 1, step: 0.3));
        Names("batch", () => new SearchSpace().Int("batch", 16, 100, step: 16));
        Names("batch", () => new SearchSpace().Int("batch", 16, 128, step: 0));
    }

    [Fact]
    public void A_condition_naming_a_missing_parameter_is_an_error_naming_both()
    {
        var error = Names("momentum", () => new SearchSpace().Float("momentum", 0, 1, when: Condition.When("optimizer", "sgd")));
        Assert.Contains("'optimizer'", error.Message);
    }

    [Fact]
    public void A_misspelt_condition_suggests_the_parameter_or_the_value_meant()
    {
        var parent = Names("momentum", () => new SearchSpace().Choice("optimizer", ["adam", "sgd"]).Float("momentum", 0, 1, when: Condition.When("optimiser", "sgd")));
        Assert.EndsWith("(did you mean 'optimizer'?)", parent.Message);
        var value = Names("momentum", () => new SearchSpace().Choice("optimizer", ["adam", "sgd"]).Float("momentum", 0, 1, when: Condition.When("optimizer", "sdg")));
        Assert.EndsWith("is not in 'optimizer' (choice [adam, sgd]) (did you mean 'sgd'?)", value.Message);
    }

    [Fact]
    public void A_condition_value_outside_the_parent_is_an_error_naming_the_parameter() =>
        Names("momentum", () => new SearchSpace().Choice("optimizer", ["adam", "sgd"]).Float("momentum", 0, 1, when: Condition.When("optimizer", "rmsprop")));

    [Fact]
    public void A_duplicate_name_is_an_error_naming_it()
    {
        Names("lr", () => new SearchSpace().Float("lr", 0, 1).Float("lr", 0, 1));
        Names("pad", () => new SearchSpace().Int("k", 1, 3).Derived("pad", c => 1).Derived("pad", c => 2));
        // Branches that overlap on a value are not exclusive.
        Names("C", () => new SearchSpace().Choice("kernel", ["linear", "rbf"])
            .Float("C", 0.1, 1, when: Condition.When("kernel", "linear", "rbf"))
            .Float("C", 0.1, 1, when: Condition.When("kernel", "rbf")));
    }

    [Fact]
    public void Exclusive_branches_may_share_a_parameter_name_with_different_distributions()
    {
        var space = new SearchSpace().Branch("model",
            ("tree", s => s.Int("depth", 1, 10)),
            ("net", s => s.Int("depth", 1, 100, log: true).Float("dropout", 0, 0.5)));
        var study = Study.Create("branches", sampler: new RandomSampler(seed: 2));
        study.Optimize(t => t.Suggest(space).GetInt("depth"), trials: 40);
        Assert.All(study.Trials, t =>
        {
            Assert.Equal(TrialState.Complete, t.State);
            var net = (string)t.Params["model"]! == "net";
            Assert.Equal(net ? new IntDistribution(1, 100, Log: true) : new IntDistribution(1, 10), t.Distributions["depth"]);
            Assert.Equal(net, t.Params.ContainsKey("dropout"));
        });
        Assert.Equal(2, study.Trials.Select(t => t.Params["model"]).Distinct().Count());
        Assert.Equal(2, space.Flatten().Count(p => p.Name == "depth"));
    }

    private static SearchSpace Branches() => new SearchSpace().Branch("model",
            ("tree", s => s.Int("depth", 1, 10)),
            ("net", s => s.Int("depth", 1, 100, log: true).Float("dropout", 0, 0.5)))
        .Choice("opt", ["sgd", "adam"])
        .Float("momentum", 0, 0.99, when: Condition.When("opt", "sgd"))
        .Repeat("layer", new IntDistribution(1, 3), b => b.Int("units", 8, 64));

    [Property(MaxTest = 20)]
    public void Every_trial_drawn_from_a_conditional_space_fits_it(int seed)
    {
        var space = Branches();
        var study = Study.Create("fit", sampler: new RandomSampler(seed: seed));
        study.Optimize(t => { t.Suggest(space); return 0; }, trials: 10);
        Assert.All(study.Trials, t => Assert.Null(space.Misfit(t.Params)));
    }

    [Theory]
    // A value inside the other branch's range is outside its own branch's.
    [InlineData("model=tree depth=50 opt=adam layer=1 layer.0.units=8", true, "depth = 50 is outside int [1, 10]")]
    [InlineData("model=tree depth=5 dropout=0.1 opt=adam layer=1 layer.0.units=8", true, "it has parameter 'dropout', which is inactive in the new space for these values: it is used only when model in [net]")]
    [InlineData("model=tree depth=5 opt=adam momentum=0.5 layer=1 layer.0.units=8", true, "it has parameter 'momentum', which is inactive in the new space for these values: it is used only when opt in [sgd]")]
    [InlineData("model=net depth=5 opt=adam layer=1 layer.0.units=8", true, "it lacks parameter 'dropout'")]
    [InlineData("model=net depth=5 opt=adam layer=1 layer.0.units=8", false, null)]
    [InlineData("model=tree depth=5 opt=sgd momentum=0.5 layer=2 layer.0.units=8 layer.1.units=9", true, null)]
    [InlineData("model=tree depth=5 opt=sgd momentum=0.5 layer=1 layer.0.units=8 layer.1.units=9", true, "it has parameter 'layer.1.units', which is inactive")]
    [InlineData("model=tree depth=5 opt=sgd momentum=0.5 layer=1 layer.0.units=8 lr=0.1", true, "it has parameter 'lr', which the new space lacks")]
    public void A_stored_trial_fits_a_space_only_as_its_conditions_say(string values, bool complete, string? expected)
    {
        var trial = values.Split(' ').Select(kv => kv.Split('=')).ToDictionary(kv => kv[0],
            kv => long.TryParse(kv[1], out var n) ? n : double.TryParse(kv[1], System.Globalization.CultureInfo.InvariantCulture, out var x) ? x : (object?)kv[1]);
        var misfit = Branches().Misfit(trial, complete);
        if (expected is null) Assert.Null(misfit);
        else Assert.Contains(expected, misfit);
    }

    [Theory]
    // A partial combination (enqueued; the sampler draws the rest) in a space whose branch derives a value from a
    // parameter not given: the check goes on past the value it cannot compute yet, and still finds C inactive for mlp.
    [InlineData("model=mlp C=10", "it has parameter 'C', which is inactive in the new space for these values: it is used only when model in [svm]")]
    [InlineData("model=mlp layers=1 layers.1.width=64", "it has parameter 'layers.1.width', which is inactive")]
    [InlineData("model=svm C=10", null)]
    [InlineData("model=mlp layers=2 layers.1.width=64", null)]
    public void A_partial_combination_is_checked_past_a_derived_value_it_cannot_compute_yet(string values, string? expected)
    {
        var space = new SearchSpace().Branch("model",
            ("svm", s => s.Float("C", 0.01, 1000, log: true)),
            ("mlp", s => s.Repeat("layers", new IntDistribution(1, 3), b => b
                .Int("width", 16, 256)
                .Derived("half", c => c.GetLong("width") / 2))));
        var combination = values.Split(' ').Select(kv => kv.Split('=')).ToDictionary(kv => kv[0],
            kv => long.TryParse(kv[1], out var n) ? n : (object?)kv[1]);
        var misfit = space.Misfit(space.CoerceValues(combination), complete: false);
        if (expected is null) Assert.Null(misfit);
        else Assert.Contains(expected, misfit);
    }

    [Theory]
    [InlineData("modle", "svm", "parameter 'modle': unknown parameter (did you mean 'model'?) (the parameters: model, C)")]
    [InlineData("model", "svn", "parameter 'model': value svn is not in choice [svm, mlp] (did you mean 'svm'?)")]
    public void A_given_value_with_a_misspelt_name_or_choice_suggests_the_one_meant(string name, string value, string expected)
    {
        var space = new SearchSpace().Branch("model", ("svm", s => s.Float("C", 0.01, 1000, log: true)), ("mlp", _ => { }));
        var e = Assert.Throws<SearchSpaceException>(() => space.CoerceValues(new Dictionary<string, object?> { [name] = value }));
        Assert.Equal(expected, e.Message);
    }

    [Fact]
    public void Re_suggesting_a_name_with_another_distribution_fails_the_trial_naming_it()
    {
        var study = Study.Create("resuggest", sampler: new RandomSampler(seed: 1));
        study.Optimize(t =>
        {
            var first = t.SuggestFloat("x", 0, 1);
            Assert.Equal(first, t.SuggestFloat("x", 0, 1));
            return t.SuggestFloat("x", 0, 2);
        }, trials: 1);
        var trial = Assert.Single(study.Trials);
        Assert.Equal(TrialState.Failed, trial.State);
        Assert.Contains("'x'", trial.FailReason);
    }

    [Fact]
    public void Fixed_repeat_count_gives_exactly_that_many_blocks()
    {
        var space = new SearchSpace().Repeat("conv", 3, b => b.Int("filters", 8, 64, step: 8).Choice("act", ["relu", "gelu"]));
        var study = Study.Create("repeat", sampler: new RandomSampler(seed: 4));
        study.Optimize(t =>
        {
            var c = t.Suggest(space);
            var blocks = c.Blocks("conv");
            Assert.Equal(3, blocks.Count);
            Assert.Equal(3, c.GetInt("conv"));
            return blocks.Sum(b => b.GetInt("filters"));
        }, trials: 5);
        Assert.All(study.Trials, t =>
        {
            Assert.Equal(TrialState.Complete, t.State);
            Assert.False(t.Distributions.ContainsKey("conv"));
            for (var i = 0; i < 3; i++) Assert.True(t.Params.ContainsKey($"conv.{i}.filters"));
            Assert.False(t.Params.ContainsKey("conv.3.filters"));
        });
    }

    [Fact]
    public void Sampled_repeat_count_creates_block_params_exactly_below_the_count()
    {
        var space = new SearchSpace()
            .Float("lr", 1e-4, 1e-1, log: true)
            .Repeat("layers", new IntDistribution(0, 4), b => b
                .Choice("kind", ["dense", "dropout"])
                .Int("units", 16, 256, log: true, when: Condition.When("kind", "dense"))
                .Float("rate", 0.1, 0.5, when: Condition.When("kind", "dropout"))
                .Derived("half", c => c.ContainsKey("units") ? c.GetInt("units") / 2 : 0));
        var study = Study.Create("repeat", sampler: new RandomSampler(seed: 8));
        study.Optimize(t =>
        {
            var c = t.Suggest(space);
            var blocks = c.Blocks("layers");
            Assert.Equal(c.GetInt("layers"), blocks.Count);
            foreach (var block in blocks)
            {
                var dense = block.GetString("kind") == "dense";
                Assert.Equal(dense, block.ContainsKey("units"));
                Assert.Equal(!dense, block.ContainsKey("rate"));
                Assert.Equal(dense ? block.GetInt("units") / 2 : 0, block.GetInt("half"));
            }
            return c.GetDouble("lr");
        }, trials: 40);
        var counts = new HashSet<long>();
        foreach (var t in study.Trials)
        {
            Assert.Equal(TrialState.Complete, t.State);
            var count = (long)t.Params["layers"]!;
            counts.Add(count);
            Assert.Equal(new IntDistribution(0, 4), t.Distributions["layers"]);
            for (var i = 0; i < 5; i++)
                Assert.Equal(i < count, t.Params.ContainsKey($"layers.{i}.kind"));
        }
        Assert.True(counts.Count >= 3, "the count should vary");
        Assert.Contains(space.Flatten(), p => p.Name == "layers.3.units" && p.When?.Parent == "layers.3.kind");
    }

    [Fact]
    public void Derived_values_are_computed_recorded_and_not_sampled()
    {
        var space = new SearchSpace().Int("kernel", 1, 7, step: 2).Derived("padding", c => c.GetInt("kernel") / 2)
            .Float("scale", 1, 2, when: Condition.When("padding", 3L));
        var study = Study.Create("derived", sampler: new RandomSampler(seed: 3));
        study.Optimize(t => t.Suggest(space).GetInt("padding"), trials: 30);
        Assert.All(study.Trials, t =>
        {
            Assert.Equal(TrialState.Complete, t.State);
            Assert.Equal((long)t.Params["kernel"]! / 2, t.Params["padding"]);
            Assert.False(t.Distributions.ContainsKey("padding"));
            Assert.Equal((long)t.Params["padding"]! == 3, t.Params.ContainsKey("scale"));
        });
    }

    [Fact]
    public void A_derived_value_reading_another_branchs_parameter_fails_naming_the_branch_without_a_type_name()
    {
        // Built in C#, the compute function cannot be read at load: the trial fails, and says which branch the value belongs to.
        var space = new SearchSpace()
            .Branch("model", ("svm", b => b.Float("C", 1, 10)), ("mlp", _ => { }))
            .Derived("x", c => c.GetDouble("C") * 2);
        var study = Study.Create("derived-branch", sampler: new RandomSampler(seed: 2));
        study.Optimize(t => t.Suggest(space).GetDouble("x"), trials: 8);
        var failed = study.Trials.Where(t => t.State == TrialState.Failed).ToList();
        Assert.NotEmpty(failed);
        Assert.All(failed, t =>
        {
            Assert.Equal("mlp", t.Params["model"]);
            Assert.StartsWith("parameter 'x': computing the derived value failed: ", t.FailReason);
            Assert.EndsWith("('C' exists only when model is svm, and this trial has model = mlp: define 'x' in that branch, or read 'C' only when model is svm)", t.FailReason);
        });
        Assert.All(study.Trials.Where(t => t.State != TrialState.Failed), t => Assert.Equal("svm", t.Params["model"]));
    }

    [Fact]
    public void A_failing_derived_value_fails_the_trial_naming_it()
    {
        var space = new SearchSpace().Int("k", 1, 3).Derived("ratio", c => c.GetInt("missing"));
        var study = Study.Create("derived", sampler: new RandomSampler(seed: 3));
        study.Optimize(t => t.Suggest(space).GetInt("k"), trials: 1);
        Assert.Contains("'ratio'", Assert.Single(study.Trials).FailReason);
    }

    [Fact]
    public void Enqueued_trials_run_first_with_exactly_those_params()
    {
        var space = new SearchSpace().Float("lr", 1e-4, 1, log: true).Choice("opt", ["adam", "sgd"]).Int("layers", 1, 4);
        var study = Study.Create("enqueue", sampler: new RandomSampler(seed: 5));
        study.Enqueue(new Dictionary<string, object?> { ["lr"] = 0.01, ["opt"] = "sgd", ["layers"] = 3 });
        study.Enqueue(new Dictionary<string, object?> { ["lr"] = 1, ["opt"] = "adam", ["layers"] = 1 });
        study.Optimize(t => t.Suggest(space).GetDouble("lr"), trials: 6, parallelism: 2);
        var trials = study.Trials;
        Assert.Equal(6, trials.Count);
        Assert.Equal(0.01, trials[0].Params["lr"]);
        Assert.Equal("sgd", trials[0].Params["opt"]);
        Assert.Equal(3L, trials[0].Params["layers"]);
        Assert.Equal(1.0, Assert.IsType<double>(trials[1].Params["lr"]));
        Assert.Equal(1L, trials[1].Params["layers"]);
        Assert.All(trials, t => Assert.Equal(TrialState.Complete, t.State));
    }

    [Fact]
    public void An_enqueued_value_outside_the_distribution_fails_that_trial_naming_the_parameter()
    {
        var study = Study.Create("enqueue", sampler: new RandomSampler(seed: 5));
        study.Enqueue(new Dictionary<string, object?> { ["layers"] = 9 });
        study.Enqueue(new Dictionary<string, object?> { ["opt"] = "adagrad" });
        study.Optimize(t => t.SuggestInt("layers", 1, 4) + (t.SuggestCategorical("opt", new[] { "adam", "sgd" }) == "adam" ? 1 : 0), trials: 4);
        var trials = study.Trials;
        Assert.Equal(TrialState.Failed, trials[0].State);
        Assert.Contains("'layers'", trials[0].FailReason);
        Assert.Equal(TrialState.Failed, trials[1].State);
        Assert.Contains("'opt'", trials[1].FailReason);
        Assert.All(trials.Skip(2), t => Assert.Equal(TrialState.Complete, t.State));
    }

    [Fact]
    public void Nested_conditions_inside_a_branch_keep_their_own_condition()
    {
        var space = new SearchSpace()
            .Choice("optimizer", ["adam", "sgd"])
            .When("optimizer", ["sgd"], s => s
                .Float("momentum", 0, 0.99)
                .Choice("nesterov", [true, false])
                .Float("dampening", 0, 1, when: Condition.When("nesterov", false)));
        var study = Study.Create("nested", sampler: new RandomSampler(seed: 12));
        study.Optimize(t => t.Suggest(space).ContainsKey("dampening") ? 1 : 0, trials: 40);
        Assert.All(study.Trials, t =>
        {
            var sgd = (string)t.Params["optimizer"]! == "sgd";
            Assert.Equal(sgd, t.Params.ContainsKey("momentum"));
            Assert.Equal(sgd && t.Params["nesterov"] is false, t.Params.ContainsKey("dampening"));
        });
        Assert.Contains(study.Trials, t => t.Params.ContainsKey("dampening"));
    }

    [Fact]
    public void Configuration_getters_name_the_parameter_on_a_wrong_type_or_a_missing_name()
    {
        var c = new Configuration(new Dictionary<string, object?> { ["lr"] = 0.5, ["opt"] = "adam" });
        Assert.Contains("'lr'", Assert.Throws<InvalidCastException>(() => c.GetInt("lr")).Message);
        Assert.Contains("'momentum'", Assert.Throws<KeyNotFoundException>(() => c["momentum"]).Message);
        Assert.Contains("'opt'", Assert.Throws<InvalidCastException>(() => c.GetBool("opt")).Message);
    }

    [Fact]
    public void A_block_parameter_may_be_conditioned_on_a_global_parameter()
    {
        var space = new SearchSpace()
            .Choice("use_bias", [true, false])
            .Repeat("layers", 2, b => b.Int("units", 8, 64).Float("bias_init", -1, 1, when: Condition.When("use_bias", true)));
        var study = Study.Create("block-global", sampler: new RandomSampler(seed: 21));
        study.Optimize(t =>
        {
            var c = t.Suggest(space);
            Assert.Equal(2, c.Blocks("layers").Count);
            return c.Blocks("layers").Sum(b => b.GetInt("units"));
        }, trials: 20);
        Assert.All(study.Trials, t =>
        {
            Assert.Equal(TrialState.Complete, t.State);
            var bias = t.Params["use_bias"] is true;
            Assert.Equal(bias, t.Params.ContainsKey("layers.0.bias_init"));
            Assert.Equal(bias, t.Params.ContainsKey("layers.1.bias_init"));
        });
        // use_bias = true with each of two bias values, and use_bias = false alone.
        Assert.Equal(3, new Tunesmith.Samplers.GridSampler(new SearchSpace()
            .Choice("use_bias", [true, false])
            .Repeat("layers", 1, b => b.Choice("bias_init", [0.0, 0.1], when: Condition.When("use_bias", true)))).Count);
    }

    [Fact]
    public void Blocks_counts_repetitions_whose_parameters_are_all_switched_off()
    {
        var c = new Configuration(new Dictionary<string, object?> { ["use_bias"] = false, ["layers"] = 3L });
        Assert.Equal(3, c.Blocks("layers").Count);
    }

    [Fact]
    public void A_condition_inside_a_branch_on_a_parameter_outside_it_is_an_error_naming_both()
    {
        var error = Names("dampening", () => new SearchSpace()
            .Choice("optimizer", ["adam", "sgd"]).Choice("nesterov", [true, false])
            .When("optimizer", ["sgd"], s => s.Float("dampening", 0, 1, when: Condition.When("nesterov", false))));
        Assert.Contains("'nesterov'", error.Message);
    }

    [Fact]
    public void CoerceValues_coerces_each_value_onto_its_parameter_and_names_unknown_or_bad_ones()
    {
        var space = new SearchSpace().Int("layers", 1, 8).Float("lr", 1e-4, 1).Choice("act", ["relu", "tanh"]);
        var coerced = space.CoerceValues(new Dictionary<string, object?> { ["layers"] = "3", ["lr"] = "0.5", ["act"] = "tanh" });
        Assert.Equal(3L, Assert.IsType<long>(coerced["layers"]));
        Assert.Equal(0.5, Assert.IsType<double>(coerced["lr"]));
        Assert.Equal("tanh", coerced["act"]);

        var unknown = Names("depth", () => space.CoerceValues(new Dictionary<string, object?> { ["depth"] = 2 }));
        Assert.Equal("depth", unknown.Parameter);
        Assert.Contains("layers, lr, act", unknown.Message);
        Names("layers", () => space.CoerceValues(new Dictionary<string, object?> { ["layers"] = "abc" }));
    }
}
