using Tunesmith.Cli.Internal.Progress;
using Tunesmith.Execution.Commands;
using Tunesmith.Trials;

namespace Tunesmith.Cli.Tests;

/// <summary>The per-trial progress lines of <c>run</c> and <c>worker</c> when stdout is not a terminal.</summary>
public sealed class RunProgressTests
{
    [Fact]
    public void Each_finished_line_counts_the_trials_finished_when_its_own_trial_finished()
    {
        var progress = new RunProgress("s", Direction.Minimize, "loss", budget: 5, finishedBefore: 3, bestBefore: null, TimeProvider.System);
        var lines = new List<string>();
        progress.Subscribe((e, at) =>
        {
            // Trial 4 finishes on another thread after trial 3's finish was counted and before trial 3's line is written.
            if (e.TrialNumber == 3) progress.Report(new CommandTrialFinished(Complete(4, 0.2)));
            if (e is CommandTrialFinished f) lines.Add(ProgressViews.FinishedLine(progress, f.Trial, at));
        });

        progress.Report(new CommandTrialFinished(Complete(3, 0.5)));

        Assert.Equal(2, lines.Count);
        Assert.StartsWith("[5/5] trial 4 complete loss=0.2 ", lines[0]);
        Assert.EndsWith("| best #4 0.2", lines[0]);
        Assert.StartsWith("[4/5] trial 3 complete loss=0.5 ", lines[1]);
        Assert.EndsWith("| best #3 0.5", lines[1]);
    }

    private static FrozenTrial Complete(int number, double value) => new()
    {
        Id = number + 1,
        Number = number,
        State = TrialState.Complete,
        Value = value,
        Params = new Dictionary<string, object?> { ["x"] = number },
        Started = DateTimeOffset.UnixEpoch,
        Finished = DateTimeOffset.UnixEpoch.AddSeconds(1),
    };
}
