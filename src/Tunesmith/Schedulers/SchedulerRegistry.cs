using Tunesmith.Schedulers.Asha;
using Tunesmith.Schedulers.Hyperband;
using Tunesmith.Schedulers.MedianStopping;
using Tunesmith.Schedulers.Pbt;
using Tunesmith.Spaces.Spec;

namespace Tunesmith.Schedulers;

/// <summary>Builds schedulers by name, as study files (<c>scheduler: { asha: { min: 1, max: 27 } }</c>) and the CLI name them.</summary>
public static class SchedulerRegistry
{
    /// <summary>The names <see cref="Create"/> accepts; <c>none</c> means no scheduler.</summary>
    public static IReadOnlyList<string> Names { get; } = ["none", "median", "percentile", "asha", "hyperband", "pbt"];

    /// <summary>
    /// Builds the scheduler called <paramref name="name"/> from its study-file options (snake_case keys; null: defaults);
    /// null for <c>none</c>. Throws <see cref="ArgumentException"/> with a one-line message naming an unknown scheduler or option.
    /// </summary>
    public static IScheduler? Create(string name, IReadOnlyDictionary<string, object?>? options = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.ToLowerInvariant() switch
        {
            "none" => options is { Count: > 0 } ? throw new ArgumentException("scheduler 'none' takes no options") : null,
            "median" => new MedianStoppingScheduler(MedianStoppingOptions.FromStudyFile(options, "median")),
            "percentile" => new MedianStoppingScheduler(MedianStoppingOptions.FromStudyFile(options, "percentile")),
            "asha" => new AshaScheduler(AshaOptions.FromStudyFile(options)),
            "hyperband" => new HyperbandScheduler(HyperbandOptions.FromStudyFile(options)),
            "pbt" => new PbtScheduler(PbtOptions.FromStudyFile(options)),
            _ => throw new ArgumentException($"unknown scheduler '{name}'{ClosestName.Suggest(name, Names)} (known: {string.Join(", ", Names)})"),
        };
    }
}
