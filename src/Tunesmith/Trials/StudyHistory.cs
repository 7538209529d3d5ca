namespace Tunesmith.Trials;

/// <summary>
/// A study's trials as this process last read them, kept up to date by incremental reads (only what changed since
/// the last read), so that an ask in a study of 100,000 trials does not re-read them all. Safe for concurrent readers:
/// <see cref="Trials"/> is a snapshot whose length is fixed when taken; entries are immutable records.
/// </summary>
public sealed class StudyHistory
{
    private readonly object _gate = new();
    private FrozenTrial[] _byNumber = new FrozenTrial[64]; // null entries are holes
    private int _count;
    private int _holes;
    private long _cursor;
    private int _done;
    // The numbers of the trials applied, in order, for incremental readers (schedulers' indexes); _logStart is the
    // position of _log[0] since the history was created. Trimmed from the front when long: a reader whose mark is older
    // than what is kept rebuilds from Trials.
    private readonly List<int> _log = [];
    private long _logStart;
    private const int MaxLog = 1 << 20;

    /// <summary>Creates an empty history.</summary>
    public StudyHistory(string studyName, Direction direction)
    {
        StudyName = studyName;
        Direction = direction;
    }

    /// <summary>
    /// A history holding exactly <paramref name="trials"/> (numbered as they are), not tied to any storage: for replaying a
    /// study, for simulators and for testing samplers and schedulers on hand-built histories.
    /// </summary>
    public static StudyHistory Of(string studyName, Direction direction, IEnumerable<FrozenTrial> trials)
    {
        ArgumentNullException.ThrowIfNull(trials);
        var history = new StudyHistory(studyName, direction);
        history.Apply(new TrialChanges(trials.ToArray(), 0));
        return history;
    }

    /// <summary>The study's name.</summary>
    public string StudyName { get; }

    /// <summary>The study's direction.</summary>
    public Direction Direction { get; }

    /// <summary>The storage cursor of the last read.</summary>
    public long Cursor { get { lock (_gate) return _cursor; } }

    /// <summary>Every trial known so far, by number (a trial not yet seen, e.g. just created by another process, is absent).</summary>
    public IReadOnlyList<FrozenTrial> Trials
    {
        get
        {
            lock (_gate) return _holes == 0 ? new ArraySegment<FrozenTrial>(_byNumber, 0, _count) : Dense(_byNumber, _count);
        }
    }

    /// <summary>
    /// The trials known so far that are done and count toward a trial budget: Complete, Pruned, Paused, and Failed ones
    /// not retried (a retried failure stops counting, as in storage). Kept as changes are applied, so reading it costs nothing.
    /// </summary>
    public int DoneCount { get { lock (_gate) return _done; } }

    private static int Done(FrozenTrial? t) =>
        t is null ? 0
        : t.State is TrialState.Complete or TrialState.Pruned or TrialState.Paused ? 1
        : t.State == TrialState.Failed && !t.SystemAttributes.ContainsKey(SystemAttributeKeys.RetriedBy) ? 1
        : 0;

    /// <summary>The Complete trials, in number order.</summary>
    public IEnumerable<FrozenTrial> Completed => Trials.Where(t => t.State == TrialState.Complete && t.Value is not null);

    /// <summary>The best Complete trial, or null.</summary>
    public FrozenTrial? Best
    {
        get
        {
            FrozenTrial? best = null;
            foreach (var t in Completed)
                if (best is null || Direction.IsBetter(t.Value!.Value, best.Value!.Value)) best = t;
            return best;
        }
    }

    /// <summary>Merges changes read from storage.</summary>
    internal void Apply(TrialChanges changes)
    {
        lock (_gate)
        {
            foreach (var t in changes.Trials)
            {
                if (t.Number >= _byNumber.Length)
                {
                    var grown = new FrozenTrial[Math.Max(_byNumber.Length * 2, t.Number + 1)];
                    Array.Copy(_byNumber, grown, _count);
                    _byNumber = grown;
                }
                if (t.Number >= _count)
                {
                    _holes += t.Number - _count;
                    _count = t.Number + 1;
                    _byNumber[t.Number] = t;
                    _done += Done(t);
                    Log(t.Number);
                    continue;
                }
                var current = (FrozenTrial?)_byNumber[t.Number];
                if (current is null) _holes--;
                if (current is null || current.Version <= t.Version)
                {
                    _done += Done(t) - Done(current);
                    _byNumber[t.Number] = t;
                    Log(t.Number);
                }
            }
            if (changes.Cursor > _cursor) _cursor = changes.Cursor;
        }
    }

    private void Log(int number)
    {
        if (_log.Count >= MaxLog)
        {
            _log.RemoveRange(0, MaxLog / 2);
            _logStart += MaxLog / 2;
        }
        _log.Add(number);
    }

    /// <summary>A mark to pass to <see cref="TryChangedSince"/> later: the position after the last change applied so far.</summary>
    internal long ChangeMark { get { lock (_gate) return _logStart + _log.Count; } }

    /// <summary>
    /// Adds to <paramref name="numbers"/> the numbers of the trials applied since <paramref name="mark"/> (a trial may
    /// appear more than once) and returns the new mark; null when the changes since then are no longer kept (the reader
    /// rebuilds from <see cref="Trials"/>).
    /// </summary>
    internal long? TryChangedSince(long mark, List<int> numbers)
    {
        lock (_gate)
        {
            if (mark < _logStart || mark > _logStart + _log.Count) return null;
            for (var i = (int)(mark - _logStart); i < _log.Count; i++) numbers.Add(_log[i]);
            return _logStart + _log.Count;
        }
    }

    /// <summary>Replaces one trial with a newer snapshot this process wrote itself (no read needed).</summary>
    internal void Upsert(FrozenTrial trial) => Apply(new TrialChanges([trial], 0));

    // A trial number can be missing only transiently (created by another process between two reads, while this
    // process already wrote a later one): such holes are skipped so readers never see null.
    private static FrozenTrial[] Dense(FrozenTrial[] items, int count)
    {
        var dense = new List<FrozenTrial>(count);
        for (var i = 0; i < count; i++) if ((FrozenTrial?)items[i] is { } t) dense.Add(t);
        return dense.ToArray();
    }
}

/// <summary>Changes to a study's trials since a cursor: the trials that changed, and the cursor to pass next time.</summary>
public sealed record TrialChanges(IReadOnlyList<FrozenTrial> Trials, long Cursor);
