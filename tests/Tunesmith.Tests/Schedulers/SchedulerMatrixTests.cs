using System.Collections.Concurrent;
using System.Text.Json;
using Tunesmith.Execution;
using Tunesmith.Execution.Commands;
using Tunesmith.Samplers;
using Tunesmith.Samplers.Bohb;
using Tunesmith.Schedulers;
using Tunesmith.Schedulers.Asha;
using Tunesmith.Schedulers.Hyperband;
using Tunesmith.Schedulers.MedianStopping;
using Tunesmith.Schedulers.Pbt;
using Tunesmith.Spaces;
using Tunesmith.Tests.Execution;
using Tunesmith.Tests.Storage;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Tests.Schedulers;

/// <summary>
/// "Every scheduler works for in-process and command trials on SQLite and PostgreSQL": one tiny study per cell of
/// scheduler (median, percentile, ASHA stop, ASHA promotion, Hyperband, PBT, BOHB on ASHA) × trial kind (an in-process
/// objective; a real Python program) × storage (a SQLite file; a PostgreSQL schema). Each checks the scheduler's own
/// effect on that cell — trials stopped with their last value, paused and promoted from their own checkpoint, continued
/// from another trial's checkpoint with its params perturbed — and that nothing failed. The deeper tests of each behaviour
/// are elsewhere (InProcessSchedulingTests, CommandSchedulingTests, DistributedSchedulingTests, PbtPropertyTests).
/// </summary>
public sealed class SchedulerMatrixTests : IDisposable
{
    private const int Steps = 9;
    // Enqueued in this order (best first), so the later, worse trials are the ones a scheduler stops.
    private static readonly double[] Qs = [0.9, 0.8, 0.7, 0.6, 0.3, 0.2, 0.1, 0.05];
    private readonly CommandTestKit _kit = new();

    public void Dispose() => _kit.Dispose();

    public static TheoryData<string, string, string> Cells()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var scheduler in new[] { "median", "percentile", "asha-stop", "asha-promotion", "hyperband", "pbt", "bohb", "hypertune", "mobster" })
            foreach (var kind in new[] { "in-process", "command" })
                foreach (var storage in new[] { "sqlite", "postgresql" })
                    data.Add(scheduler, kind, storage);
        return data;
    }

    private static IScheduler Scheduler(string name) => name switch
    {
        "median" => new MedianStoppingScheduler(new MedianStoppingOptions { MinimumTrials = 2, WarmupSteps = 1 }),
        "percentile" => new MedianStoppingScheduler(new MedianStoppingOptions { MinimumTrials = 2, WarmupSteps = 1, Percentile = 25 }),
        "asha-stop" or "bohb" or "hypertune" or "mobster" => new AshaScheduler(1, Steps),
        "asha-promotion" => new AshaScheduler(new AshaOptions { MinResource = 1, MaxResource = Steps, Mode = AshaMode.Promotion }),
        "hyperband" => new HyperbandScheduler(new HyperbandOptions { MinResource = 1, MaxResource = Steps, Seed = 1 }),
        "pbt" => new PbtScheduler(new PbtOptions { PopulationSize = 4, PerturbationInterval = 2, QuantileFraction = 0.5, ResampleProbability = 0, PerturbationFactors = [2.0] }),
        _ => throw new ArgumentException(name),
    };

    private static bool Checkpoints(string scheduler) => scheduler is "asha-promotion" or "pbt";

    [SkippableTheory]
    [MemberData(nameof(Cells))]
    public async Task Every_scheduler_runs_its_study_on_both_trial_kinds_and_both_storages(string scheduler, string kind, string storage)
    {
        await using var schema = storage == "postgresql" ? PostgresTestServer.NewSchema() : null;
        var url = schema?.Url ?? $"sqlite:///{Path.Combine(_kit.Root, "study.db")}";
        var space = new SearchSpace().Float("q", 0.01, scheduler == "pbt" ? 100 : 1);
        await using var study = await Study.CreateAsync($"{scheduler}-{kind}", new StudyOptions
        {
            Storage = url, Direction = Direction.Maximize, Metric = "val_f1", Scheduler = Scheduler(scheduler),
            Sampler = scheduler == "mobster"
                ? new Tunesmith.Samplers.Mobster.MobsterSampler(new Tunesmith.Samplers.Mobster.MobsterOptions { MinResource = 1, MaxResource = Steps, Seed = 4, CandidateCount = 64 })
                : scheduler is "bohb" or "hypertune"
                ? new BohbSampler(new BohbOptions { MinResource = 1, MaxResource = Steps, Seed = 4, LevelChoice = scheduler == "hypertune" ? BohbLevelChoice.RankWeighted : BohbLevelChoice.Largest })
                : new RandomSampler(4),
            RunDirectory = Path.Combine(_kit.Root, "run"),
        });
        if (scheduler is not ("bohb" or "hypertune" or "mobster")) // BOHB and MOBSTER propose their own trials
            foreach (var q in Qs) await study.EnqueueAsync(new Dictionary<string, object?> { ["q"] = q });

        var wrong = new ConcurrentQueue<string>();
        if (kind == "command")
        {
            var script = _kit.Script("train.py", Trainer);
            // A paused program must still be running when the pause reaches it (a step takes a moment), or it finishes first.
            // Promotion: a step lasts 1 s, so that a pause lands before the program's next report; a trial that runs on past
            // its rung counts as gone on and takes a promotion, which at 0.2 s a loaded CI run once gave to a worse trial.
            // PBT: trials copy only trials still training (a finished one is out of the population), so the two trials that
            // run at once must train side by side for a moment, not finish within milliseconds of each other.
            var step = scheduler switch { "asha-promotion" => "1", "pbt" => "0.15", _ => "0" };
            var options = _kit.Options(script, space) with { Environment = new Dictionary<string, string> { ["STEP_SECONDS"] = step } };
            await new CommandStudyRunner(study, options, new CommandStudyOptions { Trials = Qs.Length, Parallel = 2 }).RunAsync();
        }
        else
            await study.OptimizeAsync((trial, _) => Task.FromResult(InProcessTrain(trial, space, Checkpoints(scheduler), wrong)),
                new OptimizeOptions { Trials = Qs.Length, Parallelism = 2 });

        var trials = await study.GetTrialsAsync();
        var summary = string.Join("\n", trials.Select(t => $"{t.Number} {t.State} {ParamValues.Format(t.Params.GetValueOrDefault("q"))} {t.FailReason}"));
        Assert.Empty(wrong);
        Assert.Equal(Qs.Length, trials.Count);
        Assert.DoesNotContain(trials, t => t.State is TrialState.Failed or TrialState.Running or TrialState.Waiting);
        foreach (var t in trials.Where(t => t.State == TrialState.Pruned)) Assert.Equal(t.LastIntermediate!.Value.Value, t.Value); // stopped with its last value
        switch (scheduler)
        {
            case "median" or "percentile" or "asha-stop" or "hyperband" or "bohb" or "hypertune" or "mobster":
                Assert.True(trials.Any(t => t.State == TrialState.Pruned), summary);
                Assert.True(trials.Any(t => t.State == TrialState.Complete), summary);
                if (scheduler is not ("bohb" or "hypertune" or "mobster")) // the best trial is never the one stopped
                    Assert.Equal(TrialState.Complete, trials.Single(t => (double)t.Params["q"]! == Qs[0]).State);
                break;
            case "asha-promotion":
                Assert.True(trials.Any(t => t.State == TrialState.Paused), summary);
                var promoted = trials.Where(t => t.SystemAttributes.ContainsKey(SystemAttributeKeys.ResumeStep)).ToList();
                Assert.All(promoted, t => Assert.True(t.Intermediate.Keys.Max() >= 3, summary));
                // The best trial holds the best record at every rung, so the study's finish trains it to the end whatever
                // else was promoted (IScheduler.SuggestFinish).
                Assert.Equal(TrialState.Complete, trials.Single(t => (double)t.Params["q"]! == Qs[0]).State);
                // In process a pause lands at the report itself: with 8 trials the top two at rung 1 go on to rung 3. A
                // program may run past its rung before its pause reaches it, which counts as gone on and takes a place a
                // better trial would have had (a loaded CI run gave it to a worse trial twice), so commands are not held
                // to which trials went on.
                if (kind == "in-process")
                    Assert.All(trials.OrderByDescending(t => (double)t.Params["q"]!).Take(2), t => Assert.True(t.Intermediate.Keys.Max() >= 3, summary));
                Assert.All(trials.Where(t => t.State == TrialState.Complete), t => Assert.Equal(Steps, t.LastIntermediate!.Value.Step));
                break;
            case "pbt":
                var exploited = trials.Where(t => t.SystemAttributes.ContainsKey(SystemAttributeKeys.RestoredFrom)).ToList();
                Assert.True(exploited.Count > 0, summary);
                Assert.All(trials, t => Assert.Equal(TrialState.Complete, t.State));
                if (kind == "command")
                    foreach (var t in exploited)
                    {
                        var source = ParamValues.FromJsonObject((string)t.SystemAttributes[SystemAttributeKeys.RestoredFrom]!)["trial"];
                        var log = JsonDocument.Parse(File.ReadLines(Path.Combine(_kit.TrialDir(t.Number), "resumed.log")).Last()).RootElement;
                        Assert.Equal(Convert.ToInt32(source), log.GetProperty("checkpoint").GetProperty("owner").GetInt32());
                    }
                break;
        }
    }

    /// <summary>The in-process twin of <see cref="Trainer"/>: w = q·step, a checkpoint of (owner, step, w, q) at each report when asked.</summary>
    private static double InProcessTrain(Trial trial, SearchSpace space, bool checkpoints, ConcurrentQueue<string> wrong)
    {
        var q = (double)trial.Suggest(space)["q"]!;
        var (first, w) = (1L, 0.0);
        if (trial.Checkpoint is { } checkpoint)
        {
            var saved = File.ReadAllText(Path.Combine(checkpoint.Directory, "w")).Split(' ');
            var (owner, step, savedW, savedQ) = (int.Parse(saved[0]), long.Parse(saved[1]), double.Parse(saved[2], System.Globalization.CultureInfo.InvariantCulture), double.Parse(saved[3], System.Globalization.CultureInfo.InvariantCulture));
            var expectedOwner = trial.RestoredFrom ?? trial.Number;
            var continuedQ = trial.RestoredFrom is null ? savedQ : Math.Min(savedQ * 2, 100); // perturbed × 2 within the space
            if (owner != expectedOwner || step != checkpoint.Step || Math.Abs(continuedQ - q) > 1e-9 * Math.Max(1, q))
                wrong.Enqueue($"trial {trial.Number} (q {q}, restored from {trial.RestoredFrom}) got trial {owner}'s checkpoint of step {step} trained with q {savedQ}");
            (first, w) = (step + 1, savedW);
        }
        for (var step = first; step <= Steps; step++)
        {
            w += q;
            if (!checkpoints) trial.Report(step, w);
            else
            {
                var line = string.Join(' ', trial.Number, step, w.ToString("R", System.Globalization.CultureInfo.InvariantCulture), q.ToString("R", System.Globalization.CultureInfo.InvariantCulture));
                trial.Report(step, w, directory => File.WriteAllText(Path.Combine(directory, "w"), line));
            }
        }
        return w;
    }

    // Checkpoints before each report, resumes from its checkpoint (exit 5 when it is behind TUNESMITH_RESUME_STEP), ends
    // cleanly on SIGTERM; w = q·step.
    private const string Trainer = """
        import json, os, signal, sys, time
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        q = float(os.environ["TUNESMITH_PARAM_Q"])
        d = os.environ["TUNESMITH_TRIAL_DIR"]
        ckpt = os.path.join(d, "ckpt.json")
        start, w = 0, 0.0
        resume = os.environ.get("TUNESMITH_RESUME_STEP")
        if resume is not None:
            with open(ckpt) as f:
                saved = json.load(f)
            if saved["step"] < int(resume):
                print(f"checkpoint at step {saved['step']}, asked to resume after {resume}", file=sys.stderr)
                sys.exit(5)
            start, w = saved["step"], saved["w"]
            with open(os.path.join(d, "resumed.log"), "a") as f:
                f.write(json.dumps({"resume": int(resume), "checkpoint": saved, "q": q}) + "\n")
        for step in range(start + 1, 10):
            w += q
            tmp = ckpt + ".tmp"
            with open(tmp, "w") as f:
                json.dump({"step": step, "w": w, "q": q, "owner": int(os.environ["TUNESMITH_TRIAL_NUMBER"])}, f)
            os.replace(tmp, ckpt)
            print("tunesmith:report " + json.dumps({"step": step, "val_f1": w}), flush=True)
            time.sleep(float(os.environ.get("STEP_SECONDS", "0")))
        print("tunesmith:result " + json.dumps({"val_f1": w}))
        """;
}
