
namespace Tunesmith.Schedulers;

/// <summary>What a scheduler tells a running trial after it reports an intermediate value.</summary>
public abstract record SchedulerDecision
{
    private protected SchedulerDecision() { }

    /// <summary>Keep going.</summary>
    public static SchedulerDecision Continue { get; } = new ContinueDecision();

    /// <summary>Stop now: the trial is recorded as Pruned.</summary>
    public static SchedulerDecision Stop { get; } = new StopDecision();

    /// <summary>Continue the trial.</summary>
    public sealed record ContinueDecision : SchedulerDecision;

    /// <summary>Stop (prune) the trial.</summary>
    public sealed record StopDecision : SchedulerDecision;

    /// <summary>(PBT) Load <paramref name="FromTrialNumber"/>'s checkpoint and continue with <paramref name="NewParams"/>.</summary>
    public sealed record ExploitDecision(int FromTrialNumber, IReadOnlyDictionary<string, object?> NewParams) : SchedulerDecision;
}

/// <summary>
/// Decides from intermediate values whether a running trial continues, stops or (PBT) exploits another trial.
/// Schedulers are pure functions of the study's history and the report; the study calls one on every
/// <c>Trial.Report(step, value)</c>.
/// </summary>
public interface IScheduler
{
    /// <summary>Decides what <paramref name="trial"/> does after reporting <paramref name="value"/> at <paramref name="step"/>.</summary>
    SchedulerDecision Decide(StudyHistory history, FrozenTrial trial, long step, double value);
}
