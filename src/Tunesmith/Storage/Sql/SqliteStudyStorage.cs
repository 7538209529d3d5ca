using System.Collections.Concurrent;
using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Tunesmith.Storage.Sql;

/// <summary>
/// Studies in a SQLite file (URL <c>sqlite:///relative/path.db</c> or <c>sqlite:////absolute/path.db</c>): the embedded
/// default, safe for several worker processes on one machine. WAL journal with <c>synchronous=NORMAL</c> (every commit
/// survives a kill -9 of any process; see docs/STORAGE.md), <c>BEGIN IMMEDIATE</c> write transactions so that every
/// check-then-write is atomic across processes, a busy timeout plus retries with backoff so that "database is locked"
/// never reaches the caller, and one pooled connection per concurrent caller with its statements prepared once.
/// </summary>
public sealed class SqliteStudyStorage : SqlStudyStorage
{
    private const int BusyTimeoutMs = 5_000;
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;
    private const int SqliteFull = 13;
    private const int SqliteCantOpen = 14;
    private const int SqliteReadOnly = 8;

    private const int CheckpointEveryWrites = 1_000;
    private const long JournalSizeLimit = 64L << 20; // a reset WAL file is truncated to this size

    private string _connectionString;
    private long _writes;
    private readonly ConcurrentBag<SqlSession> _idle = [];
    private readonly SemaphoreSlim _initGate = new(1, 1);
    private volatile bool _initialized;
    private volatile bool _disposed;
    private volatile bool _immutable;

    /// <summary>Opens (creating on first use) the SQLite file at <paramref name="path"/>; nothing is touched until the first call.</summary>
    /// <param name="path">The database file; its directory must exist.</param>
    /// <param name="timeProvider">Clock for timestamps and heartbeats (tests inject a fake one).</param>
    /// <param name="logger">Diagnostics (migrations, retries on a busy database).</param>
    public SqliteStudyStorage(string path, TimeProvider? timeProvider = null, ILogger? logger = null)
        : this(path, readOnly: false, timeProvider, logger)
    {
    }

    private SqliteStudyStorage(string path, bool readOnly, TimeProvider? timeProvider, ILogger? logger)
        : base(SqlDialect.Sqlite, timeProvider, logger, maxRetries: 10)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = System.IO.Path.GetFullPath(path);
        IsReadOnly = readOnly;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = readOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWriteCreate,
            // Tunesmith pools its own connections, each with its prepared statements.
            Pooling = false,
            // Microsoft.Data.Sqlite keeps retrying a busy statement for this many seconds (after SQLite's own busy_timeout).
            DefaultTimeout = 30,
        }.ToString();
    }

    /// <summary>The database file's absolute path.</summary>
    public string Path { get; }

    /// <summary>
    /// True when opened with <see cref="OpenReadOnly"/>: connections are read-only and <c>query_only</c>, nothing is
    /// created or migrated, and every write fails.
    /// </summary>
    public bool IsReadOnly { get; }

    /// <summary>
    /// Opens an existing SQLite file for reading only (a dashboard or a report beside running workers): it never takes
    /// a write lock, never switches the journal mode or migrates the schema, and in WAL mode never blocks a writer.
    /// </summary>
    /// <exception cref="ArgumentException">The URL is malformed or names no existing file (one line naming the URL).</exception>
    public static SqliteStudyStorage OpenReadOnly(string url, TimeProvider? timeProvider = null, ILogger? logger = null)
    {
        var path = PathFromUrl(url);
        if (!File.Exists(path)) throw new ArgumentException($"storage URL '{url}': file '{path}' does not exist", nameof(url));
        return new SqliteStudyStorage(path, readOnly: true, timeProvider, logger);
    }

    private protected override string Description => $"sqlite file '{Path}'";

    /// <summary>
    /// Opens the storage named by a <c>sqlite:</c> URL, SQLAlchemy style: three slashes then a path relative to the current
    /// directory (<c>sqlite:///runs/study.db</c>), four for an absolute path (<c>sqlite:////data/study.db</c>).
    /// </summary>
    /// <exception cref="ArgumentException">The URL is malformed or its directory does not exist (one line naming the URL).</exception>
    public static SqliteStudyStorage Open(string url, TimeProvider? timeProvider = null, ILogger? logger = null) =>
        new(PathFromUrl(url), timeProvider, logger);

    /// <summary>The absolute file path a <c>sqlite:</c> URL names; throws <see cref="ArgumentException"/> with a one-line reason.</summary>
    public static string PathFromUrl(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        var location = StorageLocation.Parse(url);
        if (location.Kind != StorageKind.Sqlite)
            throw new ArgumentException(
                $"storage URL '{location.Display}' is not a SQLite URL: use sqlite:///relative/path.db (three slashes) or sqlite:////absolute/path.db (four)", nameof(url));
        var path = location.SqlitePath!;
        if (Directory.Exists(path))
            throw new ArgumentException($"storage URL '{url}' names a directory ('{path}'), not a database file", nameof(url));
        var directory = System.IO.Path.GetDirectoryName(path);
        if (directory is not null && !Directory.Exists(directory))
            throw new ArgumentException($"storage URL '{url}': directory '{directory}' does not exist (create it first)", nameof(url));
        return path;
    }

    private protected override async ValueTask<SqlSession> RentSessionAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_initialized) await InitializeAsync(cancellationToken).ConfigureAwait(false);
        return _idle.TryTake(out var session) ? session : await OpenSessionAsync(cancellationToken).ConfigureAwait(false);
    }

    private protected override async ValueTask ReturnSessionAsync(SqlSession session, bool reusable)
    {
        if (reusable && !_disposed) _idle.Add(session);
        else await session.DisposeAsync().ConfigureAwait(false);
    }

    private async Task<SqlSession> OpenSessionAsync(CancellationToken ct)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(ct).ConfigureAwait(false);
            var session = new SqlSession(connection, cacheCommands: true);
            // synchronous=NORMAL: in WAL mode a commit reaches the OS before returning (survives any process crash) and the
            // file is never corrupted; only an OS crash or power cut may lose the last commits (docs/STORAGE.md).
            await session.Command(IsReadOnly || _immutable
                ? $"PRAGMA busy_timeout = {BusyTimeoutMs}; PRAGMA query_only = 1;"
                : $"PRAGMA busy_timeout = {BusyTimeoutMs}; PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = {JournalSizeLimit};").ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            return session;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Refuses, before changing anything in it (not even its journal mode), an SQLite file that holds tables but not
    /// Tunesmith's: another program's database (Optuna's, say) named by mistake.
    /// </summary>
    private async Task RefuseForeignDatabaseAsync(SqlSession session, CancellationToken ct)
    {
        var tables = new List<string>();
        await using (var r = await session.Command("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .ExecuteReaderAsync(ct).ConfigureAwait(false))
            while (await r.ReadAsync(ct).ConfigureAwait(false)) tables.Add(r.GetString(0));
        if (tables.Count == 0 || tables.Contains("schema_version")) return;
        throw new StudyStorageException(
            $"storage {Description}: this SQLite file is not a Tunesmith database (it holds tables {string.Join(", ", tables.Take(6))}{(tables.Count > 6 ? ", ..." : "")}); it was left untouched: name another file");
    }

    /// <summary>Creates the database file readable and writable by its owner only (0600), when it does not exist yet.</summary>
    private void CreatePrivateFile()
    {
        if (File.Exists(Path) || OperatingSystem.IsWindows()) return;
        try
        {
            using var _ = new FileStream(Path, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
        }
        catch (IOException) when (File.Exists(Path)) { } // another process created it first
        catch (Exception e) when (e is DirectoryNotFoundException or UnauthorizedAccessException) { } // SQLite says it in its own words
    }

    private async Task InitializeAsync(CancellationToken ct)
    {
        await _initGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_initialized) return;
            if (!IsReadOnly) CreatePrivateFile();
            var session = await OpenSessionAsync(ct).ConfigureAwait(false);
            var ok = false;
            try
            {
                try { await session.Command("SELECT count(*) FROM sqlite_master").ExecuteScalarAsync(ct).ConfigureAwait(false); }
                catch (SqliteException e) when ((e.SqliteErrorCode & 0xFF) == SqliteCantOpen && File.Exists(Path) && !File.Exists(Path + "-wal"))
                {
                    // A WAL database needs its -shm file even to be read, and SQLite cannot create one in a directory that
                    // cannot be written (a read-only mount, an archived copy). Without a -wal file beside it the file holds
                    // every commit and nobody can change it: it is read as immutable (no locks, no -shm); writes fail.
                    await session.DisposeAsync().ConfigureAwait(false);
                    _connectionString = new SqliteConnectionStringBuilder(_connectionString)
                    {
                        DataSource = new Uri(Path).AbsoluteUri + "?immutable=1",
                        Mode = SqliteOpenMode.ReadOnly,
                    }.ToString();
                    _immutable = true;
                    Logger.LogInformation("{Storage}: its directory cannot take SQLite's -shm file (read-only?); reading it as an immutable file", Description);
                    session = await OpenSessionAsync(ct).ConfigureAwait(false);
                }
                if (IsReadOnly || _immutable)
                {
                    await CheckSchemaReadableAsync(session, ct).ConfigureAwait(false);
                    ok = true;
                    _initialized = true;
                    return;
                }
                await RefuseForeignDatabaseAsync(session, ct).ConfigureAwait(false);
                // WAL is a property of the file: the first opener switches it, later ones find it set.
                var mode = await session.Command("PRAGMA journal_mode = WAL").ExecuteScalarAsync(ct).ConfigureAwait(false) as string;
                if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
                    Logger.LogWarning("{Storage}: journal mode is {Mode}, not WAL (is the file on a filesystem without shared memory?)", Description, mode);
                await MigrateAsync(session, ct).ConfigureAwait(false);
                ok = true;
            }
            finally
            {
                if (ok) _idle.Add(session);
                else await session.DisposeAsync().ConfigureAwait(false);
            }
            _initialized = true;
        }
        finally { _initGate.Release(); }
    }

    private protected override async ValueTask AfterWriteAsync(SqlSession session, CancellationToken cancellationToken)
    {
        // SQLite's automatic checkpoints are passive: while a reader or writer is always active (parallel trials, several
        // workers) the WAL is never reset and grows without bound (hundreds of MB in a minute). A RESTART checkpoint now and
        // then waits the few milliseconds for readers to move on, so the next writer starts the WAL from its beginning.
        if (Interlocked.Increment(ref _writes) % CheckpointEveryWrites != 0) return;
        try { await session.Command("PRAGMA wal_checkpoint(RESTART)").ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false); }
        catch (SqliteException e) when (IsTransient(e))
        {
            Logger.LogDebug("{Storage}: checkpoint skipped ({Message})", Description, e.Message);
        }
    }

    /// <summary>
    /// Rewrites the database file without its free pages (<c>VACUUM</c>) and empties its write-ahead log (a
    /// <c>TRUNCATE</c> checkpoint), so the bytes of overwritten or deleted values are gone from the files, not only from
    /// the rows. Takes time in proportion to the file's size (docs/RELIABILITY.md has the figures). False when another
    /// process kept the file busy past the busy timeout: nothing was lost, the old bytes are still there.
    /// </summary>
    public async Task<bool> CompactAsync(CancellationToken cancellationToken = default)
    {
        if (IsReadOnly) throw new InvalidOperationException($"storage {Description} is open read-only");
        var session = await RentSessionAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await session.Command("VACUUM").ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            await using var r = await session.Command("PRAGMA wal_checkpoint(TRUNCATE)").ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            // One row: busy (1 when a reader kept the checkpoint from finishing), frames in the log, frames copied.
            return await r.ReadAsync(cancellationToken).ConfigureAwait(false) && r.GetInt64(0) == 0;
        }
        catch (SqliteException e) when (IsTransient(e))
        {
            Logger.LogWarning("{Storage}: could not rewrite the file now ({Message})", Description, e.Message);
            return false;
        }
        finally { await ReturnSessionAsync(session, reusable: true).ConfigureAwait(false); }
    }

    private protected override ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        // deferred: false is BEGIN IMMEDIATE: take the write lock now, so no read inside can go stale before the write.
        ValueTask.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: false));

    private protected override ValueTask<DbTransaction> BeginReadAsync(DbConnection connection, CancellationToken cancellationToken) =>
        ValueTask.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: true));

    private protected override string Explain(Exception exception) => exception is not SqliteException e ? ""
        : (e.SqliteErrorCode & 0xFF) == SqliteFull
            ? $" (no space left on the disk holding {System.IO.Path.GetDirectoryName(Path)}: everything committed before is kept; free some space and run again)"
        : (e.SqliteErrorCode & 0xFF) is SqliteCantOpen or SqliteReadOnly && !IsReadOnly && _immutable
            ? $" (its directory {System.IO.Path.GetDirectoryName(Path)} cannot be written: SQLite keeps its -wal and -shm files beside it; report, best and status can still read it)"
        : "";

    private protected override bool IsTransient(Exception exception) =>
        exception is SqliteException e && (e.SqliteErrorCode & 0xFF) is SqliteBusy or SqliteLocked;

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        _disposed = true;
        while (_idle.TryTake(out var session)) await session.DisposeAsync().ConfigureAwait(false);
        _initGate.Dispose();
    }
}
