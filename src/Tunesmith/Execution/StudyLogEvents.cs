using Microsoft.Extensions.Logging;

namespace Tunesmith.Execution;

/// <summary>The event ids of what a <see cref="Study"/> logs, for filters that treat some events apart.</summary>
public static class StudyLogEvents
{
    /// <summary>A trial of this process failed (a warning with its number and reason).</summary>
    public static readonly EventId TrialFailed = new(1001, nameof(TrialFailed));
}
