using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Tunesmith.Spaces;
using static Tunesmith.Storage.Sql.SqlCommandExtensions;

namespace Tunesmith.Storage.Sql;

/// <summary>
/// The per-trial operations in one round trip each. Starting and finishing a trial are server-side functions, so no lock
/// is held across network round trips. Only starting a trial locks the study row (trial numbers are dense and the budget
/// is study-wide), and only until its commit is written to the WAL buffers, not until it reaches the disk: the start
/// commits asynchronously and a second, synchronous transaction in the same round trip (a no-op write to the started
/// trial, or the finish of the worker's previous trial sent with the start) waits for the flush, so a start is durable
/// before the caller sees it while the next worker's start need not wait for this one's fsync. Reports and
/// finishes lock their trial's row alone, so the workers of one study commit side by side (PostgreSQL flushes their
/// commits together). A trial read is one statement (one snapshot) that aggregates a trial's params, attributes, values
/// and metrics.
/// </summary>
public sealed partial class PostgresStudyStorage : IStudyStorage
{
    // Versioned names: a newer Tunesmith adds new functions instead of replacing ones an older worker still calls.
    internal const string StartFunction = "tunesmith_start_trial_v3";
    private const string FinishFunction = "tunesmith_update_trial_v4";

    private static readonly string[] FunctionDefinitions =
    [
        // Starting a trial locks the study row (dense numbers, the study-wide budget) for the few microseconds of this
        // function and its commit, which is asynchronous: the lock is released before the WAL flush, and the next
        // transaction of the same round trip (FlushStartSql, or a finish sent with the start) waits for that flush. The
        // started trial's id is left in the session setting tunesmith.started for it. Finishing or reporting locks only the trial's own row. Rows are
        // stamped with their transaction's id by the trials_stamp trigger (schema version 2), asked for by setting
        // version to -1.
        $$"""
        CREATE OR REPLACE FUNCTION {{StartFunction}}(p_study bigint, p_worker text, p_max bigint, p_waiting_only boolean, p_now bigint, p_retry boolean)
        RETURNS TABLE (o_id bigint, o_number bigint, o_claimed boolean, o_version bigint) LANGUAGE plpgsql AS $fn$
        DECLARE
            v_budget bigint;
            v_next bigint;
            v_waiting bigint;
        BEGIN
            PERFORM set_config('synchronous_commit', 'off', true), set_config('tunesmith.started', '', false);
            SELECT s.budget_count, s.next_number INTO v_budget, v_next FROM studies s WHERE s.id = p_study FOR UPDATE;
            IF NOT FOUND THEN RAISE EXCEPTION 'no study #%', p_study USING ERRCODE = 'P0002'; END IF;
            IF p_retry THEN
                -- A retried call whose first attempt committed before its connection dropped: that trial, not another.
                SELECT t.id, t.number, t.version INTO o_id, o_number, o_version FROM trials t
                    WHERE t.study_id = p_study AND t.state = 'running' AND t.worker = p_worker AND t.started_at = p_now;
                IF FOUND THEN
                    o_claimed := true;
                    PERFORM set_config('tunesmith.started', o_id::text, false);
                    RETURN NEXT;
                    RETURN;
                END IF;
            END IF;
            IF p_max IS NOT NULL AND v_budget >= p_max THEN RETURN; END IF;
            SELECT t.id INTO v_waiting FROM trials t WHERE t.study_id = p_study AND t.state = 'waiting'
                ORDER BY t.number LIMIT 1 FOR UPDATE SKIP LOCKED;
            IF v_waiting IS NOT NULL THEN
                UPDATE studies SET budget_count = budget_count + 1 WHERE id = p_study;
                UPDATE trials SET state = 'running', worker = p_worker, started_at = p_now, heartbeat_at = p_now, version = -1
                    WHERE id = v_waiting RETURNING id, number, version INTO o_id, o_number, o_version;
                o_claimed := true;
            ELSIF NOT p_waiting_only THEN
                UPDATE studies SET next_number = next_number + 1, budget_count = budget_count + 1 WHERE id = p_study;
                INSERT INTO trials (study_id, number, state, worker, created_at, started_at, heartbeat_at, version)
                    VALUES (p_study, v_next, 'running', p_worker, p_now, p_now, p_now, -1) RETURNING id, number, version INTO o_id, o_number, o_version;
                o_claimed := false;
            ELSE
                RETURN;
            END IF;
            PERFORM set_config('tunesmith.started', o_id::text, false);
            RETURN NEXT;
        END
        $fn$
        """,
        $$"""
        CREATE OR REPLACE FUNCTION {{FinishFunction}}(p_trial bigint, p_worker text, p_now bigint,
            p_param_names text[], p_param_values text[], p_param_dists text[],
            p_steps bigint[], p_step_values float8[],
            p_attr_system bigint[], p_attr_keys text[], p_attr_values text[],
            p_metric_names text[], p_metric_values float8[],
            p_final_state text, p_value float8, p_removed_params text[],
            p_im_steps bigint[], p_im_names text[], p_im_values float8[])
        RETURNS TABLE (o_outcome int, o_state text, o_worker text, o_value float8, o_version bigint) LANGUAGE plpgsql AS $fn$
        DECLARE
            v_state text;
            v_worker text;
            v_value float8;
            v_version bigint;
        BEGIN
            -- The trial's row only: writers of different trials never wait on each other.
            SELECT t.state, t.worker, t.value INTO v_state, v_worker, v_value FROM trials t WHERE t.id = p_trial FOR UPDATE;
            IF NOT FOUND THEN RETURN QUERY SELECT 3, NULL::text, NULL::text, NULL::float8, NULL::bigint; RETURN; END IF;
            IF v_state <> 'running' THEN RETURN QUERY SELECT 1, v_state, v_worker, v_value, NULL::bigint; RETURN; END IF;
            IF v_worker IS DISTINCT FROM p_worker THEN RETURN QUERY SELECT 2, v_state, v_worker, v_value, NULL::bigint; RETURN; END IF;
            IF cardinality(p_removed_params) > 0 THEN
                DELETE FROM trial_params WHERE trial_id = p_trial AND name = ANY(p_removed_params);
            END IF;
            IF cardinality(p_param_names) > 0 THEN
                INSERT INTO trial_params (trial_id, name, value_json, distribution_json)
                    SELECT p_trial, n, v, d FROM unnest(p_param_names, p_param_values, p_param_dists) WITH ORDINALITY AS x(n, v, d, o) ORDER BY o
                    ON CONFLICT (trial_id, name) DO UPDATE SET value_json = excluded.value_json,
                        distribution_json = COALESCE(excluded.distribution_json, trial_params.distribution_json);
            END IF;
            IF cardinality(p_steps) > 0 THEN
                INSERT INTO trial_intermediate (trial_id, step, value) SELECT p_trial, k, v FROM unnest(p_steps, p_step_values) AS x(k, v)
                    ON CONFLICT (trial_id, step) DO UPDATE SET value = excluded.value;
            END IF;
            IF cardinality(p_attr_keys) > 0 THEN
                INSERT INTO trial_attributes (trial_id, system, key, value_json) SELECT p_trial, s, k, v FROM unnest(p_attr_system, p_attr_keys, p_attr_values) AS x(s, k, v)
                    ON CONFLICT (trial_id, system, key) DO UPDATE SET value_json = excluded.value_json;
            END IF;
            IF cardinality(p_metric_names) > 0 THEN
                INSERT INTO trial_metrics (trial_id, name, value) SELECT p_trial, k, v FROM unnest(p_metric_names, p_metric_values) AS x(k, v)
                    ON CONFLICT (trial_id, name) DO UPDATE SET value = excluded.value;
            END IF;
            IF cardinality(p_im_steps) > 0 THEN
                INSERT INTO trial_step_metrics (trial_id, step, name, value) SELECT p_trial, k, n, v FROM unnest(p_im_steps, p_im_names, p_im_values) AS x(k, n, v)
                    ON CONFLICT (trial_id, name, step) DO UPDATE SET value = excluded.value;
            END IF;
            IF p_final_state IS NOT NULL THEN
                UPDATE trials SET state = p_final_state, value = p_value, finished_at = p_now, heartbeat_at = p_now, version = -1
                    WHERE id = p_trial RETURNING version INTO v_version;
            ELSE
                UPDATE trials SET heartbeat_at = p_now, version = -1 WHERE id = p_trial RETURNING version INTO v_version;
            END IF;
            RETURN QUERY SELECT 0, v_state, v_worker, v_value, v_version;
        END
        $fn$
        """,
    ];

    /// <summary>Creates the functions once per database (under the migration's advisory lock), unless they exist.</summary>
    private async Task CreateFunctionsAsync(SqlSession session, CancellationToken ct)
    {
        await using var tx = await ((NpgsqlConnection)session.Connection).BeginTransactionAsync(ct).ConfigureAwait(false);
        session.Transaction = tx;
        try
        {
            await session.Command(Dialect.MigrationLock!).ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            var present = await session.Command($"SELECT to_regproc('{FinishFunction}') IS NOT NULL AND to_regproc('{StartFunction}') IS NOT NULL")
                .ExecuteScalarAsync(ct).ConfigureAwait(false);
            if (present is not true)
                foreach (var sql in FunctionDefinitions)
                    await session.Command(sql).ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            await tx.CommitAsync(ct).ConfigureAwait(false);
        }
        finally { session.Transaction = null; }
    }

    /// <summary>Runs <paramref name="body"/> on a pooled connection outside any explicit transaction, with the retry policy.</summary>
    private Task<T> OneTripAsync<T>(Func<NpgsqlConnection, CancellationToken, Task<T>> body, CancellationToken cancellationToken) =>
        WithRetryAsync(async ct =>
        {
            var session = await RentSessionAsync(ct).ConfigureAwait(false);
            var ok = false;
            try
            {
                var result = await body((NpgsqlConnection)session.Connection, ct).ConfigureAwait(false);
                ok = true;
                return result;
            }
            finally { await ReturnSessionAsync(session, ok).ConfigureAwait(false); }
        }, cancellationToken);

    /// <summary>Runs the commands in one round trip (one implicit transaction) with the retry policy; <paramref name="read"/> reads their results in order.</summary>
    private Task<T> BatchAsync<T>(Func<NpgsqlBatchCommand[]> commands, Func<NpgsqlDataReader, CancellationToken, Task<T>> read, CancellationToken cancellationToken) =>
        OneTripAsync(async (c, ct) =>
        {
            await using var batch = new NpgsqlBatch(c);
            foreach (var command in commands()) batch.BatchCommands.Add(command);
            try
            {
                await using var r = await batch.ExecuteReaderAsync(ct).ConfigureAwait(false);
                return await read(r, ct).ConfigureAwait(false);
            }
            catch (PostgresException e) when (e.SqlState == NoStudyState)
            {
                throw new StudyNotFoundException(e.MessageText.Replace("no study ", "", StringComparison.Ordinal));
            }
        }, cancellationToken);

    // Raised by the start function for an unknown study ("no study #<id>").
    private const string NoStudyState = "P0002";

    /// <summary>
    /// The start and, after an error barrier (a Sync: the start's implicit transaction commits there, asynchronously), a
    /// synchronous no-op write to the started trial's row whose commit waits until the WAL holding the start is on disk.
    /// Nothing started leaves the setting empty: no row, no write, no wait.
    /// </summary>
    /// <remarks>
    /// <paramref name="now"/> is the same on every attempt of one call, so a retry (<paramref name="attempt"/> &gt; 1)
    /// finds by worker and start time the trial that a first attempt may have started before its connection dropped.
    /// </remarks>
    private static NpgsqlBatchCommand[] StartCommands(long studyId, string worker, int? maxTrials, bool waitingOnly, long now, int attempt) =>
        [StartCommand(studyId, worker, maxTrials, waitingOnly, now, attempt > 1), new(FlushStartSql)];

    // A synchronous no-op write to a started trial: its commit waits until the WAL holding the start is on disk. The
    // trial is named by id, or by the session setting tunesmith.started that a start in the same round trip left.
    private const string FlushWriteSql = "UPDATE trials SET heartbeat_at = heartbeat_at WHERE state = 'running' AND id = ";
    private const string FlushTrialSql = FlushWriteSql + "$1";
    private const string FlushStartSql = FlushWriteSql + "NULLIF(current_setting('tunesmith.started', true), '')::bigint";

    private static NpgsqlBatchCommand StartCommand(long studyId, string worker, int? maxTrials, bool waitingOnly, long now, bool retry) =>
        new($"SELECT o_id, o_number, o_claimed, o_version FROM {StartFunction}($1, $2, $3, $4, $5, $6)")
        {
            AppendErrorBarrier = true,
            Parameters =
            {
                new NpgsqlParameter<long> { TypedValue = studyId },
                new NpgsqlParameter<string> { TypedValue = worker },
                new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bigint, Value = maxTrials is { } m ? (long)m : DBNull.Value },
                new NpgsqlParameter<bool> { TypedValue = waitingOnly },
                new NpgsqlParameter<long> { TypedValue = now },
                new NpgsqlParameter<bool> { TypedValue = retry },
            },
        };

    /// <summary>
    /// Reads the start function's row: the trial started, or null at the budget or with nothing to claim. The start is
    /// durable once the batch's reader has been disposed: that reads up to the server's final ReadyForQuery, which the
    /// flush write's synchronous commit sends only after its WAL flush (and an error of that write is thrown there).
    /// </summary>
    private static async Task<(long Id, long Number, bool Claimed, long Version)?> ReadStartAsync(NpgsqlDataReader r, CancellationToken ct) =>
        await r.ReadAsync(ct).ConfigureAwait(false) ? (r.GetInt64(0), r.GetInt64(1), r.GetBoolean(2), r.GetInt64(3)) : null;

    /// <summary>The trial a start returned: a new one is known without reading it back.</summary>
    private async Task<FrozenTrial?> StartedTrialAsync((long Id, long Number, bool Claimed, long Version)? started, string worker, long now, CancellationToken ct)
    {
        if (started is not { } t) return null;
        // A claimed trial carries what was enqueued with it (fixed params, retry links): read it back.
        if (t.Claimed) return await GetTrialAsync(t.Id, ct).ConfigureAwait(false);
        var at = FromMicros(now);
        return new FrozenTrial
        {
            Id = t.Id, Number = checked((int)t.Number), State = TrialState.Running, Worker = worker,
            Created = at, Started = at, Heartbeat = at, Version = t.Version,
        };
    }

    /// <inheritdoc />
    public override async Task<FrozenTrial?> StartTrialAsync(long studyId, string worker, int? maxTrials = null, bool waitingOnly = false, CancellationToken cancellationToken = default)
    {
        var now = ToMicros(Time.GetUtcNow());
        var attempt = 0;
        var started = await BatchAsync(() => StartCommands(studyId, worker, maxTrials, waitingOnly, now, ++attempt),
            (r, ct) => ReadStartAsync(r, ct), cancellationToken).ConfigureAwait(false);
        return await StartedTrialAsync(started, worker, now, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>One round trip: the changes are read first (so the study row is not locked while they are read), then the trial starts.</remarks>
    public async Task<(FrozenTrial? Started, TrialChanges Changes)> StartTrialAndReadChangesAsync(long studyId, string worker, long cursor,
        int? maxTrials = null, bool waitingOnly = false, CancellationToken cancellationToken = default)
    {
        var now = ToMicros(Time.GetUtcNow());
        var attempt = 0;
        var (started, changes) = await BatchAsync(() => [SinceCommand(studyId, cursor), .. StartCommands(studyId, worker, maxTrials, waitingOnly, now, ++attempt)],
            async (r, ct) =>
            {
                var changes = await ReadChangesAsync(r, studyId, ct).ConfigureAwait(false);
                await r.NextResultAsync(ct).ConfigureAwait(false);
                return (await ReadStartAsync(r, ct).ConfigureAwait(false), changes);
            }, cancellationToken).ConfigureAwait(false);
        return (await StartedTrialAsync(started, worker, now, cancellationToken).ConfigureAwait(false), changes);
    }

    /// <inheritdoc />
    /// <remarks>
    /// One round trip: the changes, the start (committed asynchronously, see <see cref="StartCommands"/>), then the update,
    /// whose synchronous commit follows the start's in the WAL and so makes both durable: no flush write of its own. An
    /// update that writes nothing (refused, or found already applied on a retry) leaves the start to a flush write in a
    /// second round trip.
    /// </remarks>
    public override async Task<(TrialWriteOutcome Outcome, FrozenTrial? Started, TrialChanges? Changes)> UpdateTrialAndStartNextAsync(long trialId, TrialUpdate update,
        long studyId, string worker, long? cursor, int? maxTrials = null, bool waitingOnly = false, CancellationToken cancellationToken = default)
    {
        var now = ToMicros(Time.GetUtcNow());
        var attempt = 0;
        var (outcome, started, changes) = await BatchAsync(() =>
            {
                attempt++;
                var commands = new List<NpgsqlBatchCommand>(4);
                if (cursor is { } c) commands.Add(SinceCommand(studyId, c));
                commands.Add(StartCommand(studyId, worker, maxTrials, waitingOnly, now, attempt > 1));
                commands.Add(UpdateCommand(trialId, worker, update));
                return [.. commands];
            },
            async (r, ct) =>
            {
                TrialChanges? changes = null;
                if (cursor is not null)
                {
                    changes = await ReadChangesAsync(r, studyId, ct).ConfigureAwait(false);
                    await r.NextResultAsync(ct).ConfigureAwait(false);
                }
                var started = await ReadStartAsync(r, ct).ConfigureAwait(false);
                await r.NextResultAsync(ct).ConfigureAwait(false);
                return (await ReadUpdateAsync(r, worker, update, attempt, ct).ConfigureAwait(false), started, changes);
            }, cancellationToken).ConfigureAwait(false);
        if (started is { } s && !outcome.Wrote)
            await OneTripAsync(async (c, ct) =>
            {
                await using var flush = new NpgsqlCommand(FlushTrialSql, c) { Parameters = { new NpgsqlParameter<long> { TypedValue = s.Id } } };
                return await flush.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
        return (outcome.Outcome, await StartedTrialAsync(started, worker, now, cancellationToken).ConfigureAwait(false), changes);
    }

    private NpgsqlBatchCommand UpdateCommand(long trialId, string worker, TrialUpdate update)
    {
        var parameters = LastPerKey(update.Params, x => x.Name, (earlier, later) => (later.Name, later.Value, later.Distribution ?? earlier.Distribution));
        var steps = LastPerKey(update.Intermediate, x => x.Step);
        var attrs = LastPerKey(update.UserAttributes.Select(a => (System: 0L, a.Key, a.Value)).Concat(update.SystemAttributes.Select(a => (System: 1L, a.Key, a.Value))),
            a => (a.System, a.Key));
        var metrics = LastPerKey(update.Metrics, m => m.Key);
        var intermediateMetrics = LastPerKey(update.IntermediateMetrics, m => (m.Step, m.Name));
        return new($"SELECT o_outcome, o_state, o_worker, o_value FROM {FinishFunction}($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)")
        {
            Parameters =
            {
                new NpgsqlParameter<long> { TypedValue = trialId },
                new NpgsqlParameter<string> { TypedValue = worker },
                new NpgsqlParameter<long> { TypedValue = ToMicros(Time.GetUtcNow()) },
                new NpgsqlParameter<string[]> { TypedValue = parameters.Select(x => x.Name).ToArray() },
                new NpgsqlParameter<string[]> { TypedValue = parameters.Select(x => SqlValueJson.Write(x.Value)).ToArray() },
                new NpgsqlParameter<string?[]> { TypedValue = parameters.Select(x => x.Distribution is null ? null : DistributionJson.Serialize(x.Distribution)).ToArray() },
                new NpgsqlParameter<long[]> { TypedValue = steps.Select(x => x.Step).ToArray() },
                new NpgsqlParameter<double?[]> { TypedValue = steps.Select(x => double.IsNaN(x.Value) ? (double?)null : x.Value).ToArray() },
                new NpgsqlParameter<long[]> { TypedValue = attrs.Select(a => a.System).ToArray() },
                new NpgsqlParameter<string[]> { TypedValue = attrs.Select(a => a.Key).ToArray() },
                new NpgsqlParameter<string[]> { TypedValue = attrs.Select(a => SqlValueJson.Write(a.Value)).ToArray() },
                new NpgsqlParameter<string[]> { TypedValue = metrics.Select(m => m.Key).ToArray() },
                new NpgsqlParameter<double?[]> { TypedValue = metrics.Select(m => double.IsNaN(m.Value) ? (double?)null : m.Value).ToArray() },
                new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Text, Value = update.FinalState is { } f ? StateText(f) : DBNull.Value },
                new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Double, Value = update.Value is { } v && !double.IsNaN(v) ? v : DBNull.Value },
                new NpgsqlParameter<string[]> { TypedValue = update.RemovedParams.Distinct(StringComparer.Ordinal).ToArray() },
                new NpgsqlParameter<long[]> { TypedValue = intermediateMetrics.Select(m => m.Step).ToArray() },
                new NpgsqlParameter<string[]> { TypedValue = intermediateMetrics.Select(m => m.Name).ToArray() },
                new NpgsqlParameter<double?[]> { TypedValue = intermediateMetrics.Select(m => double.IsNaN(m.Value) ? (double?)null : m.Value).ToArray() },
            },
        };
    }

    /// <summary>
    /// Reads the update function's row, and whether this attempt wrote; <paramref name="attempt"/> counts this call's
    /// tries (a retried finish may find its own first try committed).
    /// </summary>
    private static async Task<(TrialWriteOutcome Outcome, bool Wrote)> ReadUpdateAsync(NpgsqlDataReader r, string worker, TrialUpdate update, int attempt, CancellationToken ct)
    {
        await r.ReadAsync(ct).ConfigureAwait(false);
        var outcome = r.GetInt32(0);
        if (outcome == 1)
        {
            // A retried finish whose first attempt committed before its connection dropped: applied, once.
            var state = r.GetString(1);
            var owner = r.IsDBNull(2) ? null : r.GetString(2);
            double? stored = r.IsDBNull(3) ? null : r.GetDouble(3);
            var finishedByThisCall = attempt > 1 && update.FinalState is { } asked && state == StateText(asked)
                && string.Equals(owner, worker, StringComparison.Ordinal)
                && Nullable.Equals(stored, update.Value is { } uv && !double.IsNaN(uv) ? uv : null);
            return (finishedByThisCall ? TrialWriteOutcome.Applied : TrialWriteOutcome.AlreadyFinished, false);
        }
        return (outcome switch
        {
            0 => TrialWriteOutcome.Applied,
            2 => TrialWriteOutcome.NotOwner,
            _ => TrialWriteOutcome.NotFound,
        }, outcome == 0);
    }

    /// <inheritdoc />
    public override Task<TrialWriteOutcome> UpdateTrialAsync(long trialId, string worker, TrialUpdate update, CancellationToken cancellationToken = default)
    {
        var attempt = 0;
        return BatchAsync(() => { attempt++; return [UpdateCommand(trialId, worker, update)]; },
            async (r, ct) => (await ReadUpdateAsync(r, worker, update, attempt, ct).ConfigureAwait(false)).Outcome, cancellationToken);
    }

    /// <summary>
    /// The items with one per key, in the order of each key's first appearance, holding its last value (folded with
    /// <paramref name="merge"/> when given). One <c>INSERT ... ON CONFLICT DO UPDATE</c> cannot touch a row twice, and an
    /// update may name a key twice (a command trial keeps its result's metrics, then the tell sets the objective's again):
    /// this gives the row-by-row outcome of the other SQL storages.
    /// </summary>
    private static List<T> LastPerKey<T, TKey>(IEnumerable<T> items, Func<T, TKey> key, Func<T, T, T>? merge = null) where TKey : notnull
    {
        var index = new Dictionary<TKey, int>();
        var result = new List<T>();
        foreach (var item in items)
        {
            if (index.TryGetValue(key(item), out var i)) result[i] = merge is null ? item : merge(result[i], item);
            else
            {
                index[key(item)] = result.Count;
                result.Add(item);
            }
        }
        return result;
    }

    /// <inheritdoc />
    public override Task HeartbeatAsync(IReadOnlyCollection<long> trialIds, string worker, CancellationToken cancellationToken = default)
    {
        if (trialIds.Count == 0) return Task.CompletedTask;
        var ids = trialIds.ToArray();
        return OneTripAsync(async (c, ct) =>
        {
            await using var cmd = new NpgsqlCommand("UPDATE trials SET heartbeat_at = @now WHERE id = ANY(@ids) AND state = 'running' AND worker = @w", c);
            cmd.Parameters.Add(new NpgsqlParameter<long>("now", ToMicros(Time.GetUtcNow())));
            cmd.Parameters.Add(new NpgsqlParameter<long[]>("ids", ids));
            cmd.Parameters.Add(new NpgsqlParameter<string>("w", worker));
            return await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
        }, cancellationToken);
    }

    // One statement, so one snapshot: the trials, everything attached to them, and the cursor agree.
    private const string TrialColumns = """
        t.id, t.number, t.state, t.value, t.worker, t.created_at, t.started_at, t.finished_at, t.heartbeat_at, t.version,
        (SELECT json_agg(json_build_array(p.name, p.value_json, p.distribution_json) ORDER BY p.id) FROM trial_params p WHERE p.trial_id = t.id)::text,
        (SELECT json_agg(json_build_array(a.system, a.key, a.value_json)) FROM trial_attributes a WHERE a.trial_id = t.id)::text,
        (SELECT json_agg(json_build_array(i.step, i.value) ORDER BY i.step) FROM trial_intermediate i WHERE i.trial_id = t.id)::text,
        (SELECT json_agg(json_build_array(m.name, m.value)) FROM trial_metrics m WHERE m.trial_id = t.id)::text,
        (SELECT json_agg(json_build_array(m.name, m.step, m.value) ORDER BY m.name, m.step) FROM trial_step_metrics m WHERE m.trial_id = t.id)::text
        """;

    // The cursor: just below the oldest transaction still running when this statement's snapshot was taken. Every
    // transaction below it had ended, so whatever it wrote is in this read; a later read takes everything stamped above
    // it, including writes that commit after this read. A trial can thus come again (unchanged) while some unrelated
    // transaction on the server is long-running: readers merge by version.
    private static NpgsqlBatchCommand SinceCommand(long studyId, long cursor) =>
        new($"SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint - 1, {TrialColumns} FROM studies s LEFT JOIN trials t ON t.study_id = s.id AND t.version > $2 WHERE s.id = $1 ORDER BY t.number")
        {
            Parameters = { new NpgsqlParameter<long> { TypedValue = studyId }, new NpgsqlParameter<long> { TypedValue = Math.Max(0, cursor) } },
        };

    private async Task<TrialChanges> ReadChangesAsync(NpgsqlDataReader r, long studyId, CancellationToken ct)
    {
        var trials = new List<FrozenTrial>();
        long? end = null;
        while (await r.ReadAsync(ct).ConfigureAwait(false))
        {
            end = r.GetInt64(0);
            if (!r.IsDBNull(1)) trials.Add(ReadTrialRow(r));
        }
        if (end is not { } e) throw new StudyNotFoundException($"#{studyId}");
        return new TrialChanges(trials, e);
    }

    private static NpgsqlBatchCommand TrialByIdCommand(long trialId) =>
        new($"SELECT 0::bigint, {TrialColumns} FROM trials t WHERE t.id = $1") { Parameters = { new NpgsqlParameter<long> { TypedValue = trialId } } };

    /// <inheritdoc />
    public override Task<TrialChanges> GetTrialsSinceAsync(long studyId, long cursor, CancellationToken cancellationToken = default) =>
        BatchAsync(() => [SinceCommand(studyId, cursor)], (r, ct) => ReadChangesAsync(r, studyId, ct), cancellationToken);

    /// <inheritdoc />
    public override Task<FrozenTrial?> GetTrialAsync(long trialId, CancellationToken cancellationToken = default) =>
        BatchAsync(() => [TrialByIdCommand(trialId)], async (r, ct) => await r.ReadAsync(ct).ConfigureAwait(false) ? ReadTrialRow(r) : null, cancellationToken);

    /// <summary>A trial from the columns of <see cref="TrialColumns"/> (starting at column 1).</summary>
    private FrozenTrial ReadTrialRow(NpgsqlDataReader r)
    {
        var t = ReadTrialColumns(r, 1);
        if (!r.IsDBNull(11))
        {
            var ps = new Dictionary<string, object?>(StringComparer.Ordinal);
            Dictionary<string, Distribution>? ds = null;
            using var doc = JsonDocument.Parse(r.GetString(11));
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                var name = e[0].GetString()!;
                ps[name] = SqlValueJson.Read(e[1].GetString()!);
                if (e[2].ValueKind == JsonValueKind.String) (ds ??= new(StringComparer.Ordinal))[name] = ReadDistribution(e[2].GetString()!);
            }
            t = t with { Params = ps };
            if (ds is not null) t = t with { Distributions = ds };
        }
        if (!r.IsDBNull(12))
        {
            Dictionary<string, object?>? user = null, system = null;
            using var doc = JsonDocument.Parse(r.GetString(12));
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                var target = e[0].GetInt64() != 0 ? system ??= new(StringComparer.Ordinal) : user ??= new(StringComparer.Ordinal);
                target[e[1].GetString()!] = SqlValueJson.Read(e[2].GetString()!);
            }
            if (user is not null) t = t with { UserAttributes = user };
            if (system is not null) t = t with { SystemAttributes = system };
        }
        if (!r.IsDBNull(13))
        {
            var values = new Dictionary<long, double>();
            using var doc = JsonDocument.Parse(r.GetString(13));
            foreach (var e in doc.RootElement.EnumerateArray()) values[e[0].GetInt64()] = JsonDouble(e[1]);
            t = t with { Intermediate = values };
        }
        if (!r.IsDBNull(14))
        {
            var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
            using var doc = JsonDocument.Parse(r.GetString(14));
            foreach (var e in doc.RootElement.EnumerateArray()) metrics[e[0].GetString()!] = JsonDouble(e[1]);
            t = t with { Metrics = metrics };
        }
        if (!r.IsDBNull(15))
        {
            var all = new Dictionary<string, IReadOnlyDictionary<long, double>>(StringComparer.Ordinal);
            using var doc = JsonDocument.Parse(r.GetString(15));
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                var name = e[0].GetString()!;
                if (!all.TryGetValue(name, out var series)) all[name] = series = new Dictionary<long, double>();
                ((Dictionary<long, double>)series)[e[1].GetInt64()] = JsonDouble(e[2]);
            }
            t = t with { IntermediateMetrics = all };
        }
        return t;
    }

    /// <summary>A float8 as PostgreSQL writes it in JSON: a number, null for a stored NaN, or a string for ±Infinity.</summary>
    private static double JsonDouble(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Number => e.GetDouble(),
        JsonValueKind.String => double.Parse(e.GetString()!, System.Globalization.CultureInfo.InvariantCulture),
        _ => double.NaN,
    };
}
