using Tunesmith.Spaces.Spec;
using Tunesmith.Samplers.Bohb;

namespace Tunesmith.Samplers.Mobster;

/// <summary>
/// Settings of the <see cref="MobsterSampler"/>. The budget levels are the rung milestones of an ASHA or Hyperband
/// scheduler with the same resources (as <see cref="BohbOptions.Levels"/>): <see cref="MinResource"/>·η^k below
/// <see cref="MaxResource"/>, then <see cref="MaxResource"/>. Invalid values fail at construction with the property's name.
/// </summary>
public sealed record MobsterOptions
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
    /// Observations a budget level needs before expected improvement is taken there; null for the number of parameters + 2
    /// (BOHB's rule, which MOBSTER uses for its acquisition level). Until the lowest level has that many, trials are random.
    /// </summary>
    public int? MinPointsInModel { get; init; }

    /// <summary>
    /// Fraction of trials drawn uniformly at random instead of from the model. Default 0 (MOBSTER, Klein et al. 2020, draws
    /// every trial after the initial ones from the model).
    /// </summary>
    public double RandomFraction { get; init; }

    /// <summary>
    /// Which value of a trial at a level the process is fitted to: the value reported at the level (the default), or the
    /// best value reported up to it, for studies whose result is the best value at any step.
    /// </summary>
    public BohbLevelValue LevelValue { get; init; } = BohbLevelValue.AtLevel;

    /// <summary>
    /// The most (trial, level) observations the process is conditioned on (default 250). Beyond it the higher levels are
    /// kept whole, from the top down, and the level where the cap falls keeps its best third and its most recent rest, so an
    /// ask costs about the same at 300 and at 30,000 trials.
    /// </summary>
    public int MaxTrainingPoints { get; init; } = 250;

    /// <summary>The most observations the kernel hyperparameters are fitted on (default 100), chosen from the training points as they are.</summary>
    public int MaxFitPoints { get; init; } = 100;

    /// <summary>
    /// The kernel hyperparameters are refitted on every this-many-th model-based proposal and reused in between (default 5;
    /// 1 refits on every proposal). The process itself is conditioned on the current data every time.
    /// </summary>
    public int RefitInterval { get; init; } = 5;

    /// <summary>
    /// Where a running trial counts as pending (observed at the model's prediction, so parallel workers spread out): at the
    /// next level it will reach (Syne Tune's rule, the default) or at the acquisition level when that is higher.
    /// </summary>
    public MobsterPendingLevel PendingLevel { get; init; } = MobsterPendingLevel.NextLevel;

    /// <summary>
    /// Cost-aware acquisition: expected improvement divided by the predicted seconds per unit of resource raised to this
    /// power (EI per second, Snoek et al. 2012, at 1). The seconds per unit are each finished, never-paused trial's duration
    /// over the last step it reported, modelled by a second process over the parameters (in log). Default 0: plain EI.
    /// </summary>
    public double CostExponent { get; init; }

    /// <summary>Random candidates scored by expected improvement before the best few are refined (default 512).</summary>
    public int CandidateCount { get; init; } = 512;

    /// <summary>How many of the best candidates are refined by gradient ascent (default 3).</summary>
    public int RefinementStarts { get; init; } = 3;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid property (<c>MobsterOptions.MinResource must be at least 1</c>).</summary>
    public void Validate() => Validate(new OptionRules("sampler 'mobster'", nameof(MobsterOptions), null));

    /// <summary>The study-file key of each property Validate checks.</summary>
    internal static readonly Dictionary<string, string> KeyOf = new()
    {
        [nameof(MinResource)] = "min",
        [nameof(MaxResource)] = "max",
        [nameof(ReductionFactor)] = "reduction",
        [nameof(MinPointsInModel)] = "min_points",
        [nameof(RandomFraction)] = "random_fraction",
        [nameof(LevelValue)] = "level_value",
        [nameof(MaxTrainingPoints)] = "max_training_points",
        [nameof(MaxFitPoints)] = "max_fit_points",
        [nameof(RefitInterval)] = "refit_interval",
        [nameof(CandidateCount)] = "candidate_count",
        [nameof(PendingLevel)] = "pending_level",
        [nameof(CostExponent)] = "cost_exponent",
        [nameof(RefinementStarts)] = "refinement_starts",
    };

    internal void Validate(OptionRules rules)
    {
        rules.Require(MinResource >= 1, nameof(MinResource), MinResource, "must be at least 1");
        rules.Require(MaxResource >= MinResource, nameof(MaxResource), MaxResource, $"must be at least the minimum resource ({MinResource})");
        rules.Require(ReductionFactor > 1 && double.IsFinite(ReductionFactor), nameof(ReductionFactor), ReductionFactor, "must be greater than 1");
        rules.Require(MinPointsInModel is not < 2, nameof(MinPointsInModel), MinPointsInModel, "must be at least 2");
        rules.Require(RandomFraction >= 0 && RandomFraction <= 1, nameof(RandomFraction), RandomFraction, "must be in [0, 1]");
        rules.Require(Enum.IsDefined(LevelValue), nameof(LevelValue), LevelValue, "must be AtLevel or BestSoFar");
        rules.Require(MaxTrainingPoints >= 10, nameof(MaxTrainingPoints), MaxTrainingPoints, "must be at least 10");
        rules.Require(MaxFitPoints >= 10, nameof(MaxFitPoints), MaxFitPoints, "must be at least 10");
        rules.Require(RefitInterval >= 1, nameof(RefitInterval), RefitInterval, "must be at least 1");
        rules.Require(CandidateCount >= 1, nameof(CandidateCount), CandidateCount, "must be at least 1");
        rules.Require(Enum.IsDefined(PendingLevel), nameof(PendingLevel), PendingLevel, "must be NextLevel or AcquisitionLevel");
        rules.Require(CostExponent >= 0 && CostExponent <= 4, nameof(CostExponent), CostExponent, "must be in [0, 4]");
        rules.Require(RefinementStarts >= 0, nameof(RefinementStarts), RefinementStarts, "must be at least 0");
    }

    /// <summary>The budget levels, ascending: MinResource·η^k below MaxResource (rounded), then MaxResource.</summary>
    public IReadOnlyList<long> Levels() =>
        new BohbOptions { MinResource = MinResource, MaxResource = MaxResource, ReductionFactor = ReductionFactor }.Levels();
}

/// <summary>Where a <see cref="MobsterSampler"/> counts a running trial as pending.</summary>
public enum MobsterPendingLevel
{
    /// <summary>At the next level the trial will reach (Syne Tune's MOBSTER).</summary>
    NextLevel,

    /// <summary>At the next level it will reach or the acquisition level, whichever is higher.</summary>
    AcquisitionLevel,
}
