using System.Globalization;
using Tunesmith.Spaces;
using Tunesmith.Trials;

namespace Tunesmith.Execution;

/// <summary>
/// The parameter combinations a study's trials already hold, so that a combination is enqueued once (Optuna's
/// <c>enqueue_trial(skip_if_exists=True)</c>): enqueueing the same list twice must not double the work a GPU quota pays for.
/// A trial holds a combination when it is waiting, running, paused or finished other than <see cref="TrialState.Failed"/>
/// (a failed combination may be tried again) and has the same value for each of its names: a waiting trial holds only the
/// values it was enqueued with, so it must have exactly those names; a started one also holds what it sampled. Values compare
/// across numeric types (3 and 3.0) but not across kinds (3 and "3").
/// </summary>
public sealed class HeldCombinations
{
    private readonly List<FrozenTrial> _trials;
    private readonly Dictionary<string, Dictionary<string, FrozenTrial>> _byNames = new(StringComparer.Ordinal);

    /// <summary>The combinations <paramref name="trials"/> (a study's, e.g. <see cref="Study.GetTrialsAsync"/>) hold.</summary>
    public HeldCombinations(IEnumerable<FrozenTrial> trials)
    {
        ArgumentNullException.ThrowIfNull(trials);
        _trials = trials.Where(t => t.State != TrialState.Failed).ToList();
    }

    /// <summary>The first trial that holds <paramref name="values"/>, or null.</summary>
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
        if (_byNames.TryGetValue(setKey, out var map)) return map;
        map = new Dictionary<string, FrozenTrial>(StringComparer.Ordinal);
        foreach (var trial in _trials)
        {
            var held = Held(trial);
            if (!names.All(held.ContainsKey) || (trial.State == TrialState.Waiting && held.Count != names.Length)) continue;
            map.TryAdd(Key(names.Select(n => new KeyValuePair<string, object?>(n, held[n]))), trial);
        }
        return _byNames[setKey] = map;
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
