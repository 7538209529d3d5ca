using Microsoft.Extensions.Logging;
using Tunesmith.Backends.Resources;
using Tunesmith.Spaces;

namespace Tunesmith.Backends.Processes;

/// <summary>
/// Renders a trial's command line as an argv array (never a shell string): from the trial's configuration, its number and
/// its directory. A study file's template (<c>python3 train.py --lr {lr}</c>) is one such renderer.
/// </summary>
/// <param name="configuration">The trial's parameter values.</param>
/// <param name="trialNumber">The trial's number.</param>
/// <param name="trialDirectory">The trial's directory (absolute).</param>
public delegate IReadOnlyList<string> CommandRenderer(Configuration configuration, int trialNumber, string trialDirectory);

/// <summary>
/// How a trial's program is run on this machine: what <see cref="LocalProcessBackendOptions"/> and the command objective's
/// options share.
/// </summary>
public abstract record LocalProgramOptions
{
    /// <summary>Renders the argv of a trial; element 0 is the program (a path, or a name looked up on PATH).</summary>
    public required CommandRenderer Command { get; init; }

    /// <summary>
    /// The study's run directory: trial n runs in <c>RootDirectory/trials/n/</c> (a retry in its first attempt's
    /// directory). Use one per study: two studies with one root would share trial directories.
    /// </summary>
    public required string RootDirectory { get; init; }

    /// <summary>The programs' working directory (a study file's <c>workdir</c>); default the current directory.</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>Extra environment variables for every trial (a study file's <c>env</c>); Tunesmith's own variables win over them.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>A trial running longer than this is stopped (its whole process tree) and ends Failed; default none.</summary>
    public TimeSpan? TrialTimeout { get; init; }

    /// <summary>Between SIGTERM and SIGKILL when a trial is stopped, paused, timed out or interrupted; default 10 s.</summary>
    public TimeSpan KillGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long the outcome of a program that looks stopped from outside — killed by a SIGTERM, SIGINT or SIGHUP that
    /// Tunesmith did not send, or exited 0 without a result — waits for the run's token to be cancelled before it ends
    /// Failed (default 1 s; zero: no wait). A cluster's <c>scancel</c> signals every process of the job at once, and the
    /// trial must then end Interrupted rather than Failed by a race with the runner's own signal.
    /// </summary>
    public TimeSpan StopSettle { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The local GPU/CPU pool trials take their slots from; null: no accounting.</summary>
    public ResourcePool? Resources { get; init; }

    /// <summary>
    /// Reads metrics from the program's ordinary stdout lines too (<c>accuracy=0.81</c>, a study file's <c>metrics:</c>), as
    /// reports and, when it prints no <c>tunesmith:result</c> and writes no result.json, as its result; null: only the
    /// protocol lines.
    /// </summary>
    public StdoutMetrics? StdoutMetrics { get; init; }


    /// <summary>How many of stderr's last lines a failure reason keeps (default 20).</summary>
    public int StderrTailLines { get; init; } = 20;

    /// <summary>At most this many characters of stderr's tail in a failure reason (default 4096).</summary>
    public int StderrTailChars { get; init; } = 4096;

    /// <summary>Clock for the trial timeout, the kill grace and durations.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Logging; default none.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>Validates the options; throws naming the property.</summary>
    public virtual void Validate()
    {
        ArgumentNullException.ThrowIfNull(Command);
        if (string.IsNullOrWhiteSpace(RootDirectory)) throw new ArgumentException("the root directory must not be empty", nameof(RootDirectory));
        if (TrialTimeout is { } t && t <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(TrialTimeout), t, "trial_timeout must be > 0");
        // A .NET timer waits at most 2^32 - 2 ms (49.7 days); a longer timeout would fail every trial when it starts.
        if (TrialTimeout is { } longest && longest > TimeSpan.FromDays(49)) throw new ArgumentOutOfRangeException(nameof(TrialTimeout), longest, "trial_timeout must be at most 49 days");
        if (KillGrace < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(KillGrace), KillGrace, "the kill grace must be ≥ 0");
        if (StopSettle < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(StopSettle), StopSettle, "must be ≥ 0");
        if (StderrTailLines < 0) throw new ArgumentOutOfRangeException(nameof(StderrTailLines), StderrTailLines, "must be ≥ 0");
        if (StderrTailChars < 0) throw new ArgumentOutOfRangeException(nameof(StderrTailChars), StderrTailChars, "must be ≥ 0");
        ArgumentNullException.ThrowIfNull(TimeProvider);
    }
}

/// <summary>How a <see cref="LocalProcessBackend"/> runs each trial as a program on this machine.</summary>
public sealed record LocalProcessBackendOptions : LocalProgramOptions
{
    /// <summary>
    /// The objective's name among a result's metrics: a result without it, or with a non-finite value, ends the trial
    /// Failed, and a bare number on the program's last stdout line is read as it (the last-resort result). Null: any
    /// result finishes the trial, and a bare number is no result.
    /// </summary>
    public string? Metric { get; init; }

    /// <summary>The study's direction: which <see cref="Metric"/> value is best for <see cref="StdoutMetricsResult.Best"/>.</summary>
    public Trials.Direction Direction { get; init; } = Trials.Direction.Minimize;
}
