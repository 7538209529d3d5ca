namespace Tunesmith.Samplers.Gp;

/// <summary>
/// Category exploration for the joint GP (<see cref="GpOptions.CategoryExploreInterval"/>): on its turns, the choices of a
/// categorical parameter are arms of a bandit, each valued from its own trials alone, and the proposal is the leading
/// choice's own model's maximiser.
/// </summary>
/// <remarks>
/// The joint process shares what is common to all categories, but when one category gets few trials early its fitted
/// categorical length scale grows, the model believes the categories alike, and its proposals for the starved category
/// borrow the incumbent category's numeric values, which may be poor there (the quality suite's <c>mixed</c> locked in on
/// A's or C's own optimum this way, docs/GP.md). On an exploration turn, for one categorical coordinate (cycling through
/// them by turn):
/// <list type="number">
/// <item>a choice with fewer than <see cref="MinOwnTrials"/> trials (finished or running) gets a space-filling draw: the
/// random point farthest from that choice's own trials;</item>
/// <item>otherwise a GP is fitted to each choice's own trials (its other coordinates; values standardized per choice), and
/// each choice is valued by the largest expected improvement its own model finds over the best value of the whole study,
/// in the objective's units: an arm valued by what it could reach, not by what it has reached;</item>
/// <item>the proposal is the leading choice's own maximiser, the incumbent's choice included: values suited to that
/// choice, never ones borrowed from another (for the incumbent's choice, a second opinion beside the joint model's).</item>
/// </list>
/// Pure: a function of the observations, the pending points and the random source; a choice's proposal is a function of
/// that choice's own trials, the study's best value and its own random draws.
/// </remarks>
internal static class CategoryExplorer
{
    /// <summary>Trials (finished or running) a choice needs before its own model is fitted; until then it gets space-filling draws.</summary>
    internal const int MinOwnTrials = 5;

    /// <summary>Random points scored by a space-filling draw.</summary>
    private const int SpaceFillingCandidates = 256;

    /// <summary>
    /// The exploration proposal of turn <paramref name="turn"/> as a feature vector of <paramref name="space"/>, or null
    /// when the space has no categorical coordinate (the joint process proposes).
    /// </summary>
    /// <param name="space">The joint feature space.</param>
    /// <param name="observed">Finished observations (larger is better).</param>
    /// <param name="pending">Feature vectors of running trials.</param>
    /// <param name="turn">The exploration turn's index, which picks the categorical coordinate.</param>
    /// <param name="options">Candidate counts, refinement starts and the noise setting of the per-category fits.</param>
    /// <param name="random">The random source.</param>
    public static double[]? Propose(GpFeatureSpace space, IReadOnlyList<(double[] X, double Y)> observed, IReadOnlyList<double[]> pending,
        int turn, GpOptions options, Random random)
    {
        var categorical = Enumerable.Range(0, space.Dimensions).Where(j => space.IsCategorical[j]).ToArray();
        if (categorical.Length == 0 || observed.Count == 0 || space.Dimensions < 2) return null;
        var j = categorical[turn % categorical.Length];
        var k = space.CategoryCount[j];
        var sub = space.Without(j);

        var counts = new int[k];
        foreach (var o in observed) counts[(int)o.X[j]]++;
        foreach (var p in pending) counts[(int)p[j]]++;
        var least = counts.Min();
        if (least < MinOwnTrials)
        {
            var starved = Enumerable.Range(0, k).Where(c => counts[c] == least).ToArray();
            var c = starved[random.Next(starved.Length)];
            var taken = Own(observed, j, c).Select(o => o.X).Concat(pending.Where(p => (int)p[j] == c).Select(p => Drop(p, j))).ToList();
            return Insert(SpaceFilling(sub, taken, random), j, c);
        }

        // One random source per choice, so that a choice's proposal depends on its own trials, the bar and its own draws.
        var seeds = Enumerable.Range(0, k).Select(_ => random.Next()).ToArray();
        var bar = observed.Max(o => o.Y);
        var bestScore = double.NegativeInfinity;
        var bestChoice = -1;
        double[]? bestX = null;
        for (var c = 0; c < k; c++)
        {
            var own = Own(observed, j, c);
            if (own.Count == 0) continue;
            var running = pending.Where(p => (int)p[j] == c).Select(p => Drop(p, j)).ToList();
            var (x, score) = BestForChoice(sub, own, bar, options, new Random(seeds[c]), running);
            if (score > bestScore) { bestScore = score; bestChoice = c; bestX = x; }
        }
        if (bestX is null) return null;
        return Insert(bestX, j, bestChoice);
    }

    /// <summary>
    /// The maximiser of expected improvement over <paramref name="bar"/> under a GP fitted to one choice's own observations
    /// <paramref name="own"/> (feature vectors of <paramref name="sub"/>, the space without the categorical coordinate), and
    /// the log of that improvement in the objective's units.
    /// </summary>
    /// <remarks>
    /// The choice's running trials (<paramref name="running"/>, without the categorical coordinate) are believed at its
    /// model's prediction, as in the joint search, so that parallel workers on exploration turns spread out instead of
    /// proposing a running trial's point again.
    /// </remarks>
    internal static (double[] X, double LogImprovement) BestForChoice(GpFeatureSpace sub, List<(double[] X, double Y)> own, double bar,
        GpOptions options, Random random, IReadOnlyList<double[]>? running = null)
    {
        // Bounded cost, as for the joint process: conditioned on at most MaxTrainingPoints, fitted on at most MaxFitPoints.
        own = GpSampler.SelectSubset(own, options.MaxTrainingPoints);
        var n = own.Count;
        var d = sub.Dimensions;
        var mean = own.Average(o => o.Y);
        var variance = own.Sum(o => (o.Y - mean) * (o.Y - mean)) / Math.Max(n - 1, 1);
        var sd = Math.Sqrt(variance);
        if (!(sd > 1e-12 * Math.Max(1, Math.Abs(mean)))) sd = 1;
        var y = own.Select(o => (o.Y - mean) / sd).ToArray();
        var x = new double[n * d];
        for (var i = 0; i < n; i++) own[i].X.CopyTo(x, i * d);
        var (fitX, fitY, fitCount) = GpSampler.FitSubset(own, y, d, options.MaxFitPoints);
        var hyper = GpHyperparameterFit.Fit(fitX, fitCount, d, sub.IsCategorical, fitY,
            GpHyperparameterFit.Default(d, options.DeterministicObjective), options.DeterministicObjective, maxIterations: 80);
        var standardizedBar = (bar - mean) / sd;
        var gp = GpSampler.WithBelievers(new GaussianProcess(x, n, d, sub.IsCategorical, y, hyper), x, y, n, d, sub.IsCategorical,
            hyper, running ?? [], ref standardizedBar);
        var incumbents = Enumerable.Range(0, n).OrderByDescending(i => y[i]).Take(5).Select(i => own[i].X).ToList();
        var optimizer = new AcquisitionOptimizer(gp, sub, standardizedBar);
        var best = optimizer.Maximize(random, incumbents, Math.Min(options.CandidateCount, 1024), options.RefinementStarts);
        return (best, optimizer.Score(best) + Math.Log(sd));
    }

    /// <summary>The random point of <paramref name="sub"/> farthest (Euclidean in feature units) from every point of <paramref name="taken"/>.</summary>
    internal static double[] SpaceFilling(GpFeatureSpace sub, IReadOnlyList<double[]> taken, Random random)
    {
        double[]? best = null;
        var bestDistance = double.NegativeInfinity;
        var count = taken.Count == 0 ? 1 : SpaceFillingCandidates;
        for (var i = 0; i < count; i++)
        {
            var x = new double[sub.Dimensions];
            for (var m = 0; m < x.Length; m++)
                x[m] = sub.IsCategorical[m] ? random.Next(sub.CategoryCount[m]) : random.NextDouble();
            sub.Snap(x);
            var nearest = double.PositiveInfinity;
            foreach (var t in taken)
            {
                var s = 0.0;
                for (var m = 0; m < x.Length; m++)
                    s += sub.IsCategorical[m] ? (x[m] == t[m] ? 0 : 1) : (x[m] - t[m]) * (x[m] - t[m]);
                nearest = Math.Min(nearest, s);
            }
            if (nearest > bestDistance) { bestDistance = nearest; best = x; }
        }
        return best!;
    }

    /// <summary>The observations whose coordinate <paramref name="j"/> is choice <paramref name="c"/>, without that coordinate.</summary>
    internal static List<(double[] X, double Y)> Own(IReadOnlyList<(double[] X, double Y)> observed, int j, int c) =>
        observed.Where(o => (int)o.X[j] == c).Select(o => (Drop(o.X, j), o.Y)).ToList();

    private static double[] Drop(double[] x, int j)
    {
        var result = new double[x.Length - 1];
        for (int m = 0, r = 0; m < x.Length; m++)
            if (m != j) result[r++] = x[m];
        return result;
    }

    private static double[] Insert(double[] x, int j, int c)
    {
        var result = new double[x.Length + 1];
        for (int m = 0, r = 0; m < result.Length; m++)
            result[m] = m == j ? c : x[r++];
        return result;
    }
}
