using Tunesmith.Samplers.Tpe;
using Tunesmith.Spaces;

namespace Tunesmith.Samplers.Bohb;

/// <summary>
/// Hyper-Tune's multi-fidelity ensemble weights (Li et al. 2022, after MFES-HB, Li et al. 2021) for TPE level models:
/// each level's model ranks the configurations observed at the reference level (the largest level with enough points),
/// a model's ranking loss is the number of pairs it orders differently from their reference-level values, and a level's
/// weight is the share of bootstrap resamples of those configurations in which its model has the smallest loss (ties
/// shared). The reference level's own model is judged by leave-one-out predictions, so it does not rank points it was
/// fitted on. A TPE model ranks a configuration by its acquisition score, log l(x) − log g(x) (good over bad density).
/// </summary>
/// <remarks>Pure and deterministic: the resamples come from a generator seeded by the caller.</remarks>
internal static class LevelWeighting
{
    /// <summary>
    /// The weight of each level (same order as <paramref name="levels"/>, summing to 1); levels below
    /// <paramref name="minPoints"/> observations and levels above the reference get 0.
    /// </summary>
    public static double[] Weights(IReadOnlyList<StudyHistory> levels, int minPoints, TpeOptions model, int samples, int seed, bool dilutionGuard = true)
    {
        var weights = new double[levels.Count];
        var reference = -1;
        for (var i = levels.Count - 1; i >= 0 && reference < 0; i--)
            if (levels[i].Trials.Count >= minPoints) reference = i;
        if (reference < 0) return weights;
        var candidates = Enumerable.Range(0, reference + 1).Where(i => levels[i].Trials.Count >= minPoints).ToArray();
        if (candidates.Length == 1)
        {
            weights[reference] = 1;
            return weights;
        }

        var points = levels[reference].Trials;
        var names = points[0].Distributions.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray();
        var dims = names.Select(n => ParamEncoding.For(points[0].Distributions[n])).ToArray();
        var (x, y) = Encode(points, names, dims);
        var n = y.Length;
        var predictions = new double[candidates.Length][];
        for (var c = 0; c < candidates.Length; c++)
        {
            var level = candidates[c];
            predictions[c] = new double[n];
            if (level == reference)
            {
                for (var j = 0; j < n; j++)
                    Fit(x, y, dims, model, leaveOut: j).Score(x.AsSpan(j * dims.Length, dims.Length), predictions[c].AsSpan(j, 1));
            }
            else
            {
                var (lx, ly) = Encode(levels[level].Trials, names, dims);
                Fit(lx, ly, dims, model, leaveOut: -1).Score(x, predictions[c]);
            }
        }

        var random = new Random(seed);
        var pick = new int[n];
        var ranks = predictions.Select(PredictionRanks).ToArray();
        var counter = new long[n + 1];
        var losses = new long[samples, candidates.Length];
        for (var s = 0; s < samples; s++)
        {
            for (var j = 0; j < n; j++) pick[j] = random.Next(n);
            // Best (lowest score) last, so each equal-score group is counted against the worse points already seen.
            Array.Sort(pick, (a, b) => y[b].CompareTo(y[a]));
            for (var c = 0; c < candidates.Length; c++) losses[s, c] = RankingLoss(ranks[c], y, pick, counter);
        }
        // RGPE's guard against weight dilution (Feurer et al. 2018): a lower level whose median loss is above the 95th
        // percentile of the reference level's losses takes no part.
        var kept = new bool[candidates.Length];
        var own = Sorted(Enumerable.Range(0, samples).Select(s => losses[s, candidates.Length - 1]));
        var ceiling = own[Math.Min(samples - 1, (int)Math.Ceiling(0.95 * samples) - 1)];
        for (var c = 0; c < candidates.Length; c++)
        {
            var mine = Sorted(Enumerable.Range(0, samples).Select(s => losses[s, c]));
            kept[c] = c == candidates.Length - 1 || !(mine[(samples - 1) / 2] > ceiling) || !dilutionGuard;
        }
        for (var s = 0; s < samples; s++)
        {
            var best = long.MaxValue;
            var winners = 0;
            for (var c = 0; c < candidates.Length; c++)
            {
                if (!kept[c]) continue;
                if (losses[s, c] < best) (best, winners) = (losses[s, c], 1);
                else if (losses[s, c] == best) winners++;
            }
            for (var c = 0; c < candidates.Length; c++)
                if (kept[c] && losses[s, c] == best) weights[candidates[c]] += 1.0 / winners;
        }
        for (var i = 0; i < weights.Length; i++) weights[i] /= samples;
        return weights;
    }

    private static long[] Sorted(IEnumerable<long> values)
    {
        var array = values.ToArray();
        Array.Sort(array);
        return array;
    }

    /// <summary>
    /// The misordered pairs of a resample: pairs of picked points with different scores <paramref name="y"/> (lower is
    /// better) whose predictions (higher is better) are in the other order or tied. A point picked twice is a pair with
    /// equal scores and does not count.
    /// </summary>
    internal static long RankingLoss(double[] predictions, double[] y, int[] pick)
    {
        var sorted = (int[])pick.Clone();
        Array.Sort(sorted, (a, b) => y[b].CompareTo(y[a]));
        return RankingLoss(PredictionRanks(predictions), y, sorted, new long[predictions.Length + 1]);
    }

    // pick sorted by score, worst first; ranks: 1-based dense ranks of the predictions (equal predictions, equal rank).
    // O(n log n): a Fenwick tree counts the worse points already seen whose prediction is at least this point's.
    private static long RankingLoss(int[] ranks, double[] y, int[] pick, long[] tree)
    {
        Array.Clear(tree);
        var size = tree.Length - 1;
        long loss = 0, seen = 0;
        for (var start = 0; start < pick.Length;)
        {
            var end = start;
            while (end < pick.Length && y[pick[end]] == y[pick[start]]) end++;
            for (var k = start; k < end; k++)
            {
                long below = 0; // seen points with a rank below this one's (predicted strictly worse)
                for (var i = ranks[pick[k]] - 1; i > 0; i -= i & -i) below += tree[i];
                loss += seen - below;
            }
            for (var k = start; k < end; k++)
            {
                for (var i = ranks[pick[k]]; i <= size; i += i & -i) tree[i]++;
                seen++;
            }
            start = end;
        }
        return loss;
    }

    private static int[] PredictionRanks(double[] predictions)
    {
        var order = Enumerable.Range(0, predictions.Length).OrderBy(i => predictions[i]).ToArray();
        var ranks = new int[predictions.Length];
        var rank = 0;
        for (var k = 0; k < order.Length; k++)
        {
            if (k == 0 || predictions[order[k]] != predictions[order[k - 1]]) rank++;
            ranks[order[k]] = rank;
        }
        return ranks;
    }

    // Rows with every parameter, encoded; the level's score (the projected history's value, lower is better).
    private static (double[] X, double[] Y) Encode(IReadOnlyList<FrozenTrial> trials, string[] names, ParamEncoding[] dims)
    {
        var x = new List<double>(trials.Count * names.Length);
        var y = new List<double>(trials.Count);
        var row = new double[names.Length];
        foreach (var t in trials)
        {
            if (t.Value is not { } value) continue;
            var ok = true;
            for (var j = 0; j < names.Length && ok; j++)
            {
                row[j] = t.Params.TryGetValue(names[j], out var v) ? dims[j].Encode(v) : double.NaN;
                ok = !double.IsNaN(row[j]);
            }
            if (!ok) continue;
            x.AddRange(row);
            y.Add(value);
        }
        return (x.ToArray(), y.ToArray());
    }

    // A TPE model fitted on (x, y) without row leaveOut (−1: all rows): the lowest ceil(γ·n) scores (at most MaxGood)
    // form the good density, the rest the bad one, as TPE splits them.
    private static Model Fit(double[] x, double[] y, ParamEncoding[] dims, TpeOptions model, int leaveOut)
    {
        var d = dims.Length;
        var rows = Enumerable.Range(0, y.Length).Where(r => r != leaveOut).ToArray();
        var goodCount = Math.Min(model.GoodCount(rows.Length), rows.Length);
        var order = rows.OrderBy(r => y[r]).ThenBy(r => r).ToArray();
        var good = new double[goodCount * d];
        var bad = new double[(rows.Length - goodCount) * d];
        for (var k = 0; k < order.Length; k++)
        {
            var target = k < goodCount ? good.AsSpan(k * d, d) : bad.AsSpan((k - goodCount) * d, d);
            x.AsSpan(order[k] * d, d).CopyTo(target);
        }
        return new Model(
            new ParzenEstimator(dims, good, Ones(goodCount), model, joint: true),
            new ParzenEstimator(dims, bad, Ones(rows.Length - goodCount), model, joint: true),
            d > 1 ? model.BadDensityExponent : 1.0);
    }

    // TPE's acquisition score, log l(x) − e·log g(x) (e: the tempered bad density TPE uses for joint groups).
    private sealed record Model(ParzenEstimator Good, ParzenEstimator Bad, double BadExponent)
    {
        public void Score(ReadOnlySpan<double> points, Span<double> result)
        {
            var bad = new double[result.Length];
            Good.LogPdf(points, result);
            Bad.LogPdf(points, bad);
            for (var i = 0; i < result.Length; i++) result[i] -= BadExponent * bad[i];
        }
    }

    private static double[] Ones(int n)
    {
        var w = new double[n];
        Array.Fill(w, 1.0);
        return w;
    }
}
