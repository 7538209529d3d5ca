using Tunesmith.Spaces;

namespace Tunesmith.Samplers.Tpe;

/// <summary>
/// Splits the parameters seen in Complete trials into groups that always appear together: in a conditional space each
/// branch's parameters form a group, and the parameters every trial has form another. Each group can then be modelled
/// jointly over the trials that have it. Incremental like <see cref="IntersectionSearchSpace"/>: each call reads only
/// trials that finished since the last one. Not thread-safe: the sampler guards it with its lock.
/// </summary>
internal sealed class GroupDecomposedSearchSpace
{
    private readonly List<SortedSet<string>> _groups = [];
    private readonly Dictionary<string, Distribution> _distributions = new(StringComparer.Ordinal);
    private readonly HashSet<string> _conflicting = new(StringComparer.Ordinal);
    private readonly HashSet<int> _seen = [];
    private int _scanFrom;

    /// <summary>The groups (names sorted), after reading the trials finished since the last call.</summary>
    public IReadOnlyList<IReadOnlyCollection<string>> Calculate(StudyHistory history)
    {
        var trials = history.Trials;
        var dense = trials.Count == 0 || trials[^1].Number == trials.Count - 1;
        var firstUnfinished = -1;
        for (var i = dense ? Math.Min(_scanFrom, trials.Count) : 0; i < trials.Count; i++)
        {
            var t = trials[i];
            if (!t.State.IsFinished() && firstUnfinished < 0) firstUnfinished = i;
            if (t.State != TrialState.Complete || !_seen.Add(t.Number)) continue;
            Add(t);
        }
        _scanFrom = firstUnfinished < 0 ? trials.Count : firstUnfinished;
        return _groups;
    }

    /// <summary>The distribution of a grouped parameter.</summary>
    public Distribution DistributionOf(string name) => _distributions[name];

    private void Add(FrozenTrial trial)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (name, distribution) in trial.Distributions)
        {
            if (distribution.IsSingle || _conflicting.Contains(name)) continue;
            if (_distributions.TryGetValue(name, out var known) && !known.Equals(distribution))
            {
                // The same name drawn from two distributions cannot be modelled as one column: sample it on its own.
                _conflicting.Add(name);
                foreach (var g in _groups) g.Remove(name);
                _groups.RemoveAll(g => g.Count == 0);
                continue;
            }
            _distributions[name] = distribution;
            names.Add(name);
        }
        var split = new List<SortedSet<string>>(_groups.Count + 1);
        foreach (var group in _groups)
        {
            var inside = new SortedSet<string>(group.Where(names.Contains), StringComparer.Ordinal);
            var outside = new SortedSet<string>(group.Where(n => !names.Contains(n)), StringComparer.Ordinal);
            if (inside.Count > 0) split.Add(inside);
            if (outside.Count > 0) split.Add(outside);
            names.ExceptWith(group);
        }
        if (names.Count > 0) split.Add(names);
        _groups.Clear();
        _groups.AddRange(split);
    }
}
