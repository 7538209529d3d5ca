using System.Runtime.CompilerServices;
using Tunesmith.Spaces;

namespace Tunesmith.Samplers.Sobol;

/// <summary>
/// Quasi-random search: trial n takes point n of a scrambled Sobol sequence, so the points cover the space more evenly
/// than independent random draws. The joint space is the declarative <see cref="SearchSpace"/> given to the constructor
/// (every parameter it can produce, a dimension each), or else the parameters every completed trial shares.
/// Because the point is a function of the trial number and the seed only, parallel workers and processes get distinct
/// points and a seed reproduces the run. Parameters outside the joint space are drawn at random.
/// </summary>
public sealed class SobolSampler : ISampler
{
    private static readonly IReadOnlyDictionary<string, object?> NoValues = new Dictionary<string, object?>();

    private readonly SobolSequence _sequence;
    private readonly IReadOnlyDictionary<string, Distribution>? _declaredSpace;
    private readonly Dictionary<(string Name, Distribution Distribution), int>? _declaredDimensions;
    private readonly ConditionalWeakTable<StudyHistory, IntersectionSearchSpace> _intersections = new();

    /// <summary>Creates a Sobol sampler.</summary>
    /// <param name="seed">Seed of the scramble and of the random fallback draws; null for a random one.</param>
    /// <param name="space">The study's declarative space, when known: its parameters are sampled jointly from the first trial on.</param>
    /// <param name="scramble">False uses the plain Sobol sequence (its first point is the origin).</param>
    public SobolSampler(int? seed = null, SearchSpace? space = null, bool scramble = true)
    {
        Seed = seed;
        _sequence = new SobolSequence(SobolSequence.MaxDimensions, seed ?? Random.Shared.Next(), scramble);
        if (space is null) return;
        // A name shared by exclusive branches with different distributions gets a dimension per distribution.
        _declaredDimensions = [];
        var declared = new Dictionary<string, Distribution>(StringComparer.Ordinal);
        foreach (var (name, distribution, _) in space.Flatten())
        {
            if (distribution.IsSingle || _declaredDimensions.ContainsKey((name, distribution))) continue;
            _declaredDimensions[(name, distribution)] = _declaredDimensions.Count;
            declared.TryAdd(name, distribution);
        }
        _declaredSpace = declared;
    }

    /// <inheritdoc />
    public int? Seed { get; }

    /// <inheritdoc />
    public string Name => "sobol";

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Distribution> InferRelativeSearchSpace(SamplingContext context)
    {
        if (_declaredSpace is not null) return _declaredSpace;
        var intersection = _intersections.GetValue(context.History, _ => new IntersectionSearchSpace());
        IReadOnlyDictionary<string, Distribution> space;
        lock (intersection) space = intersection.Calculate(context.History);
        return space.Where(kv => !kv.Value.IsSingle).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, object?> SampleRelative(SamplingContext context, IReadOnlyDictionary<string, Distribution> searchSpace)
    {
        if (searchSpace.Count == 0) return NoValues;
        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        var dimension = 0;
        // Names are in a stable order (declaration order, or sorted by name for the intersection).
        foreach (var (name, distribution) in searchSpace)
        {
            var d = _declaredDimensions is not null && _declaredDimensions.TryGetValue((name, distribution), out var declared) ? declared : dimension;
            dimension++;
            if (d >= _sequence.Dimensions) continue; // beyond the table: drawn at random when suggested
            values[name] = FromUnit(distribution, _sequence.Coordinate(context.Trial.Number, d));
        }
        return values;
    }

    /// <inheritdoc />
    public object? SampleIndependent(SamplingContext context, string name, Distribution distribution)
    {
        if (_declaredDimensions is not null && _declaredDimensions.TryGetValue((name, distribution), out var d) && d < _sequence.Dimensions)
            return FromUnit(distribution, _sequence.Coordinate(context.Trial.Number, d));
        return RandomSampler.DrawUniform(context.Random, distribution);
    }

    /// <summary>Maps a position in [0, 1) onto a distribution: through <c>FromUnit</c> for numbers, choice ⌊u·k⌋ for a categorical.</summary>
    public static object? FromUnit(Distribution distribution, double u) => distribution switch
    {
        FloatDistribution f => f.FromUnit(u),
        IntDistribution i => i.FromUnit(u),
        CategoricalDistribution c => c.Choices[Math.Clamp((int)Math.Floor(u * c.Choices.Count), 0, c.Choices.Count - 1)],
        _ => throw new ArgumentException($"unknown distribution {distribution.GetType().Name}", nameof(distribution)),
    };
}
