using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Tunesmith.Storage;
using Tunesmith.Trials;

namespace Tunesmith.Cli.Tests;

/// <summary>
/// <c>tunesmith run</c> on a disk that fills up mid-study (and a study on a read-only filesystem): a real tmpfs of 2 MB, mounted in a private mount namespace
/// (<c>unshare --mount --map-root-user</c>: no root needed, nothing outside the test's process tree sees it, and the mount
/// goes away with it), which a trial's own program fills to the last byte. The two runs (the one that meets the full disk,
/// then the one after the filler is removed) run in one shell inside the namespace; the test reads what they printed.
/// Under <c>CI=true</c> a machine that cannot make the namespace fails the test; without CI it is skipped, saying why.
/// </summary>
public sealed class FullDiskEndToEndTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    // Fills the filesystem under its trial directory (trial FILL_AT only), then fails (FAIL_AFTER_FILL set) or prints
    // 400 KB of output (more than a pipe holds); then a report before its result: the value is x.
    private const string Program = """
        import json, os, sys
        x = float(sys.argv[1])
        d = os.environ["TUNESMITH_TRIAL_DIR"]
        if int(os.environ["TUNESMITH_TRIAL_NUMBER"]) == int(os.environ["FILL_AT"]):
            fd = os.open(os.path.join(d, "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
            for size in (65536, 4096, 1):
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError:
                    pass
            os.close(fd)
            if os.environ.get("FAIL_AFTER_FILL"):
                raise OSError(28, "No space left on device (writing its checkpoint)")
            for i in range(4000):
                print("line %d of the output a full disk cannot keep ......................................................" % i)
        print("tunesmith:report " + json.dumps({"step": 0, "loss": x}), flush=True)
        print("tunesmith:result " + json.dumps({"loss": x}), flush=True)
        """;

    [SkippableFact]
    public async Task A_full_disk_under_the_trial_directories_keeps_the_finished_trial_then_ends_the_run_in_one_line_and_the_next_run_completes()
    {
        using var kit = new StudyKit();
        var mount = Directory.CreateDirectory(Path.Combine(kit.Dir, "disk")).FullName;
        kit.Write("fill.py", Program);
        // The database is beside the study file, off the small disk; the trial directories are on it (workdir).
        kit.StudyFile($$"""
            direction: minimize
            metric: loss
            command: {{StudyKit.Python}} {{Path.Combine(kit.Dir, "fill.py")}} {x}
            workdir: {{mount}}
            env: { FILL_AT: "0" }
            space:
              x: { float: [0.0, 1.0] }
            trials: 3
            trial_timeout: 60s
            """);

        var (first, second) = await RunTwiceOnASmallDiskAsync(kit, mount, kit.Storage);

        // The trial that filled the disk still finished: its program was read to its end although its stdout.log could
        // not be written (said in a warning), and its value is stored.
        Assert.True(first.ExitCode == 2, first.ToString());
        Assert.Contains("Trial 0: cannot write stdout.log", first.Stderr, StringComparison.Ordinal);
        // The next trial could not get its directory: the run ended in one line naming it, with no stack trace.
        var last = LastLine(first.Stderr);
        Assert.StartsWith("tunesmith: cannot prepare trial 1's directory ", last, StringComparison.Ordinal);
        Assert.Matches("(?i)no space left on device|disk was full", last);
        Assert.Contains("recorded interrupted", last, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", first.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("unexpected error", first.Stderr, StringComparison.Ordinal);

        // With the space back, the next run runs trial 1 again (same params, same directory) and completes the budget.
        Assert.True(second.ExitCode == 0, second.ToString());
        var trials = await ReadTrialsAsync(kit.Storage);
        Assert.Equal(3, trials.Count(t => t.State == TrialState.Complete));
        Assert.All(trials.Where(t => t.State == TrialState.Complete), t => Assert.Equal((double)t.Params["x"]!, t.Value!.Value, 9));
        Assert.Equal(TrialState.Complete, trials.Single(t => t.Number == 0).State);
        var interrupted = trials.Single(t => t.Number == 1);
        Assert.Equal(TrialState.Failed, interrupted.State);
        Assert.Equal("interrupted", interrupted.FailReason);
        var retry = trials.Single(t => t.SystemAttributes.TryGetValue(SystemAttributeKeys.RetryOf, out var r) && Convert.ToInt64(r, System.Globalization.CultureInfo.InvariantCulture) == 1);
        Assert.Equal(TrialState.Complete, retry.State);
        Assert.Equal(interrupted.Params["x"], retry.Params["x"]);
    }

    [SkippableFact]
    public async Task A_trial_whose_program_fails_while_its_directory_is_full_is_recorded_interrupted_and_runs_again_in_the_next_run()
    {
        using var kit = new StudyKit();
        var mount = Directory.CreateDirectory(Path.Combine(kit.Dir, "disk")).FullName;
        kit.Write("fill.py", Program);
        kit.StudyFile($$"""
            direction: minimize
            metric: loss
            command: {{StudyKit.Python}} {{Path.Combine(kit.Dir, "fill.py")}} {x}
            workdir: {{mount}}
            env: { FILL_AT: "0", FAIL_AFTER_FILL: "1" }
            space:
              x: { float: [0.0, 1.0] }
            trials: 2
            trial_timeout: 60s
            """);

        var (first, second) = await RunTwiceOnASmallDiskAsync(kit, mount, kit.Storage);

        // Its program failed (an OSError on its own checkpoint) while its stderr.log could not be written: the failure is
        // the disk's, not the trial's, so the run ends in one line and the trial is not spent as a failure.
        Assert.True(first.ExitCode == 2, first.ToString());
        var last = LastLine(first.Stderr);
        Assert.StartsWith("tunesmith: cannot write trial 0's directory ", last, StringComparison.Ordinal);
        Assert.Contains("No space left on device", last, StringComparison.Ordinal);
        Assert.Contains("its program failed meanwhile (exit code 1)", last, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", first.Stderr, StringComparison.Ordinal);

        Assert.True(second.ExitCode == 0, second.ToString());
        var trials = await ReadTrialsAsync(kit.Storage);
        Assert.Equal(2, trials.Count(t => t.State == TrialState.Complete));
        var zero = trials.Single(t => t.Number == 0);
        Assert.Equal(TrialState.Failed, zero.State);
        Assert.Equal("interrupted", zero.FailReason);
        Assert.Contains(trials, t => t.State == TrialState.Complete && Equals(t.Params["x"], zero.Params["x"]));
    }

    [SkippableFact]
    public async Task A_full_disk_under_the_sqlite_database_ends_the_run_in_one_line_loses_no_stored_trial_and_the_next_run_completes()
    {
        using var kit = new StudyKit();
        var mount = Directory.CreateDirectory(Path.Combine(kit.Dir, "disk")).FullName;
        kit.Write("fill.py", Program);
        // The database and the trial directories are both on the small disk, as beside a study on a user's disk.
        kit.StudyFile($$"""
            direction: minimize
            metric: loss
            command: {{StudyKit.Python}} {{Path.Combine(kit.Dir, "fill.py")}} {x}
            env: { FILL_AT: "2" }
            space:
              x: { float: [0.0, 1.0] }
            trials: 5
            trial_timeout: 60s
            """);
        var url = "sqlite:///" + Path.Combine(mount, "study.db");

        var (first, second) = await RunTwiceOnASmallDiskAsync(kit, mount, url, copyDatabaseTo: kit.Dir);

        // Trial 2's report could not be stored: one line naming the database and the full disk, no stack trace.
        Assert.True(first.ExitCode == 2, first.ToString());
        var last = LastLine(first.Stderr);
        Assert.StartsWith($"tunesmith: storage sqlite file '{Path.Combine(mount, "study.db")}': ", last, StringComparison.Ordinal);
        Assert.Contains("database or disk is full", last, StringComparison.Ordinal);
        Assert.Contains($"(no space left on the disk holding {mount}: everything committed before is kept; free some space and run again)", last, StringComparison.Ordinal);
        // It says what could not be stored (a report), not that the trial failed.
        Assert.Contains("storing trial 2's reports", last, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", first.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("unexpected error", first.Stderr, StringComparison.Ordinal);

        // The database as the full disk left it (copied out of the namespace after the first run): not corrupt, the two
        // trials finished before the fault stored with their values, trial 2 not recorded as a failure of its own.
        var atFault = Path.Combine(kit.Dir, "at-fault", "study.db");
        Assert.Equal("ok", IntegrityCheck(atFault));
        var before = await ReadTrialsAsync("sqlite:///" + atFault);
        Assert.Equal([0, 1], before.Where(t => t.State == TrialState.Complete).Select(t => t.Number).Order());
        Assert.All(before.Where(t => t.State == TrialState.Complete), t => Assert.Equal((double)t.Params["x"]!, t.Value!.Value, 9));
        Assert.DoesNotContain(before, t => t.State == TrialState.Failed && t.FailReason != "interrupted");

        // With the space back, the next run fails trial 2 as crashed (or resumes it, interrupted), runs it again and
        // completes the budget; the file is still sound.
        Assert.True(second.ExitCode == 0, second.ToString());
        var final = Path.Combine(kit.Dir, "final", "study.db");
        Assert.Equal("ok", IntegrityCheck(final));
        var trials = await ReadTrialsAsync("sqlite:///" + final);
        Assert.Equal(5, trials.Count(t => t.State == TrialState.Complete));
        Assert.DoesNotContain(trials, t => t.State == TrialState.Running);
        var two = trials.Single(t => t.Number == 2);
        Assert.Equal(TrialState.Failed, two.State);
        Assert.True(two.FailReason == "interrupted" || Tunesmith.Execution.Study.IsCrashReason(two.FailReason), two.FailReason);
        Assert.Contains(trials, t => t.State == TrialState.Complete && Equals(t.Params["x"], two.Params["x"]));
    }

    [SkippableFact]
    public async Task A_report_or_plots_that_a_full_disk_cannot_take_end_in_one_line_and_leave_the_earlier_files_whole()
    {
        using var kit = new StudyKit();
        var mount = Directory.CreateDirectory(Path.Combine(kit.Dir, "disk")).FullName;
        kit.Write("fill.py", Program);
        kit.StudyFile($$"""
            direction: minimize
            metric: loss
            command: {{StudyKit.Python}} {{Path.Combine(kit.Dir, "fill.py")}} {x}
            env: { FILL_AT: "-1" }
            space:
              x: { float: [0.0, 1.0] }
            trials: 4
            """);
        var cli = $"dotnet \"{CliProcess.CliDll}\"";
        var storage = $"--study s --storage \"{kit.Storage}\"";
        // A study off the small disk; on it, an earlier report and plot, then a filler to its last byte.
        await RunOnASmallDiskAsync(kit, mount, $$"""
            {{cli}} run study.yaml --storage "{{kit.Storage}}" > run.out 2> run.err || exit 98
            printf 'the earlier report\n' > "{{mount}}/report.csv"
            mkdir "{{mount}}/plots" && printf 'the earlier plot' > "{{mount}}/plots/history.png"
            {{StudyKit.Python}} -c 'import os
            fd = os.open("{{mount}}/filler", os.O_WRONLY | os.O_CREAT)
            for size in (65536, 4096, 1):
                try:
                    while True: os.write(fd, b"\0" * size)
                except OSError: pass'
            {{cli}} report {{storage}} --format csv -o "{{mount}}/report.csv" > csv.out 2> csv.err; echo $? > csv.rc
            {{cli}} report {{storage}} --plots "{{mount}}/plots" > plots.out 2> plots.err; echo $? > plots.rc
            {{cli}} report {{storage}} --format csv > /dev/full 2> stdout.err; echo $? > stdout.rc
            cp "{{mount}}/report.csv" "{{mount}}/plots/history.png" . && ls -A "{{mount}}" "{{mount}}/plots" > listing.txt
            """);

        string Read(string name) => File.ReadAllText(Path.Combine(kit.Dir, name));
        Assert.True(Read("csv.rc").Trim() == "2", Read("csv.err"));
        Assert.Matches("^tunesmith: --output .*report\\.csv: cannot write: .*(No space left on device|disk was full)", Read("csv.err").Trim());
        Assert.Single(Read("csv.err").Trim().Split('\n'));
        Assert.True(Read("plots.rc").Trim() == "2", Read("plots.err"));
        Assert.Matches("^tunesmith: --plots .*plots: cannot write: .*(No space left on device|disk was full)", Read("plots.err").Trim());
        Assert.Single(Read("plots.err").Trim().Split('\n'));
        // stdout on a full device: one line, not an "unexpected error".
        Assert.True(Read("stdout.rc").Trim() == "2", Read("stdout.err"));
        Assert.Equal("tunesmith: cannot write: No space left on device", Read("stdout.err").Trim());
        // The earlier files are whole, and no half-written file or temporary file is left beside them.
        Assert.Equal("the earlier report\n", Read("report.csv"));
        Assert.Equal("the earlier plot", Read("history.png"));
        Assert.Equal(["filler", "plots", "report.csv", "history.png"], Read("listing.txt").Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.EndsWith(':')));
    }

    [SkippableFact]
    public async Task A_study_on_a_read_only_filesystem_is_read_by_report_best_and_status_and_a_run_on_it_ends_in_one_line()
    {
        using var kit = new StudyKit();
        var mount = Directory.CreateDirectory(Path.Combine(kit.Dir, "disk")).FullName;
        kit.Write("fill.py", Program);
        kit.StudyFile($$"""
            direction: minimize
            metric: loss
            command: {{StudyKit.Python}} {{Path.Combine(kit.Dir, "fill.py")}} {x}
            env: { FILL_AT: "-1" }
            space:
              x: { float: [0.0, 1.0] }
            trials: 3
            """);
        var url = "sqlite:///" + Path.Combine(mount, "study.db");
        var cli = $"dotnet \"{CliProcess.CliDll}\"";
        // The study is run, then its filesystem remounted read-only (an archived copy, a read-only share): SQLite cannot
        // create the -shm file a WAL database needs even to be read.
        await RunOnASmallDiskAsync(kit, mount, $$"""
            {{cli}} run study.yaml --storage "{{url}}" > run.out 2> run.err || exit 98
            mount -o remount,ro "{{mount}}" || exit 96
            {{cli}} status --storage "{{url}}" > status.out 2> status.err; echo $? > status.rc
            {{cli}} report --study s --storage "{{url}}" --format json > report.out 2> report.err; echo $? > report.rc
            {{cli}} best --study s --storage "{{url}}" > best.out 2> best.err; echo $? > best.rc
            sed -i 's/trials: 3/trials: 4/' study.yaml
            {{cli}} run study.yaml --storage "{{url}}" > again.out 2> again.err; echo $? > again.rc
            ls -A "{{mount}}" > listing.txt
            """);

        string Read(string name) => File.ReadAllText(Path.Combine(kit.Dir, name));
        foreach (var command in new[] { "status", "report", "best" })
            Assert.True(Read(command + ".rc").Trim() == "0", $"{command}: {Read(command + ".err")}");
        using (var report = System.Text.Json.JsonDocument.Parse(Read("report.out")))
            Assert.Equal(3, report.RootElement.GetProperty("trials").EnumerateArray().Count(t => t.GetProperty("state").GetString() == "Complete"));
        Assert.Contains("best trial", Read("best.out"), StringComparison.Ordinal);
        // A run cannot write: one line naming the file and why, exit 2, nothing left beside the file.
        Assert.True(Read("again.rc").Trim() == "2", Read("again.err"));
        var last = LastLine(Read("again.err"));
        Assert.StartsWith($"tunesmith: storage sqlite file '{Path.Combine(mount, "study.db")}': ", last, StringComparison.Ordinal);
        Assert.Contains("readonly database", last, StringComparison.Ordinal);
        Assert.Contains($"(its directory {mount} cannot be written", last, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", Read("again.err"), StringComparison.Ordinal);
        Assert.Equal(["runs", "study.db"], Read("listing.txt").Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    private static async Task<(CliResult First, CliResult Second)> RunTwiceOnASmallDiskAsync(StudyKit kit, string mount, string url, string? copyDatabaseTo = null)
    {
        var copy = copyDatabaseTo is null ? ":" : $"mkdir -p \"{copyDatabaseTo}/$1\" && cp \"{mount}\"/study.db* \"{copyDatabaseTo}/$1/\"";
        await RunOnASmallDiskAsync(kit, mount, $$"""
            copy() { {{copy}}; }
            dotnet "{{CliProcess.CliDll}}" run study.yaml --storage "{{url}}" > first.out 2> first.err; echo $? > first.rc
            copy at-fault
            rm -f "{{mount}}"/runs/*/trials/*/filler
            dotnet "{{CliProcess.CliDll}}" run study.yaml --storage "{{url}}" > second.out 2> second.err; echo $? > second.rc
            copy final
            """);
        CliResult Read(string name) => new(
            int.Parse(File.ReadAllText(Path.Combine(kit.Dir, name + ".rc")).Trim(), System.Globalization.CultureInfo.InvariantCulture),
            File.ReadAllText(Path.Combine(kit.Dir, name + ".out")), File.ReadAllText(Path.Combine(kit.Dir, name + ".err")));
        return (Read("first"), Read("second"));
    }

    /// <summary>
    /// Runs <paramref name="commands"/> (bash, in the study folder) in a private mount namespace where a 2 MB tmpfs is
    /// mounted on <paramref name="mount"/>; what they write outside it stays for the test to read.
    /// </summary>
    private static async Task RunOnASmallDiskAsync(StudyKit kit, string mount, string commands)
    {
        RequirePrivateMounts();
        var script = kit.Write("small-disk.sh", $"""
            set -u
            mount -t tmpfs -o size=2m tmpfs "{mount}" || exit 97
            cd "{kit.Dir}"
            {commands}
            """);
        var psi = new ProcessStartInfo("unshare") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "--mount", "--map-root-user", "bash", script }) psi.ArgumentList.Add(a);
        psi.Environment.Remove("TUNESMITH_STORAGE");
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var shell = Process.Start(psi)!;
        var stderr = shell.StandardError.ReadToEndAsync();
        var stdout = shell.StandardOutput.ReadToEndAsync();
        using var cts = new CancellationTokenSource(Timeout);
        try { await shell.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            shell.Kill(entireProcessTree: true);
            throw new TimeoutException($"the commands on a small disk did not finish in {Timeout}: {await CliProcess.Drained(stderr)}");
        }
        Assert.True(shell.ExitCode == 0, $"the shell in the namespace: exit {shell.ExitCode}: {await CliProcess.Drained(stdout)}{await CliProcess.Drained(stderr)}");
    }

    private static void RequirePrivateMounts()
    {
        var probe = new ProcessStartInfo("unshare") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "--mount", "--map-root-user", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt" }) probe.ArgumentList.Add(a);
        string problem;
        try
        {
            using var p = Process.Start(probe)!;
            var err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode == 0) return;
            problem = $"cannot mount a tmpfs in a private mount namespace (unshare --mount --map-root-user): {err.Trim()}";
        }
        catch (System.ComponentModel.Win32Exception e) { problem = $"cannot run unshare (util-linux): {e.Message}"; }
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException($"full-disk tests need a private tmpfs under CI=true: {problem}");
        Skip.If(true, $"{problem}; skipped because CI is unset (under CI=true this fails)");
    }

    private static string LastLine(string text) => text.TrimEnd().Split('\n')[^1].TrimEnd('\r');

    private static string IntegrityCheck(string path)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA integrity_check";
        return (string)command.ExecuteScalar()!;
    }

    private static async Task<IReadOnlyList<FrozenTrial>> ReadTrialsAsync(string url)
    {
        await using var storage = StudyStorage.Open(url);
        var study = await storage.GetStudyAsync("s") ?? throw new Xunit.Sdk.XunitException("study 's' is missing");
        return (await storage.GetTrialsSinceAsync(study.Id, 0)).Trials;
    }
}
