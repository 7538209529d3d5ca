using System.Diagnostics;

namespace Tunesmith.Cli.Tests;

/// <summary>Bad storage and bad input met as a user meets them: one line, the right exit code, quickly, nothing leaked.</summary>
public sealed class ReliabilityEndToEndTests
{
    [Theory]
    [InlineData("postgresql://ann:hunter2secret@127.0.0.1:1/studies", "127.0.0.1:1", 10)]                          // a closed port
    [InlineData("postgresql://ann:hunter2secret@10.255.255.1:5432/studies?connect_timeout=1", "10.255.255.1:5432", 1)] // nothing answers
    public async Task An_unreachable_postgres_fails_in_seconds_with_one_line_naming_host_and_port_and_no_password(string url, string server, int timeoutSeconds)
    {
        using var dir = new TempDir();
        var clock = Stopwatch.StartNew();
        var r = await CliProcess.RunAsync(dir.Path, ["status", "--storage", url]);
        clock.Stop();
        Assert.True(r.ExitCode == 2, r.ToString());
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"cannot connect to {server}", line);
        Assert.DoesNotContain("hunter2secret", r.Stderr + r.Stdout);
        Assert.DoesNotContain("unexpected error", line);
        // The URL's connect timeout is the one used (10 s when it names none), not Npgsql's default and no retry loop; the
        // wall-clock bound only catches a hang: a process start alone took 10 s at load 38 on the 2-core CI machine.
        Assert.Contains($"(connect timeout {timeoutSeconds} s)", line);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(40), $"took {clock.Elapsed}");
    }
}

/// <summary>The smaller holes: values that are not numbers, a program that does not exist, flags and files.</summary>
public sealed class SmallerHolesEndToEndTests
{
    private const string Study = """
        command: python3 -c "import sys; print(float(sys.argv[1]))" {x}
        space:
          x: { float: [0, 1] }
        trials: 2
        """;

    [Theory]
    [InlineData("nan")]
    [InlineData("NaN")]
    [InlineData("inf")]
    [InlineData("-Infinity")]
    public async Task A_value_that_is_not_a_finite_number_is_refused_by_enqueue_and_by_run_set(string value)
    {
        using var kit = new StudyKit();
        kit.StudyFile(Study);
        Assert.Equal(0, (await kit.CliS("create", "study.yaml")).ExitCode);
        var enqueue = await kit.CliS("enqueue", "--study", "s", "--set", $"x={value}");
        Assert.True(enqueue.ExitCode == 2, enqueue.ToString());
        Assert.Contains("x", Assert.Single(enqueue.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        var run = await kit.CliS("run", "study.yaml", "--set", $"x={value}");
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Empty(await kit.TrialsAsync());
    }

    [Fact]
    public async Task A_command_that_cannot_start_stops_the_run_before_the_first_trial_in_one_line()
    {
        using var kit = new StudyKit();
        kit.StudyFile("""
            command: no-such-program-tunesmith {x}
            space:
              x: { float: [0, 1] }
            trials: 50
            """);
        var r = await kit.CliS("run", "study.yaml", "-q");
        Assert.True(r.ExitCode == 2, r.ToString());
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("cannot start 'no-such-program-tunesmith'", line);
        // Refused before the study is opened: no study, no trial, not even a database file.
        Assert.False(File.Exists(Path.Combine(kit.Dir, "t.db")), "the refused run left a database behind");
    }

    [Fact]
    public async Task A_run_in_which_every_trial_failed_exits_non_zero_and_says_so()
    {
        using var kit = new StudyKit();
        kit.StudyFile("""
            command: python3 -c "import sys; sys.exit(3)" {x}
            space:
              x: { float: [0, 1] }
            trials: 3
            """);
        var r = await kit.CliS("run", "study.yaml", "-q");
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("every trial of this run failed (3)", r.Stderr);
    }

    [Fact]
    public async Task Low_equal_to_high_is_a_constant_as_the_docs_say()
    {
        using var kit = new StudyKit();
        kit.StudyFile("""
            command: python3 -c "import sys; print(float(sys.argv[1]) + float(sys.argv[2]))" {n} {x}
            space:
              n: { int: [10, 10] }
              x: { float: [1, 1] }
            trials: 3
            """);
        var r = await kit.CliS("run", "study.yaml", "-q");
        Assert.True(r.ExitCode == 0, r.ToString());
        var trials = await kit.TrialsAsync();
        Assert.Equal(3, trials.Count);
        Assert.All(trials, t => Assert.Equal(11.0, t.GetProperty("value").GetDouble()));
        Assert.Contains("low = high", File.ReadAllText(Path.Combine(StudyKit.RepoRoot(), "docs", "STUDY_FILE.md")));
    }

    [Theory]
    [InlineData("run", "study.yaml", "--trials", "abc", "--trials 'abc': expected a whole number")]
    [InlineData("run", "study.yaml", "--parallel", "2.5", "--parallel '2.5': expected a whole number")]
    [InlineData("worker", "--study=s", "--heartbeat", "soon", "--heartbeat 'soon': expected a number")]
    public async Task A_bad_flag_value_gets_a_readable_message(string a, string b, string c, string d, string expected)
    {
        using var kit = new StudyKit();
        kit.StudyFile(Study);
        var r = await kit.Cli(a, b, c, d);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains(expected, r.Stderr);
        Assert.DoesNotContain("System.", r.Stderr);
    }

    [Fact]
    public async Task Read_only_commands_in_an_empty_folder_create_no_files()
    {
        using var dir = new TempDir();
        var status = await CliProcess.RunAsync(dir.Path, ["status"]);
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Contains("no studies", status.Stdout);
        foreach (var args in new[] { new[] { "best", "--study", "s" }, ["report", "--study", "s"], ["worker", "--study", "s"], ["delete", "--study", "s", "--yes"] })
        {
            var r = await CliProcess.RunAsync(dir.Path, args);
            Assert.True(r.ExitCode == 2, string.Join(' ', args) + ": " + r);
            Assert.Contains("no Tunesmith database at", r.Stderr);
        }
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Fact]
    public async Task Create_refuses_an_in_memory_storage_that_would_forget_the_study_at_once()
    {
        using var kit = new StudyKit();
        kit.StudyFile(Study);
        var r = await kit.Cli("create", "study.yaml", "--storage", "memory:");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.DoesNotContain("created", r.Stdout + r.Stderr);
    }

    [Fact]
    public async Task A_foreign_sqlite_file_is_refused_untouched()
    {
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "optuna.db");
        using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "CREATE TABLE studies (study_id INTEGER PRIMARY KEY, study_name TEXT); CREATE TABLE trials (trial_id INTEGER PRIMARY KEY);";
            cmd.ExecuteNonQuery();
        }
        var before = File.ReadAllBytes(path);
        var r = await CliProcess.RunAsync(dir.Path, ["status", "--storage", $"sqlite:///{path}"]);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains("not a Tunesmith database", Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path)); // no -wal, no -shm: the journal mode was not switched
    }
}

/// <summary>Where a study's trials write: inside runs/, readable by the user alone.</summary>
public sealed class TrialDirectoryEndToEndTests
{
    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_study_named_dot_dot_stays_under_runs_and_trial_directories_are_private()
    {
        using var kit = new StudyKit();
        kit.StudyFile("""
            command: python3 -c "import sys; print(float(sys.argv[1]))" {x}
            space:
              x: { float: [0, 1] }
            trials: 1
            """, name: "'..'");
        var r = await kit.CliS("run", "study.yaml", "-q");
        Assert.True(r.ExitCode == 0, r.ToString());
        var trial = Path.Combine(kit.RunDir("__"), "trials", "0");
        Assert.True(Directory.Exists(trial), r.ToString());
        Assert.Equal([Path.GetDirectoryName(Path.GetDirectoryName(trial))!], Directory.GetDirectories(Path.Combine(kit.Dir, "runs")));
        Assert.False(Directory.Exists(Path.Combine(kit.Dir, "trials")), "the study wrote outside runs/");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(trial));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(kit.Dir, "t.db")));
    }
}

/// <summary>One run directory per study: keyed by the storage and the study's id, never shared, old layouts kept.</summary>
public sealed class RunDirectoryEndToEndTests
{
    private const string Body = """
        command: python3 -c "import sys; print(float(sys.argv[1]))" {x}
        space:
          x: { float: [0, 1] }
        trials: 2
        """;

    // Every trial directory the study recorded (trial_dir), read from its storage, by trial number.
    private static async Task<List<string>> TrialDirsAsync(string study, string storage)
    {
        await using var store = Tunesmith.Storage.StudyStorage.OpenReadOnly(storage);
        var record = await store.GetStudyAsync(study) ?? throw new InvalidOperationException($"no study {study} in {storage}");
        return (await store.GetTrialsSinceAsync(record.Id, 0)).Trials.OrderBy(t => t.Number)
            .Select(t => (string)t.SystemAttributes["trial_dir"]!).ToList();
    }

    private static string RunDirOf(string trialDir) => Path.GetDirectoryName(Path.GetDirectoryName(trialDir))!;

    [Fact]
    public async Task Studies_of_one_name_in_two_databases_in_one_folder_get_two_run_directories()
    {
        using var kit = new StudyKit();
        kit.StudyFile(Body, name: "exp");
        var a = $"sqlite:///{Path.Combine(kit.Dir, "a.db")}";
        var b = $"sqlite:///{Path.Combine(kit.Dir, "b.db")}";
        foreach (var storage in new[] { a, b })
        {
            var r = await kit.Cli("run", "study.yaml", "-q", "--storage", storage);
            Assert.True(r.ExitCode == 0, r.ToString());
        }
        var dirsA = await TrialDirsAsync("exp", a);
        var dirsB = await TrialDirsAsync("exp", b);
        Assert.Equal(2, dirsA.Count);
        Assert.Equal(2, dirsB.Count);
        Assert.Single(dirsA.Select(RunDirOf).Distinct());
        Assert.Single(dirsB.Select(RunDirOf).Distinct());
        Assert.NotEqual(RunDirOf(dirsA[0]), RunDirOf(dirsB[0]));
        Assert.All(dirsA.Concat(dirsB), d => Assert.StartsWith(Path.Combine(kit.Dir, "runs", "exp-"), d, StringComparison.Ordinal));
        // Neither study's logs were moved aside as an earlier attempt of the other's trial.
        Assert.All(dirsA.Concat(dirsB), d => Assert.False(Directory.Exists(Path.Combine(d, "attempts")), d));
    }

    [Fact]
    public async Task Names_that_clean_up_alike_get_two_run_directories_under_runs()
    {
        using var kit = new StudyKit();
        foreach (var name in new[] { "'exp 1'", "exp_1" })
        {
            kit.StudyFile(Body, name: name);
            var r = await kit.CliS("run", "study.yaml", "-q");
            Assert.True(r.ExitCode == 0, r.ToString());
        }
        var spaced = (await TrialDirsAsync("exp 1", kit.Storage)).Select(RunDirOf).Distinct().ToList();
        var underscored = (await TrialDirsAsync("exp_1", kit.Storage)).Select(RunDirOf).Distinct().ToList();
        Assert.NotEqual(Assert.Single(spaced), Assert.Single(underscored));
        Assert.Equal(Path.Combine(kit.Dir, "runs"), Path.GetDirectoryName(spaced[0]));
        Assert.Equal(Path.Combine(kit.Dir, "runs"), Path.GetDirectoryName(underscored[0]));
        Assert.All(Directory.GetDirectories(Path.Combine(kit.Dir, "runs")), d => Assert.Matches("^exp_1-[0-9a-f]{10}$", Path.GetFileName(d)));
    }

    [Fact]
    public async Task A_study_from_the_old_layout_keeps_its_runs_name_directory()
    {
        using var kit = new StudyKit();
        kit.StudyFile(Body);
        var first = await kit.CliS("run", "study.yaml", "--trials", "1", "-q");
        Assert.True(first.ExitCode == 0, first.ToString());
        // Turn the database and folder into what a run before keyed directories left: runs/s/, trial_dir there, no
        // run_directory on the study.
        var keyed = kit.RunDir();
        var old = Path.Combine(kit.Dir, "runs", "s");
        Directory.Move(keyed, old);
        await using (var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(kit.Dir, "t.db")};Pooling=False"))
        {
            await c.OpenAsync();
            await using var cmd = c.CreateCommand();
            cmd.CommandText = "DELETE FROM study_attributes WHERE key = 'run_directory'; UPDATE trial_attributes SET value_json = replace(value_json, $keyed, $old) WHERE key = 'trial_dir'";
            cmd.Parameters.AddWithValue("$keyed", Path.GetFileName(keyed));
            cmd.Parameters.AddWithValue("$old", "s");
            await cmd.ExecuteNonQueryAsync();
        }
        Assert.Equal([Path.Combine(old, "trials", "0")], await TrialDirsAsync("s", kit.Storage));

        var second = await kit.CliS("run", "study.yaml", "--trials", "3", "-q");
        Assert.True(second.ExitCode == 0, second.ToString());
        var dirs = await TrialDirsAsync("s", kit.Storage);
        Assert.Equal(3, dirs.Count);
        Assert.All(dirs, d => Assert.Equal(old, RunDirOf(d)));
        Assert.Equal([old], Directory.GetDirectories(Path.Combine(kit.Dir, "runs")));
        Assert.True(File.Exists(Path.Combine(old, "trials", "0", "stdout.log")));
    }
}

/// <summary>Secrets in a study file stay out of storage: the stored copy keeps env names and a redacted storage URL.</summary>
public sealed class StoredSecretsEndToEndTests
{
    private const string Token = "tok-9f3c2e71a5b8d4";
    private const string Password = "pw-hunter2-4d8e";

    [Fact]
    public async Task The_database_holds_no_env_value_and_no_storage_password_and_a_worker_takes_env_from_its_own_environment()
    {
        using var kit = new StudyKit();
        // The metric is the length of the token the trial sees: the file's value in `run`, the worker's own in `worker`.
        kit.StudyFile($$"""
            command: python3 -c "import os, sys; print(float(len(os.environ.get('TS_TOKEN', ''))) + float(sys.argv[1]) * 0)" {x}
            storage: postgresql://ann:{{Password}}@127.0.0.1:1/studies
            env:
              TS_TOKEN: {{Token}}
              TS_PLAIN: "visible"
            space:
              x: { float: [0, 1] }
            trials: 2
            """);
        var run = await kit.CliS("run", "study.yaml", "--trials", "1", "-q");
        Assert.True(run.ExitCode == 0, run.ToString());
        // `run --trials 1` stored a budget of 1 with the study: raise it back to the file's 2 for the worker.
        var budget = await kit.CliS("create", "study.yaml", "--trials", "2");
        Assert.True(budget.ExitCode == 0, budget.ToString());
        var worker = await CliProcess.RunAsync(kit.Dir, ["worker", "--study", "s", "--trials", "1", "-q", "--storage", kit.Storage],
            new Dictionary<string, string?> { ["TS_TOKEN"] = "abc" });
        Assert.True(worker.ExitCode == 0, worker.ToString());
        var values = (await kit.TrialsAsync()).Select(t => t.GetProperty("value").GetDouble()).Order().ToList();
        Assert.Equal([3.0, Token.Length], values);

        var status = await kit.CliS("status", "--study", "s");
        Assert.True(status.ExitCode == 0, status.ToString());
        var bytes = Directory.GetFiles(kit.Dir, "t.db*").SelectMany(File.ReadAllBytes).ToArray();
        var raw = System.Text.Encoding.Latin1.GetString(bytes);
        Assert.Contains("TS_TOKEN", raw);
        Assert.Contains("ann:***@127.0.0.1:1", raw);
        Assert.DoesNotContain(Token, raw);
        Assert.DoesNotContain(Password, raw);
    }
}

/// <summary>A database written before the redaction is scrubbed the next time a study in it is opened for writing.</summary>
public sealed class OldDatabaseSecretsEndToEndTests
{
    private const string Token = "tok-old-7c1d9e20b4";
    private const string Password = "pw-old-swordfish-81";

    [Fact]
    public async Task A_run_on_a_database_that_stored_secrets_removes_them_from_the_file_bytes_and_says_so_once()
    {
        using var kit = new StudyKit();
        var text = kit.StudyFile($$"""
            command: python3 -c "import sys; print(float(sys.argv[1]))" {x}
            storage: postgresql://ann:{{Password}}@127.0.0.1:1/studies
            env:
              TS_TOKEN: {{Token}}
            space:
              x: { float: [0, 1] }
            trials: 3
            """);
        var first = await kit.CliS("run", "study.yaml", "--trials", "1", "-q");
        Assert.True(first.ExitCode == 0, first.ToString());
        // What an older Tunesmith left: the file stored verbatim, again at each of its runs (so old copies sit in free
        // pages as well as in the row).
        var db = Path.Combine(kit.Dir, "t.db");
        foreach (var copy in new[] { "# one\n", "# two, longer than the first: ----------------------------------------\n", "" })
        {
            await using var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={db};Pooling=False");
            await c.OpenAsync();
            await using var cmd = c.CreateCommand();
            cmd.CommandText = "UPDATE study_attributes SET value_json = $v WHERE key = 'study_file'";
            cmd.Parameters.AddWithValue("$v", System.Text.Json.JsonSerializer.Serialize(copy + File.ReadAllText(text)));
            Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
        }
        Assert.Contains(Token, Raw(kit));

        var second = await kit.CliS("run", "study.yaml", "--trials", "2", "-q");
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Contains("removed env values and passwords stored by an older Tunesmith from the stored study file of 's'", second.Stderr);
        Assert.Contains("rewritten without the old bytes", second.Stderr);
        var raw = Raw(kit);
        Assert.DoesNotContain(Token, raw);
        Assert.DoesNotContain(Password, raw);
        Assert.Contains("TS_TOKEN", raw);

        var third = await kit.CliS("run", "study.yaml", "-q");
        Assert.True(third.ExitCode == 0, third.ToString());
        Assert.DoesNotContain("removed env values", third.Stderr);
        Assert.Equal(3, (await kit.TrialsAsync()).Count);
    }

    private static string Raw(StudyKit kit) =>
        System.Text.Encoding.Latin1.GetString(Directory.GetFiles(kit.Dir, "t.db*").SelectMany(File.ReadAllBytes).ToArray());
}

/// <summary>Once a study has trials its space, direction and metric are fixed; <c>--update-space</c> widens a space every trial fits.</summary>
public sealed class FixedSpaceEndToEndTests
{
    private static string Study(string x, string direction = "minimize") => $$"""
        command: python3 -c "import sys; print(float(sys.argv[1]))" {x}
        direction: {{direction}}
        space:
          x: { float: {{x}} }
        trials: 2
        """;

    private static string OneLine(CliResult r)
    {
        Assert.True(r.ExitCode == 2, r.ToString());
        return Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public async Task A_changed_space_is_one_line_error_for_create_and_run_and_update_space_takes_it_only_when_every_trial_fits()
    {
        using var kit = new StudyKit();
        kit.StudyFile(Study("[0, 1]"));
        var first = await kit.CliS("run", "study.yaml", "-q");
        Assert.True(first.ExitCode == 0, first.ToString());

        kit.StudyFile(Study("[0, 5]"));
        foreach (var command in new[] { "create", "run" })
        {
            var line = OneLine(await kit.CliS(command, "study.yaml"));
            Assert.Contains("parameter 'x' is float [0.0, 1.0] stored, float [0.0, 5.0] in the file", line);
            Assert.Contains("--update-space", line);
        }
        kit.StudyFile(Study("[0, 1]", "maximize"));
        Assert.Contains("direction", OneLine(await kit.CliS("run", "study.yaml")));

        kit.StudyFile(Study("[2, 3]"));
        var misfit = OneLine(await kit.CliS("create", "study.yaml", "--update-space"));
        Assert.Contains("does not fit the new space", misfit);
        Assert.Contains("outside", misfit);

        kit.StudyFile(Study("[0, 5]"));
        var update = await kit.CliS("create", "study.yaml", "--update-space");
        Assert.True(update.ExitCode == 0, update.ToString());
        Assert.Contains("all 2 trial(s) fit the new space", update.Stdout);
        var again = await kit.CliS("run", "study.yaml", "--trials", "3", "-q");
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Equal(3, (await kit.TrialsAsync()).Count);
    }

    private static string Conditional(string momentum) => $$"""
        command: python3 -c "import sys; print(float(sys.argv[1]))" {lr}
        space:
          opt: { choice: [sgd, adam] }
          momentum: { {{momentum}} }
          lr: { float: [0, 1] }
        trials: 2
        """;

    [Fact]
    public async Task Update_space_walks_each_trial_through_the_conditions_of_the_new_space()
    {
        using var kit = new StudyKit();
        kit.StudyFile(Conditional("float: [0, 0.9], when: { opt: sgd }"));
        var first = await kit.CliS("run", "study.yaml", "--set", "opt=sgd", "-q");
        Assert.True(first.ExitCode == 0, first.ToString());

        // Same name and range, but active for adam now: every stored trial (sgd, with momentum) no longer fits.
        kit.StudyFile(Conditional("float: [0, 0.9], when: { opt: adam }"));
        var moved = OneLine(await kit.CliS("create", "study.yaml", "--update-space"));
        Assert.Contains("does not fit the new space: it has parameter 'momentum', which is inactive in the new space for these values: it is used only when opt in [adam]", moved);

        // A new parameter every trial would have drawn: the stored ones lack it.
        kit.StudyFile(Conditional("float: [0, 0.9], when: { opt: sgd }").Replace("  lr: { float: [0, 1] }", "  lr: { float: [0, 1] }\n  wd: { float: [0, 1] }"));
        Assert.Contains("it lacks parameter 'wd'", OneLine(await kit.CliS("create", "study.yaml", "--update-space")));

        // Widened inside the branch, and a parameter added only for adam: the sgd trials fit.
        kit.StudyFile(Conditional("float: [0, 0.99], when: { opt: sgd }").Replace("  lr: { float: [0, 1] }", "  lr: { float: [0, 1] }\n  beta: { float: [0.5, 1], when: { opt: adam } }"));
        var update = await kit.CliS("create", "study.yaml", "--update-space");
        Assert.True(update.ExitCode == 0, update.ToString());
        Assert.Contains("all 2 trial(s) fit the new space", update.Stdout);
    }
}
