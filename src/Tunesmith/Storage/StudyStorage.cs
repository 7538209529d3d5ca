using Microsoft.Extensions.Logging;

namespace Tunesmith.Storage;

/// <summary>
/// Opens a storage from its URL: <c>memory:</c>, <c>sqlite:///relative/path.db</c>, <c>sqlite:////absolute/path.db</c> or
/// <c>postgresql://user:password@host:port/database</c> (also <c>postgres://</c>, with libpq parameters).
/// </summary>
public static class StudyStorage
{
    /// <summary>The storage URL used when none is given.</summary>
    public const string DefaultUrl = "sqlite:///tunesmith.db";

    /// <summary>Opens the storage named by <paramref name="url"/>; throws <see cref="ArgumentException"/> with a one-line reason for a bad URL.</summary>
    public static IStudyStorage Open(string url) => Open(url, timeProvider: null, loggerFactory: null);

    /// <summary>
    /// Opens the storage named by <paramref name="url"/> on the caller's clock (it stamps trials' start, finish and
    /// heartbeat times) and logger factory; throws <see cref="ArgumentException"/> with a one-line reason for a bad URL.
    /// </summary>
    /// <param name="url">The storage URL (<c>memory:</c>, <c>sqlite:///PATH</c>, <c>postgresql://...</c>).</param>
    /// <param name="timeProvider">The clock; null is the system clock.</param>
    /// <param name="loggerFactory">Where the storage logs; null logs nowhere.</param>
    public static IStudyStorage Open(string url, TimeProvider? timeProvider, ILoggerFactory? loggerFactory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(url);
        var location = StorageLocation.Parse(url);
        var logger = loggerFactory?.CreateLogger("Tunesmith.Storage");
        return location.Kind switch
        {
            StorageKind.Memory => new InMemoryStudyStorage(timeProvider),
            StorageKind.Sqlite => Sql.SqliteStudyStorage.Open(location.Url, timeProvider, logger),
            _ => new Sql.PostgresStudyStorage(location.Url, options: null, timeProvider, logger),
        };
    }

    /// <summary>
    /// Opens the storage named by <paramref name="url"/> for reading only, for a dashboard or a report beside running
    /// workers: SQLite opens the existing file read-only and <c>query_only</c> (no write lock, no migration, never blocks
    /// a writer in WAL mode); PostgreSQL makes every transaction read-only. Throws <see cref="ArgumentException"/> with
    /// a one-line reason for a bad URL or a missing SQLite file.
    /// </summary>
    public static IStudyStorage OpenReadOnly(string url) => OpenReadOnly(url, timeProvider: null, loggerFactory: null);

    /// <summary>
    /// Opens the storage named by <paramref name="url"/> for reading only (see <see cref="OpenReadOnly(string)"/>) on the
    /// caller's clock and logger factory.
    /// </summary>
    /// <param name="url">The storage URL.</param>
    /// <param name="timeProvider">The clock; null is the system clock.</param>
    /// <param name="loggerFactory">Where the storage logs; null logs nowhere.</param>
    public static IStudyStorage OpenReadOnly(string url, TimeProvider? timeProvider, ILoggerFactory? loggerFactory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(url);
        var logger = loggerFactory?.CreateLogger("Tunesmith.Storage");
        if (url.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase)) return Sql.SqliteStudyStorage.OpenReadOnly(url, timeProvider, logger);
        if (Sql.PostgresUrl.IsPostgres(url)) return new Sql.PostgresStudyStorage(url, new Sql.PostgresStorageOptions { ReadOnly = true }, timeProvider, logger);
        return Open(url, timeProvider, loggerFactory);
    }
}
