using Tunesmith.Storage;
using Tunesmith.Trials;

namespace Tunesmith.Cli.Tests;

/// <summary>`tunesmith run --trials N` is the study's budget everywhere, `auto`'s choice of sampler included.</summary>
public sealed class TrialBudgetEndToEndTests
{
    [Fact]
    public async Task Trials_on_the_command_line_reach_autos_budget()
    {
        using var kit = new StudyKit();
        kit.Write("obj.py", "import sys\nprint('tunesmith:result {\"value\": %s}' % sys.argv[1])\n");
        // Two floats and trials: 100 → auto picks GP (≤ 300 trials); run with --trials 1000 it must pick CMA-ES.
        kit.StudyFile($"""
            sampler: auto
            command: {StudyKit.Python} obj.py {"{x}"}
            space:
              x: {"{"} float: [0, 1] {"}"}
              y: {"{"} float: [0, 1] {"}"}
            trials: 100
            """);
        var r = await kit.CliS("run", "study.yaml", "--trials", "1000", "--timeout", "1s", "--quiet");
        Assert.True(r.ExitCode == 0, r.ToString());
        await using var storage = StudyStorage.Open(kit.Storage);
        var study = await storage.GetStudyAsync("s");
        Assert.Equal("auto(cmaes)", study!.SystemAttributes[SystemAttributeKeys.Sampler]);
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
        Assert.Contains("--timeout 'soon': expected a positive duration", bad.Stderr);
    }
}
