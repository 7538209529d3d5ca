using System.Runtime.CompilerServices;
using Tunesmith.Spaces;

namespace Tunesmith.Samplers.Tpe;

/// <summary>
/// The TPE sampler's incremental view of a study's history: every finished trial it can learn from, once, with its
/// score, and per parameter a column of encoded values that is extended only by the trials added since it was last
/// read. An ask therefore costs a pass over arrays, not a re-read of every trial's dictionaries. Not thread-safe: the
/// sampler guards it with its lock.
/// </summary>
internal sealed class ObservationTable
{
    private readonly List<FrozenTrial> _trials = [];
    private double[] _scores = new double[64];
    private readonly Dictionary<ColumnKey, Column> _columns = [];
    private readonly List<bool> _ingested = [];
    private readonly List<FrozenTrial> _running = [];
    private readonly Dictionary<int, Dictionary<string, object?>> _proposed = [];
    private int _scanFrom;

    /// <summary>Observations so far (Complete trials with a value, and Pruned trials).</summary>
    public int Count => _trials.Count;

    /// <summary>How many of them are Complete.</summary>
    public int CompleteCount { get; private set; }

    /// <summary>Scores, lower is better; +∞ for Pruned trials (they always belong to the "bad" group).</summary>
    public ReadOnlySpan<double> Scores => _scores.AsSpan(0, _trials.Count);

    /// <summary>The Running trials seen at the last <see cref="Update"/>.</summary>
    public IReadOnlyList<FrozenTrial> Running => _running;

    /// <summary>Reads the trials that finished since the last call and the trials running now.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Update(StudyHistory history)
    {
        var trials = history.Trials;
        // With a hole in the numbering (a trial another process created but this one has not read yet) list positions
        // and numbers differ: rescan from the start, which is rare and transient.
        var dense = trials.Count == 0 || trials[^1].Number == trials.Count - 1;
        var from = dense ? Math.Min(_scanFrom, trials.Count) : 0;
        var firstUnsettled = -1;
        _running.Clear();
        for (var i = from; i < trials.Count; i++)
        {
            var t = trials[i];
            if (!t.State.IsFinished())
            {
                if (firstUnsettled < 0) firstUnsettled = t.Number;
                if (t.State == TrialState.Running) _running.Add(t);
                continue;
            }
            while (_ingested.Count <= t.Number) _ingested.Add(false);
            if (_ingested[t.Number]) continue;
            _ingested[t.Number] = true;
            _proposed.Remove(t.Number);
            if (t.State == TrialState.Complete && t.Value is { } v && double.IsFinite(v))
            {
                Add(t, history.Direction == Direction.Minimize ? v : -v);
                CompleteCount++;
            }
            else if (t.State == TrialState.Pruned)
            {
                Add(t, double.PositiveInfinity);
            }
        }
        _scanFrom = firstUnsettled >= 0 ? firstUnsettled : (trials.Count == 0 ? 0 : trials[^1].Number + 1);
    }

    private void Add(FrozenTrial trial, double score)
    {
        if (_trials.Count == _scores.Length) Array.Resize(ref _scores, _scores.Length * 2);
        _scores[_trials.Count] = score;
        _trials.Add(trial);
    }

    /// <summary>The encoded values of one parameter for every observation (NaN where a trial lacks it or drew it from another distribution).</summary>
    public Column GetColumn(string name, Distribution distribution)
    {
        var key = new ColumnKey(name, distribution);
        if (!_columns.TryGetValue(key, out var column))
        {
            column = new Column(ParamEncoding.For(distribution));
            _columns[key] = column;
        }
        column.CatchUp(name, _trials);
        return column;
    }

    /// <summary>Remembers a value this sampler proposed for a trial that is still running (its params may not be stored yet).</summary>
    public void Propose(int trialNumber, string name, object? value)
    {
        if (!_proposed.TryGetValue(trialNumber, out var values))
        {
            values = new Dictionary<string, object?>(StringComparer.Ordinal);
            _proposed[trialNumber] = values;
        }
        values[name] = value;
    }

    /// <summary>The value a running trial has (stored) or will have (proposed here) for a parameter, when known.</summary>
    public bool TryGetRunningValue(FrozenTrial trial, string name, Distribution distribution, out object? value)
    {
        if (trial.Distributions.TryGetValue(name, out var d) && trial.Params.TryGetValue(name, out value))
            return d.Equals(distribution);
        if (_proposed.TryGetValue(trial.Number, out var proposed) && proposed.TryGetValue(name, out value))
            return true;
        value = null;
        return false;
    }

    private readonly record struct ColumnKey(string Name, Distribution Distribution);

    /// <summary>One parameter's encoded values, by observation.</summary>
    internal sealed class Column(ParamEncoding encoding)
    {
        private double[] _values = new double[64];
        private int _filled;

        public ParamEncoding Encoding { get; } = encoding;

        public ReadOnlySpan<double> Values => _values.AsSpan(0, _filled);

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void CatchUp(string name, List<FrozenTrial> trials)
        {
            if (_filled == trials.Count) return;
            if (_values.Length < trials.Count) Array.Resize(ref _values, Math.Max(trials.Count, _values.Length * 2));
            for (var i = _filled; i < trials.Count; i++)
            {
                var t = trials[i];
                _values[i] = t.Distributions.TryGetValue(name, out var d) && d.Equals(Encoding.Distribution)
                    && t.Params.TryGetValue(name, out var v)
                    ? Encoding.Encode(v)
                    : double.NaN;
            }
            _filled = trials.Count;
        }
    }
}
