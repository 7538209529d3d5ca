using Tunesmith.Schedulers.Asha;

namespace Tunesmith.Schedulers.MedianStopping;

/// <summary>
/// The values the study's Complete trials reported, per step, kept sorted and up to date from the history's change log,
/// so that a median-stopping decision costs O(√n) instead of a pass over every trial. A cache, not state: every answer
/// equals a pass over the same history (the test keeps that pass as its oracle). A different history object, or one
/// with a hole in its trial numbers, is read whole.
/// </summary>
internal sealed class CompletedValuesIndex
{
    private readonly object _gate = new();
    private readonly Dictionary<long, SortedValues> _byStep = [];
    private readonly List<Entry?> _trials = [];
    private readonly StudyHistoryFollower _follower;
    private int _completed;

    public CompletedValuesIndex() => _follower = new StudyHistoryFollower(See, Reset);

    private sealed class Entry
    {
        public long Version;
        public List<(long Step, double Value)>? Added; // what it put in, while it is Complete
    }

    /// <summary>
    /// How many Complete trials there are besides <paramref name="except"/>, and the <paramref name="percentile"/>-th
    /// percentile (linear interpolation, as numpy's default) of their values at <paramref name="step"/>; null when none
    /// of them reported that step.
    /// </summary>
    public (int Completed, double? Bar) Query(StudyHistory history, int except, long step, double percentile)
    {
        lock (_gate)
        {
            Update(history);
            var completed = _completed;
            double? own = null;
            if (except >= 0 && except < _trials.Count && _trials[except] is { Added: { } added })
            {
                completed--;
                foreach (var (s, v) in added) if (s == step) own = v;
            }
            if (!_byStep.TryGetValue(step, out var values)) return (completed, null);
            var count = values.Count - (own is null ? 0 : 1);
            if (count == 0) return (completed, null);
            // The k-th smallest without one copy of the excepted trial's own value.
            var below = own is { } o ? values.CountLess(o) : int.MaxValue;
            double At(int k) => values.ElementAt(k < below ? k : k + 1);
            var rank = percentile / 100 * (count - 1);
            var lo = (int)Math.Floor(rank);
            var hi = Math.Min(lo + 1, count - 1);
            var low = At(lo);
            return (completed, low + (At(hi) - low) * (rank - lo));
        }
    }

    private void Update(StudyHistory history) => _follower.Read(history);

    private void Reset(StudyHistory _)
    {
        _byStep.Clear();
        _trials.Clear();
        _completed = 0;
    }

    private void See(FrozenTrial t)
    {
        while (_trials.Count <= t.Number) _trials.Add(null);
        var entry = _trials[t.Number] ??= new Entry { Version = -1 };
        if (entry.Version == t.Version && t.Version != 0) return;
        entry.Version = t.Version;
        if (entry.Added is { } old)
        {
            foreach (var (s, v) in old) _byStep[s].Remove(v);
            entry.Added = null;
            _completed--;
        }
        if (t.State != TrialState.Complete) return;
        var added = new List<(long, double)>(t.Intermediate.Count);
        foreach (var (s, v) in t.Intermediate)
        {
            if (double.IsNaN(v)) continue;
            if (!_byStep.TryGetValue(s, out var values)) _byStep[s] = values = new SortedValues();
            values.Add(v);
            added.Add((s, v));
        }
        entry.Added = added;
        _completed++;
    }
}
