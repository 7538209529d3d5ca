using System.Data;
using System.Data.Common;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Tunesmith.Storage.Sql;

/// <summary>Settings of a <see cref="PostgresStudyStorage"/> beyond its URL.</summary>
public sealed record PostgresStorageOptions
{
    /// <summary>
    /// How long an operation keeps retrying a transient fault (a dropped connection, a server restarting, a serialization
    /// failure) before the error reaches the caller. Default 60 s: long enough to ride out a server restart or a failover.
    /// </summary>
    public TimeSpan RetryWindow { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Most connections this process keeps open to the server (Npgsql's pool). Default 20; the URL's <c>pool_max_size</c> wins.</summary>
    public int MaxPoolSize { get; init; } = 20;

    /// <summary>
    /// Read only (a dashboard or a report beside running workers): every transaction is read-only on the server
    /// (<c>default_transaction_read_only</c>), nothing is created or migrated, and every write fails. Default false.
    /// </summary>
    public bool ReadOnly { get; init; }

    /// <summary>
    /// Open only a database that already holds Tunesmith's tables (for commands that need an existing study: a worker,
    /// enqueue, delete): in one without them nothing is created and the first operation fails with a one-line
    /// <see cref="StudyStorageException"/> whose <see cref="StudyStorageException.HoldsNoStudies"/> is set, so a mistyped
    /// database or schema that exists does not get Tunesmith's tables. An older schema of Tunesmith's is still upgraded.
    /// Default false: the first open creates the tables. (<see cref="ReadOnly"/> creates nothing either.)
    /// </summary>
    public bool ExistingOnly { get; init; }

    /// <summary>Checks the options; throws <see cref="ArgumentOutOfRangeException"/> naming the property.</summary>
    public void Validate()
    {
        if (RetryWindow < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(RetryWindow), RetryWindow, "must not be negative");
        if (MaxPoolSize < 1) throw new ArgumentOutOfRangeException(nameof(MaxPoolSize), MaxPoolSize, "must be at least 1");
    }
}

/// <summary>
/// Studies in a PostgreSQL database (URL <c>postgresql://user:password@host:port/database</c>), shared by workers on many
/// machines. The schema is created or migrated on first use under an advisory lock (so any number of workers starting
/// together migrate once); starting a trial locks the study row (dense trial numbers, the study-wide budget) while
/// reports and finishes lock only their trial, and incremental reads follow transaction ids, so the workers of one study
/// do not queue on each other's commits; transient faults are retried with backoff for <see cref="PostgresStorageOptions.RetryWindow"/>.
/// </summary>
public sealed partial class PostgresStudyStorage : SqlStudyStorage
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly SemaphoreSlim _initGate = new(1, 1);
    private volatile bool _initialized;
    private readonly string _server;
    private readonly string? _searchPath;
    private readonly int _connectTimeout;
    private volatile bool _disposed;

    /// <summary>Opens the database a URL names; nothing is contacted until the first call.</summary>
    /// <param name="url">A <c>postgresql://</c> or <c>postgres://</c> URL with libpq parameters.</param>
    /// <param name="options">Retry window and pool size; defaults when null.</param>
    /// <param name="timeProvider">Clock for timestamps and heartbeats.</param>
    /// <param name="logger">Diagnostics (migrations, retried faults); the URL appears only with its password hidden.</param>
    /// <exception cref="ArgumentException">A malformed URL (one line, password hidden).</exception>
    public PostgresStudyStorage(string url, PostgresStorageOptions? options = null, TimeProvider? timeProvider = null, ILogger? logger = null)
        : this(PostgresUrl.Parse(url), PostgresUrl.Redact(url), options ?? new PostgresStorageOptions(), timeProvider, logger)
    {
    }

    private PostgresStudyStorage(NpgsqlConnectionStringBuilder builder, string redactedUrl, PostgresStorageOptions options, TimeProvider? timeProvider, ILogger? logger)
        : base(SqlDialect.PostgreSql, timeProvider, logger, RetriesFor(Validated(options).RetryWindow))
    {
        Url = redactedUrl;
        Options = options;
        _server = $"{builder.Host ?? "localhost"}:{builder.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
        _connectTimeout = builder.Timeout;
        _searchPath = builder.SearchPath;
        // The URL's pool_max_size, when given, wins over the options' default.
        if (!ExplicitlySet(builder, "Maximum Pool Size")) builder.MaxPoolSize = options.MaxPoolSize;
        // Npgsql prepares a statement on a pooled connection after its second use: the shared queries are few and hot.
        if (!ExplicitlySet(builder, "Max Auto Prepare")) builder.MaxAutoPrepare = 64;
        builder.AutoPrepareMinUsages = 2;
        // Tunesmith changes no session state (no SET, no temporary tables, no LISTEN), so a pooled connection needs no
        // DISCARD/RESET on return: that reset was a parsed statement on the server for every operation.
        builder.NoResetOnClose = true;
        // Never echo parameter values (they hold user data) in exceptions and logs.
        builder.IncludeErrorDetail = false;
        builder.LogParameters = false;
        if (string.IsNullOrEmpty(builder.ApplicationName)) builder.ApplicationName = "tunesmith";
        if (options.ReadOnly) builder.Options = string.IsNullOrEmpty(builder.Options)
            ? "-c default_transaction_read_only=on"
            : builder.Options + " -c default_transaction_read_only=on";
        _dataSource = new NpgsqlDataSourceBuilder(builder.ConnectionString).Build();
    }

    // ContainsKey answers for every known keyword; the connection string holds only the ones given.
    internal static bool ExplicitlySet(NpgsqlConnectionStringBuilder builder, string keyword) =>
        builder.ConnectionString.Contains(keyword + "=", StringComparison.OrdinalIgnoreCase);

    private static PostgresStorageOptions Validated(PostgresStorageOptions o) { o.Validate(); return o; }

    /// <summary>The storage URL with its password hidden.</summary>
    public string Url { get; }

    /// <summary>The options in force.</summary>
    public PostgresStorageOptions Options { get; }

    private protected override string Description => $"postgresql '{Url}'";

    /// <summary>
    /// Retry attempts whose backoff (10 ms doubling to at most 1 s, as in <see cref="SqlStudyStorage"/>) adds up to the window.
    /// </summary>
    private static int RetriesFor(TimeSpan window)
    {
        var attempts = 0;
        var total = TimeSpan.Zero;
        var delay = TimeSpan.FromMilliseconds(10);
        while (total < window)
        {
            total += delay;
            attempts++;
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(1).Ticks));
        }
        return Math.Max(attempts, 1);
    }

    /// <summary>
    /// Connects now and checks the schema (read-only, <see cref="PostgresStorageOptions.ExistingOnly"/>) or creates or
    /// upgrades it, as the first operation would; its connection goes back to the pool for the next operation. Throws the
    /// one-line <see cref="StudyStorageException"/> that operation would (unreachable server, no Tunesmith tables, ...).
    /// </summary>
    public async Task ConnectAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_initialized) await InitializeAsync(cancellationToken).ConfigureAwait(false);
    }

    private protected override async ValueTask<SqlSession> RentSessionAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_initialized) await InitializeAsync(cancellationToken).ConfigureAwait(false);
        return await OpenSessionAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<SqlSession> OpenSessionAsync(CancellationToken ct)
    {
        var connection = await _dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        return new SqlSession(connection, cacheCommands: false);
    }

    private protected override async ValueTask ReturnSessionAsync(SqlSession session, bool reusable)
    {
        // Closing gives the connection back to Npgsql's pool; a broken one is discarded there.
        if (!reusable && session.Connection is NpgsqlConnection { FullState: var s } && (s & ConnectionState.Broken) != 0)
            _dataSource.Clear();
        await session.DisposeAsync().ConfigureAwait(false);
    }

    private async Task InitializeAsync(CancellationToken ct)
    {
        await _initGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_initialized) return;
            await WithRetryAsync(async token =>
            {
                SqlSession opened;
                try { opened = await OpenSessionAsync(token).ConfigureAwait(false); }
                catch (Exception e) when ((e is NpgsqlException and not PostgresException || e is SocketException or TimeoutException) && !token.IsCancellationRequested)
                {
                    // The first connection is not retried through the retry window (that is for a server that restarts
                    // under a running study): a server that cannot be reached now is a mistake to report at once.
                    throw new StudyStorageException(
                        $"storage {Description}: cannot connect to {_server} (connect timeout {_connectTimeout} s): {Innermost(e)}", e);
                }
                await using var session = opened;
                if (Options.ReadOnly)
                {
                    try { await CheckSchemaReadableAsync(session, token).ConfigureAwait(false); }
                    catch (StudyStorageException e) when (e.HoldsNoStudies)
                    {
                        // A schema that does not exist is a mistake in the URL, said as a writing open says it, not an empty storage.
                        if (await NoSchemaSelectedAsync(session, token).ConfigureAwait(false)) throw NoSchema(e);
                        throw;
                    }
                    return true;
                }
                try
                {
                    await MigrateAsync(session, token, Options.ExistingOnly).ConfigureAwait(false);
                    await CreateFunctionsAsync(session, token).ConfigureAwait(false);
                }
                catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InvalidSchemaName)
                {
                    // PostgreSQL's "no schema has been selected to create in" names neither the schema nor the cure.
                    throw NoSchema(e);
                }
                catch (StudyStorageException e) when (e.HoldsNoStudies)
                {
                    if (await NoSchemaSelectedAsync(session, token).ConfigureAwait(false)) throw NoSchema(e);
                    throw;
                }
                return true;
            }, ct).ConfigureAwait(false);
            _initialized = true;
        }
        finally { _initGate.Release(); }
    }

    // No schema of the search path exists (current_schema() is null): the one-line error every open gives for it.
    private StudyStorageException NoSchema(Exception inner) => new($"storage {Description}: " + (string.IsNullOrEmpty(_searchPath)
        ? "the search path names no schema that exists, so Tunesmith's tables have nowhere to go: create one, or name one with ?search_path=SCHEMA"
        : $"schema '{_searchPath}' (search_path) does not exist: create it first (CREATE SCHEMA ...), or leave search_path out"), inner);

    private static async Task<bool> NoSchemaSelectedAsync(SqlSession session, CancellationToken ct) =>
        await session.Command("SELECT current_schema()").ExecuteScalarAsync(ct).ConfigureAwait(false) is null or DBNull;

    private protected override async ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        // READ COMMITTED: each write locks its study row first, so its reads after the lock see the latest commits.
        await ((NpgsqlConnection)connection).BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken).ConfigureAwait(false);

    private protected override async ValueTask<DbTransaction> BeginReadAsync(DbConnection connection, CancellationToken cancellationToken) =>
        // One snapshot across the several SELECTs of a read, so a trial and its params, and the cursor, agree.
        await ((NpgsqlConnection)connection).BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken).ConfigureAwait(false);

    private static string Innermost(Exception e)
    {
        while (e.InnerException is { } inner && e is not PostgresException) e = inner;
        return e.Message.Split('\n', 2)[0].Trim();
    }

    private protected override bool IsTransient(Exception exception)
    {
        switch (exception)
        {
            case PostgresException pg:
                // Npgsql's list (serialization failure, deadlock, too many connections, ...) plus the connection class
                // and the shutdown codes a restarting server sends.
                return pg.IsTransient || pg.SqlState.StartsWith("08", StringComparison.Ordinal)
                    || pg.SqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow;
            case NpgsqlException npg:
                return npg.IsTransient || npg.InnerException is IOException or SocketException or TimeoutException;
            case IOException or SocketException:
                return true;
            default:
                return false;
        }
    }

    /// <inheritdoc />
    public override async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        await _dataSource.DisposeAsync().ConfigureAwait(false);
        _initGate.Dispose();
    }
}
