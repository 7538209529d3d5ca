using Tunesmith.Backends;
using Tunesmith.Backends.Processes;
using Tunesmith.Backends.Resources;
using Tunesmith.Testing;
using Tunesmith.Tests.Storage;
using Xunit;

namespace Tunesmith.Tests.Backends;

/// <summary>The backend contract on local processes: the reference trial as a Python script.</summary>
public sealed class LocalProcessBackendConformanceTests : TrialBackendConformanceTests, IDisposable
{
    private readonly TempDirectory _dir = new();

    protected override ITrialBackend CreateBackend(int? capacity)
    {
        var script = _dir.File("reference_trial.py");
        if (!File.Exists(script)) File.WriteAllText(script, ReferenceTrial.PythonScript);
        return new LocalProcessBackend(new LocalProcessBackendOptions
        {
            Command = (_, _, _) => ["python3", script],
            RootDirectory = Path.Combine(_dir.Path, "run-" + Guid.NewGuid().ToString("N")[..8]),
            Metric = ReferenceTrial.Metric,
            Resources = capacity is { } k ? new ResourcePool(new ResourcePoolOptions { MaxConcurrent = k }) : null,
            KillGrace = TimeSpan.FromSeconds(10),
        });
    }

    [Fact]
    public async Task A_program_that_printed_its_result_before_a_pause_took_effect_is_finished_not_paused()
    {
        // The program prints its result, then a report (the test's signal that the result line was written), then lingers
        // until the pause's SIGTERM kills it: as a fast program that ran from a rung to its end before the signal landed.
        var script = _dir.File("fast.py");
        File.WriteAllText(script, """
            import json, time
            print("tunesmith:result " + json.dumps({"loss": 0.25}), flush=True)
            print("tunesmith:report " + json.dumps({"step": 9, "loss": 0.25}), flush=True)
            time.sleep(600)
            """);
        await using var backend = new LocalProcessBackend(new LocalProcessBackendOptions
        {
            Command = (_, _, _) => ["python3", script],
            RootDirectory = _dir.Path,
            Metric = "loss",
        });
        var reported = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var request = new TrialStartRequest { StudyName = "s", TrialId = 1, TrialNumber = 0, Params = new Dictionary<string, object?>() };
        var execution = await backend.StartAsync(request, new TrialObserver((_, _, _, _) => { reported.TrySetResult(); return ValueTask.CompletedTask; }));
        await reported.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(await backend.PauseAsync(0));
        var exit = await execution.Completion.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(TrialExitKind.Finished, exit.Kind);
        Assert.Equal(0.25, exit.Result!["loss"]);
        Assert.Empty(backend.PausedTrials);
    }

    [Fact]
    public async Task A_run_cancelled_while_a_report_is_stored_still_reads_the_rest_of_the_programs_output()
    {
        // The storage write of step 0 is still going when the run is cancelled (it then throws, as a cancelled write does);
        // steps 1 and 2 already wait in the pipe. They must still be read: the exit's last step is the one the program
        // checkpointed (TUNESMITH_RESUME_STEP of its retry), and its log keeps every line. A Slurm walltime stop under load
        // once told a retry step 35 while its checkpoint held step 41.
        var script = _dir.File("three.py");
        var printed = _dir.File("printed");
        File.WriteAllText(script, $$"""
            import json, time
            for step in range(3):
                print("tunesmith:report " + json.dumps({"step": step, "loss": 1.0}), flush=True)
            open({{System.Text.Json.JsonSerializer.Serialize(printed)}}, "w").close()
            time.sleep(600)
            """);
        await using var backend = new LocalProcessBackend(new LocalProcessBackendOptions
        {
            Command = (_, _, _) => ["python3", script],
            RootDirectory = _dir.Path,
            Metric = "loss",
        });
        using var cancel = new CancellationTokenSource();
        var request = new TrialStartRequest { StudyName = "s", TrialId = 1, TrialNumber = 0, Params = new Dictionary<string, object?>() };
        var execution = await backend.StartAsync(request, new TrialObserver(async (_, step, _, ct) =>
        {
            if (step == 0) await Task.Delay(Timeout.Infinite, ct);
        }), cancel.Token);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!File.Exists(printed) && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.True(File.Exists(printed), "the program never printed its three reports");
        await cancel.CancelAsync();
        var exit = await execution.Completion.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(TrialExitKind.Interrupted, exit.Kind);
        Assert.Equal(2, exit.LastStep);
        Assert.Contains("\"step\": 2", await File.ReadAllTextAsync(Path.Combine(execution.Directory!, TrialDirectories.StdoutFile)));
    }

    public void Dispose() => _dir.Dispose();
}

/// <summary>The backend contract in this process: the reference trial as a function, with trial directories.</summary>
public sealed class InProcessBackendConformanceTests : TrialBackendConformanceTests, IDisposable
{
    private readonly TempDirectory _dir = new();

    protected override ITrialBackend CreateBackend(int? capacity) => new InProcessBackend(new InProcessBackendOptions
    {
        Run = ReferenceTrial.RunInProcessAsync,
        RootDirectory = Path.Combine(_dir.Path, "run-" + Guid.NewGuid().ToString("N")[..8]),
        Metric = ReferenceTrial.Metric,
        Resources = capacity is { } k ? new ResourcePool(new ResourcePoolOptions { MaxConcurrent = k }) : null,
    });

    public void Dispose() => _dir.Dispose();
}

/// <summary>The atomic checkpoint copy between two trial directories.</summary>
public sealed class TrialDirectoriesTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    private string Trial(int n, params (string Name, string Text)[] files)
    {
        var d = TrialDirectories.TrialDirectory(_dir.Path, n);
        Directory.CreateDirectory(d);
        foreach (var (name, text) in files)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(d, name))!);
            File.WriteAllText(Path.Combine(d, name), text);
        }
        return d;
    }

    [Fact]
    public async Task A_copy_brings_the_checkpoint_and_keeps_the_targets_own_files()
    {
        var source = Trial(0, ("model.pt", "weights-0"), ("ckpt/opt.bin", "opt-0"), ("stdout.log", "source log"), ("result.json", "{}"));
        var target = Trial(1, ("model.pt", "weights-1"), ("old-only.bin", "x"), ("stdout.log", "target log"), ("attempts/0/stderr.log", "earlier"));

        await TrialDirectories.CopyCheckpointAsync(source, target);

        Assert.Equal("weights-0", File.ReadAllText(Path.Combine(target, "model.pt")));
        Assert.Equal("opt-0", File.ReadAllText(Path.Combine(target, "ckpt", "opt.bin")));
        Assert.False(File.Exists(Path.Combine(target, "old-only.bin")), "the old checkpoint must be replaced as a whole");
        Assert.Equal("target log", File.ReadAllText(Path.Combine(target, "stdout.log")));
        Assert.Equal("earlier", File.ReadAllText(Path.Combine(target, "attempts", "0", "stderr.log")));
        Assert.False(File.Exists(Path.Combine(target, "result.json")), "the source's outcome is not part of its checkpoint");
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.GetDirectoryName(target)!, ".*"));
    }

    [Fact]
    public async Task A_copy_of_a_trial_whose_program_keeps_checkpointing_skips_its_vanishing_temporary_files_and_holds_whole_files()
    {
        // PBT copies a source that goes on training: its program writes ckpt.json.tmp and renames it over ckpt.json again
        // and again, as COMMAND_TRIALS.md asks. A temporary file listed and then renamed away is skipped (before, it
        // failed the copy, and with it the exploiting trial); the copy holds one whole ckpt.json.
        var source = Trial(0, ("ckpt.json", "{\"step\": 0}"));
        using var stop = new CancellationTokenSource();
        var writes = 0;
        var writer = Task.Run(() =>
        {
            var tmp = Path.Combine(source, "ckpt.json.tmp");
            while (!stop.IsCancellationRequested)
            {
                File.WriteAllText(tmp, $"{{\"step\": {++writes}}}");
                File.Move(tmp, Path.Combine(source, "ckpt.json"), overwrite: true);
            }
        });
        try
        {
            for (var i = 0; i < 200; i++)
            {
                var target = Trial(100 + i, ("stdout.log", "own"));
                await TrialDirectories.CopyCheckpointAsync(source, target);
                Assert.Matches("^\\{\"step\": \\d+\\}$", File.ReadAllText(Path.Combine(target, "ckpt.json")));
                Assert.Equal("own", File.ReadAllText(Path.Combine(target, "stdout.log")));
            }
        }
        finally
        {
            await stop.CancelAsync();
            await writer;
        }
        Assert.True(writes > 200, $"the writer wrote {writes} times: too few to race with the copies");
    }

    [Fact]
    public async Task A_copy_into_a_new_directory_creates_it()
    {
        var source = Trial(0, ("model.pt", "w"));
        var target = TrialDirectories.TrialDirectory(_dir.Path, 9);
        await TrialDirectories.CopyCheckpointAsync(source, target);
        Assert.Equal("w", File.ReadAllText(Path.Combine(target, "model.pt")));
    }

    [Fact]
    public async Task A_failed_copy_leaves_the_target_as_it_was()
    {
        var target = Trial(1, ("model.pt", "weights-1"));
        await Assert.ThrowsAsync<DirectoryNotFoundException>(() => TrialDirectories.CopyCheckpointAsync(Path.Combine(_dir.Path, "missing"), target));
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        var source = Trial(0, ("model.pt", "weights-0"));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => TrialDirectories.CopyCheckpointAsync(source, target, cancelled.Token));
        Assert.Equal("weights-1", File.ReadAllText(Path.Combine(target, "model.pt")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.GetDirectoryName(target)!, ".*"));
    }

    public void Dispose() => _dir.Dispose();
}

/// <summary>What the local process backend tells a program beyond the conformance suite.</summary>
public sealed class LocalProcessBackendTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    [Fact]
    public async Task A_trial_resumed_after_a_step_sees_it_as_TUNESMITH_RESUME_STEP_and_a_fresh_one_does_not()
    {
        var script = _dir.File("echo_resume.py");
        File.WriteAllText(script, """
            import json, os
            print("tunesmith:result " + json.dumps({"loss": float(os.environ.get("TUNESMITH_RESUME_STEP", "-100"))}))
            """);
        await using var backend = new LocalProcessBackend(new LocalProcessBackendOptions
        {
            Command = (_, _, _) => ["python3", script],
            RootDirectory = _dir.Path,
            Metric = "loss",
        });
        var request = new TrialStartRequest { StudyName = "s", TrialId = 1, TrialNumber = 0, Params = new Dictionary<string, object?>() };
        var fresh = await (await backend.StartAsync(request, TrialObserver.None)).Completion;
        var resumed = await backend.StartAsync(request with { TrialNumber = 1, ResumeAfterStep = 4 }, TrialObserver.None);
        Assert.Equal(-100, fresh.Result!["loss"]);
        Assert.Equal(4, resumed.ResumedAfterStep);
        Assert.Equal(4, (await resumed.Completion).Result!["loss"]);
    }

    public void Dispose() => _dir.Dispose();
}
