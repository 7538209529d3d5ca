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

/// <summary>One array of a plan.</summary>
/// <param name="Tasks">Its tasks (at most <c>MaxArraySize</c>).</param>
/// <param name="Throttle">Its <c>%k</c> cap (tasks of it running at once), or null for none.</param>
/// <param name="After">The index (in the plan) of the array it waits for (<c>afterany</c>), or null.</param>
public sealed record SlurmPlannedArray(int Tasks, int? Throttle, int? After);

/// <summary>How a request for N one-trial tasks becomes job arrays.</summary>
/// <param name="Planned">The arrays, in submission order (an array waits only for one before it).</param>
/// <param name="Deferred">Tasks not submitted now because of <c>MaxSubmitJobs</c>; a later <c>tunesmith slurm submit</c> adds them.</param>
public sealed record SlurmArrayPlan(IReadOnlyList<SlurmPlannedArray> Planned, int Deferred)
{
    /// <summary>The size of each array, in submission order.</summary>
    public IReadOnlyList<int> Arrays => Planned.Select(a => a.Tasks).ToList();

    /// <summary>True when some array waits for another (<c>afterany</c>).</summary>
    public bool Chained => Planned.Any(a => a.After is not null);

    /// <summary>
    /// Splits <paramref name="tasks"/> into arrays of at most <c>MaxArraySize</c> tasks, submitting no more than the user's
    /// <c>MaxSubmitJobs</c> leaves room for. With a concurrency cap c, the tasks run in lanes side by side: ⌈c / MaxArraySize⌉
    /// lanes whose <c>%k</c> caps sum to c, each lane a chain of arrays (<c>afterany</c>), so that at most c tasks run at once
    /// and, from the start, min(c, tasks) can.
    /// </summary>
    public static SlurmArrayPlan Make(int tasks, int? concurrency, SlurmLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentOutOfRangeException.ThrowIfNegative(tasks);
        if (limits.MaxArraySize < 1) throw new ArgumentOutOfRangeException(nameof(limits), limits.MaxArraySize, "MaxArraySize must be ≥ 1");
        if (concurrency is < 1) throw new ArgumentOutOfRangeException(nameof(concurrency), concurrency, "concurrency must be ≥ 1");
        var room = limits.MaxSubmitJobs is { } cap ? Math.Max(0, cap - limits.QueuedJobs) : int.MaxValue;
        var now = Math.Min(tasks, room);
        var max = limits.MaxArraySize;
        var planned = new List<SlurmPlannedArray>();
        if (concurrency is not { } c || now <= c)
        {
            // No cap, or no more tasks than the cap: every task may run at once; arrays side by side.
            for (var left = now; left > 0; left -= Math.Min(left, max)) planned.Add(new SlurmPlannedArray(Math.Min(left, max), null, null));
            return new SlurmArrayPlan(planned, tasks - now);
        }
        var lanes = (c + max - 1) / max;
        var caps = Enumerable.Range(0, lanes).Select(i => c / lanes + (i < c % lanes ? 1 : 0)).ToArray();   // each ≤ MaxArraySize
        var shares = caps.Select(k => (int)((long)now * k / c)).ToArray();                                    // each ≥ its cap (now > c)
        for (var i = 0; shares.Sum() < now; i = (i + 1) % lanes) shares[i]++;
        for (var lane = 0; lane < lanes; lane++)
        {
            int? previous = null;
            for (var left = shares[lane]; left > 0; left -= Math.Min(left, max))
            {
                var size = Math.Min(left, max);
                planned.Add(new SlurmPlannedArray(size, caps[lane] < size ? caps[lane] : null, previous));
                previous = planned.Count - 1;
            }
        }
        return new SlurmArrayPlan(planned, tasks - now);
    }
}
