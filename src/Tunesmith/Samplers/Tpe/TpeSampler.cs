using System.Runtime.CompilerServices;
using Tunesmith.Spaces;

namespace Tunesmith.Samplers.Tpe;

/// <summary>
/// The Tree-structured Parzen Estimator (Bergstra et al. 2011; Watanabe 2023): splits the finished trials into a small
/// "good" group and the rest, fits a Parzen density to each, and proposes the candidate, drawn from the good density,
/// with the best ratio good/bad. Use it for most searches, especially conditional or categorical spaces and long runs;
/// it stays cheap as the history grows because observations are cached and extended incrementally.
/// </summary>
public sealed class TpeSampler : ISampler
{
    private static readonly IReadOnlyDictionary<string, Distribution> NoSpace = new Dictionary<string, Distribution>();
    private static readonly IReadOnlyDictionary<string, object?> NoValues = new Dictionary<string, object?>();

    private readonly object _gate = new();
    private readonly ObservationTable _table = new();
    private readonly IntersectionSearchSpace _intersection = new();
    private readonly GroupDecomposedSearchSpace _groups = new();

    /// <summary>Creates a TPE sampler with the given options (defaults when null).</summary>
    public TpeSampler(TpeOptions? options = null)
    {
        Options = options ?? new TpeOptions();
        Options.Validate();
    }

    /// <summary>Creates a TPE sampler with default options and a seed.</summary>
    public TpeSampler(int? seed) : this(new TpeOptions { Seed = seed })
    {
    }

    /// <summary>The sampler's settings.</summary>
    public TpeOptions Options { get; }

    /// <inheritdoc />
    public int? Seed => Options.Seed;

    /// <inheritdoc />
    public string Name => "tpe";

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Distribution> InferRelativeSearchSpace(SamplingContext context)
    {
        if (!Options.Multivariate) return NoSpace;
        lock (_gate)
        {
            var space = new Dictionary<string, Distribution>(StringComparer.Ordinal);
            if (Options.Group)
            {
                foreach (var group in _groups.Calculate(context.History))
                    foreach (var name in group) space[name] = _groups.DistributionOf(name);
            }
            else
            {
                foreach (var (name, distribution) in _intersection.Calculate(context.History))
                    if (!distribution.IsSingle) space[name] = distribution;
            }
            return space;
        }
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, object?> SampleRelative(SamplingContext context, IReadOnlyDictionary<string, Distribution> searchSpace)
    {
        if (searchSpace.Count == 0) return NoValues;
        List<IReadOnlyList<string>> groups;
        lock (_gate)
        {
            _table.Update(context.History);
            if (_table.Count < Options.StartupTrials || _table.CompleteCount == 0) return NoValues;
            groups = Options.Group
                ? _groups.Calculate(context.History).Select(g => (IReadOnlyList<string>)g.Where(searchSpace.ContainsKey).ToArray()).Where(g => g.Count > 0).ToList()
                : [searchSpace.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray()];
        }
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        // A group that is only part of the space (a branch choice, one branch's parameters) can match a running trial's
        // values without the two trials being the same point, so only a group of the whole space skips running points.
        var whole = groups.Count == 1 && groups[0].Count == searchSpace.Count;
        foreach (var names in groups)
        {
            var distributions = names.Select(n => searchSpace[n]).ToArray();
            var values = SampleJoint(context, names, distributions, joint: true, skipRunningPoints: whole);
            if (values is null) continue;
            for (var i = 0; i < names.Count; i++) result[names[i]] = values[i];
        }
        return result;
    }

    /// <inheritdoc />
    public object? SampleIndependent(SamplingContext context, string name, Distribution distribution)
    {
        bool startup;
        lock (_gate)
        {
            _table.Update(context.History);
            startup = _table.Count < Options.StartupTrials || _table.CompleteCount == 0;
        }
        var sampled = startup ? null : SampleJoint(context, [name], [distribution], joint: false, skipRunningPoints: true);
        if (sampled is not null) return sampled[0];
        var value = RandomSampler.DrawUniform(context.Random, distribution);
        if (Options.ConstantLiar)
            lock (_gate) _table.Propose(context.Trial.Number, name, value);
        return value;
    }

    /// <summary>
    /// One TPE proposal for a set of parameters modelled together; null when no Complete trial has them all.
    /// Values proposed are remembered so that, with the constant liar, later asks treat this trial as a bad point.
    /// With <paramref name="skipRunningPoints"/>, a candidate equal to a running trial's values is taken only when every
    /// candidate is: it would evaluate the same point twice. A joint group that is only part of the space leaves this out:
    /// with 3 branches and 8 workers, skipping each branch a worker already took forced every round onto all 3 branches.
    /// The univariate sampler keeps it for each parameter: without it, it lost on categorical-heavy spaces
    /// (docs/BENCHMARKS.md, "Parallel workers").
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private object?[]? SampleJoint(SamplingContext context, IReadOnlyList<string> names, Distribution[] distributions, bool joint, bool skipRunningPoints)
    {
        var d = names.Count;
        var dims = new ParamEncoding[d];
        double[] goodValues, badValues, goodWeights, badWeights;
        List<double[]> liars;
        List<double[]>? moves = null;
        lock (_gate)
        {
            var columns = new ObservationTable.Column[d];
            for (var j = 0; j < d; j++)
            {
                columns[j] = _table.GetColumn(names[j], distributions[j]);
                dims[j] = columns[j].Encoding;
            }
            var scores = _table.Scores;
            var n = scores.Length;
            // Rows that have every parameter of the group, split into Complete and Pruned.
            var rows = new int[n];
            var rowCount = 0;
            var complete = 0;
            for (var i = 0; i < n; i++)
            {
                var has = true;
                for (var j = 0; j < d && has; j++) has = !double.IsNaN(columns[j].Values[i]);
                if (!has) continue;
                rows[rowCount++] = i;
                if (!double.IsPositiveInfinity(scores[i])) complete++;
            }
            if (complete == 0) return null;

            var goodCount = Options.GoodCount(complete);
            var goodRank = SelectBest(scores, rows.AsSpan(0, rowCount), goodCount);

            liars = [];
            if (Options.ConstantLiar)
            {
                foreach (var running in _table.Running)
                {
                    if (running.Number == context.Trial.Number) continue;
                    var point = new double[d];
                    var known = true;
                    for (var j = 0; j < d && known; j++)
                    {
                        known = _table.TryGetRunningValue(running, names[j], distributions[j], out var v);
                        if (known) point[j] = dims[j].Encode(v);
                        known = known && !double.IsNaN(point[j]);
                    }
                    if (known) liars.Add(point);
                }
            }

            // A category move: the candidates are the best trial with one or two categories changed (and the numbers of
            // the best trial that has the new values), scored by the same ratio as the usual candidates drawn from l.
            if (joint && Options.CategoryMoveRate > 0 && dims.Count(x => x.Kind == EncodedKind.Categorical) >= 2
                && context.Random.NextDouble() < Options.CategoryMoveRate)
            {
                // Complete rows best first, then the pruned ones (tried too); ties keep their order (OrderBy is stable).
                var rowScores = new double[rowCount];
                for (var r = 0; r < rowCount; r++) rowScores[r] = scores[rows[r]];
                var ordered = Enumerable.Range(0, rowCount).OrderBy(r => rowScores[r])
                    .Select(r => Enumerable.Range(0, d).Select(j => columns[j].Values[rows[r]]).ToArray()).ToList();
                moves = CategoryNeighbours.Untried(dims, ordered, liars);
                if (Options.UntriedCombinationsFirst) moves = CategoryNeighbours.UntriedCombinationsFirst(dims, moves, ordered, liars);
                if (moves.Count == 0) moves = null;
            }

            var badCount = rowCount - goodCount + liars.Count;
            goodValues = new double[goodCount * d];
            badValues = new double[badCount * d];
            int g = 0, b = 0;
            for (var r = 0; r < rowCount; r++)
            {
                var i = rows[r];
                if (goodRank[r] >= 0)
                {
                    for (var j = 0; j < d; j++) goodValues[g * d + j] = columns[j].Values[i];
                    g++;
                }
                else
                {
                    for (var j = 0; j < d; j++) badValues[b * d + j] = columns[j].Values[i];
                    b++;
                }
            }
            foreach (var point in liars)
            {
                point.CopyTo(badValues, b * d);
                b++;
            }
            goodWeights = Weights(goodCount);
            if (Options.RankWeighting > 0)
            {
                g = 0;
                for (var r = 0; r < rowCount; r++)
                    if (goodRank[r] >= 0)
                        goodWeights[g++] *= 1.0 + Options.RankWeighting * (goodCount - 1 - goodRank[r]) / Math.Max(1, goodCount - 1);
            }
            badWeights = Weights(badCount);
        }

        var good = new ParzenEstimator(dims, goodValues, goodWeights, Options, joint);
        var bad = new ParzenEstimator(dims, badValues, badWeights, Options, joint);
        double[] candidates;
        int count;
        if (moves is not null)
        {
            candidates = moves.SelectMany(m => m).ToArray();
            count = moves.Count;
        }
        else
        {
            candidates = good.Sample(context.Random, Options.EiCandidates, joint ? (int)Math.Round(Options.RecombinedCandidates * Options.EiCandidates) : 0, joint ? Options.CoordinateKeepRate : 0);
            count = Options.EiCandidates;
        }
        var goodLog = new double[count];
        var badLog = new double[count];
        good.LogPdf(candidates, goodLog);
        bad.LogPdf(candidates, badLog);
        var best = 0;
        var bestScore = double.NegativeInfinity;
        // A tempered bad density for joint groups only: one parameter's bad density spans no orders of magnitude, and a
        // tempered branch choice locks onto the first good branch.
        var badExponent = joint && d > 1 ? Options.BadDensityExponent : 1.0;
        // Only the numeric part of the bad density spans orders of magnitude: log g(x) = log g(c) + log g(x | c) for the
        // categories c, and the categories keep the plain ratio, score = log l(x) − log g(c) − β·log g(x | c). Only for
        // two or more categoricals, whose combinations a tempered ratio never left; a lone categorical did slightly
        // better tempered (docs/TPE.md, "Categorical parameters in a joint group").
        double[]? badCategorical = null;
        if (!Options.TemperCategoricals && badExponent != 1.0 && bad.CategoricalCount >= 2)
        {
            badCategorical = new double[count];
            bad.LogPmfCategorical(candidates, badCategorical);
        }
        for (var c = 0; c < count; c++)
        {
            var score = goodLog[c] - badExponent * badLog[c];
            if (badCategorical is not null) score -= (1.0 - badExponent) * badCategorical[c];
            // A point another worker is evaluating right now is worth nothing twice: take any other candidate first.
            if (skipRunningPoints && IsPending(candidates.AsSpan(c * d, d), liars)) score = double.MinValue;
            if (score > bestScore)
            {
                bestScore = score;
                best = c;
            }
        }
        var values = new object?[d];
        for (var j = 0; j < d; j++) values[j] = dims[j].Decode(candidates[best * d + j]);
        if (Options.ConstantLiar)
            lock (_gate)
                for (var j = 0; j < d; j++) _table.Propose(context.Trial.Number, names[j], values[j]);
        return values;
    }

    private static bool IsPending(ReadOnlySpan<double> point, List<double[]> pending)
    {
        foreach (var p in pending)
        {
            var same = true;
            for (var j = 0; j < point.Length && same; j++) same = Math.Abs(point[j] - p[j]) < 1e-12;
            if (same) return true;
        }
        return false;
    }

    /// <summary>The rank (0 = best) of the <paramref name="count"/> lowest-scored rows, −1 for the others (earlier rows win ties); Pruned rows (score +∞) never qualify.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int[] SelectBest(ReadOnlySpan<double> scores, ReadOnlySpan<int> rows, int count)
    {
        // A sorted buffer of the best so far: count is small (≤ MaxGood), so insertion beats sorting every row.
        var bestRows = new int[count];
        var bestScores = new double[count];
        var filled = 0;
        for (var r = 0; r < rows.Length; r++)
        {
            var s = scores[rows[r]];
            if (double.IsPositiveInfinity(s)) continue;
            if (filled == count && !(s < bestScores[count - 1])) continue;
            var at = filled < count ? filled++ : count - 1;
            while (at > 0 && s < bestScores[at - 1])
            {
                bestScores[at] = bestScores[at - 1];
                bestRows[at] = bestRows[at - 1];
                at--;
            }
            bestScores[at] = s;
            bestRows[at] = r;
        }
        var rank = new int[rows.Length];
        Array.Fill(rank, -1);
        for (var k = 0; k < filled; k++) rank[bestRows[k]] = k;
        return rank;
    }

    /// <summary>Kernel weights by age: equal up to 25 observations, then a linear ramp from 1/n for the oldest to 1 for the newest 25.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private double[] Weights(int n)
    {
        var w = new double[n];
        const int flat = 25;
        if (!Options.DecayOldObservations || n <= flat)
        {
            Array.Fill(w, 1.0);
            return w;
        }
        var ramp = n - flat;
        for (var i = 0; i < ramp; i++)
            w[i] = ramp == 1 ? 1.0 / n : 1.0 / n + (1.0 - 1.0 / n) * i / (ramp - 1);
        for (var i = ramp; i < n; i++) w[i] = 1.0;
        return w;
    }
}
