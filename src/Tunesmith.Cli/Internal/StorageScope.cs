using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Storage;

namespace Tunesmith.Cli.Internal;

/// <summary>Opens the storage a command works on, and the named study in it, with one-line errors for the usual mistakes.</summary>
internal static class StorageScope
{
    /// <summary>
    /// Opens the storage at <paramref name="url"/>; a bad URL becomes a one-line error. With <paramref name="mustExist"/>
    /// (commands that read or change an existing study), an SQLite file that does not exist is an error instead of being
    /// created: a command that only reads leaves no file behind. The storage runs on the entry point's clock and logger
    /// factory (<paramref name="time"/>, <paramref name="loggers"/>).
    /// </summary>
    public static IStudyStorage Open(string url, TimeProvider time, Microsoft.Extensions.Logging.ILoggerFactory loggers, bool mustExist = false)
    {
        if (mustExist && MissingSqliteFile(url) is { } missing)
            throw new CliUsageException($"no Tunesmith database at {missing} (storage {StorageUrl.Shown(url)}): create a study first with 'tunesmith run' or 'tunesmith create'");
        try { return StudyStorage.Open(url, time, loggers); }
        catch (ArgumentException e) { throw new CliUsageException(ErrorLine.OneLine(ErrorLine.WithoutParamName(e))); }
    }

    /// <summary>Opens the storage at <paramref name="url"/> read-only (nothing is created or migrated); a bad URL becomes a one-line error.</summary>
    public static IStudyStorage OpenReadOnly(string url, TimeProvider time, Microsoft.Extensions.Logging.ILoggerFactory loggers)
    {
        try { return StudyStorage.OpenReadOnly(url, time, loggers); }
        catch (ArgumentException e) { throw new CliUsageException(ErrorLine.OneLine(ErrorLine.WithoutParamName(e))); }
    }

    /// <summary>
    /// Opens the storage at <paramref name="url"/> for a command that only reads (report, best, status, a Slurm dry run):
    /// nothing is created, migrated or written, and on PostgreSQL it is one pool of read-only connections, no probe. Null
    /// when the storage holds no Tunesmith studies: an SQLite file that does not exist, a PostgreSQL database or schema
    /// without Tunesmith's tables. A PostgreSQL schema of another version is opened as <see cref="OpenExistingAsync"/>
    /// does (an older one is upgraded, as a worker would; a newer one is a one-line error).
    /// </summary>
    public static async Task<IStudyStorage?> OpenToReadAsync(string url, TimeProvider time, Microsoft.Extensions.Logging.ILoggerFactory loggers, CancellationToken ct)
    {
        if (MissingSqliteFile(url) is not null) return null;
        if (!Tunesmith.Storage.Sql.PostgresUrl.IsPostgres(url)) return Open(url, time, loggers, mustExist: true);
        try { return await ConnectedPostgresAsync(url, new Tunesmith.Storage.Sql.PostgresStorageOptions { ReadOnly = true }, time, loggers, ct).ConfigureAwait(false); }
        catch (StudyStorageException e) when (e.HoldsNoStudies) { return null; }
        catch (StudyStorageException e) when (e.OtherSchemaVersion) { return await OpenExistingOrNoneAsync(url, time, loggers, ct).ConfigureAwait(false); }
    }

    /// <summary>
    /// Opens the storage at <paramref name="url"/> for a command that reads or changes an existing study (worker, enqueue,
    /// delete): an SQLite file that does not exist, or a PostgreSQL database or schema without Tunesmith's tables, is a
    /// one-line error, and nothing is created in it (a mistyped database name that exists must not get Tunesmith's
    /// tables). PostgreSQL opens once (<see cref="Tunesmith.Storage.Sql.PostgresStorageOptions.ExistingOnly"/>), no probe.
    /// </summary>
    public static async Task<IStudyStorage> OpenExistingAsync(string url, TimeProvider time, Microsoft.Extensions.Logging.ILoggerFactory loggers, CancellationToken ct) =>
        await OpenExistingOrNoneAsync(url, time, loggers, ct).ConfigureAwait(false) ?? throw NoStudies(url);

    /// <summary>The one-line error for a storage that holds no Tunesmith studies (see <see cref="OpenToReadAsync"/>'s null).</summary>
    public static CliUsageException NoStudies(string url) =>
        MissingSqliteFile(url) is { } missing
            ? new CliUsageException($"no Tunesmith database at {missing} (storage {StorageUrl.Shown(url)}): create a study first with 'tunesmith run' or 'tunesmith create'")
            : new CliUsageException($"no Tunesmith studies in {StorageUrl.Shown(url)} (it has no Tunesmith tables): create a study first with 'tunesmith run' or 'tunesmith create'");

    /// <summary><see cref="OpenExistingAsync"/>, but null where that throws because the storage holds no Tunesmith studies.</summary>
    public static async Task<IStudyStorage?> OpenExistingOrNoneAsync(string url, TimeProvider time, Microsoft.Extensions.Logging.ILoggerFactory loggers, CancellationToken ct)
    {
        if (MissingSqliteFile(url) is not null) return null;
        if (!Tunesmith.Storage.Sql.PostgresUrl.IsPostgres(url)) return Open(url, time, loggers, mustExist: true);
        try { return await ConnectedPostgresAsync(url, new Tunesmith.Storage.Sql.PostgresStorageOptions { ExistingOnly = true }, time, loggers, ct).ConfigureAwait(false); }
        catch (StudyStorageException e) when (e.HoldsNoStudies) { return null; }
    }

    // One PostgreSQL storage, connected (its schema checked or upgraded) before it is handed out; disposed if that fails.
    private static async Task<IStudyStorage> ConnectedPostgresAsync(string url, Tunesmith.Storage.Sql.PostgresStorageOptions options, TimeProvider time,
        Microsoft.Extensions.Logging.ILoggerFactory loggers, CancellationToken ct)
    {
        Tunesmith.Storage.Sql.PostgresStudyStorage storage;
        try { storage = new Tunesmith.Storage.Sql.PostgresStudyStorage(url, options, time, loggers.CreateLogger("Tunesmith.Storage")); }
        catch (ArgumentException e) { throw new CliUsageException(ErrorLine.OneLine(ErrorLine.WithoutParamName(e))); }
        try
        {
            await storage.ConnectAsync(ct).ConfigureAwait(false);
            return storage;
        }
        catch
        {
            await storage.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The file an SQLite URL names when it does not exist; null when it exists or the storage is not an SQLite file.</summary>
    public static string? MissingSqliteFile(string url)
    {
        if (!url.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase)) return null;
        string path;
        try { path = Tunesmith.Storage.Sql.SqliteStudyStorage.PathFromUrl(url); }
        catch (ArgumentException) { return null; } // Open says what is wrong with it
        return path == ":memory:" || File.Exists(path) ? null : path;
    }

    /// <summary>Loads a study record or throws <see cref="StudyNotFoundException"/> naming it and the storage.</summary>
    public static async Task<StudyRecord> GetStudyAsync(IStudyStorage storage, string name, string url, CancellationToken ct) =>
        await storage.GetStudyAsync(name, ct).ConfigureAwait(false)
        ?? throw new CliUsageException($"study '{name}' does not exist in {StorageUrl.Shown(url)}");

    /// <summary>Loads a study over an open storage (not owned by the study), on the entry point's clock and logger factory.</summary>
    public static async Task<Study> LoadStudyAsync(IStudyStorage storage, string name, string url, TimeProvider time,
        Microsoft.Extensions.Logging.ILoggerFactory loggers, CancellationToken ct)
    {
        try { return await Study.LoadAsync(name, new StudyOptions { StorageInstance = storage, TimeProvider = time, LoggerFactory = loggers }, ct).ConfigureAwait(false); }
        catch (StudyNotFoundException) { throw new CliUsageException($"study '{name}' does not exist in {StorageUrl.Shown(url)}"); }
    }
}
