using System.Text.Json;

namespace Tunesmith.Cli.Tests;

/// <summary>
/// <c>report --curves</c>: every trial's intermediate values as data, as Ray Tune's <c>result.metrics_dataframe</c> per
/// trial. Before, a study's learning curves could be read only from the dashboard, the HTML report's plots or each trial's
/// stdout.log.
/// </summary>
public sealed class ReportCurvesEndToEndTests
{
    [Fact]
    public async Task Report_curves_writes_every_trials_intermediate_values_as_csv_and_json_pruned_and_failed_ones_included()
    {
        using var kit = new StudyKit();
        // Trial 0 reports 3 steps and completes; trial 1 reports 2 and fails.
        kit.Write("t.py", """
            import json, os, sys
            n = int(os.environ["TUNESMITH_TRIAL_NUMBER"])
            x = float(sys.argv[1])
            for step in range(1, 4):
                print("tunesmith:report " + json.dumps({"step": step, "loss": x / step, "acc": 0.5}), flush=True)
                if n == 1 and step == 2: sys.exit(3)
            print("tunesmith:result " + json.dumps({"loss": x / 3}))
            """);
        kit.StudyFile("metric: loss\ntrials: 2\nparallel: 1\ncommand: python3 t.py {x}\nspace:\n  x: { float: [1, 2] }\n  hidden: 8\n");
        var run = await kit.CliS("run", "study.yaml", "-q");
        Assert.True(run.ExitCode == 0, run.ToString());
        var x = (await kit.TrialsAsync()).OrderBy(t => t.GetProperty("number").GetInt32())
            .Select(t => t.GetProperty("params").GetProperty("x").GetDouble()).ToArray();

        var csv = await kit.CliS("report", "--study", "s", "--curves", "--format", "csv");
        Assert.True(csv.ExitCode == 0, csv.ToString());
        var rows = csv.Stdout.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("number,state,step,loss,x,hidden", rows[0]);
        Assert.Equal(6, rows.Length);
        Assert.Equal($"0,Complete,1,{x[0] / 1:R},{x[0]:R},8", rows[1]);
        Assert.Equal($"0,Complete,3,{x[0] / 3:R},{x[0]:R},8", rows[3]);
        Assert.Equal($"1,Failed,2,{x[1] / 2:R},{x[1]:R},8", rows[5]);

        var json = await kit.CliS("report", "--study", "s", "--curves", "--format", "json");
        Assert.True(json.ExitCode == 0, json.ToString());
        using var doc = JsonDocument.Parse(json.Stdout);
        Assert.Equal("loss", doc.RootElement.GetProperty("metric").GetString());
        var trials = doc.RootElement.GetProperty("trials").EnumerateArray().ToList();
        Assert.Equal([0, 1], trials.Select(t => t.GetProperty("number").GetInt32()));
        Assert.Equal([1L, 2, 3], trials[0].GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("step").GetInt64()));
        Assert.Equal(x[1] / 2, trials[1].GetProperty("steps")[1].GetProperty("loss").GetDouble());
        Assert.Equal("Failed", trials[1].GetProperty("state").GetString());

        // Only the best trial with --top 1; a table is refused on one line.
        var top = await kit.CliS("report", "--study", "s", "--curves", "--format", "csv", "--top", "1");
        Assert.Equal(4, top.Stdout.Split("\r\n", StringSplitOptions.RemoveEmptyEntries).Length);
        var table = await kit.CliS("report", "--study", "s", "--curves");
        Assert.Equal(2, table.ExitCode);
        Assert.Contains("--curves: works with --format csv or json, not table", table.Stderr);

        // Another reported metric's curves: every trial's steps, the failed trial's too.
        var acc = await kit.CliS("report", "--study", "s", "--curves", "--format", "csv", "--metric", "acc");
        Assert.True(acc.ExitCode == 0, acc.ToString());
        var accRows = acc.Stdout.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("number,state,step,acc,x,hidden", accRows[0]);
        Assert.Equal(6, accRows.Length);
        Assert.Equal($"1,Failed,2,0.5,{x[1]:R},8", accRows[5]);
        var accJson = await kit.CliS("report", "--study", "s", "--curves", "--format", "json", "--metric", "acc");
        using (var accDoc = JsonDocument.Parse(accJson.Stdout))
        {
            Assert.Equal("acc", accDoc.RootElement.GetProperty("metric").GetString());
            Assert.Equal(0.5, accDoc.RootElement.GetProperty("trials")[0].GetProperty("steps")[2].GetProperty("acc").GetDouble());
        }
        var unknown = await kit.CliS("report", "--study", "s", "--curves", "--format", "csv", "--metric", "accuracy");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("--metric accuracy: no trial of study 's' reported it (known: loss, acc)", unknown.Stderr);
        Assert.Single(unknown.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var alone = await kit.CliS("report", "--study", "s", "--metric", "acc");
        Assert.Equal(2, alone.ExitCode);
        Assert.Contains("--metric acc: works with --curves", alone.Stderr);
    }
}
