using Tunesmith.Spaces;

namespace Tunesmith.Samplers;

/// <summary>Draws every parameter independently and uniformly (in log space for log parameters).</summary>
/// <param name="seed">Seed for reproducible runs; null for a random one.</param>
public sealed class RandomSampler(int? seed = null) : ISampler
{
    private static readonly IReadOnlyDictionary<string, Distribution> NoSpace = new Dictionary<string, Distribution>();
    private static readonly IReadOnlyDictionary<string, object?> NoValues = new Dictionary<string, object?>();

    /// <inheritdoc />
    public int? Seed { get; } = seed;

    /// <inheritdoc />
    public string Name => "random";

    /// <inheritdoc />
    public bool UsesHistory => false;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Distribution> InferRelativeSearchSpace(SamplingContext context) => NoSpace;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, object?> SampleRelative(SamplingContext context, IReadOnlyDictionary<string, Distribution> searchSpace) => NoValues;

    /// <inheritdoc />
    public object? SampleIndependent(SamplingContext context, string name, Distribution distribution) =>
        DrawUniform(context.Random, distribution);

    /// <summary>One uniform draw from a distribution (shared by samplers that fall back to random).</summary>
    public static object? DrawUniform(Random random, Distribution distribution) => distribution switch
    {
        FloatDistribution f => f.FromUnit(random.NextDouble()),
        IntDistribution i => i.FromUnit(random.NextDouble()),
        CategoricalDistribution c => c.Choices[random.Next(c.Choices.Count)],
        _ => throw new ArgumentException($"unknown distribution {distribution.GetType().Name}"),
    };
}
