namespace Tunesmith.Samplers.Rf;

/// <summary>Two categorical features of the forest's encoding fixed at one value each: the pair a proposal explores.</summary>
/// <param name="First">The first feature's index.</param>
/// <param name="FirstValue">Its choice index.</param>
/// <param name="Second">The second feature's index.</param>
/// <param name="SecondValue">Its choice index.</param>
internal readonly record struct CategoryPair(int First, int FirstValue, int Second, int SecondValue);

/// <summary>
/// The exploration rule of <see cref="RandomForestOptions.CategoryPairRate"/>: which value pair of two categorical
/// parameters a proposal keeps fixed. Pure: the choice depends only on the rows, their values and the random source.
/// </summary>
internal static class CategoryPairs
{
    /// <summary>
    /// Every value pair of every two categorical features (both active in some row) is a cell. A cell no row has yet is
    /// chosen first (among several, one at random); else each cell draws best − |N(0,1)| · spread · √(ln n / cell count),
    /// where spread is the median minus the best of all values, and the lowest draw wins. Rows whose value is NaN (running
    /// trials) count as tried but carry no value. Null when fewer than two categorical features are active.
    /// </summary>
    /// <param name="categories">Per feature: 0 for numeric, else the number of choices.</param>
    /// <param name="rows">Encoded trials (an inactive feature is <see cref="RandomForestSampler.RfFeatureSpace.Inactive"/>).</param>
    /// <param name="values">Each row's modelled cost (lower is better), or NaN.</param>
    /// <param name="random">The random source.</param>
    public static CategoryPair? Choose(IReadOnlyList<int> categories, IReadOnlyList<double[]> rows, IReadOnlyList<double> values, Random random)
    {
        ArgumentNullException.ThrowIfNull(categories);
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(values);
        ArgumentNullException.ThrowIfNull(random);
        var features = Enumerable.Range(0, categories.Count)
            .Where(j => categories[j] >= 2 && rows.Any(r => r[j] != RandomForestSampler.RfFeatureSpace.Inactive)).ToArray();
        if (features.Length < 2) return null;
        var finite = values.Where(double.IsFinite).Order().ToArray();
        if (finite.Length == 0) return null;
        var spread = finite[finite.Length / 2] - finite[0];
        var logN = Math.Log(Math.Max(rows.Count, 3));
        CategoryPair? chosen = null;
        var bestDraw = double.PositiveInfinity;
        var untried = new List<CategoryPair>();
        for (var a = 0; a < features.Length; a++)
            for (var b = a + 1; b < features.Length; b++)
            {
                int fa = features[a], fb = features[b];
                var count = new int[categories[fa], categories[fb]];
                var best = new double[categories[fa], categories[fb]];
                foreach (var i in Enumerable.Range(0, categories[fa])) foreach (var k in Enumerable.Range(0, categories[fb])) best[i, k] = double.PositiveInfinity;
                var active = false;
                for (var r = 0; r < rows.Count; r++)
                {
                    if (rows[r][fa] == RandomForestSampler.RfFeatureSpace.Inactive || rows[r][fb] == RandomForestSampler.RfFeatureSpace.Inactive) continue;
                    active = true;
                    int va = (int)rows[r][fa], vb = (int)rows[r][fb];
                    count[va, vb]++;
                    if (double.IsFinite(values[r]) && values[r] < best[va, vb]) best[va, vb] = values[r];
                }
                if (!active) continue; // never both present (different branches): not a pair the objective has
                for (var va = 0; va < categories[fa]; va++)
                    for (var vb = 0; vb < categories[fb]; vb++)
                    {
                        if (count[va, vb] == 0) { untried.Add(new CategoryPair(fa, va, fb, vb)); continue; }
                        if (!double.IsFinite(best[va, vb])) continue; // only running trials: their value is still to come
                        var draw = best[va, vb] - Math.Abs(Tpe.NormalMath.NextGaussian(random)) * spread * Math.Sqrt(logN / count[va, vb]);
                        if (draw < bestDraw) { bestDraw = draw; chosen = new CategoryPair(fa, va, fb, vb); }
                    }
            }
        return untried.Count > 0 ? untried[random.Next(untried.Count)] : chosen;
    }
}
