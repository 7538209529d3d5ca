using Tunesmith.Spaces;

namespace Tunesmith.Samplers.Gp;

/// <summary>
/// Gaussian-process Bayesian optimization: a Matérn-5/2 ARD process fitted to the finished trials by maximum a posteriori
/// hyperparameters, proposing the point of highest log expected improvement. Use it when trials are expensive and the
/// space is continuous or integer with up to ~20 dimensions and a few hundred trials: it needs the fewest trials there.
/// <para>
/// Parameters of the intersection space (those every finished trial has) are sampled jointly; any other parameter is drawn
/// at random, as are the first <see cref="GpOptions.NStartupTrials"/> trials. Running trials count as observed at the
/// model's own prediction (kriging believer), so parallel workers spread out instead of proposing the same point.
/// </para>
/// </summary>
public sealed class GpSampler : ISampler
{
    private static readonly IReadOnlyDictionary<string, object?> NoValues = new Dictionary<string, object?>();

    private readonly object _gate = new();
    private readonly IntersectionSearchSpace _intersection = new();
    // Guarded by _gate: the last fitted hyperparameters (warm start) and the proposals of trials still running,
    // whose params reach storage only when the objective flushes them.
    private string? _hyperKey;
    private GpHyperparameters? _hyper;
    private readonly Dictionary<int, IReadOnlyDictionary<string, object?>> _proposals = [];

    /// <summary>Creates a GP sampler.</summary>
    /// <param name="seed">Seed for reproducible runs; null for a random one.</param>
    /// <param name="options">Options; null for the defaults.</param>
    public GpSampler(int? seed = null, GpOptions? options = null)
    {
        Options = options ?? new GpOptions();
        Options.Validate();
        Seed = seed;
    }

    /// <inheritdoc />
    public int? Seed { get; }

    /// <inheritdoc />
    public string Name => "gp";

    /// <summary>The options the sampler runs with.</summary>
    public GpOptions Options { get; }

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

        var sign = context.Direction == Direction.Minimize ? -1.0 : 1.0;
        var observed = new List<(double[] X, double Y)>();
        var pending = new List<double[]>();
        var trials = context.History.Trials;
        lock (_gate)
        {
            foreach (var t in trials)
            {
                if (t.State == TrialState.Complete && t.Value is { } v && double.IsFinite(v))
                {
                    if (space.TryEncode(t.Params) is { } x) observed.Add((x, sign * v));
                }
                else if (t.State == TrialState.Running && t.Number != context.Trial.Number)
                {
                    var x = space.TryEncode(t.Params);
                    if (x is null && _proposals.TryGetValue(t.Number, out var proposed)) x = space.TryEncode(proposed);
                    if (x is not null) pending.Add(x);
                }
            }
            // Forget proposals of trials this snapshot shows finished.
            if (_proposals.Count > 0)
                foreach (var t in trials)
                    if (t.State.IsFinished()) _proposals.Remove(t.Number);
        }
        if (observed.Count < Options.NStartupTrials) return NoValues;

        double[]? proposal = null;
        if (Options.EdgeRedrawInterval > 0 && context.Trial.Number % Options.EdgeRedrawInterval == Options.EdgeRedrawInterval - 1)
        {
            GpHyperparameters? fitted;
            lock (_gate) fitted = _hyperKey == space.Key ? _hyper : null;
            if (fitted is not null) proposal = EdgeRedraw(space, observed, fitted.InverseSquaredLengthScales(), context.Random);
        }
        if (proposal is null && Options.CategoryExploreInterval > 0 && context.Trial.Number % Options.CategoryExploreInterval == 0)
            proposal = CategoryExplorer.Propose(space, observed, pending, context.Trial.Number / Options.CategoryExploreInterval, Options, context.Random);
        proposal ??= Propose(space, observed, pending, context.Random);
        var values = space.Decode(proposal);
        lock (_gate) _proposals[context.Trial.Number] = values;
        return values;
    }

    /// <summary>
    /// The best observation's feature vector with one numeric coordinate redrawn uniformly over its range (snapped onto
    /// its grid): a coordinate that lies at an end of its range and that the last fit finds nearly flat (length scale
    /// <paramref name="inverseSquaredLengthScales"/> of at least <see cref="FlatLengthScale"/> range widths); null when
    /// the best has no such coordinate.
    /// </summary>
    /// <remarks>
    /// A coordinate that the good trials hold only at the ends of its range can look flat to the model (a long length
    /// scale: on the quality suite's <c>mixed</c> the learning rate, equally bad at both ends, or <c>n</c> at its top),
    /// and then the middle looks no better than the end and no acquisition step takes it back inside. This
    /// coordinate-wise exploration step does not ask the model where to go. A coordinate the model resolves within its
    /// range (a shorter length scale) is left at its end: there the end is the model's informed choice.
    /// </remarks>
    internal static double[]? EdgeRedraw(GpFeatureSpace space, IReadOnlyList<(double[] X, double Y)> observed, double[] inverseSquaredLengthScales, Random random)
    {
        if (observed.Count == 0) return null;
        var d = space.Dimensions;
        var incumbent = observed[0];
        foreach (var o in observed)
            if (o.Y > incumbent.Y) incumbent = o;
        var low = new double[d];
        var high = new double[d];
        Array.Fill(high, 1.0);
        space.Snap(low);
        space.Snap(high);
        var edges = new List<int>();
        for (var j = 0; j < d; j++)
            if (!space.IsCategorical[j] && high[j] > low[j] && inverseSquaredLengthScales[j] <= 1 / (FlatLengthScale * FlatLengthScale)
                && (incumbent.X[j] <= low[j] + EdgeTolerance || incumbent.X[j] >= high[j] - EdgeTolerance))
                edges.Add(j);
        if (edges.Count == 0) return null;
        var x = (double[])incumbent.X.Clone();
        x[edges[random.Next(edges.Count)]] = random.NextDouble();
        space.Snap(x);
        return x;
    }

    private const double EdgeTolerance = 1e-9;

    /// <summary>
    /// The length scale (in range widths) from which <see cref="EdgeRedraw"/> counts a coordinate as nearly flat: a
    /// Matérn-5/2 process with this scale varies little more than a gentle trend across the whole range.
    /// </summary>
    internal const double FlatLengthScale = 1.0;

    // In spaces with categorical parameters the values are not warped (StandardizedValues), and the fit tends to explain
    // the best trials partly as noise: its mean there stays below the observed best. Measured against the observed best,
    // expected improvement is then negligible near the best trials and the search goes to the box's corners, where the
    // variance is (the quality suite's `mixed` stalled that way: a random start-up trial stayed the best of 100). The bar
    // is therefore the best posterior mean over the observations (the "plug-in" incumbent of noisy EI).
    private static double BestPosteriorMean(GaussianProcess gp, List<(double[] X, double Y)> training)
    {
        var best = double.NegativeInfinity;
        foreach (var (x, _) in training) best = Math.Max(best, gp.PredictMean(x));
        return best;
    }

    /// <summary>The feature vector to try next, given observations (larger is better) and running points.</summary>
    private double[] Propose(GpFeatureSpace space, List<(double[] X, double Y)> observed, List<double[]> pending, Random random)
    {
        var d = space.Dimensions;
        var training = SelectSubset(observed, Options.MaxTrainingPoints);
        var n = training.Count;
        var categorical = space.IsCategorical.Any(c => c);
        var y = StandardizedValues(training, warp: !categorical);
        var x = new double[n * d];
        for (var i = 0; i < n; i++) training[i].X.CopyTo(x, i * d);

        GpHyperparameters? start;
        lock (_gate) start = _hyperKey == space.Key ? _hyper : null;
        var (fitX, fitY, fitCount) = FitSubset(training, y, d, Options.MaxFitPoints);
        var hyper = GpHyperparameterFit.Fit(fitX, fitCount, d, space.IsCategorical, fitY,
            start ?? GpHyperparameterFit.Default(d, Options.DeterministicObjective), Options.DeterministicObjective,
            maxIterations: start is null ? 80 : 15);
        lock (_gate) { _hyperKey = space.Key; _hyper = hyper; }

        var gp = new GaussianProcess(x, n, d, space.IsCategorical, y, hyper);
        var best = categorical ? BestPosteriorMean(gp, training) : y.Max();
        gp = WithBelievers(gp, x, y, n, d, space.IsCategorical, hyper, pending, ref best);

        var incumbents = Enumerable.Range(0, n).OrderByDescending(i => y[i]).Take(5).Select(i => training[i].X).ToList();
        var optimizer = new AcquisitionOptimizer(gp, space, best);
        var candidates = Math.Clamp((int)(40_000_000.0 / ((double)gp.Count * gp.Count)), Math.Min(256, Options.CandidateCount), Options.CandidateCount);
        var proposal = optimizer.Maximize(random, incumbents, candidates, Options.RefinementStarts);
        return proposal;
    }

    /// <summary>
    /// The points the hyperparameters are fitted on: at most <paramref name="cap"/> of <paramref name="training"/> (chosen as
    /// <see cref="SelectSubsetIndices"/> does), as a row-major feature matrix and their standardized values <paramref name="y"/>.
    /// </summary>
    internal static (double[] X, double[] Y, int Count) FitSubset(List<(double[] X, double Y)> training, double[] y, int d, int cap)
    {
        var index = SelectSubsetIndices(training, cap);
        var fitX = new double[index.Length * d];
        var fitY = new double[index.Length];
        for (var k = 0; k < index.Length; k++)
        {
            training[index[k]].X.CopyTo(fitX, k * d);
            fitY[k] = y[index[k]];
        }
        return (fitX, fitY, index.Length);
    }

    /// <summary>
    /// <paramref name="gp"/> with each running point of <paramref name="pending"/> counted as observed at the model's
    /// prediction (kriging believer), which removes its uncertainty, and so its expected improvement, without pretending to
    /// know its value; a believed value above <paramref name="best"/> raises that bar too, or the point's neighbourhood
    /// keeps its improvement. The same process when nothing is running.
    /// </summary>
    internal static GaussianProcess WithBelievers(GaussianProcess gp, double[] x, double[] y, int n, int d, bool[] isCategorical,
        GpHyperparameters hyper, IReadOnlyList<double[]> pending, ref double best)
    {
        if (pending.Count == 0) return gp;
        var work = new double[n];
        var m = n + pending.Count;
        var xb = new double[m * d];
        var yb = new double[m];
        Array.Copy(x, xb, n * d);
        Array.Copy(y, yb, n);
        for (var p = 0; p < pending.Count; p++)
        {
            pending[p].CopyTo(xb, (n + p) * d);
            yb[n + p] = gp.Predict(pending[p], work).Mean;
            best = Math.Max(best, yb[n + p]);
        }
        return new GaussianProcess(xb, m, d, isCategorical, yb, hyper);
    }

    // Zero mean, unit variance; a constant history gets unit scale so the process stays well defined. A heavy tail of
    // bad values (Rosenbrock-like objectives, diverged training runs) is first compressed logarithmically by the distance
    // from the best, so that the model spends its resolution near the optimum instead of on the outliers.
    internal static double[] StandardizedValues(List<(double[] X, double Y)> points, bool warp)
    {
        var n = points.Count;
        var y = new double[n];
        for (var i = 0; i < n; i++) y[i] = points[i].Y;
        var best = y.Max();
        var gaps = y.Select(v => best - v).Order().ToArray();
        var medianGap = gaps[n / 2];
        if (warp && medianGap > 0 && gaps[^1] > WarpThreshold * medianGap)
            for (var i = 0; i < n; i++) y[i] = -Math.Log(1 + (best - y[i]) / medianGap);
        var mean = y.Average();
        var variance = 0.0;
        foreach (var v in y) variance += (v - mean) * (v - mean);
        var sd = Math.Sqrt(variance / Math.Max(n - 1, 1));
        if (!(sd > 1e-12 * Math.Max(1, Math.Abs(mean)))) sd = 1;
        for (var i = 0; i < n; i++) y[i] = (y[i] - mean) / sd;
        return y;
    }

    // Warp when the worst gap exceeds 5 median gaps (Rosenbrock, Styblinski–Tang, Branin late in a run; not Hartmann or
    // Ackley, whose bounded values the plain scale models better), and only in spaces without categorical parameters,
    // where on the quality suite's mixed function it kept the search in the first good category: chosen empirically.
    private const double WarpThreshold = 5;

    // The best third and the most recent rest, in their original order: bounded cost without losing the incumbents.
    internal static List<(double[] X, double Y)> SelectSubset(List<(double[] X, double Y)> points, int cap) =>
        points.Count <= cap ? points : SelectSubsetIndices(points, cap).Select(i => points[i]).ToList();

    internal static int[] SelectSubsetIndices(List<(double[] X, double Y)> points, int cap)
    {
        var n = points.Count;
        if (n <= cap) return Enumerable.Range(0, n).ToArray();
        var keep = new bool[n];
        foreach (var i in Enumerable.Range(0, n).OrderByDescending(i => points[i].Y).Take(cap / 3)) keep[i] = true;
        var kept = cap / 3;
        for (var i = n - 1; i >= 0 && kept < cap; i--)
            if (!keep[i]) { keep[i] = true; kept++; }
        return Enumerable.Range(0, n).Where(i => keep[i]).ToArray();
    }
}
