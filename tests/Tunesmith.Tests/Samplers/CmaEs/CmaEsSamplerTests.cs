using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Samplers;
using Tunesmith.Samplers.CmaEs;
using Tunesmith.Spaces;
using Tunesmith.Storage;
using Xunit;

namespace Tunesmith.Tests.Samplers.CmaEs;

public sealed class CmaEsConformanceTests : SamplerConformanceTests
{
    protected override ISampler CreateSampler(int? seed) => new CmaEsSampler(seed);
}

public sealed class WarmStartedCmaEsConformanceTests : SamplerConformanceTests
{
    protected override ISampler CreateSampler(int? seed) => new CmaEsSampler(new CmaEsOptions { Seed = seed, NStartupTrials = 5, PopulationSize = 4 });
}

public sealed class CmaEsSamplerTests
{
    private static double RunSequential(CmaEsSampler sampler, int dims, int trials, Func<double[], double> f, double low = -5, double high = 5)
    {
        var study = Study.Create("cma", sampler: sampler);
        for (var t = 0; t < trials; t++)
        {
            var trial = study.Ask();
            var x = Enumerable.Range(0, dims).Select(i => trial.SuggestFloat($"x{i}", low, high)).ToArray();
            study.Tell(trial, f(x));
        }
        return study.BestTrial!.Value!.Value;
    }

    private static double Median(IEnumerable<double> values)
    {
        var a = values.OrderBy(v => v).ToArray();
        return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2;
    }

    private static double Sphere(double[] x) => x.Sum(v => (v - 1) * (v - 1));

    [Fact]
    public void Converges_on_a_shifted_sphere_in_six_dimensions()
    {
        var best = Enumerable.Range(0, 5).Select(seed => RunSequential(new CmaEsSampler(seed), 6, 400, Sphere));
        // Random search reaches about 1 here; CMA-ES converges geometrically.
        Assert.True(Median(best) < 1e-3, $"median best {Median(best)}");
    }

    [Fact]
    public void Learns_an_ill_conditioned_rotated_ellipsoid()
    {
        // Condition number 1e4 along rotated axes: only a full covariance matrix solves it in this budget.
        static double Ellipsoid(double[] x)
        {
            var s = 0.0;
            for (var i = 0; i < x.Length; i++)
            {
                var y = x[..(i + 1)].Sum() - (i + 1) * 0.5;
                s += Math.Pow(1e4, (double)i / (x.Length - 1)) * y * y;
            }
            return s;
        }
        var best = Enumerable.Range(0, 5).Select(seed => RunSequential(new CmaEsSampler(seed), 4, 1000, Ellipsoid));
        Assert.True(Median(best) < 0.1, $"median best {Median(best)}");
    }

    [Fact]
    public void Proposals_stay_inside_bounds_steps_and_log_scales()
    {
        var study = Study.Create("bounds", sampler: new CmaEsSampler(seed: 7));
        study.Optimize(t =>
        {
            var a = t.SuggestFloat("a", 0, 1);
            var b = t.SuggestFloat("b", 1e-5, 1e-1, log: true);
            var c = t.SuggestInt("c", -3, 9, step: 3);
            var d = t.SuggestFloat("d", 0, 2, step: 0.25);
            var e = t.SuggestInt("e", 1, 1024, log: true);
            // The optimum sits on the boundary, which pushes samples out of the box.
            return -a - Math.Log10(b) + c + d - e;
        }, trials: 150);
        foreach (var t in study.Trials)
            foreach (var (name, value) in t.Params)
                Assert.True(t.Distributions[name].Contains(value), $"trial {t.Number}: {name}={value}");
        // Samples pressed against the bounds are repaired into them, and the search reaches the bounds.
        Assert.Contains(study.Trials, t => (long)t.Params["c"]! == -3);
        Assert.Contains(study.Trials, t => (long)t.Params["e"]! >= 512);
    }

    [Fact]
    public void Margin_keeps_integer_coordinates_moving_until_an_integer_problem_is_solved()
    {
        var solved = 0;
        for (var seed = 0; seed < 5; seed++)
        {
            var study = Study.Create("ints", sampler: new CmaEsSampler(seed));
            study.Optimize(t => Enumerable.Range(0, 6).Sum(i => Math.Pow(t.SuggestInt($"n{i}", 0, 30) - (3 + 4 * i), 2)), trials: 400);
            if (study.BestTrial!.Value == 0) solved++;
        }
        Assert.True(solved >= 4, $"solved {solved} of 5");
    }

    [Fact]
    public void Ipop_restarts_with_a_doubled_population_once_a_run_stagnates()
    {
        var sampler = new CmaEsSampler(new CmaEsOptions { Seed = 1 });
        var study = Study.Create("flat", sampler: sampler);
        study.Optimize(t => t.SuggestFloat("x", 0, 1) * 0 + t.SuggestFloat("y", 0, 1) * 0 + 1, trials: 200);
        var run = sampler.CurrentRun!;
        Assert.True(run.Restarts >= 1, run.ToString());
        // Two parameters: λ₀ = 4 + ⌊3 ln 2⌋ = 6.
        Assert.Equal(6 << run.Restarts, run.PopulationSize);

        var noRestart = new CmaEsSampler(new CmaEsOptions { Seed = 1, RestartStrategy = CmaEsRestartStrategy.None });
        var again = Study.Create("flat2", sampler: noRestart);
        again.Optimize(t => t.SuggestFloat("x", 0, 1) * 0 + t.SuggestFloat("y", 0, 1) * 0 + 1, trials: 200);
        Assert.Equal(0, noRestart.CurrentRun!.Restarts);
        Assert.Equal(6, noRestart.CurrentRun.PopulationSize);
    }

    [Fact]
    public void Ipop_restarts_find_better_optima_of_a_multimodal_function_than_one_long_run()
    {
        static double Rastrigin(double[] x) => 10 * x.Length + x.Sum(v => v * v - 10 * Math.Cos(2 * Math.PI * v));
        double MedianBest(CmaEsRestartStrategy strategy) => Median(Enumerable.Range(0, 10).Select(seed =>
            RunSequential(new CmaEsSampler(new CmaEsOptions { Seed = seed, RestartStrategy = strategy }), 5, 1500, Rastrigin, -2.56, 5.12)));
        var single = MedianBest(CmaEsRestartStrategy.None);
        var ipop = MedianBest(CmaEsRestartStrategy.Ipop);
        Assert.True(ipop < single, $"IPOP median {ipop}, single run {single}");
    }

    [Fact]
    public void Warm_start_begins_at_the_best_enqueued_trials()
    {
        var sampler = new CmaEsSampler(new CmaEsOptions { Seed = 2, NStartupTrials = 4 });
        var study = Study.Create("warm", sampler: sampler);
        // The optimum is near the corner (8, 8); the enqueued trials surround it, far from the centre (0, 0).
        foreach (var (x, y) in new[] { (7.5, 8.0), (8.5, 8.5), (6.0, 9.0), (-9.0, -9.0) })
            study.Enqueue(new Dictionary<string, object?> { ["x"] = x, ["y"] = y });
        study.Optimize(t => Math.Pow(t.SuggestFloat("x", -10, 10) - 8, 2) + Math.Pow(t.SuggestFloat("y", -10, 10) - 8, 2), trials: 10);
        var run = sampler.CurrentRun!;
        // The mean (unit cube) lies among the best enqueued points, about (0.9, 0.91), not at the centre.
        Assert.All(run.Mean, m => Assert.InRange(m, 0.8, 0.95));
        var sampled = study.Trials.Skip(4).Select(t => (double)t.Params["x"]!).ToArray();
        Assert.True(sampled.Average() > 4, $"mean sampled x {sampled.Average()}");
    }

    [Fact]
    public void Parallel_asks_from_four_workers_produce_a_valid_converging_run()
    {
        var sampler = new CmaEsSampler(seed: 3);
        var study = Study.Create("parallel", sampler: sampler);
        study.Optimize(t => Sphere(Enumerable.Range(0, 4).Select(i => t.SuggestFloat($"x{i}", -5, 5)).ToArray()), trials: 300, parallelism: 4);
        var trials = study.Trials;
        Assert.Equal(Enumerable.Range(0, 300), trials.Select(t => t.Number));
        Assert.All(trials, t => Assert.Equal(TrialState.Complete, t.State));
        Assert.True(sampler.CurrentRun!.Generation >= 10, sampler.CurrentRun.ToString());
        Assert.True(study.BestTrial!.Value < 0.05, $"best {study.BestTrial.Value}");
    }

    [Fact]
    public void A_trial_left_running_does_not_freeze_the_generations_behind_it()
    {
        var sampler = new CmaEsSampler(seed: 6);
        var study = Study.Create("straggler", sampler: sampler);
        var straggler = study.Ask(); // never told while the others run
        straggler.SuggestFloat("x", -5, 5);
        straggler.SuggestFloat("y", -5, 5);
        for (var i = 0; i < 80; i++)
        {
            var t = study.Ask();
            study.Tell(t, Sphere([t.SuggestFloat("x", -5, 5), t.SuggestFloat("y", -5, 5)]));
        }
        var before = sampler.CurrentRun!.Generation;
        Assert.True(before >= 5, sampler.CurrentRun.ToString());
        // When it finally finishes it joins the open generation instead of being lost or reordering the past.
        study.Tell(straggler, 100.0);
        for (var i = 0; i < 20; i++)
        {
            var t = study.Ask();
            study.Tell(t, Sphere([t.SuggestFloat("x", -5, 5), t.SuggestFloat("y", -5, 5)]));
        }
        var after = sampler.CurrentRun!;
        Assert.Equal(6, after.PopulationSize);
        Assert.True(after.Generation > before, after.ToString());
    }

    [Fact]
    public async Task A_process_joining_later_replays_the_same_state_from_the_history()
    {
        var storage = new InMemoryStudyStorage();
        var first = new CmaEsSampler(seed: 4);
        var a = await Study.CreateAsync("shared", new StudyOptions { Sampler = first, StorageInstance = storage });
        for (var i = 0; i < 60; i++)
        {
            var t = a.Ask();
            a.Tell(t, Sphere([t.SuggestFloat("x", -5, 5), t.SuggestFloat("y", -5, 5), t.SuggestInt("n", 0, 10)]));
        }
        var joiner = new CmaEsSampler(seed: 4);
        var b = await Study.LoadAsync("shared", new StudyOptions { Sampler = joiner, StorageInstance = storage });
        b.Ask(); // replays trials 0..59
        a.Ask(); // reads trial 59, then stops at b's running trial
        Assert.Equal(first.CurrentRun!.Generation, joiner.CurrentRun!.Generation);
        Assert.Equal(first.CurrentRun.Sigma, joiner.CurrentRun.Sigma);
        Assert.Equal(first.CurrentRun.Mean, joiner.CurrentRun.Mean);
    }

    [Fact]
    public void The_same_seed_and_results_give_the_same_trials()
    {
        IReadOnlyList<string> Run()
        {
            var study = Study.Create("repro", sampler: new CmaEsSampler(seed: 11));
            study.Optimize(t => Sphere([t.SuggestFloat("x", -5, 5), t.SuggestFloat("y", 1e-3, 10, log: true), t.SuggestInt("k", 1, 8)]), trials: 40);
            return study.Trials.Select(t => string.Join(",", t.Params.Select(p => ParamValues.Format(p.Value)))).ToArray();
        }
        Assert.Equal(Run(), Run());
    }

    [Fact]
    public void Categorical_and_conditional_parameters_fall_back_to_random_sampling()
    {
        var study = Study.Create("mixed", sampler: new CmaEsSampler(seed: 5));
        study.Optimize(t =>
        {
            var kind = t.SuggestCategorical("kind", new[] { "a", "b", "c" });
            var x = t.SuggestFloat("x", -5, 5);
            var extra = kind == "b" ? t.SuggestFloat("extra", 0, 1) : 0;
            return x * x + extra + (kind == "a" ? 0 : 1);
        }, trials: 120);
        var kinds = study.Trials.Select(t => (string)t.Params["kind"]!).Distinct().ToArray();
        Assert.Equal(3, kinds.Length);
        Assert.True(Math.Abs((double)study.BestTrial!.Params["x"]!) < 0.1);
    }

    [Fact]
    public void Registry_builds_cmaes_from_snake_case_options_and_names_a_bad_one()
    {
        var sampler = (CmaEsSampler)SamplerRegistry.Create("cmaes", new SamplerRequest(
            new Dictionary<string, object?> { ["sigma0"] = 0.2, ["popsize"] = 12L, ["restart_strategy"] = "none", ["n_startup_trials"] = 3L }, Seed: 9));
        Assert.Equal(new CmaEsOptions { Seed = 9, Sigma0 = 0.2, PopulationSize = 12, RestartStrategy = CmaEsRestartStrategy.None, NStartupTrials = 3 }, sampler.Options);
        var unknown = Assert.Throws<ArgumentException>(() => SamplerRegistry.Create("cmaes", new SamplerRequest(new Dictionary<string, object?> { ["sigma"] = 0.2 })));
        Assert.Contains("'sigma'", unknown.Message);
        var bad = Assert.Throws<ArgumentException>(() => SamplerRegistry.Create("cmaes", new SamplerRequest(new Dictionary<string, object?> { ["sigma0"] = -1.0 })));
        Assert.Contains("sigma0", bad.Message);
    }
}
