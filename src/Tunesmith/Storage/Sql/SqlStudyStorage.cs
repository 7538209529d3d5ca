using System.Collections.Concurrent;
using System.Data.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.Retry;
using Tunesmith.Spaces;
using static Tunesmith.Storage.Sql.SqlCommandExtensions;

namespace Tunesmith.Storage.Sql;

/// <summary>
/// The storage contract over a SQL database: one schema (<see cref="SqlSchema"/>) and one set of queries shared by
/// every SQL storage, each operation one transaction, retried with backoff when the database reports a transient
/// fault (busy, locked, a dropped connection). A database-specific storage (<see cref="SqliteStudyStorage"/>, later
/// PostgreSQL) supplies connections, transactions and the classification of transient faults.
/// </summary>
public abstract class SqlStudyStorage : IStudyStorage
{
    private const int DistributionCacheLimit = 10_000;

    private readonly ResiliencePipeline _retry;
    private readonly Lazy<TransientFaultLog> _faults; // Description is abstract: read once the subclass is constructed
    private readonly ConcurrentDictionary<string, Distribution> _distributions = new(StringComparer.Ordinal);
    private readonly TrialQueries _byId;
    private readonly TrialQueries _since;

    private protected SqlStudyStorage(SqlDialect dialect, TimeProvider? timeProvider, ILogger? logger, int maxRetries)
    {
        Dialect = dialect;
        Time = timeProvider ?? TimeProvider.System;
        Logger = logger ?? NullLogger.Instance;
        _byId = new TrialQueries("t.id = @a");
        _since = new TrialQueries("t.study_id = @a AND t.version > @b");
        // The waits between attempts run on the injected clock (a test can drive them). The log names the storage by its
        // redacted URL and the fault by its first line (never a password or a parameter value), a few lines per outage.
        _faults = new Lazy<TransientFaultLog>(() => new TransientFaultLog(Description, Time, Logger));
        _retry = new ResiliencePipelineBuilder { TimeProvider = Time }.AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<Exception>(IsTransient),
            MaxRetryAttempts = maxRetries,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = TimeSpan.FromMilliseconds(10),
            MaxDelay = TimeSpan.FromSeconds(1),
            OnRetry = args =>
            {
                _faults.Value.Retried(args.Outcome.Exception is { } e ? FirstLine(e.Message) : "no exception", args.AttemptNumber + 1, maxRetries, args.RetryDelay);
                return default;
            },
        }).Build();
    }

    private protected SqlDialect Dialect { get; }
    private protected TimeProvider Time { get; }
    private protected ILogger Logger { get; }

    /// <summary>How the storage is named in messages (its URL without secrets).</summary>
    private protected abstract string Description { get; }

    /// <summary>An open session, the schema already migrated.</summary>
    private protected abstract ValueTask<SqlSession> RentSessionAsync(CancellationToken cancellationToken);

    /// <summary>Gives a session back: to a pool when <paramref name="reusable"/>, else closes it.</summary>
    private protected abstract ValueTask ReturnSessionAsync(SqlSession session, bool reusable);

    /// <summary>Begins a transaction that writes: it must exclude other writers of the rows it reads before writing.</summary>
    private protected abstract ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Begins a transaction that only reads, seeing one consistent snapshot.</summary>
    private protected abstract ValueTask<DbTransaction> BeginReadAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Runs after each committed write transaction, outside any transaction (SQLite: periodic WAL checkpoints).</summary>
    private protected virtual ValueTask AfterWriteAsync(SqlSession session, CancellationToken cancellationToken) => default;

    /// <summary>True for a fault worth retrying (busy, locked, serialization failure, connection lost).</summary>
    private protected abstract bool IsTransient(Exception exception);

    /// <summary>Runs <paramref name="work"/> with the retry policy, turning a database fault into a one-line <see cref="StudyStorageException"/>.</summary>
    private protected async Task<T> WithRetryAsync<T>(Func<CancellationToken, ValueTask<T>> work, CancellationToken cancellationToken)
    {
        try
        {
            var result = await _retry.ExecuteAsync(work, cancellationToken).ConfigureAwait(false);
            if (_faults.IsValueCreated) _faults.Value.Succeeded();
            return result;
        }
        catch (Exception e) when (e is DbException || IsTransient(e))
        {
            throw new StudyStorageException($"storage {Description}: {FirstLine(e.Message)}{Explain(e)}", e);
        }
    }

    /// <summary>What a fault means for the user, appended to its one line (e.g. a full disk); empty when its message says it all.</summary>
    private protected virtual string Explain(Exception exception) => "";

    private static string FirstLine(string s) => s.Split('\n', 2)[0].Trim();

    private Task<T> WriteAsync<T>(Func<SqlSession, CancellationToken, Task<T>> body, CancellationToken ct) =>
        WithRetryAsync(token => RunOnceAsync(write: true, body, token), ct);

    private Task<T> ReadAsync<T>(Func<SqlSession, CancellationToken, Task<T>> body, CancellationToken ct) =>
        WithRetryAsync(token => RunOnceAsync(write: false, body, token), ct);

    private async ValueTask<T> RunOnceAsync<T>(bool write, Func<SqlSession, CancellationToken, Task<T>> body, CancellationToken ct)
    {
        var session = await RentSessionAsync(ct).ConfigureAwait(false);
        var reusable = false;
        try
        {
            session.Transaction = write
                ? await BeginWriteAsync(session.Connection, ct).ConfigureAwait(false)
                : await BeginReadAsync(session.Connection, ct).ConfigureAwait(false);
            var result = await body(session, ct).ConfigureAwait(false);
            await session.Transaction.CommitAsync(ct).ConfigureAwait(false);
            await session.Transaction.DisposeAsync().ConfigureAwait(false);
            session.Transaction = null;
            reusable = true;
            if (write) await AfterWriteAsync(session, ct).ConfigureAwait(false);
            return result;
        }
        finally
        {
            if (session.Transaction is { } tx)
            {
                session.Transaction = null;
                if (!reusable)
                {
                    try
                    {
                        await tx.RollbackAsync(CancellationToken.None).ConfigureAwait(false);
                        reusable = true; // a clean rollback leaves the connection fit for the next unit of work
                    }
                    catch (Exception e) when (e is DbException or InvalidOperationException) { }
                }
                await tx.DisposeAsync().ConfigureAwait(false);
            }
            await ReturnSessionAsync(session, reusable).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// For a read-only storage: checks that the schema is <see cref="SqlSchema.Latest"/> without writing anything, and
    /// throws a one-line <see cref="StudyStorageException"/> when the database holds no (or another) Tunesmith schema.
    /// </summary>
    private protected async Task CheckSchemaReadableAsync(SqlSession session, CancellationToken ct)
    {
        long current = 0;
        try
        {
            var stored = await session.Command("SELECT MAX(version) FROM schema_version").ExecuteScalarAsync(ct).ConfigureAwait(false);
            current = stored is null or DBNull ? 0 : Convert.ToInt64(stored, System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (DbException e) when (!IsTransient(e)) { }
        if (current == 0)
            throw new StudyStorageException($"storage {Description}: holds no Tunesmith studies (no schema), and a read-only open creates none") { HoldsNoStudies = true };
        if (current != SqlSchema.Latest)
            throw new StudyStorageException($"storage {Description}: schema version {current}, this Tunesmith reads version {SqlSchema.Latest} (run a worker on it once to migrate)") { OtherSchemaVersion = true };
    }

    /// <summary>
    /// Brings the schema to <see cref="SqlSchema.Latest"/>. A current schema is only read (no write lock: an opener must not
    /// queue behind busy writers just to learn that there is nothing to do); otherwise one write transaction creates or
    /// upgrades it, and concurrent openers queue on it and migrate once.
    /// </summary>
    /// <param name="session">An open session outside any transaction.</param>
    /// <param name="ct">Cancels the migration.</param>
    /// <param name="existingOnly">
    /// Create nothing in a database without Tunesmith's tables: throw a one-line <see cref="StudyStorageException"/> with
    /// <see cref="StudyStorageException.HoldsNoStudies"/> instead (an older schema of Tunesmith's is still upgraded).
    /// </param>
    private protected async Task MigrateAsync(SqlSession session, CancellationToken ct, bool existingOnly = false)
    {
        long? current = null;
        try
        {
            var stored = await session.Command("SELECT MAX(version) FROM schema_version").ExecuteScalarAsync(ct).ConfigureAwait(false);
            current = stored is null or DBNull ? 0 : Convert.ToInt64(stored, System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (DbException e) when (!IsTransient(e)) { } // no version table yet: a fresh database
        if (current > SqlSchema.Latest)
            throw new StudyStorageException($"storage {Description}: schema version {current} was written by a newer Tunesmith (this one knows up to {SqlSchema.Latest})");
        if (current == SqlSchema.Latest) return;
        if (existingOnly && current is null or 0)
            throw new StudyStorageException($"storage {Description}: holds no Tunesmith studies (no Tunesmith tables), and this open creates none") { HoldsNoStudies = true };

        session.Transaction = await BeginWriteAsync(session.Connection, ct).ConfigureAwait(false);
        try
        {
            if (Dialect.MigrationLock is { } lockSql) await session.Command(lockSql).ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            await session.Command(SqlSchema.CreateVersionTable).ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            var stored = await session.Command("SELECT MAX(version) FROM schema_version").ExecuteScalarAsync(ct).ConfigureAwait(false);
            var version = stored is null or DBNull ? 0 : Convert.ToInt32(stored, System.Globalization.CultureInfo.InvariantCulture);
            if (version > SqlSchema.Latest)
                throw new StudyStorageException($"storage {Description}: schema version {version} was written by a newer Tunesmith (this one knows up to {SqlSchema.Latest})");
            for (var v = version + 1; v <= SqlSchema.Latest; v++)
            {
                foreach (var statement in SqlSchema.Migration(v, Dialect))
                    await session.Command(statement).ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                await session.Command("INSERT INTO schema_version (version) VALUES (@v)").Bind("@v", (long)v).ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                Logger.LogInformation("{Storage}: schema migrated to version {Version}", Description, v);
            }
            await session.Transaction.CommitAsync(ct).ConfigureAwait(false);
        }
        catch
        {
            try { await session.Transaction.RollbackAsync(CancellationToken.None).ConfigureAwait(false); }
            catch (Exception e) when (e is DbException or InvalidOperationException) { }
            throw;
        }
        finally
        {
            await session.Transaction.DisposeAsync().ConfigureAwait(false);
            session.Transaction = null;
        }
    }

    // ---------------------------------------------------------------- studies

    private static string DirectionText(Direction d) => d == Direction.Maximize ? "maximize" : "minimize";
    private static Direction ParseDirection(string s) => s == "maximize" ? Direction.Maximize : Direction.Minimize;

    private static readonly string[] StateNames = ["waiting", "running", "complete", "pruned", "failed", "paused"];
    private protected static string StateText(TrialState s) => StateNames[(int)s];
    private protected static TrialState ParseState(string s) => s switch
    {
        "waiting" => TrialState.Waiting,
        "running" => TrialState.Running,
        "complete" => TrialState.Complete,
        "pruned" => TrialState.Pruned,
        "failed" => TrialState.Failed,
        "paused" => TrialState.Paused,
        _ => throw new FormatException($"unknown trial state '{s}' in storage"),
    };

    /// <inheritdoc />
    public Task<StudyRecord> CreateStudyAsync(string name, Direction direction, CancellationToken cancellationToken = default) =>
        WriteAsync(async (s, ct) =>
        {
            var now = ToMicros(Time.GetUtcNow());
            var id = await s.Command("INSERT INTO studies (name, direction, created_at) VALUES (@name, @dir, @now) ON CONFLICT (name) DO NOTHING RETURNING id")
                .Bind("@name", name).Bind("@dir", DirectionText(direction)).Bind("@now", now).ExecuteScalarAsync(ct).ConfigureAwait(false);
            if (id is null or DBNull) throw new StudyExistsException(name);
            return new StudyRecord(Convert.ToInt64(id, System.Globalization.CultureInfo.InvariantCulture), name, direction, FromMicros(now),
                new Dictionary<string, object?>(), new Dictionary<string, object?>());
        }, cancellationToken);

    /// <inheritdoc />
    public Task<StudyRecord?> GetStudyAsync(string name, CancellationToken cancellationToken = default) =>
        ReadAsync(async (s, ct) =>
        {
            var studies = await ReadStudiesAsync(s, byName: name, ct).ConfigureAwait(false);
            return studies.Count == 0 ? null : studies[0];
        }, cancellationToken);

    private async Task<List<StudyRecord>> ReadStudiesAsync(SqlSession s, string? byName, CancellationToken ct)
    {
        var rows = new List<(long Id, string Name, Direction Direction, DateTimeOffset Created)>();
        var cmd = byName is null
            ? s.Command("SELECT id, name, direction, created_at FROM studies ORDER BY id")
            : s.Command("SELECT id, name, direction, created_at FROM studies WHERE name = @name").Bind("@name", byName);
        await using (var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
            while (await r.ReadAsync(ct).ConfigureAwait(false))
                rows.Add((r.GetInt64(0), r.GetString(1), ParseDirection(r.GetString(2)), FromMicros(r.GetInt64(3))));
        if (rows.Count == 0) return [];

        var attrs = new Dictionary<(long, bool), Dictionary<string, object?>>();
        var attrCmd = byName is null
            ? s.Command("SELECT study_id, system, key, value_json FROM study_attributes ORDER BY study_id, key")
            : s.Command("SELECT study_id, system, key, value_json FROM study_attributes WHERE study_id = @s ORDER BY key").Bind("@s", rows[0].Id);
        await using (var r = await attrCmd.ExecuteReaderAsync(ct).ConfigureAwait(false))
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                var key = (r.GetInt64(0), r.GetInt64(1) != 0);
                if (!attrs.TryGetValue(key, out var d)) attrs[key] = d = new Dictionary<string, object?>(StringComparer.Ordinal);
                d[r.GetString(2)] = SqlValueJson.Read(r.GetString(3));
            }
        return rows.Select(row => new StudyRecord(row.Id, row.Name, row.Direction, row.Created,
            attrs.GetValueOrDefault((row.Id, false)) ?? new Dictionary<string, object?>(),
            attrs.GetValueOrDefault((row.Id, true)) ?? new Dictionary<string, object?>())).ToList();
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<StudySummary>> ListStudiesAsync(CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<StudySummary>>(async (s, ct) =>
        {
            var studies = await ReadStudiesAsync(s, byName: null, ct).ConfigureAwait(false);
            var counts = new Dictionary<long, Dictionary<TrialState, int>>();
            await using (var r = await s.Command("SELECT study_id, state, COUNT(*) FROM trials GROUP BY study_id, state").ExecuteReaderAsync(ct).ConfigureAwait(false))
                while (await r.ReadAsync(ct).ConfigureAwait(false))
                {
                    if (!counts.TryGetValue(r.GetInt64(0), out var d)) counts[r.GetInt64(0)] = d = [];
                    d[ParseState(r.GetString(1))] = (int)r.GetInt64(2);
                }
            var best = new Dictionary<long, (double Min, double Max)>();
            await using (var r = await s.Command("SELECT study_id, MIN(value), MAX(value) FROM trials WHERE state = 'complete' AND value IS NOT NULL GROUP BY study_id")
                .ExecuteReaderAsync(ct).ConfigureAwait(false))
                while (await r.ReadAsync(ct).ConfigureAwait(false))
                    best[r.GetInt64(0)] = (r.GetDouble(1), r.GetDouble(2));
            return studies.Select(st => new StudySummary(st,
                counts.GetValueOrDefault(st.Id) ?? new Dictionary<TrialState, int>(),
                best.TryGetValue(st.Id, out var b) ? st.Direction == Direction.Minimize ? b.Min : b.Max : null)).ToList();
        }, cancellationToken);

    /// <inheritdoc />
    public Task<bool> DeleteStudyAsync(string name, CancellationToken cancellationToken = default) =>
        WriteAsync(async (s, ct) =>
        {
            var id = await s.Command($"SELECT id FROM studies WHERE name = @name{Dialect.LockRow}").Bind("@name", name).ExecuteScalarAsync(ct).ConfigureAwait(false);
            if (id is null or DBNull) return false;
            foreach (var sql in DeleteStudySql)
                await s.Command(sql).Bind("@s", id).ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    private static readonly string[] DeleteStudySql =
    [
        "DELETE FROM trial_params WHERE trial_id IN (SELECT id FROM trials WHERE study_id = @s)",
        "DELETE FROM trial_intermediate WHERE trial_id IN (SELECT id FROM trials WHERE study_id = @s)",
        "DELETE FROM trial_attributes WHERE trial_id IN (SELECT id FROM trials WHERE study_id = @s)",
        "DELETE FROM trial_metrics WHERE trial_id IN (SELECT id FROM trials WHERE study_id = @s)",
        "DELETE FROM trial_step_metrics WHERE trial_id IN (SELECT id FROM trials WHERE study_id = @s)",
        "DELETE FROM trials WHERE study_id = @s",
        "DELETE FROM study_attributes WHERE study_id = @s",
        "DELETE FROM study_enqueue_keys WHERE study_id = @s",
        "DELETE FROM studies WHERE id = @s",
    ];

    /// <summary>Reads (and in a write transaction, locks) the study's counters; throws when there is no such study.</summary>
    private async Task<(long NextNumber, long BudgetCount, long ChangeSeq)> StudyCountersAsync(SqlSession s, long studyId, CancellationToken ct)
    {
        await using var r = await s.Command($"SELECT next_number, budget_count, change_seq FROM studies WHERE id = @s{Dialect.LockRow}")
            .Bind("@s", studyId).ExecuteReaderAsync(ct).ConfigureAwait(false);
        if (!await r.ReadAsync(ct).ConfigureAwait(false)) throw new StudyNotFoundException($"#{studyId}");
        return (r.GetInt64(0), r.GetInt64(1), r.GetInt64(2));
    }

    /// <summary>
    /// Locks the study row of a trial (where the dialect locks rows) and returns the study's id, or null for no such trial.
    /// Every write transaction locks its study before its trials, so that writers on a row-locking database cannot deadlock.
    /// </summary>
    private async Task<long?> LockStudyOfTrialAsync(SqlSession s, long trialId, CancellationToken ct)
    {
        var id = await s.Command($"SELECT id FROM studies WHERE id = (SELECT study_id FROM trials WHERE id = @t){Dialect.LockRow}")
            .Bind("@t", trialId).ExecuteScalarAsync(ct).ConfigureAwait(false);
        return id is null or DBNull ? null : Convert.ToInt64(id, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Advances the study's counters; returns their new values (the first new number is <c>NextNumber - trials</c>).</summary>
    private static async Task<(long NextNumber, long ChangeSeq)> AdvanceStudyAsync(SqlSession s, long studyId, long trials, long budget, long changes, CancellationToken ct)
    {
        await using var r = await s.Command("UPDATE studies SET next_number = next_number + @n, budget_count = budget_count + @b, change_seq = change_seq + @c WHERE id = @s RETURNING next_number, change_seq")
            .Bind("@n", trials).Bind("@b", budget).Bind("@c", changes).Bind("@s", studyId).ExecuteReaderAsync(ct).ConfigureAwait(false);
        if (!await r.ReadAsync(ct).ConfigureAwait(false)) throw new StudyNotFoundException($"#{studyId}");
        return (r.GetInt64(0), r.GetInt64(1));
    }

    private const string UpsertStudyAttributeSql =
        "INSERT INTO study_attributes (study_id, system, key, value_json) VALUES (@s, @sys, @k, @v) ON CONFLICT (study_id, system, key) DO UPDATE SET value_json = excluded.value_json";

    /// <inheritdoc />
    public Task SetStudyAttributesAsync(long studyId, bool system, IReadOnlyList<KeyValuePair<string, object?>> attributes, CancellationToken cancellationToken = default) =>
        WriteAsync(async (s, ct) =>
        {
            await StudyCountersAsync(s, studyId, ct).ConfigureAwait(false);
            foreach (var (k, v) in attributes)
                await s.Command(UpsertStudyAttributeSql).Bind("@s", studyId).Bind("@sys", system ? 1L : 0L).Bind("@k", k).Bind("@v", SqlValueJson.Write(v))
                    .ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<object?> SetStudySystemAttributeIfAbsentAsync(long studyId, string key, object? value, CancellationToken cancellationToken = default) =>
        WriteAsync(async (s, ct) =>
        {
            await StudyCountersAsync(s, studyId, ct).ConfigureAwait(false);
            await s.Command("INSERT INTO study_attributes (study_id, system, key, value_json) VALUES (@s, 1, @k, @v) ON CONFLICT (study_id, system, key) DO NOTHING")
                .Bind("@s", studyId).Bind("@k", key).Bind("@v", SqlValueJson.Write(value)).ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            var stored = await s.Command("SELECT value_json FROM study_attributes WHERE study_id = @s AND system = 1 AND key = @k")
                .Bind("@s", studyId).Bind("@k", key).ExecuteScalarAsync(ct).ConfigureAwait(false);
            return SqlValueJson.Read((string)stored!);
        }, cancellationToken);

    // ---------------------------------------------------------------- enqueue / start

    private const string InsertTrialSql =
        "INSERT INTO trials (study_id, number, state, worker, created_at, started_at, heartbeat_at, version) VALUES (@s, @n, @state, @w, @created, @started, @started, @v) RETURNING id, version";
    private const string UpsertParamSql =
        "INSERT INTO trial_params (trial_id, name, value_json, distribution_json) VALUES (@t, @n, @v, @d) " +
        "ON CONFLICT (trial_id, name) DO UPDATE SET value_json = excluded.value_json, distribution_json = COALESCE(excluded.distribution_json, trial_params.distribution_json)";
    private const string UpsertTrialAttributeSql =
        "INSERT INTO trial_attributes (trial_id, system, key, value_json) VALUES (@t, @sys, @k, @v) ON CONFLICT (trial_id, system, key) DO UPDATE SET value_json = excluded.value_json";
    private const string UpsertIntermediateSql =
        "INSERT INTO trial_intermediate (trial_id, step, value) VALUES (@t, @k, @v) ON CONFLICT (trial_id, step) DO UPDATE SET value = excluded.value";
    private const string UpsertMetricSql =
        "INSERT INTO trial_metrics (trial_id, name, value) VALUES (@t, @k, @v) ON CONFLICT (trial_id, name) DO UPDATE SET value = excluded.value";

    // At most this many rows per statement (4 parameters each), well under SQLite's limit of 32,766 parameters.
    private const int StepMetricRowsPerStatement = 100;
    private static readonly string[] UpsertStepMetricsSql = Enumerable.Range(0, StepMetricRowsPerStatement + 1).Select(n => n == 0 ? "" :
        "INSERT INTO trial_step_metrics (trial_id, step, name, value) VALUES "
        + string.Join(", ", Enumerable.Range(0, n).Select(i => $"(@t, @k{i}, @n{i}, @v{i})"))
        + " ON CONFLICT (trial_id, name, step) DO UPDATE SET value = excluded.value").ToArray();

    /// <summary>
    /// Upserts intermediate metrics in one statement per 100 rows (a report's few metrics: one), not one per metric. A
    /// (step, name) given twice keeps its last value, as row-by-row upserts would (PostgreSQL refuses a statement that
    /// touches a row twice).
    /// </summary>
    private static async Task UpsertIntermediateMetricsAsync(SqlSession s, long trialId, IEnumerable<(long Step, string Name, double Value)> values, CancellationToken ct)
    {
        var rows = new List<(long Step, string Name, double Value)>();
        var index = new Dictionary<(long, string), int>();
        foreach (var v in values)
            if (index.TryGetValue((v.Step, v.Name), out var i)) rows[i] = v;
            else
            {
                index[(v.Step, v.Name)] = rows.Count;
                rows.Add(v);
            }
        for (var start = 0; start < rows.Count; start += StepMetricRowsPerStatement)
        {
            var n = Math.Min(StepMetricRowsPerStatement, rows.Count - start);
            var command = s.Command(UpsertStepMetricsSql[n]).Bind("@t", trialId);
            for (var i = 0; i < n; i++)
            {
                var (step, name, value) = rows[start + i];
                command.Bind(ParameterNames.Step[i], step).Bind(ParameterNames.Name[i], name).Bind(ParameterNames.Value[i], NaNAsNull(value));
            }
            await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
    }

    private static class ParameterNames
    {
        public static readonly string[] Step = Names("@k");
        public static readonly string[] Name = Names("@n");
        public static readonly string[] Value = Names("@v");
        private static string[] Names(string prefix) =>
            Enumerable.Range(0, StepMetricRowsPerStatement).Select(i => prefix + i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    /// <summary>Inserts a trial row; returns its id and its version as stored (a database may stamp its own, see <see cref="SqlSchema"/>).</summary>
    private static async Task<(long Id, long Version)> InsertTrialAsync(SqlSession s, long studyId, long number, TrialState state, string? worker, long created, long? started, long version, CancellationToken ct)
    {
        await using var r = await s.Command(InsertTrialSql).Bind("@s", studyId).Bind("@n", number).Bind("@state", StateText(state)).Bind("@w", worker)
            .Bind("@created", created).Bind("@started", started).Bind("@v", version).ExecuteReaderAsync(ct).ConfigureAwait(false);
        await r.ReadAsync(ct).ConfigureAwait(false);
        return (r.GetInt64(0), r.GetInt64(1));
    }

    private static async Task InsertAttributeAsync(SqlSession s, long trialId, bool system, string key, object? value, CancellationToken ct) =>
        await s.Command(UpsertTrialAttributeSql).Bind("@t", trialId).Bind("@sys", system ? 1L : 0L).Bind("@k", key).Bind("@v", SqlValueJson.Write(value))
            .ExecuteNonQueryAsync(ct).ConfigureAwait(false);

    /// <summary>Inserts a Waiting trial (number and version already allotted) and returns it as stored.</summary>
    private async Task<FrozenTrial> InsertWaitingAsync(SqlSession s, long studyId, long number, long version, long now,
        IReadOnlyDictionary<string, object?> fixedParams, IReadOnlyDictionary<string, object?>? systemAttributes, CancellationToken ct)
    {
        (var id, version) = await InsertTrialAsync(s, studyId, number, TrialState.Waiting, null, now, null, version, ct).ConfigureAwait(false);
        var ps = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (k, v) in fixedParams)
        {
            var value = ParamValues.Normalize(v);
            ps[k] = value;
            await s.Command(UpsertParamSql).Bind("@t", id).Bind("@n", k).Bind("@v", SqlValueJson.Write(value)).Bind("@d", null).ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }
        var attrs = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (systemAttributes is not null)
            foreach (var (k, v) in systemAttributes)
            {
                attrs[k] = ParamValues.Normalize(v);
                await InsertAttributeAsync(s, id, system: true, k, v, ct).ConfigureAwait(false);
            }
        return new FrozenTrial
        {
            Id = id, Number = checked((int)number), State = TrialState.Waiting, Params = ps, SystemAttributes = attrs,
            Created = FromMicros(now), Version = version,
        };
    }

    /// <inheritdoc />
    public Task<FrozenTrial> EnqueueTrialAsync(long studyId, IReadOnlyDictionary<string, object?> fixedParams,
        IReadOnlyDictionary<string, object?>? systemAttributes = null, CancellationToken cancellationToken = default) =>
        WriteAsync(async (s, ct) =>
        {
            var (next, seq) = await AdvanceStudyAsync(s, studyId, trials: 1, budget: 0, changes: 1, ct).ConfigureAwait(false);
            return await InsertWaitingAsync(s, studyId, next - 1, seq, ToMicros(Time.GetUtcNow()), fixedParams, systemAttributes, ct).ConfigureAwait(false);
        }, cancellationToken);

    /// <inheritdoc />
    public Task<bool> EnqueueTrialsOnceAsync(long studyId, string key, IReadOnlyList<IReadOnlyDictionary<string, object?>> fixedParams, CancellationToken cancellationToken = default) =>
        WriteAsync(async (s, ct) =>
        {
            await StudyCountersAsync(s, studyId, ct).ConfigureAwait(false);
            var inserted = await s.Command("INSERT INTO study_enqueue_keys (study_id, key) VALUES (@s, @k) ON CONFLICT (study_id, key) DO NOTHING")
                .Bind("@s", studyId).Bind("@k", key).ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            if (inserted == 0) return false;
            if (fixedParams.Count == 0) return true;
            var (next, seq) = await AdvanceStudyAsync(s, studyId, fixedParams.Count, budget: 0, fixedParams.Count, ct).ConfigureAwait(false);
            var now = ToMicros(Time.GetUtcNow());
            for (var i = 0; i < fixedParams.Count; i++)
                await InsertWaitingAsync(s, studyId, next - fixedParams.Count + i, seq - fixedParams.Count + 1 + i, now, fixedParams[i], null, ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    /// <inheritdoc />
    /// <remarks>
    /// One write transaction that first locks the study row (PostgreSQL: <c>FOR UPDATE</c>, as every writer of the study
    /// does; SQLite: the <c>BEGIN IMMEDIATE</c> write lock), so a concurrent caller waits and then sees these trials. It
    /// reads only what the check needs: each trial's own columns, its params and its <c>fixed_params</c>.
    /// </remarks>
    public Task<IReadOnlyList<EnqueueIfNewResult>> EnqueueTrialsIfNewAsync(long studyId, IReadOnlyList<IReadOnlyDictionary<string, object?>> combinations,
        bool failedHolds = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(combinations);
        return WriteAsync<IReadOnlyList<EnqueueIfNewResult>>(async (s, ct) =>
        {
            await StudyCountersAsync(s, studyId, ct).ConfigureAwait(false);
            var now = ToMicros(Time.GetUtcNow());
            return await EnqueueIfNew.RunAsync(await ReadHeldTrialsAsync(s, studyId, ct).ConfigureAwait(false), combinations, failedHolds, async combination =>
            {
                var (next, seq) = await AdvanceStudyAsync(s, studyId, trials: 1, budget: 0, changes: 1, ct).ConfigureAwait(false);
                return await InsertWaitingAsync(s, studyId, next - 1, seq, now, combination, null, ct).ConfigureAwait(false);
            }).ConfigureAwait(false);
        }, cancellationToken);
    }

    /// <summary>The study's trials with their own columns, params and <c>fixed_params</c> system attribute: what <see cref="HeldCombinations"/> reads.</summary>
    private async Task<List<FrozenTrial>> ReadHeldTrialsAsync(SqlSession s, long studyId, CancellationToken ct)
    {
        var trials = new Dictionary<long, FrozenTrial>();
        var order = new List<long>();
        await using (var r = await s.Command(_since.Trials).Bind("@a", studyId).Bind("@b", 0L).ExecuteReaderAsync(ct).ConfigureAwait(false))
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                var t = ReadTrialColumns(r, 0);
                trials[t.Id] = t;
                order.Add(t.Id);
            }
        if (order.Count == 0) return [];
        var ps = new Dictionary<long, Dictionary<string, object?>>();
        await using (var r = await s.Command("SELECT p.trial_id, p.name, p.value_json FROM trial_params p JOIN trials t ON t.id = p.trial_id WHERE t.study_id = @s")
            .Bind("@s", studyId).ExecuteReaderAsync(ct).ConfigureAwait(false))
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                if (!ps.TryGetValue(r.GetInt64(0), out var d)) ps[r.GetInt64(0)] = d = new Dictionary<string, object?>(StringComparer.Ordinal);
                d[r.GetString(1)] = SqlValueJson.Read(r.GetString(2));
            }
        var fixedParams = new Dictionary<long, object?>();
        await using (var r = await s.Command("SELECT a.trial_id, a.value_json FROM trial_attributes a JOIN trials t ON t.id = a.trial_id WHERE t.study_id = @s AND a.system = 1 AND a.key = @k")
            .Bind("@s", studyId).Bind("@k", SystemAttributeKeys.FixedParams).ExecuteReaderAsync(ct).ConfigureAwait(false))
            while (await r.ReadAsync(ct).ConfigureAwait(false))
                fixedParams[r.GetInt64(0)] = SqlValueJson.Read(r.GetString(1));
        return order.Select(id =>
        {
            var t = trials[id];
            if (ps.TryGetValue(id, out var p)) t = t with { Params = p };
            if (fixedParams.TryGetValue(id, out var f)) t = t with { SystemAttributes = new Dictionary<string, object?>(StringComparer.Ordinal) { [SystemAttributeKeys.FixedParams] = f } };
            return t;
        }).ToList();
    }

    /// <inheritdoc />
    public virtual Task<FrozenTrial?> StartTrialAsync(long studyId, string worker, int? maxTrials = null, bool waitingOnly = false, CancellationToken cancellationToken = default) =>
        WriteAsync((s, ct) => StartTrialAsync(s, studyId, worker, maxTrials, waitingOnly, ct), cancellationToken);

    /// <inheritdoc />
    /// <remarks>One transaction: the update, the changes (which then include it) and the start.</remarks>
    public virtual Task<(TrialWriteOutcome Outcome, FrozenTrial? Started, TrialChanges? Changes)> UpdateTrialAndStartNextAsync(long trialId, TrialUpdate update,
        long studyId, string worker, long? cursor, int? maxTrials = null, bool waitingOnly = false, CancellationToken cancellationToken = default)
    {
        var attempts = 0;
        return WriteAsync(async (s, ct) =>
        {
            var outcome = await UpdateTrialAsync(s, trialId, worker, update, ++attempts, ct).ConfigureAwait(false);
            var changes = cursor is { } c ? await ReadChangesAsync(s, studyId, c, ct).ConfigureAwait(false) : null;
            return (outcome, await StartTrialAsync(s, studyId, worker, maxTrials, waitingOnly, ct).ConfigureAwait(false), changes);
        }, cancellationToken);
    }

    private async Task<FrozenTrial?> StartTrialAsync(SqlSession s, long studyId, string worker, int? maxTrials, bool waitingOnly, CancellationToken ct)
    {
        var counters = await StudyCountersAsync(s, studyId, ct).ConfigureAwait(false);
        if (maxTrials is { } max && counters.BudgetCount >= max) return null;
        var now = ToMicros(Time.GetUtcNow());
        var waiting = await s.Command($"SELECT id FROM trials WHERE study_id = @s AND state = 'waiting' ORDER BY number LIMIT 1{Dialect.ClaimRow}")
            .Bind("@s", studyId).ExecuteScalarAsync(ct).ConfigureAwait(false);
        if (waiting is not null and not DBNull)
        {
            var id = Convert.ToInt64(waiting, System.Globalization.CultureInfo.InvariantCulture);
            var (_, seq) = await AdvanceStudyAsync(s, studyId, trials: 0, budget: 1, changes: 1, ct).ConfigureAwait(false);
            await s.Command("UPDATE trials SET state = 'running', worker = @w, started_at = @now, heartbeat_at = @now, version = @v WHERE id = @t")
                .Bind("@w", worker).Bind("@now", now).Bind("@v", Dialect.VersionToWrite(seq)).Bind("@t", id).ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            var claimed = await ReadTrialsAsync(s, _byId, id, 0, ct).ConfigureAwait(false);
            return claimed[0];
        }
        if (waitingOnly) return null;
        var (next, version) = await AdvanceStudyAsync(s, studyId, trials: 1, budget: 1, changes: 1, ct).ConfigureAwait(false);
        (var trialId, version) = await InsertTrialAsync(s, studyId, next - 1, TrialState.Running, worker, now, now, version, ct).ConfigureAwait(false);
        var at = FromMicros(now);
        return new FrozenTrial
        {
            Id = trialId, Number = checked((int)(next - 1)), State = TrialState.Running, Worker = worker,
            Created = at, Started = at, Heartbeat = at, Version = version,
        };
    }

    // ---------------------------------------------------------------- update

    /// <inheritdoc />
    public virtual Task<TrialWriteOutcome> UpdateTrialAsync(long trialId, string worker, TrialUpdate update, CancellationToken cancellationToken = default)
    {
        var attempts = 0;
        return WriteAsync((s, ct) => UpdateTrialAsync(s, trialId, worker, update, ++attempts, ct), cancellationToken);
    }

    /// <summary>The update in the session's transaction; <paramref name="attempts"/> counts the call's tries (see the ambiguous commit below).</summary>
    private async Task<TrialWriteOutcome> UpdateTrialAsync(SqlSession s, long trialId, string worker, TrialUpdate update, int attempts, CancellationToken ct)
    {
        if (await LockStudyOfTrialAsync(s, trialId, ct).ConfigureAwait(false) is not { } studyId) return TrialWriteOutcome.NotFound;
        string state;
        string? owner;
        double? stored;
        await using (var r = await s.Command("SELECT state, worker, value FROM trials WHERE id = @t").Bind("@t", trialId).ExecuteReaderAsync(ct).ConfigureAwait(false))
        {
            if (!await r.ReadAsync(ct).ConfigureAwait(false)) return TrialWriteOutcome.NotFound;
            state = r.GetString(0);
            owner = r.IsDBNull(1) ? null : r.GetString(1);
            stored = r.IsDBNull(2) ? null : r.GetDouble(2);
        }
        if (state != "running")
        {
            // A retried finish whose first attempt committed before its connection dropped (an ambiguous commit): the
            // trial is in exactly the state this call asked for, by this worker, so the write did apply — once.
            var finishedByThisCall = attempts > 1 && update.FinalState is { } asked && state == StateText(asked)
                && string.Equals(owner, worker, StringComparison.Ordinal)
                && Nullable.Equals(stored, update.Value is { } v && !double.IsNaN(v) ? v : null);
            return finishedByThisCall ? TrialWriteOutcome.Applied : TrialWriteOutcome.AlreadyFinished;
        }
        if (!string.Equals(owner, worker, StringComparison.Ordinal)) return TrialWriteOutcome.NotOwner;

        foreach (var name in update.RemovedParams)
            await s.Command("DELETE FROM trial_params WHERE trial_id = @t AND name = @n").Bind("@t", trialId).Bind("@n", name).ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        foreach (var (name, value, distribution) in update.Params)
            await s.Command(UpsertParamSql).Bind("@t", trialId).Bind("@n", name).Bind("@v", SqlValueJson.Write(value))
                .Bind("@d", distribution is null ? null : DistributionJson.Serialize(distribution)).ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        foreach (var (step, value) in update.Intermediate)
            await s.Command(UpsertIntermediateSql).Bind("@t", trialId).Bind("@k", step).Bind("@v", NaNAsNull(value)).ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        if (update.IntermediateMetrics.Count > 0) await UpsertIntermediateMetricsAsync(s, trialId, update.IntermediateMetrics, ct).ConfigureAwait(false);
        foreach (var (k, v) in update.UserAttributes) await InsertAttributeAsync(s, trialId, system: false, k, v, ct).ConfigureAwait(false);
        foreach (var (k, v) in update.SystemAttributes) await InsertAttributeAsync(s, trialId, system: true, k, v, ct).ConfigureAwait(false);
        foreach (var (k, v) in update.Metrics)
            await s.Command(UpsertMetricSql).Bind("@t", trialId).Bind("@k", k).Bind("@v", NaNAsNull(v)).ExecuteNonQueryAsync(ct).ConfigureAwait(false);

        var (_, seq) = await AdvanceStudyAsync(s, studyId, trials: 0, budget: 0, changes: 1, ct).ConfigureAwait(false);
        var now = ToMicros(Time.GetUtcNow());
        var finish = update.FinalState is { } final
            ? s.Command("UPDATE trials SET state = @state, value = @value, finished_at = @now, heartbeat_at = @now, version = @v WHERE id = @t")
                .Bind("@state", StateText(final)).Bind("@value", update.Value is { } finalValue ? NaNAsNull(finalValue) : null)
            : s.Command("UPDATE trials SET heartbeat_at = @now, version = @v WHERE id = @t");
        await finish.Bind("@now", now).Bind("@v", Dialect.VersionToWrite(seq)).Bind("@t", trialId).ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        return TrialWriteOutcome.Applied;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Locks the study row first, as every writer of its counters does: the budget count goes down by one in the same
    /// transaction. A retried call whose first attempt committed before its connection dropped finds the trial Waiting
    /// with no worker and reports it applied.
    /// </remarks>
    public Task<TrialWriteOutcome> ReleaseTrialAsync(long trialId, string worker, CancellationToken cancellationToken = default)
    {
        var attempts = 0;
        return WriteAsync(async (s, ct) =>
        {
            attempts++;
            if (await LockStudyOfTrialAsync(s, trialId, ct).ConfigureAwait(false) is not { } studyId) return TrialWriteOutcome.NotFound;
            string state;
            string? owner;
            await using (var r = await s.Command($"SELECT state, worker FROM trials WHERE id = @t{Dialect.LockRow}").Bind("@t", trialId).ExecuteReaderAsync(ct).ConfigureAwait(false))
            {
                if (!await r.ReadAsync(ct).ConfigureAwait(false)) return TrialWriteOutcome.NotFound;
                state = r.GetString(0);
                owner = r.IsDBNull(1) ? null : r.GetString(1);
            }
            if (state == "waiting" && owner is null && attempts > 1) return TrialWriteOutcome.Applied;
            if (state != "running") return TrialWriteOutcome.AlreadyFinished;
            if (!string.Equals(owner, worker, StringComparison.Ordinal)) return TrialWriteOutcome.NotOwner;
            var (_, seq) = await AdvanceStudyAsync(s, studyId, trials: 0, budget: -1, changes: 1, ct).ConfigureAwait(false);
            await s.Command("UPDATE trials SET state = 'waiting', worker = NULL, started_at = NULL, heartbeat_at = NULL, version = @v WHERE id = @t")
                .Bind("@v", Dialect.VersionToWrite(seq)).Bind("@t", trialId).ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            return TrialWriteOutcome.Applied;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<FrozenTrial?> ResumeTrialAsync(long trialId, string worker, CancellationToken cancellationToken = default) =>
        WriteAsync(async (s, ct) =>
        {
            if (await LockStudyOfTrialAsync(s, trialId, ct).ConfigureAwait(false) is not { } studyId) return null;
            var state = await s.Command($"SELECT state FROM trials WHERE id = @t{Dialect.LockRow}").Bind("@t", trialId).ExecuteScalarAsync(ct).ConfigureAwait(false);
            if (state is not "paused") return null;
            var (_, seq) = await AdvanceStudyAsync(s, studyId, trials: 0, budget: 0, changes: 1, ct).ConfigureAwait(false);
            var now = ToMicros(Time.GetUtcNow());
            await s.Command("UPDATE trials SET state = 'running', worker = @w, finished_at = NULL, heartbeat_at = @now, version = @v WHERE id = @t")
                .Bind("@w", worker).Bind("@now", now).Bind("@v", Dialect.VersionToWrite(seq)).Bind("@t", trialId).ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            return (await ReadTrialsAsync(s, _byId, trialId, 0, ct).ConfigureAwait(false))[0];
        }, cancellationToken);

    /// <inheritdoc />
    public virtual Task HeartbeatAsync(IReadOnlyCollection<long> trialIds, string worker, CancellationToken cancellationToken = default)
    {
        if (trialIds.Count == 0) return Task.CompletedTask;
        // A heartbeat is not a change a poller needs to see: no new version.
        return WriteAsync(async (s, ct) =>
        {
            var now = ToMicros(Time.GetUtcNow());
            foreach (var id in trialIds)
                await s.Command("UPDATE trials SET heartbeat_at = @now WHERE id = @t AND state = 'running' AND worker = @w")
                    .Bind("@now", now).Bind("@t", id).Bind("@w", worker).ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<FrozenTrial>> FailStaleTrialsAsync(long studyId, DateTimeOffset olderThan, CancellationToken cancellationToken = default) =>
        WriteAsync<IReadOnlyList<FrozenTrial>>(async (s, ct) =>
        {
            await StudyCountersAsync(s, studyId, ct).ConfigureAwait(false);
            var stale = new List<(long Id, long Heartbeat)>();
            await using (var r = await s.Command("SELECT id, heartbeat_at FROM trials WHERE study_id = @s AND state = 'running' AND heartbeat_at < @t ORDER BY number")
                .Bind("@s", studyId).Bind("@t", ToMicros(olderThan)).ExecuteReaderAsync(ct).ConfigureAwait(false))
                while (await r.ReadAsync(ct).ConfigureAwait(false)) stale.Add((r.GetInt64(0), r.GetInt64(1)));
            if (stale.Count == 0) return [];
            var (_, seq) = await AdvanceStudyAsync(s, studyId, trials: 0, budget: 0, changes: stale.Count, ct).ConfigureAwait(false);
            var now = ToMicros(Time.GetUtcNow());
            for (var i = 0; i < stale.Count; i++)
            {
                var (id, heartbeat) = stale[i];
                await InsertAttributeAsync(s, id, system: true, SystemAttributeKeys.FailReason,
                    "stale: no heartbeat since " + FromMicros(heartbeat).ToString("O", System.Globalization.CultureInfo.InvariantCulture), ct).ConfigureAwait(false);
                await s.Command("UPDATE trials SET state = 'failed', finished_at = @now, version = @v WHERE id = @t")
                    .Bind("@now", now).Bind("@v", Dialect.VersionToWrite(seq - stale.Count + 1 + i)).Bind("@t", id).ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
            var failed = new List<FrozenTrial>(stale.Count);
            foreach (var (id, _) in stale) failed.AddRange(await ReadTrialsAsync(s, _byId, id, 0, ct).ConfigureAwait(false));
            return failed;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<FrozenTrial?> RetryTrialAsync(long failedTrialId, CancellationToken cancellationToken = default) =>
        WriteAsync(async (s, ct) =>
        {
            if (await LockStudyOfTrialAsync(s, failedTrialId, ct).ConfigureAwait(false) is not { } studyId) return null;
            long number;
            await using (var r = await s.Command("SELECT number, state FROM trials WHERE id = @t").Bind("@t", failedTrialId).ExecuteReaderAsync(ct).ConfigureAwait(false))
            {
                if (!await r.ReadAsync(ct).ConfigureAwait(false) || r.GetString(1) != "failed") return null;
                number = r.GetInt64(0);
            }
            var failed = (await ReadTrialsAsync(s, _byId, failedTrialId, 0, ct).ConfigureAwait(false))[0];
            if (failed.SystemAttributes.ContainsKey(SystemAttributeKeys.RetriedBy)) return null;
            var count = (failed.SystemAttributes.TryGetValue(SystemAttributeKeys.RetryCount, out var c) && c is long n ? n : 0) + 1;
            var root = failed.SystemAttributes.TryGetValue(SystemAttributeKeys.RetryOf, out var ro) && ro is long rn ? rn : number;
            // The failed trial stops counting toward the budget; the retry counts once it starts.
            var (next, seq) = await AdvanceStudyAsync(s, studyId, trials: 1, budget: -1, changes: 2, ct).ConfigureAwait(false);
            var retry = await InsertWaitingAsync(s, studyId, next - 1, seq - 1, ToMicros(Time.GetUtcNow()), failed.Params,
                RetryAttributes.Of(failed, root, count), ct).ConfigureAwait(false);
            foreach (var (step, value) in failed.Intermediate)
                await s.Command(UpsertIntermediateSql).Bind("@t", retry.Id).Bind("@k", step).Bind("@v", NaNAsNull(value)).ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            if (failed.Intermediate.Count > 0) retry = retry with { Intermediate = new Dictionary<long, double>(failed.Intermediate) };
            if (failed.IntermediateMetrics.Count > 0)
            {
                await UpsertIntermediateMetricsAsync(s, retry.Id,
                    failed.IntermediateMetrics.SelectMany(m => m.Value.Select(v => (v.Key, m.Key, v.Value))), ct).ConfigureAwait(false);
                retry = retry with { IntermediateMetrics = failed.IntermediateMetrics };
            }
            await InsertAttributeAsync(s, failedTrialId, system: true, SystemAttributeKeys.RetriedBy, (long)retry.Number, ct).ConfigureAwait(false);
            await s.Command("UPDATE trials SET version = @v WHERE id = @t").Bind("@v", Dialect.VersionToWrite(seq)).Bind("@t", failedTrialId).ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            return retry;
        }, cancellationToken);

    // ---------------------------------------------------------------- reads

    /// <inheritdoc />
    public virtual Task<FrozenTrial?> GetTrialAsync(long trialId, CancellationToken cancellationToken = default) =>
        ReadAsync(async (s, ct) =>
        {
            var list = await ReadTrialsAsync(s, _byId, trialId, 0, ct).ConfigureAwait(false);
            return list.Count == 0 ? null : list[0];
        }, cancellationToken);

    /// <inheritdoc />
    public virtual Task<TrialChanges> GetTrialsSinceAsync(long studyId, long cursor, CancellationToken cancellationToken = default) =>
        ReadAsync((s, ct) => ReadChangesAsync(s, studyId, cursor, ct), cancellationToken);

    private async Task<TrialChanges> ReadChangesAsync(SqlSession s, long studyId, long cursor, CancellationToken ct)
    {
        var seq = await s.Command("SELECT change_seq FROM studies WHERE id = @s").Bind("@s", studyId).ExecuteScalarAsync(ct).ConfigureAwait(false);
        if (seq is null or DBNull) throw new StudyNotFoundException($"#{studyId}");
        var end = Convert.ToInt64(seq, System.Globalization.CultureInfo.InvariantCulture);
        // Nothing changed: one indexed lookup, no trial read.
        if (cursor >= end) return new TrialChanges([], end);
        var trials = await ReadTrialsAsync(s, _since, studyId, Math.Max(0, cursor), ct).ConfigureAwait(false);
        return new TrialChanges(trials, end);
    }

    /// <inheritdoc />
    /// <remarks>One query on the trials table (no parameter, attribute, intermediate or metric rows).</remarks>
    public Task<IReadOnlyList<FrozenTrial>> GetTrialOutlinesAsync(long studyId, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyList<FrozenTrial>>(async (s, ct) =>
        {
            var found = await s.Command("SELECT 1 FROM studies WHERE id = @s").Bind("@s", studyId).ExecuteScalarAsync(ct).ConfigureAwait(false);
            if (found is null or DBNull) throw new StudyNotFoundException($"#{studyId}");
            var trials = new List<FrozenTrial>();
            await using var r = await s.Command(_since.Trials).Bind("@a", studyId).Bind("@b", 0L).ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false)) trials.Add(ReadTrialColumns(r, 0));
            return trials;
        }, cancellationToken);

    /// <inheritdoc />
    public Task<IReadOnlyDictionary<TrialState, int>> CountTrialsAsync(long studyId, CancellationToken cancellationToken = default) =>
        ReadAsync<IReadOnlyDictionary<TrialState, int>>(async (s, ct) =>
        {
            await StudyCountersAsync(s, studyId, ct).ConfigureAwait(false);
            var counts = new Dictionary<TrialState, int>();
            await using var r = await s.Command("SELECT state, COUNT(*) FROM trials WHERE study_id = @s GROUP BY state").Bind("@s", studyId)
                .ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false)) counts[ParseState(r.GetString(0))] = (int)r.GetInt64(1);
            return counts;
        }, cancellationToken);

    /// <summary>The six queries that read trials chosen by one filter on <c>trials t</c> (parameters @a and @b).</summary>
    private sealed class TrialQueries(string filter)
    {
        public readonly string Trials =
            $"SELECT t.id, t.number, t.state, t.value, t.worker, t.created_at, t.started_at, t.finished_at, t.heartbeat_at, t.version FROM trials t WHERE {filter} ORDER BY t.number";
        public readonly string Params =
            $"SELECT p.trial_id, p.name, p.value_json, p.distribution_json FROM trial_params p JOIN trials t ON t.id = p.trial_id WHERE {filter} ORDER BY p.id";
        public readonly string Attributes =
            $"SELECT a.trial_id, a.system, a.key, a.value_json FROM trial_attributes a JOIN trials t ON t.id = a.trial_id WHERE {filter}";
        public readonly string Intermediate =
            $"SELECT i.trial_id, i.step, i.value FROM trial_intermediate i JOIN trials t ON t.id = i.trial_id WHERE {filter} ORDER BY i.step";
        public readonly string Metrics =
            $"SELECT m.trial_id, m.name, m.value FROM trial_metrics m JOIN trials t ON t.id = m.trial_id WHERE {filter}";
        public readonly string IntermediateMetrics =
            $"SELECT m.trial_id, m.name, m.step, m.value FROM trial_step_metrics m JOIN trials t ON t.id = m.trial_id WHERE {filter} ORDER BY m.trial_id, m.name, m.step";
    }

    private sealed class TrialRow
    {
        public required FrozenTrial Trial;
        public Dictionary<string, object?>? Params;
        public Dictionary<string, Distribution>? Distributions;
        public Dictionary<string, object?>? UserAttributes;
        public Dictionary<string, object?>? SystemAttributes;
        public Dictionary<long, double>? Intermediate;
        public Dictionary<string, double>? Metrics;
        public Dictionary<string, IReadOnlyDictionary<long, double>>? IntermediateMetrics;
    }

    /// <summary>A trial's own columns (id, number, state, value, worker, times, heartbeat, version) read from <paramref name="first"/> on.</summary>
    private protected static FrozenTrial ReadTrialColumns(System.Data.Common.DbDataReader r, int first) => new()
    {
        Id = r.GetInt64(first),
        Number = checked((int)r.GetInt64(first + 1)),
        State = ParseState(r.GetString(first + 2)),
        Value = r.IsDBNull(first + 3) ? null : r.GetDouble(first + 3),
        Worker = r.IsDBNull(first + 4) ? null : r.GetString(first + 4),
        Created = r.GetTimeOrNull(first + 5),
        Started = r.GetTimeOrNull(first + 6),
        Finished = r.GetTimeOrNull(first + 7),
        Heartbeat = r.GetTimeOrNull(first + 8),
        Version = r.GetInt64(first + 9),
    };

    private async Task<List<FrozenTrial>> ReadTrialsAsync(SqlSession s, TrialQueries q, long a, long b, CancellationToken ct)
    {
        var rows = new Dictionary<long, TrialRow>();
        var order = new List<TrialRow>();
        await using (var r = await s.Command(q.Trials).Bind("@a", a).Bind("@b", b).ExecuteReaderAsync(ct).ConfigureAwait(false))
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                var row = new TrialRow { Trial = ReadTrialColumns(r, 0) };
                rows[row.Trial.Id] = row;
                order.Add(row);
            }
        if (order.Count == 0) return [];

        await using (var r = await s.Command(q.Params).Bind("@a", a).Bind("@b", b).ExecuteReaderAsync(ct).ConfigureAwait(false))
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                var row = rows[r.GetInt64(0)];
                var name = r.GetString(1);
                (row.Params ??= new(StringComparer.Ordinal))[name] = SqlValueJson.Read(r.GetString(2));
                if (!r.IsDBNull(3)) (row.Distributions ??= new(StringComparer.Ordinal))[name] = ReadDistribution(r.GetString(3));
            }
        await using (var r = await s.Command(q.Attributes).Bind("@a", a).Bind("@b", b).ExecuteReaderAsync(ct).ConfigureAwait(false))
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                var row = rows[r.GetInt64(0)];
                var target = r.GetInt64(1) != 0 ? row.SystemAttributes ??= new(StringComparer.Ordinal) : row.UserAttributes ??= new(StringComparer.Ordinal);
                target[r.GetString(2)] = SqlValueJson.Read(r.GetString(3));
            }
        await using (var r = await s.Command(q.Intermediate).Bind("@a", a).Bind("@b", b).ExecuteReaderAsync(ct).ConfigureAwait(false))
            while (await r.ReadAsync(ct).ConfigureAwait(false))
                (rows[r.GetInt64(0)].Intermediate ??= [])[r.GetInt64(1)] = r.GetDoubleOrNaN(2);
        await using (var r = await s.Command(q.Metrics).Bind("@a", a).Bind("@b", b).ExecuteReaderAsync(ct).ConfigureAwait(false))
            while (await r.ReadAsync(ct).ConfigureAwait(false))
                (rows[r.GetInt64(0)].Metrics ??= new(StringComparer.Ordinal))[r.GetString(1)] = r.GetDoubleOrNaN(2);
        await using (var r = await s.Command(q.IntermediateMetrics).Bind("@a", a).Bind("@b", b).ExecuteReaderAsync(ct).ConfigureAwait(false))
            while (await r.ReadAsync(ct).ConfigureAwait(false))
            {
                var all = rows[r.GetInt64(0)].IntermediateMetrics ??= new(StringComparer.Ordinal);
                var name = r.GetString(1);
                if (!all.TryGetValue(name, out var series)) all[name] = series = new Dictionary<long, double>();
                ((Dictionary<long, double>)series)[r.GetInt64(2)] = r.GetDoubleOrNaN(3);
            }

        var result = new List<FrozenTrial>(order.Count);
        foreach (var row in order)
        {
            var t = row.Trial;
            if (row.Params is not null) t = t with { Params = row.Params };
            if (row.Distributions is not null) t = t with { Distributions = row.Distributions };
            if (row.UserAttributes is not null) t = t with { UserAttributes = row.UserAttributes };
            if (row.SystemAttributes is not null) t = t with { SystemAttributes = row.SystemAttributes };
            if (row.Intermediate is not null) t = t with { Intermediate = row.Intermediate };
            if (row.Metrics is not null) t = t with { Metrics = row.Metrics };
            if (row.IntermediateMetrics is not null) t = t with { IntermediateMetrics = row.IntermediateMetrics };
            result.Add(t);
        }
        return result;
    }

    // Distributions repeat across trials: parse each distinct JSON text once (bounded, so a pathological study cannot grow it without end).
    private protected Distribution ReadDistribution(string json)
    {
        if (_distributions.TryGetValue(json, out var d)) return d;
        d = DistributionJson.Deserialize(json);
        if (_distributions.Count < DistributionCacheLimit) _distributions.TryAdd(json, d);
        return d;
    }

    /// <inheritdoc />
    public abstract ValueTask DisposeAsync();
}
