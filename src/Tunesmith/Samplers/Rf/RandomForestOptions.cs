using Tunesmith.Spaces;

namespace Tunesmith.Samplers.Rf;

/// <summary>
/// Settings of the <see cref="RandomForestSampler"/> (SMAC-style random-forest Bayesian optimization). Defaults follow
/// SMAC's for hyperparameter optimization; invalid values fail at construction of the sampler, naming the option.
/// </summary>
public sealed record RandomForestOptions
{
    /// <summary>Seed for reproducible runs; null for a random one. Default null.</summary>
    public int? Seed { get; init; }

    /// <summary>Trials drawn at random before the forest takes over. Default 8; at least 2.</summary>
    public int StartupTrials { get; init; } = 8;

    /// <summary>Trees in the forest. Default 10 (SMAC's).</summary>
    public int Trees { get; init; } = 10;

    /// <summary>A node with fewer rows than this becomes a leaf. Default 3.</summary>
    public int MinSamplesSplit { get; init; } = 3;

    /// <summary>The fewest rows a leaf may hold. Default 1.</summary>
    public int MinSamplesLeaf { get; init; } = 1;

    /// <summary>Deepest a tree may grow. Default 20.</summary>
    public int MaxDepth { get; init; } = 20;

    /// <summary>Share of the features considered at each split, in (0, 1]. Default 5/6 (SMAC's).</summary>
    public double FeatureFraction { get; init; } = 5.0 / 6.0;

    /// <summary>Grow each tree on a bootstrap sample of the trials. Default true.</summary>
    public bool Bootstrap { get; init; } = true;

    /// <summary>
    /// Model the objective on a log scale of its distance from the best value when its values are heavy-tailed (the worst
    /// more than 5 median gaps from the best), as SMAC does for run times. Default true.
    /// </summary>
    public bool LogTransform { get; init; } = true;

    /// <summary>Random configurations scored by expected improvement per proposal. Default 500.</summary>
    public int RandomCandidates { get; init; } = 500;

    /// <summary>Local searches per proposal, started from the best trials (and the best random candidates). Default 10.</summary>
    public int LocalSearchStarts { get; init; } = 10;

    /// <summary>
    /// Chance that a proposal is a random configuration instead of the expected-improvement maximizer: SMAC's interleaved
    /// random configurations, which keep the forest's blind spots explored. Default 0.1; in [0, 1).
    /// </summary>
    public double RandomProposalRate { get; init; } = 0.1;

    /// <summary>
    /// Chance that a proposal explores a pair of categorical values (for spaces with at least two categorical parameters):
    /// among every value pair of every two categorical parameters, the pair with the lowest Thompson draw of what it could
    /// reach is fixed — its best value so far minus |N(0,1)| × the spread of all values (median − best) × √(ln trials / its
    /// trials), a pair never tried first — and expected improvement chooses the rest. Best values that need two categories
    /// changed at once (an activation that only pays with a matching normalisation) are found this way where one-at-a-time
    /// moves never go. Default 0 (off); in [0, 1].
    /// </summary>
    public double CategoryPairRate { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (StartupTrials < 2) throw new ArgumentException($"rf option n_startup_trials must be at least 2, got {StartupTrials}");
        if (Trees < 1) throw new ArgumentException($"rf option n_trees must be at least 1, got {Trees}");
        if (MinSamplesSplit < 2) throw new ArgumentException($"rf option min_samples_split must be at least 2, got {MinSamplesSplit}");
        if (MinSamplesLeaf < 1) throw new ArgumentException($"rf option min_samples_leaf must be at least 1, got {MinSamplesLeaf}");
        if (MaxDepth < 1) throw new ArgumentException($"rf option max_depth must be at least 1, got {MaxDepth}");
        if (!(FeatureFraction > 0 && FeatureFraction <= 1)) throw new ArgumentException($"rf option feature_fraction must be in (0, 1], got {FeatureFraction}");
        if (RandomCandidates < 1) throw new ArgumentException($"rf option n_random_candidates must be at least 1, got {RandomCandidates}");
        if (LocalSearchStarts < 0) throw new ArgumentException($"rf option n_local_search_starts must be at least 0, got {LocalSearchStarts}");
        if (!(RandomProposalRate >= 0 && RandomProposalRate < 1)) throw new ArgumentException($"rf option random_proposal_rate must be in [0, 1), got {RandomProposalRate}");
        if (!(CategoryPairRate >= 0 && CategoryPairRate <= 1)) throw new ArgumentException($"rf option category_pair_rate must be in [0, 1], got {CategoryPairRate}");
    }

    /// <summary>The study-file keys <see cref="FromStudyFile"/> accepts.</summary>
    public static IReadOnlyList<string> StudyFileKeys { get; } =
    [
        "seed", "n_startup_trials", "n_trees", "min_samples_split", "min_samples_leaf", "max_depth", "feature_fraction", "bootstrap",
        "log_transform", "n_random_candidates", "n_local_search_starts", "random_proposal_rate", "category_pair_rate",
    ];

    /// <summary>
    /// Reads options written in snake_case in a study file (<c>sampler: { rf: { n_trees: 20 } }</c>). Throws
    /// <see cref="ArgumentException"/> naming an unknown option or a bad value.
    /// </summary>
    public static RandomForestOptions FromStudyFile(IReadOnlyDictionary<string, object?> options, int? seed = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var result = new RandomForestOptions { Seed = seed };
        foreach (var (key, value) in options)
        {
            result = key switch
            {
                "seed" => result with { Seed = Int(key, value) },
                "n_startup_trials" => result with { StartupTrials = Int(key, value) },
                "n_trees" => result with { Trees = Int(key, value) },
                "min_samples_split" => result with { MinSamplesSplit = Int(key, value) },
                "min_samples_leaf" => result with { MinSamplesLeaf = Int(key, value) },
                "max_depth" => result with { MaxDepth = Int(key, value) },
                "feature_fraction" => result with { FeatureFraction = Real(key, value) },
                "bootstrap" => result with { Bootstrap = Bool(key, value) },
                "log_transform" => result with { LogTransform = Bool(key, value) },
                "n_random_candidates" => result with { RandomCandidates = Int(key, value) },
                "n_local_search_starts" => result with { LocalSearchStarts = Int(key, value) },
                "random_proposal_rate" => result with { RandomProposalRate = Real(key, value) },
                "category_pair_rate" => result with { CategoryPairRate = Real(key, value) },
                _ => throw new ArgumentException($"unknown rf option '{key}' (known: {string.Join(", ", StudyFileKeys)})"),
            };
        }
        result.Validate();
        return result;
    }

    private static int Int(string key, object? value) => ParamValues.TryToLong(value, out var l) && l is >= int.MinValue and <= int.MaxValue
        ? (int)l
        : throw new ArgumentException($"rf option {key}: expected an integer, got {ParamValues.Format(value)}");

    private static double Real(string key, object? value) => ParamValues.TryToDouble(value, out var d) && value is not string
        ? d
        : throw new ArgumentException($"rf option {key}: expected a number, got {ParamValues.Format(value)}");

    private static bool Bool(string key, object? value) => value switch
    {
        bool b => b,
        string s when bool.TryParse(s, out var b) => b,
        _ => throw new ArgumentException($"rf option {key}: expected true or false, got {ParamValues.Format(value)}"),
    };
}
