namespace Tunesmith.Simulation;

/// <summary>How a simulated run is set up: workers, the virtual time budget, the seed and the target.</summary>
public sealed record SimulationOptions
{
    /// <summary>Simulated workers, each running one trial at a time. Default 8.</summary>
    public int Workers { get; init; } = 8;

    /// <summary>Virtual time the run may use; an epoch that would end after it is not counted. Default 2 hours.</summary>
    public TimeSpan TimeBudget { get; init; } = TimeSpan.FromHours(2);

    /// <summary>
    /// The value to reach (in the benchmark's direction): the run records the virtual time at which the best value
    /// reported so far, at any epoch of any trial, first reaches it. Null records no time to target.
    /// </summary>
    public double? Target { get; init; }

    /// <summary>When set, the run ends as soon as the target is reached (time-to-target studies need nothing after it). Default false.</summary>
    public bool StopAtTarget { get; init; }

    /// <summary>
    /// When false (the default), a new trial on a tabulated benchmark replays the nearest table row this run has not
    /// started yet, for every strategy alike: a row's curve is identical each time, so replaying it again would hand the
    /// sampler a copy of what it already saw, where a real configuration near an earlier one trains differently. True
    /// restores the plain nearest-row lookup (rows may repeat), as results before this option was added used.
    /// Surrogate benchmarks (continuous configurations) are not affected.
    /// </summary>
    public bool RepeatTabulatedConfigurations { get; init; }

    /// <summary>
    /// When false (the default), a trial on a tabulated benchmark is recorded in the run's history with the parameters
    /// of the table row whose curve it replays — the configuration that was trained — rather than the point the sampler
    /// proposed (the nearest row not started yet is often far from it). Model-based samplers then learn from true
    /// (configuration, value) pairs, as they would on a real problem, where the proposed configuration is the one trained.
    /// A PBT exploit records the row it continues with likewise. True records the proposed point, as results before
    /// this option was added did (for reproducing them). Surrogate benchmarks (continuous configurations) are not affected.
    /// </summary>
    public bool RecordProposedConfigurations { get; init; }

    /// <summary>
    /// When true, once every row of a tabulated benchmark was started in this run no new trial starts: a free worker
    /// only resumes a paused trial (when the scheduler promotes one) or waits, and the run ends when no trial runs (its
    /// <see cref="SimulationRun.ElapsedSeconds"/> is then that instant, under the budget). For a replayed study
    /// (<c>study:NAME</c>), whose table holds only the trials the study ran: a repeat would only replay a curve again.
    /// Default false: the nearest row is replayed again (see <see cref="RepeatTabulatedConfigurations"/>). No effect on
    /// surrogate benchmarks, nor with <see cref="RepeatTabulatedConfigurations"/> (nothing is counted as started then).
    /// </summary>
    public bool EndWhenEveryRowStarted { get; init; }

    /// <summary>Keep the best-so-far trace (one point per improvement). Default true.</summary>
    public bool KeepTrace { get; init; } = true;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming a bad setting.</summary>
    public void Validate()
    {
        if (Workers < 1) throw new ArgumentOutOfRangeException(nameof(Workers), Workers, "workers must be at least 1");
        if (TimeBudget <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(TimeBudget), TimeBudget, "the time budget must be positive");
        if (Target is { } t && !double.IsFinite(t)) throw new ArgumentOutOfRangeException(nameof(Target), t, "the target must be a finite number");
    }
}

/// <summary>One point of a best-so-far trace: from <paramref name="Seconds"/> of virtual time on, the best value seen was <paramref name="Best"/>.</summary>
public readonly record struct TracePoint(double Seconds, double Best);

/// <summary>What one simulated run (one seed) produced.</summary>
/// <param name="Seed">The seed of the sampler (and of the scheduler's random choices).</param>
/// <param name="Best">The best value reported at any epoch of any trial within the budget; NaN when no epoch finished.</param>
/// <param name="TimeToTargetSeconds">Virtual seconds until <see cref="Best"/> first reached the target; null when it never did or no target was set.</param>
/// <param name="TrialsStarted">Trials started.</param>
/// <param name="TrialsStopped">Trials the scheduler stopped (Pruned).</param>
/// <param name="TrialsCompleted">Trials that ran to their last epoch.</param>
/// <param name="TrialsFailed">Trials whose curve diverged (NaN).</param>
/// <param name="EpochsRun">Epochs simulated.</param>
/// <param name="ElapsedSeconds">Virtual seconds the run covered (the budget, or less when it stopped at the target).</param>
/// <param name="Trace">Best-so-far after each improvement, in time order.</param>
public sealed record SimulationRun(
    int Seed,
    double Best,
    double? TimeToTargetSeconds,
    int TrialsStarted,
    int TrialsStopped,
    int TrialsCompleted,
    int TrialsFailed,
    long EpochsRun,
    double ElapsedSeconds,
    IReadOnlyList<TracePoint> Trace)
{
    /// <summary>The best value at virtual time <paramref name="seconds"/> (NaN before the first epoch finished).</summary>
    public double BestAt(double seconds)
    {
        var best = double.NaN;
        foreach (var p in Trace)
        {
            if (p.Seconds > seconds) break;
            best = p.Best;
        }
        return best;
    }
}
