using Tunesmith.Spaces;

namespace Tunesmith.Trials;

/// <summary>Whether the objective is minimized or maximized.</summary>
public enum Direction
{
    /// <summary>Lower is better.</summary>
    Minimize,
    /// <summary>Higher is better.</summary>
    Maximize,
}

/// <summary>The life cycle of a trial.</summary>
public enum TrialState
{
    /// <summary>Enqueued with fixed params, not started.</summary>
    Waiting,
    /// <summary>Claimed by a worker and running.</summary>
    Running,
    /// <summary>Finished with a value.</summary>
    Complete,
    /// <summary>Stopped early by the scheduler.</summary>
    Pruned,
    /// <summary>Raised, crashed, timed out, returned NaN, or went stale.</summary>
    Failed,
    /// <summary>
    /// Paused by the scheduler (promotion-based ASHA, Hyperband): its program checkpointed and ended, and it waits to be
    /// resumed from that step (system attribute <c>paused_step</c>). Not finished; it counts toward the trial budget.
    /// </summary>
    Paused,
}

/// <summary>Helpers on <see cref="TrialState"/> and <see cref="Direction"/>.</summary>
public static class TrialStateExtensions
{
    /// <summary>True for Complete, Pruned and Failed.</summary>
    public static bool IsFinished(this TrialState state) => state is TrialState.Complete or TrialState.Pruned or TrialState.Failed;

    /// <summary>True when <paramref name="a"/> is strictly better than <paramref name="b"/> in this direction.</summary>
    public static bool IsBetter(this Direction direction, double a, double b) =>
        direction == Direction.Minimize ? a < b : a > b;
}

/// <summary>
/// An immutable snapshot of one trial as stored. <see cref="Params"/> holds every value the objective saw —
/// sampled, enqueued, fixed and derived; <see cref="Distributions"/> holds the distributions of the sampled ones
/// (a name in Params without a distribution is a derived or fixed value that samplers ignore).
/// </summary>
public sealed record FrozenTrial
{
    /// <summary>Storage-wide unique id.</summary>
    public required long Id { get; init; }
    /// <summary>Number within the study: dense, 0..N−1.</summary>
    public required int Number { get; init; }
    /// <summary>Current state.</summary>
    public required TrialState State { get; init; }
    /// <summary>The objective value of a Complete trial.</summary>
    public double? Value { get; init; }
    /// <summary>Every named metric of the final result (the objective among them under the study's metric name).</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = Empty.Metrics;
    /// <summary>Parameter values by name, in the order drawn.</summary>
    public IReadOnlyDictionary<string, object?> Params { get; init; } = Empty.Params;
    /// <summary>Distributions of the sampled parameters.</summary>
    public IReadOnlyDictionary<string, Distribution> Distributions { get; init; } = Empty.Distributions;
    /// <summary>Intermediate objective values by step (<c>Report(step, value)</c>).</summary>
    public IReadOnlyDictionary<long, double> Intermediate { get; init; } = Empty.Intermediate;
    /// <summary>
    /// The other metrics the trial reported, by name, each by step (<c>Report(step, value, metrics)</c>; every other
    /// finite metric of a command trial's <c>tunesmith:report</c> line): the training loss beside the validation score.
    /// The study metric's own series is <see cref="Intermediate"/>, the one schedulers read.
    /// </summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<long, double>> IntermediateMetrics { get; init; } = Empty.IntermediateMetrics;
    /// <summary>User attributes (string, number, boolean or null values).</summary>
    public IReadOnlyDictionary<string, object?> UserAttributes { get; init; } = Empty.Params;
    /// <summary>Tunesmith's own attributes (failure reason, retry links, worker bookkeeping).</summary>
    public IReadOnlyDictionary<string, object?> SystemAttributes { get; init; } = Empty.Params;
    /// <summary>When the trial was created (enqueued or started).</summary>
    public DateTimeOffset? Created { get; init; }
    /// <summary>When the trial started running.</summary>
    public DateTimeOffset? Started { get; init; }
    /// <summary>When the trial finished.</summary>
    public DateTimeOffset? Finished { get; init; }
    /// <summary>Last heartbeat of a running trial.</summary>
    public DateTimeOffset? Heartbeat { get; init; }
    /// <summary>The worker that owns (or owned) the trial.</summary>
    public string? Worker { get; init; }
    /// <summary>Storage change sequence: grows whenever the trial changes (used by incremental reads and sampler caches).</summary>
    public long Version { get; init; }

    /// <summary>Wall time from start to finish (or to now for a running trial is not given: null).</summary>
    public TimeSpan? Duration => Started is { } s && Finished is { } f ? f - s : null;

    /// <summary>The failure reason stored on a Failed trial.</summary>
    public string? FailReason => SystemAttributes.TryGetValue(SystemAttributeKeys.FailReason, out var r) ? r as string : null;

    /// <summary>The last reported intermediate value, if any.</summary>
    public (long Step, double Value)? LastIntermediate =>
        Intermediate.Count == 0 ? null : Intermediate.MaxBy(kv => kv.Key) is var kv ? (kv.Key, kv.Value) : null;

    /// <inheritdoc />
    public override string ToString() =>
        $"Trial {Number} [{State}] value={(Value is { } v ? NumberText.Double(v) : "-")} params={{{string.Join(", ", Params.Select(p => $"{p.Key}={ParamValues.Format(p.Value)}"))}}}";

    private static class Empty
    {
        public static readonly IReadOnlyDictionary<string, double> Metrics = new Dictionary<string, double>();
        public static readonly IReadOnlyDictionary<string, object?> Params = new Dictionary<string, object?>();
        public static readonly IReadOnlyDictionary<string, Distribution> Distributions = new Dictionary<string, Distribution>();
        public static readonly IReadOnlyDictionary<long, double> Intermediate = new Dictionary<long, double>();
        public static readonly IReadOnlyDictionary<string, IReadOnlyDictionary<long, double>> IntermediateMetrics =
            new Dictionary<string, IReadOnlyDictionary<long, double>>();
    }
}

/// <summary>Well-known keys of <see cref="FrozenTrial.SystemAttributes"/> and study system attributes.</summary>
public static class SystemAttributeKeys
{
    /// <summary>Why a trial failed (exception message, exit code, "stale", "interrupted").</summary>
    public const string FailReason = "fail_reason";
    /// <summary>On a retry: the number of the trial it retries.</summary>
    public const string RetryOf = "retry_of";
    /// <summary>On a trial: how many times its params have been retried so far.</summary>
    public const string RetryCount = "retry_count";
    /// <summary>On a Failed trial that has been re-enqueued: the retry's number. Such a trial does not count toward the budget.</summary>
    public const string RetriedBy = "retried_by";
    /// <summary>
    /// On a retry that inherited the failed attempt's reports: the attempt's last reported step. The decision on that
    /// report may never have been carried out (its runner died in between), so schedulers judge it again at the retry's
    /// first report after it.
    /// </summary>
    public const string InheritedStep = "inherited_step";
    /// <summary>
    /// The system attributes a retry takes over from the failed attempt with its reports: the attempt's latest in-process
    /// checkpoint, from which the retry continues.
    /// </summary>
    internal static readonly string[] CarriedByRetry = [Checkpoint, CheckpointStep];
    /// <summary>
    /// On a Complete or Pruned trial: the values it was enqueued with (a JSON object), recorded when its objective never
    /// suggested some of them; those are not among its params, as in Optuna, where enqueued values live in
    /// <c>fixed_params</c>.
    /// </summary>
    public const string FixedParams = "fixed_params";
    /// <summary>On a study: the sampler it was created or last run with.</summary>
    public const string Sampler = "sampler";
    /// <summary>On a study: the UTC deadline of a study-wide time budget (ISO 8601).</summary>
    public const string Deadline = "deadline";
    /// <summary>On a study: the objective metric's name.</summary>
    public const string Metric = "metric";
    /// <summary>On a study: the scheduler it was created or last run with.</summary>
    public const string Scheduler = "scheduler";
    /// <summary>On a Paused trial (and kept after it resumes): the last step it reported before it paused.</summary>
    public const string PausedStep = "paused_step";
    /// <summary>On a trial that continued from a checkpoint (a resume, a PBT exploit): the step it continued after.</summary>
    public const string ResumeStep = "resume_step";
    /// <summary>On a trial that exploited another (PBT): JSON <c>{"trial": n, "step": s}</c>, the source trial and its checkpoint's step.</summary>
    public const string RestoredFrom = "restored_from";
    /// <summary>On a trial: the last step at which its program said it saved a checkpoint (PBT copies only checkpointed trials).</summary>
    public const string CheckpointStep = "checkpoint_step";
    /// <summary>
    /// On an in-process trial that saved a checkpoint (or received one by a PBT exploit): JSON <c>{"dir": d, "step": s,
    /// "trial": n}</c>, its latest checkpoint's directory relative to the run directory, its step and the trial that wrote it.
    /// </summary>
    public const string Checkpoint = "checkpoint";
    /// <summary>
    /// On a trial run as a program: its last <c>tunesmith:report</c> as a JSON object, <c>step</c> and every metric it
    /// reported (the study metric is also its intermediate value at that step, the others are in <see cref="FrozenTrial.IntermediateMetrics"/>).
    /// </summary>
    public const string LastReport = "last_report";
    /// <summary>On a trial run as a program: the pid of the program, the leader of the trial's own process session.</summary>
    public const string ProcessId = "process_pid";
    /// <summary>On a trial run as a program: the program's start time (clock ticks since boot), so a recycled pid is never taken for it.</summary>
    public const string ProcessStart = "process_start";
}
