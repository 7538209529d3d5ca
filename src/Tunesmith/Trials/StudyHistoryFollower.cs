namespace Tunesmith.Trials;

/// <summary>
/// Follows one <see cref="StudyHistory"/> for an incremental index: each <see cref="Read"/> hands the index only the
/// trials that changed since the last read, from the history's change log. A different history object, one with a hole
/// in its trial numbers (positions must equal numbers) or one whose log no longer reaches back is read whole after a
/// reset. Not thread-safe: the index calls it under its own lock.
/// </summary>
/// <param name="see">Takes one trial, new or changed.</param>
/// <param name="reset">Empties the index before a whole read of the given history.</param>
internal sealed class StudyHistoryFollower(Action<FrozenTrial> see, Action<StudyHistory> reset)
{
    private readonly List<int> _changed = [];
    private StudyHistory? _history;
    private long _mark; // the history's change mark when last read

    /// <summary>Brings the index up to date with <paramref name="history"/>.</summary>
    public void Read(StudyHistory history)
    {
        var trials = history.Trials;
        var dense = trials.Count == 0 || trials[^1].Number == trials.Count - 1;
        _changed.Clear();
        if (ReferenceEquals(history, _history) && dense && history.TryChangedSince(_mark, _changed) is { } mark)
        {
            _mark = mark;
            trials = history.Trials; // at least as new as the log read
            foreach (var number in _changed) if (number < trials.Count) see(trials[number]);
            return;
        }
        reset(history);
        _history = history;
        _mark = history.ChangeMark; // before the read: what changes during it is read again next time
        foreach (var t in history.Trials) see(t);
    }
}
