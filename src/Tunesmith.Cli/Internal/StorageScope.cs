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
        catch (ArgumentException e) { throw new CliUsageException(ErrorLine.OneLine(StripParam(e))); }
    }

    /// <summary>Opens the storage at <paramref name="url"/> read-only (nothing is created or migrated); a bad URL becomes a one-line error.</summary>
    public static IStudyStorage OpenReadOnly(string url, TimeProvider time, Microsoft.Extensions.Logging.ILoggerFactory loggers)
    {
        try { return StudyStorage.OpenReadOnly(url, time, loggers); }
        catch (ArgumentException e) { throw new CliUsageException(ErrorLine.OneLine(StripParam(e))); }
    }

    /// <summary>
    /// Opens the storage at <paramref name="url"/> for a command that reads or changes an existing study: an SQLite file
    /// that does not exist, or a PostgreSQL database or schema without Tunesmith's tables, is a one-line error, and
    /// nothing is created in it (a mistyped database name that exists must not get Tunesmith's tables).
    /// </summary>
    public static async Task<IStudyStorage> OpenExistingAsync(string url, TimeProvider time, Microsoft.Extensions.Logging.ILoggerFactory loggers, CancellationToken ct)
    {
        if (await HoldsNoStudiesAsync(url, time, loggers, ct).ConfigureAwait(false))
            throw new CliUsageException($"no Tunesmith studies in {StorageUrl.Shown(url)} (it has no Tunesmith tables): create a study first with 'tunesmith run' or 'tunesmith create'");
        return Open(url, time, loggers, mustExist: true);
    }

    /// <summary>
    /// True when a PostgreSQL storage has no Tunesmith tables: found by a read-only open, which creates none. Other
    /// storages: false (an SQLite file that is missing is <see cref="MissingSqliteFile"/>'s case).
    /// </summary>
    public static async Task<bool> HoldsNoStudiesAsync(string url, TimeProvider time, Microsoft.Extensions.Logging.ILoggerFactory loggers, CancellationToken ct)
    {
        if (!Tunesmith.Storage.Sql.PostgresUrl.IsPostgres(url)) return false;
        var probe = OpenReadOnly(url, time, loggers);
        await using (probe.ConfigureAwait(false))
        {
            try { await probe.ListStudiesAsync(ct).ConfigureAwait(false); }
            catch (StudyStorageException e) when (e.HoldsNoStudies) { return true; }
            // Tables of another version: the open that follows migrates them (or says why it cannot).
            catch (StudyStorageException e) when (e.OtherSchemaVersion) { return false; }
        }
        return false;
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

    private static string StripParam(ArgumentException e) =>
        e.ParamName is { } p ? e.Message.Replace($" (Parameter '{p}')", "", StringComparison.Ordinal) : e.Message;
}
