using Tunesmith.Plots;
using Tunesmith.Reporting.Plots;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Dashboard.Tests;

/// <summary>PNG plot files are written as report files are (Tunesmith.Reporting.ReportFile): the same temporary file, links and permissions.</summary>
public sealed class PngPlotFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tunesmith-png-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static StudyPlots NoTrials() => StudyPlotsBuilder.Build([], Direction.Minimize, "loss", "s", DateTimeOffset.UnixEpoch);

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void A_replaced_plot_keeps_its_permissions_and_a_linked_plot_stays_a_link()
    {
        var plots = Path.Combine(_dir, "plots");
        Directory.CreateDirectory(plots);
        var history = Path.Combine(plots, "history.png");
        File.WriteAllText(history, "the earlier plot");
        File.SetUnixFileMode(history, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var elsewhere = Path.Combine(_dir, "edf-for-the-paper.png");
        File.WriteAllText(elsewhere, "the earlier plot");
        File.CreateSymbolicLink(Path.Combine(plots, "edf.png"), elsewhere);

        var written = PngPlotWriter.WriteAll(NoTrials(), plots);

        Assert.Contains(history, written);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(history));
        Assert.Equal(elsewhere, new FileInfo(Path.Combine(plots, "edf.png")).LinkTarget);
        Assert.Equal((byte)0x89, File.ReadAllBytes(elsewhere)[0]); // the PNG went through the link
        Assert.DoesNotContain(Directory.GetFiles(plots), f => f.EndsWith(".tmp", StringComparison.Ordinal));
    }
}
