using Tunesmith.Spaces.Spec;
using System.Globalization;

namespace Tunesmith.Samplers.Gp;

/// <summary>
/// Options of <see cref="GpSampler"/>. Defaults suit continuous and integer spaces of up to ~20 dimensions and a few
/// hundred trials; invalid values fail at construction of the sampler, naming the option.
/// </summary>
public sealed record GpOptions
{
    /// <summary>Trials drawn at random before the Gaussian process is fitted (default 10; at least 2).</summary>
    public int NStartupTrials { get; init; } = 10;

    /// <summary>Random candidates scored by the acquisition function before the best few are refined (default 2,048).</summary>
    public int CandidateCount { get; init; } = 2048;

    /// <summary>How many of the best candidates are refined by gradient ascent (default 5).</summary>
    public int RefinementStarts { get; init; } = 5;

    /// <summary>
    /// The most observations the process is conditioned on (default 300): beyond it the best third and the most recent
    /// rest are kept, so an ask costs the same at 300 and at 30,000 trials.
    /// </summary>
    public int MaxTrainingPoints { get; init; } = 300;

    /// <summary>The most observations the kernel hyperparameters are fitted on (default 100), chosen as for <see cref="MaxTrainingPoints"/>.</summary>
    public int MaxFitPoints { get; init; } = 100;

    /// <summary>
    /// Whether the objective returns the same value for the same parameters (default false). True lets the noise shrink
    /// to its floor, which sharpens exploitation on exact functions; leave it false for training runs.
    /// </summary>
    public bool DeterministicObjective { get; init; }

    /// <summary>
    /// Every this many trials (by trial number; default 10, 0 turns it off), when the best trial so far has a numeric
    /// parameter at an end of its range that the last fit finds nearly flat (a length scale of at least one range
    /// width), the proposal is that trial with the parameter redrawn uniformly over its range instead of the
    /// acquisition's choice: a coordinate the good trials hold only at its ends can look flat to the model, which then
    /// never takes it back inside (docs/GP.md). Costs at most one trial in this many, and only then.
    /// </summary>
    public int EdgeRedrawInterval { get; init; } = 10;

    /// <summary>
    /// Every this many trials (by trial number; default 0, off), in a space with a categorical
    /// parameter, the proposal comes from a category bandit instead of the joint process: each choice is valued by the
    /// largest expected improvement that a GP fitted to that choice's own trials finds, and the proposal is the leading
    /// choice's own maximiser (a choice with fewer than 5 trials first gets space-filling draws of its own), so a category
    /// starved early is judged and searched on its own evidence, never with numeric values borrowed from another category
    /// (docs/GP.md).
    /// </summary>
    public int CategoryExploreInterval { get; init; }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid property (<c>GpOptions.NStartupTrials must be at least 2</c>).</summary>
    public void Validate() => Validate(new OptionRules("sampler 'gp'", nameof(GpOptions), null));

    // The study-file key of each property Validate checks.
    private static readonly Dictionary<string, string> KeyOf = new()
    {
        [nameof(NStartupTrials)] = "n_startup_trials", [nameof(CandidateCount)] = "candidate_count", [nameof(RefinementStarts)] = "refinement_starts",
        [nameof(MaxTrainingPoints)] = "max_training_points", [nameof(MaxFitPoints)] = "max_fit_points",
        [nameof(EdgeRedrawInterval)] = "edge_redraw_interval", [nameof(CategoryExploreInterval)] = "category_explore_interval",
    };

    internal void Validate(OptionRules rules)
    {
        rules.Require(NStartupTrials >= 2, nameof(NStartupTrials), NStartupTrials, "must be at least 2");
        rules.Require(CandidateCount >= 1, nameof(CandidateCount), CandidateCount, "must be at least 1");
        rules.Require(RefinementStarts >= 0, nameof(RefinementStarts), RefinementStarts, "must be at least 0");
        rules.Require(MaxTrainingPoints >= 10, nameof(MaxTrainingPoints), MaxTrainingPoints, "must be at least 10");
        rules.Require(MaxFitPoints >= 10, nameof(MaxFitPoints), MaxFitPoints, "must be at least 10");
        rules.Require(EdgeRedrawInterval >= 0, nameof(EdgeRedrawInterval), EdgeRedrawInterval, "must be at least 0 (0 turns it off)");
        rules.Require(CategoryExploreInterval >= 0, nameof(CategoryExploreInterval), CategoryExploreInterval, "must be at least 0 (0 turns it off)");
    }

    /// <summary>The keys of a study file's <c>gp:</c> section: the GP's own, and those the registry reads beside them (<c>rugged_*</c>, the branch keys).</summary>
    internal static readonly string[] StudyFileKeys =
    [
        "n_startup_trials", "candidate_count", "refinement_starts", "max_training_points", "max_fit_points", "deterministic_objective",
        "edge_redraw_interval", "category_explore_interval", "seed", .. Portfolio.RuggedFallbackOptions.StudyFileKeys, .. Branches.BranchAwareOptions.StudyFileKeys,
    ];

    /// <summary>
    /// Reads options written in snake_case in a study file (<c>n_startup_trials</c>, <c>candidate_count</c>,
    /// <c>refinement_starts</c>, <c>max_training_points</c>, <c>max_fit_points</c>, <c>deterministic_objective</c>,
    /// <c>edge_redraw_interval</c>, <c>category_explore_interval</c>);
    /// <c>seed</c> is accepted and left to the caller. Throws <see cref="ArgumentException"/> naming an unknown option or a bad value.
    /// </summary>
    public static GpOptions FromDictionary(IReadOnlyDictionary<string, object?> options)
    {
        var result = new GpOptions();
        foreach (var (key, value) in options)
        {
            result = key switch
            {
                "n_startup_trials" => result with { NStartupTrials = ReadInt(key, value) },
                "candidate_count" => result with { CandidateCount = ReadInt(key, value) },
                "refinement_starts" => result with { RefinementStarts = ReadInt(key, value) },
                "max_training_points" => result with { MaxTrainingPoints = ReadInt(key, value) },
                "max_fit_points" => result with { MaxFitPoints = ReadInt(key, value) },
                "deterministic_objective" => result with { DeterministicObjective = ReadBool(key, value) },
                "edge_redraw_interval" => result with { EdgeRedrawInterval = ReadInt(key, value) },
                "category_explore_interval" => result with { CategoryExploreInterval = ReadInt(key, value) },
                "seed" => result,
                _ => throw OptionErrors.Unknown("sampler 'gp'", key, StudyFileKeys),
            };
        }
        result.Validate(new OptionRules("sampler 'gp'", nameof(GpOptions), KeyOf));
        return result;
    }

    private static int ReadInt(string key, object? value) => value switch
    {
        int i => i,
        long l and >= int.MinValue and <= int.MaxValue => (int)l,
        double d when d == Math.Floor(d) && Math.Abs(d) < int.MaxValue => (int)d,
        string s when int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var p) => p,
        _ => throw new ArgumentException($"sampler 'gp': option '{key}' must be an integer, got '{value}'"),
    };

    private static bool ReadBool(string key, object? value) => value switch
    {
        bool b => b,
        string s when bool.TryParse(s, out var p) => p,
        _ => throw new ArgumentException($"sampler 'gp': option '{key}' must be true or false, got '{value}'"),
    };
}
