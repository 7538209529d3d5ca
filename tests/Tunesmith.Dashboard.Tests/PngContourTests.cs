using Tunesmith.Plots;
using Tunesmith.Reporting.Plots;
using Xunit;

namespace Tunesmith.Dashboard.Tests;

/// <summary>The PNG contour plot's axes: round ticks from the plot data, where their values fall on the cell grid.</summary>
public sealed class PngContourTests
{
    [Fact]
    public void Contour_axes_are_ticked_at_round_values_not_at_grid_cells()
    {
        const int Cells = 30;
        var lr = new PlotAxis("lr", PlotAxisKind.Log, 1e-4, 1e-1, []);
        var x = new PlotAxis("x", PlotAxisKind.Linear, -1, 1, []);
        var grid = Enumerable.Range(0, Cells).Select(i => (double)i / (Cells - 1)).ToList();
        var contour = new ContourPlot(lr, x, grid.Select(u => PlotAxes.FromUnit(lr, u)).ToList(), grid.Select(u => PlotAxes.FromUnit(x, u)).ToList(),
            grid.Select(_ => (IReadOnlyList<double>)grid.Select(_ => 0.0).ToList()).ToList(), [new SlicePoint(1e-3, 0, 0, 0)]);
        var plot = PngPlotWriter.Contour(contour);
        plot.GetImageBytes(800, 650, ScottPlot.ImageFormat.Png); // drawing it fills the axes' tick lists

        var bottom = plot.Axes.Bottom.TickGenerator.Ticks;
        Assert.Equal(["1e-4", "1e-3", "1e-2", "0.1"], bottom.Select(t => t.Label));
        // Cell i's centre is at i: 1e-3 is a third of the way along a log axis from 1e-4 to 1e-1.
        Assert.Equal([0, 29 / 3.0, 2 * 29 / 3.0, 29], bottom.Select(t => t.Position), new Tolerance(1e-9));
        var left = plot.Axes.Left.TickGenerator.Ticks;
        Assert.Equal(["-1", "-0.5", "0", "0.5", "1"], left.Select(t => t.Label));
        Assert.Equal([0, 7.25, 14.5, 21.75, 29], left.Select(t => t.Position), new Tolerance(1e-9));
    }

    private sealed class Tolerance(double within) : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= within;

        public int GetHashCode(double obj) => 0;
    }
}
