namespace Tunesmith.Cli.Tests;

/// <summary>
/// A program that never writes a checkpoint into TUNESMITH_TRIAL_DIR under a scheduler that needs one: PBT can never copy
/// it, and a promoted trial can only start over. Both used to happen without a word; now `run` says so, once.
/// </summary>
public sealed class MissingCheckpointEndToEndTests
{
    private const string NoCheckpoint = """
        import json, os, sys
        x = float(sys.argv[1])
        for step in range(1, 4):
            print("tunesmith:report " + json.dumps({"step": step, "val_f1": x * step}), flush=True)
        print("tunesmith:result " + json.dumps({"val_f1": 3 * x}))
        """;

    // Waits at its first report until it is paused (SIGTERM ends it), unless it was promoted.
    private const string NoCheckpointWaitingAtTheRung = """
        import json, os, sys, time
        x = float(sys.argv[1])
        for step in range(1, 4):
            print("tunesmith:report " + json.dumps({"step": step, "val_f1": x * step}), flush=True)
            if step == 1 and os.environ.get("TUNESMITH_RESUME_STEP") is None:
                time.sleep(60)
        print("tunesmith:result " + json.dumps({"val_f1": 3 * x}))
        """;

    private static async Task<string[]> RunAsync(string program, string scheduler, int parallel)
    {
        using var kit = new StudyKit();
        kit.Write("obj.py", program);
        kit.StudyFile($"""
            direction: maximize
            metric: val_f1
            command: {StudyKit.Python} obj.py {"{x}"}
            space:
              x: {"{"} float: [0, 1] {"}"}
            scheduler: {scheduler}
            trials: 2
            parallel: {parallel}
            """);
        var r = await kit.CliS("run", "study.yaml");
        Assert.True(r.ExitCode == 0, r.ToString());
        return r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.Contains("checkpoint", StringComparison.Ordinal)).ToArray();
    }

    [Fact]
    public async Task Pbt_says_once_that_a_program_writing_no_checkpoint_cannot_be_copied()
    {
        var lines = await RunAsync(NoCheckpoint, "{ pbt: { population: 2, interval: 2 } }", parallel: 2);
        var line = Assert.Single(lines);
        Assert.Matches(@"^tunesmith: warning: Trial \d reached step 2 without writing a checkpoint into its directory \S+/trials/\d, so PBT cannot copy it into other trials: write one into TUNESMITH_TRIAL_DIR before each tunesmith:report", line);
    }

    [Fact]
    public async Task A_trial_promoted_without_a_checkpoint_is_said_to_start_over_once()
    {
        // One at a time: trial 0 pauses at rung 1 (alone, no place yet), trial 1 too, and the finish promotes the best.
        var lines = await RunAsync(NoCheckpointWaitingAtTheRung, "{ asha: { min: 1, max: 3, reduction: 3, mode: promotion } }", parallel: 1);
        var line = Assert.Single(lines);
        Assert.Matches(@"^tunesmith: warning: Trial \d resumes after step \d, but its directory \S+/trials/\d holds no checkpoint \(no file besides Tunesmith's own\): its program can only start over", line);
    }
}
