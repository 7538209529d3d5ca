using System.Globalization;
using ScottPlot;
using Tunesmith.Reporting;
using Tunesmith.Reporting.Plots;
using Tunesmith.Trials;

namespace Tunesmith.Plots;

/// <summary>
/// Writes a study's <see cref="StudyPlots"/> as PNG files with ScottPlot: the same plot data the dashboard and the HTML
/// report draw, for a paper, a slide or a terminal-only cluster. Needs a font (Debian: fonts-dejavu-core).
/// </summary>
public static class PngPlotWriter
{
    private const int Width = 1000;
    private const int Height = 600;

    private static readonly Dictionary<TrialState, Color> StateColors = new()
    {
        [TrialState.Complete] = Color.FromHex("#2f6fb3"),
        [TrialState.Pruned] = Color.FromHex("#d9534f"),
        [TrialState.Failed] = Color.FromHex("#7f7f7f"),
        [TrialState.Running] = Color.FromHex("#f0ad4e"),
        [TrialState.Waiting] = Color.FromHex("#b5b5b5"),
        [TrialState.Paused] = Color.FromHex("#8e44ad"),
    };

    /// <summary>
    /// Writes every plot into <paramref name="directory"/> (created if missing); returns the files written. Each file is
    /// written whole or not at all, as every report file is (<see cref="ReportFile"/>: a temporary file beside it,
    /// flushed, renamed over it): a full disk raises an <see cref="IOException"/> and leaves an earlier plot of the same
    /// name as it was, never a truncated PNG.
    /// </summary>
    public static IReadOnlyList<string> WriteAll(StudyPlots plots, string directory)
    {
        ArgumentNullException.ThrowIfNull(plots);
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        void Save(Plot plot, string name, int width = Width, int height = Height)
        {
            var path = Path.Combine(directory, name);
            ReportFile.Write(path, plot.GetImageBytes(width, height, ImageFormat.Png));
            written.Add(path);
        }

        Save(History(plots), "history.png");
        Save(Intermediate(plots), "intermediate.png");
        Save(Importance(plots), "importance.png");
        Save(Parallel(plots), "parallel.png", 1400, 600);
        foreach (var s in plots.Slices) Save(Slice(plots, s), $"slice-{FileName(s.Axis.Name)}.png", 800, 500);
        foreach (var c in plots.Contours) Save(Contour(c), $"contour-{FileName(c.XAxis.Name)}-{FileName(c.YAxis.Name)}.png", 800, 650);
        Save(Edf(plots), "edf.png");
        var timeline = Timeline(plots);
        Save(timeline, "timeline.png", 1400, Math.Max(400, 120 + 28 * plots.Timeline.Lanes.Count));
        return written;
    }

    private static string FileName(string name) =>
        new(name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '_').ToArray());

    private static string Fmt(double v) => v.ToString("G4", CultureInfo.InvariantCulture);

    private static Plot New(string title, string x, string y)
    {
        var plot = new Plot();
        plot.Title(title);
        plot.XLabel(x);
        plot.YLabel(y);
        return plot;
    }

    private static Plot Empty(Plot plot, string text)
    {
        plot.Add.Annotation(text);
        return plot;
    }

    private static Plot History(StudyPlots p)
    {
        var plot = New($"{p.StudyName}: optimization history", "trial", p.Metric);
        if (p.History.Points.Count == 0) return Empty(plot, "no complete trials");
        var points = plot.Add.ScatterPoints(p.History.Points.Select(t => (double)t.Number).ToArray(), p.History.Points.Select(t => t.Value).ToArray());
        points.Color = StateColors[TrialState.Complete];
        points.LegendText = p.Metric;
        var best = plot.Add.Scatter(p.History.BestSoFar.Select(t => (double)t.Number).ToArray(), p.History.BestSoFar.Select(t => t.Value).ToArray());
        best.ConnectStyle = ConnectStyle.StepHorizontal;
        best.MarkerSize = 0;
        best.LineWidth = 2;
        best.Color = Color.FromHex("#e4572e");
        best.LegendText = "best so far";
        plot.ShowLegend(Alignment.UpperRight);
        return plot;
    }

    private static Plot Intermediate(StudyPlots p)
    {
        var plot = New($"{p.StudyName}: intermediate values", "step", p.Metric);
        if (p.Intermediate.Curves.Count == 0) return Empty(plot, "no intermediate values");
        var legend = new HashSet<TrialState>();
        foreach (var c in p.Intermediate.Curves)
        {
            var line = plot.Add.Scatter(c.Steps.Select(s => (double)s).ToArray(), c.Values.ToArray());
            line.Color = StateColors.GetValueOrDefault(c.State, Colors.Gray).WithAlpha(0.7);
            line.MarkerSize = c.State == TrialState.Pruned ? 4 : 0;
            line.LineWidth = 1;
            if (c.State == TrialState.Pruned) line.LinePattern = LinePattern.Dashed;
            if (legend.Add(c.State)) line.LegendText = c.State.ToString();
        }
        foreach (var rung in p.Intermediate.RungSteps)
        {
            var v = plot.Add.VerticalLine(rung);
            v.LinePattern = LinePattern.Dotted;
            v.Color = Colors.Gray;
        }
        plot.ShowLegend(Alignment.UpperRight);
        return plot;
    }

    private static Plot Importance(StudyPlots p)
    {
        var plot = New($"{p.StudyName}: parameter importance ({p.Importance.Method})", "share", "");
        if (p.Importance.Parameters.Count == 0) return Empty(plot, "too few complete trials");
        var items = p.Importance.Parameters.Reverse().ToList();
        var bars = plot.Add.Bars(items.Select(i => i.Importance).ToArray());
        bars.Horizontal = true;
        bars.Color = StateColors[TrialState.Complete];
        plot.Axes.Left.SetTicks(Enumerable.Range(0, items.Count).Select(i => (double)i).ToArray(), items.Select(i => i.Name).ToArray());
        plot.Axes.SetLimitsX(0, 1);
        return plot;
    }

    private static double Unit(PlotAxis a, double v) =>
        a.Kind == PlotAxisKind.Categorical ? (a.Categories.Count > 1 ? v / (a.Categories.Count - 1) : 0.5) : PlotAxes.ToUnit(a, v);

    private static Plot Parallel(StudyPlots p)
    {
        var pc = p.ParallelCoordinates;
        var plot = New($"{p.StudyName}: parallel coordinates", "", "position on each axis (low → high)");
        if (pc.Lines.Count == 0) return Empty(plot, "no complete trials");
        var lo = pc.Lines.Min(l => l.Value);
        var hi = pc.Lines.Max(l => l.Value);
        var colormap = new ScottPlot.Colormaps.Viridis();
        foreach (var l in pc.Lines.OrderBy(l => p.Direction == Direction.Minimize ? -l.Value : l.Value))
        {
            var xs = new List<double>();
            var ys = new List<double>();
            for (var i = 0; i < pc.Axes.Count; i++)
                if (l.Coordinates[i] is { } c) { xs.Add(i); ys.Add(Unit(pc.Axes[i], c)); }
            xs.Add(pc.Axes.Count);
            ys.Add(hi > lo ? (l.Value - lo) / (hi - lo) : 0.5);
            var line = plot.Add.Scatter(xs.ToArray(), ys.ToArray());
            var goodness = hi > lo ? (p.Direction == Direction.Minimize ? (hi - l.Value) / (hi - lo) : (l.Value - lo) / (hi - lo)) : 1;
            line.Color = colormap.GetColor(goodness).WithAlpha(0.6);
            line.MarkerSize = 0;
            line.LineWidth = 1;
        }
        var labels = pc.Axes.Select(a => a.Kind == PlotAxisKind.Categorical ? $"{a.Name}\n[{string.Join(",", a.Categories)}]" : $"{a.Name}\n[{Fmt(a.Low)}, {Fmt(a.High)}]")
            .Append($"{p.Metric}\n[{Fmt(lo)}, {Fmt(hi)}]").ToArray();
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, labels.Length).Select(i => (double)i).ToArray(), labels);
        for (var i = 0; i < labels.Length; i++) plot.Add.VerticalLine(i).Color = Colors.Black.WithAlpha(0.4);
        return plot;
    }

    private static Plot Slice(StudyPlots p, SlicePlot s)
    {
        var log = s.Axis.Kind == PlotAxisKind.Log;
        var plot = New($"slice: {s.Axis.Name}", log ? $"log10({s.Axis.Name})" : s.Axis.Name, p.Metric);
        if (s.Points.Count == 0) return Empty(plot, "no complete trials");
        var pts = plot.Add.ScatterPoints(s.Points.Select(q => log ? Math.Log10(q.X) : q.X).ToArray(), s.Points.Select(q => q.Y).ToArray());
        pts.Color = StateColors[TrialState.Complete].WithAlpha(0.7);
        if (s.Axis.Kind == PlotAxisKind.Categorical)
            plot.Axes.Bottom.SetTicks(Enumerable.Range(0, s.Axis.Categories.Count).Select(i => (double)i).ToArray(), s.Axis.Categories.ToArray());
        return plot;
    }

    internal static Plot Contour(ContourPlot c)
    {
        var plot = New($"contour: {c.XAxis.Name} × {c.YAxis.Name}", c.XAxis.Name, c.YAxis.Name);
        int nx = c.XGrid.Count, ny = c.YGrid.Count;
        var z = new double[ny, nx];
        // Row 0 of a heatmap is drawn at the top; the grid's row 0 is the lowest y.
        for (var iy = 0; iy < ny; iy++)
            for (var ix = 0; ix < nx; ix++) z[ny - 1 - iy, ix] = c.Z[iy][ix];
        var heatmap = plot.Add.Heatmap(z);
        heatmap.Extent = new CoordinateRect(-0.5, nx - 0.5, -0.5, ny - 0.5);
        plot.Add.ColorBar(heatmap);
        double Index(PlotAxis a, double v, int n) => Unit(a, v) * (n - 1);
        var pts = plot.Add.ScatterPoints(c.Points.Select(q => Index(c.XAxis, q.X, nx)).ToArray(), c.Points.Select(q => Index(c.YAxis, q.Y, ny)).ToArray());
        pts.Color = Color.FromHex("#e4572e");
        pts.MarkerSize = 4;
        var (xp, xl) = ContourTicks(c.XAxis, c.XTicks, nx);
        var (yp, yl) = ContourTicks(c.YAxis, c.YTicks, ny);
        plot.Axes.Bottom.SetTicks(xp, xl);
        plot.Axes.Left.SetTicks(yp, yl);
        return plot;
    }

    // The plot data's round ticks placed on a contour axis of `cells` cells (cell i's centre at i).
    private static (double[] Positions, string[] Labels) ContourTicks(PlotAxis axis, IReadOnlyList<PlotTick> ticks, int cells) =>
        (ticks.Select(t => Unit(axis, t.Value) * (cells - 1)).ToArray(), ticks.Select(t => t.Label).ToArray());

    private static Plot Edf(StudyPlots p)
    {
        var plot = New($"{p.StudyName}: empirical distribution of {p.Metric}", p.Metric, "share of trials ≤ x");
        if (p.Edf.Values.Count == 0) return Empty(plot, "no complete trials");
        var line = plot.Add.Scatter(p.Edf.Values.ToArray(), p.Edf.Fractions.ToArray());
        line.ConnectStyle = ConnectStyle.StepHorizontal;
        line.MarkerSize = 0;
        line.LineWidth = 2;
        plot.Axes.SetLimitsY(0, 1.02);
        return plot;
    }

    private static Plot Timeline(StudyPlots p)
    {
        var tl = p.Timeline;
        var plot = New($"{p.StudyName}: trials per worker", "seconds since the first start", "");
        if (tl.Bars.Count == 0) return Empty(plot, "no trial has started");
        var t0 = tl.Bars.Min(b => b.Start);
        var lanes = tl.Lanes.Select((l, i) => (l, i)).ToDictionary(x => x.l, x => x.i);
        foreach (var b in tl.Bars)
        {
            var y = lanes[b.Lane];
            var rect = plot.Add.Rectangle((b.Start - t0) / 1000.0, Math.Max(b.End - t0, b.Start - t0 + 1) / 1000.0, y - 0.3, y + 0.3);
            rect.FillColor = StateColors.GetValueOrDefault(b.State, Colors.Gray);
            rect.LineWidth = 0;
        }
        plot.Axes.Left.SetTicks(Enumerable.Range(0, tl.Lanes.Count).Select(i => (double)i).ToArray(), tl.Lanes.ToArray());
        return plot;
    }
}
