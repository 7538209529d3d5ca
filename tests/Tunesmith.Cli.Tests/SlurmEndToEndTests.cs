using Tunesmith.Backends.Slurm;
using Tunesmith.Execution;
using Tunesmith.Trials;

namespace Tunesmith.Cli.Tests;

/// <summary>
/// A trial program for the Slurm tests. It prints CUDA_VISIBLE_DEVICES; mode "quick" answers at once; "barrier" waits
/// until N trials have started (so they provably run together); "wait" runs until a file named release appears; "resume"
/// and "forever" run until SIGTERM, saving a checkpoint then (with the last step reported: they report a step every 0.2 s).
/// A trial that finds its checkpoint (and is not "forever") prints it with TUNESMITH_RESUME_STEP and reports at once: it resumed.
/// </summary>
internal static class SlurmTrialProgram
{
    public const string Source = """
        import json, os, signal, sys, time
        d = os.environ["TUNESMITH_TRIAL_DIR"]
        p = json.loads(os.environ["TUNESMITH_PARAMS"])
        mode = p.get("mode", "quick")
        ck = os.path.join(d, "checkpoint")
        last = -1
        def term(*_):
            n = int(open(ck).read()) + 1 if os.path.exists(ck) else 1
            open(ck + "_step", "w").write(str(last))
            open(ck, "w").write(str(n))
            sys.exit(0)
        signal.signal(signal.SIGTERM, term)
        # Printed once the checkpoint handler is in place: a test may stop the trial from here on.
        print("CVD=" + os.environ.get("CUDA_VISIBLE_DEVICES", ""), flush=True)
        def done(v):
            print("tunesmith:result " + json.dumps({"loss": v}), flush=True)
            sys.exit(0)
        if os.path.exists(ck) and mode != "forever":
            print("resumed from checkpoint " + open(ck).read() + " at step " + open(ck + "_step").read()
                + " with TUNESMITH_RESUME_STEP=" + os.environ.get("TUNESMITH_RESUME_STEP", "unset"), flush=True)
            done(1.0)
        if mode == "quick":
            done((p.get("x", p.get("a", 0)) - 1) ** 2)
        if mode == "barrier":
            b = os.path.join(os.environ["BARRIER_DIR"])
            os.makedirs(b, exist_ok=True)
            open(os.path.join(b, os.environ["TUNESMITH_TRIAL_NUMBER"]), "w").write(os.environ.get("CUDA_VISIBLE_DEVICES", ""))
            end = time.time() + 90
            while len(os.listdir(b)) < int(os.environ["BARRIER_N"]) and time.time() < end:
                time.sleep(0.1)
            done(0.0)
        release = os.path.join(os.environ.get("RELEASE_DIR", d), "release")
        step = 0
        while not (mode == "wait" and os.path.exists(release)):
            # A step every 0.2 s; the checkpoint (at SIGTERM) holds the last one reported.
            print("tunesmith:report " + json.dumps({"step": step, "loss": 5.0}), flush=True)
            last = step
            step += 1
            time.sleep(0.2)
        done(2.0)
        """;
}

/// <summary>
/// Tunesmith on a real Slurm (scripts/slurm-local.sh: slurmctld + slurmd + munge, fake GPUs) with a real PostgreSQL: every
/// array task runs `tunesmith worker --one-trial` (the built CLI, as `dotnet Tunesmith.Cli.dll`).
/// </summary>
[Collection("slurm")]
public sealed class SlurmEndToEndTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(150);

    private static void WriteStudy(SlurmKit kit, string name, string space, int trials, string slurm = "", string sampler = "{ random: { seed: 5 } }")
    {
        kit.Write("trial.py", SlurmTrialProgram.Source);
        kit.Write("study.yaml", $"name: {name}\nmetric: loss\ncommand: python3 trial.py\nspace: {space}\nsampler: {sampler}\ntrials: {trials}\n{slurm}");
    }

    [SkippableFact]
    public async Task Array_of_8_trials_with_concurrency_2_is_split_by_MaxArraySize_and_records_every_trial_once()
    {
        await using var kit = new SlurmKit();
        WriteStudy(kit, "arr", "{ x: { float: [-3, 3] } }", 8);
        var ids = await kit.SubmitAsync("--concurrency", "2");
        // MaxArraySize=6 on the test cluster: 8 tasks are 6 + 2, chained so that the cap of 2 holds over both.
        Assert.Equal(2, ids.Count);
        var scripts = Directory.GetFiles(Path.Combine(StudyKit.RunDirIn(kit.Dir, "arr"), "slurm"), "*.sbatch").Select(File.ReadAllText).ToList();
        Assert.Contains(scripts, s => s.Contains("#SBATCH --array=0-5%2\n", StringComparison.Ordinal));
        Assert.Contains(scripts, s => s.Contains("#SBATCH --array=0-1\n", StringComparison.Ordinal) && s.Contains($"--dependency=afterany:{ids[0]}", StringComparison.Ordinal));
        await kit.WaitForJobsAsync(Patience);

        var trials = await kit.TrialsAsync("arr");
        Assert.True(trials.Count == 8 && trials.All(t => t.State == TrialState.Complete), string.Join("; ", trials.Select(t => $"{t.Number} {t.State} {t.FailReason}")) + kit.Logs());
        Assert.Equal(Enumerable.Range(0, 8), trials.Select(t => t.Number));
        // Every trial once, each in its own array task, and never more than 2 at a time.
        var jobs = trials.Select(t => (string)t.SystemAttributes[SlurmAttributeKeys.JobId]!).ToList();
        Assert.Equal(8, jobs.Distinct().Count());
        Assert.Equal(6, jobs.Count(j => j.StartsWith(ids[0] + "_", StringComparison.Ordinal)));
        Assert.All(trials, t => Assert.Equal("localhost", t.SystemAttributes[SlurmAttributeKeys.Node]));
        var overlap = trials.Max(a => trials.Count(b => b.Started < a.Finished && a.Started < b.Finished));
        Assert.InRange(overlap, 1, 2);

        var status = await kit.Cli(["slurm", "status", "--study", "arr"]);
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Contains($"job {ids[0]}: 6 tasks; 6 completed", status.Stdout);
        Assert.Contains($"job {ids[1]}: 2 tasks; 2 completed", status.Stdout);
        Assert.Equal(8, status.Stdout.Split('\n').Count(l => l.Contains(" complete ", StringComparison.Ordinal) && l.Contains("localhost", StringComparison.Ordinal)));
    }

    [SkippableFact]
    public async Task Concurrency_above_MaxArraySize_is_honoured_by_arrays_side_by_side()
    {
        // MaxArraySize=6 on the test cluster, concurrency 8, 20 trials: two lanes side by side, each capped at 4 (6%4, then
        // 4 after it), so 8 tasks can run at once. Before, one chain of 6-task arrays ran at most 6. Held: nothing runs.
        await using var kit = new SlurmKit();
        WriteStudy(kit, "wide", "{ x: { float: [-3, 3] } }", 20, "slurm: { concurrency: 8, extra_sbatch: [--hold] }\n");
        var ids = await kit.SubmitAsync();
        Assert.Equal(4, ids.Count);
        var jobs = new List<string>();
        foreach (var id in ids)
        {
            var r = await kit.Commands.RunAsync("scontrol", ["show", "job", "-o", id]);
            jobs.Add(r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[0]);
        }
        Assert.Contains("ArrayTaskId=0-5%4 ", jobs[0]);
        Assert.Contains("ArrayTaskId=0-3 ", jobs[1]);
        Assert.Contains($"Dependency=afterany:{ids[0]}", jobs[1]);
        Assert.Contains("ArrayTaskId=0-5%4 ", jobs[2]);
        Assert.Contains("Dependency=(null)", jobs[2]);
        Assert.Contains($"Dependency=afterany:{ids[2]}", jobs[3]);
    }

    [SkippableFact]
    public async Task The_follow_with_hint_leaves_a_storage_from_TUNESMITH_STORAGE_to_the_variable()
    {
        // docs/SLURM.md exports TUNESMITH_STORAGE (a PostgreSQL URL with its password) and submits. Written out, the URL in the
        // suggested `slurm status` shows the password as *** and the pasted command failed to log in (28P01). Held: nothing runs.
        await using var kit = new SlurmKit();
        WriteStudy(kit, "hint", "{ x: { float: [-3, 3] } }", 1, "slurm: { extra_sbatch: [--hold] }\n");
        var env = new Dictionary<string, string?> { ["TUNESMITH_STORAGE"] = kit.Storage };
        var r = await kit.Cli(["slurm", "submit", "study.yaml"], storage: false, env: env);
        Assert.True(r.ExitCode == 0, r.ToString());
        var job = r.Stdout.Trim();
        kit.JobIds.Add(job);
        var hint = r.Stderr.Split('\n').Single(l => l.Contains("follow with: ", StringComparison.Ordinal));
        var command = hint[(hint.IndexOf("follow with: tunesmith ", StringComparison.Ordinal) + "follow with: tunesmith ".Length)..];
        Assert.Equal("slurm status --study hint", command.TrimEnd());
        var status = await kit.Cli(command.Split(' ', StringSplitOptions.RemoveEmptyEntries), storage: false, env: env);
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Contains($"job {job}: 1 task", status.Stdout);
    }

    [SkippableFact]
    public async Task Promotion_based_asha_in_one_trial_jobs_trains_its_best_trial_to_the_maximum()
    {
        // Rungs 1 and 3 of max 9 (η 3). Six one-trial jobs, two at a time: a trial that pauses ends its job, a job first
        // continues a trial the rungs promote (beside its one new trial), and the last job out finishes the study as
        // `run` does. Before, the study ended with every trial paused short of step 9 and no best trial.
        await using var kit = new SlurmKit();
        kit.Write("train.py", """
            import json, os, signal, sys, time
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            x = json.loads(os.environ["TUNESMITH_PARAMS"])["x"]
            ck = os.path.join(os.environ["TUNESMITH_TRIAL_DIR"], "epoch")
            start = int(open(ck).read()) if os.path.exists(ck) else 0
            for e in range(start + 1, 10):
                time.sleep(0.3)  # an epoch's training
                open(ck + ".tmp", "w").write(str(e)); os.replace(ck + ".tmp", ck)
                print("tunesmith:report " + json.dumps({"step": e, "score": x * (1 - 0.5 ** e)}), flush=True)
            print("tunesmith:result " + json.dumps({"score": x * (1 - 0.5 ** 9)}), flush=True)
            """);
        kit.Write("study.yaml", """
            name: promo
            metric: score
            direction: maximize
            command: python3 train.py
            space: { x: { float: [0, 1] } }
            sampler: { random: { seed: 11 } }
            trials: 6
            scheduler: { asha: { min: 1, max: 9, reduction: 3, mode: promotion } }
            slurm: { concurrency: 2 }
            """);
        await kit.SubmitAsync();
        await kit.WaitForJobsAsync(Patience);

        var trials = await kit.TrialsAsync("promo");
        string Describe() => string.Join("; ", trials.Select(t => $"{t.Number} {t.State} x={t.Params["x"]} last={t.LastIntermediate?.Step}")) + kit.Logs();
        Assert.True(trials.Count == 6 && trials.All(t => t.State is TrialState.Complete or TrialState.Paused), Describe());
        // The best configuration holds the best record at every rung it reached: the finish trains it to the maximum.
        var best = trials.MaxBy(t => (double)t.Params["x"]!)!;
        Assert.True(best.State == TrialState.Complete && best.LastIntermediate!.Value.Step == 9, Describe());
    }

    [SkippableFact]
    public async Task Trials_with_one_gpu_each_see_distinct_CUDA_VISIBLE_DEVICES()
    {
        await using var kit = new SlurmKit();
        WriteStudy(kit, "gpu", "{ mode: { choice: [barrier] }, x: { float: [0, 1] } }", 4);
        var barrier = Path.Combine(kit.Dir, "barrier");
        var env = new Dictionary<string, string?> { ["BARRIER_DIR"] = barrier, ["BARRIER_N"] = "4" };
        var r = await kit.Cli(["slurm", "submit", "study.yaml", "--gpus-per-trial", "1", "--concurrency", "4"], env: env);
        Assert.True(r.ExitCode == 0, r.ToString());
        kit.JobIds.Add(r.Stdout.Trim());
        await kit.WaitForJobsAsync(Patience);

        var trials = await kit.TrialsAsync("gpu");
        Assert.True(trials.Count == 4 && trials.All(t => t.State == TrialState.Complete), string.Join("; ", trials.Select(t => $"{t.Number} {t.State} {t.FailReason}")) + kit.Logs());
        // The four ran at once (the barrier) and Slurm gave each its own GPU.
        var devices = Directory.GetFiles(barrier).Select(File.ReadAllText).OrderBy(d => d, StringComparer.Ordinal).ToList();
        Assert.Equal(["0", "1", "2", "3"], devices);
        Assert.All(trials, t => Assert.Contains("gpus=1", (string)t.SystemAttributes[SlurmAttributeKeys.Hardware]!, StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task Scancel_of_a_running_task_returns_its_trial_to_waiting_requeues_the_task_and_the_study_completes_without_a_resubmit()
    {
        await using var kit = new SlurmKit();
        WriteStudy(kit, "cancel", "{ mode: { choice: [wait] }, x: { float: [0, 1] } }", 2);
        var env = new Dictionary<string, string?> { ["RELEASE_DIR"] = kit.Dir };
        var r = await kit.Cli(["slurm", "submit", "study.yaml", "--concurrency", "2"], env: env);
        Assert.True(r.ExitCode == 0, r.ToString());
        kit.JobIds.Add(r.Stdout.Trim());
        // Both programs run (and can checkpoint) once their first line is out.
        bool Started(FrozenTrial t) => File.Exists(Path.Combine(StudyKit.RunDirIn(kit.Dir, "cancel"), "trials", t.Number.ToString(System.Globalization.CultureInfo.InvariantCulture), "stdout.log"))
            && File.ReadAllText(Path.Combine(StudyKit.RunDirIn(kit.Dir, "cancel"), "trials", t.Number.ToString(System.Globalization.CultureInfo.InvariantCulture), "stdout.log")).Contains("CVD=", StringComparison.Ordinal);
        var running = await kit.WaitForTrialsAsync("cancel", ts => ts.Count(t => t.State == TrialState.Running && t.SystemAttributes.ContainsKey(SlurmAttributeKeys.JobId) && Started(t)) == 2, Patience);

        var victim = running[0];
        await kit.Commands.CancelAsync([(string)victim.SystemAttributes[SlurmAttributeKeys.JobId]!]);
        var after = await kit.WaitForTrialsAsync("cancel", ts => ts.Any(t => t.Number == victim.Number && t.State == TrialState.Failed) && ts.Any(t => t.State == TrialState.Waiting), Patience);
        var stopped = after.Single(t => t.Number == victim.Number);
        Assert.Equal("cancelled", stopped.SystemAttributes[SlurmAttributeKeys.Stop]);
        var waiting = after.Single(t => t.State == TrialState.Waiting);
        Assert.Equal((long)victim.Number, waiting.SystemAttributes[SystemAttributeKeys.RetryOf]);
        Assert.Equal(victim.Params["x"], waiting.Params["x"]);

        // The other task still ran, so only this task was cancelled: it requeued itself, and its next run takes the returned
        // trial from its checkpoint, in the same directory. The study completes with no second submit.
        File.WriteAllText(Path.Combine(kit.Dir, "release"), "");
        await kit.WaitForJobsAsync(Patience);
        var trials = await kit.TrialsAsync("cancel");
        Assert.Equal(2, trials.Count(t => t.State == TrialState.Complete));
        var resumed = trials.Single(t => t.State == TrialState.Complete && t.Number == waiting.Number);
        var stdout = File.ReadAllText(Path.Combine(StudyKit.RunDirIn(kit.Dir, "cancel"), "trials", victim.Number.ToString(System.Globalization.CultureInfo.InvariantCulture), "stdout.log"));
        Assert.Contains("resumed from checkpoint 1", stdout);
        Assert.Equal([(string)victim.SystemAttributes[SlurmAttributeKeys.JobId]!, victim.SystemAttributes[SlurmAttributeKeys.JobId] + "#1"],
            ((string)resumed.SystemAttributes[SlurmAttributeKeys.JobIds]!).Split(','));
        Assert.Single(kit.JobIds);

        // slurm status says what happened to the cancelled attempt: its trial was returned to the queue (Slurm did not requeue it).
        var status = await kit.Cli(["slurm", "status", "--study", "cancel"]);
        Assert.True(status.ExitCode == 0, status.ToString());
        var row = status.Stdout.Split('\n').Single(l => l.StartsWith(victim.Number.ToString(System.Globalization.CultureInfo.InvariantCulture) + " ", StringComparison.Ordinal));
        Assert.Equal("returned", row.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
    }

    [SkippableFact]
    public async Task A_preempted_trial_is_requeued_by_Slurm_resumes_and_completes_and_records_a_preemption()
    {
        await using var kit = new SlurmKit();
        // Partition low is preemptable (scripts/slurm-local.sh: PreemptMode=REQUEUE, GraceTime=10); urgent preempts it.
        WriteStudy(kit, "preempt", "{ mode: { choice: [resume] } }", 1, "slurm: { partition: low, gpus_per_trial: 1 }\n", sampler: "grid");
        var ids = await kit.SubmitAsync();
        var stdout = Path.Combine(kit.Dir, "runs");
        bool Started() => Directory.GetFiles(stdout, "stdout.log", SearchOption.AllDirectories).Any(f => File.ReadAllText(f).Contains("CVD=", StringComparison.Ordinal));
        await kit.WaitForTrialsAsync("preempt", ts => ts.Any(t => t.State == TrialState.Running) && Started(), Patience);

        // A job in the high-priority partition that needs every GPU: Slurm preempts the trial's job and requeues it.
        var urgent = kit.Write("urgent.sh", "#!/bin/bash\ntrue\n");
        var r = await kit.Commands.RunAsync("sbatch", ["--parsable", "-p", "urgent", "--gres=gpu:4", "-o", Path.Combine(kit.Dir, "urgent.out"), urgent]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        kit.JobIds.Add(r.Stdout.Trim());
        await kit.WaitForJobsAsync(Patience);

        var trials = await kit.TrialsAsync("preempt");
        string Describe() => string.Join("; ", trials.Select(t => $"{t.Number} {t.State} {t.FailReason} {t.SystemAttributes.GetValueOrDefault(SlurmAttributeKeys.Stop)}")) + kit.Logs();
        Assert.True(trials.Count == 2, Describe());
        // Told from Slurm's own state (the job's restart count went up under it), not from a clock: a preemption.
        Assert.Equal((TrialState.Failed, Study.InterruptedReason, "preempted"), (trials[0].State, trials[0].FailReason, trials[0].SystemAttributes[SlurmAttributeKeys.Stop]));
        Assert.Equal(TrialState.Complete, trials[1].State);
        Assert.Equal(1L, trials[1].SystemAttributes[SlurmAttributeKeys.Resumptions]);
        Assert.Equal([ids[0] + "_0", ids[0] + "_0#1"], ((string)trials[1].SystemAttributes[SlurmAttributeKeys.JobIds]!).Split(','));
        Assert.Contains("resumed from checkpoint 1", File.ReadAllText(Path.Combine(StudyKit.RunDirIn(kit.Dir, "preempt"), "trials", "0", "stdout.log")));
        Assert.Contains("DUE TO PREEMPTION", kit.Logs());
    }

    [SkippableFact]
    public async Task Two_compute_classes_each_run_their_share_and_the_fast_class_gets_the_complex_branch()
    {
        await using var kit = new SlurmKit();
        WriteStudy(kit, "classes", "{ model: { branch: { small: { a: { float: [0, 1] } }, big: { a: { float: [0, 1] }, b: { float: [0, 1] }, c: { float: [0, 1] } } } } }", 4, """
            slurm:
              classes:
                fast: { partition: debug, max_concurrent: 2, speed: 2 }
                slow: { partition: second, max_concurrent: 2 }
            """);
        var ids = await kit.SubmitAsync();
        Assert.Equal(2, ids.Count);
        await kit.WaitForJobsAsync(Patience);
        var trials = await kit.TrialsAsync("classes");
        Assert.True(trials.Count == 4 && trials.All(t => t.State == TrialState.Complete), kit.Logs());
        Assert.Equal([("fast", 2), ("slow", 2)], trials.GroupBy(t => (string)t.SystemAttributes[SlurmAttributeKeys.ComputeClass]!).OrderBy(g => g.Key).Select(g => (g.Key, g.Count())));
        Assert.All(trials, t => Assert.StartsWith(((string)t.SystemAttributes[SlurmAttributeKeys.ComputeClass]!) == "fast" ? ids[0] : ids[1], (string)t.SystemAttributes[SlurmAttributeKeys.JobId]!));
        // Hardware-aware: complexity big 4 × small 2, the fast class (2 slots × speed 2) takes the top 2/3 of the priority.
        // The loss varies with a: were it constant, a branch with two equal results would have no uncertainty left and
        // drop below the other, and which class got which branch would depend on how soon the first two trials ended.
        Assert.All(trials, t => Assert.Equal((string)t.SystemAttributes[SlurmAttributeKeys.ComputeClass]! == "fast" ? "big" : "small", t.Params["model"]));

        // The report groups the trials by the class that ran them.
        var byClass = await kit.Cli(["report", "--study", "classes", "--by", "compute_class", "--format", "json"]);
        Assert.True(byClass.ExitCode == 0, byClass.ToString());
        using var doc = System.Text.Json.JsonDocument.Parse(byClass.Stdout);
        Assert.Equal([("fast", 2), ("slow", 2)], doc.RootElement.GetProperty("groups").EnumerateArray()
            .Select(g => (g.GetProperty("key").GetString()!, g.GetProperty("complete").GetInt32())).OrderBy(g => g.Item1));
    }

    [SkippableFact]
    public async Task Login_node_guard_refuses_run_on_the_slurm_host_outside_a_job_and_allows_it_inside_one()
    {
        await using var kit = new SlurmKit();
        WriteStudy(kit, "guard", "{ x: { float: [-3, 3] } }", 1);
        var outside = await kit.Cli(["run", "study.yaml"]);
        Assert.Equal(2, outside.ExitCode);
        Assert.Contains("login node", outside.Stderr);
        Assert.Contains("tunesmith slurm submit", outside.Stderr);
        Assert.Single(outside.Stderr.Trim().Split('\n'));

        // The same command as a batch job: inside a job the guard stands aside.
        var script = kit.Write("run-inside.sh", $"#!/bin/bash\nexec dotnet {CliProcess.CliDll} run study.yaml --quiet --storage \"$TUNESMITH_STORAGE\"\n");
        var r = await kit.Commands.RunAsync("sbatch", ["--wait", "--parsable", "-D", kit.Dir, "-o", Path.Combine(kit.Dir, "inside.out"), script],
            new Dictionary<string, string> { ["TUNESMITH_STORAGE"] = kit.Storage });
        Assert.True(r.ExitCode == 0, $"{r.Stdout}\n{r.Stderr}\n{kit.Logs()}");
        Assert.Equal(TrialState.Complete, Assert.Single(await kit.TrialsAsync("guard")).State);
    }
}

/// <summary>Walltime on the real Slurm (a 1-minute limit, Slurm's smallest, with the signal 45 s ahead): about a minute.</summary>
[Collection("slurm-walltime")]
public sealed class SlurmWalltimeEndToEndTests
{
    // Slurm sends the pre-walltime signal at its periodic limit check, up to a minute early, so the test also sends an
    // early SIGUSR1 to every run: the worker must stop at the lead it reads from Slurm, not at the signal.
    [SkippableFact]
    public async Task A_trial_at_its_time_limit_checkpoints_is_requeued_and_resumes_and_one_past_the_cap_fails_with_the_reason()
    {
        await using var kit = new SlurmKit();
        kit.Write("trial.py", SlurmTrialProgram.Source);
        kit.Write("study.yaml", """
            name: wall
            metric: loss
            command: python3 trial.py
            space: { mode: { choice: [resume, forever] } }
            sampler: grid
            trials: 2
            slurm: { time: "00:01:00", signal_lead: 45s, max_requeues: 1 }
            """);
        var ids = await kit.SubmitAsync();
        // Slurm sends the pre-walltime signal at its periodic time-limit check: with a 1-minute limit and a 45-s lead that
        // may be the moment a job starts (it made this test fail before the workers read the time left themselves). The
        // test makes it happen to every run of every task, half a second after Slurm shows it running.
        using var stopSignalling = new CancellationTokenSource();
        var signaller = SignalEachRunEarlyAsync(kit, ids[0], stopSignalling.Token);
        await kit.WaitForJobsAsync(TimeSpan.FromMinutes(4));
        await stopSignalling.CancelAsync();
        var signalled = await signaller;
        var trials = await kit.TrialsAsync("wall");
        string Describe() => string.Join("; ", trials.Select(t => $"{t.Number} {t.Params["mode"]} {t.State} {t.FailReason}")) + kit.Logs();

        // resume: stopped at the signal, back in the queue, the job requeued, resumed from its checkpoint: Complete.
        var resume = trials.Where(t => (string)t.Params["mode"]! == "resume").ToList();
        Assert.True(signalled.Count > 0, "no run was seen running");
        Assert.True(resume.Count == 2, Describe());
        Assert.Equal([TrialState.Failed, TrialState.Complete], resume.Select(t => t.State));
        Assert.Equal(("walltime", Study.InterruptedReason), ((string)resume[0].SystemAttributes[SlurmAttributeKeys.Stop]!, resume[0].FailReason));
        var done = resume[1];
        Assert.Equal(1L, done.SystemAttributes[SlurmAttributeKeys.Resumptions]);
        var jobs = ((string)done.SystemAttributes[SlurmAttributeKeys.JobIds]!).Split(',');
        Assert.Equal(2, jobs.Length);
        Assert.StartsWith(ids[0] + "_", jobs[0]);
        // The trial went back to the queue: whichever requeued task of the array claims it first resumes it,
        // so the second attempt runs in a requeued task (#1) of the same array, not necessarily the same task.
        Assert.StartsWith(ids[0] + "_", jobs[1]);
        Assert.EndsWith("#1", jobs[1]);
        Assert.True((double)done.SystemAttributes[SlurmAttributeKeys.TotalRuntime]! > (double)done.SystemAttributes[SlurmAttributeKeys.Runtime]! + 5, Describe());
        // It resumed from its checkpoint, and Tunesmith told it the step it had checkpointed (the last it reported).
        var resumedLine = File.ReadAllLines(Path.Combine(StudyKit.RunDirIn(kit.Dir, "wall"), "trials", resume[0].Number.ToString(System.Globalization.CultureInfo.InvariantCulture), "stdout.log"))
            .Single(l => l.StartsWith("resumed from checkpoint", StringComparison.Ordinal));
        // (Reports printed between the stop and the program's exit are recorded as last_step, not as intermediate values:
        // one at 0.2 s a step on a quiet machine, a few under load, so only the lower bound is the product's.)
        var checkpointed = (long)resume[0].SystemAttributes[Tunesmith.Execution.Commands.CommandAttributeKeys.LastStep]!;
        Assert.True(checkpointed >= resume[0].Intermediate.Keys.Max(), Describe());
        Assert.Equal($"resumed from checkpoint 1 at step {checkpointed} with TUNESMITH_RESUME_STEP={checkpointed}", resumedLine);
        Assert.Equal(checkpointed, done.SystemAttributes[SystemAttributeKeys.ResumeStep]);
        // Every run of both tasks was signalled early (2 tasks, each run twice), and none stopped before its lead.
        Assert.True(signalled.Count >= 4, string.Join(", ", signalled));
        Assert.All(trials.Where(t => t.SystemAttributes.ContainsKey(SlurmAttributeKeys.Stop)),
            t => Assert.True((double)t.SystemAttributes[SlurmAttributeKeys.Runtime]! > 5, Describe()));

        // forever: hits the limit again after its one allowed requeue: Failed with the reason, not requeued again.
        var forever = trials.Where(t => (string)t.Params["mode"]! == "forever").ToList();
        Assert.True(forever.Count == 2, Describe());
        Assert.Equal(TrialState.Failed, forever[1].State);
        Assert.Contains("time limit", forever[1].FailReason);
        Assert.Contains("max_requeues 1", forever[1].FailReason);
        Assert.False(forever[1].SystemAttributes.ContainsKey(SystemAttributeKeys.RetriedBy));
        Assert.Equal(1L, forever[1].SystemAttributes[SlurmAttributeKeys.Resumptions]);
    }

    /// <summary>Sends SIGUSR1 to the batch shell of each run of each task of <paramref name="arrayId"/> (as Slurm's early warning would), half a second after it is seen running.</summary>
    private static async Task<List<string>> SignalEachRunEarlyAsync(SlurmKit kit, string arrayId, CancellationToken ct)
    {
        var signalled = new List<string>();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                foreach (var run in (await kit.Commands.ShowJobsAsync([arrayId], ct)).Where(j => j is { State: "RUNNING", ArrayTaskId: not null }))
                {
                    var name = $"{run.Display}#{run.Restarts}";
                    if (signalled.Contains(name)) continue;
                    signalled.Add(name);
                    await Task.Delay(500, ct);
                    await kit.Commands.RunAsync("scancel", ["--batch", "--signal=USR1", run.Display], null, ct);
                }
                await Task.Delay(100, ct);
            }
        }
        catch (OperationCanceledException) { }
        return signalled;
    }
}
