namespace Tunesmith.Schedulers;

/// <summary>What a scheduler tells a running trial after it reports an intermediate value.</summary>
public abstract record SchedulerDecision
{
    private protected SchedulerDecision() { }

    /// <summary>Keep going.</summary>
    public static SchedulerDecision Continue { get; } = new ContinueDecision();

    /// <summary>Stop now: the trial is recorded as Pruned with its last reported value.</summary>
    public static SchedulerDecision Stop { get; } = new StopDecision();

    /// <summary>Pause now: the trial checkpoints and ends, is recorded Paused, and may be resumed later (promotion-based ASHA).</summary>
    public static SchedulerDecision Pause { get; } = new PauseDecision();

    /// <summary>Continue the trial.</summary>
    public sealed record ContinueDecision : SchedulerDecision;

    /// <summary>Stop (prune) the trial.</summary>
    public sealed record StopDecision : SchedulerDecision;

    /// <summary>
    /// Pause the trial at the step it just reported: its program saves a checkpoint and exits, its resources are freed, and
    /// it stays <see cref="TrialState.Paused"/> until <see cref="IScheduler.SuggestStart"/> resumes it.
    /// </summary>
    public sealed record PauseDecision : SchedulerDecision;

    /// <summary>
    /// (PBT) Replace this trial's checkpoint with <paramref name="FromTrialNumber"/>'s checkpoint of step
    /// <paramref name="FromStep"/> and continue from there with <paramref name="NewParams"/> (the source's params, perturbed
    /// or resampled). A backend that cannot copy checkpoints must fail the trial, never ignore the decision.
    /// </summary>
    /// <param name="FromTrialNumber">The source trial.</param>
    /// <param name="FromStep">The step of the source's checkpoint that is copied (the trial continues after it).</param>
    /// <param name="NewParams">Every parameter the trial continues with.</param>
    public sealed record ExploitDecision(int FromTrialNumber, long FromStep, IReadOnlyDictionary<string, object?> NewParams) : SchedulerDecision
    {
        /// <summary>
        /// The source's params that <see cref="NewParams"/> were derived from, as the scheduler read them (null when the
        /// scheduler does not say): a worker checks the copied checkpoint was trained with exactly these.
        /// </summary>
        public IReadOnlyDictionary<string, object?>? SourceParams { get; init; }

        /// <summary>Equal when the source, the step and every parameter value are.</summary>
        public bool Equals(ExploitDecision? other) =>
            other is not null && FromTrialNumber == other.FromTrialNumber && FromStep == other.FromStep && NewParams.Count == other.NewParams.Count
            && NewParams.All(kv => other.NewParams.TryGetValue(kv.Key, out var v) && Spaces.ParamValues.AreEqual(kv.Value, v));

        /// <inheritdoc />
        public override int GetHashCode() => HashCode.Combine(FromTrialNumber, FromStep, NewParams.Count);

        /// <inheritdoc />
        public override string ToString() => $"Exploit {{ from trial {FromTrialNumber} at step {FromStep}, params {Spaces.ParamValues.ToJson(NewParams)} }}";
    }
}

/// <summary>What a worker does when it has room for a trial: start a new one, or resume a paused one.</summary>
public abstract record StartSuggestion
{
    private protected StartSuggestion() { }

    /// <summary>Start a new trial (sampled as usual).</summary>
    public static StartSuggestion New { get; } = new StartNew();

    /// <summary>Start a new trial.</summary>
    public sealed record StartNew : StartSuggestion;

    /// <summary>Resume the paused trial <paramref name="TrialNumber"/>, which continues after step <paramref name="FromStep"/>.</summary>
    public sealed record Resume(int TrialNumber, long FromStep) : StartSuggestion;
}

/// <summary>
/// Decides from intermediate values whether a running trial continues, stops, pauses or (PBT) exploits another trial, and
/// (promotion-based schedulers) whether a worker resumes a paused trial before it starts a new one.
/// </summary>
/// <remarks>
/// A scheduler is a pure function of the study's stored history, the report and its seed: it does no I/O and keeps no
/// state between calls that matters for its decisions, so several workers (threads, processes, machines) sharing one
/// study decide as one scheduler would, and the simulator drives it unchanged. Every implementation passes the scheduler
/// conformance suite (<c>Tunesmith.Testing</c>).
/// </remarks>
public interface IScheduler
{
    /// <summary>A short name for reports and the study record (e.g. "asha", "pbt").</summary>
    string Name { get; }

    /// <summary>
    /// Decides what <paramref name="trial"/> does after reporting <paramref name="value"/> at <paramref name="step"/>.
    /// <paramref name="history"/> is the study as stored (it includes this report); <paramref name="trial"/> is this trial
    /// as its worker knows it, with the report among its intermediate values.
    /// </summary>
    SchedulerDecision Decide(StudyHistory history, FrozenTrial trial, long step, double value);

    /// <summary>
    /// Before a worker starts a trial: resume one of the study's <see cref="TrialState.Paused"/> trials, or start a new one
    /// (the default). Two workers may pick the same paused trial; storage lets one of them resume it, and the other asks again.
    /// </summary>
    StartSuggestion SuggestStart(StudyHistory history) => StartSuggestion.New;

    /// <summary>
    /// When no new trial may start (the trial budget is spent, or a finite sampler has nothing left) and none of the
    /// study's trials is running: a <see cref="TrialState.Paused"/> trial to resume so that the study ends with trained
    /// trials rather than paused ones, or <see cref="StartSuggestion.New"/> for none (the run ends). Called again after each
    /// resumed trial ends, until it suggests none.
    /// </summary>
    StartSuggestion SuggestFinish(StudyHistory history) => StartSuggestion.New;
}
