using Tunesmith.Samplers;
using Tunesmith.Simulation.Benchmarks;
using Tunesmith.Spaces;

namespace Tunesmith.Simulation.Tests;

/// <summary>A stored study's trials as a table (<c>study:NAME</c>): which trials are rows, their curves, costs and parameters.</summary>
public sealed class StoredStudyBenchmarkTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);
    private static readonly FloatDistribution X = new(0, 1);
    private static readonly CategoricalDistribution C = new(["a", "b", "c"]);

    private static FrozenTrial Trial(int number, TrialState state, double x, string c, (long Step, double Value)[] reports, double? seconds) => new()
    {
        Id = number, Number = number, State = state,
        Params = new Dictionary<string, object?> { ["x"] = x, ["c"] = c },
        Distributions = new Dictionary<string, Distribution> { ["x"] = X, ["c"] = C },
        Intermediate = reports.ToDictionary(r => r.Step, r => r.Value),
        Started = T0, Finished = seconds is { } s ? T0.AddSeconds(s) : null,
    };

    [Fact]
    public void Complete_pruned_and_paused_trials_with_reports_are_rows_failed_running_and_unreported_ones_are_not()
    {
        FrozenTrial[] trials =
        [
            Trial(0, TrialState.Complete, 0.1, "a", [(10, 0.5), (20, 0.7), (30, 0.8)], 6),
            Trial(1, TrialState.Pruned, 0.9, "c", [(10, 0.4)], 4),
            Trial(2, TrialState.Failed, 0.5, "b", [(10, 0.99)], 1),
            Trial(3, TrialState.Running, 0.5, "b", [(10, 0.99)], null),
            Trial(4, TrialState.Complete, 0.5, "b", [], 1),
            Trial(5, TrialState.Paused, 0.3, "b", [(10, 0.6), (20, 0.65)], null),
        ];
        var table = StoredStudyBenchmark.Build("study:s", "acc", Direction.Maximize, trials);
        Assert.Equal(3, table.Count);
        Assert.Equal("study:s", table.Name);
        Assert.Equal(3, table.MaxEpoch);
        Assert.Equal(0.8, table.BestValue); // the failed trial's 0.99 is not replayed
        Assert.Equal(["c", "x"], table.Space.Select(p => p.Key));
        // Reports in step order, epoch k = k-th report; the run time spread over the reports.
        Assert.Equal([0.5, 0.7, 0.8], table.CurveOf(0).Values);
        Assert.Equal([2.0, 2.0, 2.0], table.CurveOf(0).EpochSeconds);
        Assert.Equal([4.0], table.CurveOf(1).EpochSeconds);
        // No finish time: the median per-report time of the others (2 and 4 → the upper middle, 4).
        Assert.Equal([4.0, 4.0], table.CurveOf(2).EpochSeconds);
        // A row's configuration is the trial's own, categorical choices included; the lookup finds it by its choice.
        Assert.Equal("c", table.CurveOf(1).Configuration!["c"]);
        Assert.Equal(0.9, table.CurveOf(1).Configuration!["x"]);
        Assert.Equal(1, table.Curve(new Dictionary<string, object?> { ["x"] = 0.85, ["c"] = "c" }).ConfigId);
        Assert.Equal(2, table.Curve(new Dictionary<string, object?> { ["x"] = 0.2, ["c"] = "b" }).ConfigId);
    }

    [Fact]
    public void A_study_without_reported_curves_is_a_one_line_error()
    {
        var e = Assert.Throws<ArgumentException>(() => StoredStudyBenchmark.Build("study:s", "acc", Direction.Maximize,
            [Trial(0, TrialState.Complete, 0.1, "a", [], 1), Trial(1, TrialState.Failed, 0.2, "a", [(1, 0.3)], 1)]));
        Assert.Equal("study 's' has no Complete, Pruned or Paused trial with reported values (trial.Report or tunesmith:report) to replay", e.Message);
    }

    [Fact]
    public void Once_every_row_was_started_no_trial_starts_and_the_run_ends_when_nothing_runs()
    {
        var table = StoredStudyBenchmark.Build("study:s", "acc", Direction.Maximize,
        [
            Trial(0, TrialState.Complete, 0.1, "a", [(1, 0.5), (2, 0.7)], 2),
            Trial(1, TrialState.Complete, 0.9, "c", [(1, 0.4), (2, 0.9)], 6),
            Trial(2, TrialState.Complete, 0.5, "b", [(1, 0.6)], 1),
        ]);
        var options = new SimulationOptions { Workers = 2, TimeBudget = TimeSpan.FromHours(1), EndWhenEveryRowStarted = true };
        var run = new LearningCurveSimulator(table, new RandomSampler(3), null, options).Run();
        Assert.Equal(3, run.TrialsStarted);
        Assert.Equal(3, run.TrialsCompleted);
        Assert.Equal(0.9, run.Best);
        Assert.Equal(5, run.EpochsRun);
        Assert.True(run.ElapsedSeconds <= 7, $"ended at {run.ElapsedSeconds} s"); // not at the 1-hour budget
        // Without the option the table's rows are replayed again until the budget (the other tables' rule).
        var repeating = new LearningCurveSimulator(table, new RandomSampler(3), null, options with { EndWhenEveryRowStarted = false }).Run();
        Assert.True(repeating.TrialsStarted > 100);
        Assert.Equal(3600, repeating.ElapsedSeconds);
    }

    [Fact]
    public void Promotion_asha_resumes_paused_trials_on_idle_workers_after_every_row_was_started()
    {
        // 9 rows × 9 reports; row i tops out at (i + 1) / 10, each report 1 s.
        var trials = Enumerable.Range(0, 9).Select(i => Trial(i, TrialState.Complete, i / 8.0, "a",
            Enumerable.Range(1, 9).Select(k => ((long)k, (i + 1) / 10.0 * (1 - Math.Pow(0.5, k)))).ToArray(), 9)).ToArray();
        var table = StoredStudyBenchmark.Build("study:s", "acc", Direction.Maximize, trials);
        var asha = new Schedulers.Asha.AshaScheduler(new Schedulers.Asha.AshaOptions { Resource = "epoch", MinResource = 1, MaxResource = 9, Mode = Schedulers.Asha.AshaMode.Promotion });
        var options = new SimulationOptions { Workers = 3, TimeBudget = TimeSpan.FromHours(1), EndWhenEveryRowStarted = true };
        var simulator = new LearningCurveSimulator(table, new RandomSampler(1), asha, options);
        var run = simulator.Run();
        Assert.Equal(9, run.TrialsStarted);
        // Trials paused at rung 1 were promoted and resumed after the last row started, one of them to the last report.
        Assert.Contains(simulator.History.Trials, t => t.Intermediate.Count == 9);
        Assert.True(run.EpochsRun > 9, $"{run.EpochsRun} epochs");
        Assert.True(run.ElapsedSeconds < 3600, $"ended at {run.ElapsedSeconds} s");
    }
}
