using Tunesmith.Backends.Processes;
using Tunesmith.Spaces;

namespace Tunesmith.Execution.Commands;

/// <summary>How a <see cref="CommandObjective"/> runs each trial as an external program.</summary>
public sealed record CommandObjectiveOptions : LocalProgramOptions
{
    /// <summary>The search space drawn for each trial (or set <see cref="Suggest"/>).</summary>
    public SearchSpace? Space { get; init; }

    /// <summary>Draws a trial's configuration by hand instead of from <see cref="Space"/> (e.g. to fix some values).</summary>
    public Func<Trial, Configuration>? Suggest { get; init; }

    /// <summary>
    /// Values that replace the space's draw for every trial (a run's <c>--set name=value</c>): each is coerced onto its
    /// parameter's distribution and recorded as a fixed (derived) value, so samplers do not model it.
    /// </summary>
    public IReadOnlyDictionary<string, object?> FixedParams { get; init; } = new Dictionary<string, object?>();

    /// <summary>Receives trial started/reported/finished events (called synchronously on the trial's thread).</summary>
    public IProgress<CommandTrialEvent>? Progress { get; init; }

    /// <summary>Validates the options; throws naming the property.</summary>
    public override void Validate()
    {
        ArgumentNullException.ThrowIfNull(Command);
        if (Space is null && Suggest is null) throw new ArgumentException("set Space or Suggest: a command trial needs parameters to draw", nameof(Space));
        base.Validate();
    }

    /// <summary>The options of the <see cref="LocalProcessBackend"/> that runs the trials, reading a bare number as <paramref name="metric"/>.</summary>
    internal LocalProcessBackendOptions ToBackendOptions(string? metric, Direction direction = Direction.Minimize) => new()
    {
        Command = Command,
        RootDirectory = RootDirectory,
        WorkingDirectory = WorkingDirectory,
        Environment = Environment,
        TrialTimeout = TrialTimeout,
        KillGrace = KillGrace,
        StopSettle = StopSettle,
        Resources = Resources,
        Metric = metric,
        Direction = direction,
        StdoutMetrics = StdoutMetrics,
        StderrTailLines = StderrTailLines,
        StderrTailChars = StderrTailChars,
        TimeProvider = TimeProvider,
        LoggerFactory = LoggerFactory,
    };
}

/// <summary>Something that happened to a command trial, for live views.</summary>
/// <param name="TrialNumber">The trial's number.</param>
public abstract record CommandTrialEvent(int TrialNumber);

/// <summary>A trial's program started.</summary>
/// <param name="TrialNumber">The trial's number.</param>
/// <param name="Params">Its parameter values.</param>
/// <param name="Directory">Its trial directory.</param>
/// <param name="Gpus">The GPUs assigned (empty when none).</param>
/// <param name="RetryOf">On a retry, the number of the first attempt.</param>
/// <param name="StartedAt">When the program started.</param>
public sealed record CommandTrialStarted(int TrialNumber, IReadOnlyDictionary<string, object?> Params, string Directory,
    IReadOnlyList<string> Gpus, int? RetryOf, DateTimeOffset StartedAt) : CommandTrialEvent(TrialNumber);

/// <summary>A trial printed a <c>tunesmith:report</c> line.</summary>
/// <param name="TrialNumber">The trial's number.</param>
/// <param name="Step">The report's step.</param>
/// <param name="Metrics">Every metric of the report.</param>
public sealed record CommandTrialReported(int TrialNumber, long Step, IReadOnlyDictionary<string, double> Metrics) : CommandTrialEvent(TrialNumber);

/// <summary>A trial finished and was recorded (any state).</summary>
/// <param name="Trial">The trial as stored.</param>
public sealed record CommandTrialFinished(FrozenTrial Trial) : CommandTrialEvent(Trial.Number)
{
    /// <summary>
    /// The study's trials done toward its budget when this one finished, every worker's (<see cref="Study.DoneTrialCount"/>:
    /// as this process last read them, which its finishes do in the same storage call); null when not known.
    /// </summary>
    public int? StudyDone { get; init; }

    /// <summary>The study's best Complete trial when this one finished, every worker's, as far as this process read them; null when none is known.</summary>
    public FrozenTrial? StudyBest { get; init; }
}

/// <summary>
/// Another runner's trial was found dead (its runner's process gone from this machine, or its heartbeat older than the
/// grace period) and failed by this run; <see cref="TrialRecovery.Retry"/> re-runs its params when one was allowed.
/// </summary>
/// <param name="Recovery">The failed trial and its retry.</param>
public sealed record CommandTrialRecovered(TrialRecovery Recovery) : CommandTrialEvent(Recovery.Failed.Number);

/// <summary>Keys of the system attributes a command trial records.</summary>
public static class CommandAttributeKeys
{
    /// <summary>The trial directory (absolute path).</summary>
    public const string TrialDirectory = "trial_dir";
    /// <summary>The GPUs assigned, as CUDA_VISIBLE_DEVICES spelled them.</summary>
    public const string Gpus = "gpus";
    /// <summary>The program's exit code.</summary>
    public const string ExitCode = "exit_code";
    /// <summary>The last <c>tunesmith:report</c> as a JSON object (step and every metric), for live views.</summary>
    public const string LastReport = SystemAttributeKeys.LastReport;
    /// <summary>
    /// The last step a stopped (interrupted) program reported, counting what it reported while it was being stopped, which
    /// is not stored as an intermediate value: the step of the checkpoint it wrote on SIGTERM, for its next attempt.
    /// </summary>
    public const string LastStep = "last_step";
}
