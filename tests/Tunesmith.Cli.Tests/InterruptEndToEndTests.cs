using System.Text.Json;

namespace Tunesmith.Cli.Tests;

/// <summary>
/// SIGINT (Ctrl+C) or SIGTERM (Slurm's scancel, a walltime limit) to `tunesmith run` stops the running trials' whole
/// process trees, records them Failed "interrupted", exits 130 or 143, and the study resumes.
/// </summary>
public sealed class InterruptEndToEndTests
{
    [Theory]
    [InlineData(2, 130)]  // SIGINT
    [InlineData(15, 143)] // SIGTERM
    public async Task A_signal_during_run_stops_trial_trees_keeps_finished_trials_leaves_none_running_and_the_next_run_resumes(int signal, int exitCode)
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
                    pids.AddRange(File.ReadAllText(Path.Combine(kit.Dir, "runs", "s", "trials", n.ToString(System.Globalization.CultureInfo.InvariantCulture), "pids"))
                        .Split(' ').Select(p => int.Parse(p, System.Globalization.CultureInfo.InvariantCulture)));
                Assert.Equal(4, pids.Count);
                Assert.All(pids, p => Assert.True(IsAlive(p), $"pid {p} should run before the signal"));

                run.Signal(signal);
                var rest = run.Stdout.ReadToEndAsync();
                Assert.Equal(exitCode, await run.WaitForExitAsync(TimeSpan.FromMinutes(1)));
                await CliProcess.Drained(rest);
                Assert.DoesNotContain("   at ", await CliProcess.Drained(run.Stderr));
            }
            // The trial programs and their children (in sessions of their own, out of reach of a terminal's signal) are gone.
            Assert.All(pids, p => Assert.False(IsAlive(p), $"pid {p} outlived the interrupted run"));
        }
        finally
        {
            foreach (var p in pids.Where(IsAlive)) StudyKit.Signal(System.Diagnostics.Process.GetProcessById(p), 9);
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
        var after = await kit.TrialsAsync();
        Assert.DoesNotContain(after, t => t.GetProperty("state").GetString() is "Running" or "Waiting");
        var complete = after.Where(t => t.GetProperty("state").GetString() == "Complete").ToList();
        Assert.Equal(4, complete.Count);
        foreach (var (number, value) in before) // no finished trial lost or changed
            Assert.Contains(complete, t => t.GetProperty("number").GetInt32() == number && t.GetProperty("value").GetDouble() == value);
    }

    /// <summary>True while <paramref name="pid"/> runs one of this test's programs (a zombie has exited; a recycled pid runs another program).</summary>
    internal static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            if (stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z')) return false;
            return File.ReadAllText($"/proc/{pid}/cmdline").Contains("obj.py", StringComparison.Ordinal);
        }
        catch (IOException) { return false; }
    }
}
