using System.Diagnostics;
using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Storage;
using Tunesmith.Storage.Sql;
using Xunit;

namespace Tunesmith.Tests.Storage;

/// <summary>
/// Real worker processes (tests/Tunesmith.TestWorker, built with this project) sharing one SQLite study: resume across
/// processes, and eight processes at once under one study-wide trial budget.
/// </summary>
public sealed class CrossProcessStorageEndToEndTests : IDisposable
{
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromMinutes(3);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private sealed record WorkerResult(int ExitCode, string Stdout, string Stderr);

    /// <summary>The worker's dll beside this test assembly's build: tests/Tunesmith.TestWorker/bin/{configuration}/{tfm}/.</summary>
    private static string WorkerDll()
    {
        var bin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var tfm = bin.Name;
        var configuration = bin.Parent!.Name;
        var tests = bin.Parent.Parent!.Parent!.Parent!.FullName;
        var dll = Path.Combine(tests, "Tunesmith.TestWorker", "bin", configuration, tfm, "Tunesmith.TestWorker.dll");
        Assert.True(File.Exists(dll), $"test worker not built at {dll}");
        return dll;
    }

    private static string DotnetHost() =>
        Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : "dotnet";

    private static async Task<WorkerResult> RunWorkerAsync(params string[] args)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(WorkerDll());
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(ProcessTimeout);
        try { await process.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"worker {string.Join(' ', args)} did not finish in {ProcessTimeout}");
        }
        return new WorkerResult(process.ExitCode, await stdout, await stderr);
    }

    private static async Task<IReadOnlyList<FrozenTrial>> ReadTrialsAsync(string url, string study)
    {
        await using var storage = StudyStorage.Open(url);
        var record = await storage.GetStudyAsync(study);
        Assert.NotNull(record);
        return (await storage.GetTrialsSinceAsync(record.Id, 0)).Trials;
    }

    [Fact]
    public async Task A_study_created_in_one_process_is_resumed_in_another()
    {
        var url = "sqlite:///" + _dir.File("resume.db");
        var first = await RunWorkerAsync("--storage", url, "--study", "resume", "--trials", "5", "--seed", "1");
        Assert.True(first.ExitCode == 0, first.Stderr);
        var afterFirst = await ReadTrialsAsync(url, "resume");
        Assert.Equal(Enumerable.Range(0, 5), afterFirst.Select(t => t.Number));

        var second = await RunWorkerAsync("--storage", url, "--study", "resume", "--trials", "12", "--seed", "2");
        Assert.True(second.ExitCode == 0, second.Stderr);
        var trials = await ReadTrialsAsync(url, "resume");
        Assert.Equal(Enumerable.Range(0, 12), trials.Select(t => t.Number));
        Assert.All(trials, t => Assert.Equal(TrialState.Complete, t.State));
        // The first five are untouched; the next seven were run by another process.
        Assert.Equal(afterFirst.Select(t => (t.Id, t.Value, t.Worker)), trials.Take(5).Select(t => (t.Id, t.Value, t.Worker)));
        var firstWorker = Assert.Single(trials.Take(5).Select(t => t.Worker).Distinct());
        Assert.DoesNotContain(firstWorker, trials.Skip(5).Select(t => t.Worker));
    }

    [Fact]
    public async Task A_worker_killed_mid_run_loses_no_committed_trial_and_its_running_trials_can_be_failed_and_resumed()
    {
        var path = _dir.File("killed.db");
        var url = "sqlite:///" + path;
        var start = new ProcessStartInfo(DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(WorkerDll());
        foreach (var a in new[] { "--storage", url, "--study", "killed", "--trials", "1000000", "--parallel", "2" }) start.ArgumentList.Add(a);
        using (var process = Process.Start(start)!)
        {
            _ = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            // Wait until the worker has committed a few dozen trials, then kill -9 it in mid-run.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            int complete;
            while ((complete = await CompleteCountAsync(url, "killed")) < 50)
            {
                if (process.HasExited) Assert.Fail("worker exited early: " + await stderr);
                Assert.True(DateTime.UtcNow < deadline, $"worker made no progress: {complete} complete");
                await Task.Delay(50);
            }
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        await using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            using var check = c.CreateCommand();
            check.CommandText = "PRAGMA integrity_check";
            Assert.Equal("ok", (string)check.ExecuteScalar()!);
        }
        int total;
        await using (var storage = StudyStorage.Open(url))
        {
            var study = (await storage.GetStudyAsync("killed"))!;
            var trials = (await storage.GetTrialsSinceAsync(study.Id, 0)).Trials;
            total = trials.Count;
            Assert.Equal(Enumerable.Range(0, total), trials.Select(t => t.Number));
            Assert.InRange(trials.Count(t => t.State == TrialState.Running), 0, 2);
            Assert.All(trials.Where(t => t.State == TrialState.Complete), t => Assert.NotNull(t.Value));
            var failed = await storage.FailStaleTrialsAsync(study.Id, DateTimeOffset.UtcNow + TimeSpan.FromSeconds(1));
            Assert.All(failed, t => Assert.StartsWith("stale", t.FailReason));
            Assert.DoesNotContain(await storage.CountTrialsAsync(study.Id), kv => kv.Key == TrialState.Running);
        }

        var resumed = await RunWorkerAsync("--storage", url, "--study", "killed", "--trials", (total + 10).ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        var after = await ReadTrialsAsync(url, "killed");
        Assert.Equal(Enumerable.Range(0, total + 10), after.Select(t => t.Number));
        Assert.Equal(10, after.Skip(total).Count(t => t.State == TrialState.Complete));
    }

    private static async Task<int> CompleteCountAsync(string url, string study)
    {
        await using var storage = StudyStorage.Open(url);
        return await storage.GetStudyAsync(study) is { } record
            ? (await storage.CountTrialsAsync(record.Id)).GetValueOrDefault(TrialState.Complete)
            : 0;
    }

    [Fact]
    public async Task Eight_processes_optimize_one_sqlite_study_within_its_budget_without_lock_errors()
    {
        const int budget = 400;
        var url = "sqlite:///" + _dir.File("eight.db");
        // All eight start on a fresh file at once (a start barrier), so schema creation and CreateOrLoad race too. Each trial
        // takes 5 ms: instant trials let one process run the whole budget (~40 ms) while the others' SQLite busy handlers
        // back off, on a quiet machine.
        var barrier = _dir.File("barrier");
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            RunWorkerAsync("--storage", url, "--study", "eight", "--trials", budget.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--parallel", "2", "--seed", i.ToString(System.Globalization.CultureInfo.InvariantCulture), "--barrier", barrier, "--barrier-count", "8", "--sleep-ms", "5")));

        Assert.All(results, r => Assert.True(r.ExitCode == 0, r.Stderr));
        Assert.All(results, r => Assert.DoesNotContain("locked", r.Stderr, StringComparison.OrdinalIgnoreCase));
        Assert.All(results, r => Assert.DoesNotContain("busy", r.Stderr, StringComparison.OrdinalIgnoreCase));

        var trials = await ReadTrialsAsync(url, "eight");
        Assert.Equal(budget, trials.Count(t => t.State != TrialState.Waiting));
        Assert.Equal(Enumerable.Range(0, budget), trials.Select(t => t.Number));
        Assert.All(trials, t => Assert.Equal(TrialState.Complete, t.State));
        Assert.True(trials.Select(t => t.Worker).Distinct().Count() > 1, "expected trials from several processes");
        await using var storage = StudyStorage.Open(url);
        Assert.Single(await storage.ListStudiesAsync(), s => s.Study.Name == "eight");
    }
}
