namespace Tunesmith.Cli.Tests;

/// <summary>Each class of malformed study file: exit code 2, one line naming the file and the problem, no stack trace.</summary>
public sealed class StudyFileErrorsEndToEndTests
{
    private const string Space = "space:\n  x: { float: [0, 1] }\n";

    [Theory]
    [InlineData("unknown key", "command: python3 t.py {x}\n" + Space + "trails: 5\n", "trails")]
    [InlineData("wrong type", "command: python3 t.py {x}\n" + Space + "trials: many\n", "trials")]
    [InlineData("low >= high", "command: python3 t.py {x}\nspace:\n  x: { float: [1, 0] }\n", "x")]
    [InlineData("expr naming a missing parameter", "command: python3 t.py {x}\n" + Space + "  y: { expr: \"z * 2\" }\n", "z")]
    [InlineData("when naming a missing parameter", "command: python3 t.py {x}\n" + Space + "  m: { float: [0, 1], when: { opt: sgd } }\n", "opt")]
    [InlineData("placeholder naming no parameter", "command: python3 t.py {nope}\n" + Space, "nope")]
    [InlineData("not YAML at all", "command: [unclosed\n", "study.yaml")]
    public async Task Malformed_study_file_gets_one_line_naming_file_and_field_and_exit_code_2(string what, string body, string named)
    {
        using var kit = new StudyKit();
        kit.Write("study.yaml", "name: s\n" + body);
        foreach (var command in new[] { "run", "create" })
        {
            var r = await kit.CliS(command, "study.yaml");
            Assert.True(r.ExitCode == 2, $"{what}: {r}");
            var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("tunesmith: study.yaml:", line);
            Assert.Contains(named, line);
            Assert.DoesNotContain("   at ", r.Stderr);
            Assert.DoesNotContain("Exception", r.Stderr);
        }
    }

    [Fact]
    public async Task A_study_file_with_several_unknown_keys_names_every_one_at_once_and_stores_nothing()
    {
        using var kit = new StudyKit();
        // A Ray Tune script ported as is: mode at the top, metric and Ray Tune's option names inside asha, and two typos.
        kit.Write("study.yaml", "name: s\ncommand: python3 t.py {x}\nmode: min\n" + Space
            + "scheduler:\n  asha:\n    metric: loss\n    max_t: 27\n    reduction_factor: 3\nresources:\n  gpu_per_trial: 1\ntrails: 5\n");
        foreach (var command in new[] { "run", "create" })
        {
            var r = await kit.CliS(command, "study.yaml");
            Assert.True(r.ExitCode == 2, $"{command}: {r}");
            var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(7, lines.Length);
            Assert.StartsWith("tunesmith: study.yaml:3:1: mode: unknown key 'mode'", lines[0]);
            Assert.StartsWith("tunesmith: study.yaml:8:5: scheduler.asha.metric: scheduler 'asha': unknown option 'metric' (Ray Tune's scheduler metric is the study file's top-level metric:)", lines[1]);
            Assert.StartsWith("tunesmith: study.yaml:9:5: scheduler.asha.max_t: scheduler 'asha': unknown option 'max_t' (Ray Tune's 'max_t' is 'max' here)", lines[2]);
            Assert.StartsWith("tunesmith: study.yaml:10:5: scheduler.asha.reduction_factor: scheduler 'asha': unknown option 'reduction_factor' (Ray Tune's 'reduction_factor' is 'reduction' here)", lines[3]);
            Assert.StartsWith("tunesmith: study.yaml:12:3: resources.gpu_per_trial: unknown key 'gpu_per_trial' (did you mean 'gpus_per_trial'?)", lines[4]);
            Assert.StartsWith("tunesmith: study.yaml:13:1: trails: unknown key 'trails' (did you mean 'trials'?)", lines[5]);
            Assert.Equal("tunesmith: study.yaml: 6 problems; nothing stored", lines[6]);
            Assert.DoesNotContain("Exception", r.Stderr);
            Assert.False(File.Exists(Path.Combine(kit.Dir, "t.db")), $"{command} left a database behind");
        }
    }

    [Theory]
    [InlineData("--concurrency", "0", "tunesmith: --concurrency: must be ≥ 1, got 0")]
    [InlineData("--max-requeues", "-1", "tunesmith: --max-requeues: must be ≥ 0, got -1")]
    [InlineData("--mem", "lots", "tunesmith: --mem: 'lots' is not a Slurm memory size such as 4000, 16G or 512M")]
    public async Task A_bad_slurm_submit_flag_is_named_as_the_flag(string flag, string value, string expected)
    {
        using var kit = new StudyKit();
        kit.StudyFile("command: python3 t.py {x}\n" + Space);
        var r = await kit.CliS("slurm", "submit", "study.yaml", "--dry-run", flag, value);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Equal(expected, Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Fact]
    public async Task A_study_stored_with_the_other_direction_is_one_line_naming_both()
    {
        using var kit = new StudyKit();
        kit.Write("study.yaml", "name: s\ncommand: python3 t.py {x}\n" + Space);
        Assert.Equal(0, (await kit.CliS("create", "study.yaml")).ExitCode);
        kit.Write("study.yaml", "name: s\ndirection: maximize\ncommand: python3 t.py {x}\n" + Space);
        foreach (var command in new[] { "run", "create" })
        {
            var r = await kit.CliS(command, "study.yaml");
            Assert.True(r.ExitCode == 2, r.ToString());
            Assert.Equal("tunesmith: study.yaml: direction: study 's' is stored with direction minimize, the file says maximize: use another name or delete the study",
                Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        }
    }

    [Theory]
    [InlineData("--set", "nope=1", "nope")]
    [InlineData("--set", "x=abc", "x")]
    [InlineData("--set", "x", "--set")]
    [InlineData("--trials", "-1", "--trials")]
    [InlineData("--timeout", "soon", "--timeout")]
    [InlineData("--timeout", "1e300", "--timeout 1e300: too long (at most 36500d)")]
    [InlineData("--timeout", "40000000d", "--timeout 40000000d: too long (at most 36500d)")]
    public async Task Bad_run_flags_get_one_line_and_exit_code_2(string flag, string value, string named)
    {
        using var kit = new StudyKit();
        kit.StudyFile("command: python3 t.py {x}\n" + Space);
        var r = await kit.CliS("run", "study.yaml", flag, value);
        Assert.True(r.ExitCode == 2, r.ToString());
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(named, line);
    }

    [Theory]
    [InlineData("command: no-such-program-here {x}\n", new string[0], "cannot start 'no-such-program-here'")]
    [InlineData("command: python3 t.py {x}\n", new[] { "--gpus", "0,0" }, "--gpus 0,0")]
    [InlineData("command: python3 t.py {x}\nresources: { gpus_per_trial: 1 }\n", new[] { "--gpus", "" }, "no GPU was found")]
    public async Task A_run_refused_for_its_program_or_gpus_creates_no_study(string head, string[] flags, string named)
    {
        using var kit = new StudyKit();
        kit.StudyFile(head + Space);
        var r = await kit.Cli(["run", "study.yaml", .. flags]);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains(named, Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.False(File.Exists(Path.Combine(kit.Dir, "tunesmith.db")), "the refused run left a database behind");
    }

    [Fact]
    public async Task A_missing_study_file_is_a_one_line_error()
    {
        using var kit = new StudyKit();
        var r = await kit.CliS("run", "nowhere.yaml");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("nowhere.yaml", Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Fact]
    public async Task A_malformed_combinations_csv_names_the_file_and_line()
    {
        using var kit = new StudyKit();
        kit.StudyFile("command: python3 t.py {x}\n" + Space);
        Assert.Equal(0, (await kit.CliS("create", "study.yaml")).ExitCode);
        kit.Write("bad.csv", "x\n0.5\n0.1,0.2\n");
        var r = await kit.CliS("enqueue", "--study", "s", "--file", "bad.csv");
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith("tunesmith: bad.csv:3:", Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        var unknown = await kit.CliS("enqueue", "--study", "s", "--set", "y=1");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("'y'", unknown.Stderr);
    }

    [Fact]
    public async Task A_csv_value_outside_the_space_is_named_by_its_line_in_the_file()
    {
        // The header is line 1 and a blank line is skipped: the second combination is on line 4, where an editor finds it.
        using var kit = new StudyKit();
        kit.StudyFile("command: python3 t.py {lr} {batch}\nspace:\n  lr: { float: [1.0e-5, 1.0], log: true }\n  batch: { int: [16, 512] }\n");
        Assert.Equal(0, (await kit.CliS("create", "study.yaml")).ExitCode);
        kit.Write("combos.csv", "lr,batch\n0.01,32\n\n5.0,32\n");
        var r = await kit.CliS("enqueue", "--study", "s", "--file", "combos.csv");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Equal("tunesmith: combos.csv:4: parameter 'lr': value 5.0 is not in float [1e-05, 1.0] log",
            Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Empty(await kit.TrialsAsync());
    }

    [Fact]
    public async Task A_combinations_file_with_several_bad_rows_names_every_one_at_once_and_enqueues_nothing()
    {
        using var kit = new StudyKit();
        kit.StudyFile("command: python3 t.py {lr} {batch}\nspace:\n  lr: { float: [1.0e-5, 1.0], log: true }\n  batch: { int: [16, 512] }\n");
        Assert.Equal(0, (await kit.CliS("create", "study.yaml")).ExitCode);
        // Line 3 is short, line 4 fine, line 5 has a bad lr, line 6 two bad fields, line 7 fine.
        kit.Write("combos.csv", "lr,batch\n0.01,32\n0.1\n0.02,64\n5,32\n7,abc\n0.03,128\n");
        var r = await kit.CliS("enqueue", "--study", "s", "--file", "combos.csv");
        Assert.True(r.ExitCode == 2, r.ToString());
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(5, lines.Length);
        Assert.StartsWith("tunesmith: combos.csv:3: expected 2 cells", lines[0]);
        Assert.StartsWith("tunesmith: combos.csv:5: parameter 'lr': value 5 is not in", lines[1]);
        Assert.StartsWith("tunesmith: combos.csv:6: parameter 'lr': value 7 is not in", lines[2]);
        Assert.StartsWith("tunesmith: combos.csv:6: parameter 'batch':", lines[3]);
        Assert.Equal("tunesmith: combos.csv: 4 problems in 3 of its 6 rows; nothing enqueued", lines[4]);
        Assert.Empty(await kit.TrialsAsync());

        // Many bad rows: the first 20, then how many more; JSON Lines reads on past a broken line too.
        kit.Write("many.jsonl", "{\"lr\": 0.01, \"batch\": 32}\n{\"lr\": 0.01, \"batch\": \n"
            + string.Concat(Enumerable.Range(0, 24).Select(i => $"{{\"lr\": {i + 2}, \"batch\": 32}}\n")));
        var many = await kit.CliS("enqueue", "--study", "s", "--file", "many.jsonl");
        Assert.True(many.ExitCode == 2, many.ToString());
        var manyLines = many.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(22, manyLines.Length);
        Assert.StartsWith("tunesmith: many.jsonl:2: not valid JSON", manyLines[0]);
        Assert.StartsWith("tunesmith: many.jsonl:3: parameter 'lr': value 2 is not in", manyLines[1]);
        Assert.StartsWith("tunesmith: many.jsonl:21: parameter 'lr'", manyLines[19]);
        Assert.Equal("tunesmith: many.jsonl: and 5 more problems", manyLines[20]);
        Assert.Equal("tunesmith: many.jsonl: 25 problems in 25 of its 26 rows; nothing enqueued", manyLines[21]);
        Assert.Empty(await kit.TrialsAsync());
    }

    [Fact]
    public async Task Enqueuing_a_value_for_a_parameter_inactive_under_the_others_is_one_line_and_stores_nothing()
    {
        using var kit = new StudyKit();
        kit.StudyFile("command: python3 t.py {x}\nspace:\n  opt: { choice: [adam, sgd] }\n  momentum: { float: [0, 1], when: { opt: sgd } }\n  x: { float: [0, 1] }\n");
        Assert.Equal(0, (await kit.CliS("create", "study.yaml")).ExitCode);

        var r = await kit.CliS("enqueue", "--study", "s", "--set", "opt=adam", "--set", "momentum=0.5", "--set", "x=0.1");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Equal("tunesmith: --set: the combination does not fit the study's space: it has parameter 'momentum', which is inactive in the study's space for these values: it is used only when opt in [sgd]",
            Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        kit.Write("combos.jsonl", "{\"opt\": \"sgd\", \"momentum\": 0.5}\n{\"opt\": \"adam\", \"momentum\": 0.5}\n");
        var file = await kit.CliS("enqueue", "--study", "s", "--file", "combos.jsonl");
        Assert.Equal(2, file.ExitCode);
        Assert.StartsWith("tunesmith: combos.jsonl:2: the combination does not fit", file.Stderr);

        // The same parameters with the condition met, or left for the sampler, are fine; nothing of the refused ones was stored.
        Assert.Equal(0, (await kit.CliS("enqueue", "--study", "s", "--set", "opt=sgd", "--set", "momentum=0.5")).ExitCode);
        Assert.Equal(0, (await kit.CliS("enqueue", "--study", "s", "--set", "opt=adam")).ExitCode);
        var status = await kit.CliS("status", "--study", "s", "--format", "json");
        Assert.Contains("\"waiting\": 2", status.Stdout);
    }

    [Fact]
    public async Task Enqueuing_beyond_a_spent_budget_says_which_budget_runs_them()
    {
        using var kit = new StudyKit();
        kit.Write("t.py", "import json, sys\nprint('tunesmith:result ' + json.dumps({'value': float(sys.argv[1])}))\n");
        kit.StudyFile("command: python3 t.py {x}\nspace:\n  x: { float: [0, 1] }\ntrials: 2\n");
        Assert.Equal(0, (await kit.CliS("create", "study.yaml")).ExitCode);
        var room = await kit.CliS("enqueue", "--study", "s", "--set", "x=0.5");
        Assert.True(room.ExitCode == 0 && room.Stderr == "", room.ToString());
        Assert.Equal(0, (await kit.CliS("run", "study.yaml", "--quiet")).ExitCode);

        var r = await kit.CliS("enqueue", "--study", "s", "--set", "x=0.25");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("tunesmith: study 's' has taken 2 of its budget of 2 trials, so its 1 waiting trial will not run; run or worker with --trials 3 runs them all",
            r.Stderr.Trim());
        // A rerun within the spent budget runs nothing, and says so once (the library's own warning is not repeated).
        var again = await kit.CliS("run", "study.yaml");
        Assert.Equal(0, again.ExitCode);
        Assert.Single(again.Stderr.Split('\n'), l => l.Contains("nothing to run", StringComparison.Ordinal));
        Assert.Contains("tunesmith: study 's' already has 2 of its budget of 2 trials; nothing to run, and its 1 waiting trial will not run; " +
            "run with --trials 3 to run more", again.Stderr);
        Assert.DoesNotContain("OptimizeOptions", again.Stderr);
        Assert.Equal(0, (await kit.CliS("run", "study.yaml", "--trials", "3", "--quiet")).ExitCode);
        var trials = await kit.TrialsAsync();
        Assert.Equal([0.5, 0.25], trials.Where(t => t.GetProperty("number").GetInt32() != 1).OrderBy(t => t.GetProperty("number").GetInt32())
            .Select(t => t.GetProperty("params").GetProperty("x").GetDouble()));
        Assert.All(trials, t => Assert.Equal("Complete", t.GetProperty("state").GetString()));
    }
}
