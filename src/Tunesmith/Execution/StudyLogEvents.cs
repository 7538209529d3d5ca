using Microsoft.Extensions.Logging;

namespace Tunesmith.Execution;

/// <summary>The event ids of what a <see cref="Study"/> logs, for filters that treat some events apart.</summary>
public static class StudyLogEvents
{
    /// <summary>A trial of this process failed (a warning with its number and reason).</summary>
    public static readonly EventId TrialFailed = new(1001, nameof(TrialFailed));

    /// <summary>
    /// Another runner's trial was found dead (its runner gone or its heartbeat stale) and failed by this study, and maybe
    /// retried (a warning with its number, worker, reason and retry; <see cref="StudyOptions"/>' recovery callbacks get it too).
    /// </summary>
    public static readonly EventId TrialRecovered = new(1002, nameof(TrialRecovered));

    /// <summary>
    /// An optimize run started no trial because the study's budget (<see cref="OptimizeOptions.Trials"/>) was already
    /// spent (a warning with the study, the trials taken and the budget).
    /// </summary>
    public static readonly EventId BudgetSpent = new(1003, nameof(BudgetSpent));

    /// <summary>An optimize run ended with enqueued (Waiting) trials beyond the study's budget, which no run will start (a warning with their count).</summary>
    public static readonly EventId WaitingBeyondBudget = new(1004, nameof(WaitingBeyondBudget));
}
