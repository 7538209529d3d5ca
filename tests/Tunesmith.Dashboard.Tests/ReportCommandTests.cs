using System.Diagnostics;
using Tunesmith.Storage;
using Xunit;

namespace Tunesmith.Dashboard.Tests;

/// <summary>`tunesmith report --format html` and `--plots DIR` as a user runs them (the real CLI process).</summary>
public sealed class ReportCommandTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tunesmith-report-").FullName;
    private string Url => $"sqlite:///{Path.Combine(_dir, "s.db")}";

    public async Task InitializeAsync()
    {
        await using var storage = StudyStorage.Open(Url);
        await StudyFixtures.WriteAsync(storage, "r", 40);
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }

    private async Task<(int Code, string Stderr)> RunAsync(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = _dir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Tunesmith.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        await stdout;
        return (p.ExitCode, await stderr);
    }

    [Fact]
    public async Task Plots_option_writes_one_png_per_plot()
    {
        var dir = Path.Combine(_dir, "plots");
        var (code, stderr) = await RunAsync("report", "--study", "r", "--storage", Url, "--plots", dir);
        Assert.True(code == 0, stderr);
        var files = Directory.GetFiles(dir, "*.png").Select(Path.GetFileName).ToList();
        foreach (var f in new[] { "history.png", "intermediate.png", "importance.png", "parallel.png", "slice-x.png", "slice-lr.png", "slice-opt.png", "edf.png", "timeline.png" })
            Assert.Contains(f, files);
        Assert.Contains(files, f => f!.StartsWith("contour-", StringComparison.Ordinal));
        foreach (var f in Directory.GetFiles(dir))
        {
            var head = new byte[8];
            await using var s = File.OpenRead(f);
            await s.ReadExactlyAsync(head);
            Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, head);
            Assert.True(s.Length > 5_000, $"{f}: {s.Length} bytes");
        }
    }

    [Fact]
    public async Task Html_format_writes_one_self_contained_file()
    {
        var output = Path.Combine(_dir, "report.html");
        var (code, stderr) = await RunAsync("report", "--study", "r", "--storage", Url, "--format", "html", "--output", output);
        Assert.True(code == 0, stderr);
        var html = await File.ReadAllTextAsync(output);
        Assert.Contains("id=\"plot-data\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("src=\"http", html, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("no/such/report.html", "directory")]
    [InlineData(".", "is a directory")]
    public async Task Output_in_a_missing_directory_or_onto_a_directory_is_one_line_naming_the_flag(string output, string problem)
    {
        var (code, stderr) = await RunAsync("report", "--study", "r", "--storage", Url, "--format", "html", "--output", output);
        Assert.Equal(2, code);
        var line = Assert.Single(stderr.Trim().Split('\n'));
        Assert.StartsWith($"tunesmith: --output {output}: ", line, StringComparison.Ordinal);
        Assert.Contains(problem, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Plots_into_a_directory_whose_parent_is_missing_is_one_line()
    {
        var (code, stderr) = await RunAsync("report", "--study", "r", "--storage", Url, "--plots", Path.Combine(_dir, "no", "such"));
        Assert.Equal(2, code);
        Assert.Contains("--plots", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Trim().Split('\n'));
    }
}
