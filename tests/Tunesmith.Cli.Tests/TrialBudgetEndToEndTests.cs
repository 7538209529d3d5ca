using Tunesmith.Execution.Commands;
using Tunesmith.Storage;
using Tunesmith.Trials;

namespace Tunesmith.Cli.Tests;

/// <summary>`tunesmith run --trials N` is the study's budget everywhere, `auto`'s choice of sampler included.</summary>
public sealed class TrialBudgetEndToEndTests
{
    [Fact]
    public async Task Trials_on_the_command_line_reach_autos_budget()
    {
        // Two floats and trials: 100 → auto picks GP (≤ 300 trials); run with --trials 1000 it must pick CMA-ES.
        using var kit = AutoStudy(trials: 100);
        var r = await kit.CliS("run", "study.yaml", "--trials", "1000", "--timeout", "1s", "--quiet");
        Assert.True(r.ExitCode == 0, r.ToString());
        await using var storage = StudyStorage.Open(kit.Storage);
        var study = await storage.GetStudyAsync("s");
        Assert.Equal("auto(cmaes)", study!.SystemAttributes[SystemAttributeKeys.Sampler]);
    }

    [Fact]
    public async Task A_worker_chooses_auto_for_the_budget_create_stored_and_runs_to_it()
    {
        // trials: 1 in the file; create --trials 1000 stores the study's budget. A worker opening the study rebuilds auto
        // (and records its choice): for 1,000 trials of two floats that is CMA-ES, where the file's 1 would give GP.
        using var kit = AutoStudy(trials: 1);
        var created = await kit.CliS("create", "study.yaml", "--trials", "1000");
        Assert.True(created.ExitCode == 0, created.ToString());
        var worker = await kit.CliS("worker", "--study", "s", "--one-trial", "--quiet");
        Assert.True(worker.ExitCode == 0, worker.ToString());
        await using (var storage = StudyStorage.Open(kit.Storage))
        {
            var study = await storage.GetStudyAsync("s");
            Assert.Equal("auto(cmaes)", study!.SystemAttributes[SystemAttributeKeys.Sampler]);
            Assert.Equal(1000L, Convert.ToInt64(study.SystemAttributes[StudyFileRun.TrialBudgetKey], System.Globalization.CultureInfo.InvariantCulture));
        }

        // create --trials 3 lowers the stored budget; a worker without a cap runs the study to 3 trials, not the file's 1.
        Assert.Equal(0, (await kit.CliS("create", "study.yaml", "--trials", "3")).ExitCode);
        var rest = await kit.CliS("worker", "--study", "s", "--quiet");
        Assert.True(rest.ExitCode == 0, rest.ToString());
        Assert.Equal(3, (await kit.TrialsAsync()).Count);
    }

    [Fact]
    public async Task Timeout_on_the_command_line_reads_durations_as_the_study_file_does()
    {
        using var kit = new StudyKit();
        kit.Write("obj.py", "import sys\nprint('tunesmith:result {\"value\": %s}' % sys.argv[1])\n");
        kit.StudyFile($"""
            command: {StudyKit.Python} obj.py {"{x}"}
            space:
              x: {"{"} float: [0, 1] {"}"}
            trials: 2
            timeout: 1h30m
            """);
        var r = await kit.CliS("run", "study.yaml", "--timeout", "1h30m", "--quiet");
        Assert.True(r.ExitCode == 0, r.ToString());
        var bad = await kit.CliS("run", "study.yaml", "--timeout", "soon", "--quiet");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--timeout soon: expected a positive duration", bad.Stderr);
    }

    // A study of two floats with `sampler: auto` whose program prints x as its result.
    private static StudyKit AutoStudy(int trials)
    {
        var kit = new StudyKit();
        kit.Write("obj.py", "import sys\nprint('tunesmith:result {\"value\": %s}' % sys.argv[1])\n");
        kit.StudyFile($"""
            sampler: auto
            command: {StudyKit.Python} obj.py {"{x}"}
            space:
              x: {"{"} float: [0, 1] {"}"}
              y: {"{"} float: [0, 1] {"}"}
            trials: {trials}
            """);
        return kit;
    }
}
