using System.Text.Json;

namespace Tunesmith.Cli.Tests;

/// <summary>
/// SIGINT (Ctrl+C) or SIGTERM (Slurm's scancel, a walltime limit) to `tunesmith run` stops the running trials' whole
/// process trees, records them Failed "interrupted", exits 130 or 143, and the study resumes.
/// </summary>
public sealed class InterruptEndToEndTests
{
    [Theory]
    [InlineData(2, 130, false)]  // SIGINT: Ctrl+C reaches tunesmith only (trials run in sessions of their own)
    [InlineData(15, 143, false)] // SIGTERM to tunesmith: kill, a container stop
    [InlineData(15, 143, true)]  // SIGTERM to every process of the job at once, trial programs first: scancel, a walltime limit
    public async Task A_signal_during_run_stops_trial_trees_keeps_finished_trials_leaves_none_running_and_the_next_run_resumes(int signal, int exitCode, bool wholeJob)
    {
        using var kit = new StudyKit();
        var block = kit.Write("block", "");
        // Trials 0 and 1 finish at once; later trials start a child process (a data loader) and hang while "block" exists.
        // Each hanging trial writes its own pid and its child's into its directory, so the test can see the trees end.
        kit.Write("obj.py", $$"""
            import json, os, subprocess, sys, time
            n = int(os.environ["TUNESMITH_TRIAL_NUMBER"])
            if n >= 2 and os.path.exists({{JsonSerializer.Serialize(block)}}):
                child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "obj.py-child"])
                with open(os.path.join(os.environ["TUNESMITH_TRIAL_DIR"], "pids"), "w") as f:
                    f.write("%d %d" % (os.getpid(), child.pid))
                print('tunesmith:report {"step": 1, "value": 0.5}', flush=True)
                time.sleep(600)
            print('tunesmith:result {"value": %s}' % sys.argv[1])
            """);
        kit.StudyFile($"""
            command: {StudyKit.Python} obj.py {"{x}"}
            space:
              x: {"{"} float: [0, 1] {"}"}
            trials: 4
            parallel: 2
            """);

        var pids = new List<int>();
        try
        {
            using (var run = CliBackground.Start(kit.Dir, ["run", "study.yaml", "--storage", kit.Storage, "--log-format", "json"]))
            {
                var reported = new HashSet<int>();
                var finished = 0;
                using (var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2)))
                {
                    // Wait (on stdout lines, not on time) until trials 0 and 1 are finished and the two blocked ones have reported.
                    while (finished < 2 || reported.Count < 2)
                    {
                        var line = await run.Stdout.ReadLineAsync(cts.Token)
                            ?? throw new Xunit.Sdk.XunitException("the run ended early: " + await CliProcess.Drained(run.Stderr));
                        using var e = JsonDocument.Parse(line);
                        var kind = e.RootElement.GetProperty("event").GetString();
                        if (kind == "finished") finished++;
                        if (kind == "report") reported.Add(e.RootElement.GetProperty("trial").GetInt32());
                    }
                }
                foreach (var n in reported)
                    pids.AddRange(File.ReadAllText(Path.Combine(kit.RunDir(), "trials", n.ToString(System.Globalization.CultureInfo.InvariantCulture), "pids"))
                        .Split(' ').Select(p => int.Parse(p, System.Globalization.CultureInfo.InvariantCulture)));
                Assert.Equal(4, pids.Count);
                Assert.All(pids, p => Assert.True(IsAlive(p, kit.Dir), $"pid {p} should run before the signal"));

                if (wholeJob)
                    foreach (var p in pids) StudyKit.Signal(System.Diagnostics.Process.GetProcessById(p), signal);
                run.Signal(signal);
                var rest = run.Stdout.ReadToEndAsync();
                Assert.Equal(exitCode, await run.WaitForExitAsync(TimeSpan.FromMinutes(1)));
                await CliProcess.Drained(rest);
                Assert.DoesNotContain("   at ", await CliProcess.Drained(run.Stderr));
            }
            // The trial programs and their children (in sessions of their own, out of reach of a terminal's signal) are gone.
            Assert.All(pids, p => Assert.False(IsAlive(p, kit.Dir), $"pid {p} outlived the interrupted run"));
        }
        finally
        {
            foreach (var p in pids.Where(p => IsAlive(p, kit.Dir))) StudyKit.Signal(System.Diagnostics.Process.GetProcessById(p), 9);
        }

        var status = await kit.CliS("status", "--study", "s", "--format", "json");
        using (var doc = JsonDocument.Parse(status.Stdout))
        {
            var counts = doc.RootElement.GetProperty("studies")[0].GetProperty("counts");
            Assert.Equal(0, counts.GetProperty("running").GetInt32());
            Assert.Equal(2, counts.GetProperty("complete").GetInt32());
            Assert.Equal(2, counts.GetProperty("failed").GetInt32());
        }
        var before = (await kit.TrialsAsync()).Where(t => t.GetProperty("state").GetString() == "Complete")
            .ToDictionary(t => t.GetProperty("number").GetInt32(), t => t.GetProperty("value").GetDouble());
        Assert.All((await kit.TrialsAsync()).Where(t => t.GetProperty("state").GetString() == "Failed"),
            t => Assert.Equal("interrupted", t.GetProperty("fail_reason").GetString()));

        File.Delete(block);
        var resume = await kit.CliS("run", "study.yaml");
        Assert.True(resume.ExitCode == 0, resume.ToString());
        // The interrupted trials are retried, so they stop counting: the resumed run's progress ends at [4/4], not [6/4].
        Assert.Contains("[4/4] trial", resume.Stdout);
        Assert.DoesNotContain("[5/4]", resume.Stdout);
        var after = await kit.TrialsAsync();
        Assert.DoesNotContain(after, t => t.GetProperty("state").GetString() is "Running" or "Waiting");
        var complete = after.Where(t => t.GetProperty("state").GetString() == "Complete").ToList();
        Assert.Equal(4, complete.Count);
        foreach (var (number, value) in before) // no finished trial lost or changed
            Assert.Contains(complete, t => t.GetProperty("number").GetInt32() == number && t.GetProperty("value").GetDouble() == value);
    }

    [Theory]
    [InlineData(false)] // SIGTERM to tunesmith, which passes it on to the trial
    [InlineData(true)]  // SIGTERM to the trial program first, then to tunesmith (scancel signals every process of the job)
    public async Task A_trial_that_checkpoints_on_SIGTERM_and_exits_0_is_recorded_interrupted_and_the_next_run_resumes_it_from_the_checkpoint(bool wholeJob)
    {
        using var kit = new StudyKit();
        // What COMMAND_TRIALS.md asks of a long trial: on SIGTERM, save a checkpoint in the trial directory and exit cleanly.
        kit.Write("obj.py", """
            import json, os, signal, sys, time
            d = os.environ["TUNESMITH_TRIAL_DIR"]
            checkpoint = os.path.join(d, "checkpoint.json")
            if os.path.exists(checkpoint):
                with open(checkpoint) as f:
                    epoch = json.load(f)["epoch"]
                print("tunesmith:result " + json.dumps({"value": 0.25, "resumed_from_epoch": epoch}))
                sys.exit(0)
            def save_and_exit(signum, frame):
                with open(checkpoint, "w") as f:
                    json.dump({"epoch": 3}, f)
                sys.exit(0)
            signal.signal(signal.SIGTERM, save_and_exit)
            with open(os.path.join(d, "pid"), "w") as f:
                f.write(str(os.getpid()))
            print('tunesmith:report {"step": 3, "value": 0.5}', flush=True)
            while True:
                time.sleep(0.05)
            """);
        kit.StudyFile($"""
            command: {StudyKit.Python} obj.py
            space:
              x: {"{"} float: [0, 1] {"}"}
            trials: 1
            """);
        using (var run = CliBackground.Start(kit.Dir, ["run", "study.yaml", "--storage", kit.Storage, "--log-format", "json"]))
        {
            using (var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2)))
                while (true)
                {
                    var line = await run.Stdout.ReadLineAsync(cts.Token)
                        ?? throw new Xunit.Sdk.XunitException("the run ended early: " + await CliProcess.Drained(run.Stderr));
                    using var e = JsonDocument.Parse(line);
                    if (e.RootElement.GetProperty("event").GetString() == "report") break;
                }
            if (wholeJob)
            {
                var trial = System.Diagnostics.Process.GetProcessById(int.Parse(File.ReadAllText(Path.Combine(kit.RunDir(), "trials", "0", "pid")), System.Globalization.CultureInfo.InvariantCulture));
                StudyKit.Signal(trial, 15);
                // The order that loses the race without StopSettle: the program has checkpointed and exited 0 before the
                // runner's own signal arrives (a batch system signals each process of a job in turn).
                using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(1));
                await trial.WaitForExitAsync(cts.Token);
            }
            run.Signal(15);
            var rest = run.Stdout.ReadToEndAsync();
            Assert.Equal(143, await run.WaitForExitAsync(TimeSpan.FromMinutes(1)));
            await CliProcess.Drained(rest);
        }
        var interrupted = Assert.Single(await kit.TrialsAsync());
        Assert.Equal("Failed", interrupted.GetProperty("state").GetString());
        Assert.Equal("interrupted", interrupted.GetProperty("fail_reason").GetString());
        Assert.True(File.Exists(Path.Combine(kit.RunDir(), "trials", "0", "checkpoint.json")));

        var resume = await kit.CliS("run", "study.yaml");
        Assert.True(resume.ExitCode == 0, resume.ToString());
        var complete = (await kit.TrialsAsync()).Single(t => t.GetProperty("state").GetString() == "Complete");
        Assert.Equal(3.0, complete.GetProperty("metrics").GetProperty("resumed_from_epoch").GetDouble());
    }

    /// <summary>True while <paramref name="pid"/> runs one of this test's programs (a zombie has exited; a recycled pid runs another program).</summary>
    /// <summary>
    /// Whether <paramref name="pid"/> is a live (not zombie) process working in <paramref name="dir"/> or below, as a
    /// test's trial programs and their children do in its kit's folder. The folder, not the program's name, tells
    /// this test's process from a recycled pid: pid_max is 32,768 here and a CI run spawns more threads than that, so
    /// another test's clean-up once found this test's data-loader child under a dead program's pid (both ran an
    /// "obj.py") and killed it.
    /// </summary>
    internal static bool IsAlive(int pid, string dir)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            if (stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z')) return false;
            var cwd = new FileInfo($"/proc/{pid}/cwd").LinkTarget;
            return cwd is not null && (cwd + "/").StartsWith(Path.GetFullPath(dir).TrimEnd('/') + "/", StringComparison.Ordinal);
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }
}
