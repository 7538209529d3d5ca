using Tunesmith.Cli.Internal;
using Tunesmith.Storage;
using Xunit;

namespace Tunesmith.Cli.Tests;

/// <summary>The entry point's clock reaches the studies that <c>create</c> and <c>worker</c> open (run in this process).</summary>
public sealed class EntryPointClockTests
{
    private static readonly DateTimeOffset Then = new(2031, 5, 4, 3, 2, 1, TimeSpan.Zero);

    // Reads a fixed time; timers stay real, so nothing waits on a clock that never moves.
    private sealed class FixedClock : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => Then;
    }

    [Fact]
    public async Task A_worker_records_its_trials_on_the_entry_points_clock()
    {
        using var kit = new StudyKit();
        kit.Write("obj.py", "import sys\nprint('tunesmith:result {\"value\": %s}' % sys.argv[1])\n");
        var studyFile = kit.StudyFile($"""
            command: {StudyKit.Python} obj.py {"{x}"}
            space:
              x: {"{"} float: [0, 1] {"}"}
            trials: 1
            """);
        var output = new StringWriter();
        var console = new CliConsole(output, output, _ => null, outputIsTerminal: false);
        var clock = new FixedClock();
        Assert.True(0 == await CliApplication.RunAsync(["create", Path.Combine(kit.Dir, studyFile), "--storage", kit.Storage], console, clock), output.ToString());
        Assert.True(0 == await CliApplication.RunAsync(["worker", "--study", "s", "--one-trial", "--quiet", "--storage", kit.Storage], console, clock), output.ToString());

        await using var storage = StudyStorage.Open(kit.Storage);
        var study = await storage.GetStudyAsync("s");
        Assert.NotNull(study);
        var trial = Assert.Single((await storage.GetTrialsSinceAsync(study.Id, 0)).Trials);
        Assert.Equal(Then, trial.Started);
        Assert.Equal(Then, trial.Finished);
    }
}
