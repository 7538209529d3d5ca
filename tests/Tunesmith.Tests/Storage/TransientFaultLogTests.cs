using Microsoft.Extensions.Time.Testing;
using Tunesmith.Storage.Sql;
using Xunit;

namespace Tunesmith.Tests.Storage;

/// <summary>A storage outage is said in a few warnings, not one per retry.</summary>
public sealed class TransientFaultLogTests
{
    private const string Storage = "postgresql 'postgresql://ann:***@db/studies'";

    private static string[] Warnings(ListLoggerFactory logs) => logs.Lines.Where(l => l.StartsWith("Warning: ", StringComparison.Ordinal)).ToArray();

    [Fact]
    public void A_30_second_outage_retried_every_second_by_three_operations_is_four_warnings_and_the_recovery()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var logs = new ListLoggerFactory();
        var log = new TransientFaultLog(Storage, clock, logs.CreateLogger("storage"));
        for (var second = 0; second < 30; second++)
        {
            for (var operation = 0; operation < 3; operation++) log.Retried("57P01: terminating connection", second + 1, 66, TimeSpan.FromSeconds(1));
            clock.Advance(TimeSpan.FromSeconds(1));
        }
        log.Succeeded();
        log.Succeeded(); // nothing more to say

        Assert.Equal(
        [
            $"Warning: {Storage}: transient fault (57P01: terminating connection); retry 1 of at most 66 in 1000 ms (while it lasts, a line every 10 s)",
            $"Warning: {Storage}: still failing after 10.0 s and 31 retries (57P01: terminating connection)",
            $"Warning: {Storage}: still failing after 20.0 s and 61 retries (57P01: terminating connection)",
            $"Warning: {Storage}: reachable again after 30.0 s and 90 retries",
        ], Warnings(logs));
        Assert.Equal(90 - 3, logs.Lines.Count(l => l.StartsWith("Debug: ", StringComparison.Ordinal))); // every other retry, for -v
    }

    [Fact]
    public void A_blip_cured_by_its_first_retry_is_one_line_and_the_next_outage_is_said_again()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var logs = new ListLoggerFactory();
        var log = new TransientFaultLog(Storage, clock, logs.CreateLogger("storage"));
        log.Retried("database is locked", 1, 10, TimeSpan.FromMilliseconds(10));
        log.Succeeded();
        clock.Advance(TimeSpan.FromMinutes(5));
        log.Retried("database is locked", 1, 10, TimeSpan.FromMilliseconds(10));
        clock.Advance(TimeSpan.FromMilliseconds(500));
        log.Retried("database is locked", 2, 10, TimeSpan.FromMilliseconds(20));
        log.Succeeded();
        Assert.Equal(
        [
            $"Warning: {Storage}: transient fault (database is locked); retry 1 of at most 10 in 10 ms (while it lasts, a line every 10 s)",
            $"Warning: {Storage}: transient fault (database is locked); retry 1 of at most 10 in 10 ms (while it lasts, a line every 10 s)",
            $"Warning: {Storage}: reachable again after 0.5 s and 2 retries",
        ], Warnings(logs));
    }
}
