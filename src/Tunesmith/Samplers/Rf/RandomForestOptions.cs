using Tunesmith.Spaces;
using Tunesmith.Spaces.Spec;

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

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid property (<c>RandomForestOptions.Trees must be at least 1</c>).</summary>
    public void Validate() => Validate(new OptionRules("sampler 'rf'", nameof(RandomForestOptions), null));

    // The study-file key of each property Validate checks.
    private static readonly Dictionary<string, string> KeyOf = new()
    {
        [nameof(StartupTrials)] = "n_startup_trials", [nameof(Trees)] = "n_trees", [nameof(MinSamplesSplit)] = "min_samples_split",
        [nameof(MinSamplesLeaf)] = "min_samples_leaf", [nameof(MaxDepth)] = "max_depth", [nameof(FeatureFraction)] = "feature_fraction",
        [nameof(RandomCandidates)] = "n_random_candidates", [nameof(LocalSearchStarts)] = "n_local_search_starts",
        [nameof(RandomProposalRate)] = "random_proposal_rate", [nameof(CategoryPairRate)] = "category_pair_rate",
    };

    internal void Validate(OptionRules rules)
    {
        rules.Require(StartupTrials >= 2, nameof(StartupTrials), StartupTrials, "must be at least 2");
        rules.Require(Trees >= 1, nameof(Trees), Trees, "must be at least 1");
        rules.Require(MinSamplesSplit >= 2, nameof(MinSamplesSplit), MinSamplesSplit, "must be at least 2");
        rules.Require(MinSamplesLeaf >= 1, nameof(MinSamplesLeaf), MinSamplesLeaf, "must be at least 1");
        rules.Require(MaxDepth >= 1, nameof(MaxDepth), MaxDepth, "must be at least 1");
        rules.Require(FeatureFraction > 0 && FeatureFraction <= 1, nameof(FeatureFraction), FeatureFraction, "must be in (0, 1]");
        rules.Require(RandomCandidates >= 1, nameof(RandomCandidates), RandomCandidates, "must be at least 1");
        rules.Require(LocalSearchStarts >= 0, nameof(LocalSearchStarts), LocalSearchStarts, "must be at least 0");
        rules.Require(RandomProposalRate >= 0 && RandomProposalRate < 1, nameof(RandomProposalRate), RandomProposalRate, "must be in [0, 1)");
        rules.Require(CategoryPairRate >= 0 && CategoryPairRate <= 1, nameof(CategoryPairRate), CategoryPairRate, "must be in [0, 1]");
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
                _ => throw OptionErrors.Unknown("sampler 'rf'", key, [.. StudyFileKeys, .. Branches.BranchAwareOptions.StudyFileKeys]),
            };
        }
        result.Validate(new OptionRules("sampler 'rf'", nameof(RandomForestOptions), KeyOf));
        return result;
    }

    private static int Int(string key, object? value) => OptionValues.Int("sampler 'rf'", key, value);

    private static double Real(string key, object? value) => OptionValues.Real("sampler 'rf'", key, value);

    private static bool Bool(string key, object? value) => OptionValues.Bool("sampler 'rf'", key, value);
}
