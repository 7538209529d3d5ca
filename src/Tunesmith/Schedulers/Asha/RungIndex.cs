namespace Tunesmith.Schedulers.Asha;

/// <summary>
/// The rung records of one study's history, kept up to date incrementally so that a rung decision costs O(√n) instead
/// of a pass over every trial (the simulator asks ASHA about a million times in one run). It is a cache, not state:
/// every answer equals <see cref="RungLadder.Records"/> over the same history. Only trials that changed since the last
/// call are read again (finished trials are never re-read once seen); a different history object, or one whose trial
/// numbers have a hole, rebuilds the index from scratch.
/// </summary>
internal sealed class RungIndex(RungLadder ladder)
{
    private readonly object _gate = new();
    private StudyHistoryFollower? _follower;
    private readonly List<Entry?> _trials = [];
    private Rung[][] _rungs = [];
    private SortedSet<(double Value, int Number)>[][] _paused = []; // per rung: the paused trials whose highest rung it is, best first

    private sealed class Entry
    {
        public long Version;
        public int Bracket;
        public double[] Values = [];   // per rung of its bracket: the record's value, NaN when none yet
        public bool[] Promoted = [];
        public int PausedRung = -1;    // while Paused: the index of its highest rung reached, else -1
        public double PausedValue;
        public long PausedLast;        // while Paused: its last reported step
    }

    private sealed class Rung
    {
        public readonly SortedValues Values = new();
        public int Promoted;
    }

    /// <summary>
    /// Of the records at <paramref name="milestone"/> of <paramref name="bracket"/> other than <paramref name="except"/>'s:
    /// how many there are, how many are strictly better than <paramref name="value"/>, and how many went on past the rung.
    /// </summary>
    public (int Count, int Better, int Promoted) Query(StudyHistory history, int bracket, long milestone, int except, double value)
    {
        lock (_gate)
        {
            Update(history);
            var milestones = ladder.Milestones(bracket);
            var k = IndexOf(milestones, milestone);
            var rung = _rungs[bracket][k];
            var count = rung.Values.Count;
            var better = Better(rung, history.Direction, value);
            var promoted = rung.Promoted;
            if (except >= 0 && except < _trials.Count && _trials[except] is { } self && self.Bracket == bracket && !double.IsNaN(self.Values[k]))
            {
                count--;
                if (history.Direction.IsBetter(self.Values[k], value)) better--;
                if (self.Promoted[k]) promoted--;
            }
            return (count, better, promoted);
        }
    }

    /// <summary>
    /// The paused trial promotion-based ASHA resumes: of the paused trials that are in their highest rung's top ⌊n/η⌋
    /// while fewer than ⌊n/η⌋ of the rung's trials have gone on, the one at the highest rung, then with the best value,
    /// then with the lowest number; with the last step it reported. Null when there is none. Equal to a pass over every
    /// paused trial with <see cref="RungLadder.Records"/> (the test keeps that pass as its oracle), in O(rungs · √n).
    /// With <paramref name="finishing"/> (the study's end, when no new trial may start) a paused trial that holds its rung's
    /// best record is promotable too, whatever the quota.
    /// </summary>
    public (int Number, long LastStep)? Promotable(StudyHistory history, bool finishing = false)
    {
        lock (_gate)
        {
            Update(history);
            var direction = history.Direction;
            (int Number, long Milestone, double Value)? best = null;
            for (var b = 0; b < _paused.Length; b++)
            {
                var milestones = ladder.Milestones(b);
                for (var k = milestones.Count - 1; k >= 0; k--)
                {
                    var candidates = _paused[b][k];
                    if (candidates.Count == 0) continue;
                    if (best is { } current && milestones[k] < current.Milestone) break;
                    var rung = _rungs[b][k];
                    var quota = ladder.Quota(rung.Values.Count);
                    var placeLeft = rung.Promoted < quota;
                    if (!placeLeft && !finishing) continue; // no rank query for a rung with no place left
                    // The best paused trial of the rung has the fewest better records: if it is outside the top, all are.
                    var (value, number) = candidates.Min;
                    var better = Better(rung, direction, value);
                    // In the top ⌊n/η⌋ while a place is left; at the study's finish also the rung's best record, whatever the quota.
                    if (!(placeLeft && better < quota) && !(finishing && better == 0)) continue;
                    if (best is not { } b0 || milestones[k] > b0.Milestone || direction.IsBetter(value, b0.Value)
                        || (value.Equals(b0.Value) && number < b0.Number))
                        best = (number, milestones[k], value);
                }
            }
            return best is { } found ? (found.Number, _trials[found.Number]!.PausedLast) : null;
        }
    }

    private static int Better(Rung rung, Direction direction, double value) =>
        direction == Direction.Maximize ? rung.Values.CountGreater(value) : rung.Values.CountLess(value);

    private static int IndexOf(IReadOnlyList<long> milestones, long milestone)
    {
        for (var i = 0; i < milestones.Count; i++) if (milestones[i] == milestone) return i;
        throw new ArgumentOutOfRangeException(nameof(milestone), milestone, "not a rung of this bracket");
    }

    // Reads only the trials that changed since the last call (see StudyHistoryFollower).
    private void Update(StudyHistory history) => (_follower ??= new StudyHistoryFollower(See, Reset)).Read(history);

    private void See(FrozenTrial t)
    {
        while (_trials.Count <= t.Number) _trials.Add(null);
        var entry = _trials[t.Number];
        if (entry is not null && entry.Version == t.Version && t.Version != 0) return;
        if (entry is null)
        {
            var bracket = ladder.BracketOf(t);
            var rungs = ladder.Milestones(bracket).Count;
            entry = new Entry { Bracket = bracket, Values = Enumerable.Repeat(double.NaN, rungs).ToArray(), Promoted = new bool[rungs] };
            _trials[t.Number] = entry;
        }
        entry.Version = t.Version;
        Refresh(t, entry);
    }

    // Brings one trial's records and promotion flags in line with its snapshot (the same rules as RungLadder.Records).
    // A record, once there, keeps its value (the first report at or after the rung), and a trial that went on past a
    // rung stays promoted (its steps only grow), so rungs already settled both ways are skipped.
    private void Refresh(FrozenTrial trial, Entry entry)
    {
        var milestones = ladder.Milestones(entry.Bracket);
        var include = RungLadder.HoldsRecords(trial);
        var last = include ? RungLadder.LastStep(trial) ?? 0 : 0;
        for (var k = 0; k < milestones.Count; k++)
        {
            var recorded = !double.IsNaN(entry.Values[k]);
            if (include && recorded && entry.Promoted[k]) continue;
            var rung = _rungs[entry.Bracket][k];
            var record = include && milestones[k] <= last ? RungLadder.RungRecord(trial, milestones[k]) : null;
            var value = record?.Value ?? double.NaN;
            var old = entry.Values[k];
            if (!(double.IsNaN(old) && double.IsNaN(value)) && !old.Equals(value))
            {
                if (!double.IsNaN(old)) rung.Values.Remove(old);
                if (!double.IsNaN(value)) rung.Values.Add(value);
                entry.Values[k] = value;
            }
            var promoted = record is { } r && (last > r.Step || RungLadder.WentOn(trial, r.Step));
            if (promoted != entry.Promoted[k])
            {
                rung.Promoted += promoted ? 1 : -1;
                entry.Promoted[k] = promoted;
            }
            if (record is null && double.IsNaN(old)) break; // no record here, none at the higher rungs either
        }
        var pausedRung = -1;
        var pausedValue = 0.0;
        if (trial.State == TrialState.Paused && include && ladder.RungAtOrBelow(entry.Bracket, last) is { } milestone)
        {
            pausedRung = IndexOf(milestones, milestone);
            pausedValue = RungLadder.RungValue(trial, milestone)!.Value;
        }
        if (pausedRung == entry.PausedRung && (pausedRung < 0 || pausedValue.Equals(entry.PausedValue)))
        {
            entry.PausedLast = last;
            return;
        }
        if (entry.PausedRung >= 0) _paused[entry.Bracket][entry.PausedRung].Remove((entry.PausedValue, trial.Number));
        if (pausedRung >= 0) _paused[entry.Bracket][pausedRung].Add((pausedValue, trial.Number));
        (entry.PausedRung, entry.PausedValue) = (pausedRung, pausedValue);
        entry.PausedLast = last;
    }

    private void Reset(StudyHistory history)
    {
        _trials.Clear();
        _rungs = Enumerable.Range(0, ladder.Brackets).Select(b => ladder.Milestones(b).Select(_ => new Rung()).ToArray()).ToArray();
        // Best first: the better value, then the lower number.
        var sign = history.Direction == Direction.Maximize ? -1 : 1;
        var order = Comparer<(double Value, int Number)>.Create((x, y) =>
        {
            var c = sign * x.Value.CompareTo(y.Value);
            return c != 0 ? c : x.Number.CompareTo(y.Number);
        });
        _paused = Enumerable.Range(0, ladder.Brackets).Select(b => ladder.Milestones(b).Select(_ => new SortedSet<(double, int)>(order)).ToArray()).ToArray();
    }
}

/// <summary>A multiset of doubles kept sorted in blocks, so insertion, removal and rank queries cost O(√n).</summary>
internal sealed class SortedValues
{
    private const int BlockSize = 512;
    private readonly List<List<double>> _blocks = [];

    public int Count { get; private set; }

    public void Add(double value)
    {
        if (_blocks.Count == 0) _blocks.Add([]);
        var b = BlockFor(value);
        var block = _blocks[b];
        var i = block.BinarySearch(value);
        block.Insert(i < 0 ? ~i : i, value);
        Count++;
        if (block.Count > 2 * BlockSize)
        {
            _blocks.Insert(b + 1, block.GetRange(BlockSize, block.Count - BlockSize));
            block.RemoveRange(BlockSize, block.Count - BlockSize);
        }
    }

    public bool Remove(double value)
    {
        if (_blocks.Count == 0) return false;
        var b = BlockFor(value);
        var block = _blocks[b];
        var i = block.BinarySearch(value);
        if (i < 0) return false;
        block.RemoveAt(i);
        Count--;
        if (block.Count == 0 && _blocks.Count > 1) _blocks.RemoveAt(b);
        return true;
    }

    /// <summary>The <paramref name="index"/>-th smallest value (0-based).</summary>
    public double ElementAt(int index)
    {
        if (index < 0 || index >= Count) throw new ArgumentOutOfRangeException(nameof(index), index, $"not below the count {Count}");
        foreach (var block in _blocks)
        {
            if (index < block.Count) return block[index];
            index -= block.Count;
        }
        throw new InvalidOperationException("unreachable");
    }

    /// <summary>How many values are strictly less than <paramref name="value"/>.</summary>
    public int CountLess(double value)
    {
        var n = 0;
        foreach (var block in _blocks)
        {
            if (block.Count == 0) continue;
            if (block[^1] < value) { n += block.Count; continue; }
            n += LowerBound(block, value);
            break;
        }
        return n;
    }

    /// <summary>How many values are strictly greater than <paramref name="value"/>.</summary>
    public int CountGreater(double value) => Count - CountLessOrEqual(value);

    private int CountLessOrEqual(double value)
    {
        var n = 0;
        foreach (var block in _blocks)
        {
            if (block.Count == 0) continue;
            if (block[^1] <= value) { n += block.Count; continue; }
            n += UpperBound(block, value);
            break;
        }
        return n;
    }

    // The block where value belongs: the first whose last element is >= value (else the last block).
    private int BlockFor(double value)
    {
        for (var b = 0; b < _blocks.Count - 1; b++)
            if (_blocks[b].Count > 0 && _blocks[b][^1] >= value) return b;
        return _blocks.Count - 1;
    }

    private static int LowerBound(List<double> block, double value)
    {
        int lo = 0, hi = block.Count;
        while (lo < hi) { var mid = (lo + hi) >> 1; if (block[mid] < value) lo = mid + 1; else hi = mid; }
        return lo;
    }

    private static int UpperBound(List<double> block, double value)
    {
        int lo = 0, hi = block.Count;
        while (lo < hi) { var mid = (lo + hi) >> 1; if (block[mid] <= value) lo = mid + 1; else hi = mid; }
        return lo;
    }
}
