using Tunesmith.Samplers.Gp;
using Tunesmith.Spaces;

namespace Tunesmith.Samplers.Rf;

/// <summary>
/// Random-forest Bayesian optimization in the manner of SMAC: a forest of regression trees fitted to the finished
/// trials predicts each configuration's value with a mean and a variance (across trees), and the sampler proposes the
/// configuration of highest expected improvement, found by local search from the best trials among random candidates.
/// Trees split categorical parameters natively and need no kernel, so the forest suits spaces with many categorical or
/// conditional parameters; with <see cref="Branches.BranchAwareSampler"/> around it (<c>branch_aware: true</c>) each branch
/// gets its own forest. <c>auto</c> picks the forest alone for blocks that repeat a variable number of times (until the
/// budget allows a GP per layer count).
/// <para>
/// The model covers every parameter the finished trials have (the union, not the intersection): a parameter a trial
/// lacks is encoded below its range (numeric) or as a category of its own, so a split separates trials that have it
/// from those that do not. Candidates keep the set of parameters of an observed trial, so a proposal is always a shape
/// the objective has produced. Running trials count as observed at the mean value, so parallel workers spread out.
/// </para>
/// </summary>
public sealed class RandomForestSampler : ISampler
{
    private static readonly IReadOnlyDictionary<string, Distribution> NoSpace = new Dictionary<string, Distribution>();
    private static readonly IReadOnlyDictionary<string, object?> NoValues = new Dictionary<string, object?>();
    private const double NumericStepSd = 0.15;
    private const int MaxLocalSteps = 30;

    private readonly object _gate = new();
    private readonly Dictionary<int, IReadOnlyDictionary<string, object?>> _proposals = [];

    /// <summary>Creates a random-forest sampler.</summary>
    public RandomForestSampler(RandomForestOptions? options = null)
    {
        Options = options ?? new RandomForestOptions();
        Options.Validate();
    }

    /// <summary>The options the sampler runs with.</summary>
    public RandomForestOptions Options { get; }

    /// <inheritdoc />
    public int? Seed => Options.Seed;

    /// <inheritdoc />
    public string Name => "rf";

    /// <summary>
    /// Every parameter of the Complete trials (the union, each with the distribution its latest trial used), once at least
    /// <see cref="RandomForestOptions.StartupTrials"/> trials are Complete; empty before (every value is then drawn at random).
    /// </summary>
    public IReadOnlyDictionary<string, Distribution> InferRelativeSearchSpace(SamplingContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var union = new SortedDictionary<string, Distribution>(StringComparer.Ordinal);
        var complete = 0;
        foreach (var t in context.History.Trials)
        {
            if (t.State != TrialState.Complete || t.Value is not { } v || !double.IsFinite(v)) continue;
            complete++;
            foreach (var (name, distribution) in t.Distributions)
                if (!distribution.IsSingle) union[name] = distribution;
        }
        if (complete < Options.StartupTrials || union.Count == 0) return NoSpace;
        return union.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
    }

    /// <inheritdoc />
    public object? SampleIndependent(SamplingContext context, string name, Distribution distribution)
    {
        ArgumentNullException.ThrowIfNull(context);
        return RandomSampler.DrawUniform(context.Random, distribution);
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, object?> SampleRelative(SamplingContext context, IReadOnlyDictionary<string, Distribution> searchSpace)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(searchSpace);
        var random = context.Random;
        // SMAC's interleaved random configurations: every value then comes from SampleIndependent.
        if (random.NextDouble() < Options.RandomProposalRate) return NoValues;

        var space = new RfFeatureSpace(searchSpace);
        var sign = context.Direction == Direction.Minimize ? 1.0 : -1.0;
        var rows = new List<double[]>();
        var costs = new List<double>();
        var pending = new List<double[]>();
        lock (_gate)
        {
            foreach (var t in context.History.Trials)
            {
                if (t.State == TrialState.Complete && t.Value is { } v && double.IsFinite(v))
                {
                    rows.Add(space.Encode(t.Params, t.Distributions));
                    costs.Add(sign * v);
                    _proposals.Remove(t.Number);
                }
                else if (t.State == TrialState.Running && t.Number != context.Trial.Number)
                {
                    if (t.Params.Count > 0) pending.Add(space.Encode(t.Params, t.Distributions));
                    else if (_proposals.TryGetValue(t.Number, out var proposed)) pending.Add(space.Encode(proposed, null));
                }
                else if (t.State.IsFinished()) _proposals.Remove(t.Number);
            }
        }
        if (rows.Count < 2) return NoValues;

        var y = Targets(costs, Options.LogTransform);
        var incumbent = y.Min();
        var trainX = new List<double[]>(rows);
        var trainY = new List<double>(y);
        if (pending.Count > 0)
        {
            var liar = y.Average();
            foreach (var p in pending) { trainX.Add(p); trainY.Add(liar); }
        }
        var settings = new RegressionForestSettings(Options.Trees, Options.MinSamplesSplit, Options.MinSamplesLeaf, Options.MaxDepth, Options.FeatureFraction, Options.Bootstrap);
        var forest = RegressionForest.Grow(trainX, trainY, space.Categories, settings, random);

        var seen = new HashSet<string>(rows.Concat(pending).Select(Key));
        var pair = Options.CategoryPairRate > 0 && random.NextDouble() < Options.CategoryPairRate
            ? CategoryPairs.Choose(space.Categories, rows.Concat(pending).ToList(), [.. y, .. pending.Select(_ => double.NaN)], random) : null;
        var best = MaximizeExpectedImprovement(forest, space, rows, y, incumbent, seen, random, pair);
        var values = space.Decode(best, random);
        lock (_gate) _proposals[context.Trial.Number] = values;
        return values;
    }

    /// <summary>Costs as the forest models them: on a log scale of the gap to the best when the values are heavy-tailed.</summary>
    internal static double[] Targets(IReadOnlyList<double> costs, bool logTransform)
    {
        var y = costs.ToArray();
        if (!logTransform || y.Length < 3) return y;
        var best = y.Min();
        var gaps = y.Select(c => c - best).Order().ToArray();
        var median = gaps[gaps.Length / 2];
        if (median > 0 && gaps[^1] > HeavyTail * median)
            for (var i = 0; i < y.Length; i++) y[i] = Math.Log(1 + (y[i] - best) / median);
        return y;
    }

    private const double HeavyTail = 5;

    private static string Key(double[] x) => string.Join(',', x.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)));

    private double[] MaximizeExpectedImprovement(RegressionForest forest, RfFeatureSpace space, List<double[]> rows, double[] y,
        double incumbent, HashSet<string> seen, Random random, CategoryPair? pair = null)
    {
        // With a categorical pair to explore, every candidate carries it, and the local search moves the other features only.
        double[] Fix(double[] x)
        {
            if (pair is { } p) { x[p.First] = p.FirstValue; x[p.Second] = p.SecondValue; }
            return x;
        }
        bool Moves(double[] from, double[] to) => pair is not { } p || (to[p.First] == from[p.First] && to[p.Second] == from[p.Second]);
        double Score(double[] x)
        {
            var (mean, variance) = forest.Predict(x);
            // log EI for minimization: the GP's maximization form on negated values.
            return LogExpectedImprovement.Value(-mean, variance, -incumbent, out _, out _);
        }

        double[]? best = null;
        var bestScore = double.NegativeInfinity;
        void Consider(double[] x, double score)
        {
            if (score > bestScore && !seen.Contains(Key(x))) { best = x; bestScore = score; }
        }

        var candidates = new List<(double[] X, double Score)>(Options.RandomCandidates);
        for (var i = 0; i < Options.RandomCandidates; i++)
        {
            var x = Fix(space.RandomLike(PairShape(rows, pair, random), random));
            var s = Score(x);
            candidates.Add((x, s));
            Consider(x, s);
        }
        var starts = Enumerable.Range(0, rows.Count).Where(i => pair is not { } p || (rows[i][p.First] != RfFeatureSpace.Inactive && rows[i][p.Second] != RfFeatureSpace.Inactive))
            .OrderBy(i => y[i]).Take(Options.LocalSearchStarts).Select(i => Fix((double[])rows[i].Clone()))
            .Concat(candidates.OrderByDescending(c => c.Score).Take(Math.Max(1, Options.LocalSearchStarts / 2)).Select(c => c.X));
        foreach (var start in starts)
        {
            var current = (double[])start.Clone();
            var currentScore = Score(current);
            for (var step = 0; step < MaxLocalSteps; step++)
            {
                double[]? next = null;
                var nextScore = currentScore;
                foreach (var neighbour in space.Neighbours(current, random))
                {
                    if (!Moves(current, neighbour)) continue;
                    var s = Score(neighbour);
                    Consider(neighbour, s);
                    if (s > nextScore) { next = neighbour; nextScore = s; }
                }
                if (next is null) break;
                current = next;
                currentScore = nextScore;
            }
        }
        return best ?? Fix(space.RandomLike(PairShape(rows, pair, random), random));
    }

    // A trial shape for random candidates: any trial's, or with a pair to explore, one that has both of its parameters.
    private static double[] PairShape(List<double[]> rows, CategoryPair? pair, Random random)
    {
        if (pair is not { } p) return rows[random.Next(rows.Count)];
        var shapes = rows.Where(r => r[p.First] != RfFeatureSpace.Inactive && r[p.Second] != RfFeatureSpace.Inactive).ToList();
        return shapes[random.Next(shapes.Count)];
    }

    /// <summary>The encoding of configurations as feature vectors over a union of parameters.</summary>
    internal sealed class RfFeatureSpace
    {
        private readonly string[] _names;
        private readonly Distribution[] _distributions;

        public RfFeatureSpace(IReadOnlyDictionary<string, Distribution> space)
        {
            _names = space.Keys.ToArray();
            _distributions = space.Values.ToArray();
            Categories = _distributions.Select(d => d is CategoricalDistribution c ? c.Choices.Count : 0).ToArray();
        }

        /// <summary>Per feature: 0 for numeric, else the number of choices.</summary>
        public int[] Categories { get; }

        /// <summary>A parameter a configuration lacks (or drew from another distribution) is encoded as this value.</summary>
        public const double Inactive = -1;

        public double[] Encode(IReadOnlyDictionary<string, object?> values, IReadOnlyDictionary<string, Distribution>? distributions)
        {
            var x = new double[_names.Length];
            for (var j = 0; j < _names.Length; j++)
            {
                x[j] = Inactive;
                if (!values.TryGetValue(_names[j], out var value)) continue;
                if (distributions is not null && (!distributions.TryGetValue(_names[j], out var d) || !d.Equals(_distributions[j]))) continue;
                x[j] = _distributions[j] switch
                {
                    CategoricalDistribution c => c.IndexOf(value) is var k and >= 0 ? k : Inactive,
                    FloatDistribution f when ParamValues.TryToDouble(value, out var v) => Math.Clamp(f.ToUnit(v), 0, 1),
                    IntDistribution i when ParamValues.TryToDouble(value, out var v) => Math.Clamp(i.ToUnit(v), 0, 1),
                    _ => Inactive,
                };
            }
            return x;
        }

        /// <summary>Values for the active features; inactive ones get a random value in case the objective asks for them after all.</summary>
        public IReadOnlyDictionary<string, object?> Decode(double[] x, Random random)
        {
            var values = new Dictionary<string, object?>(StringComparer.Ordinal);
            for (var j = 0; j < _names.Length; j++)
                values[_names[j]] = x[j] == Inactive ? RandomSampler.DrawUniform(random, _distributions[j]) : Value(j, x[j]);
            return values;
        }

        private object? Value(int j, double u) => _distributions[j] switch
        {
            CategoricalDistribution c => c.Choices[(int)u],
            FloatDistribution f => f.FromUnit(u),
            IntDistribution i => i.FromUnit(u),
            _ => throw new InvalidOperationException("unknown distribution"),
        };

        // A numeric feature sits where its snapped value maps back, so a candidate's features are those of the trial it becomes.
        private double Snap(int j, double u) => _distributions[j] switch
        {
            FloatDistribution { Step: null } => Math.Clamp(u, 0, 1),
            FloatDistribution f => Math.Clamp(f.ToUnit(f.FromUnit(u)), 0, 1),
            IntDistribution i => Math.Clamp(i.ToUnit(i.FromUnit(u)), 0, 1),
            _ => u,
        };

        /// <summary>A uniform random configuration with the same active parameters as <paramref name="shape"/>.</summary>
        public double[] RandomLike(double[] shape, Random random)
        {
            var x = new double[shape.Length];
            for (var j = 0; j < x.Length; j++)
                x[j] = shape[j] == Inactive ? Inactive
                    : Categories[j] > 0 ? random.Next(Categories[j])
                    : Snap(j, random.NextDouble());
            return x;
        }

        /// <summary>One-parameter moves: a few Gaussian steps per numeric parameter, every other choice per categorical one.</summary>
        public IEnumerable<double[]> Neighbours(double[] x, Random random)
        {
            for (var j = 0; j < x.Length; j++)
            {
                if (x[j] == Inactive) continue;
                if (Categories[j] > 0)
                {
                    for (var k = 0; k < Categories[j]; k++)
                    {
                        if (k == (int)x[j]) continue;
                        var n = (double[])x.Clone();
                        n[j] = k;
                        yield return n;
                    }
                    continue;
                }
                for (var m = 0; m < 4; m++)
                {
                    var n = (double[])x.Clone();
                    n[j] = Snap(j, x[j] + NumericStepSd * Tpe.NormalMath.NextGaussian(random));
                    if (n[j] != x[j]) yield return n;
                }
                if (_distributions[j] is IntDistribution or FloatDistribution { Step: not null })
                {
                    // The neighbouring grid points, which a Gaussian step over a fine grid may keep missing.
                    foreach (var delta in new[] { -1e-9, 1e-9 })
                    {
                        var n = (double[])x.Clone();
                        n[j] = NextGridPoint(j, x[j], delta > 0);
                        if (n[j] != x[j]) yield return n;
                    }
                }
            }
        }

        private double NextGridPoint(int j, double u, bool up)
        {
            switch (_distributions[j])
            {
                case IntDistribution i:
                    {
                        var v = i.FromUnit(u);
                        var w = up ? Math.Min(i.High, v + i.Step) : Math.Max(i.Low, v - i.Step);
                        return Math.Clamp(i.ToUnit(w), 0, 1);
                    }
                case FloatDistribution { Step: { } s } f:
                    {
                        var v = f.FromUnit(u);
                        var w = up ? Math.Min(f.High, v + s) : Math.Max(f.Low, v - s);
                        return Math.Clamp(f.ToUnit(w), 0, 1);
                    }
                default:
                    return u;
            }
        }
    }
}
