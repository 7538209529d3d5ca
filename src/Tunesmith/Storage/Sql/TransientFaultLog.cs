using System.Globalization;
using Microsoft.Extensions.Logging;

namespace Tunesmith.Storage.Sql;

/// <summary>
/// Says what a storage's retries are doing in a few lines per outage rather than one per retry: a PostgreSQL restart
/// retried by several operations at once, each backing off to 1 s over a 60 s window, made dozens. An outage is the span
/// from the first retry to the next operation that succeeds. Its first retry is a warning, then a warning at most every
/// <see cref="ReminderInterval"/> while it lasts, and, unless the first retry cured it, one when an operation succeeds
/// again; the retries between are at debug level.
/// </summary>
internal sealed class TransientFaultLog(string storage, TimeProvider time, ILogger logger)
{
    /// <summary>How often a lasting outage is said again.</summary>
    public static readonly TimeSpan ReminderInterval = TimeSpan.FromSeconds(10);

    private readonly object _gate = new();
    private long? _since;
    private long _lastWarned;
    private int _retries;

    /// <summary>An operation met a transient fault and will be tried again after <paramref name="delay"/>.</summary>
    public void Retried(string fault, int attempt, int maxRetries, TimeSpan delay)
    {
        var now = time.GetTimestamp();
        int retries;
        long since;
        bool first, remind;
        lock (_gate)
        {
            first = _since is null;
            since = _since ??= now;
            retries = ++_retries;
            remind = !first && time.GetElapsedTime(_lastWarned, now) >= ReminderInterval;
            if (first || remind) _lastWarned = now;
        }
        var delayMs = (long)delay.TotalMilliseconds;
        if (first)
            logger.LogWarning(StorageLogEvents.TransientFaultRetried,
                "{Storage}: transient fault ({Fault}); retry {Attempt} of at most {MaxRetries} in {DelayMs} ms (while it lasts, a line every {Reminder} s)",
                storage, fault, attempt, maxRetries, delayMs, (int)ReminderInterval.TotalSeconds);
        else if (remind)
            logger.LogWarning(StorageLogEvents.TransientFaultRetried, "{Storage}: still failing after {Seconds} s and {Retries} ({Fault})",
                storage, Seconds(time.GetElapsedTime(since, now)), Retries(retries), fault);
        else
            logger.LogDebug(StorageLogEvents.TransientFaultRetried, "{Storage}: transient fault ({Fault}); retry {Attempt} of at most {MaxRetries} in {DelayMs} ms",
                storage, fault, attempt, maxRetries, delayMs);
    }

    /// <summary>An operation succeeded: an outage, if one was on, is over.</summary>
    public void Succeeded()
    {
        long since;
        int retries;
        lock (_gate)
        {
            if (_since is not { } s) return;
            (since, retries) = (s, _retries);
            (_since, _retries) = (null, 0);
        }
        // A blip that its first retry cured was said in one line, as before; a longer outage gets its end said.
        if (retries > 1) logger.LogWarning(StorageLogEvents.TransientFaultRecovered, "{Storage}: reachable again after {Seconds} s and {Retries}",
            storage, Seconds(time.GetElapsedTime(since)), Retries(retries));
    }

    private static string Retries(int n) => n == 1 ? "1 retry" : $"{n} retries";

    private static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture);
}
