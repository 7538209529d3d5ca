using Tunesmith.Reporting;
using Xunit;

namespace Tunesmith.Tests.Reporting;

/// <summary>The one way report, export and plot files are written: whole or not at all, through a temporary file beside them.</summary>
public sealed class ReportFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tunesmith-reportfile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string[] Listing() => Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    [Fact]
    public async Task A_new_and_a_replaced_file_are_written_whole_and_no_temporary_file_is_left()
    {
        var path = Path.Combine(_dir, "r.csv");
        await ReportFile.WriteAsync(path, "a,b\n");
        Assert.Equal("a,b\n", await File.ReadAllTextAsync(path));
        ReportFile.Write(path, "x"u8.ToArray());
        Assert.Equal("x", await File.ReadAllTextAsync(path));
        Assert.Equal(["r.csv"], Listing());
    }

    [Fact]
    public void The_temporary_file_is_hidden_beside_the_target_and_unique()
    {
        var a = ReportFile.TemporaryFor("/d/history.png");
        Assert.Matches(@"^/d/\.history\.png\.[0-9a-f]{8}\.tmp$", a);
        Assert.NotEqual(a, ReportFile.TemporaryFor("/d/history.png"));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task A_replaced_file_keeps_its_permissions()
    {
        var path = Path.Combine(_dir, "r.csv");
        await File.WriteAllTextAsync(path, "old");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        ReportFile.Write(path, "new"u8.ToArray());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }

    [Fact]
    public async Task A_symbolic_link_is_written_through_and_stays_a_link()
    {
        var real = Path.Combine(_dir, "real.csv");
        await File.WriteAllTextAsync(real, "old");
        var link = Path.Combine(_dir, "link.csv");
        File.CreateSymbolicLink(link, real);
        await ReportFile.WriteAsync(link, "new");
        Assert.Equal(real, new FileInfo(link).LinkTarget);
        Assert.Equal("new", await File.ReadAllTextAsync(real));
    }

    [Fact]
    public void A_failed_write_deletes_its_temporary_file_and_its_error_names_the_target()
    {
        // A non-empty directory where the file should go: the temporary file is written, the rename fails.
        var path = Path.Combine(_dir, "plots");
        Directory.CreateDirectory(path);
        File.WriteAllText(Path.Combine(path, "keep"), "kept");
        var e = Assert.ThrowsAny<IOException>(() => ReportFile.Write(path, "x"u8.ToArray()));
        Assert.DoesNotContain(".tmp", e.Message, StringComparison.Ordinal);
        Assert.Equal(["plots"], Listing());
        Assert.Equal("kept", File.ReadAllText(Path.Combine(path, "keep")));
    }
}
