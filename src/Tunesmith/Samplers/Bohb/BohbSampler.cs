using Tunesmith.Samplers.Tpe;
using Tunesmith.Spaces;

namespace Tunesmith.Samplers.Bohb;

/// <summary>
/// BOHB's model (Falkner, Klein and Hutter 2018) as a sampler: a TPE model fitted per budget level, on the values trials
/// reported at that level, and the model of the largest level with enough observations proposes each new trial. Pair it
/// with a Hyperband or ASHA scheduler over the same resources: the scheduler decides how far each trial runs, this
/// sampler decides which configurations enter its brackets. Low levels fill first, so the model starts early on cheap
/// evidence and moves up to the more faithful levels as trials are promoted. A fraction of trials (ρ = 1/3) is drawn at
/// random and the kernels are widened by the bandwidth factor (b_w = 3), as in the paper.
/// </summary>
/// <remarks>
/// A trial's value at a level is the value it reported at the level's step, or at the first step after it when it did
/// not report at that step (a scheduler's rung record); with <see cref="BohbLevelValue.BestSoFar"/>, the best value it
/// reported up to that step. Running, Pruned and Paused trials count at every level they
/// reached; Failed trials do not count. Each level keeps its own history and TPE model, extended incrementally, so an
/// ask costs the level model's ask plus a pass over the trials that changed.
/// </remarks>
public sealed class BohbSampler : ISampler
{
    private static readonly IReadOnlyDictionary<string, Distribution> NoSpace = new Dictionary<string, Distribution>();
    private static readonly IReadOnlyDictionary<string, object?> NoValues = new Dictionary<string, object?>();

    private readonly object _gate = new();
    private readonly long[] _levels;
    private readonly StudyHistory[] _levelHistories;
    private readonly TpeSampler[] _levelModels;
    private readonly List<long> _seenVersion = [];
    private readonly List<int> _ingestedLevels = []; // per trial number: how many levels (from the bottom) are ingested
    private int _scanned;
    private readonly List<int> _unsettled = [];
    private int _dimensions;
    private double[]? _weights;
    private long _weightsKey = -1;

    /// <summary>Creates a BOHB sampler.</summary>
    public BohbSampler(BohbOptions? options = null)
    {
        Options = options ?? new BohbOptions();
        Options.Validate();
        _levels = Options.Levels().ToArray();
        _levelHistories = _levels.Select(l => new StudyHistory($"bohb-level-{l}", Direction.Minimize)).ToArray();
        // Each level's model sees Complete trials only (a trial per level value), so its start-up count is the sampler's concern.
        LevelModelOptions = Options.Tpe with
        {
            Seed = Options.Seed, StartupTrials = 1, ConstantLiar = false, BandwidthScale = Options.Tpe.BandwidthScale * Options.BandwidthFactor,
        };
        _levelModels = _levels.Select(_ => new TpeSampler(LevelModelOptions)).ToArray();
    }

    /// <summary>The sampler's settings.</summary>
    public BohbOptions Options { get; }

    /// <summary>
    /// The settings every level's TPE model runs with: <see cref="BohbOptions.Tpe"/> with the sampler's seed, its
    /// bandwidths widened by <see cref="BohbOptions.BandwidthFactor"/>, one start-up trial and no constant liar (the
    /// sampler decides when a level has enough observations, and a level's history holds finished level values only).
    /// </summary>
    public TpeOptions LevelModelOptions { get; }

    /// <inheritdoc />
    public int? Seed => Options.Seed;

    /// <inheritdoc />
    public string Name => "bohb";

    /// <summary>The budget levels modelled, ascending.</summary>
    public IReadOnlyList<long> Levels => _levels;

    /// <summary>
    /// The level whose model proposes the next trial, as of <paramref name="history"/>; null while no level has enough
    /// observations. With <see cref="BohbLevelChoice.RankWeighted"/> the level is drawn per trial, and this is the reference
    /// level (the largest with enough observations).
    /// </summary>
    public long? ModelLevel(StudyHistory history)
    {
        lock (_gate)
        {
            Update(history);
            var level = ChooseLevel();
            if (level is not null && Options.LevelChoice == BohbLevelChoice.BestRanked) level = Heaviest(CurrentWeights());
            return level is { } i ? _levels[i] : null;
        }
    }

    /// <summary>
    /// Each level's chance of proposing the next trial, as of <paramref name="history"/> (same order as <see cref="Levels"/>;
    /// all 0 while no level has enough observations). With <see cref="BohbLevelChoice.Largest"/> the largest level with
    /// enough observations has 1; with <see cref="BohbLevelChoice.RankWeighted"/> and <see cref="BohbLevelChoice.BestRanked"/>
    /// these are Hyper-Tune's level weights (BestRanked then lets the heaviest level propose every model-based trial).
    /// </summary>
    public IReadOnlyList<double> LevelWeights(StudyHistory history)
    {
        lock (_gate)
        {
            Update(history);
            if (Options.LevelChoice != BohbLevelChoice.Largest) return (double[])CurrentWeights().Clone();
            var weights = new double[_levels.Length];
            if (ChooseLevel() is { } i) weights[i] = 1;
            return weights;
        }
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Distribution> InferRelativeSearchSpace(SamplingContext context)
    {
        int? level;
        lock (_gate)
        {
            Update(context.History);
            level = ChooseLevel();
        }
        return level is { } i ? _levelModels[i].InferRelativeSearchSpace(LevelContext(i, context)) : NoSpace;
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, object?> SampleRelative(SamplingContext context, IReadOnlyDictionary<string, Distribution> searchSpace)
    {
        if (searchSpace.Count == 0) return NoValues;
        // The draw comes first and always, so a trial's stream is the same whether or not it is a random one.
        if (context.Random.NextDouble() < Options.RandomFraction) return NoValues;
        int? level;
        lock (_gate)
        {
            Update(context.History);
            level = ChooseLevel();
            if (level is not null && Options.LevelChoice == BohbLevelChoice.RankWeighted) level = DrawLevel(CurrentWeights(), context.Random.NextDouble());
            if (level is not null && Options.LevelChoice == BohbLevelChoice.BestRanked) level = Heaviest(CurrentWeights());
        }
        return level is { } i ? _levelModels[i].SampleRelative(LevelContext(i, context), searchSpace) : NoValues;
    }

    /// <inheritdoc />
    public object? SampleIndependent(SamplingContext context, string name, Distribution distribution) =>
        RandomSampler.DrawUniform(context.Random, distribution);

    private SamplingContext LevelContext(int level, SamplingContext context) => new(_levelHistories[level], context.Trial, context.Random);

    private int? ChooseLevel()
    {
        var needed = NeededPoints;
        for (var i = _levels.Length - 1; i >= 0; i--)
            if (_levelHistories[i].Trials.Count >= needed) return i;
        return null;
    }

    private int NeededPoints => Options.MinPointsInModel ?? Math.Max(_dimensions, 1) + 2;

    // Hyper-Tune's weights, recomputed when the reference level (the largest with enough observations) changes or gains
    // an observation: the configurations it ranks are then new. Lower levels' models move little between refreshes.
    private double[] CurrentWeights()
    {
        var reference = ChooseLevel() ?? -1;
        var key = reference < 0 ? -1 : (long)reference << 32 | (uint)_levelHistories[reference].Trials.Count;
        if (_weights is null || key != _weightsKey)
        {
            var total = _levelHistories.Sum(h => h.Trials.Count);
            _weights = LevelWeighting.Weights(_levelHistories, NeededPoints, LevelModelOptions, Options.WeightSamples, unchecked((Options.Seed ?? 0) * 7919 + total), Options.DilutionGuard);
            _weightsKey = key;
        }
        return _weights;
    }

    // The level with the largest weight (the larger level on a tie).
    internal static int Heaviest(IReadOnlyList<double> weights)
    {
        var best = 0;
        for (var i = 1; i < weights.Count; i++)
            if (weights[i] >= weights[best]) best = i;
        return best;
    }

    // The level whose cumulative weight first exceeds u (u uniform in [0, 1)); the last level with weight if rounding leaves u above all.
    internal static int? DrawLevel(IReadOnlyList<double> weights, double u)
    {
        var cumulative = 0.0;
        int? last = null;
        for (var i = 0; i < weights.Count; i++)
        {
            if (weights[i] <= 0) continue;
            cumulative += weights[i];
            last = i;
            if (u < cumulative) return i;
        }
        return last;
    }

    // Adds each trial's values at the levels it has newly reached to those levels' histories. Only trials not seen before
    // and trials that were unfinished when last seen are read (a finished trial's reports no longer change).
    private void Update(StudyHistory history)
    {
        var trials = history.Trials;
        var dense = trials.Count == 0 || trials[^1].Number == trials.Count - 1;
        if (!dense)
        {
            // A hole (a trial another process created, not read yet): read everything again; levels already ingested stay.
            _scanned = 0;
            _unsettled.Clear();
        }
        var kept = 0;
        for (var i = 0; i < _unsettled.Count; i++)
        {
            var t = trials[_unsettled[i]];
            See(history, t);
            if (!t.State.IsFinished()) _unsettled[kept++] = t.Number;
        }
        _unsettled.RemoveRange(kept, _unsettled.Count - kept);
        for (var i = _scanned; i < trials.Count; i++)
        {
            var t = trials[i];
            See(history, t);
            if (!t.State.IsFinished() && dense) _unsettled.Add(t.Number);
        }
        _scanned = dense ? trials.Count : 0;
    }

    private void See(StudyHistory history, FrozenTrial t)
    {
        var n = t.Number;
        while (_seenVersion.Count <= n) { _seenVersion.Add(long.MinValue); _ingestedLevels.Add(0); }
        if (_seenVersion[n] == t.Version && t.Version != 0) return;
        _seenVersion[n] = t.Version;
        if (t.State == TrialState.Failed || t.Intermediate.Count == 0) return;
        if (_dimensions == 0) _dimensions = t.Distributions.Count;
        var lastStep = t.LastIntermediate!.Value.Step;
        while (_ingestedLevels[n] < _levels.Length && _levels[_ingestedLevels[n]] <= lastStep)
        {
            var level = _ingestedLevels[n];
            if (ValueAt(t, _levels[level], Options.LevelValue == BohbLevelValue.BestSoFar ? history.Direction : null) is { } value && double.IsFinite(value))
            {
                var projected = _levelHistories[level];
                var number = projected.Trials.Count;
                projected.Upsert(new FrozenTrial
                {
                    Id = number,
                    Number = number,
                    State = TrialState.Complete,
                    Value = history.Direction == Direction.Minimize ? value : -value,
                    Params = t.Params,
                    Distributions = t.Distributions,
                    Version = number + 1,
                });
            }
            _ingestedLevels[n] = level + 1;
        }
    }

    // The value at the level's step, or at the first step after it; with a direction, the best value up to that step.
    internal static double? ValueAt(FrozenTrial trial, long step, Direction? bestIn)
    {
        long? at = trial.Intermediate.ContainsKey(step) ? step : null;
        if (at is null)
            foreach (var s in trial.Intermediate.Keys)
                if (s >= step && (at is null || s < at)) at = s;
        if (at is not { } last) return null;
        if (bestIn is not { } direction) return trial.Intermediate[last];
        var best = double.NaN;
        foreach (var (s, v) in trial.Intermediate)
            if (s <= last && double.IsFinite(v) && (double.IsNaN(best) || (direction == Direction.Maximize ? v > best : v < best))) best = v;
        return double.IsNaN(best) ? null : best;
    }
}
