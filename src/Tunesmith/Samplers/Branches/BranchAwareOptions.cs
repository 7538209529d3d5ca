using Tunesmith.Spaces;
using Tunesmith.Spaces.Spec;

namespace Tunesmith.Samplers.Branches;

/// <summary>
/// Settings of <see cref="BranchAwareSampler"/>: how many trials each branch gets before the choice turns to Thompson
/// sampling, and how optimistic that sampling is about branches with few trials. Invalid values fail at construction.
/// </summary>
public sealed record BranchAwareOptions
{
    /// <summary>
    /// Trials every branch gets before any branch is preferred (the minimum share early on): a branch with fewer is chosen
    /// first, the least-tried one, ties broken at random. Default 4; at least 1.
    /// </summary>
    public int MinTrialsPerBranch { get; init; } = 4;

    /// <summary>
    /// How far a branch's reach may lie beyond its best so far, in units of its own gain: the draw is
    /// best − |N(0,1)| · (median − best) · <c>Optimism</c> · √((parameters + 1) / trials), so a branch with many parameters and few
    /// trials is valued by what its search could still find, and the optimism shrinks as the branch is explored. Default 1; ≥ 0.
    /// </summary>
    public double Optimism { get; init; } = 1.0;

    /// <summary>
    /// Also split on a categorical parameter that gates nothing when it is the space's only categorical one (a "root
    /// category" whose best numeric values differ per choice, like the quality suite's <c>mixed</c>). Default true.
    /// </summary>
    public bool RootCategorical { get; init; } = true;

    /// <summary>A parameter with more values than this is never a branch choice (an int gating a repeat counts its values). Default 12.</summary>
    public int MaxBranches { get; init; } = 12;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid property (<c>BranchAwareOptions.Optimism must be a finite number ≥ 0</c>).</summary>
    public void Validate() => Validate(new OptionRules("branch-aware search", nameof(BranchAwareOptions), null));

    // The study-file key of each property Validate checks (MaxBranches has none).
    private static readonly Dictionary<string, string> KeyOf = new()
    {
        [nameof(MinTrialsPerBranch)] = "branch_min_trials", [nameof(Optimism)] = "branch_optimism",
    };

    internal void Validate(OptionRules rules)
    {
        rules.Require(MinTrialsPerBranch >= 1, nameof(MinTrialsPerBranch), MinTrialsPerBranch, "must be at least 1");
        rules.Require(Optimism >= 0 && !double.IsInfinity(Optimism), nameof(Optimism), Optimism, "must be a finite number ≥ 0");
        rules.Require(MaxBranches >= 2, nameof(MaxBranches), MaxBranches, "must be at least 2");
    }

    /// <summary>The study-file keys a sampler's options may carry to turn branch-aware search on and tune it.</summary>
    public static IReadOnlyList<string> StudyFileKeys { get; } = ["branch_aware", "branch_min_trials", "branch_optimism", "branch_root_categorical"];

    /// <summary>
    /// Takes the branch keys out of a sampler's study-file options: null when <c>branch_aware</c> is false or absent
    /// (<paramref name="defaultOn"/> decides then), else the options. <paramref name="rest"/> is what the sampler itself reads.
    /// </summary>
    public static BranchAwareOptions? FromStudyFile(IReadOnlyDictionary<string, object?> options, string sampler, bool defaultOn,
        out IReadOnlyDictionary<string, object?> rest)
    {
        ArgumentNullException.ThrowIfNull(options);
        var result = new BranchAwareOptions();
        var on = defaultOn;
        var remaining = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in options)
        {
            switch (key)
            {
                case "branch_aware": on = Bool(sampler, key, value); break;
                case "branch_min_trials":
                    result = result with
                    {
                        MinTrialsPerBranch = ParamValues.TryToLong(value, out var l) && l is >= 1 and <= int.MaxValue ? (int)l
                            : throw new ArgumentException($"sampler '{sampler}': option '{key}' must be an integer ≥ 1, got {ParamValues.Format(value)}"),
                    };
                    break;
                case "branch_optimism":
                    result = result with
                    {
                        Optimism = OptionValues.Real($"sampler '{sampler}'", key, value),
                    };
                    break;
                case "branch_root_categorical": result = result with { RootCategorical = Bool(sampler, key, value) }; break;
                default: remaining[key] = value; break;
            }
        }
        rest = remaining;
        result.Validate(new OptionRules($"sampler '{sampler}'", nameof(BranchAwareOptions), KeyOf));
        // A branch setting without branch search would be dropped silently: say so, as gp's rugged_* options do.
        if (!on && options.Keys.FirstOrDefault(k => k != "branch_aware" && StudyFileKeys.Contains(k)) is { } stray)
            throw new ArgumentException($"sampler '{sampler}': option '{stray}' needs branch_aware: true");
        return on ? result : null;
    }

    private static bool Bool(string sampler, string key, object? value) => OptionValues.Bool($"sampler '{sampler}'", key, value);
}
