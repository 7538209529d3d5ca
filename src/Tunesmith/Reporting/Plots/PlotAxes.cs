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
                return Numeric(name, i.Log ? PlotAxisKind.Log : PlotAxisKind.Linear, i.Low, i.High, values) with { Whole = true };
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

    /// <summary>
    /// Round ticks along the axis for a renderer that draws the axis itself (the contour plots): on a log axis the powers
    /// of ten in its range (every second or third when there are many), else 1, 2 and 5 times them, else as on a linear
    /// axis; on a linear axis about five multiples of 1, 2 or 5 times a power of ten (whole numbers on a
    /// <see cref="PlotAxis.Whole"/> axis); on a categorical axis every category up to 12, else the first, the last and three evenly between.
    /// Every tick lies within [<see cref="PlotAxis.Low"/>, <see cref="PlotAxis.High"/>]; its value is a category's index on
    /// a categorical axis.
    /// </summary>
    public static IReadOnlyList<PlotTick> Ticks(PlotAxis axis)
    {
        ArgumentNullException.ThrowIfNull(axis);
        if (axis.Kind == PlotAxisKind.Categorical)
        {
            var n = axis.Categories.Count;
            var at = n <= 12 ? Enumerable.Range(0, n) : Enumerable.Range(0, 5).Select(k => (int)Math.Round(k * (n - 1) / 4.0)).Distinct();
            return at.Select(i => new PlotTick(i, axis.Categories[i])).ToList();
        }
        double lo = axis.Low, hi = axis.High;
        if (!double.IsFinite(lo) || !double.IsFinite(hi)) return [];
        if (hi <= lo) return [new PlotTick(lo, TickLabel(lo))];
        if (axis.Kind == PlotAxisKind.Log && lo > 0 && LogTicks(lo, hi) is { Count: >= 2 } logTicks) return logTicks;
        return LinearTicks(lo, hi, axis.Whole).Select(v => new PlotTick(v, TickLabel(v))).ToList();
    }

    private static List<PlotTick> LogTicks(double lo, double hi)
    {
        int first = (int)Math.Ceiling(Math.Log10(lo) - 1e-9), last = (int)Math.Floor(Math.Log10(hi) + 1e-9);
        if (last - first >= 1)
        {
            // Decades read as 1e-4, 1e-3, 1e-2, 0.1, 1, 10, 100, 1000, 1e4: at most seven of them labelled.
            var every = (last - first) / 6 + 1;
            return Enumerable.Range(0, (last - first) / every + 1).Select(k => first + k * every)
                .Select(e => new PlotTick(Pow10(e), e is < -1 or > 3 ? $"1e{e}" : TickLabel(Pow10(e)))).ToList();
        }
        var ticks = new List<PlotTick>();
        for (var e = first - 1; e <= last; e++)
            foreach (var m in new[] { 1.0, 2.0, 5.0 })
            {
                var v = Scaled(m, e);
                if (v >= lo * (1 - 1e-12) && v <= hi * (1 + 1e-12)) ticks.Add(new PlotTick(v, TickLabel(v)));
            }
        return ticks;
    }

    private static List<double> LinearTicks(double lo, double hi, bool whole)
    {
        var rough = (hi - lo) / 4;
        var exponent = (int)Math.Floor(Math.Log10(rough));
        var residual = rough / Pow10(exponent);
        double unit = residual < 1.5 ? 1 : residual < 3 ? 2 : residual < 7 ? 5 : 10; // the step is unit × 10^exponent
        if (whole && exponent < 0) (unit, exponent) = (1, 0);
        var step = Scaled(unit, exponent);
        var ticks = new List<double>();
        for (var k = Math.Ceiling(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++)
        {
            var v = Scaled(k * unit, exponent); // k × unit is a whole number: one rounding, so 0.3 and not 0.30000000000000004
            if (v >= lo - step * 1e-9) ticks.Add(v == 0 ? 0 : v); // no "-0"
        }
        return ticks;
    }

    private static double Pow10(int e) => double.Parse($"1e{e}", System.Globalization.CultureInfo.InvariantCulture);

    // m × 10^e with one rounding (a power of ten up to 1e22 is exact in a double).
    private static double Scaled(double m, int e) => e < 0 ? m / Pow10(-e) : m * Pow10(e);

    /// <summary>A round tick value as text: <c>0.25</c>, <c>300</c>, <c>2e-4</c> (exponent form below 0.001 and from 100000 on).</summary>
    public static string TickLabel(double value)
    {
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        var a = Math.Abs(value);
        var text = a != 0 && (a < 1e-3 || a >= 1e5) ? value.ToString("0.###e0", invariant) : value.ToString("0.##########", invariant);
        // A narrow range far from zero has ticks of many digits (315946, 315948): write them whole.
        return double.Parse(text, invariant) == value ? text : Spaces.NumberText.Double(value);
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
