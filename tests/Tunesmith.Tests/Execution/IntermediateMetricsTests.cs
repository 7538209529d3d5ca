using Tunesmith.Execution;
using Tunesmith.Samplers;
using Tunesmith.Tests.Storage;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Tests.Execution;

/// <summary><c>trial.Report(step, value, metrics)</c>: the other metrics of a report, kept by step.</summary>
public sealed class IntermediateMetricsTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Report_with_metrics_keeps_every_other_finite_metric_by_step_and_gives_the_scheduler_only_the_value()
    {
        var seen = new List<FrozenTrial>();
        var scheduler = new RecordingScheduler(seen);
        await using (var study = await Study.CreateAsync("report-metrics", new StudyOptions
        {
            Direction = Direction.Maximize, Metric = "val_f1", Sampler = new RandomSampler(seed: 1), Scheduler = scheduler,
            Storage = "sqlite:///" + _dir.File("s.db"),
        }))
        {
            study.Optimize(trial =>
            {
                var lr = trial.SuggestFloat("lr", 1e-3, 1e-1, log: true);
                for (var epoch = 1; epoch <= 3; epoch++)
                    trial.Report(epoch, 0.5 + epoch / 10.0, new Dictionary<string, double>
                    {
                        ["loss"] = 1.0 / epoch,
                        ["accuracy"] = epoch == 2 ? double.NaN : 0.6 + epoch / 10.0, // not finite: left out
                        ["val_f1"] = 99, // the study metric is the value itself
                    });
                return 0.8;
            }, trials: 1);
        }

        await using var again = await Study.LoadAsync("report-metrics", new StudyOptions { Storage = "sqlite:///" + _dir.File("s.db") });
        var t = Assert.Single(await again.GetTrialsAsync());
        Assert.Equal(new Dictionary<long, double> { [1] = 0.6, [2] = 0.7, [3] = 0.8 }, t.Intermediate.ToDictionary(kv => kv.Key, kv => Math.Round(kv.Value, 12)));
        Assert.Equal(["accuracy", "loss"], t.IntermediateMetrics.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(new Dictionary<long, double> { [1] = 1.0, [2] = 0.5, [3] = 1.0 / 3 }, t.IntermediateMetrics["loss"]);
        Assert.Equal([1L, 3L], t.IntermediateMetrics["accuracy"].Keys.Order());
        // The scheduler judged the value at each step, and saw the trial with the metrics reported so far.
        Assert.Equal(3, seen.Count);
        Assert.Equal([1L, 2L], seen[1].IntermediateMetrics["loss"].Keys.Order());
    }

    [Fact]
    public async Task Report_with_metrics_refuses_an_empty_metric_name_and_stores_nothing_of_that_report()
    {
        await using var study = await Study.CreateAsync("report-metrics-bad", new StudyOptions { Sampler = new RandomSampler(seed: 1) });
        var trial = await study.AskAsync();
        var e = Assert.Throws<ArgumentException>(() => trial.Report(1, 0.5, new Dictionary<string, double> { [" "] = 1 }));
        Assert.Contains("must not be empty", e.Message);
        await trial.FlushAsync();
        var stored = Assert.Single(await study.GetTrialsAsync());
        Assert.Empty(stored.Intermediate);
        Assert.Empty(stored.IntermediateMetrics);
    }

    private sealed class RecordingScheduler(List<FrozenTrial> seen) : Tunesmith.Schedulers.IScheduler
    {
        public string Name => "recording";

        public Tunesmith.Schedulers.SchedulerDecision Decide(StudyHistory history, FrozenTrial trial, long reportedStep, double value)
        {
            seen.Add(trial);
            return Tunesmith.Schedulers.SchedulerDecision.Continue;
        }
    }
}
