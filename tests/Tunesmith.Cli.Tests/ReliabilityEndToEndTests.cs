using System.Diagnostics;

namespace Tunesmith.Cli.Tests;

/// <summary>Bad storage and bad input met as a user meets them: one line, the right exit code, quickly, nothing leaked.</summary>
public sealed class ReliabilityEndToEndTests
{
    [Theory]
    [InlineData("postgresql://ann:hunter2secret@127.0.0.1:1/studies", "127.0.0.1:1")]                          // a closed port
    [InlineData("postgresql://ann:hunter2secret@10.255.255.1:5432/studies?connect_timeout=1", "10.255.255.1:5432")] // nothing answers
    public async Task An_unreachable_postgres_fails_in_seconds_with_one_line_naming_host_and_port_and_no_password(string url, string server)
    {
        using var dir = new TempDir();
        var clock = Stopwatch.StartNew();
        var r = await CliProcess.RunAsync(dir.Path, ["status", "--storage", url]);
        clock.Stop();
        Assert.True(r.ExitCode == 2, r.ToString());
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains($"cannot connect to {server}", line);
        Assert.DoesNotContain("hunter2secret", r.Stderr + r.Stdout);
        Assert.DoesNotContain("unexpected error", line);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"took {clock.Elapsed}");
    }
}
