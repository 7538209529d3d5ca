using System.Diagnostics;
using System.Globalization;
using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Storage;
using Tunesmith.Storage.Sql;
using Xunit;

namespace Tunesmith.Tests.Storage;

/// <summary>A worker process (tests/Tunesmith.TestWorker) that a test can wait for or kill.</summary>
internal sealed class WorkerProcess : IDisposable
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(3);
    private readonly Process _process;
    private readonly Task<string> _stdout;
    private readonly Task<string> _stderr;

    private WorkerProcess(Process process)
    {
        _process = process;
        _stdout = process.StandardOutput.ReadToEndAsync();
        _stderr = process.StandardError.ReadToEndAsync();
    }

    public static WorkerProcess Start(params string[] args)
    {
        var start = new ProcessStartInfo(DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(WorkerDll());
        foreach (var a in args) start.ArgumentList.Add(a);
        return new WorkerProcess(Process.Start(start)!);
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Waits for the exit; returns (exit code, stderr).</summary>
    public async Task<(int ExitCode, string Stderr)> WaitAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try { await _process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException($"worker did not finish in {timeout ?? DefaultTimeout}: {await _stderr}");
        }
        await _stdout;
        return (_process.ExitCode, await _stderr);
    }

    /// <summary>SIGKILL: the process gets no chance to tell or clean up, like a node that dies.</summary>
    public async Task KillHardAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public void Dispose()
    {
        try { if (!_process.HasExited) _process.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { }
        _process.Dispose();
    }

    private static string WorkerDll()
    {
        var bin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var tests = bin.Parent!.Parent!.Parent!.Parent!.FullName;
        var dll = Path.Combine(tests, "Tunesmith.TestWorker", "bin", bin.Parent.Name, bin.Name, "Tunesmith.TestWorker.dll");
        Assert.True(File.Exists(dll), $"test worker not built at {dll}");
        return dll;
    }

    private static string DotnetHost() =>
        Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : "dotnet";
}

/// <summary>
/// Independent worker processes on one PostgreSQL study: the budget and trial numbers across 8 processes, a grid across 6,
/// a worker killed mid-trial (its trial failed as stale and retried), a server restart mid-study.
/// </summary>
public sealed class PostgresWorkersEndToEndTests
{
    private static readonly TimeSpan ConditionTimeout = TimeSpan.FromSeconds(90);

    private static string S(int n) => n.ToString(CultureInfo.InvariantCulture);

    private static async Task<IReadOnlyList<FrozenTrial>> TrialsAsync(string url, string study)
    {
        await using var storage = StudyStorage.Open(url);
        var record = await storage.GetStudyAsync(study);
        return record is null ? [] : (await storage.GetTrialsSinceAsync(record.Id, 0)).Trials;
    }

    /// <summary>Polls storage until <paramref name="condition"/> holds (no fixed sleep stands in for it).</summary>
    private static async Task<IReadOnlyList<FrozenTrial>> WaitForAsync(string url, string study, Func<IReadOnlyList<FrozenTrial>, bool> condition, string what)
    {
        var timer = Stopwatch.StartNew();
        while (true)
        {
            var trials = await TrialsAsync(url, study);
            if (condition(trials)) return trials;
            if (timer.Elapsed > ConditionTimeout) throw new TimeoutException($"waited {ConditionTimeout} for {what}");
            await Task.Delay(50);
        }
    }

    [SkippableFact]
    public async Task Eight_worker_processes_run_a_500_trial_study_with_every_number_exactly_once()
    {
        using var schema = PostgresTestServer.NewSchema();
        const int budget = 500;
        var workers = Enumerable.Range(0, 8).Select(i => WorkerProcess.Start(
            "--storage", schema.Url, "--study", "eight", "--trials", S(budget), "--parallel", "2", "--seed", S(i))).ToList();
        try
        {
            var results = await Task.WhenAll(workers.Select(w => w.WaitAsync()));
            Assert.All(results, r => Assert.True(r.ExitCode == 0, r.Stderr));
            var trials = await TrialsAsync(schema.Url, "eight");
            Assert.Equal(Enumerable.Range(0, budget), trials.Select(t => t.Number));
            Assert.All(trials, t => Assert.Equal(TrialState.Complete, t.State));
            Assert.Equal(budget, trials.Select(t => t.Id).Distinct().Count());
            Assert.True(trials.Select(t => t.Worker).Distinct().Count() > 1, "expected trials from several processes");
        }
        finally { workers.ForEach(w => w.Dispose()); }
    }

    [SkippableFact]
    public async Task Grid_runs_each_point_once_with_six_workers()
    {
        using var schema = PostgresTestServer.NewSchema();
        // The worker's grid is 6 x 5 = 30 points; a budget above it shows that the grid, not the budget, ends the study.
        var workers = Enumerable.Range(0, 6).Select(i => WorkerProcess.Start(
            "--storage", schema.Url, "--study", "grid", "--trials", "100", "--sampler", "grid", "--seed", S(i))).ToList();
        try
        {
            var results = await Task.WhenAll(workers.Select(w => w.WaitAsync()));
            Assert.All(results, r => Assert.True(r.ExitCode == 0, r.Stderr));
            var trials = await TrialsAsync(schema.Url, "grid");
            Assert.Equal(30, trials.Count);
            Assert.All(trials, t => Assert.Equal(TrialState.Complete, t.State));
            var points = trials.Select(t => ((long)t.Params["a"]!, (string)t.Params["b"]!)).ToList();
            Assert.Equal(30, points.Distinct().Count());
            Assert.Equal(
                from a in Enumerable.Range(0, 6) from b in new[] { "p", "q", "r", "s", "t" } select ((long)a, b),
                points.Order());
        }
        finally { workers.ForEach(w => w.Dispose()); }
    }

    [SkippableFact]
    public async Task A_worker_killed_mid_trial_has_its_trial_failed_as_crashed_and_retried_and_the_study_completes()
    {
        using var schema = PostgresTestServer.NewSchema();
        var grace = TimeSpan.FromSeconds(2);
        using var doomed = WorkerProcess.Start("--storage", schema.Url, "--study", "kill", "--trials", "6",
            "--sleep-ms", "600000", "--heartbeat-ms", "200", "--grace-ms", S((int)grace.TotalMilliseconds));
        // Mid-trial: started, its params stored, its objective running.
        static bool MidTrial(FrozenTrial t) => t.State == TrialState.Running && t.Params.Count > 0;
        var running = (await WaitForAsync(schema.Url, "kill", ts => ts.Any(MidTrial), "the first trial to be mid-run")).Single(MidTrial);
        await doomed.KillHardAsync();
        // The dead worker was a process of this machine: the next worker finds it gone at once, without waiting out the grace.

        using var survivor = WorkerProcess.Start("--storage", schema.Url, "--study", "kill", "--trials", "6",
            "--sleep-ms", "100", "--heartbeat-ms", "200", "--grace-ms", "600000");
        var (exit, stderr) = await survivor.WaitAsync();
        Assert.True(exit == 0, stderr);
        Assert.Contains("failed: crashed: its runner", stderr);

        var trials = await TrialsAsync(schema.Url, "kill");
        var stale = trials.Single(t => t.Id == running.Id);
        Assert.Equal(TrialState.Failed, stale.State);
        Assert.StartsWith("crashed: ", stale.FailReason);
        var retry = trials.Single(t => t.SystemAttributes.TryGetValue(SystemAttributeKeys.RetryOf, out var of) && Equals(of, (long)stale.Number));
        Assert.Equal(TrialState.Complete, retry.State);
        Assert.Equal(stale.Params, retry.Params);
        Assert.Equal((long)retry.Number, stale.SystemAttributes[SystemAttributeKeys.RetriedBy]);
        // The budget of 6 is met by finished trials; the stale one no longer counts.
        Assert.Equal(6, trials.Count(t => t.State == TrialState.Complete));
        Assert.DoesNotContain(trials, t => t.State is TrialState.Running or TrialState.Waiting);
    }

    [SkippableFact]
    public async Task A_server_restart_mid_study_is_ridden_out_and_every_finished_trial_is_kept()
    {
        _ = PostgresTestServer.Url; // skip or fail like every PostgreSQL test when there is no server (and so no binaries)
        using var dir = new TempDirectory();
        var port = PostgresTestServer.PrivateServerPort();
        var script = Path.Combine(RepositoryRoot(), "scripts", "postgres-local.sh");
        var url = (await RunScriptAsync(script, "start", "--port", S(port), "--dir", dir.File("pg"))).Trim();
        var workers = new List<WorkerProcess>();
        try
        {
            const int budget = 300;
            // 50 ms trials: about 5 s of work, so the study is still running through the restart (about 1 s).
            workers.AddRange(Enumerable.Range(0, 3).Select(i => WorkerProcess.Start("--storage", url, "--study", "restart",
                "--trials", S(budget), "--sleep-ms", "50", "--heartbeat-ms", "500", "--grace-ms", "5000", "--retries", "2", "--seed", S(i))));
            var before = await WaitForAsync(url, "restart", ts => ts.Count(t => t.State == TrialState.Complete) >= 40, "40 trials before the restart");
            await RunScriptAsync(script, "restart", "--port", S(port), "--dir", dir.File("pg"));
            Assert.Contains(workers, w => !w.HasExited);

            var results = await Task.WhenAll(workers.Select(w => w.WaitAsync()));
            Assert.All(results, r => Assert.True(r.ExitCode == 0, r.Stderr));
            var after = await TrialsAsync(url, "restart");
            var byId = after.ToDictionary(t => t.Id);
            foreach (var done in before.Where(t => t.State == TrialState.Complete))
            {
                Assert.True(byId.TryGetValue(done.Id, out var kept), $"trial {done.Number} was lost");
                Assert.Equal((done.State, done.Value), (kept.State, kept.Value));
                Assert.Equal(done.Params, kept.Params);
            }
            Assert.Equal(budget, after.Count(t => t.State == TrialState.Complete));
            Assert.Equal(after.Count, after.Select(t => t.Number).Distinct().Count());
            Assert.DoesNotContain(after, t => t.State is TrialState.Running or TrialState.Waiting);
        }
        finally
        {
            workers.ForEach(w => w.Dispose());
            await RunScriptAsync(script, "purge", "--port", S(port), "--dir", dir.File("pg"));
        }
    }

    private static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "scripts", "postgres-local.sh"))) return d.FullName;
        throw new InvalidOperationException("scripts/postgres-local.sh not found above " + AppContext.BaseDirectory);
    }

    private static async Task<string> RunScriptAsync(string script, params string[] args)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(script);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await p.WaitForExitAsync(cts.Token);
        Assert.True(p.ExitCode == 0, $"{Path.GetFileName(script)} {string.Join(' ', args)}: {await stderr}");
        return await stdout;
    }
}
