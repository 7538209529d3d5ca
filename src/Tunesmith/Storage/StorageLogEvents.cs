using Microsoft.Extensions.Logging;

namespace Tunesmith.Storage;

/// <summary>Event ids of the storage's log lines that callers may want to pick out (a log filter, a test).</summary>
public static class StorageLogEvents
{
    /// <summary>
    /// A storage operation met a transient fault (a dropped connection, a restarting server, a busy SQLite file) and is
    /// retried after a short backoff. The first retry of an outage is a warning naming the storage by its redacted URL,
    /// then one every 10 s while it lasts; the retries between are at debug level.
    /// </summary>
    public static readonly EventId TransientFaultRetried = new(2001, nameof(TransientFaultRetried));

    /// <summary>An operation succeeded after transient faults had been retried: one warning that ends the outage.</summary>
    public static readonly EventId TransientFaultRecovered = new(2002, nameof(TransientFaultRecovered));
}
