namespace Tunesmith.Backends.Slurm;

/// <summary>The cluster limits that shape a submission.</summary>
/// <param name="MaxArraySize">Slurm's <c>MaxArraySize</c>: array indices must be below it (so at most this many tasks per array).</param>
/// <param name="MaxSubmitJobs">The user's <c>MaxSubmitJobs</c> from the accounting database (array tasks count one each), or null when unknown or unlimited.</param>
/// <param name="QueuedJobs">The user's jobs already pending or running (they count against <paramref name="MaxSubmitJobs"/>).</param>
public sealed record SlurmLimits(int MaxArraySize, int? MaxSubmitJobs = null, int QueuedJobs = 0)
{
    /// <summary>Slurm's defaults: <c>MaxArraySize=1001</c>, no per-user cap.</summary>
    public static SlurmLimits Default { get; } = new(1001);
}

/// <summary>How a request for N one-trial tasks becomes job arrays.</summary>
/// <param name="Arrays">The size of each array, in submission order (each within <c>MaxArraySize</c>).</param>
/// <param name="Chained">True when each array waits for the one before it (<c>afterany</c>), so that the concurrency cap holds over all of them.</param>
/// <param name="Deferred">Tasks not submitted now because of <c>MaxSubmitJobs</c>; a later <c>tunesmith slurm submit</c> adds them.</param>
public sealed record SlurmArrayPlan(IReadOnlyList<int> Arrays, bool Chained, int Deferred)
{
    /// <summary>
    /// Splits <paramref name="tasks"/> into arrays of at most <c>MaxArraySize</c> tasks, submitting no more than the user's
    /// <c>MaxSubmitJobs</c> leaves room for. With a concurrency cap, the arrays are chained so that at most
    /// <paramref name="concurrency"/> tasks run at once over the whole submission.
    /// </summary>
    public static SlurmArrayPlan Make(int tasks, int? concurrency, SlurmLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentOutOfRangeException.ThrowIfNegative(tasks);
        if (limits.MaxArraySize < 1) throw new ArgumentOutOfRangeException(nameof(limits), limits.MaxArraySize, "MaxArraySize must be ≥ 1");
        var room = limits.MaxSubmitJobs is { } cap ? Math.Max(0, cap - limits.QueuedJobs) : int.MaxValue;
        var now = Math.Min(tasks, room);
        var arrays = new List<int>();
        for (var left = now; left > 0; left -= Math.Min(left, limits.MaxArraySize)) arrays.Add(Math.Min(left, limits.MaxArraySize));
        return new SlurmArrayPlan(arrays, concurrency is not null && arrays.Count > 1, tasks - now);
    }
}
