using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Samplers;
using Tunesmith.Spaces;
using Xunit;

namespace Tunesmith.Testing;

/// <summary>
/// The behaviour every sampler must have, run through <see cref="Study"/> on <c>memory:</c> storage. A sampler's test
/// class derives from this one and implements <see cref="CreateSampler"/>; it inherits every test.
/// </summary>
public abstract class SamplerConformanceTests
{
    /// <summary>A new sampler; <paramref name="seed"/> null means unseeded.</summary>
    protected abstract ISampler CreateSampler(int? seed);

    /// <summary>Trials per run in most tests; a model-based sampler may raise it to get past its startup phase.</summary>
    protected virtual int TrialsPerRun => 40;

    /// <summary>True when the same seed and the same objective values must give the same params (every seeded sampler).</summary>
    protected virtual bool ReproducibleUnderSeed => true;

    /// <summary>A fresh study on its own in-memory storage.</summary>
    protected Study NewStudy(ISampler sampler, Direction direction = Direction.Minimize) =>
        Study.Create($"conformance-{Guid.NewGuid():N}", direction, sampler, storage: "memory:");

    /// <summary>The parameters of the mixed test space: every distribution kind, each with the distribution it must respect.</summary>
    protected static IReadOnlyList<(string Name, Distribution Distribution)> MixedSpace { get; } =
    [
        ("int", new IntDistribution(-3, 7)),
        ("int_log", new IntDistribution(1, 1000, Log: true)),
        ("int_step", new IntDistribution(2, 20, Step: 3)),
        ("float", new FloatDistribution(-2.5, 4.0)),
        ("float_log", new FloatDistribution(1e-5, 1e-1, Log: true)),
        ("float_step", new FloatDistribution(0.0, 1.0, Step: 0.125)),
        ("cat_str", new CategoricalDistribution(["adam", "sgd", "rmsprop"])),
        ("cat_num", new CategoricalDistribution([1L, 2.5, -4L])),
        ("cat_bool", new CategoricalDistribution([true, false])),
        ("cat_mixed", new CategoricalDistribution(["auto", null, 0L, false])),
    ];

    /// <summary>An objective that depends on every value deterministically (so model-based samplers see signal).</summary>
    protected static double Score(IReadOnlyDictionary<string, object?> values)
    {
        var score = 0.0;
        foreach (var (name, value) in values)
        {
            score += value switch
            {
                double d when name.Contains("log", StringComparison.Ordinal) => Math.Abs(Math.Log10(d) + 3),
                double d => (d - 1) * (d - 1),
                long l when name.Contains("log", StringComparison.Ordinal) => Math.Abs(Math.Log10(l) - 1),
                long l => Math.Abs(l - 5),
                string s => s.Length,
                bool b => b ? 1 : 0,
                null => 0.5,
                _ => 0,
            };
        }
        return score;
    }

    private static double SuggestMixed(Trial trial)
    {
        foreach (var (name, distribution) in MixedSpace)
            trial.Suggest(name, distribution);
        return Score(trial.Params);
    }

    private static string Fingerprint(FrozenTrial t) => ParamValues.ToJson(t.Params);

    private static void AssertRespects(Distribution distribution, string name, object? value)
    {
        switch (distribution)
        {
            case FloatDistribution f:
                var x = Assert.IsType<double>(value);
                Assert.InRange(x, f.Low, f.High);
                if (f.Step is { } s)
                {
                    var k = (x - f.Low) / s;
                    Assert.True(Math.Abs(k - Math.Round(k)) < 1e-6, $"{name} = {x} is off the step grid {s}");
                }
                break;
            case IntDistribution i:
                var n = Assert.IsType<long>(value);
                Assert.InRange(n, i.Low, i.High);
                Assert.True((n - i.Low) % i.Step == 0, $"{name} = {n} is off the step grid {i.Step}");
                break;
            case CategoricalDistribution c:
                Assert.True(c.Choices.Any(choice => ParamValues.AreEqual(choice, value)),
                    $"{name} = {ParamValues.Format(value)} is not one of the choices");
                break;
        }
    }

    [Fact]
    public async Task Same_seed_and_same_values_give_identical_params()
    {
        if (!ReproducibleUnderSeed) return;
        async Task<IReadOnlyList<string>> Run()
        {
            var study = NewStudy(CreateSampler(seed: 42));
            study.Optimize(SuggestMixed, trials: TrialsPerRun);
            return (await study.GetTrialsAsync()).Select(Fingerprint).ToList();
        }
        var first = await Run();
        var second = await Run();
        Assert.Equal(TrialsPerRun, first.Count);
        Assert.Equal(first, second);
    }

    [Fact]
    public async Task Proposals_respect_bounds_step_log_and_choices()
    {
        var study = NewStudy(CreateSampler(seed: 7));
        study.Optimize(SuggestMixed, trials: TrialsPerRun);
        var trials = await study.GetTrialsAsync();
        Assert.Equal(TrialsPerRun, trials.Count);
        Assert.All(trials, t => Assert.True(t.State == TrialState.Complete, $"trial {t.Number} is {t.State}: {t.FailReason}"));
        foreach (var t in trials)
            foreach (var (name, distribution) in MixedSpace)
            {
                Assert.Equal(distribution, t.Distributions[name]);
                AssertRespects(distribution, name, t.Params[name]);
            }
        // A sampler that always proposes one point is broken, whatever it converges to.
        Assert.True(trials.Select(t => t.Params["float"]).Distinct().Count() > 1, "every trial proposed the same float");
    }

    [Fact]
    public async Task Log_parameters_spread_over_orders_of_magnitude()
    {
        var study = NewStudy(CreateSampler(seed: 11));
        study.Optimize(t => -Math.Abs(Math.Log10(t.SuggestFloat("lr", 1e-6, 1, log: true)) + 3), trials: TrialsPerRun);
        var decades = (await study.GetTrialsAsync()).Select(t => (int)Math.Floor(Math.Log10((double)t.Params["lr"]!))).Distinct().Count();
        // Uniform on the linear scale would put almost every point in the top decade.
        Assert.True(decades >= 3, $"only {decades} decades visited");
    }

    /// <summary>The SVM space: a kernel choice with per-kernel sub-parameters (linear{C}, rbf{C,gamma}, poly{C,gamma,coef0,degree}).</summary>
    protected static SearchSpace SvmSpace() => new SearchSpace()
        .Branch("kernel",
            ("linear", s => s.Float("C", 1e-3, 1e3, log: true)),
            ("rbf", s => s.Float("C", 1e-3, 1e3, log: true).Float("gamma", 1e-4, 1, log: true)),
            ("poly", s => s.Float("C", 1e-3, 1e3, log: true).Float("gamma", 1e-4, 1, log: true).Float("coef0", 0, 1).Int("degree", 2, 5)));

    [Fact]
    public async Task Conditional_parameters_exist_only_in_their_branch()
    {
        var space = SvmSpace();
        var study = NewStudy(CreateSampler(seed: 5), Direction.Maximize);
        study.Optimize(t =>
        {
            var c = t.Suggest(space);
            var kernel = c.GetString("kernel");
            return -Math.Abs(Math.Log10(c.GetDouble("C"))) + (kernel == "rbf" ? 1 : 0) + (c.ContainsKey("gamma") ? c.GetDouble("gamma") : 0);
        }, trials: TrialsPerRun);
        var trials = await study.GetTrialsAsync();
        Assert.All(trials, t => Assert.True(t.State == TrialState.Complete, $"trial {t.Number} is {t.State}: {t.FailReason}"));
        foreach (var t in trials)
        {
            var kernel = Assert.IsType<string>(t.Params["kernel"]);
            Assert.Contains(kernel, new[] { "linear", "rbf", "poly" });
            var expected = kernel switch
            {
                "linear" => new[] { "kernel", "C" },
                "rbf" => new[] { "kernel", "C", "gamma" },
                _ => new[] { "kernel", "C", "gamma", "coef0", "degree" },
            };
            Assert.Equal(expected.Order(StringComparer.Ordinal), t.Params.Keys.Order(StringComparer.Ordinal));
            foreach (var (name, value) in t.Params)
                AssertRespects(t.Distributions[name], name, value);
        }
        Assert.True(trials.Select(t => t.Params["kernel"]).Distinct().Count() >= 2, "only one kernel was ever proposed");
    }

    [Fact]
    public void First_ask_on_an_empty_study_gives_valid_params()
    {
        var study = NewStudy(CreateSampler(seed: 3));
        var trial = study.Ask();
        var value = SuggestMixed(trial);
        foreach (var (name, distribution) in MixedSpace)
            AssertRespects(distribution, name, trial.Params[name]);
        var told = study.Tell(trial, value);
        Assert.Equal(TrialState.Complete, told.State);
    }

    [Fact]
    public async Task History_of_only_failed_pruned_and_running_trials_is_handled()
    {
        var study = NewStudy(CreateSampler(seed: 9));
        var running = study.Ask();
        running.SuggestFloat("float", -2.5, 4.0);
        for (var i = 0; i < 6; i++)
        {
            var t = study.Ask();
            SuggestMixed(t);
            study.Tell(t, i % 2 == 0 ? TrialState.Failed : TrialState.Pruned, "test");
        }
        var nan = study.Ask();
        SuggestMixed(nan);
        Assert.Equal(TrialState.Failed, study.Tell(nan, double.NaN).State);

        study.Optimize(SuggestMixed, trials: 8 + TrialsPerRun / 2);
        var completed = (await study.GetTrialsAsync()).Where(t => t.State == TrialState.Complete).ToList();
        Assert.Equal(TrialsPerRun / 2, completed.Count);
        foreach (var t in completed)
            foreach (var (name, distribution) in MixedSpace)
                AssertRespects(distribution, name, t.Params[name]);
    }

    [Fact]
    public async Task Concurrent_asks_from_eight_workers_are_safe()
    {
        var study = NewStudy(CreateSampler(seed: 1));
        study.Optimize(SuggestMixed, trials: 100, parallelism: 8);
        var trials = await study.GetTrialsAsync();
        Assert.Equal(Enumerable.Range(0, 100), trials.Select(t => t.Number));
        Assert.All(trials, t => Assert.True(t.State == TrialState.Complete, $"trial {t.Number} is {t.State}: {t.FailReason}"));
        foreach (var t in trials)
            foreach (var (name, distribution) in MixedSpace)
                AssertRespects(distribution, name, t.Params[name]);
    }

    [Fact]
    public async Task Define_by_run_params_that_appear_in_only_some_trials_are_handled()
    {
        var study = NewStudy(CreateSampler(seed: 13));
        study.Optimize(t =>
        {
            var x = t.SuggestFloat("x", -5, 5);
            var value = x * x;
            if (x > 0) value += t.SuggestInt("depth", 1, 9);
            if (t.Number % 3 == 0) value += t.SuggestFloat("extra", 0.1, 10, log: true);
            if (t.Number % 4 == 1) value += t.SuggestCategorical("mode", new[] { "a", "b" }) == "a" ? 0 : 1;
            return value;
        }, trials: TrialsPerRun);
        var trials = await study.GetTrialsAsync();
        Assert.All(trials, t => Assert.True(t.State == TrialState.Complete, $"trial {t.Number} is {t.State}: {t.FailReason}"));
        foreach (var t in trials)
        {
            var x = (double)t.Params["x"]!;
            Assert.InRange(x, -5, 5);
            Assert.Equal(x > 0, t.Params.ContainsKey("depth"));
            Assert.Equal(t.Number % 3 == 0, t.Params.ContainsKey("extra"));
            Assert.Equal(t.Number % 4 == 1, t.Params.ContainsKey("mode"));
            foreach (var (name, value) in t.Params)
                AssertRespects(t.Distributions[name], name, value);
        }
    }

    [Fact]
    public async Task Enqueued_params_are_kept_and_the_rest_is_sampled()
    {
        var study = NewStudy(CreateSampler(seed: 17));
        study.Enqueue(new Dictionary<string, object?> { ["float"] = 1.5, ["cat_str"] = "sgd" });
        study.Optimize(SuggestMixed, trials: 3);
        var first = (await study.GetTrialsAsync())[0];
        Assert.Equal(1.5, first.Params["float"]);
        Assert.Equal("sgd", first.Params["cat_str"]);
        foreach (var t in await study.GetTrialsAsync())
            foreach (var (name, distribution) in MixedSpace)
                AssertRespects(distribution, name, t.Params[name]);
    }

    [Fact]
    public async Task Unseeded_sampler_gives_valid_params()
    {
        var study = NewStudy(CreateSampler(seed: null));
        study.Optimize(SuggestMixed, trials: 10);
        var trials = await study.GetTrialsAsync();
        Assert.All(trials, t => Assert.Equal(TrialState.Complete, t.State));
        Assert.Equal(10, trials.Count);
    }
}
