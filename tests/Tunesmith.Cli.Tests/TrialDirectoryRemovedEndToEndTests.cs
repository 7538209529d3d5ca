using Tunesmith.Storage;
using Tunesmith.Trials;

namespace Tunesmith.Cli.Tests;

/// <summary>
/// A study's trial directories removed while a trial runs (<c>rm -rf runs/</c> by hand, a cleaner script): the trial's
/// program fails writing its checkpoint into a directory that is gone. That is not the trial's fault, so it is not spent
/// as a failure: the run ends in one line, the trial recorded interrupted, and the next run runs it again.
/// </summary>
public sealed class TrialDirectoryRemovedEndToEndTests
{
    [Fact]
    public async Task A_trial_whose_directory_is_removed_while_it_runs_ends_the_run_in_one_line_and_runs_again_in_the_next_run()
    {
        using var kit = new StudyKit();
        // Trial 0 removes the whole run directory (as `rm -rf runs/` would), then writes its checkpoint there and fails.
        kit.Write("train.py", """
            import json, os, shutil, sys
            x = float(sys.argv[1])
            d = os.environ["TUNESMITH_TRIAL_DIR"]
            if os.environ["TUNESMITH_TRIAL_NUMBER"] == "0":
                shutil.rmtree(os.path.dirname(os.path.dirname(d)))
            with open(os.path.join(d, "checkpoint.txt"), "w") as f:
                f.write("step 1")
            print("tunesmith:result " + json.dumps({"loss": x}))
            """);
        kit.StudyFile($$"""
            direction: minimize
            metric: loss
            command: {{StudyKit.Python}} train.py {x}
            space:
              x: { float: [0.0, 1.0] }
            trials: 2
            """);

        var first = await kit.CliS("run", "study.yaml");
        Assert.True(first.ExitCode == 2, first.ToString());
        var last = first.Stderr.TrimEnd().Split('\n')[^1];
        Assert.StartsWith("tunesmith: trial 0's directory ", last, StringComparison.Ordinal);
        Assert.Contains("was removed while it ran; its program failed meanwhile (exit code 1)", last, StringComparison.Ordinal);
        Assert.Contains("recorded interrupted", last, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", first.Stderr, StringComparison.Ordinal);

        var second = await kit.CliS("run", "study.yaml");
        Assert.True(second.ExitCode == 0, second.ToString());
        await using var storage = StudyStorage.Open(kit.Storage);
        var study = await storage.GetStudyAsync("s") ?? throw new Xunit.Sdk.XunitException("study 's' is missing");
        var trials = (await storage.GetTrialsSinceAsync(study.Id, 0)).Trials;
        Assert.Equal(2, trials.Count(t => t.State == TrialState.Complete));
        var zero = trials.Single(t => t.Number == 0);
        Assert.Equal(TrialState.Failed, zero.State);
        Assert.Equal("interrupted", zero.FailReason);
        Assert.Contains(trials, t => t.State == TrialState.Complete && Equals(t.Params["x"], zero.Params["x"]));
    }
}
