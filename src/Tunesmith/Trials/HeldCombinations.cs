using System.Globalization;
using Tunesmith.Spaces;

namespace Tunesmith.Trials;

/// <summary>
/// The parameter combinations a study's trials already hold, so that a combination is enqueued once (Optuna's
/// <c>enqueue_trial(skip_if_exists=True)</c>): enqueueing the same list twice must not double the work a GPU quota pays for.
/// A trial holds a combination when it is waiting, running, paused or finished other than <see cref="TrialState.Failed"/>
/// (a failed one holds it only when the caller says so) and has the same value for each of its names: a waiting trial
/// holds only the values it was enqueued with, so it must have exactly those names; a started one also holds what it
/// sampled. Values compare across numeric types (3 and 3.0) but not across kinds (3 and "3"). When several trials hold a
/// combination, <see cref="Find"/> names the first that did not fail, else the last failed one.
/// </summary>
public sealed class HeldCombinations
{
    private readonly List<FrozenTrial> _trials = [];
    private readonly bool _failedHold;
    private readonly Dictionary<string, (string[] Names, Dictionary<string, FrozenTrial> Map)> _byNames = new(StringComparer.Ordinal);

    /// <summary>The combinations <paramref name="trials"/> (a study's, e.g. <c>Study.GetTrialsAsync</c>) hold; failed trials hold none.</summary>
    public HeldCombinations(IEnumerable<FrozenTrial> trials) : this(trials, failedHold: false)
    {
    }

    /// <summary>The combinations <paramref name="trials"/> hold; with <paramref name="failedHold"/>, failed trials hold theirs too.</summary>
    public HeldCombinations(IEnumerable<FrozenTrial> trials, bool failedHold)
    {
        ArgumentNullException.ThrowIfNull(trials);
        _failedHold = failedHold;
        foreach (var trial in trials.OrderBy(t => t.Number)) Add(trial);
    }

    /// <summary>Adds a trial (a later one than those already held, e.g. one just enqueued).</summary>
    public void Add(FrozenTrial trial)
    {
        ArgumentNullException.ThrowIfNull(trial);
        if (trial.State == TrialState.Failed && !_failedHold) return;
        _trials.Add(trial);
        foreach (var (names, map) in _byNames.Values) Index(map, names, trial);
    }

    /// <summary>The trial that holds <paramref name="values"/>, or null.</summary>
    public FrozenTrial? Find(IReadOnlyDictionary<string, object?> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return ForNames(values.Keys).GetValueOrDefault(Key(values));
    }

    /// <summary>
    /// One combination as text: equal combinations (by name, values compared as <see cref="HeldCombinations"/> says) give
    /// equal keys, so callers can also find the repeats within a list they are about to enqueue.
    /// </summary>
    public static string Key(IEnumerable<KeyValuePair<string, object?>> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return string.Join('\0', values.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key + "=" + ParamValues.Normalize(kv.Value) switch
        {
            null => "n",
            bool b => b ? "b:1" : "b:0",
            long l => "d:" + ((double)l).ToString("R", CultureInfo.InvariantCulture),
            double d => "d:" + d.ToString("R", CultureInfo.InvariantCulture),
            var o => "s:" + Convert.ToString(o, CultureInfo.InvariantCulture),
        }));
    }

    // The trials' combinations over one set of names, built on first use (an enqueue of a file uses one or a few sets).
    private Dictionary<string, FrozenTrial> ForNames(IEnumerable<string> keys)
    {
        var names = keys.Order(StringComparer.Ordinal).ToArray();
        var setKey = string.Join('\0', names);
        if (_byNames.TryGetValue(setKey, out var entry)) return entry.Map;
        var map = new Dictionary<string, FrozenTrial>(StringComparer.Ordinal);
        foreach (var trial in _trials) Index(map, names, trial);
        _byNames[setKey] = (names, map);
        return map;
    }

    private static void Index(Dictionary<string, FrozenTrial> map, string[] names, FrozenTrial trial)
    {
        var held = Held(trial);
        if (!names.All(held.ContainsKey) || (trial.State == TrialState.Waiting && held.Count != names.Length)) return;
        var key = Key(names.Select(n => new KeyValuePair<string, object?>(n, held[n])));
        // A trial that did not fail wins over a failed one (a failed trial and its retry); of failed ones, the last attempt.
        if (!map.TryGetValue(key, out var holder) || holder.State == TrialState.Failed) map[key] = trial;
    }

    // A finished trial drops the enqueued values its objective never suggested from its params and keeps them in the system
    // attribute fixed_params: it still holds them.
    private static IReadOnlyDictionary<string, object?> Held(FrozenTrial trial)
    {
        if (trial.SystemAttributes.GetValueOrDefault(SystemAttributeKeys.FixedParams) is not string json) return trial.Params;
        var held = new Dictionary<string, object?>(trial.Params, StringComparer.Ordinal);
        try
        {
            foreach (var (name, value) in ParamValues.FromJsonObject(json)) held.TryAdd(name, value);
        }
        catch (System.Text.Json.JsonException) { }
        catch (FormatException) { }
        return held;
    }
}
