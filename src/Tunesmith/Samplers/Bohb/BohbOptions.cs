using Tunesmith.Spaces.Spec;
using Tunesmith.Samplers.Tpe;

namespace Tunesmith.Samplers.Bohb;

/// <summary>
/// Settings of the <see cref="BohbSampler"/>. The budget levels are the rung milestones of a Hyperband/ASHA scheduler with
/// the same resources: <see cref="MinResource"/>·η^k below <see cref="MaxResource"/>, then <see cref="MaxResource"/>.
/// Invalid values fail at construction with the property's name.
/// </summary>
public sealed record BohbOptions
{
    /// <summary>Seed for reproducible runs; null for a random one. Default null.</summary>
    public int? Seed { get; init; }

    /// <summary>The smallest budget level (the scheduler's minimum resource, e.g. 1 epoch). Default 1.</summary>
    public long MinResource { get; init; } = 1;

    /// <summary>The largest budget level (the scheduler's maximum resource, e.g. 50 epochs). Default 81.</summary>
    public long MaxResource { get; init; } = 81;

    /// <summary>η: each budget level is η times the one below. Default 3.</summary>
    public double ReductionFactor { get; init; } = 3;

    /// <summary>
    /// Observations a budget level needs before its model is used; null for the number of parameters + 2 (BOHB's
    /// N_min = d + 1, plus one so both densities have a point). The largest level with enough observations is modelled.
    /// </summary>
    public int? MinPointsInModel { get; init; }

    /// <summary>
    /// Fraction of trials drawn uniformly at random instead of from the model (BOHB's ρ), which keeps exploring and bounds
    /// how much worse than random search the sampler can be. Default 1/3, as in Falkner et al. (2018).
    /// </summary>
    public double RandomFraction { get; init; } = 1.0 / 3;

    /// <summary>
    /// BOHB's bandwidth factor b_w: every level model's kernels are this many times wider than TPE's neighbour rule gives
    /// (it multiplies <see cref="TpeOptions.BandwidthScale"/>), so proposals spread around the good region instead of
    /// collapsing onto its best points. Default 3, as in Falkner et al. (2018), who widen only the density candidates are
    /// drawn from; here both densities are widened.
    /// </summary>
    public double BandwidthFactor { get; init; } = 3;

    /// <summary>
    /// Which value of a trial each level's model ranks: the value reported at the level (BOHB's choice, the default), or
    /// the best value reported up to the level, for studies whose result is the best value at any step (a trial that
    /// keeps its best checkpoint).
    /// </summary>
    public BohbLevelValue LevelValue { get; init; } = BohbLevelValue.AtLevel;

    /// <summary>
    /// How the level whose model proposes a trial is chosen: the largest level with enough observations (BOHB's rule, the
    /// default), or at random with Hyper-Tune's level weights (each level's weight is how often its model ranks the
    /// configurations of the largest level with enough observations best, by ranking loss over bootstrap resamples).
    /// </summary>
    public BohbLevelChoice LevelChoice { get; init; } = BohbLevelChoice.Largest;

    /// <summary>Bootstrap resamples behind the <see cref="BohbLevelChoice.RankWeighted"/> level weights. Default 50 (Hyper-Tune's).</summary>
    public int WeightSamples { get; init; } = 50;

    /// <summary>
    /// With the rank-weighted level choices: a lower level whose median ranking loss is above the 95th percentile of the
    /// reference level's own losses gets no weight (RGPE's guard against weight dilution, Feurer et al. 2018). Default true.
    /// </summary>
    public bool DilutionGuard { get; init; } = true;

    /// <summary>The TPE settings of each level's model (its seed and start-up count are set by the sampler). Default: TPE's defaults.</summary>
    public TpeOptions Tpe { get; init; } = new();

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid property (<c>BohbOptions.MinResource must be at least 1</c>).</summary>
    public void Validate() => Validate(new OptionRules("sampler 'bohb'", nameof(BohbOptions), null));

    /// <summary>The study-file key of each property Validate checks.</summary>
    internal static readonly Dictionary<string, string> KeyOf = new()
    {
        [nameof(MinResource)] = "min",
        [nameof(MaxResource)] = "max",
        [nameof(ReductionFactor)] = "reduction",
        [nameof(MinPointsInModel)] = "min_points",
        [nameof(BandwidthFactor)] = "bandwidth_factor",
        [nameof(LevelValue)] = "level_value",
        [nameof(LevelChoice)] = "level_choice",
        [nameof(WeightSamples)] = "weight_samples",
        [nameof(RandomFraction)] = "random_fraction",
    };

    internal void Validate(OptionRules rules)
    {
        rules.Require(MinResource >= 1, nameof(MinResource), MinResource, "must be at least 1");
        rules.Require(MaxResource >= MinResource, nameof(MaxResource), MaxResource, $"must be at least the minimum resource ({MinResource})");
        rules.Require(ReductionFactor > 1, nameof(ReductionFactor), ReductionFactor, "must be greater than 1");
        rules.Require(MinPointsInModel is not < 2, nameof(MinPointsInModel), MinPointsInModel, "must be at least 2");
        rules.Require(BandwidthFactor > 0 && double.IsFinite(BandwidthFactor), nameof(BandwidthFactor), BandwidthFactor, "must be a positive number");
        rules.Require(Enum.IsDefined(LevelValue), nameof(LevelValue), LevelValue, "must be AtLevel or BestSoFar");
        rules.Require(Enum.IsDefined(LevelChoice), nameof(LevelChoice), LevelChoice, "must be Largest, RankWeighted or BestRanked");
        rules.Require(WeightSamples >= 1, nameof(WeightSamples), WeightSamples, "must be at least 1");
        rules.Require(RandomFraction >= 0 && RandomFraction <= 1, nameof(RandomFraction), RandomFraction, "must be in [0, 1]");
        Tpe.Validate();
    }

    /// <summary>The budget levels, ascending: MinResource·η^k below MaxResource (rounded), then MaxResource.</summary>
    public IReadOnlyList<long> Levels()
    {
        var levels = new List<long>();
        for (var k = 0; ; k++)
        {
            var level = (long)Math.Round(MinResource * Math.Pow(ReductionFactor, k));
            if (level >= MaxResource) break;
            if (levels.Count == 0 || level > levels[^1]) levels.Add(level);
        }
        levels.Add(MaxResource);
        return levels;
    }
}

/// <summary>Which value of a trial a <see cref="BohbSampler"/> level's model ranks.</summary>
public enum BohbLevelValue
{
    /// <summary>The value the trial reported at the level's step (or the first step after it).</summary>
    AtLevel,

    /// <summary>The best value the trial reported at any step up to the level's step (or the first step after it).</summary>
    BestSoFar,
}

/// <summary>How a <see cref="BohbSampler"/> chooses the level whose model proposes a trial.</summary>
public enum BohbLevelChoice
{
    /// <summary>The largest level with enough observations (BOHB, Falkner et al. 2018).</summary>
    Largest,

    /// <summary>
    /// A level drawn with Hyper-Tune's weights (Li et al. 2022): the share of bootstrap resamples in which the level's model
    /// ranks the configurations of the largest level with enough observations with the fewest misordered pairs (that
    /// level's own model judged leave-one-out).
    /// </summary>
    RankWeighted,

    /// <summary>The level with the largest Hyper-Tune weight (see <see cref="RankWeighted"/>); the larger level on a tie.</summary>
    BestRanked,
}
