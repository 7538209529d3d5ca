using Tunesmith.Samplers;
using Tunesmith.Samplers.Tpe;
using Tunesmith.Schedulers;
using Tunesmith.Simulation.Benchmarks;
using Tunesmith.Spaces;

namespace Tunesmith.Simulation.Tests;

public sealed class LearningCurveSimulatorTests
{
    // Two configurations: x = 0 reports 1, 2, 3 after epochs of 1 s each; x = 1 reports 5, 6 after epochs of 2 s and 3 s.
    private static TabularBenchmark TinyTable() => new("tiny", "score", Direction.Maximize,
        [new("x", new FloatDistribution(0, 1))],
        [[0.0], [1.0]],
        [new LearningCurve(0, [1, 2, 3], [1, 1, 1]), new LearningCurve(1, [5, 6], [2, 3])]);

    /// <summary>Proposes x = 0 for even trial numbers and x = 1 for odd ones.</summary>
    private sealed class AlternatingSampler : ISampler
    {
        public int? Seed => 7;
        public string Name => "alternating";
        public IReadOnlyDictionary<string, Distribution> InferRelativeSearchSpace(SamplingContext context) => new Dictionary<string, Distribution>();
        public IReadOnlyDictionary<string, object?> SampleRelative(SamplingContext context, IReadOnlyDictionary<string, Distribution> searchSpace) => new Dictionary<string, object?>();
        public object? SampleIndependent(SamplingContext context, string name, Distribution distribution) => context.Trial.Number % 2 == 0 ? 0.0 : 1.0;
    }

    /// <summary>Stops every trial after its first epoch.</summary>
    private sealed class StopAtFirstEpoch : IScheduler
    {
        public string Name => "stop-at-first-epoch";
        public List<(int Trial, long Step, double Value, int HistoryCount)> Calls { get; } = [];
        public SchedulerDecision Decide(StudyHistory history, FrozenTrial trial, long step, double value)
        {
            Calls.Add((trial.Number, step, value, history.Trials.Count));
            return SchedulerDecision.Stop;
        }
    }

    [Fact]
    public void Two_workers_on_a_tiny_table_finish_trials_at_the_sums_of_their_epoch_times()
    {
        var simulator = new LearningCurveSimulator(TinyTable(), new AlternatingSampler(), null,
            new SimulationOptions { Workers = 2, TimeBudget = TimeSpan.FromSeconds(7.5), Target = 6 });
        var run = simulator.Run();

        // Worker 0: trial 0 (x=0) ends at 1+1+1 = 3 s, then trial 2 (x=0) at 3+3 = 6 s, then trial 4 starts at 6 s.
        // Worker 1: trial 1 (x=1) ends at 2+3 = 5 s, then trial 3 (x=1) starts at 5 s; its first epoch ends at 7 s.
        var trials = simulator.History.Trials;
        Assert.Equal(5, run.TrialsStarted);
        Assert.Equal([3.0, 5.0, 6.0], trials.Where(t => t.State == TrialState.Complete).Select(t => Seconds(simulator, t.Finished!.Value)).ToArray());
        Assert.Equal([0.0, 0.0, 3.0, 5.0, 6.0], trials.Select(t => Seconds(simulator, t.Started!.Value)).ToArray());
        Assert.Equal(3, run.TrialsCompleted);
        Assert.Equal(0, run.TrialsStopped);
        // Epochs that ended within 7.5 s: trial 0 ×3, trial 1 ×2, trial 2 ×3, trial 3 ×1 (at 7 s), trial 4 ×1 (at 7 s).
        Assert.Equal(10, run.EpochsRun);
        Assert.Equal(6, run.Best);
        Assert.Equal(5.0, run.TimeToTargetSeconds);
        Assert.Equal([new TracePoint(1, 1), new TracePoint(2, 2), new TracePoint(2, 5), new TracePoint(5, 6)], run.Trace);
        Assert.Equal([3.0, 6.0], trials.Where(t => t.State == TrialState.Complete).Select(t => t.Value!.Value).Order().Distinct().ToArray());
    }

    [Fact]
    public void A_scheduler_sees_every_epoch_and_its_stop_frees_the_worker_at_once()
    {
        var scheduler = new StopAtFirstEpoch();
        var simulator = new LearningCurveSimulator(TinyTable(), new AlternatingSampler(), scheduler,
            new SimulationOptions { Workers = 2, TimeBudget = TimeSpan.FromSeconds(4) });
        var run = simulator.Run();

        // Worker 0 runs a 1 s epoch of x=0 per trial (numbers 0, 2, 3?, ...): stops at 1, 2, 3, 4 s; worker 1's x=1 epochs take 2 s.
        Assert.All(scheduler.Calls, c => Assert.Equal(1, c.Step));
        Assert.Equal(run.TrialsStopped, scheduler.Calls.Count);
        Assert.Equal(run.EpochsRun, scheduler.Calls.Count);
        Assert.All(simulator.History.Trials.Where(t => t.State == TrialState.Pruned), t =>
        {
            Assert.Equal(1, Assert.Single(t.Intermediate).Key);
            Assert.Equal(Seconds(simulator, t.Started!.Value) + (ParamValues.ToDouble(t.Params["x"]) == 0 ? 1 : 2), Seconds(simulator, t.Finished!.Value));
        });
        Assert.Equal(0, run.TrialsCompleted);
    }

    [Fact]
    public void The_same_seed_gives_the_same_run_and_another_seed_another()
    {
        var benchmark = BenchData.Catalog.Open("lcbench-blood");
        SimulationRun Simulate(int seed) => new LearningCurveSimulator(benchmark, new TpeSampler(seed), null,
            new SimulationOptions { Workers = 4, TimeBudget = TimeSpan.FromMinutes(20), Target = 79 }).Run();
        var a = Simulate(3);
        var b = Simulate(3);
        var c = Simulate(4);
        Assert.Equal(a.Trace, b.Trace);
        Assert.Equal((a.Best, a.TimeToTargetSeconds, a.TrialsStarted, a.EpochsRun), (b.Best, b.TimeToTargetSeconds, b.TrialsStarted, b.EpochsRun));
        Assert.NotEqual(a.Trace, c.Trace);
    }

    [Fact]
    public void Tabular_benchmarks_know_their_best_values_from_the_data_readme()
    {
        var lcbench = (TabularBenchmark)BenchData.Catalog.Open("lcbench-blood");
        Assert.Equal(2000, lcbench.Count);
        Assert.Equal(80.12048, lcbench.BestValue, 5);
        Assert.Equal(Direction.Maximize, lcbench.Direction);
        var nas = (TabularBenchmark)BenchData.Catalog.Open("nasbench-nlp");
        Assert.Equal(345, nas.Count);
        Assert.Equal(4.567582, nas.BestValue, 6);
        Assert.Equal(Direction.Minimize, nas.Direction);
        // The diverged runs end in NaN and are shorter than 50 epochs.
        Assert.Equal(4, Enumerable.Range(0, nas.Count).Count(i => double.IsNaN(nas.CurveOf(i).Values[^1])));
    }

    [Fact]
    public void A_tabulated_configuration_looks_up_its_own_curve()
    {
        var lcbench = (TabularBenchmark)BenchData.Catalog.Open("lcbench-blood");
        // Config 0 of the LCBench file (its first row).
        var curve = lcbench.Curve(new Dictionary<string, object?>
        {
            ["batch_size"] = 71L, ["learning_rate"] = 0.001824330027, ["momentum"] = 0.2132519317, ["weight_decay"] = 0.02047281692,
            ["num_layers"] = 3L, ["max_units"] = 293L, ["max_dropout"] = 0.02592623183,
        });
        Assert.Equal(0, curve.ConfigId);
        Assert.Equal(77.71085, curve.Values[0], 5);
        Assert.Equal(0.870222, curve.EpochSeconds[0], 6);
    }

    [Fact]
    public void A_new_trial_takes_the_nearest_row_not_started_yet_and_repeats_only_when_every_row_was_started()
    {
        // Three one-epoch rows at x = 0, 0.4, 1 reporting 1, 2, 3; the sampler always proposes x = 0.
        var table = new TabularBenchmark("three", "score", Direction.Maximize, [new("x", new FloatDistribution(0, 1))],
            [[0.0], [0.4], [1.0]], [new LearningCurve(0, [1], [1]), new LearningCurve(1, [2], [1]), new LearningCurve(2, [3], [1])]);
        double[] Values(bool repeat)
        {
            var simulator = new LearningCurveSimulator(table, new AlternatingSampler(), null,
                new SimulationOptions { Workers = 1, TimeBudget = TimeSpan.FromSeconds(5.5), RepeatTabulatedConfigurations = repeat });
            simulator.Run();
            // Trials 0, 2, 4 propose x = 0, trials 1, 3 x = 1.
            return simulator.History.Trials.Where(t => t.State == TrialState.Complete).Select(t => t.Value!.Value).ToArray();
        }
        // Rows by proposal: x=0 → row 0; x=1 → row 2; x=0 → row 1 (nearest not started); then all started: nearest again.
        Assert.Equal([1.0, 3.0, 2.0, 3.0, 1.0], Values(repeat: false));
        Assert.Equal([1.0, 3.0, 1.0, 3.0, 1.0], Values(repeat: true));
    }

    [Fact]
    public void A_run_never_starts_the_same_table_row_twice_and_stays_deterministic()
    {
        // ASHA + TPE on lcbench-blood: the model's proposals cluster, so plain nearest-row lookups repeat rows a lot.
        var benchmark = BenchData.Catalog.Open("lcbench-blood");
        var strategy = SimulationStrategies.Create("asha", "tpe");
        (SimulationRun Run, LearningCurveSimulator Simulator, int DistinctCurves) Simulate(int seed, bool repeat)
        {
            var counting = new WatchedCurves(benchmark);
            var simulator = new LearningCurveSimulator(counting, strategy.CreateSampler(counting, seed), strategy.CreateScheduler(counting, seed),
                new SimulationOptions { Workers = 8, TimeBudget = TimeSpan.FromMinutes(10), RepeatTabulatedConfigurations = repeat, RecordProposedConfigurations = repeat });
            return (simulator.Run(), simulator, counting.Distinct);
        }
        var (run, simulator, distinct) = Simulate(1, repeat: false);
        Assert.True(run.TrialsStarted > 50, $"{run.TrialsStarted} trials");
        Assert.Equal(run.TrialsStarted, distinct);
        Assert.Equal(run.TrialsStarted, simulator.Started.Count);
        Assert.Equal(0, simulator.Started.Repeats);

        var (again, againSimulator, _) = Simulate(1, repeat: false);
        Assert.Equal(run.Trace, again.Trace);
        Assert.Equal(run.TrialsStarted, again.TrialsStarted);
        Assert.All(Enumerable.Range(0, 2000), row => Assert.Equal(simulator.Started.Contains(row), againSimulator.Started.Contains(row)));

        // The plain nearest-row lookup (rows may repeat), with the proposals recorded as before, replays the same curves again and again.
        var (old, _, oldDistinct) = Simulate(1, repeat: true);
        Assert.True(oldDistinct < old.TrialsStarted / 2, $"{oldDistinct} distinct curves in {old.TrialsStarted} trials");
    }

    [Fact]
    public void Hypertune_is_bohb_with_the_best_ranking_level_on_ashas_rungs_and_is_deterministic()
    {
        var benchmark = BenchData.Catalog.Open("lcbench-blood");
        var strategy = SimulationStrategies.Create("hypertune", null);
        Assert.Equal("hypertune", strategy.Name);
        var sampler = Assert.IsType<Tunesmith.Samplers.Bohb.BohbSampler>(strategy.CreateSampler(benchmark, 2));
        Assert.Equal((Tunesmith.Samplers.Bohb.BohbLevelChoice.BestRanked, Tunesmith.Samplers.Bohb.BohbLevelValue.BestSoFar), (sampler.Options.LevelChoice, sampler.Options.LevelValue));
        Assert.Equal([1L, 3, 9, 27, 50], sampler.Levels);
        Assert.IsType<Tunesmith.Schedulers.Asha.AshaScheduler>(strategy.CreateScheduler(benchmark, 2));
        Assert.Equal(Tunesmith.Samplers.Bohb.BohbLevelChoice.Largest,
            Assert.IsType<Tunesmith.Samplers.Bohb.BohbSampler>(SimulationStrategies.Create("bohb", null).CreateSampler(benchmark, 2)).Options.LevelChoice);
        Assert.Contains("--sampler", Assert.Throws<ArgumentException>(() => SimulationStrategies.Create("none", "hypertune")).Message);

        SimulationRun Simulate() => new LearningCurveSimulator(benchmark, strategy.CreateSampler(benchmark, 5), strategy.CreateScheduler(benchmark, 5),
            new SimulationOptions { Workers = 8, TimeBudget = TimeSpan.FromMinutes(5) }).Run();
        var a = Simulate();
        var b = Simulate();
        Assert.True(a.TrialsStarted > 50, $"{a.TrialsStarted} trials");
        Assert.Equal(a.Trace, b.Trace);
        Assert.Equal((a.Best, a.TrialsStarted, a.EpochsRun), (b.Best, b.TrialsStarted, b.EpochsRun));
    }

    [Fact]
    public void Mobster_is_the_gp_over_params_and_resource_on_ashas_rungs_and_is_deterministic()
    {
        var benchmark = BenchData.Catalog.Open("lcbench-blood");
        var strategy = SimulationStrategies.Create("mobster", null);
        Assert.Equal("mobster", strategy.Name);
        var sampler = Assert.IsType<Tunesmith.Samplers.Mobster.MobsterSampler>(strategy.CreateSampler(benchmark, 2));
        Assert.Equal(Tunesmith.Samplers.Bohb.BohbLevelValue.BestSoFar, sampler.Options.LevelValue);
        Assert.Equal([1L, 3, 9, 27, 50], sampler.Levels);
        Assert.IsType<Tunesmith.Schedulers.Asha.AshaScheduler>(strategy.CreateScheduler(benchmark, 2));
        Assert.Equal("asha+mobster", SimulationStrategies.Create("asha", "mobster").Name);
        Assert.Contains("--sampler", Assert.Throws<ArgumentException>(() => SimulationStrategies.Create("median", "mobster")).Message);

        SimulationRun Simulate(int seed) => new LearningCurveSimulator(benchmark, strategy.CreateSampler(benchmark, seed), strategy.CreateScheduler(benchmark, seed),
            new SimulationOptions { Workers = 8, TimeBudget = TimeSpan.FromSeconds(40) }).Run();
        var a = Simulate(5);
        var b = Simulate(5);
        Assert.True(a.TrialsStarted > 30, $"{a.TrialsStarted} trials");
        Assert.Equal(a.Trace, b.Trace);
        Assert.Equal((a.Best, a.TrialsStarted, a.EpochsRun), (b.Best, b.TrialsStarted, b.EpochsRun));
    }

    [Theory]
    [InlineData("lcbench-blood", "asha", "tpe")]
    [InlineData("lcbench-blood", "mobster", null)]
    [InlineData("nasbench-nlp", "bohb", null)]
    public void A_simulated_trial_records_the_parameters_of_the_table_row_it_replays(string name, string scheduler, string? sampler)
    {
        var table = (TabularBenchmark)BenchData.Catalog.Open(name);
        var strategy = SimulationStrategies.Create(scheduler, sampler);
        (LearningCurveSimulator Simulator, List<LearningCurve> Replayed) Simulate(bool recordProposed)
        {
            var recording = new WatchedCurves(table);
            var simulator = new LearningCurveSimulator(recording, strategy.CreateSampler(recording, 3), strategy.CreateScheduler(recording, 3),
                new SimulationOptions { Workers = 8, TimeBudget = TimeSpan.FromMinutes(name == "nasbench-nlp" ? 600 : 3), RecordProposedConfigurations = recordProposed });
            simulator.Run();
            return (simulator, recording.NewTrials);
        }

        var (run, replayed) = Simulate(recordProposed: false);
        var trials = run.History.Trials.OrderBy(t => t.Number).ToArray();
        Assert.True(trials.Length > 30, $"{trials.Length} trials");
        Assert.Equal(trials.Length, replayed.Count);
        for (var i = 0; i < trials.Length; i++)
        {
            var row = replayed[i].Configuration!;
            // Exactly the row's values, in the space's order, names and types, inside the space.
            Assert.Equal(table.Space.Select(p => p.Key), trials[i].Params.Keys);
            Assert.All(table.Space, p =>
            {
                var value = trials[i].Params[p.Key];
                Assert.Equal(row[p.Key], value);
                Assert.IsType(p.Value is IntDistribution ? typeof(long) : typeof(double), value);
                Assert.True(p.Value.Contains(value), $"trial {i}: {p.Key} = {value} outside {p.Value.Describe()}");
            });
            // Looking the recorded configuration up finds that row, or one described by the same numbers (nasbench-nlp
            // describes some architectures alike): the distance is 0.
            Assert.Equal(row, table.Curve(trials[i].Params).Configuration);
        }

        // The earlier protocol recorded the proposal, which for most trials is not the row replayed.
        var (old, oldReplayed) = Simulate(recordProposed: true);
        var proposalIsRow = old.History.Trials.OrderBy(t => t.Number).Zip(oldReplayed)
            .Count(p => table.Space.All(q => ParamValues.AreEqual(p.First.Params[q.Key], p.Second.Configuration![q.Key])));
        Assert.True(proposalIsRow < oldReplayed.Count / 10, $"{proposalIsRow} of {oldReplayed.Count} proposals were rows");
    }

    [Fact]
    public void A_table_row_carries_its_configuration_exactly_as_the_data_file_gives_it()
    {
        var lcbench = (TabularBenchmark)BenchData.Catalog.Open("lcbench-blood");
        // Config 0 of the LCBench file (its first row).
        Assert.Equal(new Dictionary<string, object?>
        {
            ["batch_size"] = 71L, ["learning_rate"] = 0.001824330027, ["momentum"] = 0.2132519317, ["weight_decay"] = 0.02047281692,
            ["num_layers"] = 3L, ["max_units"] = 293L, ["max_dropout"] = 0.02592623183,
        }, lcbench.CurveOf(0).Configuration);
        var nas = (TabularBenchmark)BenchData.Catalog.Open("nasbench-nlp");
        Assert.All(Enumerable.Range(0, nas.Count), row =>
        {
            var configuration = nas.CurveOf(row).Configuration!;
            Assert.All(nas.Space, p => Assert.True(p.Value.Contains(configuration[p.Key]), $"row {row}: {p.Key}"));
            Assert.Equal(configuration, nas.Curve(configuration).Configuration);
        });
        Assert.Contains("row 1 has x = 1.5, outside", Assert.Throws<ArgumentException>(() => new TabularBenchmark("bad", "score", Direction.Maximize,
            [new("x", new IntDistribution(0, 3))], [[1.0], [1.5]], [new LearningCurve(0, [1], [1]), new LearningCurve(1, [2], [1])])).Message);
    }

    [Theory]
    [InlineData("none", "random")]
    [InlineData("asha", "random")]
    public void Random_search_runs_are_the_same_whichever_configuration_the_history_records(string scheduler, string sampler)
    {
        // Random proposals and ASHA's decisions do not read parameters from the history: the fidelity fix leaves them be.
        var benchmark = BenchData.Catalog.Open("lcbench-blood");
        var strategy = SimulationStrategies.Create(scheduler, sampler);
        (SimulationRun Run, double?[] Values) Simulate(bool recordProposed)
        {
            var simulator = new LearningCurveSimulator(benchmark, strategy.CreateSampler(benchmark, 4), strategy.CreateScheduler(benchmark, 4),
                new SimulationOptions { Workers = 8, TimeBudget = TimeSpan.FromMinutes(10), RecordProposedConfigurations = recordProposed });
            var run = simulator.Run();
            return (run, simulator.History.Trials.OrderBy(t => t.Number).Select(t => t.Value).ToArray());
        }
        var (now, nowValues) = Simulate(recordProposed: false);
        var (before, beforeValues) = Simulate(recordProposed: true);
        Assert.True(now.TrialsStarted > 30, $"{now.TrialsStarted} trials");
        Assert.Equal(before.Trace, now.Trace);
        Assert.Equal((before.Best, before.TrialsStarted, before.TrialsStopped, before.TrialsCompleted, before.EpochsRun),
            (now.Best, now.TrialsStarted, now.TrialsStopped, now.TrialsCompleted, now.EpochsRun));
        Assert.Equal(beforeValues, nowValues);
    }

    [Fact]
    public void A_pbt_exploit_records_the_row_it_continues_with()
    {
        var table = (TabularBenchmark)BenchData.Catalog.Open("lcbench-blood");
        var strategy = SimulationStrategies.Create("pbt", "random");
        var simulator = new LearningCurveSimulator(table, strategy.CreateSampler(table, 2), strategy.CreateScheduler(table, 2),
            new SimulationOptions { Workers = 8, TimeBudget = TimeSpan.FromMinutes(20) });
        simulator.Run();
        var exploited = simulator.History.Trials.Where(t => t.SystemAttributes.ContainsKey(SystemAttributeKeys.RestoredFrom)).ToArray();
        Assert.NotEmpty(exploited);
        Assert.All(simulator.History.Trials, t =>
        {
            var row = table.Curve(t.Params).Configuration!;
            Assert.All(table.Space, p => Assert.Equal(row[p.Key], t.Params[p.Key]));
        });
    }

    /// <summary>
    /// Watches a benchmark's lookups: the curves new trials replay, in the order they start (trial number order), and the
    /// number of distinct curves (table rows) any lookup returned.
    /// </summary>
    private sealed class WatchedCurves(ILearningCurveBenchmark inner) : ILearningCurveBenchmark
    {
        private readonly HashSet<LearningCurve> _seen = new(ReferenceEqualityComparer.Instance);
        public List<LearningCurve> NewTrials { get; } = [];
        public int Distinct => _seen.Count;
        public string Name => inner.Name;
        public string Metric => inner.Metric;
        public Direction Direction => inner.Direction;
        public int MaxEpoch => inner.MaxEpoch;
        public IReadOnlyList<KeyValuePair<string, Distribution>> Space => inner.Space;
        public double BestValue => inner.BestValue;
        public LearningCurve Curve(IReadOnlyDictionary<string, object?> parameters) => Seen(inner.Curve(parameters));
        public LearningCurve NewTrialCurve(IReadOnlyDictionary<string, object?> parameters, StartedConfigurations started)
        {
            var curve = Seen(inner.NewTrialCurve(parameters, started));
            NewTrials.Add(curve);
            return curve;
        }
        private LearningCurve Seen(LearningCurve curve)
        {
            _seen.Add(curve);
            return curve;
        }
    }

    private static double Seconds(LearningCurveSimulator simulator, DateTimeOffset at) =>
        (at - ((VirtualTimeProvider)simulator.Clock).Start).TotalSeconds;
}
