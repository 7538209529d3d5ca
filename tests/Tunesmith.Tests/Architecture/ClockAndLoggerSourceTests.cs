using System.Text.RegularExpressions;
using Xunit;

namespace Tunesmith.Tests.Architecture;

/// <summary>
/// One clock and one logger factory, from the entry point: no code under src/ reads the system clock itself, and the
/// system clock and the null logger appear only as the documented defaults of public options and optional parameters
/// (a library user who passes nothing), or at the entry points that choose them. Read from the source text, since a
/// type-dependency check cannot tell a default value from a hidden read.
/// </summary>
public sealed class ClockAndLoggerSourceTests
{
    // The entry points: the CLI's Program.cs makes the process's clock and logger factory; the dashboard host registers
    // the system clock as the default its own container may override.
    private static readonly string[] EntryPoints =
    [
        Path.Combine("src", "Tunesmith.Cli", "Program.cs"),
        Path.Combine("src", "Tunesmith.Dashboard", "DashboardHost.cs"),
    ];

    private static readonly Regex SystemClockRead = new(@"\bDateTime(Offset)?\s*\.\s*(UtcNow|Now|Today)\b", RegexOptions.CultureInvariant);
    private static readonly Regex DefaultOnly = new(
        @"(=|\?\?)\s*(TimeProvider\.System|NullLoggerFactory\.Instance|NullLogger\.Instance)\s*[;,)}]", RegexOptions.CultureInvariant);
    private static readonly Regex Mention = new(@"\b(TimeProvider\.System|NullLoggerFactory\.Instance|NullLogger\.Instance)\b", RegexOptions.CultureInvariant);

    private static IEnumerable<(string File, int Line, string Text)> SourceLines()
    {
        var root = RepositoryRoot();
        foreach (var file in Directory.EnumerateFiles(Path.Combine(root, "src"), "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(root, file);
            var parts = relative.Split(Path.DirectorySeparatorChar);
            if (parts.Contains("bin") || parts.Contains("obj")) continue;
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                var text = lines[i].Trim();
                if (text.StartsWith("//", StringComparison.Ordinal)) continue; // comments and doc comments name the clock freely
                yield return (relative, i + 1, text);
            }
        }
    }

    private static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Tunesmith.sln"))) return d.FullName;
        throw new InvalidOperationException("Tunesmith.sln not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public void No_code_reads_the_system_clock_itself()
    {
        var reads = SourceLines().Where(l => SystemClockRead.IsMatch(l.Text)).Select(l => $"{l.File}:{l.Line}: {l.Text}").ToList();
        Assert.True(reads.Count == 0, "read the clock through the TimeProvider passed in:\n" + string.Join("\n", reads));
    }

    [Fact]
    public void The_system_clock_and_the_null_logger_are_only_defaults_outside_the_entry_points()
    {
        var hidden = SourceLines()
            .Where(l => !EntryPoints.Contains(l.File) && Mention.IsMatch(l.Text))
            .Where(l => Mention.Matches(l.Text).Count > DefaultOnly.Matches(l.Text).Count)
            .Select(l => $"{l.File}:{l.Line}: {l.Text}")
            .ToList();
        Assert.True(hidden.Count == 0, "take the entry point's clock and logger factory instead:\n" + string.Join("\n", hidden));
    }
}
