namespace Tunesmith.Samplers.Gp;

/// <summary>
/// Maximizes log expected improvement over the feature space: scores random candidates (uniform, plus perturbations of
/// the best observed points so that exploitation is not left to chance), refines the best few by bounded L-BFGS on the
/// numeric coordinates, snaps integers and steps onto their grid, and finishes with a neighbour search over the discrete
/// coordinates (one step of an integer, every other choice of a categorical).
/// <para>
/// With <paramref name="fixedTail"/>, the process has more inputs than the space: the point scored is the space's feature
/// vector followed by these fixed values (MOBSTER scores a configuration at its acquisition resource this way).
/// </para>
/// </summary>
/// <para>
/// With <paramref name="costPenalty"/>, the score is log EI minus Scale times the mean of a second process over the
/// space's features (a model of log cost): expected improvement per unit of cost raised to a power.
/// </para>
internal sealed class AcquisitionOptimizer(GaussianProcess gp, GpFeatureSpace space, double best, double[]? fixedTail = null,
    (GaussianProcess Gp, double Scale)? costPenalty = null)
{
    private readonly double[] _work = new double[3 * gp.Count];
    private readonly double[]? _costWork = costPenalty is { } c ? new double[3 * c.Gp.Count] : null;
    private readonly double[]? _full = fixedTail is null ? null : Full(space.Dimensions, fixedTail);

    private static double[] Full(int d, double[] tail)
    {
        var full = new double[d + tail.Length];
        tail.CopyTo(full, d);
        return full;
    }

    /// <summary>log EI at a feature vector.</summary>
    public double Score(ReadOnlySpan<double> x)
    {
        var penalty = costPenalty is { } c ? c.Scale * c.Gp.Predict(x, _costWork).Mean : 0;
        if (_full is not null)
        {
            x.CopyTo(_full);
            x = _full;
        }
        var (mean, variance) = gp.Predict(x, _work);
        return LogExpectedImprovement.Value(mean, variance, best, out _, out _) - penalty;
    }

    /// <summary>The best point found; <paramref name="incumbents"/> are the best observed feature vectors, best first.</summary>
    public double[] Maximize(Random random, IReadOnlyList<double[]> incumbents, int candidateCount, int refinementStarts)
    {
        var d = space.Dimensions;
        var localCount = incumbents.Count == 0 ? 0 : candidateCount / 4;
        var total = candidateCount + localCount;
        var candidates = new double[total][];
        var scores = new double[total];
        for (var c = 0; c < total; c++)
        {
            var x = new double[d];
            if (c < candidateCount)
            {
                for (var j = 0; j < d; j++)
                    x[j] = space.IsCategorical[j] ? random.Next(space.CategoryCount[j]) : random.NextDouble();
            }
            else
            {
                Perturb(incumbents[random.Next(Math.Min(incumbents.Count, 5))], x, random);
            }
            space.Snap(x);
            candidates[c] = x;
            scores[c] = Score(x);
        }

        var order = Enumerable.Range(0, total).Where(i => double.IsFinite(scores[i])).OrderByDescending(i => scores[i]).ToArray();
        if (order.Length == 0) return candidates[0];
        var bestX = (double[])candidates[order[0]].Clone();
        var bestScore = scores[order[0]];

        var numeric = Enumerable.Range(0, d).Where(j => !space.IsCategorical[j]).ToArray();
        if (numeric.Length > 0)
        {
            var starts = new List<double[]>();
            foreach (var i in order)
            {
                if (starts.Count >= refinementStarts) break;
                if (starts.Any(s => s.AsSpan().SequenceEqual(candidates[i]))) continue;
                starts.Add(candidates[i]);
            }
            foreach (var start in starts)
            {
                var x = Refine(start, numeric);
                space.Snap(x);
                var score = Score(x);
                if (double.IsFinite(score) && score > bestScore) { bestScore = score; bestX = x; }
            }
        }

        if (space.IsDiscrete.Any(b => b)) bestScore = NeighbourSearch(bestX, bestScore);
        return bestX;
    }

    // Perturbs a few coordinates of an incumbent at a random scale, as local search proposals.
    private void Perturb(double[] incumbent, double[] x, Random random)
    {
        var d = space.Dimensions;
        Array.Copy(incumbent, x, d);
        var scale = random.Next(3) switch { 0 => 0.01, 1 => 0.05, _ => 0.2 };
        var probability = Math.Min(1.0, 2.0 / d) + 1e-12;
        var changed = false;
        for (var j = 0; j < d; j++)
        {
            if (random.NextDouble() >= probability) continue;
            changed = true;
            MoveCoordinate(x, j, scale, random);
        }
        if (!changed) MoveCoordinate(x, random.Next(d), scale, random);
    }

    private void MoveCoordinate(double[] x, int j, double scale, Random random)
    {
        if (space.IsCategorical[j]) x[j] = random.Next(space.CategoryCount[j]);
        else x[j] = Math.Clamp(x[j] + scale * Gaussian(random), 0, 1);
    }

    private double[] Refine(double[] start, int[] numeric)
    {
        var x = (double[])start.Clone();
        var m = numeric.Length;
        var z = new double[m];
        for (var k = 0; k < m; k++) z[k] = x[numeric[k]];
        var lower = new double[m];
        var upper = Enumerable.Repeat(1.0, m).ToArray();
        var dMean = new double[gp.Dimensions];
        var dVariance = new double[gp.Dimensions];
        var point = _full is null ? (double[])x.Clone() : (double[])_full.Clone();
        var costGradient = new double[space.Dimensions];
        var costVarianceGradient = new double[space.Dimensions];
        x.CopyTo(point, 0);
        double Objective(double[] v, double[] g)
        {
            for (var k = 0; k < m; k++) point[numeric[k]] = v[k];
            var (mean, variance) = gp.PredictWithGradient(point, dMean, dVariance, _work);
            var value = LogExpectedImprovement.Value(mean, variance, best, out var dm, out var dv);
            for (var k = 0; k < m; k++) g[k] = -(dm * dMean[numeric[k]] + dv * dVariance[numeric[k]]);
            if (costPenalty is { } c)
            {
                var (costMean, _) = c.Gp.PredictWithGradient(point.AsSpan(0, space.Dimensions), costGradient, costVarianceGradient, _costWork);
                value -= c.Scale * costMean;
                for (var k = 0; k < m; k++) g[k] += c.Scale * costGradient[numeric[k]];
            }
            return -value;
        }
        BoundedLbfgs.Minimize(Objective, z, lower, upper, maxIterations: 30, gradientTolerance: 1e-6, relativeTolerance: 1e-9);
        for (var k = 0; k < m; k++) x[numeric[k]] = z[k];
        return x;
    }

    private double NeighbourSearch(double[] x, double score)
    {
        for (var pass = 0; pass < 3; pass++)
        {
            var improved = false;
            for (var j = 0; j < space.Dimensions; j++)
            {
                if (!space.IsDiscrete[j]) continue;
                var original = x[j];
                var bestValue = original;
                foreach (var v in space.Neighbours(x, j))
                {
                    x[j] = v;
                    var s = Score(x);
                    if (double.IsFinite(s) && s > score) { score = s; bestValue = v; improved = true; }
                }
                x[j] = bestValue;
            }
            if (!improved) break;
        }
        return score;
    }

    private static double Gaussian(Random random)
    {
        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
