using System.Text.Json;

namespace Tunesmith.Cli.Tests;

/// <summary>`tunesmith run` on study files whose commands are small Python programs: outcomes, retries, fail_fast, timeouts.</summary>
public sealed class RunEndToEndTests
{
    [Fact]
    public async Task Quickstart_example_runs_with_parallel_2_and_reports_trials_best_first()
    {
        using var kit = new StudyKit();
        var study = Path.Combine(StudyKit.RepoRoot(), "examples", "quickstart", "study.yaml");
        var r = await kit.CliS("run", study, "--trials", "6", "--parallel", "2");
        Assert.True(r.ExitCode == 0, r.ToString());
        var trials = await kit.TrialsAsync("quickstart-wine");
        Assert.Equal(6, trials.Count);
        Assert.All(trials, t => Assert.Equal("Complete", t.GetProperty("state").GetString()));
        var losses = trials.Select(t => t.GetProperty("value").GetDouble()).ToList();
        Assert.Equal(losses.Order().ToList(), losses); // minimize: best (lowest) first
        // The run ended with the same ranking as a table: all 6 trials, lowest val_loss first.
        Assert.Contains("all 6 trials (lowest val_loss first):", r.Stdout);
        Assert.Equal(trials.Select(t => t.GetProperty("number").GetInt32()), ResultsTable(r.Stdout).Select(row => row.Number));
        Assert.All(trials, t => Assert.True(t.GetProperty("metrics").TryGetProperty("val_accuracy", out _)));
        // Every trial kept its logs and params in its own directory beside the database.
        var dirs = Directory.GetDirectories(Path.Combine(kit.RunDir("quickstart-wine"), "trials"));
        Assert.Equal(6, dirs.Length);
        Assert.All(dirs, d => Assert.True(File.Exists(Path.Combine(d, "stdout.log")) && File.Exists(Path.Combine(d, "params.json"))));
    }

    [Fact]
    public async Task Run_ends_with_the_ten_best_trials_sorted_and_the_command_that_reports_all_of_them_unless_quiet()
    {
        using var kit = new StudyKit();
        kit.Write("obj.py", "import sys\nprint('tunesmith:result {\"score\": %s}' % sys.argv[1])\n");
        kit.StudyFile($"""
            direction: maximize
            metric: score
            command: {StudyKit.Python} obj.py {"{x}"}
            space:
              x: {"{"} float: [0, 100] {"}"}
            trials: 12
            parallel: 2
            """);
        var r = await kit.CliS("run", "study.yaml");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("the best 10 of 12 trials (highest score first):", r.Stdout);
        var rows = ResultsTable(r.Stdout);
        var all = await kit.TrialsAsync(); // report's ranking, best first
        Assert.Equal(all.Take(10).Select(t => t.GetProperty("number").GetInt32()), rows.Select(row => row.Number));
        Assert.Equal(rows.Select(row => row.Value).OrderDescending(), rows.Select(row => row.Value));
        Assert.Equal(Enumerable.Range(1, 10), rows.Select(row => row.Rank));

        // The hint names a command that prints all 12.
        var hint = r.Stdout.Split('\n').Single(l => l.StartsWith("... 2 more: tunesmith report ", StringComparison.Ordinal));
        var report = await CliProcess.RunAsync(kit.Dir, hint["... 2 more: tunesmith ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.True(report.ExitCode == 0, report.ToString());
        Assert.Equal(12, ResultsTable(report.Stdout).Count);

        var quiet = await kit.CliS("run", "study.yaml", "--trials", "13", "--quiet");
        Assert.True(quiet.ExitCode == 0, quiet.ToString());
        Assert.DoesNotContain("rank", quiet.Stdout);
        Assert.StartsWith("best: trial ", quiet.Stdout.Trim());
    }

    [Fact]
    public async Task The_report_hint_leaves_a_storage_from_TUNESMITH_STORAGE_to_the_variable()
    {
        // Written out, a PostgreSQL URL from the variable shows its password as *** and the pasted command cannot log in.
        using var kit = new StudyKit();
        kit.Write("obj.py", "import sys\nprint('tunesmith:result {\"value\": %s}' % sys.argv[1])\n");
        kit.StudyFile($"""
            command: {StudyKit.Python} obj.py {"{x}"}
            space:
              x: {"{"} float: [0, 100] {"}"}
            trials: 11
            parallel: 2
            """);
        var env = new Dictionary<string, string?> { ["TUNESMITH_STORAGE"] = kit.Storage };
        var r = await CliProcess.RunAsync(kit.Dir, ["run", "study.yaml"], env);
        Assert.True(r.ExitCode == 0, r.ToString());
        var hint = r.Stdout.Split('\n').Single(l => l.StartsWith("... 1 more: ", StringComparison.Ordinal));
        Assert.Equal("... 1 more: tunesmith report --study s", hint.TrimEnd());
        var report = await CliProcess.RunAsync(kit.Dir, hint["... 1 more: tunesmith ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries), env);
        Assert.True(report.ExitCode == 0, report.ToString());
        Assert.Equal(11, ResultsTable(report.Stdout).Count);
    }

    [Fact]
    public async Task The_best_line_of_a_study_without_parameters_has_no_trailing_space()
    {
        using var kit = new StudyKit();
        kit.Write("obj.py", "print('tunesmith:result {\"loss\": 1.5}')\n");
        kit.StudyFile($"""
            metric: loss
            command: {StudyKit.Python} obj.py
            trials: 1
            """);
        var r = await kit.CliS("run", "study.yaml", "--quiet");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("best: trial 0 loss=1.5\n", r.Stdout);
    }

    /// <summary>The rows of the first text results table in <paramref name="stdout"/>: rank, number and objective.</summary>
    private static List<(int Rank, int Number, double Value)> ResultsTable(string stdout)
    {
        var lines = stdout.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var header = lines.FindIndex(l => l.StartsWith("rank  number  state", StringComparison.Ordinal));
        Assert.True(header >= 0, "no results table in:\n" + stdout);
        Assert.StartsWith("----", lines[header + 1]);
        return lines.Skip(header + 2).TakeWhile(l => l.Length > 0 && !l.StartsWith("...", StringComparison.Ordinal))
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(c => (int.Parse(c[0], System.Globalization.CultureInfo.InvariantCulture), int.Parse(c[1], System.Globalization.CultureInfo.InvariantCulture),
                double.Parse(c[3], System.Globalization.CultureInfo.InvariantCulture)))
            .ToList();
    }

    [Fact]
    public async Task Failing_and_crashing_trials_are_recorded_Failed_with_their_stderr_and_the_run_goes_on()
    {
        using var kit = new StudyKit();
        kit.Write("obj.py", """
            import os, sys
            mode = sys.argv[1]
            if mode == "fail":
                print("something went wrong in the model", file=sys.stderr, flush=True)
                sys.exit(3)
            if mode == "crash":
                print("about to crash", file=sys.stderr, flush=True)
                os.kill(os.getpid(), 9)
            print('tunesmith:result {"score": 1.0}')
            """);
        kit.StudyFile($"""
            metric: score
            command: {StudyKit.Python} obj.py {"{mode}"}
            space:
              mode: {"{"} choice: [ok, fail, crash] {"}"}
            trials: 3
            """);
        Assert.Equal(0, (await kit.CliS("create", "study.yaml")).ExitCode);
        foreach (var mode in new[] { "ok", "fail", "crash" })
            Assert.Equal(0, (await kit.CliS("enqueue", "--study", "s", "--set", $"mode={mode}")).ExitCode);
        var r = await kit.CliS("run", "study.yaml");
        Assert.True(r.ExitCode == 0, r.ToString());
        var trials = await kit.TrialsAsync();
        var byMode = trials.ToDictionary(t => t.GetProperty("params").GetProperty("mode").GetString()!);
        Assert.Equal("Complete", byMode["ok"].GetProperty("state").GetString());
        Assert.Equal("Failed", byMode["fail"].GetProperty("state").GetString());
        Assert.Contains("something went wrong in the model", byMode["fail"].GetProperty("fail_reason").GetString());
        Assert.Equal("Failed", byMode["crash"].GetProperty("state").GetString());
        Assert.Contains("about to crash", byMode["crash"].GetProperty("fail_reason").GetString());
    }

    [Fact]
    public async Task A_trial_over_trial_timeout_is_stopped_and_Failed()
    {
        using var kit = new StudyKit();
        kit.Write("obj.py", "import time\nprint('started', flush=True)\ntime.sleep(120)\n");
        kit.StudyFile($"""
            command: {StudyKit.Python} obj.py
            space:
              x: {"{"} float: [0, 1] {"}"}
            trials: 1
            trial_timeout: 1s
            """);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var r = await kit.CliS("run", "study.yaml");
        Assert.True(r.ExitCode == 1, r.ToString()); // its only trial failed: the run says so in its exit code
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"took {watch.Elapsed}");
        var t = Assert.Single(await kit.TrialsAsync());
        Assert.Equal("Failed", t.GetProperty("state").GetString());
        Assert.Contains("timed out", t.GetProperty("fail_reason").GetString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Retries_rerun_a_failed_trial_with_the_same_params_until_it_succeeds()
    {
        using var kit = new StudyKit();
        // Fails on the first attempt (no marker in its trial directory yet), succeeds on the retry, which reuses that directory.
        kit.Write("obj.py", """
            import os, sys
            marker = os.path.join(os.environ["TUNESMITH_TRIAL_DIR"], "attempted")
            if not os.path.exists(marker):
                open(marker, "w").close()
                sys.exit("first attempt fails")
            print('tunesmith:result {"value": %s}' % sys.argv[1])
            """);
        kit.StudyFile($"""
            command: {StudyKit.Python} obj.py {"{x}"}
            space:
              x: {"{"} float: [0, 1] {"}"}
            trials: 2
            retries: 1
            """);
        var r = await kit.CliS("run", "study.yaml");
        Assert.True(r.ExitCode == 0, r.ToString());
        var trials = await kit.TrialsAsync();
        var complete = trials.Where(t => t.GetProperty("state").GetString() == "Complete").ToList();
        var failed = trials.Where(t => t.GetProperty("state").GetString() == "Failed").ToList();
        Assert.Equal(2, complete.Count);
        Assert.Equal(2, failed.Count);
        var failedXs = failed.Select(t => t.GetProperty("params").GetProperty("x").GetDouble()).Order();
        var completeXs = complete.Select(t => t.GetProperty("params").GetProperty("x").GetDouble()).Order();
        Assert.Equal(failedXs, completeXs); // the retries ran exactly the failed params
    }

    [Fact]
    public async Task Fail_fast_stops_the_study_at_the_first_failure_with_exit_code_1()
    {
        using var kit = new StudyKit();
        kit.Write("obj.py", "import sys\nsys.exit('always fails')\n");
        kit.StudyFile($"""
            command: {StudyKit.Python} obj.py
            space:
              x: {"{"} float: [0, 1] {"}"}
            trials: 5
            fail_fast: true
            """);
        var r = await kit.CliS("run", "study.yaml");
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.Contains("fail_fast", r.Stderr);
        var t = Assert.Single(await kit.TrialsAsync());
        Assert.Equal("Failed", t.GetProperty("state").GetString());
    }

    [Fact]
    public async Task Enqueued_csv_combinations_are_exactly_the_trials_and_the_csv_report_lists_them_best_first()
    {
        using var kit = new StudyKit();
        kit.Write("obj.py", """
            import sys
            a, b = float(sys.argv[1]), sys.argv[2]
            print('tunesmith:result {"value": %s}' % (a * (2 if b == "x" else 1)))
            """);
        kit.StudyFile($"""
            direction: maximize
            command: {StudyKit.Python} obj.py {"{a} {b}"}
            space:
              a: {"{"} float: [0, 10] {"}"}
              b: {"{"} choice: [x, y] {"}"}
            trials: 4
            """);
        kit.Write("combos.csv", "a,b\n1.5,x\n4,y\n0.5,y\n2,x\n");
        Assert.Equal(0, (await kit.CliS("create", "study.yaml")).ExitCode);
        var enq = await kit.CliS("enqueue", "--study", "s", "--file", "combos.csv");
        Assert.True(enq.ExitCode == 0, enq.ToString());
        var run = await kit.CliS("run", "study.yaml", "--parallel", "2");
        Assert.True(run.ExitCode == 0, run.ToString());
        var report = await kit.CliS("report", "--study", "s", "--format", "csv");
        Assert.True(report.ExitCode == 0, report.ToString());
        var lines = report.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var header = lines[0].Split(',');
        int Col(string name) => Array.IndexOf(header, name);
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToList();
        var combos = rows.Select(c => (double.Parse(c[Col("a")], System.Globalization.CultureInfo.InvariantCulture), c[Col("b")])).ToList();
        Assert.Equal(new[] { (1.5, "x"), (4.0, "y"), (0.5, "y"), (2.0, "x") }.OrderBy(c => c), combos.OrderBy(c => c));
        var values = rows.Select(c => double.Parse(c[Col("value")], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(values.OrderDescending().ToList(), values); // maximize: best first
    }

    [Fact]
    public async Task A_parallel_the_gpus_cannot_hold_is_capped_and_the_start_line_says_why()
    {
        // parallel: 4 with one whole GPU a trial on two GPUs runs two at a time; the user must not read "parallel 2" as a typo.
        using var kit = new StudyKit();
        kit.Write("obj.py", "import os\nprint('tunesmith:result {\"value\": %d}' % len(os.environ['CUDA_VISIBLE_DEVICES']))\n");
        kit.StudyFile($"""
            command: {StudyKit.Python} obj.py {"{x}"}
            space:
              x: {"{"} float: [0, 1] {"}"}
            trials: 2
            parallel: 4
            resources: {"{"} gpus_per_trial: 1 {"}"}
            """);
        var r = await kit.CliS("run", "study.yaml", "--gpus", "0,1");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("parallel 2 (4 asked, as many as resources: allows at once), GPUs 0,1;", r.Stderr);
    }

    [Fact]
    public async Task Enqueue_skips_a_combination_already_in_the_study_or_repeated_in_the_file_so_a_rerun_adds_nothing()
    {
        using var kit = new StudyKit();
        kit.StudyFile($"""
            direction: maximize
            command: {StudyKit.Python} obj.py {"{a} {b}"}
            space:
              a: {"{"} float: [0, 10] {"}"}
              b: {"{"} choice: [x, "y,z"] {"}"}
            trials: 10
            """);
        // Line 5 repeats line 2 (1.5 and 1.50 are the same value); line 6 differs from line 2 only in b.
        kit.Write("combos.csv", "a,b\n1.5,x\n4,\"y,z\"\n0.5,x\n1.50,x\n1.5,\"y,z\"\n");
        Assert.Equal(0, (await kit.CliS("create", "study.yaml")).ExitCode);
        var first = await kit.CliS("enqueue", "--study", "s", "--file", "combos.csv");
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains("enqueued 4 trials (0..3)", first.Stdout);
        Assert.Contains("combos.csv:5: skipped: the same combination as line 2", first.Stderr);

        // The same command again (a rerun after an error, a second terminal) must not double the work.
        var again = await kit.CliS("enqueue", "--study", "s", "--file", "combos.csv");
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("enqueued no trials", again.Stdout);
        Assert.Contains("skipped 4 combinations already in study 's'", again.Stderr);
        Assert.Contains("combos.csv:5: skipped: the same combination as line 2", again.Stderr);
        Assert.Equal(4, (await kit.TrialsAsync()).Count);

        // Asked for, a repeat is enqueued (e.g. to measure noise).
        var repeat = await kit.CliS("enqueue", "--study", "s", "--set", "a=4", "--set", "b=y,z", "--allow-duplicates");
        Assert.True(repeat.ExitCode == 0, repeat.ToString());
        Assert.Contains("enqueued trial 4", repeat.Stdout);
        Assert.Equal(5, (await kit.TrialsAsync()).Count);
    }

    [Fact]
    public async Task A_rerun_of_enqueue_says_which_combinations_failed_before_and_enqueues_them_again_only_with_retry_failed()
    {
        using var kit = new StudyKit();
        kit.Write("obj.py", """
            import sys
            a = float(sys.argv[1])
            if a > 5: sys.exit("diverged")
            print('tunesmith:result {"value": %s}' % a)
            """);
        kit.StudyFile($"""
            command: {StudyKit.Python} obj.py {"{a}"}
            space:
              a: {"{"} float: [0, 10] {"}"}
            trials: 3
            """);
        kit.Write("combos.csv", "a\n1\n7\n9\n");
        Assert.Equal(0, (await kit.CliS("create", "study.yaml")).ExitCode);
        Assert.Equal(0, (await kit.CliS("enqueue", "--study", "s", "--file", "combos.csv")).ExitCode);
        var run = await kit.CliS("run", "study.yaml");
        Assert.Equal(["Complete", "Failed", "Failed"], (await kit.TrialsAsync()).Select(t => t.GetProperty("state").GetString()));

        // As Optuna's skip_if_exists: a combination that failed is held, and the rerun says so in one line.
        var again = await kit.CliS("enqueue", "--study", "s", "--file", "combos.csv");
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("enqueued no trials", again.Stdout);
        Assert.Contains("tunesmith: skipped 1 combination already in study 's' (trial 0)", again.Stderr);
        Assert.Contains("tunesmith: skipped 2 combinations that failed before in study 's' (trials 1, 2); --retry-failed enqueues them again", again.Stderr);
        Assert.Equal(3, (await kit.TrialsAsync()).Count);

        var retry = await kit.CliS("enqueue", "--study", "s", "--file", "combos.csv", "--retry-failed");
        Assert.True(retry.ExitCode == 0, retry.ToString());
        Assert.Contains("enqueued 2 trials (3..4)", retry.Stdout);
        Assert.Contains("tunesmith: 2 combinations had failed before (trials 1, 2); enqueued again", retry.Stderr);
        // The waiting retries hold them now: a third run adds nothing, even with --retry-failed.
        var third = await kit.CliS("enqueue", "--study", "s", "--file", "combos.csv", "--retry-failed");
        Assert.Contains("enqueued no trials", third.Stdout);
        Assert.Contains("skipped 3 combinations already in study 's' (trials 0, 3, 4)", third.Stderr);
    }

    [Fact]
    public async Task A_small_float_reaches_the_program_and_every_report_as_python_writes_it()
    {
        // .NET writes 6.5388e-05 as 6.5388E-05; Python, spreadsheets and people expect 6.5388e-05.
        using var kit = new StudyKit();
        kit.Write("obj.py", """
            import json, os, sys
            with open(os.path.join(os.environ["TUNESMITH_TRIAL_DIR"], "seen.json"), "w") as f:
                json.dump({"argv": sys.argv[1:], "env": os.environ["TUNESMITH_PARAM_LR"],
                           "file": open(os.environ["TUNESMITH_PARAMS_FILE"]).read()}, f)
            print('tunesmith:result {"value": %s}' % repr(float(sys.argv[2])))
            """);
        kit.StudyFile($"""
            command: {StudyKit.Python} obj.py --lr {"{lr}"}
            space:
              lr: {"{"} float: [1.0e-6, 1.0], log: true {"}"}
            trials: 1
            """);
        Assert.Equal(0, (await kit.CliS("create", "study.yaml")).ExitCode);
        Assert.Equal(0, (await kit.CliS("enqueue", "--study", "s", "--set", "lr=6.5388e-05")).ExitCode);
        var run = await kit.CliS("run", "study.yaml");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("best: trial 0 value=6.5388e-05 lr=6.539e-05", run.Stdout);

        using var seen = JsonDocument.Parse(File.ReadAllText(Directory.GetFiles(kit.Dir, "seen.json", SearchOption.AllDirectories).Single()));
        Assert.Equal(["--lr", "6.5388e-05"], seen.RootElement.GetProperty("argv").EnumerateArray().Select(a => a.GetString()));
        Assert.Equal("6.5388e-05", seen.RootElement.GetProperty("env").GetString());
        Assert.Contains("\"lr\":6.5388e-05", seen.RootElement.GetProperty("file").GetString());

        foreach (var format in new[] { "table", "csv", "json", "md" })
        {
            var report = await kit.CliS("report", "--study", "s", "--format", format);
            Assert.True(report.ExitCode == 0, report.ToString());
            Assert.Contains("6.5388e-05", report.Stdout);
            Assert.DoesNotContain("E-05", report.Stdout);
        }
        var best = await kit.CliS("best", "--study", "s");
        Assert.Contains("value = 6.5388e-05", best.Stdout);
        Assert.Contains("lr = 6.5388e-05", best.Stdout);
        var args = await kit.CliS("best", "--study", "s", "--format", "args");
        Assert.Contains("lr=6.5388e-05", args.Stdout);
        var status = await kit.CliS("status", "--study", "s", "--format", "json");
        Assert.Contains("6.5388e-05", status.Stdout);

        // The JSON progress events too (a second trial, the same value).
        Assert.Equal(0, (await kit.CliS("enqueue", "--study", "s", "--set", "lr=6.5388e-05", "--allow-duplicates")).ExitCode);
        var events = await kit.CliS("run", "study.yaml", "--trials", "2", "--log-format", "json");
        Assert.True(events.ExitCode == 0, events.ToString());
        Assert.Contains("\"value\":6.5388e-05", events.Stdout + events.Stderr);
        Assert.DoesNotContain("E-05", events.Stdout + events.Stderr);
    }

    [Theory]
    [InlineData("x; touch {0}")]
    [InlineData("$(touch {0})")]
    [InlineData("`touch {0}` && touch {0}")]
    public async Task A_parameter_value_reaches_the_program_as_one_literal_argument_and_runs_nothing(string template)
    {
        using var kit = new StudyKit();
        var pwned = Path.Combine(kit.Dir, "pwned");
        var value = string.Format(System.Globalization.CultureInfo.InvariantCulture, template, pwned);
        kit.Write("obj.py", """
            import json, os, sys
            with open(os.path.join(os.environ["TUNESMITH_TRIAL_DIR"], "argv.json"), "w") as f:
                json.dump(sys.argv[1:], f)
            print('tunesmith:result {"value": 1}')
            """);
        // YAML single quotes keep the value literal; the template puts it in one argv element, and no shell ever sees it.
        kit.StudyFile($"""
            command: {StudyKit.Python} obj.py --v {"{v}"} end
            space:
              v: {"{"} choice: ['{value}'] {"}"}
            trials: 1
            """);
        var r = await kit.CliS("run", "study.yaml");
        Assert.True(r.ExitCode == 0, r.ToString());
        var argvFile = Directory.GetFiles(kit.Dir, "argv.json", SearchOption.AllDirectories).Single();
        var argv = JsonSerializer.Deserialize<string[]>(File.ReadAllText(argvFile))!;
        Assert.Equal(new[] { "--v", value, "end" }, argv);
        Assert.False(File.Exists(pwned), "a parameter value ran a shell command");
    }
}

/// <summary>`tunesmith worker` joins a study created from a study file, without the file, and honours its own trial cap.</summary>
public sealed class WorkerEndToEndTests
{
    [Fact]
    public async Task Worker_runs_a_created_study_from_another_directory_one_trial_at_a_time_within_the_budget()
    {
        using var kit = new StudyKit();
        kit.Write("obj.py", "import sys\nprint('tunesmith:result {\"value\": %s}' % sys.argv[1])\n");
        kit.StudyFile($"""
            command: {StudyKit.Python} obj.py {"{x}"}
            space:
              x: {"{"} float: [0, 1] {"}"}
            trials: 3
            """);
        Assert.Equal(0, (await kit.CliS("create", "study.yaml")).ExitCode);
        File.Move(Path.Combine(kit.Dir, "study.yaml"), Path.Combine(kit.Dir, "moved.yaml")); // the worker needs only the stored file

        var one = await kit.CliS("worker", "--study", "s", "--one-trial");
        Assert.True(one.ExitCode == 0, one.ToString());
        Assert.Single(await kit.TrialsAsync());
        var rest = await kit.CliS("worker", "--study", "s", "--trials", "10");
        Assert.True(rest.ExitCode == 0, rest.ToString());
        var trials = await kit.TrialsAsync();
        Assert.Equal(3, trials.Count); // the study's budget holds whatever the worker's cap
        Assert.All(trials, t => Assert.Equal("Complete", t.GetProperty("state").GetString()));

        var best = await kit.CliS("best", "--study", "s", "--format", "args");
        Assert.True(best.ExitCode == 0, best.ToString());
        Assert.StartsWith("--set x=", best.Stdout.Trim());

        var missing = await kit.CliS("worker", "--study", "nope");
        Assert.Equal(2, missing.ExitCode);
    }

    [Fact]
    public async Task Best_as_json_is_the_report_exporters_best_trial_with_its_extra_metrics()
    {
        using var kit = new StudyKit();
        kit.Write("obj.py", "import sys\nx = float(sys.argv[1])\nprint('tunesmith:result {\"value\": %s, \"acc\": %s}' % (x, 1 - x))\n");
        kit.StudyFile($"""
            command: {StudyKit.Python} obj.py {"{x}"}
            space:
              x: {"{"} float: [0, 1] {"}"}
            trials: 3
            direction: maximize
            """);
        Assert.Equal(0, (await kit.CliS("run", "study.yaml")).ExitCode);
        var report = (await kit.TrialsAsync())[0];

        var best = await kit.CliS("best", "--study", "s", "--format", "json");
        Assert.True(best.ExitCode == 0, best.ToString());
        using var doc = JsonDocument.Parse(best.Stdout);
        var root = doc.RootElement;
        Assert.Equal("s", root.GetProperty("study").GetString());
        Assert.Equal("maximize", root.GetProperty("direction").GetString());
        Assert.Equal(report.GetProperty("number").GetInt32(), root.GetProperty("number").GetInt32());
        Assert.Equal(report.GetProperty("value").GetDouble(), root.GetProperty("value").GetDouble());
        Assert.Equal(report.GetProperty("params").GetProperty("x").GetDouble(), root.GetProperty("params").GetProperty("x").GetDouble());
        Assert.Equal(report.GetProperty("metrics").GetProperty("acc").GetDouble(), root.GetProperty("metrics").GetProperty("acc").GetDouble());
        Assert.Equal(root.GetProperty("value").GetDouble(), root.GetProperty("metrics").GetProperty(root.GetProperty("metric").GetString()!).GetDouble());
        Assert.Equal(report.GetProperty("duration_seconds").GetDouble(), root.GetProperty("duration_seconds").GetDouble());
    }

    [Theory]
    [InlineData("{\"step\": e, \"loss\": 1.0 / e}", "has no 'val_f1' (the study's metric), so scheduler 'median' cannot judge it (the report has: loss)")]
    [InlineData("{\"step\": e, \"val_f1\": float(\"nan\")}", "has val_f1 = NaN, so scheduler 'median' cannot judge it")]
    public async Task Reports_a_scheduler_cannot_judge_get_one_warning_per_trial(string report, string warning)
    {
        using var kit = new StudyKit();
        kit.Write("obj.py", $"""
            import json
            for e in range(1, 4):
                print("tunesmith:report " + json.dumps({report}), flush=True)
            print("tunesmith:result " + json.dumps({"{"}"val_f1": 0.5{"}"}))
            """);
        kit.StudyFile($"""
            direction: maximize
            metric: val_f1
            command: {StudyKit.Python} obj.py {"{x}"}
            space:
              x: {"{"} float: [0, 1] {"}"}
            scheduler: {"{"} median: {"{"} min_trials: 1 {"}"} {"}"}
            trials: 2
            """);
        var r = await kit.CliS("run", "study.yaml");
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.Contains("cannot judge", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, lines.Count);
        Assert.All(lines, l => Assert.Contains(warning, l));
        Assert.Contains(lines, l => l.StartsWith("tunesmith: warning: Trial 0: its tunesmith:report at step 1 has", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_program_that_never_reports_under_a_scheduler_gets_one_warning_a_run()
    {
        using var kit = new StudyKit();
        kit.Write("obj.py", "print('tunesmith:result {\"val_f1\": 0.5}')\n");
        kit.StudyFile($"""
            direction: maximize
            metric: val_f1
            command: {StudyKit.Python} obj.py {"{x}"}
            space:
              x: {"{"} float: [0, 1] {"}"}
            scheduler: asha
            trials: 3
            """);
        var r = await kit.CliS("run", "study.yaml");
        Assert.True(r.ExitCode == 0, r.ToString());
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.Contains("never judged", StringComparison.Ordinal));
        Assert.Matches("^tunesmith: warning: Trial \\d completed without a tunesmith:report line, so scheduler 'asha' never judged it: print tunesmith:report \\{\"step\": \\.\\.\\., \"val_f1\": \\.\\.\\.\\} lines", line);
    }
}
