namespace Tunesmith.Cli.Tests;

/// <summary>Help, version, and one-line errors for bad flags and unknown studies, through the real process.</summary>
public sealed class CliBasicsEndToEndTests
{
    [Theory]
    [InlineData("run")]
    [InlineData("worker")]
    [InlineData("create")]
    [InlineData("enqueue")]
    [InlineData("status")]
    [InlineData("best")]
    [InlineData("report")]
    [InlineData("delete")]
    [InlineData("simulate")]
    public async Task Every_command_answers_help(string command)
    {
        using var dir = new TempDir();
        var r = await CliProcess.RunAsync(dir.Path, [command, "--help"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains($"tunesmith {command}", r.Stdout);
    }

    [Theory]
    [InlineData("run", true)]
    [InlineData("create", true)]
    [InlineData("status", false)]
    [InlineData("report", false)]
    [InlineData("worker", false)]
    public async Task Help_names_the_study_file_storage_only_for_commands_that_read_a_study_file(string command, bool readsStudyFile)
    {
        using var dir = new TempDir();
        var r = await CliProcess.RunAsync(dir.Path, [command, "--help"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(readsStudyFile, r.Stdout.Contains("the study file's storage:", StringComparison.Ordinal));
        Assert.Contains("$TUNESMITH_STORAGE, then sqlite:///tunesmith.db", r.Stdout);
    }

    [Fact]
    public async Task Version_prints_the_library_version()
    {
        using var dir = new TempDir();
        var r = await CliProcess.RunAsync(dir.Path, ["--version"]);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(typeof(Tunesmith.Execution.Study).Assembly.GetName().Version!.ToString(3), r.Stdout.Trim());
    }

    [Theory]
    [InlineData("statsu")]
    [InlineData("status --bogus")]
    [InlineData("best")]
    [InlineData("status --storage foo://nowhere")]
    [InlineData("best --study missing --storage memory:")]
    [InlineData("delete --study missing --storage memory: --yes")]
    [InlineData("delete --study x --storage memory:")]
    [InlineData("enqueue --study x --storage memory:")]
    [InlineData("enqueue --study x --storage memory: --set novalue")]
    [InlineData("dashboard --storage memory:")]
    public async Task Bad_input_gets_one_line_and_exit_code_2(string commandLine)
    {
        using var dir = new TempDir();
        var r = await CliProcess.RunAsync(dir.Path, commandLine.Split(' '));
        Assert.True(r.ExitCode == 2, r.ToString());
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("tunesmith: ", line);
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    [Theory]
    [InlineData("status --bogus", "'tunesmith status --help'")]
    [InlineData("slurm submit study.yaml --gpus-per-trial 0.5", "'tunesmith slurm submit --help'")]
    [InlineData("slurm status --study x --bogus", "'tunesmith slurm status --help'")]
    [InlineData("statsu", "'tunesmith --help'")]
    public async Task A_parse_error_points_to_the_help_of_the_command_it_is_in_with_its_whole_path(string commandLine, string help)
    {
        using var dir = new TempDir();
        var r = await CliProcess.RunAsync(dir.Path, commandLine.Split(' '));
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains($"(see {help})", r.Stderr);
    }

    [Theory]
    [InlineData("0.0.0.0", true)]
    [InlineData("127.0.0.1", false)]
    public async Task A_dashboard_on_every_interface_without_a_token_warns(string host, bool warns)
    {
        using var kit = new StudyKit();
        kit.StudyFile("command: python3 t.py {x}\nspace:\n  x: { float: [0, 1] }\n");
        Assert.Equal(0, (await kit.CliS("create", "study.yaml")).ExitCode);
        using var cli = CliBackground.Start(kit.Dir, ["dashboard", "--storage", kit.Storage, "--host", host, "--port", "0"]);
        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            while (await cli.Stdout.ReadLineAsync(deadline.Token) is { } line && !line.StartsWith("dashboard: ", StringComparison.Ordinal)) { }
        cli.Signal(15); // SIGTERM
        await cli.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(warns, (await cli.Stderr).Contains($"tunesmith: warning: --host {host} without a token", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("port in use")]
    [InlineData("address not on this machine")]
    public async Task A_dashboard_that_cannot_listen_says_so_in_one_line_without_a_stack_trace(string why)
    {
        using var kit = new StudyKit();
        kit.StudyFile("command: python3 t.py {x}\nspace:\n  x: { float: [0, 1] }\n");
        Assert.Equal(0, (await kit.CliS("create", "study.yaml")).ExitCode);
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        // 192.0.2.1 is TEST-NET-1 (RFC 5737): no machine has it, so binding it fails.
        string[] where = why == "port in use" ? ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)] : ["--host", "192.0.2.1", "--port", "0"];
        var r = await kit.CliS(["dashboard", .. where]);
        Assert.True(r.ExitCode == 2, r.ToString());
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("tunesmith: --host ", line);
        Assert.Contains("cannot listen there", line);
        Assert.DoesNotContain("   at ", r.Stdout + r.Stderr);
        Assert.DoesNotContain("fail:", r.Stdout);
    }

    [Fact]
    public async Task A_dashboard_on_a_storage_it_cannot_reach_stops_in_one_line()
    {
        // Nothing listens on port 1: the start fails at once, as `status` would, instead of serving pages that answer 503.
        using var dir = new TempDir();
        var r = await CliProcess.RunAsync(dir.Path, ["dashboard", "--storage", "postgresql://u:p@127.0.0.1:1/db", "--port", "0"], timeout: TimeSpan.FromSeconds(60));
        Assert.True(r.ExitCode == 2, r.ToString());
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("tunesmith: storage postgresql ", line);
        Assert.Contains("cannot connect to 127.0.0.1:1", line);
        Assert.DoesNotContain("dashboard: http", r.Stdout);
    }

    [Fact]
    public async Task A_short_dashboard_token_from_the_environment_is_named_as_the_variable()
    {
        using var dir = new TempDir();
        var r = await CliProcess.RunAsync(dir.Path, ["dashboard", "--storage", "sqlite:///none.db", "--port", "0"], new Dictionary<string, string?> { ["TUNESMITH_DASHBOARD_TOKEN"] = "short" });
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("tunesmith: $TUNESMITH_DASHBOARD_TOKEN: must be at least 8 characters", r.Stderr.Trim());
    }

    [Fact]
    public async Task Storage_comes_from_TUNESMITH_STORAGE_when_no_flag()
    {
        using var dir = new TempDir();
        var r = await CliProcess.RunAsync(dir.Path, ["status"], new Dictionary<string, string?> { ["TUNESMITH_STORAGE"] = "bogus://env" });
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("bogus://env", r.Stderr);
        var flag = await CliProcess.RunAsync(dir.Path, ["status", "--storage", "memory:"], new Dictionary<string, string?> { ["TUNESMITH_STORAGE"] = "bogus://env" });
        Assert.True(flag.ExitCode == 0, flag.ToString());
    }

    [SkippableFact]
    public async Task Commands_on_a_postgres_schema_without_tunesmith_tables_say_so_and_create_none()
    {
        using var schema = Tunesmith.Tests.Storage.PostgresTestServer.NewSchema();
        using var dir = new TempDir();
        async Task<long> Tables()
        {
            await using var c = new Npgsql.NpgsqlConnection(Tunesmith.Storage.Sql.PostgresUrl.Parse(schema.Url).ConnectionString);
            await c.OpenAsync();
            await using var cmd = new Npgsql.NpgsqlCommand("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = @s", c);
            cmd.Parameters.AddWithValue("s", schema.Name);
            return (long)(await cmd.ExecuteScalarAsync())!;
        }

        // A mistyped database or schema that exists: read commands say it holds no studies, one line, and leave it empty.
        var status = await CliProcess.RunAsync(dir.Path, ["status", "--storage", schema.Url]);
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Contains("no studies in", status.Stdout);
        Assert.Contains("(it has no Tunesmith tables)", status.Stdout);
        foreach (var args in new[] { ["report", "--study", "s"], ["best", "--study", "s"], ["delete", "--study", "s", "--yes"], new[] { "worker", "--study", "s" } })
        {
            var r = await CliProcess.RunAsync(dir.Path, [.. args, "--storage", schema.Url]);
            Assert.True(r.ExitCode == 2, r.ToString());
            Assert.StartsWith("tunesmith: no Tunesmith studies in ", r.Stderr.Trim());
            Assert.Single(r.Stderr.Trim().Split('\n'));
        }
        // A Slurm dry run prints the scripts for a new study and writes nothing either.
        dir.Write("study.yaml", "name: s\nmetric: loss\ntrials: 2\ncommand: [python3, -c, 'print(1)']\nspace: { x: { float: [0, 1] } }\n");
        var dry = await CliProcess.RunAsync(dir.Path, ["slurm", "submit", "study.yaml", "--storage", schema.Url, "--dry-run"]);
        Assert.True(dry.ExitCode == 0, dry.ToString());
        Assert.Contains("#SBATCH", dry.Stdout);
        Assert.DoesNotContain("holds no", dry.Stderr); // an empty schema is an empty storage, not a fault
        Assert.Equal(0, await Tables());

        // Once a study exists, the same commands read it.
        var created = await CliProcess.RunAsync(dir.Path, ["create", "study.yaml", "--storage", schema.Url]);
        Assert.True(created.ExitCode == 0, created.ToString());
        Assert.True(await Tables() > 0);
        var report = await CliProcess.RunAsync(dir.Path, ["report", "--study", "s", "--storage", schema.Url]);
        Assert.True(report.ExitCode == 0, report.ToString());

        // Tables of another schema version are not "no studies": the ordinary open says what it makes of them.
        schema.Execute($"INSERT INTO {schema.Name}.schema_version (version) VALUES (999)");
        var newer = await CliProcess.RunAsync(dir.Path, ["report", "--study", "s", "--storage", schema.Url]);
        Assert.True(newer.ExitCode != 0, newer.ToString());
        Assert.Contains("schema version 999 was written by a newer Tunesmith", newer.Stderr);
    }
    [SkippableFact]
    public async Task Read_commands_on_a_postgres_search_path_schema_that_does_not_exist_say_so_as_run_does_and_create_it_not()
    {
        var server = Tunesmith.Tests.Storage.PostgresTestServer.Url;
        var missing = "tst_missing_" + Guid.NewGuid().ToString("N")[..12];
        var url = server + (server.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "search_path=" + missing;
        using var dir = new TempDir();
        foreach (var args in new[] { ["status"], ["status", "--study", "s"], ["report", "--study", "s"], ["best", "--study", "s"], new[] { "worker", "--study", "s" } })
        {
            var r = await CliProcess.RunAsync(dir.Path, [.. args, "--storage", url]);
            Assert.True(r.ExitCode != 0, r.ToString());
            Assert.Contains($"schema '{missing}' (search_path) does not exist", r.Stderr);
            Assert.Single(r.Stderr.Trim().Split('\n'));
            Assert.DoesNotContain("Tunesmith tables", r.Stdout + r.Stderr);
        }
        await using var c = new Npgsql.NpgsqlConnection(Tunesmith.Storage.Sql.PostgresUrl.Parse(server).ConnectionString);
        await c.OpenAsync();
        await using var cmd = new Npgsql.NpgsqlCommand("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = @s", c);
        cmd.Parameters.AddWithValue("s", missing);
        Assert.Equal(0L, (long)(await cmd.ExecuteScalarAsync())!);
    }
}
