using Tunesmith.Spaces;

namespace Tunesmith.Samplers.Gp;

/// <summary>
/// A category-exploration rule on top of the joint Gaussian process (<see cref="GpOptions.CategoryMinShare"/>): every
/// category of a categorical parameter keeps a minimum share of the observations, and a proposal made to restore a
/// category's share is optimized from that category's own trials, never from another category's.
/// <para>
/// The joint process shares one kernel over all categories. When the categorical length scale grows it believes the
/// categories nearly alike, so a category with a few poor random trials looks like a worse copy of the incumbent one,
/// its expected improvement never leads, and the run locks in on the first good category (the quality suite's
/// <c>mixed</c>: B, whose optimum is best, had 1–4 of the first 90 trials in the runs that ended in A or C). Here a
/// category is owed trials while it holds fewer than <c>share / K</c> of the <c>n</c> observations (<c>K</c> categories).
/// When some category is owed and the joint acquisition proposes another, the proposal goes to the category owed most:
/// a process with the fitted hyperparameters conditioned only on that category's trials (the joint kernel with no
/// correlation across the parameter's values) proposes the point of highest expected improvement over its own best
/// posterior mean, searched from its own best trials. Such a proposal refines what the category could reach, rather
/// than testing it at the numeric values that suit another. A category with no trials gets a random point.
/// </para>
/// </summary>
internal static class GpCategoryShare
{
    /// <summary>
    /// The category owed most, as (coordinate, category index), when it holds fewer than <paramref name="share"/>/K of
    /// the observations and running trials (<paramref name="pending"/>, which count as the category they run in); null
    /// when none is owed. Ties go to the lowest coordinate, then the lowest category.
    /// </summary>
    internal static (int Coordinate, int Category)? MostOwed(GpFeatureSpace space, IReadOnlyList<(double[] X, double Y)> training,
        IReadOnlyList<double[]> pending, double share)
    {
        (int, int)? owed = null;
        var largest = 0.0;
        var total = training.Count + pending.Count;
        for (var j = 0; j < space.Dimensions; j++)
        {
            if (!space.IsCategorical[j] || space.CategoryCount[j] < 2) continue;
            var counts = new int[space.CategoryCount[j]];
            foreach (var (x, _) in training) counts[(int)x[j]]++;
            foreach (var x in pending) counts[(int)x[j]]++;
            for (var k = 0; k < counts.Length; k++)
            {
                var deficit = share / counts.Length * total - counts[k];
                if (deficit > largest) { largest = deficit; owed = (j, k); }
            }
        }
        return owed;
    }

    /// <summary>
    /// The proposal for the category owed most when the joint acquisition's <paramref name="proposal"/> is in another
    /// category; null when the joint proposal stands.
    /// </summary>
    /// <param name="space">The feature space.</param>
    /// <param name="training">The observations the process is conditioned on (feature vectors, larger values better).</param>
    /// <param name="y">Their standardized values, as the joint process sees them.</param>
    /// <param name="hyper">The joint fit's hyperparameters.</param>
    /// <param name="pending">Feature vectors of running trials: they count toward their category's share, and those in
    /// the owed category are believed at its process's prediction (as the joint search does), so that parallel workers
    /// spread out.</param>
    /// <param name="proposal">The joint acquisition's proposal.</param>
    /// <param name="share">The minimum share of an equal split (<see cref="GpOptions.CategoryMinShare"/>).</param>
    /// <param name="random">The trial's random source.</param>
    /// <param name="candidateCount">Random candidates for the category's acquisition.</param>
    /// <param name="refinementStarts">Refinement starts for the category's acquisition.</param>
    internal static double[]? Propose(GpFeatureSpace space, IReadOnlyList<(double[] X, double Y)> training, double[] y,
        GpHyperparameters hyper, IReadOnlyList<double[]> pending, double[] proposal, double share, Random random, int candidateCount, int refinementStarts)
    {
        if (MostOwed(space, training, pending, share) is not var (j, category) || (int)proposal[j] == category) return null;
        var reduced = Reduced(space, j);
        var members = Enumerable.Range(0, training.Count).Where(i => (int)training[i].X[j] == category).ToList();
        double[] point;
        if (reduced.Dimensions == 0)
        {
            point = [];
        }
        else if (members.Count == 0)
        {
            point = new double[reduced.Dimensions];
            for (var i = 0; i < point.Length; i++)
                point[i] = reduced.IsCategorical[i] ? random.Next(reduced.CategoryCount[i]) : random.NextDouble();
            reduced.Snap(point);
        }
        else
        {
            var d = reduced.Dimensions;
            var x = new double[members.Count * d];
            var values = new double[members.Count];
            for (var m = 0; m < members.Count; m++)
            {
                Drop(training[members[m]].X, j).CopyTo(x, m * d);
                values[m] = y[members[m]];
            }
            var reducedHyper = Drop(hyper, j);
            var model = new GaussianProcess(x, members.Count, d, reduced.IsCategorical, values, reducedHyper);
            var bar = double.NegativeInfinity;
            for (var m = 0; m < members.Count; m++) bar = Math.Max(bar, model.PredictMean(x.AsSpan(m * d, d)));
            var running = pending.Where(p => (int)p[j] == category).Select(p => Drop(p, j)).ToList();
            if (running.Count > 0)
            {
                // Kriging believer, as in the joint search: a running point counts as observed at the model's prediction.
                var m = members.Count + running.Count;
                var xb = new double[m * d];
                var yb = new double[m];
                Array.Copy(x, xb, x.Length);
                Array.Copy(values, yb, values.Length);
                for (var r = 0; r < running.Count; r++)
                {
                    running[r].CopyTo(xb, (members.Count + r) * d);
                    yb[members.Count + r] = model.PredictMean(running[r]);
                    bar = Math.Max(bar, yb[members.Count + r]);
                }
                model = new GaussianProcess(xb, m, d, reduced.IsCategorical, yb, reducedHyper);
            }
            var incumbents = Enumerable.Range(0, members.Count).OrderByDescending(m => values[m]).Take(5)
                .Select(m => x.AsSpan(m * d, d).ToArray()).ToList();
            point = new AcquisitionOptimizer(model, reduced, bar).Maximize(random, incumbents, candidateCount, refinementStarts);
        }
        var result = new double[space.Dimensions];
        for (int i = 0, r = 0; i < result.Length; i++) result[i] = i == j ? category : point[r++];
        return result;
    }

    // The feature space without coordinate j (names and distributions keep their order).
    private static GpFeatureSpace Reduced(GpFeatureSpace space, int j)
    {
        var dictionary = new Dictionary<string, Distribution>(StringComparer.Ordinal);
        for (var i = 0; i < space.Dimensions; i++)
            if (i != j) dictionary[space.Names[i]] = space.Distributions[i];
        return new GpFeatureSpace(dictionary);
    }

    // The hyperparameters without coordinate j's length scale (signal and noise stay).
    private static GpHyperparameters Drop(GpHyperparameters hyper, int j) => new(Drop(hyper.Packed, j));

    private static double[] Drop(double[] x, int j)
    {
        var r = new double[x.Length - 1];
        for (int i = 0, k = 0; i < x.Length; i++)
            if (i != j) r[k++] = x[i];
        return r;
    }
}
