using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;

namespace Tunesmith.Cli.Tests;

/// <summary>
/// Two <c>tunesmith run</c> processes on one machine share its GPUs through the machine-wide ledger: no GPU ever holds
/// more than one GPU's worth of trials, whatever process started them. The GPUs are fake ids (<c>--gpus 0,1</c>); the
/// trial programs record, under a flock, what each GPU holds when they start and end.
/// </summary>
public sealed class GpuLedgerEndToEndTests
{
    // Adds the trial's share to each of its GPUs in held.json (under a flock) and logs the totals it saw; then holds its
    // GPUs until a trial of another runner has started, or the test saw the other runner say that it waits (the file
    // 'waited'), so that the runs overlap whatever their start-up times; argv[2] seconds is only a safety limit.
    private const string Holder = """
        import fcntl, json, os, sys, time
        gpus = os.environ['CUDA_VISIBLE_DEVICES'].split(',')
        share = float(sys.argv[1])
        def change(sign, what):
            with open('held.lock', 'a+') as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                state = json.load(open('held.json')) if os.path.exists('held.json') else {}
                for g in gpus: state[g] = round(state.get(g, 0) + sign * share, 6)
                with open('held.json', 'w') as f: json.dump(state, f)
                with open('events.jsonl', 'a') as f:
                    f.write(json.dumps({'event': what, 'runner': os.getppid(), 'study': os.environ['TUNESMITH_STUDY'], 'gpus': gpus, 'held': state}) + '\n')
        def runners():
            with open('events.jsonl') as f: return {json.loads(l)['runner'] for l in f if l.strip()}
        change(1, 'start')
        deadline = time.time() + float(sys.argv[2])
        while len(runners()) < 2 and not os.path.exists('waited') and time.time() < deadline: time.sleep(0.05)
        change(-1, 'end')
        print('tunesmith:result {"value": 1}')
        """;

    private static string Study(string name, double share, int trials, int parallel, double hold = 120) => $"""
        name: {name}
        sampler: {"{"} random: {"{"} seed: 3 {"}"} {"}"}
        command: {StudyKit.Python} holder.py {share.ToString(System.Globalization.CultureInfo.InvariantCulture)} {hold.ToString(System.Globalization.CultureInfo.InvariantCulture)} {"{x}"}
        space:
          x: {"{"} float: [0, 1] {"}"}
        trials: {trials}
        parallel: {parallel}
        resources: {"{"} gpus_per_trial: {share.ToString(System.Globalization.CultureInfo.InvariantCulture)} {"}"}
        """;

    private static List<JsonElement> Events(StudyKit kit) =>
        File.ReadAllLines(Path.Combine(kit.Dir, "events.jsonl")).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    private static double MostHeld(List<JsonElement> events) =>
        events.SelectMany(e => e.GetProperty("held").EnumerateObject().Select(p => p.Value.GetDouble())).Max();

    // Runs a.yaml and b.yaml at once; the first line where either says it waits for a GPU writes the file 'waited'.
    private static async Task<(CliResult A, CliResult B)> RunTwoAsync(StudyKit kit, string gpus)
    {
        var a = RunAsync(kit, "a.yaml", gpus);
        var b = RunAsync(kit, "b.yaml", gpus);
        return (await a, await b);
    }

    private static async Task<CliResult> RunAsync(StudyKit kit, string studyFile, string gpus)
    {
        using var process = Process.Start(CliProcess.StartInfo(kit.Dir, ["run", studyFile, "--gpus", gpus, "--storage", kit.Storage]))!;
        try
        {
            process.StandardInput.Close();
            var stderr = new ConcurrentQueue<string>();
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is not { } line) return;
                stderr.Enqueue(line);
                if (line.Contains("waits for a GPU", StringComparison.Ordinal)) File.WriteAllText(Path.Combine(kit.Dir, "waited"), "");
            };
            process.BeginErrorReadLine();
            var stdout = process.StandardOutput.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
            await process.WaitForExitAsync(timeout.Token);
            process.WaitForExit(); // the stderr events are all in
            return new CliResult(process.ExitCode, await CliProcess.Drained(stdout), string.Join('\n', stderr));
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public async Task Two_runs_with_one_whole_GPU_a_trial_never_put_two_trials_on_one_GPU()
    {
        using var kit = new StudyKit();
        kit.Write("holder.py", Holder);
        kit.Write("a.yaml", Study("a", 1, trials: 2, parallel: 2));
        kit.Write("b.yaml", Study("b", 1, trials: 2, parallel: 2));
        var (a, b) = await RunTwoAsync(kit, "0,1");
        Assert.True(a.ExitCode == 0, a.ToString());
        Assert.True(b.ExitCode == 0, b.ToString());
        var events = Events(kit);
        Assert.Equal(2, events.Select(e => e.GetProperty("runner").GetInt32()).Distinct().Count());
        Assert.Equal(4, events.Count(e => e.GetProperty("event").GetString() == "start"));
        Assert.Equal(4, events.Count(e => e.GetProperty("event").GetString() == "end"));
        Assert.True(MostHeld(events) <= 1.0, $"a GPU held {MostHeld(events)} GPUs' worth of trials at once:\n{string.Join('\n', events)}");
        Assert.All(await kit.TrialsAsync("a"), t => Assert.Equal("Complete", t.GetProperty("state").GetString()));
        Assert.All(await kit.TrialsAsync("b"), t => Assert.Equal("Complete", t.GetProperty("state").GetString()));
        // The run that waited said so once, naming the process that held the GPUs.
        var said = (a.Stderr + b.Stderr).Split('\n').Where(l => l.Contains("waits for a GPU held by another process", StringComparison.Ordinal)).ToList();
        Assert.True(said.Count is >= 1 and <= 2, a.ToString() + b);
        var runners = events.Select(e => e.GetProperty("runner").GetInt32()).Distinct();
        Assert.Contains(runners, r => said[0].Contains($"pid {r} (study '", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Two_runs_with_half_a_GPU_a_trial_never_put_more_than_one_GPU_of_shares_on_it()
    {
        using var kit = new StudyKit();
        kit.Write("holder.py", Holder);
        kit.Write("a.yaml", Study("a", 0.5, trials: 2, parallel: 2));
        kit.Write("b.yaml", Study("b", 0.5, trials: 2, parallel: 2));
        var (a, b) = await RunTwoAsync(kit, "0");
        Assert.True(a.ExitCode == 0, a.ToString());
        Assert.True(b.ExitCode == 0, b.ToString());
        var events = Events(kit);
        Assert.Equal(4, events.Count(e => e.GetProperty("event").GetString() == "start"));
        Assert.True(MostHeld(events) <= 1.0, $"GPU 0 held {MostHeld(events)} GPUs' worth of trials at once:\n{string.Join('\n', events)}");
        Assert.Equal(2, (await kit.TrialsAsync("a")).Count(t => t.GetProperty("state").GetString() == "Complete"));
        Assert.Equal(2, (await kit.TrialsAsync("b")).Count(t => t.GetProperty("state").GetString() == "Complete"));
    }

    [Fact]
    public async Task A_runner_killed_with_SIGKILL_does_not_keep_its_GPU_from_a_run_waiting_for_it()
    {
        using var kit = new StudyKit();
        kit.Write("holder.py", Holder);
        kit.Write("a.yaml", Study("a", 1, trials: 1, parallel: 1, hold: 600)); // holds GPU 0 until killed (the test writes no 'waited')
        kit.Write("b.yaml", Study("b", 1, trials: 1, parallel: 1));
        using var a = CliBackground.Start(kit.Dir, ["run", "a.yaml", "--gpus", "0", "--storage", kit.Storage]);
        var events = Path.Combine(kit.Dir, "events.jsonl");
        await Eventually.HoldsAsync(() => File.Exists(events), TimeSpan.FromSeconds(60), "run a's trial to start");

        using var b = Process.Start(CliProcess.StartInfo(kit.Dir, ["run", "b.yaml", "--gpus", "0", "--storage", kit.Storage]))!;
        try
        {
            b.StandardInput.Close();
            var stderr = new ConcurrentQueue<string>();
            b.ErrorDataReceived += (_, e) => { if (e.Data is { } line) stderr.Enqueue(line); };
            b.BeginErrorReadLine();
            var stdout = b.StandardOutput.ReadToEndAsync();
            await Eventually.HoldsAsync(() => stderr.Any(l => l.Contains($"waits for a GPU held by another process: GPU 0 by pid {a.Process.Id} (study 'a' trial 0)", StringComparison.Ordinal)),
                TimeSpan.FromSeconds(60), "run b to say that run a holds GPU 0");

            a.Process.Kill(entireProcessTree: true); // SIGKILL: no chance to give the GPU back
            await a.Process.WaitForExitAsync();

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            try { await b.WaitForExitAsync(timeout.Token); }
            catch (OperationCanceledException) { Assert.Fail($"run b did not get GPU 0 within 90 s of run a's SIGKILL:\n{string.Join('\n', stderr)}"); }
            Assert.True(b.ExitCode == 0, $"exit {b.ExitCode}\n{await stdout}\n{string.Join('\n', stderr)}");
            Assert.Equal("Complete", Assert.Single(await kit.TrialsAsync("b")).GetProperty("state").GetString());
            Assert.Empty(File.ReadAllLines(Path.Combine(kit.Dir, ".gpu-ledger", "gpus.ledger")).TakeWhile(l => l != "end"));
        }
        finally
        {
            if (!b.HasExited) b.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public async Task Runs_waiting_for_a_GPU_another_process_holds_have_no_Running_trial_meanwhile_and_keep_the_budget()
    {
        using var kit = new StudyKit();
        kit.Write("holder.py", Holder);
        kit.Write("a.yaml", Study("a", 1, trials: 1, parallel: 1, hold: 600)); // holds GPU 0 until the test writes 'waited'
        kit.Write("b.yaml", Study("b", 1, trials: 3, parallel: 2));
        using var a = CliBackground.Start(kit.Dir, ["run", "a.yaml", "--gpus", "0", "--storage", kit.Storage]);
        await Eventually.HoldsAsync(() => File.Exists(Path.Combine(kit.Dir, "events.jsonl")), TimeSpan.FromSeconds(60), "run a's trial to start");

        // Two runs of study b (one study, one budget) both wait for GPU 0.
        var b = new[] { StartWithStderr(kit, "b.yaml", "0"), StartWithStderr(kit, "b.yaml", "0") };
        try
        {
            foreach (var (_, stderr) in b)
                await Eventually.HoldsAsync(() => stderr.Any(l => l.Contains($"waits for a GPU held by another process: GPU 0 by pid {a.Process.Id} (study 'a' trial 0)", StringComparison.Ordinal)),
                    TimeSpan.FromSeconds(60), "both runs of b to say that run a holds GPU 0");
            // While they wait, no trial of b is Running (or started at all): status and the dashboard count none.
            Assert.DoesNotContain(await kit.TrialsAsync("b"), t => t.GetProperty("state").GetString() == "Running");

            File.WriteAllText(Path.Combine(kit.Dir, "waited"), ""); // run a's trial ends and gives GPU 0 back
            Assert.Equal(0, await a.WaitForExitAsync(TimeSpan.FromSeconds(90)));
            foreach (var (process, stderr) in b)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
                try { await process.WaitForExitAsync(timeout.Token); }
                catch (OperationCanceledException) { Assert.Fail($"a run of b did not end:\n{string.Join('\n', stderr)}"); }
                process.WaitForExit();
                Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}\n{string.Join('\n', stderr)}");
            }
            var trials = await kit.TrialsAsync("b");
            Assert.Equal(3, trials.Count); // the budget, exactly, across both runs
            Assert.All(trials, t => Assert.Equal("Complete", t.GetProperty("state").GetString()));
            Assert.Equal("Complete", Assert.Single(await kit.TrialsAsync("a")).GetProperty("state").GetString());
            Assert.Empty(File.ReadAllLines(Path.Combine(kit.Dir, ".gpu-ledger", "gpus.ledger")).TakeWhile(l => l != "end"));
        }
        finally
        {
            foreach (var (process, _) in b)
            {
                if (!process.HasExited) process.Kill(entireProcessTree: true);
                process.Dispose();
            }
        }
    }

    [Fact]
    public async Task A_run_with_json_progress_says_its_wait_for_a_GPU_another_process_holds_as_a_gpu_wait_event()
    {
        using var kit = new StudyKit();
        kit.Write("holder.py", Holder);
        kit.Write("a.yaml", Study("a", 1, trials: 1, parallel: 1, hold: 600)); // holds GPU 0 until the test writes 'waited'
        kit.Write("b.yaml", Study("b", 1, trials: 1, parallel: 1));
        using var a = CliBackground.Start(kit.Dir, ["run", "a.yaml", "--gpus", "0", "--storage", kit.Storage]);
        await Eventually.HoldsAsync(() => File.Exists(Path.Combine(kit.Dir, "events.jsonl")), TimeSpan.FromSeconds(60), "run a's trial to start");

        using var b = Process.Start(CliProcess.StartInfo(kit.Dir, ["run", "b.yaml", "--gpus", "0", "--storage", kit.Storage, "--log-format", "json"]))!;
        try
        {
            b.StandardInput.Close();
            var stdout = new ConcurrentQueue<string>();
            b.OutputDataReceived += (_, e) => { if (e.Data is { } line) stdout.Enqueue(line); };
            b.BeginOutputReadLine();
            var stderr = b.StandardError.ReadToEndAsync();
            await Eventually.HoldsAsync(() => stdout.Any(l => l.Contains("\"gpu_wait\"", StringComparison.Ordinal)), TimeSpan.FromSeconds(60),
                "run b to emit a gpu_wait event");
            File.WriteAllText(Path.Combine(kit.Dir, "waited"), ""); // run a's trial ends and gives GPU 0 back
            Assert.Equal(0, await a.WaitForExitAsync(TimeSpan.FromSeconds(90)));
            using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90)))
                await b.WaitForExitAsync(timeout.Token);
            b.WaitForExit();
            Assert.True(b.ExitCode == 0, $"exit {b.ExitCode}\n{string.Join('\n', stdout)}\n{await stderr}");

            // Every line of stdout is one JSON event; the wait came once, before trial 0 started, in the events' style.
            var events = stdout.Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
            var wait = Assert.Single(events, e => e.GetProperty("event").GetString() == "gpu_wait");
            Assert.Equal(("b", "study 'b'"), (wait.GetProperty("study").GetString(), wait.GetProperty("waiting").GetString()));
            Assert.False(wait.TryGetProperty("trial", out _)); // no trial is started while the run waits
            Assert.True(DateTimeOffset.TryParse(wait.GetProperty("time").GetString(), System.Globalization.CultureInfo.InvariantCulture, out _));
            var held = Assert.Single(wait.GetProperty("held_by").EnumerateArray());
            Assert.Equal(("0", 1.0, a.Process.Id, "study 'a' trial 0"),
                (held.GetProperty("gpu").GetString(), held.GetProperty("share").GetDouble(), held.GetProperty("pid").GetInt32(), held.GetProperty("holder").GetString()));
            Assert.True(events.IndexOf(wait) < events.FindIndex(e => e.GetProperty("event").GetString() == "started"));
            Assert.DoesNotContain("waits for a GPU", await stderr, StringComparison.Ordinal); // the text line is not said as well
        }
        finally
        {
            if (!b.HasExited) b.Kill(entireProcessTree: true);
        }
    }

    // Starts 'tunesmith run' with its stderr lines collected as they come.
    private static (Process Process, ConcurrentQueue<string> Stderr) StartWithStderr(StudyKit kit, string studyFile, string gpus)
    {
        var process = Process.Start(CliProcess.StartInfo(kit.Dir, ["run", studyFile, "--gpus", gpus, "--storage", kit.Storage]))!;
        process.StandardInput.Close();
        var stderr = new ConcurrentQueue<string>();
        process.ErrorDataReceived += (_, e) => { if (e.Data is { } line) stderr.Enqueue(line); };
        process.BeginErrorReadLine();
        _ = process.StandardOutput.ReadToEndAsync();
        return (process, stderr);
    }

    [Fact]
    public async Task A_GPU_ledger_that_cannot_be_written_is_one_line_before_any_trial()
    {
        using var kit = new StudyKit();
        kit.Write("holder.py", Holder);
        kit.Write("a.yaml", Study("a", 1, trials: 1, parallel: 1));
        var notADirectory = kit.Write("not-a-dir", "");
        var r = await CliProcess.RunAsync(kit.Dir, ["run", "a.yaml", "--gpus", "0", "--storage", kit.Storage],
            env: new Dictionary<string, string?> { ["TUNESMITH_GPU_LEDGER_DIR"] = notADirectory });
        Assert.Equal(2, r.ExitCode);
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"tunesmith: GPU ledger {notADirectory}/gpus.ledger: ", line);
        Assert.Contains("TUNESMITH_GPU_LEDGER_DIR", line);
        Assert.False(File.Exists(Path.Combine(kit.Dir, "events.jsonl")));
    }
}
