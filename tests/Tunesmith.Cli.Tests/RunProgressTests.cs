using FsCheck.Xunit;
using Tunesmith.Cli.Internal;
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

    [Fact]
    public void A_trial_without_parameters_has_one_space_before_the_best_and_none_at_the_end()
    {
        var progress = new RunProgress("s", Direction.Minimize, "loss", budget: 3, finishedBefore: 0, bestBefore: null, TimeProvider.System);
        var lines = new List<string>();
        progress.Subscribe((e, at) => { if (e is CommandTrialFinished f) lines.Add(ProgressViews.FinishedLine(progress, f.Trial, at)); });

        progress.Report(new CommandTrialFinished(Complete(0, 1.5) with { Params = new Dictionary<string, object?>() }));
        progress.Report(new CommandTrialFinished(Failed(1, retriedBy: null) with { Params = new Dictionary<string, object?>() }));

        Assert.Equal("[1/3] trial 0 complete loss=1.5 (1.0s) | best #0 1.5", lines[0]);
        Assert.Equal("[2/3] trial 1 failed: boom (1.0s) | best #0 1.5", lines[1]);
    }

    [Fact]
    public async Task With_two_workers_on_one_study_each_line_counts_the_study_s_finished_trials_not_only_its_own()
    {
        using var kit = new StudyKit();
        // The first trial to start takes the hold (an exclusive create), waits for the release and scores worse than any
        // other (10 + x); every other trial ends at once with x.
        kit.Write("obj.py", """
            import os, sys, time
            value = float(sys.argv[1])
            try:
                os.close(os.open('held', os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                while not os.path.exists('release'):
                    time.sleep(0.02)
                value += 10
            except FileExistsError:
                pass
            print('tunesmith:result {"value": %s}' % value)
            """);
        kit.StudyFile($"""
            command: {StudyKit.Python} obj.py {"{x}"}
            space:
              x: {"{"} float: [0, 1] {"}"}
            trials: 8
            """);
        Assert.Equal(0, (await kit.CliS("create", "study.yaml")).ExitCode);

        // Worker A's first trial holds; worker B runs 3 trials meanwhile and exits; then A's trial finishes.
        using var a = CliBackground.Start(kit.Dir, ["worker", "--study", "s", "--storage", kit.Storage]);
        await Eventually.HoldsAsync(() => File.Exists(Path.Combine(kit.Dir, "held")), TimeSpan.FromSeconds(60), "worker A's first trial to start");
        var b = await kit.CliS("worker", "--study", "s", "--trials", "3");
        Assert.True(b.ExitCode == 0, b.ToString());
        Assert.Equal(["[1/8]", "[2/8]", "[3/8]"], Lines(b.Stdout).Select(l => l.Split(' ')[0]));
        File.WriteAllText(Path.Combine(kit.Dir, "release"), "");
        var aOut = await a.Stdout.ReadToEndAsync();
        Assert.True(await a.WaitForExitAsync(TimeSpan.FromSeconds(120)) == 0, aOut + await a.Stderr);

        // A's first line counts B's three trials and its own; its last, the whole budget.
        var counts = Lines(aOut).Select(l => l.Split(' ')[0]).ToList();
        Assert.Equal(["[4/8]", "[5/8]", "[6/8]", "[7/8]", "[8/8]"], counts);
        // Its best is the study's best of those four trials, one of B's (A's own scored 10 + x).
        var firstFour = (await kit.TrialsAsync()).Where(t => t.GetProperty("number").GetInt32() <= 3)
            .OrderBy(t => t.GetProperty("value").GetDouble()).First();
        Assert.EndsWith($"| best #{firstFour.GetProperty("number").GetInt32()} {Formats.Value(firstFour.GetProperty("value").GetDouble())}", Lines(aOut).First());
    }

    private static IEnumerable<string> Lines(string stdout) =>
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith('['));

    [Fact]
    public void A_retried_failure_does_not_count_toward_the_budget_and_its_line_names_the_retry()
    {
        var progress = new RunProgress("s", Direction.Minimize, "loss", budget: 2, finishedBefore: 0, bestBefore: null, TimeProvider.System);
        var lines = new List<string>();
        progress.Subscribe((e, at) => { if (e is CommandTrialFinished f) lines.Add(ProgressViews.FinishedLine(progress, f.Trial, at)); });

        progress.Report(new CommandTrialFinished(Failed(0, retriedBy: 1)));
        progress.Report(new CommandTrialFinished(Complete(1, 0.5)));

        Assert.StartsWith("[0/2] trial 0 failed: boom; retried as trial 1 ", lines[0]);
        Assert.StartsWith("[1/2] trial 1 complete loss=0.5 ", lines[1]);
        Assert.Equal((2, 1, 1), (progress.FinishedThisRun, progress.Retried, progress.Done));
    }

    [Fact]
    public void A_paused_trial_counts_once_toward_the_budget_also_when_it_is_promoted_and_completes()
    {
        var progress = new RunProgress("s", Direction.Minimize, "loss", budget: 3, finishedBefore: 1, bestBefore: null, TimeProvider.System);
        var lines = new List<string>();
        progress.Subscribe((e, at) => { if (e is CommandTrialFinished f) lines.Add(ProgressViews.FinishedLine(progress, f.Trial, at)); });

        progress.Report(new CommandTrialFinished(Complete(1, 0.5) with { State = TrialState.Paused, Value = null }));
        Assert.Equal(1, progress.Paused);
        progress.Report(new CommandTrialFinished(Complete(1, 0.4)));
        progress.Report(new CommandTrialFinished(Complete(2, 0.3)));

        Assert.StartsWith("[2/3] trial 1 paused ", lines[0]);
        Assert.StartsWith("[2/3] trial 1 complete loss=0.4 ", lines[1]);
        Assert.StartsWith("[3/3] trial 2 complete loss=0.3 ", lines[2]);
        Assert.Equal(0, progress.Paused);
    }

    [Fact]
    public void A_trial_paused_before_the_run_counts_from_the_start_and_once_when_this_run_promotes_it()
    {
        var progress = new RunProgress("s", Direction.Minimize, "loss", budget: 4, finishedBefore: 1, bestBefore: null, TimeProvider.System, pausedBefore: [1, 2]);
        Assert.Equal((3, 2), (progress.Done, progress.Paused));
        progress.Report(new CommandTrialFinished(Complete(2, 0.1)));
        progress.Report(new CommandTrialFinished(Complete(3, 0.2)));
        Assert.Equal((4, 1), (progress.Done, progress.Paused));
    }

    /// <summary>
    /// Whatever order trials' finishes, pauses and retried failures arrive in, the count is the trials whose latest event
    /// leaves them counting toward the budget (anything but a retried failure), and the paused ones those paused last.
    /// </summary>
    [Property(MaxTest = 300)]
    public bool Done_counts_each_trial_by_its_latest_event(byte[] events)
    {
        var progress = new RunProgress("s", Direction.Maximize, "v", budget: 100, finishedBefore: 7, bestBefore: null, TimeProvider.System);
        var latest = new Dictionary<int, int>();
        foreach (var e in events ?? [])
        {
            var (number, outcome) = (e % 6, e / 6 % 5);
            latest[number] = outcome;
            var trial = outcome switch
            {
                0 => Complete(number, e),
                1 => Complete(number, e) with { State = TrialState.Pruned },
                2 => Complete(number, e) with { State = TrialState.Paused, Value = null },
                3 => Failed(number, retriedBy: null),
                _ => Failed(number, retriedBy: 50 + number),
            };
            progress.Report(new CommandTrialFinished(trial));
        }
        return progress.Done == 7 + latest.Count(l => l.Value != 4) && progress.Paused == latest.Count(l => l.Value == 2);
    }

    private static FrozenTrial Failed(int number, int? retriedBy) => Complete(number, 0) with
    {
        State = TrialState.Failed,
        Value = null,
        SystemAttributes = retriedBy is { } r
            ? new Dictionary<string, object?> { [SystemAttributeKeys.FailReason] = "boom", [SystemAttributeKeys.RetriedBy] = (long)r }
            : new Dictionary<string, object?> { [SystemAttributeKeys.FailReason] = "boom" },
    };

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
