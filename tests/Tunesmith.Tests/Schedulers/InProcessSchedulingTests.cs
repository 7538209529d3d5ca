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
        try { await PromoteAsync(storage switch { "memory" => "memory:", "sqlite" => $"sqlite:///{directory.FullName}/s.db", _ => schema!.Url }, Path.Combine(directory.FullName, "run")); }
        finally { directory.Delete(recursive: true); }
    }

    private static async Task PromoteAsync(string storage, string runDirectory)
    {
        await using var study = await Study.CreateAsync("asha-promote", new StudyOptions
        {
            Storage = storage, Direction = Direction.Maximize, Sampler = new RandomSampler(seed: 5),
            Scheduler = new AshaScheduler(new AshaOptions { MinResource = 1, MaxResource = 9, Mode = AshaMode.Promotion }),
            RunDirectory = runDirectory,
        });
        var calls = new ConcurrentQueue<(int Number, long? ResumeStep)>();
        var reports = new ConcurrentDictionary<(int, long), int>();
        var wrongCheckpoints = new ConcurrentQueue<string>();
        await study.OptimizeAsync((trial, _) =>
        {
            calls.Enqueue((trial.Number, trial.ResumeStep));
            var x = trial.SuggestFloat("x", 0, 1);
            var first = 1L;
            if (trial.ResumeStep is { } resumeStep)
            {
                // The state it saved at its pause, in its own checkpoint.
                var saved = trial.Checkpoint is { } c ? File.ReadAllText(Path.Combine(c.Directory, "state")) : "none";
                if (saved != $"{trial.Number} {resumeStep}" || trial.Checkpoint!.Step != resumeStep) wrongCheckpoints.Enqueue($"trial {trial.Number}: {saved} at {resumeStep}");
                first = trial.Checkpoint!.Step + 1;
            }
            for (var step = first; step <= 9; step++)
            {
                reports.AddOrUpdate((trial.Number, step), 1, (_, n) => n + 1);
                trial.Report(step, x * step, directory => File.WriteAllText(Path.Combine(directory, "state"), $"{trial.Number} {step}"));
            }
            return Task.FromResult(x * 9);
        }, new OptimizeOptions { Trials = 12, Parallelism = 2 });
        Assert.Empty(wrongCheckpoints);

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

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Promotion_based_asha_with_a_budget_below_eta_to_the_k_still_trains_its_best_trial_to_the_maximum(int parallelism)
    {
        // min 1, max 27, η 3: rungs 1, 3 and 9. Twelve trials give rung 1 four promotions and rung 3 one; rung 9 then holds
        // one trial, whose quota ⌊1/3⌋ is 0, so without the end-game promotion every trial stays paused and none is best.
        // And the best trial (the largest x) may reach rung 3 after a worse one took its only promotion.
        await using var study = await Study.CreateAsync("asha-finish", new StudyOptions
        {
            Direction = Direction.Maximize, Sampler = new RandomSampler(seed: 8),
            Scheduler = new AshaScheduler(new AshaOptions { MinResource = 1, MaxResource = 27, Mode = AshaMode.Promotion }),
            RunDirectory = Directory.CreateTempSubdirectory("tunesmith-finish-").FullName,
        });
        await study.OptimizeAsync((trial, _) =>
        {
            var x = trial.SuggestFloat("x", 0, 1);
            var first = trial.ResumeStep is { } resumed ? resumed + 1 : 1;
            for (var step = first; step <= 27; step++) trial.Report(step, x * step, directory => File.WriteAllText(Path.Combine(directory, "step"), $"{step}"));
            return Task.FromResult(x * 27);
        }, new OptimizeOptions { Trials = 12, Parallelism = parallelism });

        var trials = await study.GetTrialsAsync();
        Assert.Equal(12, trials.Count);
        var bestX = trials.MaxBy(t => Convert.ToDouble(t.Params["x"]))!;
        Assert.True(bestX.State == TrialState.Complete, string.Join("; ", trials.Select(t => $"{t.Number} {t.State} x={Convert.ToDouble(t.Params["x"]):F3} last={t.LastIntermediate?.Step}")));
        Assert.Equal(Enumerable.Range(1, 27).Select(i => (long)i), bestX.Intermediate.Keys.Order());
        Assert.Equal(bestX.Number, (await study.GetBestTrialAsync())!.Number);
        // Only rung winners are finished; the rest stay paused, at most one past rung 3 for each trial finished.
        Assert.InRange(trials.Count(t => t.State == TrialState.Complete), 1, 3);
        Assert.Equal(12, trials.Count(t => t.State is TrialState.Complete or TrialState.Paused));
    }

    [Fact]
    public async Task Promotion_based_asha_ends_when_a_resumed_objective_starts_over_instead_of_loading_its_checkpoint()
    {
        // The objective ignores ResumeStep and Checkpoint: every call trains from step 1. Before, a resumed trial's report
        // at step 1 was judged at rung 1 again, paused there, resumed by the study's finish and so on for ever (the
        // walkthrough counted 596,075 objective calls in 20 s). Its reports up to its resume step are not judged again.
        await using var study = await Study.CreateAsync("asha-restart", new StudyOptions
        {
            Direction = Direction.Maximize, Sampler = new RandomSampler(seed: 8),
            Scheduler = new AshaScheduler(new AshaOptions { MinResource = 1, MaxResource = 27, Mode = AshaMode.Promotion }),
        });
        var calls = 0;
        using var runaway = new CancellationTokenSource();
        await study.OptimizeAsync((trial, _) =>
        {
            if (Interlocked.Increment(ref calls) > 200) runaway.Cancel();
            var x = trial.SuggestFloat("x", 0, 1);
            for (var step = 1; step <= 27; step++) trial.Report(step, x * step);
            return Task.FromResult(x * 27);
        }, new OptimizeOptions { Trials = 12 }, runaway.Token);

        Assert.True(calls <= 200, $"{calls} objective calls for 12 trials");
        var trials = await study.GetTrialsAsync();
        var bestX = trials.MaxBy(t => Convert.ToDouble(t.Params["x"]))!;
        Assert.Equal(TrialState.Complete, bestX.State);
        Assert.Equal(bestX.Number, (await study.GetBestTrialAsync())!.Number);
    }

    [Fact]
    public async Task Pbt_fails_an_in_process_trial_that_saves_no_checkpoint_with_a_reason_rather_than_never_exploiting()
    {
        await using var study = await Study.CreateAsync("pbt-in-process", new StudyOptions
        {
            Scheduler = new PbtScheduler(new PbtOptions { PerturbationInterval = 2 }),
        });
        await study.OptimizeAsync((trial, _) =>
        {
            var x = trial.SuggestFloat("x", 0, 1);
            for (var step = 1; step <= 4; step++) trial.Report(step, x);
            return Task.FromResult(x);
        }, new OptimizeOptions { Trials = 1 });
        var trial = Assert.Single(await study.GetTrialsAsync());
        Assert.Equal(TrialState.Failed, trial.State);
        Assert.Contains("reached step 2 (a perturbation step) without saving one", trial.FailReason);
        Assert.Contains("trial.Report(step, value, checkpoint:", trial.FailReason);
        Assert.Equal(new[] { 1L }, trial.Intermediate.Keys); // it failed before step 2 was judged
    }

    [Fact]
    public async Task An_exploit_from_a_trial_that_never_saved_a_checkpoint_is_an_error_not_dropped()
    {
        await using var study = await Study.CreateAsync("exploit-bare", new StudyOptions { Scheduler = new AlwaysExploitTrialZero() });
        await study.OptimizeAsync((trial, _) =>
        {
            trial.Report(1, trial.SuggestFloat("x", 0, 1));
            return Task.FromResult(1.0);
        }, new OptimizeOptions { Trials = 2 });
        var trials = await study.GetTrialsAsync();
        Assert.Equal(TrialState.Complete, trials[0].State);
        Assert.Equal(TrialState.Failed, trials[1].State);
        Assert.Contains("but trial 0 has saved no checkpoint", trials[1].FailReason);
    }

    /// <summary>Asks every trial but the first to continue from trial 0's checkpoint of step 1.</summary>
    private sealed class AlwaysExploitTrialZero : Tunesmith.Schedulers.IScheduler
    {
        public string Name => "always-exploit";

        public Tunesmith.Schedulers.SchedulerDecision Decide(StudyHistory history, FrozenTrial trial, long step, double value) =>
            trial.Number == 0 ? Tunesmith.Schedulers.SchedulerDecision.Continue
            : new Tunesmith.Schedulers.SchedulerDecision.ExploitDecision(0, 1, new Dictionary<string, object?> { ["x"] = 0.5 });
    }

    [SkippableTheory]
    [InlineData("memory")]
    [InlineData("sqlite")]
    [InlineData("postgresql")]
    public async Task Pbt_continues_in_process_trials_from_the_source_checkpoint_with_the_params_it_was_trained_with_perturbed(string storage)
    {
        var directory = Directory.CreateTempSubdirectory("tunesmith-pbt-");
        await using var schema = storage == "postgresql" ? PostgresTestServer.NewSchema() : null;
        try
        {
            var url = storage switch { "memory" => "memory:", "sqlite" => $"sqlite:///{directory.FullName}/s.db", _ => schema!.Url };
            var run = await InProcessPbt.RunAsync(url, storage == "memory" ? null : Path.Combine(directory.FullName, "run"),
                seed: 7, population: 4, interval: 2, trials: 6, parallelism: 3, steps: 10);
            Assert.Empty(run.Violations);
            Assert.True(run.Restarts > 0, "no trial exploited another");
            var exploited = run.Trials.Where(t => t.SystemAttributes.ContainsKey(SystemAttributeKeys.RestoredFrom)).ToList();
            Assert.NotEmpty(exploited);
            Assert.All(run.Trials, t => Assert.Equal(TrialState.Complete, t.State));
            // An exploited trial's stored params are the ones it continued with, and its record names the source and step.
            Assert.All(exploited, t => Assert.Equal(Convert.ToInt64(t.SystemAttributes[SystemAttributeKeys.ResumeStep]),
                Convert.ToInt64(Tunesmith.Spaces.ParamValues.FromJsonObject((string)t.SystemAttributes[SystemAttributeKeys.RestoredFrom]!)["step"])));
            if (storage == "memory") Assert.False(Directory.Exists(run.RunDirectory)); // a memory study's temporary run directory is removed
            else Assert.True(Directory.Exists(Path.Combine(run.RunDirectory, "trials", "0")));
        }
        finally { directory.Delete(recursive: true); }
    }
}

/// <summary>
/// An in-process PBT study whose objective "trains" a score with a parameter q, saves (writer, step, q, score) in each
/// checkpoint, and, whenever it is called to continue from a checkpoint, checks where it came from: after an exploit the
/// weights must be the source trial's, of the step it resumes after, trained with exactly the q the trial now runs with
/// divided by the one perturbation factor (2).
/// </summary>
internal static class InProcessPbt
{
    public sealed record Run(IReadOnlyList<FrozenTrial> Trials, IReadOnlyList<string> Violations, int Restarts, string RunDirectory);

    public static readonly Tunesmith.Spaces.FloatDistribution QRange = new(1e-3, 1e3, Log: true);

    public static async Task<Run> RunAsync(string storage, string? runDirectory, int seed, int population, int interval, int trials, int parallelism, int steps)
    {
        var violations = new ConcurrentQueue<string>();
        var restarts = 0;
        string? usedRunDirectory = null;
        await using (var study = await Study.CreateAsync($"pbt-{seed}", new StudyOptions
        {
            Storage = storage, Direction = Direction.Maximize, Sampler = new RandomSampler(seed),
            Scheduler = new PbtScheduler(new PbtOptions
            {
                PopulationSize = population, PerturbationInterval = interval, QuantileFraction = 0.5,
                ResampleProbability = 0, PerturbationFactors = [2.0], Seed = seed,
            }),
            RunDirectory = runDirectory,
        }))
        {
            await study.OptimizeAsync((trial, _) =>
            {
                var q = (double)trial.Suggest("q", QRange)!;
                var score = 0.0;
                var first = 1L;
                if (trial.Checkpoint is { } checkpoint)
                {
                    usedRunDirectory ??= Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(checkpoint.Directory)));
                    var saved = File.ReadAllText(Path.Combine(checkpoint.Directory, "weights")).Split(' ');
                    var (writer, step, trainedQ) = (int.Parse(saved[0]), long.Parse(saved[1]), double.Parse(saved[2], System.Globalization.CultureInfo.InvariantCulture));
                    score = double.Parse(saved[3], System.Globalization.CultureInfo.InvariantCulture);
                    if (step != checkpoint.Step || writer != checkpoint.TrialNumber) violations.Enqueue($"trial {trial.Number}: checkpoint says {writer}@{step}, file {saved[0]}@{saved[1]}");
                    if (trial.RestoredFrom is { } source)
                    {
                        Interlocked.Increment(ref restarts);
                        if (writer != source) violations.Enqueue($"trial {trial.Number}: restored from {source} but the weights are trial {writer}'s");
                        if (step != trial.ResumeStep) violations.Enqueue($"trial {trial.Number}: resumes after {trial.ResumeStep} but the weights are of step {step}");
                        if (Math.Abs(Math.Min(trainedQ * 2, QRange.High) - q) > 1e-9 * q) violations.Enqueue($"trial {trial.Number}: continues with q={q}, the weights were trained with q={trainedQ}");
                    }
                    else if (writer != trial.Number || Math.Abs(trainedQ - q) > 1e-12 * q) violations.Enqueue($"trial {trial.Number}: its own checkpoint holds trial {writer}'s weights (q {trainedQ} vs {q})");
                    first = step + 1;
                }
                for (var step = first; step <= steps; step++)
                {
                    score += -Math.Pow(Math.Log10(q), 2) + 0.1 * step;
                    var (s, sc) = (step, score);
                    trial.Report(step, score, directory => File.WriteAllText(Path.Combine(directory, "weights"),
                        string.Join(' ', trial.Number, s, q.ToString("R", System.Globalization.CultureInfo.InvariantCulture), sc.ToString("R", System.Globalization.CultureInfo.InvariantCulture))));
                }
                return Task.FromResult(score);
            }, new OptimizeOptions { Trials = trials, Parallelism = parallelism });
            var all = await study.GetTrialsAsync();
            usedRunDirectory ??= runDirectory ?? "";
            return new Run(all, violations.ToArray(), restarts, usedRunDirectory);
        }
    }
}
