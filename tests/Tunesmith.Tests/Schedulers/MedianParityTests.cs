using System.Text.Json;
using Tunesmith.Execution;
using Tunesmith.Samplers;
using Tunesmith.Schedulers;
using Tunesmith.Schedulers.MedianStopping;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Tests.Schedulers;

/// <summary>
/// Median (and percentile) stopping decides as Optuna 3.1's MedianPruner (PercentilePruner): the same curves, reported in the same order by one worker,
/// are stopped at the same steps. Optuna's decisions are a fixture written by <c>Tunesmith.Bench pruner-parity --fixture</c>
/// (bench/Tunesmith.Bench/optuna_pruners.py), so the suite needs no Python. The full comparison, with the percentile
/// variant, ASHA and Hyperband and real curves, is docs/benchmarks/pruners/pruner-parity.md.
/// </summary>
public sealed class MedianParityTests
{
    [Theory]
    [InlineData("fixture-dense median(5,2,1)")]   // a report at every step
    [InlineData("fixture-sparse median(3,0,2)")]  // a report every 3 steps, judged every 2: the first report past each judging step
    [InlineData("fixture-lcbench percentile(25,3,1,1)")]  // LCBench val_accuracy, maximized: the mirrored percentile, many ties
    public async Task Median_stopping_stops_the_trials_optunas_median_pruner_prunes_at_the_same_steps(string name)
    {
        using var fixture = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "Schedulers", "Fixtures", "optuna-median-parity.json")));
        var @case = fixture.RootElement.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);
        var pruner = @case.GetProperty("optuna_pruner");
        var curves = @case.GetProperty("curves").EnumerateArray()
            .Select(c => c.EnumerateArray().Select(p => (Step: p[0].GetInt64(), Value: p[1].GetDouble())).ToList()).ToList();
        var expected = @case.GetProperty("optuna_pruned_at").EnumerateArray()
            .Select(s => s.ValueKind == JsonValueKind.Null ? (long?)null : s.GetInt64()).ToList();

        await using var study = await Study.CreateAsync("parity", new StudyOptions
        {
            Direction = @case.GetProperty("direction").GetString() == "maximize" ? Direction.Maximize : Direction.Minimize,
            Sampler = new RandomSampler(seed: 0),
            Scheduler = new MedianStoppingScheduler(new MedianStoppingOptions
            {
                MinimumTrials = pruner.GetProperty("n_startup_trials").GetInt32(),
                WarmupSteps = pruner.GetProperty("n_warmup_steps").GetInt64(),
                EvaluationInterval = pruner.GetProperty("interval_steps").GetInt64(),
                Percentile = pruner.GetProperty("kind").GetString() == "median" ? 50 : pruner.GetProperty("percentile").GetDouble(),
            }),
        });
        await study.OptimizeAsync((trial, _) =>
        {
            var curve = curves[trial.Number];
            foreach (var (step, value) in curve) trial.Report(step, value);
            return Task.FromResult(curve[^1].Value);
        }, new OptimizeOptions { Trials = curves.Count });

        var actual = (await study.GetTrialsAsync()).OrderBy(t => t.Number)
            .Select(t => t.State == TrialState.Pruned ? t.LastIntermediate!.Value.Step : (long?)null).ToList();
        var differences = Enumerable.Range(0, curves.Count).Where(i => expected[i] != actual[i])
            .Select(i => $"trial {i}: Optuna {expected[i]?.ToString() ?? "complete"}, Tunesmith {actual[i]?.ToString() ?? "complete"}").ToList();
        Assert.True(differences.Count == 0, $"{curves.Count - differences.Count} of {curves.Count} decided the same; {string.Join("; ", differences.Take(5))}");
        Assert.Contains(expected, s => s is not null); // not vacuous: Optuna pruned some
        Assert.Contains(expected, s => s is null);
    }

    [Fact]
    public void A_sparse_report_is_judged_when_it_is_the_first_past_a_judging_step()
    {
        // Completed trials reported at steps 1, 4, 7, 10 (every 3); judging steps are 5, 8, 11 (warm-up 5, interval 3).
        var completed = SchedulerTestHistory.History(Direction.Minimize, Enumerable.Range(0, 5)
            .Select(i => SchedulerTestHistory.Trial(i, TrialState.Complete, new Dictionary<long, double> { [1] = 1, [4] = 1, [7] = 1.0 + i, [10] = 1.0 + i })).ToArray());
        var median = new MedianStoppingScheduler(new MedianStoppingOptions { WarmupSteps = 5, EvaluationInterval = 3 });
        var bad = SchedulerTestHistory.Trial(5, TrialState.Running, new Dictionary<long, double> { [1] = 9, [4] = 9, [7] = 9, [10] = 9 });
        Assert.Equal(SchedulerDecision.Continue, median.Decide(completed, bad, 4, 9));  // before the warm-up
        Assert.Equal(SchedulerDecision.Stop, median.Decide(completed, bad, 7, 9));      // first report past step 5 (before: never judged)
        Assert.Equal(SchedulerDecision.Stop, median.Decide(completed, bad, 10, 9));     // first report past step 8
        var dense = SchedulerTestHistory.Trial(5, TrialState.Running, new Dictionary<long, double> { [5] = 9, [6] = 9, [7] = 9 });
        Assert.Equal(SchedulerDecision.Continue, median.Decide(completed, dense, 7, 9)); // step 5 was already judged in this interval
    }
}
