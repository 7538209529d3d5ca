using System.Text.Json;
using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Storage;
using Tunesmith.Tests.Storage;

namespace Tunesmith.Cli.Tests;

/// <summary>
/// `tunesmith run` killed with SIGKILL mid-trial (a node or a job that dies), with its trial half-way through writing a
/// checkpoint: the trial's program dies with its runner, `status --fail-stale` (default grace) finds the runner gone from
/// this machine at once, fails the trial and re-enqueues it (a crash is retried once even with <c>retries: 0</c>), and
/// `worker` runs the retry in the same trial directory, where the program finds its last whole checkpoint, and the study
/// completes with every trial number accounted for. On SQLite and on PostgreSQL.
/// </summary>
public sealed class KillResumeEndToEndTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    // Trial 0's first attempt checkpoints, starts writing the next checkpoint and trains on until its runner dies. Any
    // attempt that finds a checkpoint in its trial directory resumes from it and says so; a half-written one is ignored.
    private const string Program = """
        import json, os, sys, time
        d = os.environ["TUNESMITH_TRIAL_DIR"]
        n = os.environ["TUNESMITH_TRIAL_NUMBER"]
        x = float(sys.argv[1])
        checkpoint = os.path.join(d, "checkpoint.json")
        if os.path.exists(checkpoint):
            with open(checkpoint) as f:
                epoch = json.load(f)["epoch"]
            with open(os.path.join(d, "resumed-from-checkpoint"), "w") as f:
                f.write("trial %s resumed at epoch %d\n" % (n, epoch))
            print("tunesmith:result " + json.dumps({"value": x, "resumed_from_epoch": epoch}))
            sys.exit(0)
        if n == "0":
            with open(os.path.join(d, "pid"), "w") as f:
                f.write(str(os.getpid()))
            with open(checkpoint + ".tmp", "w") as f:
                json.dump({"epoch": 5}, f)
            os.replace(checkpoint + ".tmp", checkpoint)
            with open(checkpoint + ".tmp", "w") as f:
                f.write('{"epoch": ')
                f.flush()
                while True:
                    print("training epoch 6", flush=True)
                    time.sleep(0.05)
            while True:
                print("training epoch 6", flush=True)
                time.sleep(0.05)
        print("tunesmith:result " + json.dumps({"value": x}))
        """;

    [Fact]
    public async Task Sqlite_run_killed_mid_trial_is_failed_stale_and_its_retry_resumes_from_the_checkpoint_in_the_same_directory()
    {
        using var kit = new StudyKit();
        await KilledRunResumesAsync(kit, kit.Storage);
    }

    [SkippableFact]
    public async Task Postgres_run_killed_mid_trial_is_failed_stale_and_its_retry_resumes_from_the_checkpoint_in_the_same_directory()
    {
        await using var schema = PostgresTestServer.NewSchema();
        using var kit = new StudyKit();
        await KilledRunResumesAsync(kit, schema.Url);
    }

    private static async Task KilledRunResumesAsync(StudyKit kit, string storageUrl)
    {
        kit.Write("obj.py", Program);
        kit.StudyFile($"""
            command: {StudyKit.Python} obj.py {"{x}"}
            space:
              x: {"{"} float: [0, 1] {"}"}
            trials: 3
            retries: 0
            """);
        // The run directory is named once the study exists (runs/s-<hash>): found afresh until then.
        string Trial0() => Path.Combine(kit.RunDir(), "trials", "0");
        string PidFile() => Path.Combine(Trial0(), "pid");
        int? orphan = null;
        try
        {
            using (var run = CliBackground.Start(kit.Dir, ["run", "study.yaml", "--storage", storageUrl, "--log-format", "json"]))
            {
                var stdout = run.Stdout.ReadToEndAsync();
                // Mid-trial: the checkpoint is written and the program is training on (its output reaches its stdout.log).
                await Eventually.HoldsAsync(() => run.Process.HasExited || File.Exists(Path.Combine(Trial0(), "checkpoint.json")) && File.Exists(PidFile())
                    && ReadShared(Path.Combine(Trial0(), "stdout.log")).Contains("training epoch 6", StringComparison.Ordinal),
                    Timeout, "trial 0 to checkpoint and train on");
                if (run.Process.HasExited) Assert.Fail("the run ended before trial 0 checkpointed: " + await CliProcess.Drained(run.Stderr));
                orphan = int.Parse(File.ReadAllText(PidFile()), System.Globalization.CultureInfo.InvariantCulture);

                run.Signal(9); // SIGKILL to tunesmith alone: it records nothing, and its trial program is left behind
                Assert.Equal(137, await run.WaitForExitAsync(Timeout));
                await CliProcess.Drained(stdout);
            }
            // The trial program runs in a session of its own, so the kill did not reach it, but it is tied to its runner
            // (parent-death signal): it dies at once, mid-write, and cannot write to the directory while the retry runs.
            await Eventually.HoldsAsync(() => !InterruptEndToEndTests.IsAlive(orphan.Value, kit.Dir), TimeSpan.FromSeconds(10), $"the trial program (pid {orphan}) to die with its runner");

            var before = await TrialsAsync(storageUrl);
            Assert.Equal(TrialState.Running, Assert.Single(before).State); // nobody recorded the kill
            var trial0 = Trial0();

            // The runner was a process of this machine and is gone: status fails the trial at once (no waiting out the
            // grace period), says why, and retries it although the study allows no retries (a crash is not the trial's fault).
            var failed = await CliProcess.RunAsync(kit.Dir, ["status", "--study", "s", "--fail-stale", "--storage", storageUrl]);
            Assert.True(failed.ExitCode == 0, failed.ToString());
            Assert.Matches(@"study 's': trial 0 of worker \S+ marked Failed \(crashed: its runner \(pid \d+ on \S+\) is gone\); retried as trial 1", failed.Stderr);
            Assert.Single(failed.Stderr.Split('\n'), l => l.Contains("rial 0 of worker ", StringComparison.Ordinal)); // one line, not the warning too

            var worker = await CliProcess.RunAsync(kit.Dir, ["worker", "--study", "s", "--storage", storageUrl, "--heartbeat", "0.5", "--stale-grace", "5"]);
            Assert.True(worker.ExitCode == 0, worker.ToString());

            var trials = await TrialsAsync(storageUrl);
            Assert.Equal([0, 1, 2, 3], trials.Select(t => t.Number).Order()); // every number accounted for, none twice
            Assert.DoesNotContain(trials, t => t.State is TrialState.Running or TrialState.Waiting);

            var first = trials.Single(t => t.Number == 0);
            Assert.Equal(TrialState.Failed, first.State);
            Assert.StartsWith("crashed: ", first.FailReason);
            var retry = trials.Single(t => t.Number == 1);
            Assert.Equal(TrialState.Complete, retry.State);
            Assert.Equal(first.Params["x"], retry.Params["x"]);
            Assert.Equal(trial0, retry.SystemAttributes["trial_dir"]);
            // A usable directory for the retry: fresh params, the half-written checkpoint left aside, the last whole one used.
            Assert.Equal(first.Params["x"], ParamsFromFile(Path.Combine(trial0, "params.json")));
            Assert.Equal(5.0, retry.Metrics["resumed_from_epoch"]);
            Assert.Equal("trial 1 resumed at epoch 5\n", File.ReadAllText(Path.Combine(trial0, "resumed-from-checkpoint")));
            // The first attempt's logs were kept beside the retry's, not overwritten.
            Assert.Contains("training epoch 6", File.ReadAllText(Path.Combine(trial0, "attempts", "0", "stdout.log")));

            // The other trials ran from scratch in their own directories, and the budget (3) holds.
            var fresh = trials.Where(t => t.Number >= 2).ToList();
            Assert.All(fresh, t => Assert.Equal(TrialState.Complete, t.State));
            Assert.All(fresh, t => Assert.False(t.Metrics.ContainsKey("resumed_from_epoch")));
            Assert.Equal(3, trials.Count(t => t.State == TrialState.Complete));
        }
        finally
        {
            if (orphan is { } pid && InterruptEndToEndTests.IsAlive(pid, kit.Dir)) StudyKit.Signal(System.Diagnostics.Process.GetProcessById(pid), 9);
        }
    }

    // Promotion-based ASHA: every epoch checkpoints and reports x·(1 − 2^−e); the first trial to be resumed after a pause
    // hangs at once (its runner is killed there), every other attempt trains from its checkpoint to epoch 9.
    private const string PromotionProgram = """
        import json, os, sys, time
        x = float(sys.argv[1])
        ck = os.path.join(os.environ["TUNESMITH_TRIAL_DIR"], "epoch")
        start = int(open(ck).read()) if os.path.exists(ck) else 0
        hung = os.path.join(os.environ["HANG_DIR"], "hung")
        if os.environ.get("TUNESMITH_RESUME_STEP") is not None and not os.path.exists(hung):
            with open(hung + ".tmp", "w") as f:
                f.write(str(os.getpid()))
            os.replace(hung + ".tmp", hung)
            while True:
                time.sleep(0.05)
        for e in range(start + 1, 10):
            time.sleep(0.2)
            with open(ck + ".tmp", "w") as f:
                f.write(str(e))
            os.replace(ck + ".tmp", ck)
            print("tunesmith:report " + json.dumps({"step": e, "value": x * (1 - 0.5 ** e)}), flush=True)
        print("tunesmith:result " + json.dumps({"value": x * (1 - 0.5 ** 9)}), flush=True)
        """;

    [Fact]
    public async Task A_promotion_based_asha_run_killed_during_a_resumed_trial_retries_it_with_its_reports_and_trains_the_best_to_the_maximum()
    {
        using var kit = new StudyKit();
        var hangDir = Directory.CreateDirectory(Path.Combine(kit.Dir, "hang")).FullName;
        kit.Write("train.py", PromotionProgram);
        kit.StudyFile($"""
            command: {StudyKit.Python} train.py {"{x}"}
            direction: maximize
            space:
              x: {"{"} float: [0, 1] {"}"}
            trials: 6
            parallel: 2
            scheduler: {"{"} asha: {"{"} min: 1, max: 9, reduction: 3, mode: promotion {"}"} {"}"}
            env: {"{"} HANG_DIR: {hangDir} {"}"}
            """);
        var hung = Path.Combine(hangDir, "hung");
        int? orphan = null;
        try
        {
            using (var run = CliBackground.Start(kit.Dir, ["run", "study.yaml", "--storage", kit.Storage]))
            {
                var stdout = run.Stdout.ReadToEndAsync();
                // A trial is resumed after a pause at the latest when the study finishes (its rung's best goes on).
                await Eventually.HoldsAsync(() => run.Process.HasExited || File.Exists(hung), Timeout, "a paused trial to be resumed");
                if (run.Process.HasExited) Assert.Fail("the run ended without resuming a trial: " + await CliProcess.Drained(run.Stderr));
                orphan = int.Parse(File.ReadAllText(hung), System.Globalization.CultureInfo.InvariantCulture);
                run.Signal(9);
                Assert.Equal(137, await run.WaitForExitAsync(Timeout));
                await CliProcess.Drained(stdout);
            }
            await Eventually.HoldsAsync(() => !InterruptEndToEndTests.IsAlive(orphan.Value, kit.Dir), TimeSpan.FromSeconds(10), $"the trial program (pid {orphan}) to die with its runner");

            var again = await kit.Cli("run", "study.yaml", "--storage", kit.Storage);
            Assert.True(again.ExitCode == 0, again.ToString());
            // The table ranks the complete trials; the paused and failed ones follow by number, as its heading says.
            Assert.Contains("(highest value first, then the unranked by number):", again.Stdout);
            var trials = await TrialsAsync(kit.Storage);
            string Describe() => string.Join("; ", trials.Select(t => $"{t.Number} {t.State} x={t.Params["x"]} steps={string.Join(',', t.Intermediate.Keys.Order())}"));
            Assert.True(!trials.Any(t => t.State is TrialState.Running or TrialState.Waiting), Describe());
            // The resumed trial, and the other one running beside it if any, crashed with the runner and were retried.
            var failed = trials.Where(t => t.State == TrialState.Failed).ToList();
            Assert.InRange(failed.Count, 1, 2);
            foreach (var attempt in failed)
            {
                Assert.StartsWith("crashed: ", attempt.FailReason);
                var retry = trials.Single(t => t.SystemAttributes.TryGetValue(SystemAttributeKeys.RetryOf, out var r) && Equals(r, (long)attempt.Number));
                Assert.Equal(attempt.Params["x"], retry.Params["x"]);
                // The retry went on from the attempt's checkpoint with the attempt's reports: its curve has no hole.
                Assert.All(attempt.Intermediate, kv => Assert.Equal(kv.Value, retry.Intermediate[kv.Key]));
                Assert.Equal(Enumerable.Range(1, (int)retry.Intermediate.Keys.Max()).Select(s => (long)s), retry.Intermediate.Keys.Order());
            }
            // And the best configuration, holding the best record at every rung, is trained to the maximum.
            var best = trials.Where(t => t.State != TrialState.Failed).MaxBy(t => Convert.ToDouble(t.Params["x"], System.Globalization.CultureInfo.InvariantCulture))!;
            Assert.True(best.State == TrialState.Complete && best.Intermediate.Keys.Max() == 9, Describe());
        }
        finally
        {
            if (orphan is { } pid && InterruptEndToEndTests.IsAlive(pid, kit.Dir)) StudyKit.Signal(System.Diagnostics.Process.GetProcessById(pid), 9);
        }
    }

    private static object? ParamsFromFile(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.GetProperty("x").GetDouble();
    }

    private static string ReadShared(string path)
    {
        if (!File.Exists(path)) return "";
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new StreamReader(stream).ReadToEnd();
    }

    private static async Task<IReadOnlyList<FrozenTrial>> TrialsAsync(string url)
    {
        await using var storage = StudyStorage.Open(url);
        var study = await storage.GetStudyAsync("s") ?? throw new Xunit.Sdk.XunitException("study 's' is missing");
        return (await storage.GetTrialsSinceAsync(study.Id, 0)).Trials;
    }
}
