using System.Text.Json;

namespace Tunesmith.Cli.Tests;

/// <summary>
/// <c>report</c> of a pruned command trial: the other metrics of its last <c>tunesmith:report</c> line, as Ray Tune's
/// <c>results.get_dataframe()</c> shows a stopped trial's last reported metrics. Before, its metric columns were empty
/// although the trial's <c>last_report</c> attribute held them.
/// </summary>
public sealed class ReportLastMetricsEndToEndTests
{
    [Fact]
    public async Task Report_shows_a_pruned_trials_last_reported_metrics_and_a_complete_ones_result_metrics()
    {
        using var kit = new StudyKit();
        // Trial 0 completes well; trial 1 reports badly at step 1 and is pruned there by the median rule (it would
        // otherwise keep training, long after the test's end).
        kit.Write("t.py", """
            import json, os, time
            n = int(os.environ["TUNESMITH_TRIAL_NUMBER"])
            if n == 0:
                for step in range(1, 4):
                    print("tunesmith:report " + json.dumps({"step": step, "val_f1": 0.9, "loss": 0.1, "acc": 0.8}), flush=True)
                print("tunesmith:result " + json.dumps({"val_f1": 0.9, "loss": 0.05}))
            else:
                print("tunesmith:report " + json.dumps({"step": 1, "val_f1": 0.1, "loss": 2.5, "acc": 0.3}), flush=True)
                time.sleep(600)
            """);
        kit.StudyFile($"""
            direction: maximize
            metric: val_f1
            command: {StudyKit.Python} t.py {"{x}"}
            space:
              x: {"{"} float: [0, 1] {"}"}
            scheduler: {"{"} median: {"{"} min_trials: 1 {"}"} {"}"}
            trials: 2
            parallel: 1
            """);
        var run = await kit.CliS("run", "study.yaml", "-q");
        Assert.True(run.ExitCode == 0, run.ToString());

        var csv = await kit.CliS("report", "--study", "s", "--format", "csv");
        Assert.True(csv.ExitCode == 0, csv.ToString());
        var rows = csv.Stdout.Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("rank,number,state,val_f1,step,loss,acc,x,", rows[0]);
        // The Complete row's metrics are its result's (no acc there), the Pruned row's its last report's, at its step.
        Assert.StartsWith("1,0,Complete,0.9,3,0.05,,", rows[1]);
        Assert.StartsWith(",1,Pruned,0.1,1,2.5,0.3,", rows[2]);

        var json = await kit.CliS("report", "--study", "s", "--format", "json");
        Assert.True(json.ExitCode == 0, json.ToString());
        using var doc = JsonDocument.Parse(json.Stdout);
        var pruned = doc.RootElement.GetProperty("trials")[1];
        Assert.Equal("Pruned", pruned.GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, pruned.GetProperty("rank").ValueKind);
        Assert.Equal(2.5, pruned.GetProperty("metrics").GetProperty("loss").GetDouble());
        Assert.Equal(0.3, pruned.GetProperty("metrics").GetProperty("acc").GetDouble());

        var table = await kit.CliS("report", "--study", "s");
        Assert.Matches(@"\n\s+1\s+Pruned\s+0\.1\s+1\s+2\.5\s+0\.3\s", table.Stdout);
    }
}
