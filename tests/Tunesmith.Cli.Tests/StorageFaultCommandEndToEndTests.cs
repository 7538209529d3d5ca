using Tunesmith.Storage;
using Tunesmith.Tests.Storage;
using Tunesmith.Trials;

namespace Tunesmith.Cli.Tests;

/// <summary>
/// <c>tunesmith run</c> of command trials on PostgreSQL whose connections are killed on the server
/// (<c>pg_terminate_backend</c>, only this run's: its own <c>application_name</c>) while a trial runs: the trial's result
/// is told over a dead connection, retried, and stored; the run completes its budget and exits 0.
/// </summary>
public sealed class StorageFaultCommandEndToEndTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    [SkippableFact]
    public async Task Connections_killed_while_a_command_trial_runs_lose_nothing_and_the_run_completes_its_budget()
    {
        await using var schema = PostgresTestServer.NewSchema();
        using var kit = new StudyKit();
        var application = "tunesmith-victim-" + schema.Name;
        var url = schema.Url + "&application_name=" + application;
        WriteHeldStudy(kit);

        using var run = CliBackground.Start(kit.Dir, ["run", "study.yaml", "--storage", url]);
        var stdout = run.Stdout.ReadToEndAsync();
        await Eventually.HoldsAsync(() => run.Process.HasExited || File.Exists(Path.Combine(kit.Dir, "held")), Timeout, "the first trial to start");
        if (run.Process.HasExited) Assert.Fail("the run ended before its first trial held: " + await run.Stderr);
        schema.Execute($"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{application}'");
        File.WriteAllText(Path.Combine(kit.Dir, "release"), "");

        var code = await run.WaitForExitAsync(Timeout);
        var stderr = await run.Stderr;
        Assert.True(code == 0, $"exit {code}\n{await stdout}\n{stderr}");
        // The outage was said on stderr, the password hidden.
        Assert.Contains("transient fault", stderr, StringComparison.Ordinal);
        var password = Tunesmith.Storage.Sql.PostgresUrl.Parse(url).Password;
        if (!string.IsNullOrEmpty(password)) Assert.DoesNotContain(password, stderr, StringComparison.Ordinal);

        await using var storage = StudyStorage.Open(schema.Url);
        var study = await storage.GetStudyAsync("s") ?? throw new Xunit.Sdk.XunitException("study 's' is missing");
        var trials = (await storage.GetTrialsSinceAsync(study.Id, 0)).Trials;
        Assert.Equal(4, trials.Count);
        Assert.All(trials, t =>
        {
            Assert.Equal(TrialState.Complete, t.State);
            Assert.Equal((double)t.Params["x"]!, t.Value!.Value, 9);
        });
    }

    [SkippableFact]
    public async Task A_result_the_server_refuses_ends_the_run_in_one_line_and_the_next_run_retries_the_trial()
    {
        await using var schema = PostgresTestServer.NewSchema();
        using var kit = new StudyKit();
        WriteHeldStudy(kit);

        using (var run = CliBackground.Start(kit.Dir, ["run", "study.yaml", "--storage", schema.Url]))
        {
            var stdout = run.Stdout.ReadToEndAsync();
            await Eventually.HoldsAsync(() => run.Process.HasExited || File.Exists(Path.Combine(kit.Dir, "held")), Timeout, "the first trial to start");
            if (run.Process.HasExited) Assert.Fail("the run ended before its first trial held: " + await run.Stderr);
            // A fault no retry cures: the server refuses every Complete row from now on (a check constraint).
            schema.Execute($"ALTER TABLE {schema.Name}.trials ADD CONSTRAINT refuse_finishes CHECK (state <> 'complete') NOT VALID");
            File.WriteAllText(Path.Combine(kit.Dir, "release"), "");
            var code = await run.WaitForExitAsync(Timeout);
            await stdout;
            var stderr = (await run.Stderr).Trim();
            Assert.True(code == 2, $"exit {code}\n{stderr}");
            var last = stderr.Split('\n')[^1];
            Assert.StartsWith("tunesmith: storage postgresql ", last, StringComparison.Ordinal);
            Assert.Contains("refuse_finishes", last, StringComparison.Ordinal);
            Assert.Contains("recording trial 0's result", last, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal); // no stack trace
        }

        // The next run on this machine finds trial 0's runner gone: it fails the trial as crashed, retries it, and
        // completes the budget.
        schema.Execute($"ALTER TABLE {schema.Name}.trials DROP CONSTRAINT refuse_finishes");
        File.Delete(Path.Combine(kit.Dir, "release"));
        var again = await CliProcess.RunAsync(kit.Dir, ["run", "study.yaml", "--storage", schema.Url], timeout: Timeout);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("trial 0 of worker", again.Stderr, StringComparison.Ordinal);
        Assert.Contains("marked Failed (crashed: its runner", again.Stderr, StringComparison.Ordinal);

        await using var storage = StudyStorage.Open(schema.Url);
        var study = await storage.GetStudyAsync("s") ?? throw new Xunit.Sdk.XunitException("study 's' is missing");
        var trials = (await storage.GetTrialsSinceAsync(study.Id, 0)).Trials;
        Assert.DoesNotContain(trials, t => t.State == TrialState.Running);
        Assert.Equal(4, trials.Count(t => t.State == TrialState.Complete));
    }

    // The first trial to start takes the hold (an exclusive create) and waits for the file 'release'; the others end at once.
    private static void WriteHeldStudy(StudyKit kit)
    {
        kit.Write("obj.py", """
            import os, sys, time
            try:
                os.close(os.open('held', os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                while not os.path.exists('release'):
                    time.sleep(0.02)
            except FileExistsError:
                pass
            print('tunesmith:result {"value": %s}' % sys.argv[1])
            """);
        kit.StudyFile($"""
            command: {StudyKit.Python} obj.py {"{x}"}
            space:
              x: {"{"} float: [0, 1] {"}"}
            trials: 4
            """);
    }
}
