using Tunesmith.Spaces;

namespace Tunesmith.Storage;

/// <summary>A study as stored: its identity and settings.</summary>
/// <param name="Id">Storage-wide unique id.</param>
/// <param name="Name">Unique name.</param>
/// <param name="Direction">Minimize or maximize.</param>
/// <param name="Created">When it was created.</param>
/// <param name="UserAttributes">User attributes.</param>
/// <param name="SystemAttributes">Tunesmith's own attributes (sampler choice, deadline, metric, the study file).</param>
public sealed record StudyRecord(
    long Id,
    string Name,
    Direction Direction,
    DateTimeOffset Created,
    IReadOnlyDictionary<string, object?> UserAttributes,
    IReadOnlyDictionary<string, object?> SystemAttributes);

/// <summary>Counts of a study's trials by state, and its best value.</summary>
public sealed record StudySummary(StudyRecord Study, IReadOnlyDictionary<TrialState, int> Counts, double? BestValue)
{
    /// <summary>Number of trials in a state (0 when none).</summary>
    public int Count(TrialState state) => Counts.TryGetValue(state, out var n) ? n : 0;
}

/// <summary>What to write to a running trial in one transaction. Empty collections write nothing.</summary>
public sealed record TrialUpdate
{
    /// <summary>New sampled parameters (value and distribution).</summary>
    public IReadOnlyList<(string Name, object? Value, Distribution? Distribution)> Params { get; init; } = [];
    /// <summary>
    /// Params to remove from the trial (applied before <see cref="Params"/>): values it was enqueued with that its objective
    /// never suggested, which a finished trial does not hold as params.
    /// </summary>
    public IReadOnlyList<string> RemovedParams { get; init; } = [];
    /// <summary>New intermediate values by step (a step reported again overwrites).</summary>
    public IReadOnlyList<(long Step, double Value)> Intermediate { get; init; } = [];
    /// <summary>New values of other reported metrics, by step and name (a step and name reported again overwrites).</summary>
    public IReadOnlyList<(long Step, string Name, double Value)> IntermediateMetrics { get; init; } = [];
    /// <summary>User attributes to set.</summary>
    public IReadOnlyList<KeyValuePair<string, object?>> UserAttributes { get; init; } = [];
    /// <summary>System attributes to set.</summary>
    public IReadOnlyList<KeyValuePair<string, object?>> SystemAttributes { get; init; } = [];
    /// <summary>Named metrics to set.</summary>
    public IReadOnlyList<KeyValuePair<string, double>> Metrics { get; init; } = [];
    /// <summary>When set, the trial finishes in this state (Complete, Pruned or Failed).</summary>
    public TrialState? FinalState { get; init; }
    /// <summary>The objective value of a Complete trial.</summary>
    public double? Value { get; init; }

    /// <summary>True when nothing would be written.</summary>
    public bool IsEmpty => Params.Count == 0 && RemovedParams.Count == 0 && Intermediate.Count == 0 && IntermediateMetrics.Count == 0 && UserAttributes.Count == 0
        && SystemAttributes.Count == 0 && Metrics.Count == 0 && FinalState is null;
}

/// <summary>The outcome of writing to a trial: refused writes are outcomes, not exceptions, so a worker can log them and carry on.</summary>
public enum TrialWriteOutcome
{
    /// <summary>The write was applied.</summary>
    Applied,
    /// <summary>The trial had already finished (e.g. failed as stale, or told by another worker); nothing was written.</summary>
    AlreadyFinished,
    /// <summary>The trial is owned by another worker; nothing was written.</summary>
    NotOwner,
    /// <summary>No such trial.</summary>
    NotFound,
}

/// <summary>
/// Where studies and trials live. Every implementation passes the storage conformance suite
/// (<c>Tunesmith.Testing.StorageConformanceTests</c>). All methods are safe to call concurrently, from several threads
/// and (for SQLite and PostgreSQL) from several processes and machines.
/// </summary>
/// <remarks>
/// <para><b>Consistency model.</b></para>
/// <list type="bullet">
/// <item><b>Who owns a Running trial.</b> The worker whose <see cref="StartTrialAsync"/> (or <see cref="ResumeTrialAsync"/>)
/// returned it, and no one else: a claim is atomic (a Waiting or Paused trial is handed to exactly one worker; numbers
/// are dense and never reused), and <see cref="UpdateTrialAsync"/> from another worker is refused
/// (<see cref="TrialWriteOutcome.NotOwner"/>), as is any write after the trial's final state
/// (<see cref="TrialWriteOutcome.AlreadyFinished"/>) — refusals are outcomes, and nothing of a refused write is applied.
/// Ownership ends when the owner writes a final state (or a pause), or when <see cref="FailStaleTrialsAsync"/> fails the
/// trial because its last heartbeat (an update counts as one) is older than the caller's cut-off; the owner learns it
/// from its next refused write.</item>
/// <item><b>Read-your-writes.</b> Once a write's task has completed, every later read through any instance on the same
/// store — this process's or another's — sees it: writes are durable and visible when they return (one transaction
/// each; <see cref="TrialUpdate"/> applies all its parts or none).</item>
/// <item><b>Ordering of the incremental read.</b> <see cref="GetTrialsSinceAsync"/> returns the study's trials that
/// changed after the cursor, ordered by number, each as it is at the time of the read (so a trial changed twice since
/// the cursor comes once, in its latest state), with a cursor that never goes back. A poller that passes each returned
/// cursor to its next read misses no change, however writers interleave; a read may also return a trial it already
/// returned unchanged (PostgreSQL, while a transaction older than the last read is still open) — such a repeat carries
/// the same <see cref="FrozenTrial.Version"/> and can be skipped. A trial's version grows with every applied write.</item>
/// </list>
/// </remarks>
public interface IStudyStorage : IAsyncDisposable
{
    /// <summary>Creates a study; throws <see cref="StudyExistsException"/> when the name is taken.</summary>
    Task<StudyRecord> CreateStudyAsync(string name, Direction direction, CancellationToken cancellationToken = default);

    /// <summary>Loads a study by name, or null.</summary>
    Task<StudyRecord?> GetStudyAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Every study with its trial counts and best value.</summary>
    Task<IReadOnlyList<StudySummary>> ListStudiesAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes a study and all its trials; false when there was none.</summary>
    Task<bool> DeleteStudyAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Sets study attributes (system or user).</summary>
    Task SetStudyAttributesAsync(long studyId, bool system, IReadOnlyList<KeyValuePair<string, object?>> attributes, CancellationToken cancellationToken = default);

    /// <summary>Sets a study system attribute only when absent; returns the value now stored (the existing one, or <paramref name="value"/>).</summary>
    Task<object?> SetStudySystemAttributeIfAbsentAsync(long studyId, string key, object? value, CancellationToken cancellationToken = default);

    /// <summary>Adds a Waiting trial with fixed params (the next number); returns it.</summary>
    Task<FrozenTrial> EnqueueTrialAsync(long studyId, IReadOnlyDictionary<string, object?> fixedParams,
        IReadOnlyDictionary<string, object?>? systemAttributes = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Enqueues a batch of Waiting trials once per <paramref name="key"/>: the first caller inserts them all, atomically
    /// with recording the key; later callers (in any process) insert nothing and get false. Grid search stands on it.
    /// </summary>
    Task<bool> EnqueueTrialsOnceAsync(long studyId, string key, IReadOnlyList<IReadOnlyDictionary<string, object?>> fixedParams, CancellationToken cancellationToken = default);

    /// <summary>
    /// Enqueues each of <paramref name="combinations"/>, in order, as a Waiting trial unless a trial of the study already
    /// holds it (<see cref="HeldCombinations"/>; a failed trial holds it only with <paramref name="failedHolds"/>, else the
    /// result names it in <see cref="EnqueueIfNewResult.FailedBefore"/>), as
    /// Optuna's <c>enqueue_trial(skip_if_exists=True)</c> does — but atomically: the check and the inserts are one
    /// transaction, so callers in any number of processes enqueueing the same combinations at the same moment add each
    /// once. A combination repeated in the list is held by its first copy. Returns one result per combination: the new
    /// trial, or the trial that holds it.
    /// </summary>
    /// <remarks>
    /// This default reads the study, then enqueues: it is not atomic across callers. A storage that several callers share
    /// overrides it (the built-in ones do; the conformance suite checks it).
    /// </remarks>
    async Task<IReadOnlyList<EnqueueIfNewResult>> EnqueueTrialsIfNewAsync(long studyId, IReadOnlyList<IReadOnlyDictionary<string, object?>> combinations,
        bool failedHolds = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(combinations);
        var trials = (await GetTrialsSinceAsync(studyId, 0, cancellationToken).ConfigureAwait(false)).Trials;
        return await EnqueueIfNew.RunAsync(trials, combinations, failedHolds,
            async c => await EnqueueTrialAsync(studyId, c, null, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
    }

    /// <summary>
    /// Starts a trial for <paramref name="worker"/>: atomically claims the oldest Waiting trial, or creates a new Running one
    /// with the next number. With <paramref name="maxTrials"/>, returns null instead when the study already has that many
    /// trials that count toward its budget (Running or finished, not counting Failed trials that were retried).
    /// With <paramref name="waitingOnly"/>, only claims a Waiting trial and returns null when there is none.
    /// </summary>
    Task<FrozenTrial?> StartTrialAsync(long studyId, string worker, int? maxTrials = null, bool waitingOnly = false, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes to a Running trial owned by <paramref name="worker"/> in one transaction (params, intermediate values and
    /// metrics, attributes, metrics and, with <see cref="TrialUpdate.FinalState"/>, the final state and value). Also heartbeats it.
    /// </summary>
    Task<TrialWriteOutcome> UpdateTrialAsync(long trialId, string worker, TrialUpdate update, CancellationToken cancellationToken = default);

    /// <summary>
    /// <see cref="StartTrialAsync"/>, and the study's trials changed after <paramref name="cursor"/> as
    /// <see cref="GetTrialsSinceAsync"/> reads them, in one call: what a worker does before each proposal. A storage
    /// across a network does both in one round trip; the changes may be read just before the start, so the started
    /// trial itself need not be among them.
    /// </summary>
    async Task<(FrozenTrial? Started, TrialChanges Changes)> StartTrialAndReadChangesAsync(long studyId, string worker, long cursor,
        int? maxTrials = null, bool waitingOnly = false, CancellationToken cancellationToken = default)
    {
        var started = await StartTrialAsync(studyId, worker, maxTrials, waitingOnly, cancellationToken).ConfigureAwait(false);
        return (started, await GetTrialsSinceAsync(studyId, cursor, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>
    /// <see cref="UpdateTrialAsync"/> on <paramref name="trialId"/> (usually its finish), then the start of
    /// <paramref name="worker"/>'s next trial as <see cref="StartTrialAsync"/> does it, in one call: what a worker does
    /// between two trials. With a <paramref name="cursor"/>, also the study's trials changed after it, as
    /// <see cref="StartTrialAndReadChangesAsync"/> reads them (possibly before the update: the caller knows what it
    /// wrote). The next trial starts whatever the update's outcome. A storage across a network does it all in one round
    /// trip.
    /// </summary>
    async Task<(TrialWriteOutcome Outcome, FrozenTrial? Started, TrialChanges? Changes)> UpdateTrialAndStartNextAsync(long trialId, TrialUpdate update,
        long studyId, string worker, long? cursor, int? maxTrials = null, bool waitingOnly = false, CancellationToken cancellationToken = default)
    {
        var outcome = await UpdateTrialAsync(trialId, worker, update, cancellationToken).ConfigureAwait(false);
        if (cursor is not { } c)
            return (outcome, await StartTrialAsync(studyId, worker, maxTrials, waitingOnly, cancellationToken).ConfigureAwait(false), null);
        var (started, changes) = await StartTrialAndReadChangesAsync(studyId, worker, c, maxTrials, waitingOnly, cancellationToken).ConfigureAwait(false);
        return (outcome, started, changes);
    }

    /// <summary>
    /// Gives a Running trial owned by <paramref name="worker"/> back to the queue, as if it had never been started: it is
    /// Waiting again, with no worker, start time or heartbeat, and no longer counts toward the budget; its number, params
    /// (an enqueued trial's fixed params), attributes and intermediate values (a retry's inherited ones) stay as stored,
    /// and the next start claims it before any newer Waiting trial. For a trial whose objective never ran: one a worker
    /// started together with finishing its previous trial, when the run stopped in between. Refusals are outcomes, as
    /// for <see cref="UpdateTrialAsync"/> (<see cref="TrialWriteOutcome.AlreadyFinished"/> for a trial that is not
    /// Running, <see cref="TrialWriteOutcome.NotOwner"/>, <see cref="TrialWriteOutcome.NotFound"/>).
    /// </summary>
    Task<TrialWriteOutcome> ReleaseTrialAsync(long trialId, string worker, CancellationToken cancellationToken = default);

    /// <summary>
    /// Resumes a <see cref="TrialState.Paused"/> trial for <paramref name="worker"/>: atomically makes it Running again, owned
    /// by the worker, with a fresh heartbeat; returns it, or null when it is not Paused (another worker resumed it first).
    /// A resumed trial does not count toward the budget again.
    /// </summary>
    Task<FrozenTrial?> ResumeTrialAsync(long trialId, string worker, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException($"{GetType().Name} cannot resume paused trials");

    /// <summary>Refreshes the heartbeat of the given Running trials owned by <paramref name="worker"/>.</summary>
    Task HeartbeatAsync(IReadOnlyCollection<long> trialIds, string worker, CancellationToken cancellationToken = default);

    /// <summary>Marks Failed (reason "stale") every Running trial of the study whose heartbeat is older than <paramref name="olderThan"/>; returns them.</summary>
    Task<IReadOnlyList<FrozenTrial>> FailStaleTrialsAsync(long studyId, DateTimeOffset olderThan, CancellationToken cancellationToken = default);

    /// <summary>
    /// Re-enqueues a Failed trial's params as a new Waiting trial (system attributes <c>retry_of</c> and <c>retry_count</c>),
    /// marking the failed one <c>retried_by</c> so it no longer counts toward the budget. The retry inherits the failed
    /// attempt's intermediate values (and intermediate metrics): it continues the same training (a command trial's retry runs in the attempt's
    /// directory and resumes from its checkpoint), so schedulers judge it by the whole curve, and in the attempt's place.
    /// Atomic: returns null when the trial is not Failed or was already retried.
    /// </summary>
    Task<FrozenTrial?> RetryTrialAsync(long failedTrialId, CancellationToken cancellationToken = default);

    /// <summary>One trial, or null.</summary>
    Task<FrozenTrial?> GetTrialAsync(long trialId, CancellationToken cancellationToken = default);

    /// <summary>
    /// The study's trials that changed after <paramref name="cursor"/> (0: all), ordered by number, with the cursor to pass next
    /// time. A poller (a worker's history cache, a dashboard) reads only what changed.
    /// </summary>
    Task<TrialChanges> GetTrialsSinceAsync(long studyId, long cursor, CancellationToken cancellationToken = default);

    /// <summary>
    /// The study's trials with at least their own columns — number, state, value, worker, created, started, finished,
    /// heartbeat — ordered by number; a storage may leave out their parameters, attributes, intermediate values and
    /// metrics. What a first look at a large study needs (the dashboard's optimization history of 100,000 trials), at a
    /// fraction of the cost of reading everything with <see cref="GetTrialsSinceAsync"/> from 0, which this default does.
    /// </summary>
    async Task<IReadOnlyList<FrozenTrial>> GetTrialOutlinesAsync(long studyId, CancellationToken cancellationToken = default) =>
        (await GetTrialsSinceAsync(studyId, 0, cancellationToken).ConfigureAwait(false)).Trials;

    /// <summary>How many of the study's trials are in each state.</summary>
    Task<IReadOnlyDictionary<TrialState, int>> CountTrialsAsync(long studyId, CancellationToken cancellationToken = default);
}

/// <summary>What <see cref="IStudyStorage.EnqueueTrialsIfNewAsync"/> did with one combination.</summary>
/// <param name="Trial">
/// The new Waiting trial when <paramref name="Enqueued"/>, else the trial that holds the combination: its number, state,
/// params and system attributes at least (a storage may leave out its intermediate values, metrics and user attributes).
/// </param>
/// <param name="Enqueued">True when the combination was enqueued as <paramref name="Trial"/>.</param>
/// <param name="FailedBefore">
/// When the combination was enqueued although a failed trial held it (the caller did not let failed trials hold): that
/// trial (its last failed attempt), so the caller can say the combination is tried again.
/// </param>
public sealed record EnqueueIfNewResult(FrozenTrial Trial, bool Enqueued, FrozenTrial? FailedBefore = null);

/// <summary>A study with that name already exists.</summary>
public sealed class StudyExistsException : Exception
{
    /// <summary>Creates the error for study <paramref name="name"/> ("study 'NAME' already exists").</summary>
    public StudyExistsException(string name) : this(name, $"study '{name}' already exists") { }

    /// <summary>Creates the error with a message that also says where and what to do instead.</summary>
    public StudyExistsException(string name, string message) : base(message) => StudyName = name;

    /// <summary>The study name.</summary>
    public string StudyName { get; }
}

/// <summary>No study with that name exists.</summary>
public sealed class StudyNotFoundException : Exception
{
    /// <summary>Creates the error for study <paramref name="name"/> ("study 'NAME' does not exist").</summary>
    public StudyNotFoundException(string name) : this(name, $"study '{name}' does not exist") { }

    /// <summary>Creates the error with a message that also says where and what to do instead.</summary>
    public StudyNotFoundException(string name, string message) : base(message) => StudyName = name;

    /// <summary>The study name.</summary>
    public string StudyName { get; }
}
