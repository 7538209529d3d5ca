using System.Text.Json;
using Tunesmith.Backends.Processes;
using Tunesmith.Execution;
using Tunesmith.Execution.Commands;
using Tunesmith.Schedulers;
using Tunesmith.Schedulers.Asha;
using Tunesmith.Schedulers.Pbt;
using Tunesmith.Spaces;
using Tunesmith.Tests.Execution;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Tests.Schedulers;

/// <summary>Schedulers acting on command trials: real programs stopped, paused, resumed and restored from checkpoints.</summary>
public sealed class CommandSchedulingTests : IDisposable
{
    private readonly CommandTestKit _kit = new();

    public void Dispose() => _kit.Dispose();

    private static SearchSpace Q(double high = 1) => new SearchSpace().Float("q", 0, high);

    private static async Task<Study> StudyWithAsync(IScheduler scheduler, params double[] qs)
    {
        var study = await CommandTestKit.NewStudyAsync(scheduler: scheduler);
        foreach (var q in qs) await study.EnqueueAsync(new Dictionary<string, object?> { ["q"] = q });
        return study;
    }

    [Fact]
    public async Task A_command_trial_stopped_by_asha_is_pruned_with_its_last_value_and_its_whole_process_tree_is_gone()
    {
        // Each trial reports q at every step; the third (q = 0.1) is the worst at rung 1 and blocks with a child process.
        var script = _kit.Script("train.py", """
            import json, os, subprocess, sys, time
            q = float(os.environ["TUNESMITH_PARAM_Q"])
            d = os.environ["TUNESMITH_TRIAL_DIR"]
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
            with open(os.path.join(d, "pids"), "w") as f:
                f.write(f"{os.getpid()} {child.pid}")
            for step in range(1, 10):
                print("tunesmith:report " + json.dumps({"step": step, "val_f1": q}), flush=True)
                if q < 0.5:
                    time.sleep(3600)
            child.kill()
            print("tunesmith:result " + json.dumps({"val_f1": q}))
            """);
        await using var study = await StudyWithAsync(new AshaScheduler(1, 9), 0.8, 0.9, 0.1);
        var result = await new CommandStudyRunner(study, _kit.Options(script, Q()), new CommandStudyOptions { Trials = 3 }).RunAsync();

        Assert.Equal((2, 1), (result.Completed, result.Pruned));
        var pruned = (await study.GetTrialsAsync()).Single(t => t.State == TrialState.Pruned);
        Assert.Equal(2, pruned.Number);
        Assert.Equal(0.1, pruned.Value); // its last reported value
        Assert.Equal([1L], pruned.Intermediate.Keys);
        var pids = File.ReadAllText(Path.Combine(_kit.TrialDir(2), "pids")).Split(' ').Select(int.Parse).ToArray();
        Assert.All(pids, pid => Assert.False(ProcessTree.IsAlive(pid), $"process {pid} of the stopped trial is still alive"));
        using var outcome = JsonDocument.Parse(File.ReadAllText(Path.Combine(_kit.TrialDir(2), CommandObjective.ResultFile)));
        Assert.Equal("Pruned", outcome.RootElement.GetProperty("state").GetString());
    }

    // A program that checkpoints before each report, resumes from TUNESMITH_RESUME_STEP, and ends cleanly on SIGTERM.
    private const string CheckpointingTrainer = """
        import json, os, signal, sys, time
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        q = float(os.environ["TUNESMITH_PARAM_Q"])
        d = os.environ["TUNESMITH_TRIAL_DIR"]
        ckpt = os.path.join(d, "ckpt.json")
        start, w = 0, 0.0
        resume = os.environ.get("TUNESMITH_RESUME_STEP")
        barrier = os.environ.get("START_TOGETHER")
        if barrier and resume is None:
            # The first attempts wait for each other, so that they train side by side (PBT copies only running trials).
            shared, count = barrier.split(":")
            open(os.path.join(shared, "started-" + os.environ["TUNESMITH_TRIAL_NUMBER"]), "w").close()
            while len([n for n in os.listdir(shared) if n.startswith("started-")]) < int(count):
                time.sleep(0.01)
        if resume is not None:
            with open(ckpt) as f:
                saved = json.load(f)
            # The latest checkpoint: of the step Tunesmith names, or later when the program ran on before it ended.
            if saved["step"] < int(resume):
                print(f"checkpoint at step {saved['step']}, asked to resume after {resume}", file=sys.stderr)
                sys.exit(5)
            start, w = saved["step"], saved["w"]
            with open(os.path.join(d, "resumed.log"), "a") as f:
                f.write(json.dumps({"resume": int(resume), "restore_from": os.environ.get("TUNESMITH_RESTORE_FROM"),
                                    "checkpoint": saved, "q": q}) + "\n")
        for step in range(start + 1, 9):
            w += q
            tmp = ckpt + ".tmp"
            with open(tmp, "w") as f:
                json.dump({"step": step, "w": w, "q": q, "owner": int(os.environ["TUNESMITH_TRIAL_NUMBER"])}, f)
            os.replace(tmp, ckpt)
            print("tunesmith:report " + json.dumps({"step": step, "val_f1": w}), flush=True)
            time.sleep(float(os.environ.get("STEP_SECONDS", "0")))
        print("tunesmith:result " + json.dumps({"val_f1": w}))
        """;

    [Fact]
    public async Task A_paused_and_promoted_command_trial_resumes_from_its_checkpoint_in_the_same_trial_directory()
    {
        var script = _kit.Script("train.py", CheckpointingTrainer);
        // Rungs 1 and 3 (max 8): trial 2 (0.9) goes straight on; trial 4 (0.8) pauses at rung 1 and is promoted once trial 5
        // makes the rung's quota two.
        var asha = new AshaScheduler(new AshaOptions { MinResource = 1, MaxResource = 8, Mode = AshaMode.Promotion });
        await using var study = await StudyWithAsync(asha, 0.5, 0.6, 0.9, 0.7, 0.8, 0.4);
        // A step lasts 1 s: the premise is that each pause lands before the program's next report (a program that runs on
        // past its rung records later steps, and the rungs then differ from the comment's). At 0.3 s a loaded CI machine
        // once missed that margin and no trial was resumed.
        var options = _kit.Options(script, Q()) with { Environment = new Dictionary<string, string> { ["STEP_SECONDS"] = "1" } };
        var result = await new CommandStudyRunner(study, options, new CommandStudyOptions { Trials = 6 }).RunAsync();

        var trials = await study.GetTrialsAsync();
        Assert.True(result.Failed == 0, string.Join("\n", trials.Select(t => $"{t.Number} {t.State} {t.FailReason}")));
        Assert.Equal(6, trials.Count); // a resume is not a new trial
        Assert.Contains(trials, t => t.State == TrialState.Paused);
        var resumed = trials.Where(t => t.SystemAttributes.ContainsKey(SystemAttributeKeys.ResumeStep)).ToList();
        Assert.True(resumed.Count > 0, string.Join("\n", trials.Select(t => $"{t.Number} q={t.Params["q"]} {t.State} steps={string.Join(",", t.Intermediate.Keys)}")));
        foreach (var t in resumed)
        {
            var q = (double)t.Params["q"]!;
            var directory = _kit.TrialDir(t.Number);
            Assert.Equal(directory, t.SystemAttributes[LocalProcessBackend.TrialDirectoryAttribute]);
            var log = JsonDocument.Parse(File.ReadLines(Path.Combine(directory, "resumed.log")).Last()).RootElement;
            Assert.Equal(Convert.ToInt64(t.SystemAttributes[SystemAttributeKeys.ResumeStep]), log.GetProperty("resume").GetInt64());
            Assert.Equal(t.Number, log.GetProperty("checkpoint").GetProperty("owner").GetInt32()); // its own checkpoint, in its own directory
            // Continued from the checkpoint's weights (w = q·step), not from scratch (which would give q·(step − resume)).
            Assert.All(t.Intermediate, kv => Assert.Equal(q * kv.Key, kv.Value, 9));
            Assert.True(t.Intermediate.Keys.Max() > log.GetProperty("resume").GetInt64());
            // The earlier run's logs moved aside in the same directory.
            Assert.Contains("tunesmith:report", File.ReadAllText(Path.Combine(directory, CommandObjective.AttemptsFolder, "0", CommandObjective.StdoutFile)));
        }
    }

    [Fact]
    public async Task Pbt_copies_the_source_checkpoint_and_continues_with_the_params_it_was_trained_with_perturbed()
    {
        var script = _kit.Script("train.py", CheckpointingTrainer);
        var pbt = new PbtScheduler(new PbtOptions { PopulationSize = 4, PerturbationInterval = 2, QuantileFraction = 0.25, ResampleProbability = 0, PerturbationFactors = [2.0] });
        await using var study = await StudyWithAsync(pbt, 0.1, 0.5, 0.8, 1.0);
        var together = Directory.CreateDirectory(Path.Combine(_kit.Root, "together")).FullName;
        var options = _kit.Options(script, Q(1000)) with { Environment = new Dictionary<string, string> { ["STEP_SECONDS"] = "0.3", ["START_TOGETHER"] = $"{together}:4" } };
        var result = await new CommandStudyRunner(study, options, new CommandStudyOptions { Trials = 4, Parallel = 4 }).RunAsync();

        var trials = await study.GetTrialsAsync();
        Assert.True(result.Completed == 4, string.Join("\n", trials.Select(t => $"{t.Number} {t.State} {t.FailReason}")));
        var exploited = trials.Where(t => t.SystemAttributes.ContainsKey(SystemAttributeKeys.RestoredFrom)).ToList();
        Assert.True(exploited.Count > 0, string.Join("\n", trials.Select(t => $"{t.Number} {t.State} q={t.Params["q"]} started {t.Started:HH:mm:ss.fff} finished {t.Finished:HH:mm:ss.fff} checkpoint_step {t.SystemAttributes.GetValueOrDefault(SystemAttributeKeys.CheckpointStep)} steps {string.Join(',', t.Intermediate.Keys)}")));
        foreach (var t in exploited)
        {
            using var from = JsonDocument.Parse((string)t.SystemAttributes[SystemAttributeKeys.RestoredFrom]!);
            var source = from.RootElement.GetProperty("trial").GetInt32();
            var step = from.RootElement.GetProperty("step").GetInt64();
            var log = File.ReadLines(Path.Combine(_kit.TrialDir(t.Number), "resumed.log")).Select(l => JsonDocument.Parse(l).RootElement).Last();
            Assert.Equal(source.ToString(System.Globalization.CultureInfo.InvariantCulture), log.GetProperty("restore_from").GetString());
            var checkpoint = log.GetProperty("checkpoint");
            // The weights it continued from are the source's, of the step the decision named...
            Assert.Equal(source, checkpoint.GetProperty("owner").GetInt32());
            Assert.True(checkpoint.GetProperty("step").GetInt64() >= step); // the source may have saved a later one meanwhile
            // ...and the params it continued with are the params those weights were trained with, perturbed (× 2).
            Assert.Equal(checkpoint.GetProperty("q").GetDouble() * 2, (double)t.Params["q"]!, 9);
            Assert.Equal(log.GetProperty("q").GetDouble(), (double)t.Params["q"]!, 9);
        }
    }
}
