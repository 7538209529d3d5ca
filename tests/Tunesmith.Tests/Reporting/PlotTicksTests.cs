using System.Globalization;
using FsCheck.Xunit;
using Tunesmith.Reporting.Plots;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Tests.Reporting;

/// <summary>The contour plots' axes carry round ticks (1e-3, 0.2, ...), not the values of their grid's cells.</summary>
public sealed class PlotTicksTests
{
    private static string[] Labels(PlotAxisKind kind, double low, double high, bool whole = false) =>
        PlotAxes.Ticks(new PlotAxis("p", kind, low, high, []) { Whole = whole }).Select(t => t.Label).ToArray();

    [Fact]
    public void A_log_axis_is_ticked_at_its_decades_or_at_1_2_and_5_times_them()
    {
        Assert.Equal(["1e-4", "1e-3", "1e-2", "0.1"], Labels(PlotAxisKind.Log, 1e-4, 1e-1));
        Assert.Equal(["1e-5", "1e-3", "0.1", "10", "1000"], Labels(PlotAxisKind.Log, 1e-5, 1e4)); // 9 decades: every second
        Assert.Equal(["0.02", "0.05", "0.1"], Labels(PlotAxisKind.Log, 0.013, 0.1));
        Assert.Equal(["20", "25", "30"], Labels(PlotAxisKind.Log, 16, 30)); // one 1-2-5 tick only: as on a linear axis
    }

    [Fact]
    public void A_linear_axis_is_ticked_at_multiples_of_1_2_or_5_times_a_power_of_ten()
    {
        Assert.Equal(["0", "0.2", "0.4", "0.6", "0.8", "1"], Labels(PlotAxisKind.Linear, 0, 1));
        Assert.Equal(["-1", "-0.5", "0", "0.5", "1"], Labels(PlotAxisKind.Linear, -1, 1));
        Assert.Equal(["0.1", "0.2", "0.3"], Labels(PlotAxisKind.Linear, 0.0137, 0.3421));
        Assert.Equal(["0", "0.5", "1", "1.5", "2"], Labels(PlotAxisKind.Linear, 0, 2));
        Assert.Equal(["0", "1", "2"], Labels(PlotAxisKind.Linear, 0, 2, whole: true)); // an int parameter: whole ticks
        Assert.Equal(["2", "4", "6", "8", "10"], Labels(PlotAxisKind.Linear, 1, 10));
        Assert.Equal(["1e-5", "1.5e-5", "2e-5", "2.5e-5", "3e-5"], Labels(PlotAxisKind.Linear, 1e-5, 3e-5));
    }

    [Fact]
    public void A_categorical_axis_is_ticked_at_its_categories()
    {
        var ticks = PlotAxes.Ticks(new PlotAxis("opt", PlotAxisKind.Categorical, 0, 2, ["adam", "sgd", "rmsprop"]));
        Assert.Equal([(0.0, "adam"), (1.0, "sgd"), (2.0, "rmsprop")], ticks.Select(t => (t.Value, t.Label)));
    }

    [Property(MaxTest = 500)]
    public bool Ticks_lie_in_the_range_and_read_back_as_their_values(int seed, bool log)
    {
        var rng = new Random(seed);
        var low = log ? Math.Pow(10, rng.NextDouble() * 12 - 8) : (rng.NextDouble() - 0.5) * Math.Pow(10, rng.Next(-6, 7));
        var high = log ? low * Math.Pow(10, rng.NextDouble() * 8 + 0.01) : low + Math.Pow(10, rng.NextDouble() * 12 - 6);
        var ticks = PlotAxes.Ticks(new PlotAxis("p", log ? PlotAxisKind.Log : PlotAxisKind.Linear, low, high, []));
        var ok = ticks.Count is >= 2 and <= 11
            && ticks.All(t => t.Value >= low - Math.Abs(low) * 1e-9 && t.Value <= high + Math.Abs(high) * 1e-9)
            && ticks.All(t => double.Parse(t.Label, CultureInfo.InvariantCulture) == t.Value)
            && ticks.Zip(ticks.Skip(1)).All(p => p.Second.Value > p.First.Value);
        return ok ? true : throw new Xunit.Sdk.XunitException($"[{low:R}, {high:R}] log={log}: {string.Join(" ", ticks.Select(t => t.Label))}");
    }

    [Fact]
    public void A_contour_plot_carries_round_ticks_for_both_axes()
    {
        var plots = StudyPlotsBuilder.Build(StudyPlotsTests.RandomTrials(60), Direction.Minimize, "loss", "s", DateTimeOffset.UnixEpoch);
        var contour = plots.Contours.First(c => c.XAxis.Name == "x" || c.YAxis.Name == "x");
        var x = contour.XAxis.Name == "x" ? contour.XTicks : contour.YTicks;
        Assert.Equal(["-1", "-0.5", "0", "0.5", "1"], x.Select(t => t.Label)); // the grid's cells are at -1, -0.931, ...
        var json = StudyPlotsJson.Serialize(plots);
        Assert.Contains("\"xTicks\":[{\"value\":", json, StringComparison.Ordinal);
    }
}
