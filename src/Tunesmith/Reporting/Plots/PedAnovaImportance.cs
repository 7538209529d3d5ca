using Tunesmith.Spaces;

namespace Tunesmith.Reporting.Plots;

/// <summary>
/// Parameter importance by PED-ANOVA (Watanabe et al., IJCAI 2023): for each parameter, how far the distribution of its
/// values among the best trials (the top <see cref="TopQuantile"/>) departs from its distribution among all Complete
/// trials, measured by the Pearson divergence of two Parzen (kernel) estimates on a grid over the parameter's range.
/// A parameter whose good values are spread like all values does not matter; one whose good values crowd into a corner
/// does. It needs no model fit, so it is exact, deterministic and fast (linear in trials), and it reads the trials a
/// sampler actually chose (the "local" importance of the paper). Shares are normalised to add up to 1.
/// </summary>
public sealed class PedAnovaImportance
{
    /// <summary>Fewest Complete trials for an estimate (fewer give an empty result).</summary>
    public const int MinTrials = 4;

    /// <summary>Creates an estimator.</summary>
    /// <param name="topQuantile">The share of trials counted as good, in (0, 1). Default 0.1, the paper's choice.</param>
    /// <param name="gridSize">Grid cells over a numeric parameter's range. Default 50.</param>
    public PedAnovaImportance(double topQuantile = 0.1, int gridSize = 50)
    {
        if (!(topQuantile > 0 && topQuantile < 1)) throw new ArgumentOutOfRangeException(nameof(topQuantile), topQuantile, "must be in (0, 1)");
        if (gridSize < 2) throw new ArgumentOutOfRangeException(nameof(gridSize), gridSize, "must be at least 2");
        TopQuantile = topQuantile;
        GridSize = gridSize;
    }

    /// <summary>The share of trials counted as good.</summary>
    public double TopQuantile { get; }

    /// <summary>Grid cells over a numeric parameter's range.</summary>
    public int GridSize { get; }

    /// <summary>
    /// Importance of each axis' parameter over the Complete trials (with a finite value), most important first. A parameter
    /// that only some trials hold is judged among those trials and weighted by their share; one that fewer than
    /// <see cref="MinTrials"/> of them hold is left out.
    /// </summary>
    public IReadOnlyList<ParameterImportance> Evaluate(IReadOnlyList<FrozenTrial> trials, IReadOnlyList<PlotAxis> axes, Direction direction)
    {
        ArgumentNullException.ThrowIfNull(trials);
        ArgumentNullException.ThrowIfNull(axes);
        var complete = trials.Where(t => t.State == TrialState.Complete && t.Value is { } v && double.IsFinite(v)).ToList();
        if (complete.Count < MinTrials || axes.Count == 0) return [];
        // Best first; ties by number so the result does not depend on input order.
        var ranked = complete.OrderBy(t => direction == Direction.Maximize ? -t.Value!.Value : t.Value!.Value).ThenBy(t => t.Number).ToList();

        var divergences = new List<(string Name, double D)>();
        foreach (var axis in axes)
        {
            // A conditional parameter (a branch's, a block's) is judged among the trials that hold it, against the best of
            // those trials: whether its branch is better or worse than the others is the branch choice's importance, not
            // its own. Its divergence there is weighted by the share of trials that hold it (a parameter that exists in
            // half the trials can explain at most half of what one that always exists can), which also keeps the noise of
            // a small subset's estimate at the level of the others'. A parameter held by too few trials is not listed.
            var holding = ranked.Where(t => t.Params.TryGetValue(axis.Name, out var value) && PlotAxes.Position(axis, value) is not null).ToList();
            if (holding.Count < MinTrials) continue;
            var top = holding.Take(Math.Max(2, (int)Math.Ceiling(TopQuantile * holding.Count))).ToList();
            var cells = axis.Kind == PlotAxisKind.Categorical ? Math.Max(1, axis.Categories.Count) : GridSize;
            var pAll = Density(Cells(holding, axis, cells), cells, axis.Kind == PlotAxisKind.Categorical);
            var pTop = Density(Cells(top, axis, cells), cells, axis.Kind == PlotAxisKind.Categorical);
            double d = 0;
            for (var i = 0; i < cells; i++)
            {
                var ratio = pTop[i] / pAll[i] - 1;
                d += pAll[i] * ratio * ratio;
            }
            divergences.Add((axis.Name, d * holding.Count / ranked.Count));
        }
        var sum = divergences.Sum(x => x.D);
        return divergences
            .Select(x => new ParameterImportance(x.Name, sum > 0 ? x.D / sum : 1.0 / divergences.Count))
            .OrderByDescending(x => x.Importance).ThenBy(x => x.Name, StringComparer.Ordinal)
            .ToList();
    }

    private static List<double> Cells(IEnumerable<FrozenTrial> trials, PlotAxis axis, int cells)
    {
        var result = new List<double>();
        foreach (var t in trials)
            if (t.Params.TryGetValue(axis.Name, out var value) && PlotAxes.Position(axis, value) is { } position)
                result.Add(axis.Kind == PlotAxisKind.Categorical ? position : Math.Clamp(PlotAxes.ToUnit(axis, position), 0, 1) * (cells - 1));
        return result;
    }

    // A Parzen estimate on the grid: a Gaussian kernel per observation (Scott's bandwidth, at least one cell) for a
    // numeric parameter, a count for a category; plus a prior of one observation spread evenly, so no cell is empty and
    // a handful of top trials cannot make the divergence blow up.
    private static double[] Density(List<double> positions, int cells, bool categorical)
    {
        var p = new double[cells];
        if (categorical)
        {
            foreach (var x in positions) p[Math.Clamp((int)x, 0, cells - 1)] += 1;
        }
        else
        {
            var mean = positions.Average();
            var sd = Math.Sqrt(positions.Sum(x => (x - mean) * (x - mean)) / Math.Max(1, positions.Count - 1));
            var h = Math.Max(1.0, 1.06 * (sd > 0 ? sd : cells / 4.0) * Math.Pow(positions.Count, -0.2));
            var kernel = new double[cells];
            foreach (var x in positions)
            {
                double z = 0;
                for (var i = 0; i < cells; i++) { var u = (i - x) / h; kernel[i] = Math.Exp(-0.5 * u * u); z += kernel[i]; }
                for (var i = 0; i < cells; i++) p[i] += kernel[i] / z;
            }
        }
        var total = positions.Count + 1.0;
        for (var i = 0; i < cells; i++) p[i] = (p[i] + 1.0 / cells) / total;
        return p;
    }
}
