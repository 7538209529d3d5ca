using Tunesmith.Samplers.Bohb;
using Tunesmith.Samplers.Gp;
using Tunesmith.Spaces;

namespace Tunesmith.Samplers.Mobster;

/// <summary>
/// MOBSTER's model (Klein, Tiao, Lienart, Archambeau and Seeger 2020) as a sampler: one Gaussian process over
/// (parameters, resource), fitted to the values trials reported at the budget levels (a scheduler's rungs), proposing each
/// new trial by expected improvement at the acquisition level, the largest level with enough observations (BOHB's rule,
/// as in Syne Tune's default). Pair it with an ASHA or Hyperband scheduler over the same resources: the scheduler decides
/// how far each trial runs, this sampler which configurations enter its rungs.
/// </summary>
/// <remarks>
/// <para>
/// The kernel is the GP sampler's Matérn-5/2 with one length scale per feature, the parameters encoded as the GP sampler
/// encodes them plus one feature for the resource, log r scaled to [0, 1] between the smallest and the largest level
/// (Syne Tune's <c>matern52</c> resource kernel; not its default exponential-decay one). Hyperparameters are MAP-fitted as
/// the GP sampler's, refitted every <see cref="MobsterOptions.RefitInterval"/> model-based proposals.
/// </para>
/// <para>
/// A trial's value at a level is the value it reported at the level's step, or at the first step after it (a scheduler's
/// rung record); with <see cref="BohbLevelValue.BestSoFar"/> the best value up to it. Running, Pruned, Paused and Complete
/// trials count at every level they reached; Failed trials do not; a Complete trial that reported nothing counts at the
/// largest level with its value. A running trial counts as pending at the next level it will reach (or, with
/// <see cref="MobsterPendingLevel.AcquisitionLevel"/>, at the acquisition level when that is higher), observed at the
/// model's own prediction there (kriging believer; Syne Tune averages over fantasy samples instead), so that parallel
/// workers spread out. With <see cref="MobsterOptions.CostExponent"/> the acquisition is EI per predicted second. Trials are random until the lowest level has
/// <see cref="MobsterOptions.MinPointsInModel"/> observations.
/// </para>
/// </remarks>
public sealed class MobsterSampler : ISampler
{
    private static readonly IReadOnlyDictionary<string, object?> NoValues = new Dictionary<string, object?>();

    private readonly object _gate = new();
    private readonly long[] _levels;
    private readonly double[] _levelFeature;
    private readonly IntersectionSearchSpace _intersection = new(includePruned: true);
    // Guarded by _gate: each trial's level values as of the version last read, the last fitted hyperparameters, how many
    // model-based proposals were made since the last fit, and the proposals of trials whose params are not stored yet.
    private readonly Dictionary<int, (long Version, double[] Values)> _levelValues = [];
    private string? _hyperKey;
    private GpHyperparameters? _hyper;
    private GpHyperparameters? _costHyper;
    private int _sinceFit;
    private readonly Dictionary<int, IReadOnlyDictionary<string, object?>> _proposals = [];

    /// <summary>Creates a MOBSTER sampler.</summary>
    public MobsterSampler(MobsterOptions? options = null)
    {
        Options = options ?? new MobsterOptions();
        Options.Validate();
        _levels = Options.Levels().ToArray();
        var span = Math.Log((double)_levels[^1] / _levels[0]);
        _levelFeature = _levels.Select(l => span > 0 ? Math.Log((double)l / _levels[0]) / span : 0).ToArray();
    }

    /// <summary>The sampler's settings.</summary>
    public MobsterOptions Options { get; }

    /// <inheritdoc />
    public int? Seed => Options.Seed;

    /// <inheritdoc />
    public string Name => "mobster";

    /// <summary>The budget levels modelled, ascending.</summary>
    public IReadOnlyList<long> Levels => _levels;

    /// <summary>
    /// The level at which expected improvement is taken for the next trial, as of <paramref name="history"/>: the largest
    /// level with enough observations; null while the lowest level has too few (trials are then random).
    /// </summary>
    public long? AcquisitionLevel(StudyHistory history)
    {
        ArgumentNullException.ThrowIfNull(history);
        lock (_gate)
        {
            var space = _intersection.Calculate(history);
            var features = new GpFeatureSpace(space);
            var counts = new int[_levels.Length];
            foreach (var t in history.Trials)
                if (LevelValues(t, history.Direction) is { } values && features.TryEncode(t.Params) is not null)
                    for (var i = 0; i < values.Length; i++)
                        if (double.IsFinite(values[i])) counts[i]++;
            return ChooseLevel(counts, features.Dimensions) is { } level ? _levels[level] : null;
        }
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Distribution> InferRelativeSearchSpace(SamplingContext context)
    {
        lock (_gate) return _intersection.Calculate(context.History);
    }

    /// <inheritdoc />
    public object? SampleIndependent(SamplingContext context, string name, Distribution distribution) =>
        RandomSampler.DrawUniform(context.Random, distribution);

    /// <inheritdoc />
    public IReadOnlyDictionary<string, object?> SampleRelative(SamplingContext context, IReadOnlyDictionary<string, Distribution> searchSpace)
    {
        var space = new GpFeatureSpace(searchSpace);
        if (space.Dimensions == 0) return NoValues;
        // The draw comes first and always, so a trial's stream is the same whether or not it is a random one.
        if (context.Random.NextDouble() < Options.RandomFraction) return NoValues;

        var sign = context.Direction == Direction.Minimize ? -1.0 : 1.0;
        var observed = new List<Observation>();
        var costs = new List<(double[] X, double Y)>();
        var pending = new List<(double[] X, int Level)>();
        var counts = new int[_levels.Length];
        lock (_gate)
        {
            foreach (var t in context.History.Trials)
            {
                if (t.Number == context.Trial.Number || t.State is TrialState.Failed or TrialState.Waiting) continue;
                var x = space.TryEncode(t.Params);
                if (x is null && t.State == TrialState.Running && _proposals.TryGetValue(t.Number, out var proposed)) x = space.TryEncode(proposed);
                if (x is null) continue;
                var values = LevelValues(t, context.Direction) ?? [];
                for (var i = 0; i < values.Length; i++)
                {
                    if (!double.IsFinite(values[i])) continue;
                    observed.Add(new Observation(With(x, _levelFeature[i]), sign * values[i], i, t.Number));
                    counts[i]++;
                }
                if (Options.CostExponent > 0 && SecondsPerUnit(t) is { } seconds) costs.Add((x, Math.Log(seconds)));
                // A running trial is pending at the next level it will reach.
                if (t.State == TrialState.Running && values.Length < _levels.Length) pending.Add((x, values.Length));
            }
            if (_proposals.Count > 0)
                foreach (var t in context.History.Trials)
                    if (t.State.IsFinished()) _proposals.Remove(t.Number);
        }
        if (ChooseLevel(counts, space.Dimensions) is not { } acquisition) return NoValues;

        var proposal = Propose(space, observed, costs, pending, acquisition, context.Random);
        var result = space.Decode(proposal);
        lock (_gate) _proposals[context.Trial.Number] = result;
        return result;
    }

    private int? ChooseLevel(int[] counts, int dimensions)
    {
        var needed = Options.MinPointsInModel ?? Math.Max(dimensions, 1) + 2;
        for (var i = _levels.Length - 1; i >= 0; i--)
            if (counts[i] >= needed) return i;
        return null;
    }

    private double[] Propose(GpFeatureSpace space, List<Observation> observed, List<(double[] X, double Y)> costs, List<(double[] X, int Level)> pending,
        int acquisition, Random random)
    {
        var d = space.Dimensions + 1;
        var training = SelectTraining(observed, Options.MaxTrainingPoints);
        var n = training.Count;
        var y = GpSampler.StandardizedValues(training.Select(o => (o.X, o.Y)).ToList(), warp: !space.IsCategorical.Any(c => c));
        var x = new double[n * d];
        for (var i = 0; i < n; i++) training[i].X.CopyTo(x, i * d);
        var categorical = space.IsCategorical.Append(false).ToArray();

        GpHyperparameters? start;
        bool refit;
        lock (_gate)
        {
            start = _hyperKey == space.Key ? _hyper : null;
            refit = start is null || ++_sinceFit >= Options.RefitInterval;
        }
        var hyper = start!;
        if (refit)
        {
            // The fit sees the acquisition level and above whole, then the most recent lower-level points, up to the cap.
            var fit = SelectTraining(training, Options.MaxFitPoints);
            var fitX = new double[fit.Count * d];
            for (var k = 0; k < fit.Count; k++) fit[k].X.CopyTo(fitX, k * d);
            var fitY = GpSampler.StandardizedValues(fit.Select(o => (o.X, o.Y)).ToList(), warp: !space.IsCategorical.Any(c => c));
            hyper = GpHyperparameterFit.Fit(fitX, fit.Count, d, categorical, fitY,
                start ?? GpHyperparameterFit.Default(d, deterministic: false), deterministic: false, maxIterations: start is null ? 80 : 15);
            lock (_gate) { _hyperKey = space.Key; _hyper = hyper; _sinceFit = 0; }
        }
        var costPenalty = CostModel(space, costs, refit);

        var gp = new GaussianProcess(x, n, d, categorical, y, hyper);
        var best = double.NegativeInfinity;
        for (var i = 0; i < n; i++)
            if (training[i].Level == acquisition) best = Math.Max(best, y[i]);
        if (pending.Count > 0)
        {
            // Kriging believer: a pending point counts as observed at the model's prediction, which removes its
            // uncertainty (and so its expected improvement) without pretending to know its value.
            var work = new double[n];
            var m = n + pending.Count;
            var xb = new double[m * d];
            var yb = new double[m];
            Array.Copy(x, xb, x.Length);
            Array.Copy(y, yb, n);
            for (var p = 0; p < pending.Count; p++)
            {
                var level = Options.PendingLevel == MobsterPendingLevel.AcquisitionLevel ? Math.Max(pending[p].Level, acquisition) : pending[p].Level;
                var point = With(pending[p].X, _levelFeature[level]);
                point.CopyTo(xb, (n + p) * d);
                yb[n + p] = gp.Predict(point, work).Mean;
                if (level == acquisition) best = Math.Max(best, yb[n + p]);
            }
            gp = new GaussianProcess(xb, m, d, categorical, yb, hyper);
        }

        var incumbents = Enumerable.Range(0, n).Where(i => training[i].Level == acquisition).OrderByDescending(i => y[i]).Take(5)
            .Select(i => training[i].X[..^1]).ToList();
        var optimizer = new AcquisitionOptimizer(gp, space, best, [_levelFeature[acquisition]], costPenalty);
        return optimizer.Maximize(random, incumbents, Options.CandidateCount, Options.RefinementStarts);
    }

    // The process over log seconds per unit of resource, and the factor that turns its standardized mean into the penalty
    // on log EI (CostExponent × the standard deviation of log cost); null without CostExponent or with fewer than 5 trials.
    private (GaussianProcess Gp, double Scale)? CostModel(GpFeatureSpace space, List<(double[] X, double Y)> costs, bool refit)
    {
        if (Options.CostExponent <= 0 || costs.Count < 5) return null;
        var d = space.Dimensions;
        var recent = costs.Count <= Options.MaxTrainingPoints ? costs : costs.GetRange(costs.Count - Options.MaxTrainingPoints, Options.MaxTrainingPoints);
        var n = recent.Count;
        var mean = recent.Average(c => c.Y);
        var sd = Math.Sqrt(recent.Sum(c => (c.Y - mean) * (c.Y - mean)) / Math.Max(n - 1, 1));
        if (!(sd > 1e-9)) return null;
        var y = recent.Select(c => (c.Y - mean) / sd).ToArray();
        var x = new double[n * d];
        for (var i = 0; i < n; i++) recent[i].X.CopyTo(x, i * d);
        GpHyperparameters? start;
        lock (_gate) start = _costHyper is { } h && h.Dimensions == d ? h : null;
        var hyper = start;
        if (refit || hyper is null)
        {
            var fitCount = Math.Min(n, Options.MaxFitPoints);
            var fitX = x.AsSpan((n - fitCount) * d).ToArray();
            hyper = GpHyperparameterFit.Fit(fitX, fitCount, d, space.IsCategorical, y[(n - fitCount)..],
                start ?? GpHyperparameterFit.Default(d, deterministic: false), deterministic: false, maxIterations: start is null ? 80 : 15);
            lock (_gate) _costHyper = hyper;
        }
        return (new GaussianProcess(x, n, d, space.IsCategorical, y, hyper), Options.CostExponent * sd);
    }

    // Seconds per unit of resource of a finished trial that ran without a pause: its duration over the last step it reported.
    private static double? SecondsPerUnit(FrozenTrial t)
    {
        if (t.State is not (TrialState.Complete or TrialState.Pruned) || t.Duration is not { } duration || t.LastIntermediate is not { } last || last.Step <= 0) return null;
        if (t.SystemAttributes.ContainsKey(SystemAttributeKeys.ResumeStep) || t.SystemAttributes.ContainsKey(SystemAttributeKeys.PausedStep)) return null;
        var seconds = duration.TotalSeconds / last.Step;
        return seconds > 0 && double.IsFinite(seconds) ? seconds : null;
    }

    // Higher levels whole from the top down; the level where the cap falls keeps its best third and its most recent rest;
    // lower levels are left out. Order within the result: by level, then by trial number.
    private static List<Observation> SelectTraining(List<Observation> observed, int cap)
    {
        if (observed.Count <= cap) return observed;
        var result = new List<Observation>(cap);
        foreach (var group in observed.GroupBy(o => o.Level).OrderByDescending(g => g.Key))
        {
            var points = group.OrderBy(o => o.Trial).ToList();
            var room = cap - result.Count;
            if (room <= 0) break;
            if (points.Count <= room) { result.AddRange(points); continue; }
            var keep = new bool[points.Count];
            var kept = 0;
            foreach (var i in Enumerable.Range(0, points.Count).OrderByDescending(i => points[i].Y).ThenBy(i => i).Take(room / 3)) { keep[i] = true; kept++; }
            for (var i = points.Count - 1; i >= 0 && kept < room; i--)
                if (!keep[i]) { keep[i] = true; kept++; }
            result.AddRange(points.Where((_, i) => keep[i]));
        }
        return result;
    }

    // The trial's value at each level it reached (ascending, from the lowest), cached by version; null when it has none.
    // A Complete trial that reported nothing counts at the largest level with its value (a full-budget evaluation).
    private double[]? LevelValues(FrozenTrial t, Direction direction)
    {
        if (t.State == TrialState.Complete && t.Intermediate.Count == 0 && t.Value is { } final)
        {
            var top = Enumerable.Repeat(double.NaN, _levels.Length).ToArray();
            top[^1] = final;
            return top;
        }
        if (t.State == TrialState.Failed || t.Intermediate.Count == 0) return null;
        if (t.Version != 0 && _levelValues.TryGetValue(t.Number, out var cached) && cached.Version == t.Version) return cached.Values;
        var lastStep = t.LastIntermediate!.Value.Step;
        var values = new List<double>();
        for (var i = 0; i < _levels.Length && _levels[i] <= lastStep; i++)
            values.Add(BohbSampler.ValueAt(t, _levels[i], Options.LevelValue == BohbLevelValue.BestSoFar ? direction : null) ?? double.NaN);
        var result = values.ToArray();
        _levelValues[t.Number] = (t.Version, result);
        return result;
    }

    private static double[] With(double[] x, double resource)
    {
        var full = new double[x.Length + 1];
        x.CopyTo(full, 0);
        full[^1] = resource;
        return full;
    }

    private sealed record Observation(double[] X, double Y, int Level, int Trial);
}
