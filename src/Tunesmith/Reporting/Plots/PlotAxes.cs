using Tunesmith.Spaces;

namespace Tunesmith.Reporting.Plots;

/// <summary>Parameter axes inferred from trials: from the distributions they were sampled from, else from their values.</summary>
public static class PlotAxes
{
    /// <summary>One axis per parameter that any trial holds, in order of first appearance (by trial number).</summary>
    public static IReadOnlyList<PlotAxis> Infer(IReadOnlyList<FrozenTrial> trials)
    {
        ArgumentNullException.ThrowIfNull(trials);
        var names = new List<string>();
        var distributions = new Dictionary<string, Distribution>(StringComparer.Ordinal);
        var values = new Dictionary<string, List<object?>>(StringComparer.Ordinal);
        foreach (var t in trials.OrderBy(t => t.Number))
        {
            foreach (var (name, value) in t.Params)
            {
                if (!values.TryGetValue(name, out var list)) { names.Add(name); values[name] = list = []; }
                list.Add(value);
            }
            // The latest distribution wins: a study resumed with a widened range draws the wider range.
            foreach (var (name, d) in t.Distributions) distributions[name] = d;
        }
        return names.Select(n => Axis(n, distributions.GetValueOrDefault(n), values[n])).ToList();
    }

    private static PlotAxis Axis(string name, Distribution? distribution, List<object?> values)
    {
        switch (distribution)
        {
            case FloatDistribution f:
                return Numeric(name, f.Log ? PlotAxisKind.Log : PlotAxisKind.Linear, f.Low, f.High, values);
            case IntDistribution i:
                return Numeric(name, i.Log ? PlotAxisKind.Log : PlotAxisKind.Linear, i.Low, i.High, values);
            case CategoricalDistribution c:
                var categories = c.Choices.Select(ParamValues.Format).ToList();
                foreach (var v in values)
                    if (!categories.Contains(ParamValues.Format(v))) categories.Add(ParamValues.Format(v));
                return new PlotAxis(name, PlotAxisKind.Categorical, 0, categories.Count - 1, categories);
        }
        var nonNull = values.Where(v => v is not null).ToList();
        if (nonNull.Count > 0 && nonNull.All(v => ParamValues.Normalize(v) is long or double))
        {
            var xs = nonNull.Select(ParamValues.ToDouble).ToList();
            return new PlotAxis(name, PlotAxisKind.Linear, xs.Min(), xs.Max(), []);
        }
        var seen = nonNull.Select(ParamValues.Format).Distinct(StringComparer.Ordinal).ToList();
        return new PlotAxis(name, PlotAxisKind.Categorical, 0, Math.Max(0, seen.Count - 1), seen);
    }

    private static PlotAxis Numeric(string name, PlotAxisKind kind, double low, double high, List<object?> values)
    {
        // Enqueued values may lie outside the distribution's range: widen to show them.
        foreach (var v in values)
            if (ParamValues.TryToDouble(v, out var x) && double.IsFinite(x)) { low = Math.Min(low, x); high = Math.Max(high, x); }
        if (kind == PlotAxisKind.Log && low <= 0) kind = PlotAxisKind.Linear;
        return new PlotAxis(name, kind, low, high, []);
    }

    /// <summary>A value's position on the axis: the number itself, or a category's index; null when it has none.</summary>
    public static double? Position(PlotAxis axis, object? value)
    {
        ArgumentNullException.ThrowIfNull(axis);
        if (axis.Kind == PlotAxisKind.Categorical)
        {
            var text = ParamValues.Format(value);
            for (var i = 0; i < axis.Categories.Count; i++)
                if (string.Equals(axis.Categories[i], text, StringComparison.Ordinal)) return i;
            return null;
        }
        return ParamValues.TryToDouble(value, out var x) && double.IsFinite(x) ? x : null;
    }

    /// <summary>A position mapped onto [0, 1] along the axis (in log space on a log axis).</summary>
    public static double ToUnit(PlotAxis axis, double position)
    {
        ArgumentNullException.ThrowIfNull(axis);
        double lo = axis.Low, hi = axis.High, x = position;
        if (axis.Kind == PlotAxisKind.Log) { lo = Math.Log(lo); hi = Math.Log(hi); x = Math.Log(Math.Max(x, double.Epsilon)); }
        return hi > lo ? (x - lo) / (hi - lo) : 0.5;
    }

    /// <summary>The position at <paramref name="unit"/> ∈ [0, 1] along the axis.</summary>
    public static double FromUnit(PlotAxis axis, double unit)
    {
        ArgumentNullException.ThrowIfNull(axis);
        return axis.Kind == PlotAxisKind.Log
            ? Math.Exp(Math.Log(axis.Low) + unit * (Math.Log(axis.High) - Math.Log(axis.Low)))
            : axis.Low + unit * (axis.High - axis.Low);
    }
}
