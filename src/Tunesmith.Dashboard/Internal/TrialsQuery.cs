using System.Globalization;
using Tunesmith.Spaces;

namespace Tunesmith.Dashboard.Internal;

/// <summary>A page of a study's trials: filtered by state and parameter ranges, sorted, then cut to one page.</summary>
internal sealed record TrialsQuery
{
    public const int MaxLimit = 500;

    public string Sort { get; init; } = "best";
    public bool Descending { get; init; }
    public IReadOnlySet<TrialState>? States { get; init; }
    public IReadOnlyList<(string Param, double? Low, double? High)> Ranges { get; init; } = [];
    public int Offset { get; init; }
    public int Limit { get; init; } = 50;

    /// <summary>Parses query-string values; throws <see cref="ArgumentException"/> naming the bad field and value.</summary>
    public static TrialsQuery Parse(string? sort, string? desc, string? states, IEnumerable<string> ranges, string? offset, string? limit)
    {
        var q = new TrialsQuery();
        if (!string.IsNullOrEmpty(sort)) q = q with { Sort = sort };
        if (!string.IsNullOrEmpty(desc)) q = q with { Descending = desc is "1" or "true" };
        if (!string.IsNullOrEmpty(states))
        {
            var set = new HashSet<TrialState>();
            foreach (var s in states.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                set.Add(Enum.GetNames<TrialState>().FirstOrDefault(n => n.Equals(s, StringComparison.OrdinalIgnoreCase)) is { } name
                    ? Enum.Parse<TrialState>(name)
                    : throw new ArgumentException($"state '{s}': not a trial state ({string.Join(", ", Enum.GetNames<TrialState>())})"));
            q = q with { States = set };
        }
        var parsed = new List<(string, double?, double?)>();
        foreach (var r in ranges)
        {
            // name:low:high, either bound may be empty
            var parts = r.Split(':');
            if (parts.Length != 3 || parts[0].Length == 0) throw new ArgumentException($"range '{r}': use NAME:LOW:HIGH (a bound may be empty)");
            parsed.Add((parts[0], Bound(r, parts[1]), Bound(r, parts[2])));
        }
        q = q with { Ranges = parsed };
        if (!string.IsNullOrEmpty(offset)) q = q with { Offset = int.TryParse(offset, CultureInfo.InvariantCulture, out var o) && o >= 0 ? o : throw new ArgumentException($"offset '{offset}': must be a whole number ≥ 0") };
        if (!string.IsNullOrEmpty(limit)) q = q with { Limit = int.TryParse(limit, CultureInfo.InvariantCulture, out var l) && l is >= 1 and <= MaxLimit ? l : throw new ArgumentException($"limit '{limit}': must be between 1 and {MaxLimit}") };
        return q;
    }

    private static double? Bound(string range, string text) =>
        text.Length == 0 ? null
        : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d
        : throw new ArgumentException($"range '{range}': bound '{text}' is not a number");

    public (int Matched, IReadOnlyList<FrozenTrial> Page) Run(IReadOnlyList<FrozenTrial> trials, Direction direction)
    {
        IEnumerable<FrozenTrial> rows = trials;
        if (States is { Count: > 0 } states) rows = rows.Where(t => states.Contains(t.State));
        foreach (var (param, low, high) in Ranges)
            rows = rows.Where(t => t.Params.TryGetValue(param, out var v) && ParamValues.TryToDouble(v, out var x)
                && (low is not { } lo || x >= lo) && (high is not { } hi || x <= hi));
        var list = rows.ToList();
        Comparison<FrozenTrial> compare = Sort switch
        {
            "best" => (a, b) => BestKey(a, direction).CompareTo(BestKey(b, direction)),
            "number" => (a, b) => a.Number.CompareTo(b.Number),
            "state" => (a, b) => a.State.CompareTo(b.State),
            "value" => (a, b) => Nullable.Compare(a.Value, b.Value),
            "duration" => (a, b) => Nullable.Compare(a.Duration, b.Duration),
            "worker" => (a, b) => string.CompareOrdinal(a.Worker, b.Worker),
            _ when Sort.StartsWith("param:", StringComparison.Ordinal) => ByParam(Sort["param:".Length..]),
            _ when Sort.StartsWith("metric:", StringComparison.Ordinal) => ByMetric(Sort["metric:".Length..]),
            _ => throw new ArgumentException($"sort '{Sort}': use best, number, state, value, duration, worker, param:NAME or metric:NAME"),
        };
        var key = Sort[(Sort.IndexOf(':', StringComparison.Ordinal) + 1)..];
        Func<FrozenTrial, bool>? missing = Sort switch
        {
            "value" => t => t.Value is null,
            "duration" => t => t.Duration is null,
            _ when Sort.StartsWith("param:", StringComparison.Ordinal) => t => t.Params.GetValueOrDefault(key) is null,
            _ when Sort.StartsWith("metric:", StringComparison.Ordinal) => t => !ShownMetrics.Of(t).ContainsKey(key),
            _ => null,
        };
        // A total order (ties by number), so any way of picking the first rows gives the same page.
        var order = Comparer<FrozenTrial>.Create((a, b) =>
        {
            // Trials without the sorted key (no value yet, a parameter of another branch, a metric never reported) stay
            // below the ones with it, in either direction.
            if (missing is not null && missing(a) != missing(b)) return missing(a) ? 1 : -1;
            var c = compare(a, b);
            if (Descending) c = -c;
            return c != 0 ? c : a.Number.CompareTo(b.Number);
        });
        var needed = (long)Offset + Limit;
        if (needed * 8 < list.Count)
        {
            // An early page of a large study (what a live page reloads on every change): keep only the first rows in a
            // bounded heap, O(n log k), rather than sorting every trial.
            var heap = new PriorityQueue<FrozenTrial, FrozenTrial>((int)needed + 1, Comparer<FrozenTrial>.Create((a, b) => order.Compare(b, a)));
            foreach (var t in list)
            {
                if (heap.Count < needed) heap.Enqueue(t, t);
                else if (order.Compare(t, heap.Peek()) < 0) heap.DequeueEnqueue(t, t);
            }
            var first = heap.UnorderedItems.Select(x => x.Element).ToList();
            first.Sort(order);
            return (list.Count, first.Skip(Offset).Take(Limit).ToList());
        }
        list.Sort(order);
        return (list.Count, list.Skip(Offset).Take(Limit).ToList());
    }

    // Complete trials best first, then Running, Pruned, Failed, Waiting (as the report orders them).
    private static (int Group, double Value) BestKey(FrozenTrial t, Direction d) => t.State switch
    {
        TrialState.Complete when t.Value is { } v && double.IsFinite(v) => (0, d == Direction.Maximize ? -v : v),
        TrialState.Complete or TrialState.Running => (1, 0),
        TrialState.Pruned => (2, 0),
        TrialState.Failed => (3, 0),
        _ => (4, 0),
    };

    private static Comparison<FrozenTrial> ByParam(string name) => (a, b) =>
    {
        var x = a.Params.GetValueOrDefault(name);
        var y = b.Params.GetValueOrDefault(name);
        if (x is null || y is null) return (x is null).CompareTo(y is null);
        if (ParamValues.TryToDouble(x, out var dx) && ParamValues.TryToDouble(y, out var dy)) return dx.CompareTo(dy);
        return string.CompareOrdinal(ParamValues.Format(x), ParamValues.Format(y));
    };

    private static Comparison<FrozenTrial> ByMetric(string name) => (a, b) =>
    {
        // The metrics the row shows: a Pruned or Running command trial's last report sorts with the Complete ones' results.
        var hasX = ShownMetrics.Of(a).TryGetValue(name, out var x);
        var hasY = ShownMetrics.Of(b).TryGetValue(name, out var y);
        return hasX && hasY ? x.CompareTo(y) : (!hasX).CompareTo(!hasY);
    };
}
