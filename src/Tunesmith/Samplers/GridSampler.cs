using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Tunesmith.Spaces;

namespace Tunesmith.Samplers;

/// <summary>
/// Exhaustive grid search: every configuration of the grid runs exactly once, however many workers and processes run
/// the study, and the study stops when the grid is exhausted. The grid is either explicit values per parameter (their
/// cross product) or the configurations a declarative <see cref="SearchSpace"/> can produce.
/// </summary>
public sealed class GridSampler : IFiniteSampler
{
    /// <summary>The largest grid accepted, to fail fast on a space that was not meant to be enumerated.</summary>
    public const int MaxConfigurations = 1_000_000;

    private static readonly IReadOnlyDictionary<string, Distribution> NoSpace = new Dictionary<string, Distribution>();
    private static readonly IReadOnlyDictionary<string, object?> NoValues = new Dictionary<string, object?>();

    private readonly IReadOnlyList<IReadOnlyDictionary<string, object?>> _configurations;
    private readonly Dictionary<string, List<object?>> _valuesByName = new(StringComparer.Ordinal);

    /// <summary>A grid over explicit values: the cross product of <paramref name="values"/> (the last parameter varies fastest).</summary>
    /// <param name="values">Grid values per parameter (strings, numbers, booleans or null).</param>
    /// <param name="seed">Seed for <paramref name="shuffle"/> and for drawing a parameter that an enqueued trial left out.</param>
    /// <param name="shuffle">Run the configurations in a random (seeded) order instead of the declared one.</param>
    public GridSampler(IReadOnlyDictionary<string, IReadOnlyList<object?>> values, int? seed = null, bool shuffle = false)
    {
        ArgumentNullException.ThrowIfNull(values);
        var axes = new List<(string Name, object?[] Values)>();
        foreach (var (name, list) in values)
        {
            if (string.IsNullOrWhiteSpace(name)) throw new SearchSpaceException("a grid parameter name must not be empty");
            var normalized = (list ?? []).Select(ParamValues.Normalize).ToArray();
            if (normalized.Length == 0) throw new SearchSpaceException(name, "has no grid values");
            for (var i = 0; i < normalized.Length; i++)
            {
                if (normalized[i] is not (null or string or long or double or bool))
                    throw new SearchSpaceException(name, $"grid value {ParamValues.Format(normalized[i])} must be a string, number, boolean or null");
                for (var j = 0; j < i; j++)
                    if (ParamValues.AreEqual(normalized[i], normalized[j]))
                        throw new SearchSpaceException(name, $"grid value {ParamValues.Format(normalized[i])} appears twice");
            }
            axes.Add((name, normalized));
        }
        var total = axes.Aggregate(1L, (n, a) => n * a.Values.Length > MaxConfigurations + 1L ? MaxConfigurations + 1L : n * a.Values.Length);
        if (total > MaxConfigurations)
            throw new SearchSpaceException($"the grid has more than {MaxConfigurations:N0} configurations");

        var configurations = new List<IReadOnlyDictionary<string, object?>>((int)total);
        var index = new int[axes.Count];
        while (true)
        {
            var configuration = new Dictionary<string, object?>(StringComparer.Ordinal);
            for (var a = 0; a < axes.Count; a++) configuration[axes[a].Name] = axes[a].Values[index[a]];
            configurations.Add(configuration);
            var k = axes.Count - 1;
            while (k >= 0 && ++index[k] == axes[k].Values.Length) index[k--] = 0;
            if (k < 0) break;
        }
        (Seed, _configurations, EnumerationKey) = Finish(configurations, seed, shuffle);
        foreach (var (name, list) in axes) _valuesByName[name] = [.. list];
    }

    /// <summary>
    /// A grid over a declarative space: exactly the configurations the space can produce, with conditions, exclusive
    /// branches and repeat blocks honoured. Categorical and int parameters contribute every value, floats every step;
    /// derived values are computed when the trial runs, not enumerated.
    /// </summary>
    /// <param name="space">The space to enumerate; a continuous float (no step) throws <see cref="SearchSpaceException"/> naming it.</param>
    /// <param name="seed">Seed for <paramref name="shuffle"/> and for drawing a parameter that an enqueued trial left out.</param>
    /// <param name="shuffle">Run the configurations in a random (seeded) order instead of the declared one.</param>
    public GridSampler(SearchSpace space, int? seed = null, bool shuffle = false)
    {
        ArgumentNullException.ThrowIfNull(space);
        var configurations = EnumerateSpace(space);
        (Seed, _configurations, EnumerationKey) = Finish(configurations, seed, shuffle);
        foreach (var configuration in configurations)
            foreach (var (name, value) in configuration)
            {
                if (!_valuesByName.TryGetValue(name, out var list)) _valuesByName[name] = list = [];
                if (!list.Any(v => ParamValues.AreEqual(v, value))) list.Add(value);
            }
    }

    /// <inheritdoc />
    public int? Seed { get; }

    /// <inheritdoc />
    public string Name => "grid";

    /// <inheritdoc />
    public bool UsesHistory => false;

    /// <inheritdoc />
    public string EnumerationKey { get; }

    /// <summary>How many configurations the grid has.</summary>
    public int Count => _configurations.Count;

    /// <inheritdoc />
    public IReadOnlyList<IReadOnlyDictionary<string, object?>> EnumerateConfigurations() => _configurations;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Distribution> InferRelativeSearchSpace(SamplingContext context) => NoSpace;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, object?> SampleRelative(SamplingContext context, IReadOnlyDictionary<string, Distribution> searchSpace) => NoValues;

    /// <summary>
    /// Grid trials carry all their values, so this is reached only for a trial enqueued by hand without some grid
    /// parameter (it gets a random grid value) or for a parameter the grid does not know (an error naming it).
    /// </summary>
    public object? SampleIndependent(SamplingContext context, string name, Distribution distribution)
    {
        if (!_valuesByName.TryGetValue(name, out var values))
            throw new SearchSpaceException(name, "is not in the grid: give it grid values or a step, or fix it with a constant");
        var candidates = values.Where(distribution.Contains).ToList();
        if (candidates.Count == 0)
            throw new SearchSpaceException(name, $"none of its grid values is in {distribution.Describe()}");
        return candidates[context.Random.Next(candidates.Count)];
    }

    private static (int?, IReadOnlyList<IReadOnlyDictionary<string, object?>>, string) Finish(
        List<IReadOnlyDictionary<string, object?>> configurations, int? seed, bool shuffle)
    {
        // The key ignores order (parameters and configurations), so a shuffled or re-declared grid over the same
        // configurations is recognised as already enqueued when the study is resumed or joined.
        var canonical = configurations
            .Select(c => ParamValues.ToJson(c.OrderBy(kv => kv.Key, StringComparer.Ordinal)))
            .Order(StringComparer.Ordinal);
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(string.Join("\n", canonical)));
        var key = "grid:" + Convert.ToHexStringLower(hash.AsSpan(0, 16));
        if (shuffle)
        {
            var random = TrialRandom.Create(seed, 0, stream: 0x67726964);
            var array = configurations.ToArray();
            random.Shuffle(array);
            return (seed, array, key);
        }
        return (seed, configurations, key);
    }

    // Replays the space's own walk once per configuration, choosing the next untried combination of values each time
    // (an odometer over the choices met along the walk), so conditions, branches, repeat counts and derived values
    // behave exactly as they do when a trial runs.
    private static List<IReadOnlyDictionary<string, object?>> EnumerateSpace(SearchSpace space)
    {
        var configurations = new List<IReadOnlyDictionary<string, object?>>();
        var prefix = new List<int>();
        while (true)
        {
            var walker = new GridWalker(prefix);
            space.Sample(walker);
            configurations.Add(walker.Values.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal));
            if (configurations.Count > MaxConfigurations)
                throw new SearchSpaceException($"the grid has more than {MaxConfigurations:N0} configurations");
            var p = walker.Choices.Count - 1;
            while (p >= 0 && walker.Choices[p].Index + 1 >= walker.Choices[p].Count) p--;
            if (p < 0) return configurations;
            prefix = walker.Choices.Take(p).Select(c => c.Index).Append(walker.Choices[p].Index + 1).ToList();
        }
    }

    /// <summary>The values a grid takes for one distribution.</summary>
    internal static IReadOnlyList<object?> GridValues(string name, Distribution distribution)
    {
        switch (distribution)
        {
            case CategoricalDistribution c:
                return c.Choices;
            case IntDistribution i:
                if (i.Count > MaxConfigurations)
                    throw new SearchSpaceException(name, $"has {i.Count:N0} values, too many for a grid");
                var ints = new object?[i.Count];
                for (var k = 0L; k < i.Count; k++) ints[k] = i.Low + k * i.Step;
                return ints;
            case FloatDistribution f when f.Low == f.High:
                return [f.Low];
            case FloatDistribution { Step: { } step } f:
                var count = (long)Math.Round((f.High - f.Low) / step) + 1;
                if (count > MaxConfigurations)
                    throw new SearchSpaceException(name, $"has {count:N0} steps, too many for a grid");
                var floats = new object?[count];
                for (var k = 0L; k < count; k++)
                {
                    var raw = k == count - 1 ? f.High : f.Low + k * step;
                    // Drop binary noise (0.30000000000000004 → 0.3) when the short form is still on the grid.
                    var tidy = double.Parse(raw.ToString("G15", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
                    floats[k] = f.Contains(tidy) ? tidy : raw;
                }
                return floats;
            case FloatDistribution:
                throw new SearchSpaceException(name, "is a continuous float, which a grid cannot enumerate: give it a step or explicit grid values");
            default:
                throw new ArgumentException($"unknown distribution {distribution.GetType().Name}", nameof(distribution));
        }
    }

    private sealed class GridWalker(List<int> prefix) : IParameterSuggester
    {
        public List<(int Index, int Count)> Choices { get; } = [];
        public List<KeyValuePair<string, object?>> Values { get; } = [];

        public object? Suggest(string name, Distribution distribution)
        {
            var options = GridValues(name, distribution);
            var index = Choices.Count < prefix.Count ? prefix[Choices.Count] : 0;
            Choices.Add((index, options.Count));
            var value = options[index];
            Values.Add(new(name, value));
            return value;
        }

        public void SetDerived(string name, object? value) { }
    }
}
