using System.Globalization;
using Tunesmith.Execution;
using Tunesmith.Storage;
using Tunesmith.Tests.Storage;
using Tunesmith.Trials;

namespace Tunesmith.Cli.Tests;

/// <summary>
/// Hard crashes with real processes: <c>kill -9</c> of a runner in the middle of a study. The study still ends with its
/// budget of Complete trials, none twice, and nothing the dead runner started is left running. Trials block on a gate
/// file while the test kills the runner, so the kill always lands mid-trial; every wait is on a file or a row, with a
/// deadline.
/// </summary>
public sealed class CrashRecoveryEndToEndTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    // Each trial starts a child that would sleep for an hour (so that it outlives its parent unless someone kills it),
    // records both pids, and waits while the gate file exists.
    private const string Program = """
        import os, subprocess, sys, time
        pids = os.environ["PIDS"]
        child = subprocess.Popen(["sleep", "3600"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        n = os.environ["TUNESMITH_TRIAL_NUMBER"]
        with open(os.path.join(pids, "t%s.tmp" % n), "w") as f:
            f.write("%d %d\n" % (os.getpid(), child.pid))
        os.replace(os.path.join(pids, "t%s.tmp" % n), os.path.join(pids, "t%s" % n))
        while os.path.exists(os.environ["GATE"]):
            time.sleep(0.02)
        print(float(sys.argv[1]))
        """;

    [Fact]
    public async Task Sqlite_run_killed_with_sigkill_then_run_again_completes_exactly_the_budget_and_leaves_no_process()
    {
        using var kit = new StudyKit();
        await KilledRunThenRunAgainAsync(kit, kit.Storage);
    }

    [SkippableFact]
    public async Task Postgres_run_killed_with_sigkill_then_run_again_completes_exactly_the_budget_and_leaves_no_process()
    {
        await using var schema = PostgresTestServer.NewSchema();
        using var kit = new StudyKit();
        await KilledRunThenRunAgainAsync(kit, schema.Url);
    }

    private static async Task KilledRunThenRunAgainAsync(StudyKit kit, string storageUrl)
    {
        const int budget = 8;
        var (env, pids, gate) = Prepare(kit, budget, parallel: 2);
        try
        {
            using (var run = CliBackground.Start(kit.Dir, ["run", "study.yaml", "--storage", storageUrl], env))
            {
                var drain = run.Stdout.ReadToEndAsync();
                await Eventually.HoldsAsync(() => run.Process.HasExited || Directory.GetFiles(pids, "t?").Length >= 2, Timeout, "two trials to start");
                if (run.Process.HasExited) Assert.Fail("the run ended before its trials started: " + await run.Stderr);
                // The runner records each program's pid just after starting it (a kill within those milliseconds leaves the
                // program's children to their fate: docs/RELIABILITY.md); this test kills it after.
                await Eventually.HoldsAsync(async () => (await TrialsAsync(storageUrl)).Count(t => t.SystemAttributes.ContainsKey(SystemAttributeKeys.ProcessId)) >= 2,
                    Timeout, "the runner to record its trials' pids");
                run.Signal(9);
                Assert.Equal(137, await run.WaitForExitAsync(Timeout));
                await CliProcess.Drained(drain);
            }
            var killed = ReadPids(pids);
            Assert.Equal(2, killed.Count);
            // The programs were tied to their runner (SIGKILL when it died); their own children were not, yet.
            await Eventually.HoldsAsync(() => killed.All(p => !InterruptEndToEndTests.IsAlive(p.Program, kit.Dir)), TimeSpan.FromSeconds(20),
                "the dead runner's trial programs to die with it");
            Assert.Equal(2, (await TrialsAsync(storageUrl)).Count(t => t.State == TrialState.Running)); // nobody recorded the kill

            File.Delete(gate);
            var again = await CliProcess.RunAsync(kit.Dir, ["run", "study.yaml", "--storage", storageUrl], env, Timeout);
            Assert.True(again.ExitCode == 0, again.ToString());
            Assert.Contains($"[{budget}/{budget}]", again.Stdout);
            foreach (var (number, _, _) in killed)
            {
                Assert.Matches($"trial {number} of worker .* marked Failed \\(crashed: its runner \\(pid \\d+ on .*\\) is gone; killed 1 leftover process of its program\\); retried as trial \\d+", again.Stderr);
                // One line a recovered trial: the library's warning of it is not printed beside the run's own line.
                Assert.Single(again.Stderr.Split('\n'), l => l.Contains($"rial {number} of worker ", StringComparison.Ordinal));
            }

            var trials = await TrialsAsync(storageUrl);
            AssertBudgetCompletedOnce(trials, budget);
            Assert.Equal(2, trials.Count(t => t.State == TrialState.Failed && t.FailReason!.StartsWith("crashed: ", StringComparison.Ordinal)));
            // The crashed trials ran again with their own params, in their own directories.
            foreach (var failed in trials.Where(t => t.State == TrialState.Failed))
            {
                var retry = trials.Single(t => t.SystemAttributes.TryGetValue(SystemAttributeKeys.RetryOf, out var r) && Convert.ToInt64(r, CultureInfo.InvariantCulture) == failed.Number);
                Assert.Equal(TrialState.Complete, retry.State);
                Assert.Equal(failed.Params["x"], retry.Params["x"]);
                Assert.Equal(failed.SystemAttributes["trial_dir"], retry.SystemAttributes["trial_dir"]);
            }
            AssertNoneAlive(pids);
        }
        finally { KillAll(pids); }
    }

    [SkippableFact]
    public async Task Four_postgres_workers_one_killed_with_sigkill_complete_the_budget_and_leave_no_process()
    {
        await using var schema = PostgresTestServer.NewSchema();
        using var kit = new StudyKit();
        const int budget = 12;
        var (env, pids, gate) = Prepare(kit, budget, parallel: 1);
        var created = await CliProcess.RunAsync(kit.Dir, ["create", "study.yaml", "--storage", schema.Url], env);
        Assert.True(created.ExitCode == 0, created.ToString());
        var workers = Enumerable.Range(0, 4)
            .Select(_ => CliBackground.Start(kit.Dir, ["worker", "--study", "s", "--storage", schema.Url, "--heartbeat", "1"], env)).ToList();
        try
        {
            var drains = workers.Select(w => w.Stdout.ReadToEndAsync()).ToList();
            await Eventually.HoldsAsync(() => workers.Any(w => w.Process.HasExited) || Directory.GetFiles(pids, "t*").Count(f => !f.EndsWith(".tmp", StringComparison.Ordinal)) >= 4,
                Timeout, "four trials to start");
            await Eventually.HoldsAsync(async () => (await TrialsAsync(schema.Url)).Count(t => t.SystemAttributes.ContainsKey(SystemAttributeKeys.ProcessId)) >= 4,
                Timeout, "the workers to record their trials' pids");
            if (workers.FirstOrDefault(w => w.Process.HasExited) is { } early) Assert.Fail("a worker ended before its trial started: " + await early.Stderr);
            var victim = workers[1];
            victim.Signal(9);
            Assert.Equal(137, await victim.WaitForExitAsync(Timeout));
            File.Delete(gate);

            var survivors = workers.Where(w => w != victim).ToList();
            foreach (var w in survivors)
                if (await w.WaitForExitAsync(Timeout) != 0) Assert.Fail("a surviving worker failed: " + await w.Stderr);
            foreach (var d in drains) await CliProcess.Drained(d);
            var stderr = string.Join("\n", await Task.WhenAll(survivors.Select(w => w.Stderr)));
            Assert.Matches($"marked Failed \\(crashed: its runner \\(pid {victim.Process.Id} on .*\\) is gone", stderr);

            var trials = await TrialsAsync(schema.Url);
            AssertBudgetCompletedOnce(trials, budget);
            Assert.Single(trials, t => t.State == TrialState.Failed);
            AssertNoneAlive(pids);
        }
        finally
        {
            foreach (var w in workers) w.Dispose();
            KillAll(pids);
        }
    }

    [SkippableFact]
    public async Task Postgres_server_restarted_mid_study_the_run_completes_the_budget()
    {
        _ = PostgresTestServer.Url; // skips or fails as every PostgreSQL test does when there is no server at all
        var port = PostgresTestServer.PrivateServerPort();
        using var pgDir = new TempDir();
        var script = Path.Combine(StudyKit.RepoRoot(), "scripts", "postgres-local.sh");
        var started = await Shell(script, "start", "--port", port.ToString(CultureInfo.InvariantCulture), "--dir", pgDir.Path);
        Assert.True(started.ExitCode == 0, started.ToString());
        var url = started.Stdout.Trim();
        try
        {
            using var kit = new StudyKit();
            const int budget = 6;
            var (env, pids, gate) = Prepare(kit, budget, parallel: 2);
            try
            {
                using var run = CliBackground.Start(kit.Dir, ["run", "study.yaml", "--storage", url], env);
                var drain = run.Stdout.ReadToEndAsync();
                await Eventually.HoldsAsync(() => run.Process.HasExited || Directory.GetFiles(pids, "t?").Length >= 2, Timeout, "two trials to start");
                if (run.Process.HasExited) Assert.Fail("the run ended before its trials started: " + await run.Stderr);
                var restarted = await Shell(script, "restart", "--port", port.ToString(CultureInfo.InvariantCulture), "--dir", pgDir.Path);
                Assert.True(restarted.ExitCode == 0, restarted.ToString());
                File.Delete(gate);
                if (await run.WaitForExitAsync(Timeout) != 0) Assert.Fail("the run failed: " + await run.Stderr);
                var stdout = await CliProcess.Drained(drain);
                Assert.Contains($"[{budget}/{budget}]", stdout);
                AssertBudgetCompletedOnce(await TrialsAsync(url), budget);
                AssertNoneAlive(pids);
            }
            finally { KillAll(pids); }
        }
        finally { await Shell(script, "purge", "--port", port.ToString(CultureInfo.InvariantCulture), "--dir", pgDir.Path); }
    }

    // ---------------------------------------------------------------- helpers

    private static (Dictionary<string, string?> Env, string Pids, string Gate) Prepare(StudyKit kit, int budget, int parallel)
    {
        kit.Write("obj.py", Program);
        kit.StudyFile($$"""
            command: {{StudyKit.Python}} obj.py {x}
            space:
              x: { float: [0, 1] }
            trials: {{budget}}
            parallel: {{parallel}}
            """);
        var pids = Path.Combine(kit.Dir, "pids");
        Directory.CreateDirectory(pids);
        var gate = kit.Write("gate", "");
        return (new Dictionary<string, string?> { ["PIDS"] = pids, ["GATE"] = gate }, pids, gate);
    }

    private static void AssertBudgetCompletedOnce(IReadOnlyList<FrozenTrial> trials, int budget)
    {
        Assert.DoesNotContain(trials, t => t.State is TrialState.Running or TrialState.Waiting);
        var complete = trials.Where(t => t.State == TrialState.Complete).ToList();
        Assert.Equal(budget, complete.Count);
        // No trial's params completed twice: each Complete trial is a different first attempt.
        var roots = complete.Select(t => t.SystemAttributes.TryGetValue(SystemAttributeKeys.RetryOf, out var r) ? Convert.ToInt64(r, CultureInfo.InvariantCulture) : t.Number);
        Assert.Equal(budget, roots.Distinct().Count());
        // Every Failed trial was a crash that was retried.
        Assert.All(trials.Where(t => t.State == TrialState.Failed), t =>
        {
            Assert.True(Study.IsCrashReason(t.FailReason), t.FailReason);
            Assert.True(t.SystemAttributes.ContainsKey(SystemAttributeKeys.RetriedBy));
        });
    }

    private static List<(int Number, int Program, int Child)> ReadPids(string folder) =>
        Directory.GetFiles(folder).Where(f => !f.EndsWith(".tmp", StringComparison.Ordinal)).Select(f =>
        {
            var parts = File.ReadAllText(f).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return (int.Parse(Path.GetFileName(f)[1..], CultureInfo.InvariantCulture), int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture));
        }).ToList();

    private static void AssertNoneAlive(string folder)
    {
        foreach (var (number, program, child) in ReadPids(folder))
        {
            Assert.False(InterruptEndToEndTests.IsAlive(program, KitOf(folder)), $"trial {number}'s program (pid {program}) is still running");
            Assert.False(InterruptEndToEndTests.IsAlive(child, KitOf(folder)), $"trial {number}'s child (pid {child}) is still running");
        }
    }

    // The pid folder is the kit's "pids"; its trial programs run in the kit's folder.
    private static string KitOf(string pidFolder) => Path.GetDirectoryName(pidFolder)!;

    private static void KillAll(string folder)
    {
        if (!Directory.Exists(folder)) return;
        foreach (var (_, program, child) in ReadPids(folder))
            foreach (var pid in new[] { program, child })
                if (InterruptEndToEndTests.IsAlive(pid, KitOf(folder)))
                    try { StudyKit.Signal(System.Diagnostics.Process.GetProcessById(pid), 9); } catch (ArgumentException) { } catch (InvalidOperationException) { }
    }

    private static async Task<IReadOnlyList<FrozenTrial>> TrialsAsync(string url)
    {
        await using var storage = StudyStorage.Open(url);
        var study = await storage.GetStudyAsync("s") ?? throw new Xunit.Sdk.XunitException("study 's' is missing");
        return (await storage.GetTrialsSinceAsync(study.Id, 0)).Trials;
    }

    private static async Task<CliResult> Shell(string program, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(Timeout);
        await p.WaitForExitAsync(cts.Token);
        return new CliResult(p.ExitCode, await o, await e);
    }
}
