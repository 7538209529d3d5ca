using System.Collections.Concurrent;
using Tunesmith.Execution;
using Tunesmith.Samplers;
using Tunesmith.Schedulers.Asha;
using Tunesmith.Schedulers.Pbt;
using Tunesmith.Trials;
using Tunesmith.Tests.Storage;
using Xunit;

namespace Tunesmith.Tests.Schedulers;

/// <summary>Schedulers acting on in-process trials through the study's one worker loop.</summary>
public sealed class InProcessSchedulingTests
{
    [Fact]
    public async Task Stop_based_asha_prunes_in_process_trials_and_keeps_their_last_value()
    {
        await using var study = await Study.CreateAsync("asha-stop", new StudyOptions
        {
            Direction = Direction.Maximize, Sampler = new RandomSampler(seed: 3), Scheduler = new AshaScheduler(1, 9),
        });
        await study.OptimizeAsync((trial, _) =>
        {
            var x = trial.SuggestFloat("x", 0, 1);
            for (var step = 1; step <= 9; step++) trial.Report(step, x * step);
            return Task.FromResult(x * 9);
        }, new OptimizeOptions { Trials = 20 });

        var trials = await study.GetTrialsAsync();
        var pruned = trials.Where(t => t.State == TrialState.Pruned).ToList();
        Assert.NotEmpty(pruned);
        foreach (var t in pruned)
        {
            var last = t.LastIntermediate!.Value;
            Assert.Contains(last.Step, new long[] { 1, 3 }); // stopped at a rung
            Assert.Equal(last.Value, t.Value);
        }
        Assert.All(trials.Where(t => t.State == TrialState.Complete), t => Assert.Equal(9, t.LastIntermediate!.Value.Step));
    }

    [SkippableTheory]
    [InlineData("memory")]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task Promotion_based_asha_pauses_in_process_trials_and_resumes_them_after_their_last_step(string storage)
    {
        var directory = Directory.CreateTempSubdirectory("tunesmith-promote-");
        await using var schema = storage == "postgresql" ? PostgresTestServer.NewSchema() : null;
        try { await PromoteAsync(storage switch { "memory" => "memory:", "sqlite" => $"sqlite:///{directory.FullName}/s.db", _ => schema!.Url }); }
        finally { directory.Delete(recursive: true); }
    }

    private static async Task PromoteAsync(string storage)
    {
        await using var study = await Study.CreateAsync("asha-promote", new StudyOptions
        {
            Storage = storage, Direction = Direction.Maximize, Sampler = new RandomSampler(seed: 5),
            Scheduler = new AshaScheduler(new AshaOptions { MinResource = 1, MaxResource = 9, Mode = AshaMode.Promotion }),
        });
        var calls = new ConcurrentQueue<(int Number, long? ResumeStep)>();
        var reports = new ConcurrentDictionary<(int, long), int>();
        await study.OptimizeAsync((trial, _) =>
        {
            calls.Enqueue((trial.Number, trial.ResumeStep));
            var x = trial.SuggestFloat("x", 0, 1);
            for (var step = (trial.ResumeStep ?? 0) + 1; step <= 9; step++)
            {
                reports.AddOrUpdate((trial.Number, step), 1, (_, n) => n + 1);
                trial.Report(step, x * step);
            }
            return Task.FromResult(x * 9);
        }, new OptimizeOptions { Trials = 12, Parallelism = 2 });

        var trials = await study.GetTrialsAsync();
        Assert.Equal(12, trials.Count); // resumes are not new trials
        Assert.All(reports, r => Assert.Equal(1, r.Value)); // no step is run twice
        var resumed = calls.Where(c => c.ResumeStep is not null).ToList();
        Assert.NotEmpty(resumed);
        Assert.All(resumed, c => Assert.Contains(c.ResumeStep!.Value, new long[] { 1, 3 }));
        // The trials that completed went through every rung to the end; the rest wait at a rung.
        var complete = trials.Where(t => t.State == TrialState.Complete).ToList();
        Assert.NotEmpty(complete);
        Assert.All(complete, t => Assert.Equal(Enumerable.Range(1, 9).Select(i => (long)i), t.Intermediate.Keys.Order()));
        Assert.All(trials.Where(t => t.State == TrialState.Paused), t => Assert.Equal(t.LastIntermediate!.Value.Step,
            Convert.ToInt64(t.SystemAttributes[SystemAttributeKeys.PausedStep])));
        Assert.DoesNotContain(trials, t => t.State is TrialState.Running or TrialState.Failed);
        // The best trial at the first rung was promoted past it (it may wait at a higher rung when the budget runs out).
        var best = trials.Where(t => t.Intermediate.ContainsKey(1)).MaxBy(t => t.Intermediate[1])!;
        Assert.True(best.LastIntermediate!.Value.Step > 1);
    }

    [Fact]
    public async Task Pbt_fails_an_in_process_trial_with_a_reason_rather_than_never_exploiting()
    {
        await using var study = await Study.CreateAsync("pbt-in-process", new StudyOptions { Scheduler = new PbtScheduler() });
        await study.OptimizeAsync((trial, _) =>
        {
            trial.Report(1, trial.SuggestFloat("x", 0, 1));
            return Task.FromResult(0.0);
        }, new OptimizeOptions { Trials = 1 });
        var trial = Assert.Single(await study.GetTrialsAsync());
        Assert.Equal(TrialState.Failed, trial.State);
        Assert.Contains("command trials", trial.FailReason);
    }
}
