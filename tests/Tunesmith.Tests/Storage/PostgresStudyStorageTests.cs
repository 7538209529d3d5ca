using Npgsql;
using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Storage;
using Tunesmith.Storage.Sql;
using Xunit;

namespace Tunesmith.Tests.Storage;

/// <summary>The conformance suite on PostgreSQL, each test in a fresh schema of the test server.</summary>
public sealed class PostgresStorageConformanceTests : StorageConformanceTests
{
    private readonly List<PostgresTestSchema> _schemas = [];

    protected override IStudyStorage CreateStorage(TimeProvider time)
    {
        var schema = PostgresTestServer.NewSchema();
        _schemas.Add(schema);
        return new PostgresStudyStorage(schema.Url, new PostgresStorageOptions { RetryWindow = TimeSpan.FromSeconds(10) }, time);
    }

    // Other tests share the server: their open transactions hold the read horizon back for a moment.
    protected override bool ReadsMayRepeatUnchangedTrials => true;

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (var s in _schemas) s.Dispose();
    }
}

/// <summary>URLs: libpq spelling in, password never out.</summary>
public sealed class PostgresUrlTests
{
    [Fact]
    public void A_url_maps_user_password_host_port_database_and_libpq_parameters()
    {
        var b = PostgresUrl.Parse("postgresql://ann:s%40cret@db.example:6543/studies?sslmode=require&application_name=hpo&connect_timeout=7");
        Assert.Equal("ann", b.Username);
        Assert.Equal("s@cret", b.Password);
        Assert.Equal("db.example", b.Host);
        Assert.Equal(6543, b.Port);
        Assert.Equal("studies", b.Database);
        Assert.Equal(SslMode.Require, b.SslMode);
        Assert.Equal("hpo", b.ApplicationName);
        Assert.Equal(7, b.Timeout);
    }

    [Fact]
    public void The_postgres_scheme_and_an_ipv6_host_are_accepted()
    {
        var b = PostgresUrl.Parse("postgres://bob@[::1]:5433/x");
        Assert.Equal("::1", b.Host);
        Assert.Equal(5433, b.Port);
        Assert.Equal("bob", b.Username);
    }

    [Fact]
    public void A_url_without_connect_timeout_gives_up_connecting_after_ten_seconds()
    {
        Assert.Equal(PostgresUrl.DefaultConnectTimeoutSeconds, PostgresUrl.Parse("postgresql://ann@h:1/d").Timeout);
        Assert.True(PostgresUrl.DefaultConnectTimeoutSeconds <= 10);
        Assert.Equal(2, PostgresUrl.Parse("postgresql://ann@h:1/d?connect_timeout=2").Timeout);
    }

    [Fact]
    public void Redaction_hides_the_password_in_the_authority_and_in_the_query()
    {
        Assert.Equal("postgresql://ann:***@h:1/d", PostgresUrl.Redact("postgresql://ann:topsecret@h:1/d"));
        Assert.Equal("postgresql://h/d?password=***&sslmode=disable", PostgresUrl.Redact("postgresql://h/d?password=topsecret&sslmode=disable"));
        Assert.Equal("postgresql://ann@h/d", PostgresUrl.Redact("postgresql://ann@h/d"));
    }

    [Theory]
    [InlineData("postgresql://ann:topsecret@h:99999/d", "port")]
    [InlineData("postgresql://ann:topsecret@h/d?frobnicate=1", "frobnicate")]
    [InlineData("postgresql://ann:topsecret@h/d?sslmode=sometimes", "sslmode")]
    public void A_bad_url_gets_a_one_line_error_naming_the_part_without_the_password(string url, string part)
    {
        var e = Assert.Throws<ArgumentException>(() => StudyStorage.Open(url));
        Assert.Contains(part, e.Message);
        Assert.DoesNotContain("topsecret", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public async Task An_unreachable_server_fails_after_the_retry_window_with_a_one_line_error_without_the_password()
    {
        // Port 1 on loopback: nothing listens there, so every attempt is refused at once.
        await using var s = new PostgresStudyStorage("postgresql://ann:topsecret@127.0.0.1:1/d",
            new PostgresStorageOptions { RetryWindow = TimeSpan.FromMilliseconds(200) });
        var e = await Assert.ThrowsAsync<StudyStorageException>(() => s.GetStudyAsync("x"));
        Assert.Contains("127.0.0.1:1", e.Message);
        Assert.DoesNotContain("topsecret", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}

/// <summary>What only the PostgreSQL storage does: concurrent migration, the password from the environment, faults.</summary>
public sealed class PostgresStudyStorageTests
{
    [SkippableFact]
    public async Task A_search_path_naming_a_schema_that_does_not_exist_is_one_line_naming_it()
    {
        var server = PostgresTestServer.Url;
        var missing = "tst_missing_" + Guid.NewGuid().ToString("N")[..12];
        await using var s = new PostgresStudyStorage(server + (server.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "search_path=" + missing);
        var e = await Assert.ThrowsAsync<StudyStorageException>(() => s.ListStudiesAsync());
        Assert.EndsWith($": schema '{missing}' (search_path) does not exist: create it first (CREATE SCHEMA ...), or leave search_path out", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [SkippableFact]
    public async Task A_schema_at_version_2_is_upgraded_in_place_keeping_its_trials_and_then_stores_intermediate_metrics()
    {
        using var schema = PostgresTestServer.NewSchema();
        await using (var old = new NpgsqlConnection(PostgresUrl.Parse(schema.Url).ConnectionString))
        {
            await old.OpenAsync();
            void Execute(string sql)
            {
                using var cmd = new NpgsqlCommand(sql, old);
                cmd.ExecuteNonQuery();
            }
            Execute(SqlSchema.CreateVersionTable);
            for (var v = 1; v <= 2; v++)
            {
                foreach (var sql in SqlSchema.Migration(v, SqlDialect.PostgreSql)) Execute(sql);
                Execute($"INSERT INTO schema_version (version) VALUES ({v})");
            }
            Execute("INSERT INTO studies (name, direction, created_at, next_number, budget_count) VALUES ('old', 'maximize', 0, 1, 1)");
            Execute("INSERT INTO trials (study_id, number, state, worker, created_at, started_at, heartbeat_at, version) SELECT id, 0, 'running', 'w', 0, 0, 0, -1 FROM studies");
            Execute("INSERT INTO trial_intermediate (trial_id, step, value) SELECT id, 1, 0.5 FROM trials");
        }

        await using var s = new PostgresStudyStorage(schema.Url);
        var st = (await s.GetStudyAsync("old"))!;
        var t = Assert.Single((await s.GetTrialsSinceAsync(st.Id, 0)).Trials);
        Assert.Equal(0.5, t.Intermediate[1]);
        Assert.Empty(t.IntermediateMetrics);
        Assert.Equal(TrialWriteOutcome.Applied, await s.UpdateTrialAsync(t.Id, "w", new TrialUpdate { Intermediate = [(2, 0.6)], IntermediateMetrics = [(2, "loss", 0.3)] }));
        var after = (await s.GetTrialAsync(t.Id))!;
        Assert.Equal(0.3, after.IntermediateMetrics["loss"][2]);
        Assert.Equal(0.5, after.Intermediate[1]);
        await using var c = new NpgsqlConnection(PostgresUrl.Parse(schema.Url).ConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT MAX(version) FROM schema_version", c);
        Assert.Equal(3L, (long)(await cmd.ExecuteScalarAsync())!);
    }

    [SkippableFact]
    public async Task Twenty_storages_opening_a_fresh_schema_at_once_migrate_it_once()
    {
        using var schema = PostgresTestServer.NewSchema();
        var storages = Enumerable.Range(0, 20).Select(_ => new PostgresStudyStorage(schema.Url)).ToList();
        try
        {
            var created = await Task.WhenAll(storages.Select(async (s, i) =>
            {
                try { return (await s.CreateStudyAsync("one", Direction.Minimize)).Id; }
                catch (StudyExistsException) { return (await s.GetStudyAsync("one"))!.Id; }
            }));
            Assert.Single(created.Distinct());
            await using var c = new NpgsqlConnection(PostgresUrl.Parse(schema.Url).ConnectionString);
            await c.OpenAsync();
            await using var cmd = new NpgsqlCommand("SELECT COUNT(*) FROM schema_version", c);
            Assert.Equal((long)SqlSchema.Latest, (long)(await cmd.ExecuteScalarAsync())!); // one row per version: each migrated once
        }
        finally
        {
            foreach (var s in storages) await s.DisposeAsync();
        }
    }

    [SkippableFact]
    public async Task A_change_that_commits_after_a_read_which_already_saw_later_changes_is_read_next_time()
    {
        using var schema = PostgresTestServer.NewSchema();
        await using var s = new PostgresStudyStorage(schema.Url);
        var st = await s.CreateStudyAsync("late", Direction.Minimize);
        var slow = (await s.StartTrialAsync(st.Id, "w1"))!;
        var fast = (await s.StartTrialAsync(st.Id, "w2"))!;

        // w1's finish is in flight (its transaction has written, not committed) while w2's finish commits after it.
        await using var c = new NpgsqlConnection(PostgresUrl.Parse(schema.Url).ConnectionString);
        await c.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        await using (var write = new NpgsqlCommand("UPDATE trials SET state = 'complete', value = 1, version = -1 WHERE id = @t", c, tx))
        {
            write.Parameters.AddWithValue("t", slow.Id);
            Assert.Equal(1, await write.ExecuteNonQueryAsync());
        }
        Assert.Equal(TrialWriteOutcome.Applied, await s.UpdateTrialAsync(fast.Id, "w2", new TrialUpdate { FinalState = TrialState.Complete, Value = 2 }));

        var first = await s.GetTrialsSinceAsync(st.Id, 0);
        Assert.Equal(TrialState.Complete, first.Trials.Single(t => t.Id == fast.Id).State);
        Assert.Equal(TrialState.Running, first.Trials.Single(t => t.Id == slow.Id).State);

        await tx.CommitAsync();
        var next = await s.GetTrialsSinceAsync(st.Id, first.Cursor);
        var late = Assert.Single(next.Trials, t => t.Id == slow.Id);
        Assert.Equal(TrialState.Complete, late.State);
        Assert.Equal(1.0, late.Value);
    }

    [SkippableFact]
    public async Task A_start_commits_without_waiting_for_the_disk_and_a_second_synchronous_write_in_its_round_trip_makes_it_durable()
    {
        using var schema = PostgresTestServer.NewSchema();
        await using var s = new PostgresStudyStorage(schema.Url);
        var st = await s.CreateStudyAsync("durable-starts", Direction.Minimize);
        await s.EnqueueTrialAsync(st.Id, new Dictionary<string, object?> { ["x"] = 1.0 }, null);
        var claimed = (await s.StartTrialAsync(st.Id, "w"))!;
        var created = (await s.StartTrialAsync(st.Id, "w"))!;
        await s.CreateStudyAsync("no-budget-left", Direction.Minimize);
        Assert.Null(await s.StartTrialAsync((await s.GetStudyAsync("no-budget-left"))!.Id, "w", maxTrials: 0));

        await using var c = new NpgsqlConnection(PostgresUrl.Parse(schema.Url).ConnectionString);
        await c.OpenAsync();
        foreach (var t in new[] { claimed, created })
        {
            // version holds the id of the transaction that started the trial (the trials_stamp trigger); xmin the id of
            // the last transaction that wrote the row. A later transaction rewrote it, leaving version and the heartbeat
            // alone: the flush, which ran with the session's synchronous_commit (on).
            await using var cmd = new NpgsqlCommand("SELECT xmin::text::bigint, version, heartbeat_at, state FROM trials WHERE id = @id", c);
            cmd.Parameters.AddWithValue("id", t.Id);
            await using var r = await cmd.ExecuteReaderAsync();
            Assert.True(await r.ReadAsync());
            Assert.True(r.GetInt64(0) > r.GetInt64(1), $"trial {t.Number}: xmin {r.GetInt64(0)} is not after the start's transaction {r.GetInt64(1)}");
            Assert.Equal(t.Version, r.GetInt64(1));
            Assert.Equal((t.Started!.Value - DateTimeOffset.UnixEpoch).Ticks / 10, r.GetInt64(2));
            Assert.Equal("running", r.GetString(3));
        }
    }

    [SkippableFact]
    public async Task A_start_sent_with_a_finish_is_made_durable_by_the_finish_and_by_a_flush_write_when_the_finish_is_refused()
    {
        using var schema = PostgresTestServer.NewSchema();
        await using var s = new PostgresStudyStorage(schema.Url);
        var st = await s.CreateStudyAsync("starts-with-finishes", Direction.Minimize);
        var first = (await s.StartTrialAsync(st.Id, "w"))!;
        var finish = new TrialUpdate { FinalState = TrialState.Complete, Value = 1.0 };
        var (applied, second, _) = await s.UpdateTrialAndStartNextAsync(first.Id, finish, st.Id, "w", cursor: null);
        // The same finish again is refused (the trial is finished): it writes nothing, so the start needs its own flush.
        var (refused, third, _) = await s.UpdateTrialAndStartNextAsync(first.Id, finish, st.Id, "w", cursor: null);
        Assert.Equal(TrialWriteOutcome.Applied, applied);
        Assert.Equal(TrialWriteOutcome.AlreadyFinished, refused);

        await using var c = new NpgsqlConnection(PostgresUrl.Parse(schema.Url).ConnectionString);
        await c.OpenAsync();
        async Task<(long Xmin, long Version)> RowAsync(long id)
        {
            await using var cmd = new NpgsqlCommand("SELECT xmin::text::bigint, version FROM trials WHERE id = @id", c);
            cmd.Parameters.AddWithValue("id", id);
            await using var r = await cmd.ExecuteReaderAsync();
            Assert.True(await r.ReadAsync());
            return (r.GetInt64(0), r.GetInt64(1));
        }
        // version: the transaction that started the trial; xmin: the last one that wrote its row.
        var carried = await RowAsync(second!.Id);
        Assert.Equal(carried.Version, carried.Xmin); // durable through the finish's commit, no write of its own
        var flushed = await RowAsync(third!.Id);
        Assert.True(flushed.Xmin > flushed.Version, $"trial {third.Number}: xmin {flushed.Xmin} is not after the start's transaction {flushed.Version}");
    }

    [SkippableFact]
    public async Task A_retried_start_whose_first_attempt_committed_returns_that_trial_instead_of_starting_another()
    {
        using var schema = PostgresTestServer.NewSchema();
        await using var s = new PostgresStudyStorage(schema.Url);
        var st = await s.CreateStudyAsync("retried-start", Direction.Minimize);
        await using var c = new NpgsqlConnection(PostgresUrl.Parse(schema.Url).ConnectionString);
        await c.OpenAsync();
        async Task<(long Id, long Number)> StartAsync(string worker, long now, bool retry)
        {
            await using var cmd = new NpgsqlCommand($"SELECT o_id, o_number FROM {PostgresStudyStorage.StartFunction}(@s, @w, NULL, false, @now, @retry)", c);
            cmd.Parameters.AddWithValue("s", st.Id);
            cmd.Parameters.AddWithValue("w", worker);
            cmd.Parameters.AddWithValue("now", now);
            cmd.Parameters.AddWithValue("retry", retry);
            await using var r = await cmd.ExecuteReaderAsync();
            Assert.True(await r.ReadAsync());
            return (r.GetInt64(0), r.GetInt64(1));
        }

        var first = await StartAsync("w1", 1_000, retry: false);      // committed; its answer lost with the connection
        Assert.Equal(first, await StartAsync("w1", 1_000, retry: true));  // the retry of the same call
        var other = await StartAsync("w2", 1_000, retry: true);           // another worker at the same microsecond
        var later = await StartAsync("w1", 2_000, retry: true);           // the same worker's next call
        Assert.Equal([0L, 1L, 2L], new[] { first.Number, other.Number, later.Number });
        Assert.Equal(3, (await s.CountTrialsAsync(st.Id))[TrialState.Running]);
    }

    [SkippableFact]
    public async Task The_hot_queries_have_their_indexes()
    {
        using var schema = PostgresTestServer.NewSchema();
        await using (var s = new PostgresStudyStorage(schema.Url)) await s.ListStudiesAsync();
        await using var c = new NpgsqlConnection(PostgresUrl.Parse(schema.Url).ConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT indexdef FROM pg_indexes WHERE schemaname = @s AND tablename = 'trials'", c);
        cmd.Parameters.AddWithValue("s", schema.Name);
        var defs = new List<string>();
        await using (var r = await cmd.ExecuteReaderAsync())
            while (await r.ReadAsync()) defs.Add(r.GetString(0));
        Assert.Contains(defs, d => d.Contains("(study_id, state, number)", StringComparison.Ordinal));
        Assert.Contains(defs, d => d.Contains("(study_id, number)", StringComparison.Ordinal) && d.Contains("UNIQUE", StringComparison.Ordinal));
        Assert.Contains(defs, d => d.Contains("(study_id, version)", StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task Server_settings_in_the_options_parameter_reach_the_session()
    {
        using var schema = PostgresTestServer.NewSchema();
        var url = schema.Url + "&options=-c%20synchronous_commit%3Doff%20-c%20work_mem%3D7MB";
        await using var c = new NpgsqlConnection(PostgresUrl.Parse(url).ConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT current_setting('synchronous_commit') || ' ' || current_setting('work_mem')", c);
        Assert.Equal("off 7MB", await cmd.ExecuteScalarAsync());
        await using var s = new PostgresStudyStorage(url);
        Assert.NotNull(await s.CreateStudyAsync("with-options", Direction.Minimize));
    }

    [SkippableFact]
    public async Task A_password_from_PGPASSWORD_is_used_when_the_url_has_none()
    {
        // In a schema of its own: the shared test server's public schema may hold another branch's newer schema version.
        await using var schema = PostgresTestServer.NewSchema();
        var url = schema.Url;
        var b = PostgresUrl.Parse(url);
        Skip.If(string.IsNullOrEmpty(b.Password), "the test server's URL carries no password");
        var withoutPassword = PostgresUrl.Redact(url).Replace(":***@", "@", StringComparison.Ordinal);
        var previous = Environment.GetEnvironmentVariable("PGPASSWORD");
        Environment.SetEnvironmentVariable("PGPASSWORD", b.Password);
        try
        {
            await using var s = new PostgresStudyStorage(withoutPassword);
            Assert.NotNull(await s.ListStudiesAsync());
        }
        finally { Environment.SetEnvironmentVariable("PGPASSWORD", previous); }
    }

    [SkippableFact]
    public async Task A_killed_connection_is_retried_and_the_operation_succeeds()
    {
        using var schema = PostgresTestServer.NewSchema();
        await using var s = new PostgresStudyStorage(schema.Url + "&application_name=tunesmith-victim-" + schema.Name);
        var st = await s.CreateStudyAsync("faults", Direction.Minimize);
        var t = (await s.StartTrialAsync(st.Id, "w"))!;
        // Terminate every pooled connection of this storage on the server: the next operation finds its connection dead.
        schema.Execute($"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tunesmith-victim-{schema.Name}'");
        Assert.Equal(TrialWriteOutcome.Applied, await s.UpdateTrialAsync(t.Id, "w", new TrialUpdate { FinalState = TrialState.Complete, Value = 1 }));
        Assert.Equal(TrialState.Complete, (await s.GetTrialAsync(t.Id))!.State);
    }
}

/// <summary><see cref="PostgresStorageOptions.ExistingOnly"/>: a schema without Tunesmith's tables gets none.</summary>
public sealed class PostgresExistingOnlyTests
{
    [SkippableFact]
    public async Task An_existing_only_open_creates_no_tables_in_an_empty_schema_and_uses_one_that_has_them()
    {
        using var schema = PostgresTestServer.NewSchema();
        await using (var empty = new PostgresStudyStorage(schema.Url, new PostgresStorageOptions { ExistingOnly = true }))
        {
            var e = await Assert.ThrowsAsync<StudyStorageException>(() => empty.ConnectAsync());
            Assert.True(e.HoldsNoStudies);
            Assert.DoesNotContain('\n', e.Message);
        }
        Assert.Equal(0L, Tables(schema));

        await using (var creating = new PostgresStudyStorage(schema.Url)) await creating.CreateStudyAsync("s", Direction.Minimize);
        await using var existing = new PostgresStudyStorage(schema.Url, new PostgresStorageOptions { ExistingOnly = true });
        var study = await existing.GetStudyAsync("s");
        Assert.NotNull(study);
        Assert.NotNull(await existing.StartTrialAsync(study.Id, "w")); // it writes: only creating the tables is left out
    }

    private static long Tables(PostgresTestSchema schema)
    {
        using var c = new Npgsql.NpgsqlConnection(PostgresUrl.Parse(schema.Url).ConnectionString);
        c.Open();
        using var cmd = new Npgsql.NpgsqlCommand("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = @s", c);
        cmd.Parameters.AddWithValue("s", schema.Name);
        return (long)cmd.ExecuteScalar()!;
    }
}

/// <summary>Collects log lines, to assert what a worker reported.</summary>
public sealed class ListLoggerFactory : Microsoft.Extensions.Logging.ILoggerFactory
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => new Logger(_lines);

    public void AddProvider(Microsoft.Extensions.Logging.ILoggerProvider provider) { }

    public void Dispose() { }

    private sealed class Logger(System.Collections.Concurrent.ConcurrentQueue<string> lines) : Microsoft.Extensions.Logging.ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state,
            Exception? exception, Func<TState, Exception?, string> formatter) => lines.Enqueue($"{logLevel}: {formatter(state, exception)}");
    }
}

/// <summary>Who may write a trial: a worker failed as stale, and two workers telling one trial.</summary>
public sealed class PostgresTrialOwnershipTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [SkippableFact]
    public async Task A_worker_whose_trial_was_failed_as_stale_logs_the_refused_late_result_and_carries_on()
    {
        using var schema = PostgresTestServer.NewSchema();
        var logs = new ListLoggerFactory();
        // This worker never heartbeats within the test (1 h), as if it were frozen; the watcher's grace is 200 ms.
        await using var frozen = await Study.CreateOrLoadAsync("late", new StudyOptions
        {
            Storage = schema.Url, HeartbeatInterval = TimeSpan.FromHours(1), LoggerFactory = logs, Sampler = new Tunesmith.Samplers.RandomSampler(1),
        });
        await using var watcher = await Study.LoadAsync("late", new StudyOptions
        {
            Storage = schema.Url, HeartbeatInterval = TimeSpan.FromMilliseconds(50), StaleGracePeriod = TimeSpan.FromMilliseconds(200),
        });
        var release = new TaskCompletionSource();
        var started = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var run = frozen.OptimizeAsync(async (t, ct) =>
        {
            var x = t.SuggestFloat("x", 0, 1);
            await t.FlushAsync(ct);
            started.TrySetResult(t.Id);
            await release.Task;
            return x;
        }, new OptimizeOptions { Trials = 5, MaxTrialsThisRun = 1 });
        var id = await started.Task.WaitAsync(Timeout);

        var timer = System.Diagnostics.Stopwatch.StartNew();
        IReadOnlyList<FrozenTrial> failed;
        while ((failed = await watcher.FailStaleTrialsAsync(retries: 1)).Count == 0)
        {
            Assert.True(timer.Elapsed < Timeout, "the frozen worker's trial never went stale");
            await Task.Delay(50);
        }
        Assert.Equal(id, Assert.Single(failed).Id);

        release.SetResult();
        await run.WaitAsync(Timeout); // the refused late result does not throw
        Assert.Contains(logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("already finished", StringComparison.Ordinal));
        var trials = await watcher.GetTrialsAsync();
        var stale = trials.Single(t => t.Id == id);
        Assert.Equal(TrialState.Failed, stale.State);
        Assert.StartsWith("stale", stale.FailReason);
        var retry = trials.Single(t => t.State == TrialState.Waiting);
        Assert.Equal(stale.Params["x"], retry.Params["x"]);
    }

    [SkippableFact]
    public async Task Two_workers_telling_one_trial_one_succeeds_and_the_other_gets_a_clear_refusal()
    {
        using var schema = PostgresTestServer.NewSchema();
        // Two storages: two connection pools, as on two machines.
        await using var a = new PostgresStudyStorage(schema.Url);
        await using var b = new PostgresStudyStorage(schema.Url);
        var st = await a.CreateStudyAsync("tell", Direction.Minimize);
        for (var round = 0; round < 20; round++)
        {
            var t = (await a.StartTrialAsync(st.Id, "owner"))!;
            var outcomes = await Task.WhenAll(
                a.UpdateTrialAsync(t.Id, "owner", new TrialUpdate { FinalState = TrialState.Complete, Value = 1 }),
                b.UpdateTrialAsync(t.Id, "owner", new TrialUpdate { FinalState = TrialState.Complete, Value = 2 }));
            Assert.Single(outcomes, o => o == TrialWriteOutcome.Applied);
            Assert.Single(outcomes, o => o == TrialWriteOutcome.AlreadyFinished);
            var stored = (await b.GetTrialAsync(t.Id))!;
            Assert.Equal(outcomes[0] == TrialWriteOutcome.Applied ? 1 : 2, stored.Value);
            Assert.Equal(TrialWriteOutcome.NotOwner,
                await b.UpdateTrialAsync((await a.StartTrialAsync(st.Id, "owner"))!.Id, "intruder", new TrialUpdate { FinalState = TrialState.Complete, Value = 3 }));
        }
        // What the refused teller sees through the Study API names the trial and says why.
        var message = new TrialWriteRefusedException(7, TrialWriteOutcome.AlreadyFinished).Message;
        Assert.Contains("trial 7", message);
        Assert.Contains("already finished", message);
        Assert.Contains("refused", message);
    }
}
