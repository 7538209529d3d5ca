namespace Tunesmith.Samplers.Tpe;

/// <summary>
/// Combinations of categories next to the best trial's: the same values but for one or two categorical parameters.
/// When the best values of two categorical parameters only pay off together, a density ratio fitted on trials whose
/// numbers suited another combination never proposes the pair; trying it with suitable numbers does.
/// </summary>
internal static class CategoryNeighbours
{
    /// <summary>How close (on the encoded [0, 1] scale, in every numeric parameter) an earlier row must be to count as having tried a point.</summary>
    private const double Tolerance = 0.02;

    /// <summary>
    /// Points (encoded) whose categorical values differ from the incumbent's in one or two parameters, each with the
    /// numbers of the incumbent and, where another row has the changed values, with the numbers of the best such row
    /// (the numbers may suit those categories); points some row has already tried are left out.
    /// </summary>
    /// <param name="dims">The group's encoded parameters.</param>
    /// <param name="rows">Encoded rows of the group, best first (the first is the incumbent).</param>
    /// <param name="pending">Encoded points of running trials (tried too).</param>
    public static List<double[]> Untried(ParamEncoding[] dims, IReadOnlyList<double[]> rows, IReadOnlyList<double[]> pending)
    {
        var result = new List<double[]>();
        var categorical = Enumerable.Range(0, dims.Length).Where(j => dims[j].Kind == EncodedKind.Categorical).ToArray();
        if (categorical.Length < 2 || rows.Count == 0) return result;
        var numeric = Enumerable.Range(0, dims.Length).Where(j => dims[j].Kind != EncodedKind.Categorical).ToArray();
        var incumbent = rows[0];
        bool Tried(double[] point) => rows.Concat(pending).Any(r => categorical.All(j => r[j] == point[j]) && numeric.All(j => Math.Abs(r[j] - point[j]) <= Tolerance));
        void Consider(double[] point, int[] changed)
        {
            if (!Tried(point)) result.Add(point);
            if (numeric.Length == 0) return;
            var source = rows.FirstOrDefault(r => changed.All(j => r[j] == point[j]));
            if (source is null) return;
            var borrowed = (double[])point.Clone();
            foreach (var j in numeric) borrowed[j] = source[j];
            if (!Tried(borrowed)) result.Add(borrowed);
        }
        for (var a = 0; a < categorical.Length; a++)
        {
            var ja = categorical[a];
            for (var va = 0; va < dims[ja].Cells; va++)
            {
                if (va == (int)incumbent[ja]) continue;
                var one = (double[])incumbent.Clone();
                one[ja] = va;
                Consider(one, [ja]);
                for (var b = a + 1; b < categorical.Length; b++)
                {
                    var jb = categorical[b];
                    for (var vb = 0; vb < dims[jb].Cells; vb++)
                    {
                        if (vb == (int)incumbent[jb]) continue;
                        var two = (double[])one.Clone();
                        two[jb] = vb;
                        Consider(two, [ja, jb]);
                    }
                }
            }
        }
        return result;
    }
    /// <summary>
    /// The moves whose combination of categories no row (finished or running) has, or all of them when none is left:
    /// a combination next to the best trial is tried once before any is tried again with other numbers.
    /// </summary>
    /// <param name="dims">The group's encoded parameters.</param>
    /// <param name="moves">Candidate points (encoded), from <see cref="Untried"/>.</param>
    /// <param name="rows">Encoded rows of the group.</param>
    /// <param name="pending">Encoded points of running trials.</param>
    public static List<double[]> UntriedCombinationsFirst(ParamEncoding[] dims, List<double[]> moves, IReadOnlyList<double[]> rows, IReadOnlyList<double[]> pending)
    {
        var categorical = Enumerable.Range(0, dims.Length).Where(j => dims[j].Kind == EncodedKind.Categorical).ToArray();
        var seen = rows.Concat(pending).Select(r => Key(r, categorical)).ToHashSet(StringComparer.Ordinal);
        var fresh = moves.Where(m => !seen.Contains(Key(m, categorical))).ToList();
        return fresh.Count > 0 ? fresh : moves;
    }

    private static string Key(double[] point, int[] categorical) =>
        string.Join(",", categorical.Select(j => ((int)point[j]).ToString(System.Globalization.CultureInfo.InvariantCulture)));
}
