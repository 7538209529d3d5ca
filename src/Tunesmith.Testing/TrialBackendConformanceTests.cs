using System.Collections.Concurrent;
using Tunesmith.Backends;
using Xunit;

namespace Tunesmith.Testing;

/// <summary>
/// The trial-backend contract (<see cref="ITrialBackend"/>), proved against an implementation: derive a test class, make
/// <see cref="CreateBackend"/> return a backend that runs the <see cref="ReferenceTrial"/>, and it inherits every test.
/// Tests of capabilities the backend does not declare are skipped.
/// </summary>
public abstract class TrialBackendConformanceTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly List<ITrialBackend> _backends = [];

    /// <summary>
    /// A fresh backend whose trials run the <see cref="ReferenceTrial"/> with the request's params, with room for at
    /// most <paramref name="capacity"/> trials at once (null: no limit).
    /// </summary>
    protected abstract ITrialBackend CreateBackend(int? capacity);

    private ITrialBackend NewBackend(int? capacity = null)
    {
        var backend = CreateBackend(capacity);
        _backends.Add(backend);
        return backend;
    }

    /// <inheritdoc />
    public Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc />
    public virtual async Task DisposeAsync()
    {
        foreach (var b in _backends) await b.DisposeAsync().ConfigureAwait(false);
    }

    private static TrialStartRequest Request(int number, IReadOnlyDictionary<string, object?> parameters, int? checkpointFrom = null, int? directory = null) => new()
    {
        StudyName = "conformance",
        TrialId = 1000 + number,
        TrialNumber = number,
        Params = parameters,
        CheckpointFrom = checkpointFrom,
        DirectoryNumber = directory,
    };

    private static async Task<TrialExit> EndOf(TrialExecution execution) => await execution.Completion.WaitAsync(Patience).ConfigureAwait(false);

    /// <summary>Records reports and lets a test wait (on an event, not on time) for a step.</summary>
    protected sealed class RecordingObserver : ITrialObserver
    {
        private readonly ConcurrentQueue<(int Trial, long Step, double Loss)> _reports = new();
        private readonly ConcurrentDictionary<long, TaskCompletionSource> _waits = new();

        /// <summary>Every report so far, in order.</summary>
        public IReadOnlyList<(int Trial, long Step, double Loss)> Reports => _reports.ToArray();

        /// <summary>Completes once a report at <paramref name="step"/> or later has arrived.</summary>
        public Task Reached(long step)
        {
            var wait = _waits.GetOrAdd(step, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            if (_reports.Any(r => r.Step >= step)) wait.TrySetResult();
            return wait.Task.WaitAsync(Patience);
        }

        /// <inheritdoc />
        public ValueTask ReportedAsync(int trialNumber, long step, IReadOnlyDictionary<string, double> metrics, CancellationToken cancellationToken)
        {
            _reports.Enqueue((trialNumber, step, metrics[ReferenceTrial.Metric]));
            foreach (var (s, wait) in _waits)
                if (step >= s) wait.TrySetResult();
            return ValueTask.CompletedTask;
        }
    }

    // ---------------------------------------------------------------- start, finish, fail

    /// <summary>A started trial reports every step in order, then finishes with its result.</summary>
    [Fact]
    public async Task A_trial_runs_to_its_result_and_reports_every_step_in_order()
    {
        var backend = NewBackend();
        var observer = new RecordingObserver();
        var execution = await backend.StartAsync(Request(0, ReferenceTrial.Params(steps: 3, value: 0.5)), observer);
        var exit = await EndOf(execution);
        Assert.Equal(TrialExitKind.Finished, exit.Kind);
        Assert.Equal(0.5, exit.Result![ReferenceTrial.Metric]);
        Assert.Equal(2, exit.LastStep);
        Assert.Equal([(0, 0L, 0.5), (0, 1L, 1.5), (0, 2L, 2.5)], observer.Reports);
        Assert.Null(execution.ResumedAfterStep);
    }

    /// <summary>A trial that fails ends Failed with a reason, and its execution does not fault.</summary>
    [Fact]
    public async Task A_failing_trial_ends_failed_with_a_reason()
    {
        var backend = NewBackend();
        var exit = await EndOf(await backend.StartAsync(Request(0, ReferenceTrial.Params(steps: 3, fail: true)), new RecordingObserver()));
        Assert.Equal(TrialExitKind.Failed, exit.Kind);
        Assert.False(string.IsNullOrWhiteSpace(exit.Reason));
        Assert.Null(exit.LastStep);
    }

    // ---------------------------------------------------------------- stop, interrupt

    /// <summary>Stopping a running trial ends it Stopped; stopping a trial that does not run here answers false.</summary>
    [Fact]
    public async Task Stop_ends_a_running_trial_stopped_and_an_unknown_trial_is_not_stopped()
    {
        var backend = NewBackend();
        var observer = new RecordingObserver();
        var execution = await backend.StartAsync(Request(0, ReferenceTrial.Params(steps: 10_000)), observer);
        await observer.Reached(0);
        Assert.True(await backend.StopAsync(0));
        var exit = await EndOf(execution);
        Assert.Equal(TrialExitKind.Stopped, exit.Kind);
        Assert.Null(exit.Result);
        Assert.False(await backend.StopAsync(0));
        Assert.False(await backend.StopAsync(42));
    }

    /// <summary>
    /// A trial told to stop may still report the step it was in before it ends; that report reaches the observer (it is
    /// stored, not judged), so the last step the exit records is one the observer heard.
    /// </summary>
    [Fact]
    public async Task A_report_made_while_a_stop_takes_effect_still_reaches_the_observer()
    {
        var backend = NewBackend();
        var observer = new RecordingObserver();
        var execution = await backend.StartAsync(Request(0, ReferenceTrial.Params(steps: 10_000, stepSeconds: 0.3)), observer);
        await observer.Reached(0);
        Assert.True(await backend.StopAsync(0));
        var exit = await EndOf(execution);
        Assert.Equal(TrialExitKind.Stopped, exit.Kind);
        Assert.Equal(exit.LastStep, observer.Reports.Max(r => r.Step));
    }

    /// <summary>Cancelling the run's token interrupts a running trial.</summary>
    [Fact]
    public async Task Cancelling_the_run_interrupts_a_running_trial()
    {
        var backend = NewBackend();
        var observer = new RecordingObserver();
        using var run = new CancellationTokenSource();
        var execution = await backend.StartAsync(Request(0, ReferenceTrial.Params(steps: 10_000)), observer, run.Token);
        await observer.Reached(0);
        await run.CancelAsync();
        Assert.Equal(TrialExitKind.Interrupted, (await EndOf(execution)).Kind);
    }

    // ---------------------------------------------------------------- slots

    /// <summary>With one slot, a second trial waits until the first has ended, then starts.</summary>
    [Fact]
    public async Task A_second_trial_waits_for_the_slot_of_the_first()
    {
        var backend = NewBackend(capacity: 1);
        var first = new RecordingObserver();
        var running = await backend.StartAsync(Request(0, ReferenceTrial.Params(steps: 10_000)), first);
        await first.Reached(0);
        var second = backend.StartAsync(Request(1, ReferenceTrial.Params(steps: 1)), new RecordingObserver());
        Assert.False(second.IsCompleted, "the second trial started while the first held the only slot");
        await backend.StopAsync(0);
        await EndOf(running);
        Assert.Equal(TrialExitKind.Finished, (await EndOf(await second.WaitAsync(Patience))).Kind);
    }

    /// <summary>Cancelling the token of a start that waits for a slot throws, and takes no slot.</summary>
    [Fact]
    public async Task A_start_waiting_for_a_slot_can_be_cancelled()
    {
        var backend = NewBackend(capacity: 1);
        var first = new RecordingObserver();
        var running = await backend.StartAsync(Request(0, ReferenceTrial.Params(steps: 10_000)), first);
        await first.Reached(0);
        using var cancel = new CancellationTokenSource();
        var waiting = backend.StartAsync(Request(1, ReferenceTrial.Params(steps: 1)), new RecordingObserver(), cancel.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Patience));
        await backend.StopAsync(0);
        await EndOf(running);
        Assert.Equal(TrialExitKind.Finished, (await EndOf(await backend.StartAsync(Request(2, ReferenceTrial.Params(steps: 1)), new RecordingObserver()))).Kind);
    }

    // ---------------------------------------------------------------- pause, resume

    /// <summary>A paused trial ends Paused; resumed, it goes on after the last step it reported and finishes.</summary>
    [SkippableFact]
    public async Task A_paused_trial_resumes_after_its_last_step_and_finishes()
    {
        var backend = NewBackend();
        Skip.IfNot(backend.Capabilities.HasFlag(TrialBackendCapabilities.Pause | TrialBackendCapabilities.Resume), "the backend cannot pause and resume");
        var observer = new RecordingObserver();
        // Room for the pause to take effect before the trial would finish: 4 s. With 0.8 s it once finished first in a
        // full CI run on 2 busy cores (the observer saw step 1 after the program had written its last step).
        const int steps = 40;
        var execution = await backend.StartAsync(Request(0, ReferenceTrial.Params(steps: steps, stepSeconds: 0.1)), observer);
        await observer.Reached(1);
        Assert.True(await backend.PauseAsync(0));
        var paused = await EndOf(execution);
        Assert.Equal(TrialExitKind.Paused, paused.Kind);
        var last = Assert.IsType<long>(paused.LastStep);
        Assert.InRange(last, 1, steps - 2);

        var again = new RecordingObserver();
        var resumed = await backend.ResumeAsync(0, again);
        Assert.Equal(last, resumed.ResumedAfterStep);
        var exit = await EndOf(resumed);
        Assert.Equal(TrialExitKind.Finished, exit.Kind);
        Assert.Equal(Enumerable.Range((int)last + 1, steps - 1 - (int)last).Select(s => (long)s), again.Reports.Select(r => r.Step));
        await Assert.ThrowsAsync<InvalidOperationException>(() => backend.ResumeAsync(0, again));
    }

    /// <summary>A paused trial gives its slot back: with one slot, another trial starts while it is paused.</summary>
    [SkippableFact]
    public async Task Pausing_a_trial_frees_its_slot()
    {
        var backend = NewBackend(capacity: 1);
        Skip.IfNot(backend.Capabilities.HasFlag(TrialBackendCapabilities.Pause), "the backend cannot pause");
        var observer = new RecordingObserver();
        var execution = await backend.StartAsync(Request(0, ReferenceTrial.Params(steps: 10_000)), observer);
        await observer.Reached(0);
        await backend.PauseAsync(0);
        Assert.Equal(TrialExitKind.Paused, (await EndOf(execution)).Kind);
        var other = await backend.StartAsync(Request(1, ReferenceTrial.Params(steps: 1)), new RecordingObserver()).WaitAsync(Patience);
        Assert.Equal(TrialExitKind.Finished, (await EndOf(other)).Kind);
    }

    /// <summary>Resuming a trial that is not paused throws; so does pausing one that does not run (it answers false).</summary>
    [SkippableFact]
    public async Task Only_a_paused_trial_can_be_resumed()
    {
        var backend = NewBackend();
        Skip.IfNot(backend.Capabilities.HasFlag(TrialBackendCapabilities.Resume), "the backend cannot resume");
        await Assert.ThrowsAsync<InvalidOperationException>(() => backend.ResumeAsync(7, new RecordingObserver()));
        Assert.False(await backend.PauseAsync(7));
        var finished = await backend.StartAsync(Request(0, ReferenceTrial.Params(steps: 1)), new RecordingObserver());
        Assert.Equal(TrialExitKind.Finished, (await EndOf(finished)).Kind);
        await Assert.ThrowsAsync<InvalidOperationException>(() => backend.ResumeAsync(0, new RecordingObserver()));
    }

    /// <summary>
    /// A paused trial that its study starts again (from storage, e.g. in another run) is no longer paused here: resuming it
    /// afterwards would run it twice.
    /// </summary>
    [SkippableFact]
    public async Task A_paused_trial_started_again_is_no_longer_resumable()
    {
        var backend = NewBackend();
        Skip.IfNot(backend.Capabilities.HasFlag(TrialBackendCapabilities.Pause | TrialBackendCapabilities.Resume), "the backend cannot pause and resume");
        var observer = new RecordingObserver();
        var execution = await backend.StartAsync(Request(0, ReferenceTrial.Params(steps: 10_000)), observer);
        await observer.Reached(0);
        Assert.True(await backend.PauseAsync(0));
        var paused = await EndOf(execution);
        Assert.Equal(TrialExitKind.Paused, paused.Kind);

        var again = await backend.StartAsync(Request(0, ReferenceTrial.Params(steps: 1)) with { ResumeAfterStep = -1 }, new RecordingObserver());
        Assert.Equal(TrialExitKind.Finished, (await EndOf(again)).Kind);
        await Assert.ThrowsAsync<InvalidOperationException>(() => backend.ResumeAsync(0, new RecordingObserver()));
    }

    // ---------------------------------------------------------------- checkpoints

    /// <summary>A trial started from another trial's checkpoint goes on after that trial's last step.</summary>
    [SkippableFact]
    public async Task A_trial_started_from_another_trials_checkpoint_continues_after_its_step()
    {
        var backend = NewBackend();
        Skip.IfNot(backend.Capabilities.HasFlag(TrialBackendCapabilities.Checkpoints), "the backend keeps no checkpoints");
        Assert.Equal(TrialExitKind.Finished, (await EndOf(await backend.StartAsync(Request(0, ReferenceTrial.Params(steps: 3)), new RecordingObserver()))).Kind);
        var observer = new RecordingObserver();
        var exit = await EndOf(await backend.StartAsync(Request(1, ReferenceTrial.Params(steps: 5, value: 10), checkpointFrom: 0), observer));
        Assert.Equal(TrialExitKind.Finished, exit.Kind);
        Assert.Equal([3L, 4L], observer.Reports.Select(r => r.Step));
    }

    /// <summary>
    /// Copying a checkpoint replaces the target's (its own logs stay), and leaves no temporary directory behind.
    /// </summary>
    [SkippableFact]
    public async Task Copying_a_checkpoint_replaces_the_targets_and_leaves_nothing_half_done()
    {
        var backend = NewBackend();
        Skip.IfNot(backend.Capabilities.HasFlag(TrialBackendCapabilities.Checkpoints), "the backend keeps no checkpoints");
        var zero = await backend.StartAsync(Request(0, ReferenceTrial.Params(steps: 2)), new RecordingObserver());
        Assert.Equal(TrialExitKind.Finished, (await EndOf(zero)).Kind);
        Assert.Equal(TrialExitKind.Finished, (await EndOf(await backend.StartAsync(Request(1, ReferenceTrial.Params(steps: 4)), new RecordingObserver()))).Kind);

        await backend.CopyCheckpointAsync(1, 0);
        // A retry of trial 0 runs in its directory: it now holds trial 1's checkpoint (step 3).
        var observer = new RecordingObserver();
        var retry = await EndOf(await backend.StartAsync(Request(5, ReferenceTrial.Params(steps: 6), directory: 0), observer));
        Assert.Equal(TrialExitKind.Finished, retry.Kind);
        Assert.Equal([4L, 5L], observer.Reports.Select(r => r.Step));

        if (zero.Directory is { } directory)
        {
            var parent = Path.GetDirectoryName(directory)!;
            Assert.Empty(Directory.EnumerateFileSystemEntries(parent, ".*"));
        }
    }
}
