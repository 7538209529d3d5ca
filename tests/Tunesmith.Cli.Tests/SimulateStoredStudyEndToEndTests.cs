using System.Text.Json;

namespace Tunesmith.Cli.Tests;

/// <summary>
/// <c>tunesmith simulate --benchmark study:NAME</c>: a study run for real on SQLite (a command trial reporting a curve),
/// replayed in the simulator with its own trials as the table; and the one-line errors for what cannot be replayed.
/// </summary>
public sealed class SimulateStoredStudyEndToEndTests
{
    private const string Curve = """
        import json, sys
        x, c = float(sys.argv[1]), sys.argv[2]
        top = 1 - (x - 0.3) ** 2 - (0.1 if c == "b" else 0)
        for step in range(1, 10):
            print("tunesmith:report " + json.dumps({"step": step, "acc": top * (1 - 0.5 ** step)}), flush=True)
        print("tunesmith:result " + json.dumps({"acc": top * (1 - 0.5 ** 9)}))
        """;

    [Fact]
    public async Task A_real_study_replays_its_own_trials_under_none_and_asha_with_the_documented_json()
    {
        using var kit = new StudyKit();
        kit.Write("t.py", Curve);
        // The study file names its storage: `run` and `simulate --benchmark study:study.yaml` both find it there.
        kit.StudyFile($"storage: {kit.Storage}\nmetric: acc\ndirection: maximize\ntrials: 8\nparallel: 1\ncommand: python3 t.py {{x}} {{c}}\n"
            + "space:\n  x: { float: [0, 1] }\n  c: { choice: [a, b] }\n");
        var run = await kit.Cli("run", "study.yaml", "-q");
        Assert.True(run.ExitCode == 0, run.ToString());
        var curves = await kit.CliS("report", "--study", "s", "--curves", "--format", "json");
        Assert.True(curves.ExitCode == 0, curves.ToString());
        using var curvesDoc = JsonDocument.Parse(curves.Stdout);
        var reported = curvesDoc.RootElement.GetProperty("trials").EnumerateArray()
            .SelectMany(t => t.GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("acc").GetDouble())).ToHashSet();
        Assert.Equal(8 * 9, reported.Count);
        var best = reported.Max();

        foreach (var scheduler in new[] { "none", "asha" })
        {
            var r = await kit.Cli("simulate", "--benchmark", "study:study.yaml", "--scheduler", scheduler, "--sampler", "random",
                "--workers", "2", "--seeds", "3", "--format", "json", "--output", $"traces-{scheduler}.json");
            Assert.True(r.ExitCode == 0, r.ToString());
            using var doc = JsonDocument.Parse(r.Stdout);
            var root = doc.RootElement;
            Assert.Equal(["benchmark", "metric", "direction", "target", "workers", "time_budget_s", "runs", "median_time_to_target_s", "reached"],
                root.EnumerateObject().Select(p => p.Name).ToArray());
            Assert.Equal("study:s", root.GetProperty("benchmark").GetString());
            Assert.Equal("acc", root.GetProperty("metric").GetString());
            Assert.Equal("maximize", root.GetProperty("direction").GetString());
            Assert.Equal(best - 0.01 * Math.Abs(best), root.GetProperty("target").GetDouble(), 12); // the study's best within 1 %
            Assert.Equal(2, root.GetProperty("workers").GetInt32());
            Assert.Equal(7200, root.GetProperty("time_budget_s").GetDouble());
            var runs = root.GetProperty("runs").EnumerateArray().ToArray();
            Assert.Equal([0, 1, 2], runs.Select(x => x.GetProperty("seed").GetInt32()).ToArray());
            foreach (var x in runs)
            {
                // Every value the replay reports is one the real trials reported; no row is started twice.
                Assert.Contains(x.GetProperty("best").GetDouble(), reported);
                Assert.InRange(x.GetProperty("trials_started").GetInt32(), 2, 8);
                if (scheduler == "none")
                {
                    // Nothing stops a trial: all 8 rows run to their end, and the best is the study's.
                    Assert.Equal(8, x.GetProperty("trials_started").GetInt32());
                    Assert.Equal(0, x.GetProperty("trials_stopped").GetInt32());
                    Assert.Equal(best, x.GetProperty("best").GetDouble());
                    Assert.Equal(JsonValueKind.Number, x.GetProperty("time_to_target_s").ValueKind);
                }
            }
            using var traces = JsonDocument.Parse(File.ReadAllText(Path.Combine(kit.Dir, $"traces-{scheduler}.json")));
            foreach (var x in traces.RootElement.GetProperty("strategies")[0].GetProperty("runs").EnumerateArray())
                Assert.All(x.GetProperty("trace").EnumerateArray(), p => Assert.Contains(p[1].GetDouble(), reported));
        }
    }

    [SkippableFact]
    public async Task A_study_on_postgres_replays_the_same_way()
    {
        using var schema = Tunesmith.Tests.Storage.PostgresTestServer.NewSchema();
        using var kit = new StudyKit();
        kit.Write("t.py", Curve);
        kit.StudyFile("metric: acc\ndirection: maximize\ntrials: 4\nparallel: 2\ncommand: python3 t.py {x} {c}\n"
            + "space:\n  x: { float: [0, 1] }\n  c: { choice: [a, b] }\n");
        var run = await kit.Cli("run", "study.yaml", "-q", "--storage", schema.Url);
        Assert.True(run.ExitCode == 0, run.ToString());
        var curves = await kit.Cli("report", "--study", "s", "--curves", "--format", "json", "--storage", schema.Url);
        Assert.True(curves.ExitCode == 0, curves.ToString());
        using var curvesDoc = JsonDocument.Parse(curves.Stdout);
        var best = curvesDoc.RootElement.GetProperty("trials").EnumerateArray()
            .SelectMany(t => t.GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("acc").GetDouble())).Max();

        var r = await kit.Cli("simulate", "--benchmark", "study:s", "--storage", schema.Url, "--workers", "2", "--seeds", "2", "--format", "json");
        Assert.True(r.ExitCode == 0, r.ToString());
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal("study:s", doc.RootElement.GetProperty("benchmark").GetString());
        foreach (var x in doc.RootElement.GetProperty("runs").EnumerateArray())
        {
            Assert.Equal(4, x.GetProperty("trials_started").GetInt32());
            Assert.Equal(best, x.GetProperty("best").GetDouble());
        }
    }

    [Fact]
    public async Task What_cannot_be_replayed_is_one_line_and_exit_2()
    {
        using var kit = new StudyKit();
        // A study whose trials report no intermediate values.
        kit.Write("t.py", "import json, sys\nprint('tunesmith:result ' + json.dumps({'acc': float(sys.argv[1])}))\n");
        kit.StudyFile("metric: acc\ndirection: maximize\ntrials: 2\nparallel: 1\ncommand: python3 t.py {x}\nspace:\n  x: { float: [0, 1] }\n");
        Assert.Equal(0, (await kit.CliS("run", "study.yaml", "-q")).ExitCode);

        var missingDb = "sqlite:///" + Path.Combine(kit.Dir, "missing.db");
        (string[] Args, string Line)[] cases =
        [
            (["--benchmark", "study:s", "--storage", kit.Storage],
                "tunesmith: --benchmark study:s: study 's' has no Complete, Pruned or Paused trial with reported values (trial.Report or tunesmith:report) to replay"),
            (["--benchmark", "study:nope", "--storage", kit.Storage], $"tunesmith: --benchmark study:nope: study 'nope' does not exist in {kit.Storage}"),
            (["--benchmark", "study:s", "--storage", missingDb],
                $"tunesmith: no Tunesmith database at {Path.Combine(kit.Dir, "missing.db")} (storage {missingDb}): create a study first with 'tunesmith run' or 'tunesmith create'"),
            (["--benchmark", "study:", "--storage", kit.Storage], "tunesmith: --benchmark study:: give the study's name or study file after 'study:'"),
            (["--benchmark", "lcbench-blood", "--storage", kit.Storage], "tunesmith: --storage: only with --benchmark study:NAME (got --benchmark lcbench-blood)"),
        ];
        foreach (var (args, line) in cases)
        {
            var r = await kit.Cli(["simulate", .. args, "--seeds", "1"]);
            Assert.True(r.ExitCode == 2, r.ToString());
            Assert.Equal(line, r.Stderr.Trim());
        }
        Assert.False(File.Exists(Path.Combine(kit.Dir, "missing.db"))); // reading creates nothing
    }
}
