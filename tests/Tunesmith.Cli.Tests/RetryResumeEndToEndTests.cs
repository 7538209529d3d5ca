namespace Tunesmith.Cli.Tests;

/// <summary>
/// A retried command trial (<c>retries:</c>, a crash, a run interrupted and run again) runs in its attempt's directory and,
/// when the attempt reported and left a checkpoint there, is told the last step recorded (<c>TUNESMITH_RESUME_STEP</c>),
/// as a Slurm requeue and an in-process retry are. Before, it was not told, so a program that loads its checkpoint when
/// the variable is set (docs/COMMAND_TRIALS.md) trained again from the start: Ray Tune's <c>Tuner.restore</c> resumes.
/// </summary>
public sealed class RetryResumeEndToEndTests
{
    // Checkpoints (or not) before each report; the first attempt fails after step 2.
    private const string Program = """
        import json, os, sys
        d = os.environ["TUNESMITH_TRIAL_DIR"]
        ck = os.path.join(d, "ckpt")
        resume = os.environ.get("TUNESMITH_RESUME_STEP")
        start = int(open(ck).read()) if resume is not None else 0
        for step in range(start + 1, 5):
            if sys.argv[1] == "yes":
                with open(ck + ".tmp", "w") as f:
                    f.write(str(step))
                os.replace(ck + ".tmp", ck)
            print("tunesmith:report " + json.dumps({"step": step, "loss": 1.0 / step}), flush=True)
            if step == 2 and not os.path.exists(os.path.join(d, "attempts")):
                sys.exit(3)
        print("tunesmith:result " + json.dumps({"loss": 0.25, "resumed_after": -1 if resume is None else int(resume), "first_step": start + 1}))
        """;

    [Theory]
    [InlineData("yes", 2, 3)]
    [InlineData("no", -1, 1)]
    public async Task A_retried_trial_is_told_the_last_step_its_attempt_reported_when_its_directory_holds_a_checkpoint(string checkpoints, int resumedAfter, int firstStep)
    {
        using var kit = new StudyKit();
        kit.Write("t.py", Program);
        kit.StudyFile($"metric: loss\ntrials: 1\nretries: 1\ncommand: python3 t.py {{ck}}\nspace:\n  ck: {checkpoints}\n");
        var run = await kit.CliS("run", "study.yaml", "-q");
        Assert.True(run.ExitCode == 0, run.ToString());
        var trials = await kit.TrialsAsync();
        var retry = Assert.Single(trials, t => t.GetProperty("state").GetString() == "Complete");
        Assert.Equal(1, retry.GetProperty("number").GetInt32());
        var metrics = retry.GetProperty("metrics");
        Assert.Equal(((double)resumedAfter, (double)firstStep), (metrics.GetProperty("resumed_after").GetDouble(), metrics.GetProperty("first_step").GetDouble()));
    }
}
