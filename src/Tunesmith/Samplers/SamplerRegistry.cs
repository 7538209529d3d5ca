using Tunesmith.Spaces;

namespace Tunesmith.Samplers;

/// <summary>What a sampler named in a study file (or on the command line) is built from.</summary>
/// <param name="Options">The sampler's options from the study file (e.g. <c>{ n_startup_trials: 10 }</c>); keys in snake_case.</param>
/// <param name="Seed">Seed, or null.</param>
/// <param name="Space">The study's declarative search space, when known (grid search and <c>auto</c> need it).</param>
/// <param name="TrialBudget">The study's trial budget, when known (<c>auto</c> uses it).</param>
public sealed record SamplerRequest(
    IReadOnlyDictionary<string, object?> Options,
    int? Seed = null,
    SearchSpace? Space = null,
    int? TrialBudget = null);

/// <summary>Builds samplers by name, as study files and the CLI name them.</summary>
public static class SamplerRegistry
{
    /// <summary>The names <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = ["random"];

    /// <summary>Builds the sampler called <paramref name="name"/>; throws <see cref="ArgumentException"/> naming an unknown sampler or option.</summary>
    public static ISampler Create(string name, SamplerRequest request)
    {
        ISampler sampler = name.ToLowerInvariant() switch
        {
            "random" => new RandomSampler(request.Seed),
            _ => throw new ArgumentException($"unknown sampler '{name}' (known: {string.Join(", ", Names)})"),
        };
        return sampler;
    }
}
