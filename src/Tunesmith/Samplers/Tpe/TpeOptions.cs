using Tunesmith.Spaces.Spec;

namespace Tunesmith.Samplers.Tpe;

/// <summary>
/// Settings of the <see cref="TpeSampler"/>. Every property has a default tuned on the quality benchmark
/// (bench/, <c>docs/BENCHMARKS.md</c>); invalid values fail at construction with the property's name.
/// </summary>
public sealed record TpeOptions
{
    /// <summary>Seed for reproducible runs; null for a random one. Default null.</summary>
    public int? Seed { get; init; }

    /// <summary>
    /// Trials drawn at random before the model takes over (Complete or Pruned trials counted). Default 6 (Optuna uses 10):
    /// the prior kernel keeps exploring, so the model can start earlier; chosen on the quality benchmark with held-out seeds (docs/TPE.md).
    /// </summary>
    public int StartupTrials { get; init; } = 6;

    /// <summary>Candidates drawn from the "good" density per proposal; the one with the best density ratio wins. Default 24.</summary>
    public int EiCandidates { get; init; } = 24;

    /// <summary>
    /// Model the parameters jointly (one kernel per trial over all of them) rather than one at a time. Joint kernels keep the
    /// correlations between parameters that the univariate model throws away. Default true.
    /// </summary>
    public bool Multivariate { get; init; } = true;

    /// <summary>
    /// With <see cref="Multivariate"/>: split the space into groups of parameters that always appear together (the
    /// branches of a conditional space) and model each group jointly over the trials that have it. Default false.
    /// </summary>
    public bool Group { get; init; }

    /// <summary>
    /// Treat running trials as if they had the worst value, so that workers asking at the same time are pushed away from
    /// each other's points instead of all proposing the same one. Default true.
    /// </summary>
    public bool ConstantLiar { get; init; } = true;

    /// <summary>Weight of the broad prior kernel (the box centre, as wide as the box) in both densities; 0 drops it. Default 1.</summary>
    public double PriorWeight { get; init; } = 1.0;

    /// <summary>Keep every kernel at least 1/min(100, kernels + 1) of the range wide, so a cluster cannot collapse onto a point. Default true.</summary>
    public bool ConsiderMagicClip { get; init; } = true;

    /// <summary>Univariate bandwidths: let the box edges count as neighbours of the outermost observations. Default false.</summary>
    public bool ConsiderEndpoints { get; init; }

    /// <summary>
    /// Joint kernels take one Scott-rule bandwidth per dimension (<see cref="BandwidthFactor"/>) instead of the neighbour
    /// rule (study file: <c>scott_bandwidth</c>). Default false: the neighbour rule adapts to where observations cluster.
    /// With several categorical parameters the broad kernels help: narrow numeric kernels around the refined trials of one
    /// combination of categories outweigh the categories in the density ratio (docs/TPE.md).
    /// </summary>
    public bool ScottBandwidth { get; init; }

    /// <summary>Scales the neighbour-rule bandwidths (below 1 exploits more, above 1 explores more). Default 1.</summary>
    public double BandwidthScale { get; init; } = 1.0;

    /// <summary>
    /// Extra weight for the better members of the "good" group: the best gets 1 + this, the worst of the group 1, linearly
    /// by rank, so candidates cluster nearer the best trials. Default 20 (0 gives every good trial the same weight, as Optuna
    /// does); chosen on the quality benchmark with held-out seeds.
    /// </summary>
    public double RankWeighting { get; init; } = 20;

    /// <summary>
    /// Least weight a categorical kernel gives each choice it did not observe (relative to 1 for the observed one), so the
    /// other choices keep being tried as the history grows. Default 0 (only the prior weight spreads).
    /// </summary>
    public double CategoricalSpread { get; init; }

    /// <summary>Least bandwidth of an integer or stepped kernel, in cells (steps). Default 0.</summary>
    public double DiscreteMinBandwidth { get; init; }

    /// <summary>
    /// With <see cref="Multivariate"/>: the fraction of candidates drawn dimension by dimension from different good
    /// kernels (a crossover of good trials) rather than from one kernel. Default 0.
    /// </summary>
    public double RecombinedCandidates { get; init; }

    /// <summary>Multivariate bandwidth: factor × n^(−1/(d+4)) of the range (a Scott-like rule). Default 0.2.</summary>
    public double BandwidthFactor { get; init; } = 0.2;

    /// <summary>
    /// With <see cref="Multivariate"/>: the chance that each numeric parameter of a candidate keeps the exact value of the
    /// good trial the candidate is drawn around (at least one parameter always moves). Candidates then change a few
    /// coordinates of a good trial at a time, a move that drawing every coordinate from its kernel seldom makes in many
    /// dimensions. Default 0.2, chosen on the quality benchmark with 300 held-out seeds; 0 draws every coordinate.
    /// </summary>
    public double CoordinateKeepRate { get; init; } = 0.2;

    /// <summary>
    /// Fraction of the Complete trials that form the "good" group: ceil(Gamma × n), capped by <see cref="MaxGood"/>.
    /// Default 0.2 (Optuna uses 0.1): with <see cref="RankWeighting"/> the larger group keeps diversity while the best
    /// members still dominate the proposals.
    /// </summary>
    public double Gamma { get; init; } = 0.2;

    /// <summary>
    /// Score candidates with continuous kernels at their height rather than their density (no 1/σ factor), as Optuna
    /// 3.x did. With Scott bandwidths in many dimensions the broad prior kernel then outweighs every observation in both
    /// densities, and the ratio becomes roughly "near good trials, not near bad ones". Default false; it exists to
    /// reproduce Optuna 3.1 on the quality benchmark (docs/TPE.md).
    /// </summary>
    public bool UnnormalizedKernels { get; init; }

    /// <summary>
    /// With <see cref="Multivariate"/>: candidates for a group of two or more parameters are scored by l(x) / g(x)^this
    /// (good density over a tempered bad density). In many dimensions the bad density of candidates varies over orders
    /// of magnitude, so the plain ratio (1) mostly rewards leading away from bad trials; tempering it keeps proposals
    /// nearer the good ones. Default 0.4, chosen on the quality benchmark with 600 held-out seeds (docs/TPE.md); 0 would
    /// ignore the bad trials. A lone parameter (the univariate sampler, or a group of one such as a conditional space's
    /// branch choice) is scored by the plain ratio: there tempering did not help, and on a branch choice it locked onto
    /// the first good branch.
    /// </summary>
    public double BadDensityExponent { get; init; } = 0.4;

    /// <summary>
    /// With <see cref="BadDensityExponent"/> below 1: temper the whole bad density, categorical parameters included, as
    /// before 2026-12-07. Default false: in a joint group of two or more categorical parameters only the numeric part is
    /// tempered (the bad density of the candidate's numeric values given its categories), and the categories are scored by
    /// the plain ratio of the good and bad trials' shares. Tempering the categories made such a group settle on the first
    /// good combination for good (docs/TPE.md, "Categorical parameters in a joint group"); a group with one categorical
    /// parameter, or none, is tempered whole either way.
    /// </summary>
    public bool TemperCategoricals { get; init; }

    /// <summary>
    /// With <see cref="Multivariate"/>, for a group of two or more categorical parameters: the chance that a proposal is a
    /// category move (study file: <c>category_move_rate</c>). Its candidates are the best trial with the values of one or
    /// two categorical parameters changed, each with the best trial's numbers and with those of the best trial that has
    /// the new values, leaving out points already tried; the density ratio picks among them. When two categories only pay
    /// off together, candidates drawn from the good density almost never change both. Default 0; <c>auto</c> sets 0.5
    /// for spaces of several categorical parameters (docs/TPE.md); in [0, 1].
    /// </summary>
    public double CategoryMoveRate { get; init; }

    /// <summary>
    /// With <see cref="CategoryMoveRate"/>: a category move considers only the candidates whose combination of categories
    /// no trial (finished or running) has had yet, while any is left; the density ratio picks among them (study file:
    /// <c>untried_combinations_first</c>). Without it the ratio keeps choosing the combinations next to the best trial
    /// that already did well, with new numbers, and a pair of categories that is bad one at a time but good together (selu
    /// with no normalization) waits. Default false; <c>auto</c> sets it for spaces of several categorical parameters
    /// (docs/TPE.md, "A share of GP proposals, and untried combinations first").
    /// </summary>
    public bool UntriedCombinationsFirst { get; init; }

    /// <summary>Most trials in the "good" group. Default 40.</summary>
    public int MaxGood { get; init; } = 40;

    /// <summary>
    /// Give older observations less weight once there are more than 25 (a linear ramp up to the newest 25), so the model
    /// follows where the search is now. Default true.
    /// </summary>
    public bool DecayOldObservations { get; init; } = true;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid property (<c>TpeOptions.Gamma must be in (0, 1]</c>).</summary>
    public void Validate() => Validate(new OptionRules("sampler 'tpe'", nameof(TpeOptions), null));

    // The study-file key of each property Validate checks.
    private static readonly Dictionary<string, string> KeyOf = new()
    {
        [nameof(StartupTrials)] = "n_startup_trials", [nameof(EiCandidates)] = "n_ei_candidates", [nameof(PriorWeight)] = "prior_weight",
        [nameof(Gamma)] = "gamma", [nameof(MaxGood)] = "max_good", [nameof(CategoryMoveRate)] = "category_move_rate", [nameof(Group)] = "group",
    };

    internal void Validate(OptionRules rules)
    {
        rules.Require(StartupTrials >= 0, nameof(StartupTrials), StartupTrials, "must be ≥ 0");
        rules.Require(EiCandidates >= 1, nameof(EiCandidates), EiCandidates, "must be ≥ 1");
        rules.Require(PriorWeight >= 0 && !double.IsInfinity(PriorWeight), nameof(PriorWeight), PriorWeight, "must be a finite number ≥ 0");
        rules.Require(BadDensityExponent >= 0 && !double.IsInfinity(BadDensityExponent), nameof(BadDensityExponent), BadDensityExponent, "must be a finite number ≥ 0");
        rules.Require(BandwidthFactor > 0 && !double.IsInfinity(BandwidthFactor), nameof(BandwidthFactor), BandwidthFactor, "must be a finite number > 0");
        rules.Require(Gamma > 0 && Gamma <= 1, nameof(Gamma), Gamma, "must be in (0, 1]");
        rules.Require(MaxGood >= 1, nameof(MaxGood), MaxGood, "must be ≥ 1");
        rules.Require(CoordinateKeepRate >= 0 && CoordinateKeepRate < 1, nameof(CoordinateKeepRate), CoordinateKeepRate, "must be in [0, 1)");
        rules.Require(CategoryMoveRate >= 0 && CategoryMoveRate <= 1, nameof(CategoryMoveRate), CategoryMoveRate, "must be in [0, 1]");
        rules.Require(!Group || Multivariate, nameof(Group), Group, "needs multivariate sampling");
    }

    /// <summary>
    /// Reads options as a study file spells them (snake_case: <c>n_startup_trials</c>, <c>n_ei_candidates</c>,
    /// <c>multivariate</c>, <c>group</c>, <c>constant_liar</c>, <c>prior_weight</c>, <c>gamma</c>, <c>seed</c>, ...);
    /// throws <see cref="ArgumentException"/> naming an unknown option or a value of the wrong type.
    /// </summary>
    public static TpeOptions FromStudyFile(IReadOnlyDictionary<string, object?> options, int? seed = null)
    {
        var result = new TpeOptions { Seed = seed };
        foreach (var (key, value) in options)
        {
            result = key switch
            {
                "seed" => result with { Seed = Int(key, value) },
                "n_startup_trials" => result with { StartupTrials = Int(key, value) },
                "n_ei_candidates" => result with { EiCandidates = Int(key, value) },
                "multivariate" => result with { Multivariate = Bool(key, value) },
                "group" => result with { Group = Bool(key, value) },
                "constant_liar" => result with { ConstantLiar = Bool(key, value) },
                "prior_weight" => result with { PriorWeight = Real(key, value) },
                "consider_magic_clip" => result with { ConsiderMagicClip = Bool(key, value) },
                "consider_endpoints" => result with { ConsiderEndpoints = Bool(key, value) },
                "gamma" => result with { Gamma = Real(key, value) },
                "max_good" => result with { MaxGood = Int(key, value) },
                "decay_old_observations" => result with { DecayOldObservations = Bool(key, value) },
                "scott_bandwidth" => result with { ScottBandwidth = Bool(key, value) },
                "category_move_rate" => result with { CategoryMoveRate = Real(key, value) },
                "untried_combinations_first" => result with { UntriedCombinationsFirst = Bool(key, value) },
                _ => throw OptionErrors.Unknown("sampler 'tpe'", key, StudyFileKeys),
            };
        }
        // A group decomposition only makes sense for joint sampling; asking for it implies multivariate.
        if (result.Group && !options.ContainsKey("multivariate")) result = result with { Multivariate = true };
        result.Validate(new OptionRules("sampler 'tpe'", nameof(TpeOptions), KeyOf));
        return result;
    }

    /// <summary>The keys <see cref="FromStudyFile"/> reads, and those the registry reads beside them (<c>gp_share</c>, the branch keys).</summary>
    internal static readonly string[] StudyFileKeys =
    [
        "seed", "n_startup_trials", "n_ei_candidates", "multivariate", "group", "constant_liar", "prior_weight", "consider_magic_clip",
        "consider_endpoints", "gamma", "max_good", "decay_old_observations", "scott_bandwidth", "category_move_rate", "untried_combinations_first",
        "gp_share", .. Branches.BranchAwareOptions.StudyFileKeys,
    ];

    private static int Int(string key, object? value) => OptionValues.Int("sampler 'tpe'", key, value);

    private static double Real(string key, object? value) => OptionValues.Real("sampler 'tpe'", key, value);

    // Stricter than OptionValues.Bool (only true/True/false/False): a study file that TPE refuses today stays refused.
    private static bool Bool(string key, object? value) => value switch
    {
        bool b => b,
        "true" or "True" => true,
        "false" or "False" => false,
        _ => throw new ArgumentException($"sampler 'tpe': option '{key}' must be true or false, got {Spaces.ParamValues.Format(value)}"),
    };

    /// <summary>How many of <paramref name="n"/> observations form the "good" group.</summary>
    internal int GoodCount(int n) => Math.Min((int)Math.Ceiling(Gamma * n), MaxGood);
}
