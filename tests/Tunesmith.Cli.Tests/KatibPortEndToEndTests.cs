using System.Text.Json;

namespace Tunesmith.Cli.Tests;

/// <summary>
/// A Katib Experiment moved to a study file: the training program is left as Katib runs it (it prints
/// <c>epoch 2: accuracy=0.9 loss=0.1</c> lines, no <c>tunesmith:report</c>), and the study file's <c>metrics:</c> section
/// reads those lines as Katib's StdOut metrics collector does. Before, every such trial failed with "no result".
/// </summary>
public sealed class KatibPortEndToEndTests
{
    // Prints its arguments back (a line with name=value pairs but no accuracy: not a report), then one line per epoch.
    private const string Trainer = """
        import os
        n = int(os.environ["TUNESMITH_TRIAL_NUMBER"])
        print("Namespace(lr=0.5, layers=3)")
        if n == 0:
            for epoch, acc in enumerate([0.5, 0.9, 0.7], 1):
                print(f"epoch {epoch}: accuracy={acc} loss={1 - acc:.2f}", flush=True)
        else:
            print("training finished")
        """;

    private static async Task<JsonElement[]> CurvesAsync(StudyKit kit)
    {
        var json = await kit.CliS("report", "--study", "s", "--curves", "--format", "json");
        Assert.True(json.ExitCode == 0, json.ToString());
        using var doc = JsonDocument.Parse(json.Stdout);
        return doc.RootElement.GetProperty("trials").EnumerateArray().Select(t => t.Clone()).OrderBy(t => t.GetProperty("number").GetInt32()).ToArray();
    }

    [Fact]
    public async Task Name_value_lines_are_reports_and_the_last_is_the_result_and_a_trial_that_printed_none_fails_saying_so()
    {
        using var kit = new StudyKit();
        kit.Write("t.py", Trainer);
        kit.StudyFile("""
            direction: maximize
            metric: accuracy
            command: python3 t.py {x}
            space:
              x: { float: [0, 1] }
            metrics: key=value
            trials: 2
            """);
        var run = await kit.CliS("run", "study.yaml", "-q");
        Assert.True(run.ExitCode == 0, run.ToString());

        var trials = (await kit.TrialsAsync()).OrderBy(t => t.GetProperty("number").GetInt32()).ToArray();
        Assert.Equal("Complete", trials[0].GetProperty("state").GetString());
        Assert.Equal(0.7, trials[0].GetProperty("value").GetDouble());
        Assert.Equal(0.3, trials[0].GetProperty("metrics").GetProperty("loss").GetDouble());
        Assert.Equal("Failed", trials[1].GetProperty("state").GetString());
        Assert.StartsWith("no result: the program printed no line with accuracy=<number> (the study file's metrics: section)",
            trials[1].GetProperty("fail_reason").GetString());

        // Each line with the study's metric went the way of a tunesmith:report: a step each, from 0.
        var curves = await CurvesAsync(kit);
        Assert.Equal([0L, 1, 2], curves[0].GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("step").GetInt64()));
        Assert.Equal([0.5, 0.9, 0.7], curves[0].GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("accuracy").GetDouble()));
    }

    [Fact]
    public async Task A_pattern_of_its_own_gives_the_step_and_result_best_takes_the_best_lines_metrics()
    {
        using var kit = new StudyKit();
        kit.Write("t.py", Trainer);
        kit.StudyFile("""
            direction: maximize
            metric: accuracy
            command: python3 t.py {x}
            space:
              x: { float: [0, 1] }
            metrics:
              format: key=value
              pattern: ['(epoch) (\d+)', '([\w-]+)=([-+.\deE]+)']
              step: epoch
              result: best
            trials: 1
            """);
        var run = await kit.CliS("run", "study.yaml", "-q");
        Assert.True(run.ExitCode == 0, run.ToString());

        var trial = Assert.Single(await kit.TrialsAsync());
        Assert.Equal(0.9, trial.GetProperty("value").GetDouble());
        Assert.Equal(0.1, trial.GetProperty("metrics").GetProperty("loss").GetDouble());
        Assert.False(trial.GetProperty("metrics").TryGetProperty("epoch", out _));
        var curves = await CurvesAsync(kit);
        Assert.Equal([1L, 2, 3], curves[0].GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("step").GetInt64()));
    }

    [Fact]
    public async Task A_trial_that_reaches_the_goal_ends_the_study_and_a_later_run_or_worker_starts_nothing()
    {
        using var kit = new StudyKit();
        kit.Write("t.py", """
            import os
            n = int(os.environ["TUNESMITH_TRIAL_NUMBER"])
            print(f"accuracy={ {0: 0.5, 1: 0.995}.get(n, 0.6) }")
            """);
        kit.StudyFile("""
            direction: maximize
            metric: accuracy
            command: python3 t.py {x}
            space:
              x: { float: [0, 1] }
            metrics: key=value
            goal: 0.99
            trials: 6
            """);
        var run = await kit.CliS("run", "study.yaml");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("tunesmith: study 's' reached its goal accuracy ≥ 0.99 with trial 1 (0.995); no trial started after it", run.Stderr);
        Assert.Equal(2, (await kit.TrialsAsync()).Count);

        // The goal is the study's state in storage: another run, or a worker, of the study starts no trial.
        var again = await kit.CliS("run", "study.yaml", "-q");
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("reached its goal accuracy ≥ 0.99 with trial 1 (0.995) before this run; nothing to run", again.Stderr);
        var worker = await kit.CliS("worker", "--study", "s", "-q");
        Assert.True(worker.ExitCode == 0, worker.ToString());
        Assert.Contains("before this run; nothing to run", worker.Stderr);
        Assert.Equal(2, (await kit.TrialsAsync()).Count);
    }

    [Fact]
    public async Task Max_failed_trials_stops_the_study_at_that_many_failures_counting_a_retried_trial_once_and_a_later_run_starts_nothing()
    {
        using var kit = new StudyKit();
        kit.Write("t.py", "import sys\nprint('diverged', file=sys.stderr)\nsys.exit(3)\n");
        kit.StudyFile("""
            direction: maximize
            metric: accuracy
            command: python3 t.py {x}
            space:
              x: { float: [0, 1] }
            metrics: key=value
            max_failed_trials: 2
            retries: 1
            trials: 10
            """);
        var run = await kit.CliS("run", "study.yaml", "-q");
        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("tunesmith: max_failed_trials: study 's' has 2 failed trials, its limit is 2; no trial starts (the last, trial 3: exit code 3)", run.Stderr);
        // 0 fails and is retried as 1, which fails (1 counted); 2 is retried as 3, which fails (2 counted): the limit.
        Assert.Equal(4, (await kit.TrialsAsync()).Count);

        var again = await kit.CliS("run", "study.yaml", "-q");
        Assert.True(again.ExitCode == 1, again.ToString());
        Assert.Contains("has 2 failed trials, its limit is 2; no trial starts", again.Stderr);
        Assert.Equal(4, (await kit.TrialsAsync()).Count);
    }

    [Fact]
    public async Task A_Katib_experiments_spec_pasted_as_a_study_file_is_told_every_field_s_name_here_at_once_and_stores_nothing()
    {
        using var kit = new StudyKit();
        kit.Write("study.yaml", """
            name: s
            command: python3 train.py --lr=${trialParameters.lr}
            parallelTrialCount: 3
            maxTrialCount: 12
            maxFailedTrialCount: 3
            objective: { type: maximize, goal: 0.99, objectiveMetricName: accuracy }
            algorithm: { algorithmName: random }
            earlyStopping: { algorithmName: medianstop }
            metricsCollectorSpec: { collector: { kind: StdOut } }
            space:
              lr: { float: [0.01, 0.03] }
            """);
        var r = await kit.CliS("run", "study.yaml");
        Assert.True(r.ExitCode == 2, r.ToString());
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(9, lines.Length);
        Assert.StartsWith("tunesmith: study.yaml:2:", lines[0]);
        Assert.Contains("command: placeholder {trialParameters.lr}: Katib's ${trialParameters.lr} is {lr} here, without the $", lines[0]);
        Assert.StartsWith("tunesmith: study.yaml:3:1: parallelTrialCount: unknown key 'parallelTrialCount' (Katib's parallelTrialCount is parallel:)", lines[1]);
        Assert.Contains("(Katib's maxTrialCount is trials:)", lines[2]);
        Assert.Contains("(Katib's maxFailedTrialCount: N is max_failed_trials: N + 1", lines[3]);
        Assert.Contains("(Katib's objective is direction: (type), metric: (objectiveMetricName) and goal:)", lines[4]);
        Assert.Contains("(Katib's algorithm is sampler: (random, grid, tpe, gp for bayesianoptimization, cmaes; hyperband is scheduler: hyperband))", lines[5]);
        Assert.Contains("(Katib's earlyStopping is scheduler:; medianstop is { median: { min_trials: min_trials_required, warmup_steps: start_step } })", lines[6]);
        Assert.Contains("(Katib's StdOut metrics collector is metrics: key=value)", lines[7]);
        Assert.Equal("tunesmith: study.yaml: 8 problems; nothing stored", lines[8]);
        Assert.False(File.Exists(kit.Storage.Replace("sqlite:///", "", StringComparison.Ordinal)), "a database was left behind");
    }

    [Fact]
    public async Task The_katib_example_runs_its_unmodified_trainer_to_the_end()
    {
        using var kit = new StudyKit();
        var study = Path.Combine(StudyKit.RepoRoot(), "examples", "katib", "study.yaml");
        var run = await kit.CliS("run", study, "-q");
        Assert.True(run.ExitCode == 0, run.ToString());
        var trials = await kit.TrialsAsync("katib-port");
        Assert.Equal(12, trials.Count);
        Assert.Contains(trials, t => t.GetProperty("state").GetString() == "Pruned");
        Assert.Contains(trials, t => t.GetProperty("fail_reason").GetString() is { } r && r.StartsWith("exit code 3", StringComparison.Ordinal));
        Assert.True(trials[0].GetProperty("value").GetDouble() > 0.9, run.ToString());
        // Its runs/ folder goes beside the database, not into the repository.
        Assert.False(Directory.Exists(Path.Combine(StudyKit.RepoRoot(), "examples", "katib", "runs")));
    }
}
