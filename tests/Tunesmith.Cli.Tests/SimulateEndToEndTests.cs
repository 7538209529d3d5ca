using System.Text.Json;

namespace Tunesmith.Cli.Tests;

/// <summary><c>tunesmith simulate</c> through the real process: the JSON other tools read, traces, and one-line errors.</summary>
public sealed class SimulateEndToEndTests
{
    [Fact]
    public async Task Json_format_prints_one_object_with_the_documented_fields()
    {
        using var dir = new TempDir();
        var r = await CliProcess.RunAsync(dir.Path, ["simulate", "--benchmark", "lcbench-blood", "--scheduler", "none", "--sampler", "random",
            "--workers", "4", "--time-budget", "30m", "--seeds", "3", "--format", "json", "--output", "traces.json"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.Equal(["benchmark", "metric", "direction", "target", "workers", "time_budget_s", "runs", "median_time_to_target_s", "reached"],
            root.EnumerateObject().Select(p => p.Name).ToArray());
        Assert.Equal("lcbench-blood", root.GetProperty("benchmark").GetString());
        Assert.Equal("val_accuracy", root.GetProperty("metric").GetString());
        Assert.Equal("maximize", root.GetProperty("direction").GetString());
        // Default target: the best value (80.12048) within 1 %.
        Assert.Equal(80.12048 * 0.99, root.GetProperty("target").GetDouble(), 4);
        Assert.Equal(4, root.GetProperty("workers").GetInt32());
        Assert.Equal(1800, root.GetProperty("time_budget_s").GetDouble());
        var runs = root.GetProperty("runs").EnumerateArray().ToArray();
        Assert.Equal([0, 1, 2], runs.Select(x => x.GetProperty("seed").GetInt32()).ToArray());
        foreach (var run in runs)
        {
            Assert.Equal(["seed", "best", "time_to_target_s", "trials_started", "trials_stopped"], run.EnumerateObject().Select(p => p.Name).ToArray());
            Assert.True(run.GetProperty("best").GetDouble() > 70);
            var ttt = run.GetProperty("time_to_target_s");
            Assert.True(ttt.ValueKind == JsonValueKind.Null || ttt.GetDouble() is > 0 and <= 1800);
            Assert.True(run.GetProperty("trials_started").GetInt32() >= 4);
            Assert.Equal(0, run.GetProperty("trials_stopped").GetInt32());
        }
        var reached = root.GetProperty("reached").GetInt32();
        Assert.Equal(runs.Count(x => x.GetProperty("time_to_target_s").ValueKind != JsonValueKind.Null), reached);
        Assert.Equal(reached >= 2 ? JsonValueKind.Number : JsonValueKind.Null, root.GetProperty("median_time_to_target_s").ValueKind);

        using var traces = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.Path, "traces.json")));
        var strategy = Assert.Single(traces.RootElement.GetProperty("strategies").EnumerateArray());
        Assert.Equal("none", strategy.GetProperty("scheduler").GetString());
        var trace = strategy.GetProperty("runs")[0].GetProperty("trace").EnumerateArray().Select(p => (p[0].GetDouble(), p[1].GetDouble())).ToArray();
        Assert.True(trace.Length > 0);
        Assert.Equal(runs[0].GetProperty("best").GetDouble(), trace[^1].Item2);
    }

    [Fact]
    public async Task Table_format_names_the_strategy_and_each_seed()
    {
        using var dir = new TempDir();
        var r = await CliProcess.RunAsync(dir.Path, ["simulate", "--benchmark", "nasbench-nlp", "--seeds", "2", "--time-budget", "1d", "--target", "5.0"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("none+random on nasbench-nlp: val_loss (minimize), target 5, 8 workers", r.Stdout);
        Assert.Contains("median time to target", r.Stdout);
    }

    [Fact]
    public async Task Scheduler_mobster_runs_the_gp_on_ashas_rungs_and_gives_the_same_json_twice()
    {
        using var dir = new TempDir();
        string[] command = ["simulate", "--benchmark", "lcbench-blood", "--scheduler", "mobster", "--workers", "8", "--time-budget", "40s", "--seeds", "2", "--format", "json"];
        var first = await CliProcess.RunAsync(dir.Path, command);
        Assert.True(first.ExitCode == 0, first.ToString());
        var again = await CliProcess.RunAsync(dir.Path, command);
        Assert.Equal(first.Stdout, again.Stdout);
        using var doc = JsonDocument.Parse(first.Stdout);
        var runs = doc.RootElement.GetProperty("runs").EnumerateArray().ToArray();
        Assert.All(runs, run => Assert.True(run.GetProperty("trials_stopped").GetInt32() > 0)); // ASHA stopped some
    }

    [Theory]
    // simulate's own forms, and the study file's (timeout: 01:30:00, 500ms, 30min) that it refused before.
    [InlineData("40s")]
    [InlineData("40")]
    [InlineData("0.5m10s")]
    [InlineData("00:00:40")]
    [InlineData("00:40")]
    [InlineData("40000ms")]
    public async Task Time_budget_reads_durations_as_a_study_file_does(string budget)
    {
        using var dir = new TempDir();
        var r = await CliProcess.RunAsync(dir.Path, ["simulate", "--benchmark", "lcbench-blood", "--seeds", "1", "--time-budget", budget, "--format", "json"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal(40, doc.RootElement.GetProperty("time_budget_s").GetDouble());
    }

    [Theory]
    [InlineData("--benchmark lcbench-blood --scheduler median --sampler mobster", "--sampler")]
    [InlineData("--benchmark nosuch", "--benchmark nosuch")]
    [InlineData("--benchmark yahpo-lcbench:1", "'1'")]
    [InlineData("--benchmark lcbench-blood --scheduler fifo", "--scheduler")]
    [InlineData("--benchmark lcbench-blood --sampler annealing", "--sampler")]
    [InlineData("--benchmark lcbench-blood --workers 0", "--workers 0")]
    [InlineData("--benchmark lcbench-blood --workers many", "--workers many")]
    [InlineData("--benchmark lcbench-blood --time-budget 2x", "--time-budget 2x: expected a positive duration such as 90s, 30m, 2h, 1h30m or 01:30:00")]
    [InlineData("--benchmark lcbench-blood --time-budget 0h", "--time-budget 0h: expected a positive duration")]
    [InlineData("--benchmark lcbench-blood --time-budget -5", "--time-budget -5: expected a positive duration")]
    [InlineData("--benchmark lcbench-blood --time-budget 100000000d", "--time-budget 100000000d: too long (at most 36500d)")]
    [InlineData("--benchmark lcbench-blood --time-budget 3000000d", "--time-budget 3000000d: too long (at most 36500d)")]
    [InlineData("--benchmark lcbench-blood --time-budget 1e300", "--time-budget 1e300: too long")]
    [InlineData("--benchmark lcbench-blood --first-seed 2147483647 --seeds 2", "--first-seed 2147483647: with --seeds 2 the last seed would be beyond 2147483647")]
    [InlineData("--benchmark lcbench-blood --seeds -1", "--seeds -1")]
    [InlineData("--benchmark lcbench-blood --target high", "--target high")]
    [InlineData("--benchmark lcbench-blood --tolerance 2", "--tolerance 2: must be a fraction from 0 up to, not including, 1")]
    [InlineData("--benchmark lcbench-blood --tolerance 1", "--tolerance 1: must be a fraction")]
    [InlineData("--benchmark lcbench-blood --tolerance -0.1", "--tolerance -0.1: must be a fraction")]
    [InlineData("--benchmark lcbench-blood --format xml", "--format xml")]
    [InlineData("--benchmark lcbench-blood --format json --sampler random,tpe", "--format json")]
    [InlineData("--benchmark lcbench-blood --data /nonexistent/benchdata", "--data /nonexistent/benchdata: folder does not exist")]
    [InlineData("--benchmark lcbench-bloood", "unknown benchmark 'lcbench-bloood' (did you mean 'lcbench-blood'?)")]
    [InlineData("--benchmark yahpo-lcbnch:189908", "(did you mean 'yahpo-lcbench:189908'?)")]
    [InlineData("--benchmark yahpo-lcbench:1", "(known: 3945, 7593, 34539, 126025,")]
    [InlineData("--benchmark lcbench-blood --scheduler ahsa", "--scheduler: unknown scheduler 'ahsa' (did you mean 'asha'?)")]
    [InlineData("--benchmark lcbench-blood --sampler tpee", "--sampler: unknown sampler 'tpee' (did you mean 'tpe'?)")]
    [InlineData("--scheduler none", "--benchmark")]
    [InlineData("--benchmark lcbench-blood --seeds 1 --output /nonexistent/dir/traces.json", "--output /nonexistent/dir/traces.json: directory '/nonexistent/dir' does not exist")]
    [InlineData("--benchmark lcbench-blood --seeds 1 --output .", "--output .: is a directory")]
    public async Task Bad_flags_get_one_line_naming_the_flag_and_exit_code_2(string commandLine, string named)
    {
        using var dir = new TempDir();
        var r = await CliProcess.RunAsync(dir.Path, ["simulate", .. commandLine.Split(' ')]);
        Assert.True(r.ExitCode == 2, r.ToString());
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("tunesmith: ", line);
        Assert.Contains(named, line);
        Assert.DoesNotContain("   at ", r.Stderr);
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public async Task A_data_folder_from_the_environment_that_does_not_exist_is_named_as_the_variable()
    {
        using var dir = new TempDir();
        var r = await CliProcess.RunAsync(dir.Path, ["simulate", "--benchmark", "lcbench-blood"],
            new Dictionary<string, string?> { ["TUNESMITH_BENCHDATA"] = "/nonexistent/benchdata" });
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Equal("tunesmith: $TUNESMITH_BENCHDATA /nonexistent/benchdata: folder does not exist", r.Stderr.Trim());
    }
}
