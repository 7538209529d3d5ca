using System.Diagnostics;
using System.Text.Json;

namespace Tunesmith.Cli.Tests;

/// <summary>SIGINT to `tunesmith run` stops running trials, records them, exits non-zero, and the study resumes.</summary>
public sealed class InterruptEndToEndTests
{
    [Fact]
    public async Task Sigint_during_run_keeps_finished_trials_leaves_none_running_and_the_next_run_resumes()
    {
        using var kit = new StudyKit();
        var block = kit.Write("block", "");
        // Trials 0 and 1 finish at once; later trials hang while the "block" file exists.
        kit.Write("obj.py", $$"""
            import json, os, sys, time
            n = int(os.environ["TUNESMITH_TRIAL_NUMBER"])
            if n >= 2 and os.path.exists({{JsonSerializer.Serialize(block)}}):
                print('tunesmith:report {"step": 1, "value": 0.5}', flush=True)
                time.sleep(600)
            print('tunesmith:result {"value": %s}' % sys.argv[1])
            """);
        kit.StudyFile($"""
            command: {StudyKit.Python} obj.py {"{x}"}
            space:
              x: {"{"} float: [0, 1] {"}"}
            trials: 4
            parallel: 2
            """);

        var psi = CliProcess.StartInfo(kit.Dir, ["run", "study.yaml", "--storage", kit.Storage, "--log-format", "json"]);
        using var process = Process.Start(psi)!;
        process.StandardInput.Close();
        var stderr = process.StandardError.ReadToEndAsync();
        var reported = new HashSet<int>();
        var finished = 0;
        using (var cts = new CancellationTokenSource(TimeSpan.FromMinutes(2)))
        {
            // Wait (on stdout lines, not on time) until trials 0 and 1 are finished and the two blocked ones have reported.
            while (finished < 2 || reported.Count < 2)
            {
                var line = await process.StandardOutput.ReadLineAsync(cts.Token) ?? throw new Xunit.Sdk.XunitException("the run ended early: " + await stderr);
                using var e = JsonDocument.Parse(line);
                var kind = e.RootElement.GetProperty("event").GetString();
                if (kind == "finished") finished++;
                if (kind == "report") reported.Add(e.RootElement.GetProperty("trial").GetInt32());
            }
        }
        StudyKit.Signal(process, 2); // SIGINT
        var rest = process.StandardOutput.ReadToEndAsync();
        using (var cts = new CancellationTokenSource(TimeSpan.FromMinutes(1)))
            await process.WaitForExitAsync(cts.Token);
        await rest;
        Assert.True(process.ExitCode != 0, "an interrupted run must exit non-zero");
        Assert.Equal(130, process.ExitCode);
        Assert.DoesNotContain("   at ", await stderr);

        var status = await kit.CliS("status", "--study", "s", "--format", "json");
        using (var doc = JsonDocument.Parse(status.Stdout))
        {
            var counts = doc.RootElement.GetProperty("studies")[0].GetProperty("counts");
            Assert.Equal(0, counts.GetProperty("running").GetInt32());
            Assert.Equal(2, counts.GetProperty("complete").GetInt32());
            Assert.Equal(2, counts.GetProperty("failed").GetInt32());
        }
        var before = (await kit.TrialsAsync()).Where(t => t.GetProperty("state").GetString() == "Complete")
            .ToDictionary(t => t.GetProperty("number").GetInt32(), t => t.GetProperty("value").GetDouble());
        Assert.All((await kit.TrialsAsync()).Where(t => t.GetProperty("state").GetString() == "Failed"),
            t => Assert.Equal("interrupted", t.GetProperty("fail_reason").GetString()));

        File.Delete(block);
        var resume = await kit.CliS("run", "study.yaml");
        Assert.True(resume.ExitCode == 0, resume.ToString());
        var after = await kit.TrialsAsync();
        Assert.DoesNotContain(after, t => t.GetProperty("state").GetString() is "Running" or "Waiting");
        var complete = after.Where(t => t.GetProperty("state").GetString() == "Complete").ToList();
        Assert.Equal(4, complete.Count);
        foreach (var (number, value) in before) // no finished trial lost or changed
            Assert.Contains(complete, t => t.GetProperty("number").GetInt32() == number && t.GetProperty("value").GetDouble() == value);
    }
}
