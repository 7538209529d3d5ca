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
    public static IStudyStorage Open(string url)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(url);
        var location = StorageLocation.Parse(url);
        return location.Kind switch
        {
            StorageKind.Memory => new InMemoryStudyStorage(),
            StorageKind.Sqlite => Sql.SqliteStudyStorage.Open(location.Url),
            _ => new Sql.PostgresStudyStorage(location.Url),
        };
    }

    /// <summary>
    /// Opens the storage named by <paramref name="url"/> for reading only, for a dashboard or a report beside running
    /// workers: SQLite opens the existing file read-only and <c>query_only</c> (no write lock, no migration, never blocks
    /// a writer in WAL mode); PostgreSQL makes every transaction read-only. Throws <see cref="ArgumentException"/> with
    /// a one-line reason for a bad URL or a missing SQLite file.
    /// </summary>
    public static IStudyStorage OpenReadOnly(string url)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(url);
        if (url.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase)) return Sql.SqliteStudyStorage.OpenReadOnly(url);
        if (Sql.PostgresUrl.IsPostgres(url)) return new Sql.PostgresStudyStorage(url, new Sql.PostgresStorageOptions { ReadOnly = true });
        return Open(url);
    }
}
