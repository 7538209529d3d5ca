namespace Tunesmith.Backends;

/// <summary>What a <see cref="ITrialBackend"/> can do beyond starting and stopping trials.</summary>
/// <remarks>
/// A caller (a scheduler's driver, the worker loop) reads the flags before it plans a pause or an exploit, so that a
/// backend without them fails at planning time rather than half-way through a study. Every backend can start and stop.
/// </remarks>
[Flags]
public enum TrialBackendCapabilities
{
    /// <summary>Start and stop only.</summary>
    None = 0,

    /// <summary>
    /// <see cref="ITrialBackend.PauseAsync"/> works: the trial is asked to end cleanly after its checkpoint (a process gets
    /// SIGTERM and the kill grace), its execution completes with <see cref="TrialExitKind.Paused"/>, and its resources
    /// (GPU slot, CPU share) are free again once it has.
    /// </summary>
    Pause = 1,

    /// <summary>
    /// <see cref="ITrialBackend.ResumeAsync"/> works: a paused trial starts again with the same parameters in the same trial
    /// directory, told the last step it reported before the pause (<c>TUNESMITH_RESUME_STEP</c> for a process; -1 when
    /// it reported none).
    /// </summary>
    Resume = 2,

    /// <summary>
    /// Trials have directories that hold their checkpoints: <see cref="TrialStartRequest.CheckpointFrom"/> and
    /// <see cref="ITrialBackend.CopyCheckpointAsync"/> work (PBT's exploit, ASHA's promotion from a checkpoint).
    /// </summary>
    Checkpoints = 4,

    /// <summary>The backend runs on the clock it was given, which may be virtual (the simulator), not on wall time.</summary>
    VirtualTime = 8,
}

/// <summary>
/// Runs trials somewhere — in this process, as local processes on a GPU/CPU pool, as cluster jobs, or in a simulator's
/// virtual time — and starts, stops, pauses, resumes them and copies checkpoints between them. It is the seam between
/// the one worker loop (which asks the sampler, records in storage and asks the scheduler) and the place trials run;
/// it knows nothing of storage, samplers or schedulers.
/// </summary>
/// <remarks>
/// <para>Contract (checked by <c>Tunesmith.Testing.TrialBackendConformanceTests</c>):</para>
/// <list type="bullet">
/// <item><see cref="StartAsync"/> waits (cancellably) for the resources one trial takes, then starts it and returns its
/// <see cref="TrialExecution"/>. A trial that cannot start (no such program, a bad command) still gets an execution,
/// completed at once with <see cref="TrialExitKind.Failed"/> and the reason; only a cancelled token throws.</item>
/// <item>Each intermediate report reaches the observer given to <see cref="StartAsync"/>, in order, before the execution
/// completes. The backend does not decide anything from a report: the caller calls <see cref="StopAsync"/> or
/// <see cref="PauseAsync"/>.</item>
/// <item>Every execution completes exactly once with a <see cref="TrialExit"/>; its resources are free again when its
/// <see cref="TrialExecution.Completion"/> has completed.</item>
/// <item><see cref="StopAsync"/> and <see cref="PauseAsync"/> only ask: they return false when the trial is not running
/// here, and the outcome arrives through the execution (<see cref="TrialExitKind.Stopped"/>,
/// <see cref="TrialExitKind.Paused"/>) — or as whatever the trial reached first, if it finished meanwhile.</item>
/// <item>The token passed to <see cref="StartAsync"/> or <see cref="ResumeAsync"/> is the run's: cancelling it stops the
/// trial and completes its execution with <see cref="TrialExitKind.Interrupted"/>.</item>
/// <item>Trials are named by their number in the study; one backend serves one study run.</item>
/// </list>
/// Methods outside <see cref="Capabilities"/> throw <see cref="NotSupportedException"/>.
/// </remarks>
public interface ITrialBackend : IAsyncDisposable
{
    /// <summary>What this backend can do beyond start and stop.</summary>
    TrialBackendCapabilities Capabilities { get; }

    /// <summary>
    /// Waits for a free slot, then starts a trial (after copying <see cref="TrialStartRequest.CheckpointFrom"/>'s
    /// checkpoint into its directory, when set) and returns its execution.
    /// </summary>
    /// <param name="request">Which trial, with which parameters.</param>
    /// <param name="observer">Receives the trial's intermediate reports.</param>
    /// <param name="cancellationToken">The run's token: cancelling it while waiting throws; once started, it interrupts the trial.</param>
    Task<TrialExecution> StartAsync(TrialStartRequest request, ITrialObserver observer, CancellationToken cancellationToken = default);

    /// <summary>Asks a running trial to stop now (a process: SIGTERM to its tree, the kill grace, SIGKILL); false when it is not running here.</summary>
    Task<bool> StopAsync(int trialNumber, CancellationToken cancellationToken = default);

    /// <summary>
    /// Asks a running trial to end cleanly after its checkpoint and free its resources, to be resumed later; false when
    /// it is not running here. Needs <see cref="TrialBackendCapabilities.Pause"/>.
    /// </summary>
    Task<bool> PauseAsync(int trialNumber, CancellationToken cancellationToken = default);

    /// <summary>
    /// Starts a paused trial again, with its parameters, in its trial directory, told the last step it reported before the
    /// pause; waits for a slot like <see cref="StartAsync"/>. Throws <see cref="InvalidOperationException"/> when the
    /// trial is not paused here. Needs <see cref="TrialBackendCapabilities.Resume"/>.
    /// </summary>
    Task<TrialExecution> ResumeAsync(int trialNumber, ITrialObserver observer, CancellationToken cancellationToken = default);

    /// <summary>
    /// Copies trial <paramref name="fromTrialNumber"/>'s checkpoint into trial <paramref name="toTrialNumber"/>'s
    /// directory atomically: a reader sees the target's old checkpoint or the whole new one, never a half-copied one.
    /// The target must not be running. Needs <see cref="TrialBackendCapabilities.Checkpoints"/>.
    /// </summary>
    Task CopyCheckpointAsync(int fromTrialNumber, int toTrialNumber, CancellationToken cancellationToken = default);
}

/// <summary>Hears from a running trial (called on the backend's thread, one call at a time, in order).</summary>
public interface ITrialObserver
{
    /// <summary>
    /// The trial runs, before its first report is read: the moment to record <see cref="TrialExecution.Attributes"/>.
    /// When this throws, the backend stops the trial, frees its resources, and <see cref="ITrialBackend.StartAsync"/> (or
    /// <see cref="ITrialBackend.ResumeAsync"/>) throws the exception.
    /// </summary>
    ValueTask StartedAsync(TrialExecution execution, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>The trial reported <paramref name="metrics"/> at <paramref name="step"/>; the backend waits for the returned task before it reads on.</summary>
    ValueTask ReportedAsync(int trialNumber, long step, IReadOnlyDictionary<string, double> metrics, CancellationToken cancellationToken);
}

/// <summary>An <see cref="ITrialObserver"/> from a delegate.</summary>
/// <param name="onReport">Called for each report.</param>
public sealed class TrialObserver(Func<int, long, IReadOnlyDictionary<string, double>, CancellationToken, ValueTask> onReport) : ITrialObserver
{
    /// <summary>An observer that ignores every report.</summary>
    public static ITrialObserver None { get; } = new TrialObserver((_, _, _, _) => ValueTask.CompletedTask);

    /// <inheritdoc />
    public ValueTask ReportedAsync(int trialNumber, long step, IReadOnlyDictionary<string, double> metrics, CancellationToken cancellationToken) =>
        onReport(trialNumber, step, metrics, cancellationToken);
}
