using Microsoft.Extensions.Logging;

namespace Tunesmith.Storage;

/// <summary>Event ids of the storage's log lines that callers may want to pick out (a log filter, a test).</summary>
public static class StorageLogEvents
{
    /// <summary>
    /// A storage operation met a transient fault (a dropped connection, a restarting server, a busy SQLite file) and is
    /// retried after a short backoff: one warning per retry, naming the storage by its redacted URL.
    /// </summary>
    public static readonly EventId TransientFaultRetried = new(2001, nameof(TransientFaultRetried));
}
