using Tunesmith.Backends.Processes;
using System.Collections.Concurrent;
using System.Text.Json;
using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Execution.Commands;
using Tunesmith.Backends.Resources;
using Tunesmith.Spaces;
using Tunesmith.Storage;
using Xunit;

namespace Tunesmith.Tests.Execution;

public sealed class CommandObjectiveEndToEndTests : IDisposable
{
    private readonly CommandTestKit _kit = new();

    public void Dispose() => _kit.Dispose();

    private static async Task<FrozenTrial> RunOneAsync(Study study, CommandObjectiveOptions options, int retries = 0)
    {
        var runner = new CommandStudyRunner(study, options, new CommandStudyOptions { Trials = 1, Retries = retries });
        await runner.RunAsync();
        return (await study.GetTrialsAsync()).Last();
    }

    [Fact]
    public async Task Report_and_result_lines_become_intermediate_values_and_metrics()
    {
        var script = _kit.Script("train.py", """
            import json
            print("starting", flush=True)
            for step in range(3):
                print("tunesmith:report " + json.dumps({"step": step, "val_f1": 0.5 + step / 10, "loss": 1.0 - step / 10}))
            print("tunesmith:result " + json.dumps({"val_f1": 0.84, "loss": 0.40}))
            print("bye")
            """);
        await using var study = await CommandTestKit.NewStudyAsync();
        var reports = new ConcurrentQueue<CommandTrialReported>();
        var t = await RunOneAsync(study, _kit.Options(script, progress: new SyncProgress<CommandTrialEvent>(e => { if (e is CommandTrialReported r) reports.Enqueue(r); })));

        Assert.Equal(TrialState.Complete, t.State);
        Assert.Equal(0.84, t.Value);
        Assert.Equal(0.40, t.Metrics["loss"]);
        Assert.Equal(new Dictionary<long, double> { [0] = 0.5, [1] = 0.6, [2] = 0.7 }, t.Intermediate);
        Assert.Equal([0L, 1L, 2L], reports.Select(r => r.Step));
        Assert.Equal(0.8, reports.Last().Metrics["loss"], 12);
        using (var last = JsonDocument.Parse((string)t.SystemAttributes[CommandAttributeKeys.LastReport]!))
            Assert.Equal(0.8, last.RootElement.GetProperty("loss").GetDouble(), 12);

        var dir = _kit.TrialDir(0);
        Assert.Equal(dir, t.SystemAttributes[CommandAttributeKeys.TrialDirectory]);
        Assert.Contains("starting", File.ReadAllText(Path.Combine(dir, "stdout.log")));
        Assert.Equal(t.Params.Keys.Order(), ParamValues.FromJsonObject(File.ReadAllText(Path.Combine(dir, "params.json"))).Keys.Order());
        using var outcome = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "result.json")));
        Assert.Equal("Complete", outcome.RootElement.GetProperty("state").GetString());
        Assert.Equal(0.84, outcome.RootElement.GetProperty("value").GetDouble());
    }

    [Fact]
    public async Task A_result_json_written_by_the_program_is_the_fallback()
    {
        var script = _kit.Script("file.py", """
            import json, os
            with open(os.path.join(os.environ["TUNESMITH_TRIAL_DIR"], "result.json"), "w") as f:
                json.dump({"val_f1": 0.77, "precision": 0.9}, f)
            """);
        await using var study = await CommandTestKit.NewStudyAsync();
        var t = await RunOneAsync(study, _kit.Options(script));
        Assert.Equal(TrialState.Complete, t.State);
        Assert.Equal(0.77, t.Value);
        Assert.Equal(0.9, t.Metrics["precision"]);
    }

    [Fact]
    public async Task A_bare_number_on_the_last_stdout_line_is_the_last_resort()
    {
        var script = _kit.Script("bare.py", "print('training...')\nprint(0.625)\n");
        await using var study = await CommandTestKit.NewStudyAsync();
        var t = await RunOneAsync(study, _kit.Options(script));
        Assert.Equal(TrialState.Complete, t.State);
        Assert.Equal(0.625, t.Value);
    }

    [Fact]
    public async Task A_NaN_result_fails_the_trial()
    {
        var script = _kit.Script("nan.py", "import json\nprint('tunesmith:result ' + json.dumps({'val_f1': float('nan')}))\n");
        await using var study = await CommandTestKit.NewStudyAsync();
        var t = await RunOneAsync(study, _kit.Options(script));
        Assert.Equal(TrialState.Failed, t.State);
        Assert.Contains("NaN", t.FailReason);
    }

    [Fact]
    public async Task A_program_that_reports_no_result_fails_with_a_reason_naming_the_protocol()
    {
        var script = _kit.Script("silent.py", "import sys\nprint('done')\nprint('some warning', file=sys.stderr)\n");
        await using var study = await CommandTestKit.NewStudyAsync();
        var t = await RunOneAsync(study, _kit.Options(script));
        Assert.Equal(TrialState.Failed, t.State);
        Assert.StartsWith("no result", t.FailReason);
        Assert.Contains("some warning", t.FailReason);
    }

    [Fact]
    public async Task A_program_that_only_reports_fails_saying_its_reports_are_not_the_result()
    {
        // As a Ray Tune trainable ends: its last train.report is its result there, not here.
        var script = _kit.Script("reports.py", "for s in (1, 2, 3):\n    print('tunesmith:report {\"step\": %d, \"val_f1\": 0.5}' % s)\n");
        await using var study = await CommandTestKit.NewStudyAsync();
        var t = await RunOneAsync(study, _kit.Options(script));
        Assert.Equal(TrialState.Failed, t.State);
        Assert.StartsWith("no result", t.FailReason);
        Assert.Contains("; its tunesmith:report lines (the last at step 3) are intermediate values, not the result: end with tunesmith:result {\"val_f1\": ...}",
            t.FailReason!.Split('\n')[0]);
    }

    [Fact]
    public async Task A_result_without_the_study_metric_fails_naming_it()
    {
        var script = _kit.Script("other.py", "print('tunesmith:result {\"accuracy\": 0.9}')\n");
        await using var study = await CommandTestKit.NewStudyAsync();
        var t = await RunOneAsync(study, _kit.Options(script));
        Assert.Equal(TrialState.Failed, t.State);
        Assert.Contains("no metric 'val_f1'", t.FailReason);
        Assert.Equal(0.9, t.Metrics["accuracy"]);
    }

    [Fact]
    public async Task The_program_gets_the_protocol_environment()
    {
        var script = _kit.Script("env.py", """
            import json, os, sys
            env = {k: v for k, v in os.environ.items() if k.startswith("TUNESMITH_") or k in ("CUDA_VISIBLE_DEVICES", "FROM_STUDY", "PYTHONUNBUFFERED")}
            with open(os.path.join(os.environ["TUNESMITH_TRIAL_DIR"], "env.json"), "w") as f:
                json.dump(env, f)
            print("tunesmith:result {\"val_f1\": 1}")
            """);
        var space = new SearchSpace().Float("learning-rate", 0.1, 0.2).Choice("opt.name", ["adam"]).Int("layers", 2, 2);
        await using var study = await CommandTestKit.NewStudyAsync();
        var pool = new ResourcePool(new ResourcePoolOptions { Gpus = ["7", "9"], GpusPerTrial = 1, MaxGpus = 1 });
        var options = _kit.Options(script, space) with { Resources = pool, Environment = new Dictionary<string, string> { ["FROM_STUDY"] = "yes" } };
        var t = await RunOneAsync(study, options);
        Assert.Equal(TrialState.Complete, t.State);

        var dir = _kit.TrialDir(t.Number);
        var env = JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(Path.Combine(dir, "env.json")))!;
        Assert.Equal(study.Name, env["TUNESMITH_STUDY"]);
        Assert.Equal(t.Id.ToString(), env["TUNESMITH_TRIAL_ID"]);
        Assert.Equal(t.Number.ToString(), env["TUNESMITH_TRIAL_NUMBER"]);
        Assert.Equal(dir, env["TUNESMITH_TRIAL_DIR"]);
        Assert.Equal(Path.Combine(dir, "params.json"), env["TUNESMITH_PARAMS_FILE"]);
        var passed = ParamValues.FromJsonObject(env["TUNESMITH_PARAMS"]);
        Assert.Equal((double)t.Params["learning-rate"]!, (double)passed["learning-rate"]!);
        Assert.Equal("adam", passed["opt.name"]);
        Assert.Equal(ParamValues.Format(t.Params["learning-rate"]), env["TUNESMITH_PARAM_LEARNING_RATE"]);
        Assert.Equal("adam", env["TUNESMITH_PARAM_OPT_NAME"]);
        Assert.Equal("2", env["TUNESMITH_PARAM_LAYERS"]);
        Assert.Equal("7", env["CUDA_VISIBLE_DEVICES"]);
        Assert.Equal("7", t.SystemAttributes[CommandAttributeKeys.Gpus]);
        Assert.Equal("yes", env["FROM_STUDY"]);
        Assert.Equal("1", env["PYTHONUNBUFFERED"]);
    }

    [Fact]
    public async Task Shell_metacharacters_in_a_param_reach_the_program_as_one_literal_argument()
    {
        var pwned = Path.Combine(_kit.Root, "pwned");
        var values = new object?[] { $"x; touch {pwned}", $"$(touch {pwned})", $"`touch {pwned}`", "a b\"c'd" };
        var script = _kit.Script("argv.py", """
            import json, os, sys
            with open(os.path.join(os.environ["TUNESMITH_TRIAL_DIR"], "argv.json"), "w") as f:
                json.dump(sys.argv[1:], f)
            print(1)
            """);
        await using var study = await CommandTestKit.NewStudyAsync();
        foreach (var v in values) await study.EnqueueAsync(new Dictionary<string, object?> { ["opt"] = v });
        var options = _kit.Options(script, new SearchSpace().Choice("opt", values), extraArgs: c => ["--opt", c.GetString("opt")]);
        await new CommandStudyRunner(study, options, new CommandStudyOptions { Trials = values.Length, Parallel = 2 }).RunAsync();

        foreach (var t in await study.GetTrialsAsync())
        {
            Assert.Equal(TrialState.Complete, t.State);
            var argv = JsonSerializer.Deserialize<string[]>(File.ReadAllText(Path.Combine(_kit.TrialDir(t.Number), "argv.json")))!;
            Assert.Equal(["--opt", (string)t.Params["opt"]!], argv);
        }
        Assert.Equal(values.Order(), (await study.GetTrialsAsync()).Select(t => t.Params["opt"]).Order());
        Assert.False(File.Exists(pwned));
    }

    [Fact]
    public async Task A_failing_program_is_Failed_with_its_exit_code_and_the_tail_of_stderr()
    {
        var script = _kit.Script("fail.py", """
            import sys
            for i in range(100):
                print(f"log line {i}", file=sys.stderr)
            print("Traceback: ValueError: bad lr", file=sys.stderr)
            sys.exit(1)
            """);
        await using var study = await CommandTestKit.NewStudyAsync();
        var t = await RunOneAsync(study, _kit.Options(script));
        Assert.Equal(TrialState.Failed, t.State);
        Assert.StartsWith("exit code 1", t.FailReason);
        Assert.Contains("ValueError: bad lr", t.FailReason);
        Assert.Contains("log line 99", t.FailReason);
        Assert.DoesNotContain("log line 50\n", t.FailReason); // only the tail
        Assert.Equal(1L, t.SystemAttributes[CommandAttributeKeys.ExitCode]);
        Assert.Contains("log line 0", File.ReadAllText(Path.Combine(_kit.TrialDir(0), "stderr.log"))); // the whole log is kept
    }

    [Fact]
    public async Task A_program_killed_by_a_signal_is_Failed_naming_the_signal()
    {
        var script = _kit.Script("crash.py", "import os, signal, sys\nprint('about to crash', file=sys.stderr, flush=True)\nos.kill(os.getpid(), signal.SIGKILL)\n");
        await using var study = await CommandTestKit.NewStudyAsync();
        var t = await RunOneAsync(study, _kit.Options(script));
        Assert.Equal(TrialState.Failed, t.State);
        Assert.Contains("SIGKILL", t.FailReason);
        Assert.Contains("about to crash", t.FailReason);
    }

    [Fact]
    public async Task A_missing_program_fails_the_trial_with_a_one_line_reason()
    {
        await using var study = await CommandTestKit.NewStudyAsync();
        var options = _kit.Options("unused") with { Command = (_, _, _) => ["no-such-program-xyz", "--flag"] };
        var t = await RunOneAsync(study, options);
        Assert.Equal(TrialState.Failed, t.State);
        Assert.Contains("no-such-program-xyz", t.FailReason);
        Assert.DoesNotContain("\n", t.FailReason);
    }

    [Fact]
    public async Task A_trial_past_its_timeout_is_Failed_and_its_process_tree_is_gone()
    {
        var script = _kit.Script("hang.py", """
            import os, subprocess, sys, time
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
            with open(os.path.join(os.environ["TUNESMITH_TRIAL_DIR"], "pids"), "w") as f:
                f.write(f"{os.getpid()} {child.pid}")
            print("still training", file=sys.stderr, flush=True)
            time.sleep(3600)
            """);
        await using var study = await CommandTestKit.NewStudyAsync();
        var t = await RunOneAsync(study, _kit.Options(script) with { TrialTimeout = TimeSpan.FromSeconds(5) });
        Assert.Equal(TrialState.Failed, t.State);
        Assert.StartsWith("timed out after 5 s", t.FailReason);
        var pids = File.ReadAllText(Path.Combine(_kit.TrialDir(0), "pids")).Split(' ').Select(int.Parse);
        Assert.All(pids, pid => Assert.False(ProcessTree.IsAlive(pid)));
    }

    [Fact]
    public async Task A_pruned_trial_is_stopped_and_recorded_Pruned()
    {
        var script = _kit.Script("prune.py", """
            import os, time
            with open(os.path.join(os.environ["TUNESMITH_TRIAL_DIR"], "pid"), "w") as f:
                f.write(str(os.getpid()))
            for step in range(3):
                print(f'tunesmith:report {{"step": {step}, "val_f1": 0.1}}')
            time.sleep(3600)
            """);
        await using var study = await CommandTestKit.NewStudyAsync(scheduler: new StopAtStepScheduler(2));
        var t = await RunOneAsync(study, _kit.Options(script));
        Assert.Equal(TrialState.Pruned, t.State);
        Assert.Equal([0L, 1L, 2L], t.Intermediate.Keys.Order());
        Assert.False(ProcessTree.IsAlive(int.Parse(File.ReadAllText(Path.Combine(_kit.TrialDir(0), "pid")))));
    }

    [Fact]
    public async Task Every_other_finite_metric_of_every_report_is_kept_by_step()
    {
        var script = _kit.Script("metrics.py", """
            import json
            for step in range(3):
                print("tunesmith:report " + json.dumps({"step": step, "val_f1": 0.5 + step / 10, "loss": 1.0 - step / 10, "acc": 0.6 + step / 10}))
            print('tunesmith:report {"step": 3, "loss": 0.7, "phase": "eval"}')
            print('tunesmith:report {"step": 4, "val_f1": 0.9, "loss": NaN}')
            print("tunesmith:result " + json.dumps({"val_f1": 0.9}))
            """);
        await using var study = await CommandTestKit.NewStudyAsync();
        var t = await RunOneAsync(study, _kit.Options(script));
        Assert.Equal(TrialState.Complete, t.State);
        Assert.Equal([0L, 1L, 2L, 4L], t.Intermediate.Keys.Order());
        Assert.Equal(["acc", "loss"], t.IntermediateMetrics.Keys.Order(StringComparer.Ordinal)); // not the study metric, not a string, not NaN
        Assert.Equal([(0L, 1.0), (1L, 0.9), (2L, 0.8), (3L, 0.7)], t.IntermediateMetrics["loss"].OrderBy(kv => kv.Key).Select(kv => (kv.Key, Math.Round(kv.Value, 12))));
        Assert.Equal([0L, 1L, 2L], t.IntermediateMetrics["acc"].Keys.Order());
    }

    [Fact]
    public async Task Reports_printed_after_a_stop_decision_are_kept_with_their_metrics()
    {
        // The program saves a last report on SIGTERM: it happened, so it is kept (not judged).
        var script = _kit.Script("stop-report.py", """
            import json, signal, sys, time
            def on_term(signum, frame):
                print("tunesmith:report " + json.dumps({"step": 2, "val_f1": 0.3, "loss": 0.5}), flush=True)
                sys.exit(0)
            signal.signal(signal.SIGTERM, on_term)
            for step in range(2):
                print("tunesmith:report " + json.dumps({"step": step, "val_f1": 0.1 * (step + 1), "loss": 1.0 - step / 10}), flush=True)
            time.sleep(3600)
            """);
        await using var study = await CommandTestKit.NewStudyAsync(scheduler: new StopAtStepScheduler(1));
        var t = await RunOneAsync(study, _kit.Options(script));
        Assert.Equal(TrialState.Pruned, t.State);
        Assert.Equal([0L, 1L, 2L], t.Intermediate.Keys.Order());
        Assert.Equal([0L, 1L, 2L], t.IntermediateMetrics["loss"].Keys.Order());
        Assert.Equal(0.5, t.IntermediateMetrics["loss"][2]);
    }

    [Fact]
    public async Task RequestStop_prunes_a_running_trial_on_demand()
    {
        var script = _kit.Script("long.py", "import time\nprint('tunesmith:report {\"step\": 0, \"val_f1\": 0.3}')\ntime.sleep(3600)\n");
        await using var study = await CommandTestKit.NewStudyAsync();
        CommandStudyRunner? runner = null;
        var options = _kit.Options(script, progress: new SyncProgress<CommandTrialEvent>(e =>
        {
            if (e is CommandTrialReported r) Assert.True(runner!.Objective.RequestStop(r.TrialNumber));
        }));
        runner = new CommandStudyRunner(study, options, new CommandStudyOptions { Trials = 1 });
        var result = await runner.RunAsync();
        Assert.Equal(1, result.Pruned);
        Assert.Equal(TrialState.Pruned, (await study.GetTrialsAsync()).Single().State);
        Assert.False(runner.Objective.RequestStop(0));
    }

    [Fact]
    public async Task A_retry_reuses_the_first_attempts_directory_and_completes()
    {
        var script = _kit.Script("flaky.py", """
            import os, sys
            marker = os.path.join(os.environ["TUNESMITH_TRIAL_DIR"], "checkpoint")
            if not os.path.exists(marker):
                open(marker, "w").close()
                print("first attempt fails", file=sys.stderr)
                sys.exit(3)
            print("tunesmith:result {\"val_f1\": 0.9}")
            """);
        await using var study = await CommandTestKit.NewStudyAsync();
        var result = await new CommandStudyRunner(study, _kit.Options(script), new CommandStudyOptions { Trials = 1, Retries = 2 }).RunAsync();

        var trials = await study.GetTrialsAsync();
        Assert.Equal(2, trials.Count);
        Assert.Equal(TrialState.Failed, trials[0].State);
        Assert.Equal(1L, trials[0].SystemAttributes[SystemAttributeKeys.RetriedBy]);
        Assert.Equal(TrialState.Complete, trials[1].State);
        Assert.Equal(0L, trials[1].SystemAttributes[SystemAttributeKeys.RetryOf]);
        Assert.Equal(trials[0].Params, trials[1].Params);
        Assert.Equal(_kit.TrialDir(0), trials[1].SystemAttributes[CommandAttributeKeys.TrialDirectory]);
        Assert.False(Directory.Exists(_kit.TrialDir(1)));
        Assert.Contains("first attempt fails", File.ReadAllText(Path.Combine(_kit.TrialDir(0), "attempts", "0", "stderr.log")));
        Assert.Equal(CommandStudyStop.Finished, result.Stop);
        Assert.Equal(0.9, result.Best!.Value);
    }

    [Fact]
    public async Task Retries_stop_after_the_limit()
    {
        var script = _kit.Script("broken.py", "import sys\nsys.exit(2)\n");
        await using var study = await CommandTestKit.NewStudyAsync();
        await new CommandStudyRunner(study, _kit.Options(script), new CommandStudyOptions { Trials = 1, Retries = 2 }).RunAsync();
        var trials = await study.GetTrialsAsync();
        Assert.Equal(3, trials.Count);
        Assert.All(trials, t => Assert.Equal(TrialState.Failed, t.State));
        Assert.All(trials.Skip(1), t => Assert.Equal(0L, t.SystemAttributes[SystemAttributeKeys.RetryOf]));
        Assert.False(trials[2].SystemAttributes.ContainsKey(SystemAttributeKeys.RetriedBy));
    }

    [Fact]
    public async Task Fail_fast_stops_the_study_at_the_first_failure_and_stops_running_trials()
    {
        var script = _kit.Script("ff.py", """
            import os, sys, time
            shared = os.path.dirname(os.path.dirname(os.environ["TUNESMITH_TRIAL_DIR"]))
            if os.environ["TUNESMITH_TRIAL_NUMBER"] == "0":
                open(os.path.join(shared, "running-0"), "w").close()
                time.sleep(3600)
            while not os.path.exists(os.path.join(shared, "running-0")):
                time.sleep(0.01)
            print("boom", file=sys.stderr)
            sys.exit(1)
            """);
        await using var study = await CommandTestKit.NewStudyAsync();
        var result = await new CommandStudyRunner(study, _kit.Options(script), new CommandStudyOptions { Trials = 10, Parallel = 2, FailFast = true }).RunAsync();

        Assert.Equal(CommandStudyStop.FailedFast, result.Stop);
        Assert.Equal(1, result.FailedTrial!.Number);
        var trials = await study.GetTrialsAsync();
        Assert.Equal(2, trials.Count);
        Assert.StartsWith("exit code 1", trials[1].FailReason);
        Assert.Equal(Study.InterruptedReason, trials[0].FailReason);
        Assert.DoesNotContain(trials, t => t.State == TrialState.Running);
    }

    [Fact]
    public async Task Cancellation_stops_every_running_trial_records_them_interrupted_and_a_rerun_resumes_them()
    {
        var script = _kit.Script("resumable.py", """
            import os, time
            d = os.environ["TUNESMITH_TRIAL_DIR"]
            if os.path.exists(os.path.join(d, "checkpoint")) or os.environ["TUNESMITH_TRIAL_NUMBER"] not in ("0", "1"):
                print('tunesmith:result {"val_f1": 0.5}')
            else:
                open(os.path.join(d, "checkpoint"), "w").close()
                with open(os.path.join(d, "pid"), "w") as f:
                    f.write(str(os.getpid()))
                print('tunesmith:report {"step": 0, "val_f1": 0.1}')
                time.sleep(3600)
            """);
        await using var study = await CommandTestKit.NewStudyAsync();
        using var cts = new CancellationTokenSource();
        var reported = 0;
        var options = _kit.Options(script, progress: new SyncProgress<CommandTrialEvent>(e =>
        {
            if (e is CommandTrialReported && Interlocked.Increment(ref reported) == 2) cts.Cancel();
        }));
        var first = await new CommandStudyRunner(study, options, new CommandStudyOptions { Trials = 3, Parallel = 2 }).RunAsync(cts.Token);

        Assert.Equal(CommandStudyStop.Interrupted, first.Stop);
        var trials = await study.GetTrialsAsync();
        Assert.Equal(2, trials.Count);
        Assert.All(trials, t =>
        {
            Assert.Equal(TrialState.Failed, t.State);
            Assert.Equal(Study.InterruptedReason, t.FailReason);
            Assert.False(ProcessTree.IsAlive(int.Parse(File.ReadAllText(Path.Combine(_kit.TrialDir(t.Number), "pid")))));
        });

        var second = await new CommandStudyRunner(study, options, new CommandStudyOptions { Trials = 3, Parallel = 2 }).RunAsync();
        Assert.Equal(CommandStudyStop.Finished, second.Stop);
        Assert.Equal(2, second.Resumed);
        trials = await study.GetTrialsAsync();
        Assert.DoesNotContain(trials, t => t.State is TrialState.Running or TrialState.Waiting);
        var complete = trials.Where(t => t.State == TrialState.Complete).ToList();
        Assert.Equal(3, complete.Count);
        // The two interrupted trials resumed in their own directories, from their checkpoints.
        Assert.Equal(2, complete.Count(t => t.SystemAttributes.ContainsKey(SystemAttributeKeys.RetryOf)));
        Assert.All(complete.Where(t => t.SystemAttributes.ContainsKey(SystemAttributeKeys.RetryOf)),
            t => Assert.Equal(_kit.TrialDir((int)(long)t.SystemAttributes[SystemAttributeKeys.RetryOf]!), t.SystemAttributes[CommandAttributeKeys.TrialDirectory]));
    }

    [Fact]
    public async Task Ctrl_c_right_after_a_finish_started_the_next_trial_leaves_it_waiting_and_a_rerun_reaches_the_budget_on_sqlite()
    {
        // tunesmith run's loop stores a trial's finish and starts the next trial in one call; a Ctrl+C (the runner's token)
        // that comes just after it, before the next program starts, must leave that trial to the next run: not Failed
        // "interrupted" (a retry under a new number), not Running, and the budget of 4 reached by the rerun exactly.
        var script = _kit.Script("quick.py", """
            print('tunesmith:result {"val_f1": 0.5}')
            """);
        var url = "sqlite:///" + Path.Combine(_kit.Root, "study.db");
        var options = new StudyOptions { Direction = Direction.Maximize, Metric = "val_f1", Storage = url };
        using var cts = new CancellationTokenSource();
        var objective = _kit.Options(script, progress: new SyncProgress<CommandTrialEvent>(e =>
        {
            if (e is CommandTrialFinished { TrialNumber: 1 }) cts.Cancel(); // trial 2 is started in storage by now
        }));
        await using (var study = await Study.CreateAsync("ctrl-c", options))
        {
            var first = await new CommandStudyRunner(study, objective, new CommandStudyOptions { Trials = 4 }).RunAsync(cts.Token);
            Assert.Equal((CommandStudyStop.Interrupted, 2, 0), (first.Stop, first.Completed, first.Failed));
            var trials = await study.GetTrialsAsync();
            Assert.Equal([(0, TrialState.Complete), (1, TrialState.Complete), (2, TrialState.Waiting)], trials.Select(t => (t.Number, t.State)));
            Assert.Empty(trials[2].Params);
            Assert.False(Directory.Exists(_kit.TrialDir(2)));
        }

        await using (var study = await Study.LoadAsync("ctrl-c", options))
        {
            var second = await new CommandStudyRunner(study, _kit.Options(script), new CommandStudyOptions { Trials = 4 }).RunAsync();
            Assert.Equal((CommandStudyStop.Finished, 2, 0, 0), (second.Stop, second.Completed, second.Failed, second.Resumed));
            var trials = await study.GetTrialsAsync();
            Assert.Equal(Enumerable.Range(0, 4), trials.Select(t => t.Number));
            Assert.All(trials, t => Assert.Equal(TrialState.Complete, t.State));
            Assert.All(trials, t => Assert.True(File.Exists(Path.Combine(_kit.TrialDir(t.Number), "params.json")), $"trial {t.Number}"));
        }
    }

    [Fact]
    public async Task A_trial_failed_as_stale_and_retried_resumes_from_its_checkpoint_in_the_same_directory()
    {
        var script = _kit.Script("resume.py", """
            import os, sys
            checkpoint = os.path.join(os.environ["TUNESMITH_TRIAL_DIR"], "checkpoint")
            if not os.path.exists(checkpoint):
                sys.exit(9)
            print('tunesmith:result {"val_f1": 0.7}')
            """);
        var storage = new InMemoryStudyStorage();
        await using var study = await Study.CreateAsync("stale", new StudyOptions { Direction = Direction.Maximize, Metric = "val_f1", StorageInstance = storage });
        // A worker died in mid-trial after its program wrote a checkpoint; its heartbeat then expired.
        var dead = (await storage.StartTrialAsync(study.Record.Id, "dead-worker"))!;
        await storage.UpdateTrialAsync(dead.Id, "dead-worker", new TrialUpdate
        {
            Params = [("lr", 0.01, new FloatDistribution(1e-4, 1e-1, Log: true)), ("opt", "sgd", new CategoricalDistribution(["adam", "sgd"]))],
        });
        Directory.CreateDirectory(_kit.TrialDir(dead.Number));
        File.WriteAllText(Path.Combine(_kit.TrialDir(dead.Number), "checkpoint"), "epoch 5");
        var stale = await storage.FailStaleTrialsAsync(study.Record.Id, DateTimeOffset.UtcNow.AddMinutes(1));
        Assert.Equal(dead.Id, Assert.Single(stale).Id);
        Assert.NotNull(await storage.RetryTrialAsync(dead.Id));

        var result = await new CommandStudyRunner(study, _kit.Options(script), new CommandStudyOptions { Trials = 1 }).RunAsync();

        Assert.Equal(1, result.Completed);
        var retry = (await study.GetTrialsAsync()).Single(t => t.State == TrialState.Complete);
        Assert.Equal((long)dead.Number, retry.SystemAttributes[SystemAttributeKeys.RetryOf]);
        Assert.Equal(_kit.TrialDir(dead.Number), retry.SystemAttributes[CommandAttributeKeys.TrialDirectory]);
        Assert.Equal("sgd", retry.Params["opt"]);
        Assert.Equal(0.7, retry.Value);
    }
}
