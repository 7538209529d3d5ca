using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Tunesmith.Cli.Internal;
using Tunesmith.Storage;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Cli.Tests;

/// <summary>The entry point's clock reaches the studies that <c>create</c>, <c>worker</c> and <c>run</c> open and their command trials (run in this process).</summary>
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
        Assert.True(0 == await CliApplication.RunAsync(["create", Path.Combine(kit.Dir, studyFile), "--storage", kit.Storage], console, clock, NullLoggerFactory.Instance), output.ToString());
        Assert.True(0 == await CliApplication.RunAsync(["worker", "--study", "s", "--one-trial", "--quiet", "--storage", kit.Storage], console, clock, NullLoggerFactory.Instance), output.ToString());

        await using var storage = StudyStorage.Open(kit.Storage);
        var study = await storage.GetStudyAsync("s");
        Assert.NotNull(study);
        var trial = Assert.Single((await storage.GetTrialsSinceAsync(study.Id, 0)).Trials);
        Assert.Equal(Then, trial.Started);
        Assert.Equal(Then, trial.Finished);
    }

    // Completes when a line with `"event":"started"` is written (the JSON progress of `run --log-format json`).
    private sealed class StartedWatcher : StringWriter
    {
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Started => _started.Task;

        public override void WriteLine(string? value)
        {
            lock (this) base.WriteLine(value);
            if (value?.Contains("\"event\":\"started\"", StringComparison.Ordinal) == true) _started.TrySetResult();
        }

        public override void Write(string? value) { lock (this) base.Write(value); }

        public override void Write(char value) { lock (this) base.Write(value); }

        public override string ToString() { lock (this) return base.ToString(); }
    }

    [Fact]
    public async Task A_command_trials_timeout_runs_on_the_entry_points_clock()
    {
        using var kit = new StudyKit();
        // The program would run 30 s of real time; its trial_timeout is 10 minutes of the entry point's clock, which the
        // test moves on: the trial must time out after 10 fake minutes, long before the program ends by itself.
        kit.Write("obj.py", "import time\ntime.sleep(30)\nprint('tunesmith:result {\"value\": 1}')\n");
        var studyFile = kit.StudyFile($"""
            command: {StudyKit.Python} obj.py {"{x}"}
            space:
              x: {"{"} float: [0, 1] {"}"}
            trials: 1
            trial_timeout: 10m
            """);
        var output = new StartedWatcher();
        var console = new CliConsole(output, output, _ => null, outputIsTerminal: false);
        var clock = new FakeTimeProvider(Then);
        var run = CliApplication.RunAsync(["run", Path.Combine(kit.Dir, studyFile), "--log-format", "json", "--storage", kit.Storage], console, clock, NullLoggerFactory.Instance);
        var real = System.Diagnostics.Stopwatch.StartNew();
        await Task.WhenAny(output.Started, run).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(output.Started.IsCompleted, output.ToString());
        // Time moves only when the test moves it: a minute at a time until the run is over (ending a process tree polls on the clock too).
        while (!run.IsCompleted && real.Elapsed < TimeSpan.FromSeconds(60))
        {
            clock.Advance(TimeSpan.FromMinutes(1));
            await Task.WhenAny(run, Task.Delay(10));
        }
        Assert.True(run.IsCompleted, output.ToString());
        await run;
        Assert.True(real.Elapsed < TimeSpan.FromSeconds(25), $"the trial ran {real.Elapsed} of real time: its timeout was not on the entry point's clock");

        await using var storage = StudyStorage.Open(kit.Storage);
        var study = await storage.GetStudyAsync("s");
        var trial = Assert.Single((await storage.GetTrialsSinceAsync(study!.Id, 0)).Trials);
        Assert.Equal(TrialState.Failed, trial.State);
        Assert.Contains("timed out after 10 min", trial.FailReason, StringComparison.Ordinal);
        Assert.Equal(Then, trial.Started);
        Assert.True(trial.Finished - trial.Started >= TimeSpan.FromMinutes(10), $"{trial.Started} → {trial.Finished}");
    }
}
