using Tunesmith.Spaces;

namespace Tunesmith.Samplers;

/// <summary>
/// The parameters that every Complete (and, optionally, Pruned) trial has, with the same distribution: the joint space a
/// model-based sampler can fit. Cached incrementally: each call reads only the trials finished since the last call, so an
/// ask stays cheap as the history grows. Not thread-safe by itself: a sampler guards its instance with a lock.
/// </summary>
public sealed class IntersectionSearchSpace(bool includePruned = false)
{
    private Dictionary<string, Distribution>? _space;
    private readonly HashSet<int> _seen = [];
    private int _scanFrom;

    /// <summary>The intersection over the history's finished trials, in a stable (sorted by name) order.</summary>
    public IReadOnlyDictionary<string, Distribution> Calculate(StudyHistory history)
    {
        var trials = history.Trials;
        // Trials before _scanFrom are all finished and seen; scan from there (running ones are revisited later).
        var firstUnfinished = -1;
        for (var i = _scanFrom; i < trials.Count; i++)
        {
            var t = trials[i];
            var counts = t.State == TrialState.Complete || (includePruned && t.State == TrialState.Pruned);
            if (!t.State.IsFinished() && firstUnfinished < 0) firstUnfinished = i;
            if (!counts || !_seen.Add(t.Number)) continue;
            Narrow(ref _space, t);
        }
        _scanFrom = firstUnfinished < 0 ? trials.Count : firstUnfinished;
        return Sorted(_space);
    }

    /// <summary>The parameters every one of <paramref name="trials"/> has, with the same distribution, sorted by name.</summary>
    public static IReadOnlyDictionary<string, Distribution> Of(IEnumerable<FrozenTrial> trials)
    {
        ArgumentNullException.ThrowIfNull(trials);
        Dictionary<string, Distribution>? space = null;
        foreach (var t in trials) Narrow(ref space, t);
        return Sorted(space);
    }

    // The first trial sets the space; each later one removes what it lacks or has with another distribution.
    private static void Narrow(ref Dictionary<string, Distribution>? space, FrozenTrial t)
    {
        if (space is null)
        {
            space = new Dictionary<string, Distribution>(t.Distributions, StringComparer.Ordinal);
            return;
        }
        foreach (var name in space.Keys.ToList())
            if (!t.Distributions.TryGetValue(name, out var d) || !d.Equals(space[name]))
                space.Remove(name);
    }

    private static Dictionary<string, Distribution> Sorted(Dictionary<string, Distribution>? space) =>
        space is null
            ? new Dictionary<string, Distribution>()
            : space.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
}
