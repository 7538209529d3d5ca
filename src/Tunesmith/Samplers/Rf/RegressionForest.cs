namespace Tunesmith.Samplers.Rf;

/// <summary>
/// A random forest of regression trees over encoded configurations: each tree is grown on a bootstrap sample, choosing at
/// each node the best split among a random subset of features. Numeric features split at a threshold (an inactive
/// parameter is encoded below its range, so one split separates it); categorical features split one category against the
/// rest. Predictions give the mean over trees and the variance across them plus the mean variance within the leaves, the
/// uncertainty expected improvement needs. Immutable once grown.
/// </summary>
internal sealed class RegressionForest
{
    private readonly Node[][] _trees;

    private RegressionForest(Node[][] trees) => _trees = trees;

    /// <summary>Grows a forest on rows <paramref name="x"/> (one feature vector each) and targets <paramref name="y"/>.</summary>
    /// <param name="x">Feature vectors, one per row.</param>
    /// <param name="y">Targets, one per row.</param>
    /// <param name="settings">How the trees grow.</param>
    /// <param name="random">The source of bootstrap samples, feature subsets and thresholds.</param>
    /// <param name="categories">Per feature: 0 for numeric, else the number of category codes (codes 0..count−1).</param>
    public static RegressionForest Grow(IReadOnlyList<double[]> x, IReadOnlyList<double> y, int[] categories, RegressionForestSettings settings, Random random)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Count == 0 || x.Count != y.Count) throw new ArgumentException("the forest needs at least one row and one target per row");
        var trees = new Node[settings.Trees][];
        var n = x.Count;
        for (var t = 0; t < settings.Trees; t++)
        {
            var rows = new int[n];
            for (var i = 0; i < n; i++) rows[i] = settings.Bootstrap ? random.Next(n) : i;
            var builder = new TreeBuilder(x, y, categories, settings, random);
            builder.Build(rows, 0);
            trees[t] = builder.Nodes.ToArray();
        }
        return new RegressionForest(trees);
    }

    /// <summary>Mean over trees and total variance (across trees plus mean within-leaf variance) at <paramref name="features"/>.</summary>
    public (double Mean, double Variance) Predict(ReadOnlySpan<double> features)
    {
        double sum = 0, sumSq = 0, within = 0;
        foreach (var tree in _trees)
        {
            var node = tree[0];
            while (node.Feature >= 0)
            {
                var v = features[node.Feature];
                var left = node.Category >= 0 ? v == node.Category : v <= node.Threshold;
                node = tree[left ? node.Left : node.Right];
            }
            sum += node.Mean;
            sumSq += node.Mean * node.Mean;
            within += node.Variance;
        }
        var k = _trees.Length;
        var mean = sum / k;
        var across = Math.Max(0, sumSq / k - mean * mean);
        return (mean, across + within / k);
    }

    /// <summary>A node: a split (Feature ≥ 0) or a leaf (Feature = −1, with its mean and variance).</summary>
    private readonly record struct Node(int Feature, double Threshold, int Category, int Left, int Right, double Mean, double Variance);

    private sealed class TreeBuilder(IReadOnlyList<double[]> x, IReadOnlyList<double> y, int[] categories, RegressionForestSettings settings, Random random)
    {
        public List<Node> Nodes { get; } = [];

        public int Build(int[] rows, int depth)
        {
            var index = Nodes.Count;
            Nodes.Add(default);
            var (mean, variance) = Moments(rows);
            if (rows.Length < settings.MinSamplesSplit || depth >= settings.MaxDepth || variance <= 1e-300)
            {
                Nodes[index] = new Node(-1, 0, -1, -1, -1, mean, variance);
                return index;
            }
            var split = BestSplit(rows);
            if (split is not { } s)
            {
                Nodes[index] = new Node(-1, 0, -1, -1, -1, mean, variance);
                return index;
            }
            var leftRows = rows.Where(r => GoesLeft(x[r][s.Feature], s)).ToArray();
            var rightRows = rows.Where(r => !GoesLeft(x[r][s.Feature], s)).ToArray();
            var left = Build(leftRows, depth + 1);
            var right = Build(rightRows, depth + 1);
            Nodes[index] = new Node(s.Feature, s.Threshold, s.Category, left, right, mean, variance);
            return index;
        }

        private static bool GoesLeft(double v, Split s) => s.Category >= 0 ? v == s.Category : v <= s.Threshold;

        private (double Mean, double Variance) Moments(int[] rows)
        {
            double sum = 0, sumSq = 0;
            foreach (var r in rows) { sum += y[r]; sumSq += y[r] * y[r]; }
            var mean = sum / rows.Length;
            return (mean, Math.Max(0, sumSq / rows.Length - mean * mean));
        }

        private readonly record struct Split(int Feature, double Threshold, int Category, double Gain);

        private Split? BestSplit(int[] rows)
        {
            var d = categories.Length;
            var features = Enumerable.Range(0, d).ToArray();
            random.Shuffle(features);
            var tried = Math.Max(1, (int)Math.Ceiling(settings.FeatureFraction * d));
            Split? best = null;
            var n = rows.Length;
            double total = 0, totalSq = 0;
            foreach (var r in rows) { total += y[r]; totalSq += y[r] * y[r]; }
            var parentSse = totalSq - total * total / n;
            for (var f = 0; f < d; f++)
            {
                // Past the feature budget, keep looking only until some valid split is found (a constant feature cannot split).
                if (f >= tried && best is not null) break;
                var feature = features[f];
                var candidate = categories[feature] > 0
                    ? BestCategorySplit(rows, feature, total, totalSq, parentSse)
                    : BestThresholdSplit(rows, feature, total, totalSq, parentSse);
                if (candidate is { } c && (best is null || c.Gain > best.Value.Gain)) best = c;
            }
            return best;
        }

        private Split? BestThresholdSplit(int[] rows, int feature, double total, double totalSq, double parentSse)
        {
            var order = rows.OrderBy(r => x[r][feature]).ToArray();
            var n = order.Length;
            double leftSum = 0, leftSq = 0;
            Split? best = null;
            var minLeaf = settings.MinSamplesLeaf;
            for (var i = 0; i < n - 1; i++)
            {
                var v = y[order[i]];
                leftSum += v;
                leftSq += v * v;
                var a = x[order[i]][feature];
                var b = x[order[i + 1]][feature];
                if (a == b || i + 1 < minLeaf || n - i - 1 < minLeaf) continue;
                var nl = i + 1;
                var nr = n - nl;
                var sse = leftSq - leftSum * leftSum / nl + (totalSq - leftSq) - (total - leftSum) * (total - leftSum) / nr;
                var gain = parentSse - sse;
                if (best is null || gain > best.Value.Gain)
                    best = new Split(feature, a + (b - a) * random.NextDouble(), -1, gain);
            }
            // A threshold drawn between the two neighbouring values, not at their midpoint: trees then differ where data are sparse.
            return best;
        }

        private Split? BestCategorySplit(int[] rows, int feature, double total, double totalSq, double parentSse)
        {
            var count = categories[feature];
            var sums = new double[count + 1];
            var sqs = new double[count + 1];
            var ns = new int[count + 1];
            foreach (var r in rows)
            {
                var c = (int)x[r][feature];
                var k = c < 0 || c >= count ? count : c;
                sums[k] += y[r];
                sqs[k] += y[r] * y[r];
                ns[k]++;
            }
            var n = rows.Length;
            Split? best = null;
            for (var k = 0; k < count; k++)
            {
                var nl = ns[k];
                var nr = n - nl;
                if (nl < settings.MinSamplesLeaf || nr < settings.MinSamplesLeaf) continue;
                var sse = sqs[k] - sums[k] * sums[k] / nl + (totalSq - sqs[k]) - (total - sums[k]) * (total - sums[k]) / nr;
                var gain = parentSse - sse;
                if (best is null || gain > best.Value.Gain) best = new Split(feature, 0, k, gain);
            }
            return best;
        }
    }
}

/// <summary>How a <see cref="RegressionForest"/> grows its trees.</summary>
internal sealed record RegressionForestSettings(int Trees, int MinSamplesSplit, int MinSamplesLeaf, int MaxDepth, double FeatureFraction, bool Bootstrap);
