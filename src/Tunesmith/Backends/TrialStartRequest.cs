namespace Tunesmith.Backends;

/// <summary>Which trial a <see cref="ITrialBackend"/> starts, with which parameters.</summary>
public sealed record TrialStartRequest
{
    /// <summary>The study's name (a process sees it as <c>TUNESMITH_STUDY</c>).</summary>
    public required string StudyName { get; init; }

    /// <summary>The trial's storage-wide id.</summary>
    public required long TrialId { get; init; }

    /// <summary>The trial's number in its study: the name the backend's other methods use.</summary>
    public required int TrialNumber { get; init; }

    /// <summary>The trial's parameter values, in order.</summary>
    public required IReadOnlyDictionary<string, object?> Params { get; init; }

    /// <summary>
    /// The trial whose directory this trial runs in; default its own number. A retry runs in its first attempt's
    /// directory to resume from its checkpoints.
    /// </summary>
    public int? DirectoryNumber { get; init; }

    /// <summary>
    /// Copy this trial's checkpoint into the new trial's directory before it starts (PBT's exploit); null: start fresh.
    /// Needs <see cref="TrialBackendCapabilities.Checkpoints"/>.
    /// </summary>
    public int? CheckpointFrom { get; init; }

    /// <summary>
    /// Start the trial as the resumption of one paused after this step — paused by another backend instance or process,
    /// as storage records it (a process sees <c>TUNESMITH_RESUME_STEP</c>), or of one that continues from
    /// <see cref="CheckpointFrom"/>'s checkpoint after a PBT exploit; null: a fresh start. A trial paused by this
    /// backend is resumed with <see cref="ITrialBackend.ResumeAsync"/> instead.
    /// </summary>
    public long? ResumeAfterStep { get; init; }

    /// <summary>
    /// The resources its runner took for the trial before starting it in storage (a lease of the backend's own pool): the
    /// backend uses them instead of waiting for its pool, and leaves giving them back to the runner. Null: the backend
    /// takes the trial's resources itself.
    /// </summary>
    internal Resources.ResourceLease? Held { get; init; }

    /// <summary>The number of the directory the trial runs in.</summary>
    public int EffectiveDirectoryNumber => DirectoryNumber ?? TrialNumber;
}

/// <summary>How a trial's execution ended.</summary>
public enum TrialExitKind
{
    /// <summary>It ended by itself and reported a result (<see cref="TrialExit.Result"/> holds its metrics).</summary>
    Finished,
    /// <summary>It ended by itself without a usable result, could not start, crashed or timed out (<see cref="TrialExit.Reason"/> says which).</summary>
    Failed,
    /// <summary><see cref="ITrialBackend.StopAsync"/> stopped it.</summary>
    Stopped,
    /// <summary><see cref="ITrialBackend.PauseAsync"/> paused it; <see cref="ITrialBackend.ResumeAsync"/> may start it again.</summary>
    Paused,
    /// <summary>The run's token was cancelled while it ran.</summary>
    Interrupted,
}

/// <summary>How one execution of a trial ended.</summary>
/// <param name="Kind">Finished, failed, stopped, paused or interrupted.</param>
/// <param name="Result">The final metrics it reported, when it reported any (also kept for a failed one, for diagnosis).</param>
/// <param name="Reason">Why it failed (one line, then e.g. the tail of stderr), or null.</param>
/// <param name="LastStep">The step of its last intermediate report, or null when it reported none.</param>
/// <param name="ExitCode">A process's exit code, or null for a trial that is not a process or never started.</param>
/// <param name="Duration">How long it ran, on the backend's clock.</param>
/// <param name="ErrorTail">The last lines of its error output (a process's stderr), for a caller that fails it later; null when none.</param>
public sealed record TrialExit(
    TrialExitKind Kind,
    IReadOnlyDictionary<string, double>? Result,
    string? Reason,
    long? LastStep,
    int? ExitCode,
    TimeSpan Duration,
    string? ErrorTail = null);

/// <summary>One execution of a trial on a backend: started, running, and eventually ended.</summary>
public sealed class TrialExecution
{
    /// <summary>Creates the handle of an execution.</summary>
    /// <param name="trialNumber">The trial's number.</param>
    /// <param name="directory">Its trial directory (absolute), or null when the backend keeps none.</param>
    /// <param name="gpus">The GPU ids it holds (empty when none).</param>
    /// <param name="resumedAfterStep">The step it resumed after, when it is a resumed execution.</param>
    /// <param name="completion">Completes once with how it ended, after its resources are free.</param>
    /// <param name="attributes">System attributes the caller should record with the trial (see <see cref="Attributes"/>); default none.</param>
    public TrialExecution(int trialNumber, string? directory, IReadOnlyList<string> gpus, long? resumedAfterStep, Task<TrialExit> completion,
        IReadOnlyDictionary<string, object?>? attributes = null)
    {
        Attributes = attributes ?? new Dictionary<string, object?>();
        ArgumentNullException.ThrowIfNull(gpus);
        ArgumentNullException.ThrowIfNull(completion);
        TrialNumber = trialNumber;
        Directory = directory;
        Gpus = gpus;
        ResumedAfterStep = resumedAfterStep;
        Completion = completion;
    }

    /// <summary>The trial's number.</summary>
    public int TrialNumber { get; }

    /// <summary>Its trial directory (absolute), or null when the backend keeps none.</summary>
    public string? Directory { get; }

    /// <summary>The GPU ids it holds, as CUDA_VISIBLE_DEVICES spells them (empty when none).</summary>
    public IReadOnlyList<string> Gpus { get; }

    /// <summary>The step it resumed after (a resumed execution), else null.</summary>
    public long? ResumedAfterStep { get; }

    /// <summary>
    /// System attributes the caller should record with the trial while it runs — what an operator or a later run needs
    /// to find it: its directory, its GPUs, a process id, a cluster job id.
    /// </summary>
    public IReadOnlyDictionary<string, object?> Attributes { get; }

    /// <summary>Completes once with how the execution ended; the trial's resources are free by then. Never faults for a trial's own failure.</summary>
    public Task<TrialExit> Completion { get; }
}
