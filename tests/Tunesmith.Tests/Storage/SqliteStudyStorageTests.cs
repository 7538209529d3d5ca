using Microsoft.Data.Sqlite;
using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Samplers;
using Tunesmith.Storage;
using Tunesmith.Storage.Sql;
using Xunit;

namespace Tunesmith.Tests.Storage;

/// <summary>A scratch directory deleted at the end of a test.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "tunesmith-test-" + Guid.NewGuid().ToString("N")[..12]);

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>The conformance suite on SQLite, each test on a fresh file.</summary>
public sealed class SqliteStorageConformanceTests : StorageConformanceTests
{
    private readonly TempDirectory _dir = new();

    protected override IStudyStorage CreateStorage(TimeProvider time) =>
        new SqliteStudyStorage(_dir.File($"s{Guid.NewGuid():N}.db"), time);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _dir.Dispose();
    }
}

/// <summary>What only the SQLite storage does: URLs, files, schema, several connections on one file.</summary>
public sealed class SqliteStudyStorageTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Three_slashes_name_a_path_relative_to_the_current_directory_and_four_an_absolute_one()
    {
        Assert.Equal(Path.GetFullPath("tunesmith.db"), SqliteStudyStorage.PathFromUrl("sqlite:///tunesmith.db"));
        var absolute = _dir.File("abs.db");
        Assert.Equal(absolute, SqliteStudyStorage.PathFromUrl("sqlite:///" + absolute));
        Assert.StartsWith("/", absolute);
        Assert.StartsWith("sqlite:////", "sqlite:///" + absolute);
    }

    [Theory]
    [InlineData("sqlite:///no-such-dir-4f1c/x.db", "does not exist")]
    [InlineData("sqlite://host/x.db", "three slashes")]
    [InlineData("sqlite:///", "names no file")]
    [InlineData("mysql://localhost/db", "not supported")]
    public void A_bad_url_gets_a_one_line_error_naming_it(string url, string reason)
    {
        var e = Assert.Throws<ArgumentException>(() => StudyStorage.Open(url));
        Assert.Contains(url, e.Message);
        Assert.Contains(reason, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public async Task A_url_opens_a_sqlite_storage_that_keeps_studies_across_reopening()
    {
        var url = "sqlite:///" + _dir.File("keep.db");
        await using (var s = StudyStorage.Open(url))
        {
            Assert.IsType<SqliteStudyStorage>(s);
            var st = await s.CreateStudyAsync("kept", Direction.Maximize);
            var t = (await s.StartTrialAsync(st.Id, "w"))!;
            await s.UpdateTrialAsync(t.Id, "w", new TrialUpdate { FinalState = TrialState.Complete, Value = 0.5 });
        }
        await using (var s = StudyStorage.Open(url))
        {
            var st = (await s.GetStudyAsync("kept"))!;
            Assert.Equal(Direction.Maximize, st.Direction);
            var next = (await s.StartTrialAsync(st.Id, "w"))!;
            Assert.Equal(1, next.Number);
            Assert.Equal(0.5, (await s.GetTrialsSinceAsync(st.Id, 0)).Trials[0].Value);
        }
    }

    [Fact]
    public async Task A_fresh_file_opened_by_eight_storages_at_once_gets_one_schema()
    {
        var path = _dir.File("fresh.db");
        var storages = Enumerable.Range(0, 8).Select(_ => new SqliteStudyStorage(path)).ToArray();
        try
        {
            var created = await Task.WhenAll(storages.Select((s, i) => Task.Run(async () =>
            {
                try { await s.CreateStudyAsync("shared", Direction.Minimize); return 1; }
                catch (StudyExistsException) { return 0; }
            })));
            Assert.Equal(1, created.Sum());
            var st = (await storages[0].GetStudyAsync("shared"))!;
            var trials = await Task.WhenAll(storages.SelectMany(s => Enumerable.Range(0, 8).Select(_ => Task.Run(() => s.StartTrialAsync(st.Id, "w")))));
            Assert.Equal(Enumerable.Range(0, 64), trials.Select(t => t!.Number).Order());
        }
        finally
        {
            foreach (var s in storages) await s.DisposeAsync();
        }
        await using var c = new SqliteConnection($"Data Source={path};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*), MAX(version) FROM schema_version";
        using var r = cmd.ExecuteReader();
        r.Read();
        Assert.Equal((long)SqlSchema.Latest, r.GetInt64(0)); // one row per version: each migrated once
        Assert.Equal(SqlSchema.Latest, r.GetInt64(1));
        using var mode = c.CreateCommand();
        mode.CommandText = "PRAGMA journal_mode";
        r.Close();
        Assert.Equal("wal", (string)mode.ExecuteScalar()!);
    }

    [Fact]
    public async Task A_file_that_is_not_a_database_gets_a_one_line_error_naming_the_file()
    {
        var path = _dir.File("notes.db");
        await File.WriteAllTextAsync(path, new string('x', 4096));
        await using var s = new SqliteStudyStorage(path);
        var e = await Assert.ThrowsAsync<StudyStorageException>(() => s.GetStudyAsync("any"));
        Assert.Contains(path, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(new string('x', 4096), await File.ReadAllTextAsync(path)); // nothing overwritten
    }

    [Fact]
    public async Task A_database_at_schema_version_2_is_upgraded_in_place_keeping_its_trials_and_then_stores_intermediate_metrics()
    {
        var path = _dir.File("v2.db");
        await using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            void Run(string sql)
            {
                using var cmd = c.CreateCommand();
                cmd.CommandText = sql;
                cmd.ExecuteNonQuery();
            }
            Run(SqlSchema.CreateVersionTable);
            for (var v = 1; v <= 2; v++)
            {
                foreach (var sql in SqlSchema.Migration(v, SqlDialect.Sqlite)) Run(sql);
                Run($"INSERT INTO schema_version (version) VALUES ({v})");
            }
            Run("INSERT INTO studies (id, name, direction, created_at, next_number, budget_count, change_seq) VALUES (1, 'old', 'maximize', 0, 1, 1, 2)");
            Run("INSERT INTO trials (id, study_id, number, state, worker, created_at, started_at, heartbeat_at, version) VALUES (1, 1, 0, 'running', 'w', 0, 0, 0, 2)");
            Run("INSERT INTO trial_intermediate (trial_id, step, value) VALUES (1, 1, 0.5)");
        }

        await using (var s = new SqliteStudyStorage(path))
        {
            var st = (await s.GetStudyAsync("old"))!;
            var t = Assert.Single((await s.GetTrialsSinceAsync(st.Id, 0)).Trials);
            Assert.Equal(0.5, t.Intermediate[1]);
            Assert.Empty(t.IntermediateMetrics);
            Assert.Equal(TrialWriteOutcome.Applied, await s.UpdateTrialAsync(t.Id, "w", new TrialUpdate { Intermediate = [(2, 0.6)], IntermediateMetrics = [(2, "loss", 0.3)] }));
            var after = (await s.GetTrialAsync(t.Id))!;
            Assert.Equal(0.3, after.IntermediateMetrics["loss"][2]);
            Assert.Equal(0.5, after.Intermediate[1]);
            Assert.True(await s.DeleteStudyAsync("old"));
        }
        await using var check = new SqliteConnection($"Data Source={path};Pooling=False");
        check.Open();
        using var q = check.CreateCommand();
        q.CommandText = "SELECT (SELECT MAX(version) FROM schema_version), (SELECT COUNT(*) FROM trial_step_metrics)";
        using var r = q.ExecuteReader();
        r.Read();
        Assert.Equal(3L, r.GetInt64(0));
        Assert.Equal(0L, r.GetInt64(1)); // deleted with its study
    }

    [Fact]
    public async Task A_schema_from_a_newer_version_is_refused_not_misread()
    {
        var path = _dir.File("newer.db");
        await using (var s = new SqliteStudyStorage(path)) await s.CreateStudyAsync("x", Direction.Minimize);
        await using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "INSERT INTO schema_version (version) VALUES (99)";
            cmd.ExecuteNonQuery();
        }
        await using var again = new SqliteStudyStorage(path);
        var e = await Assert.ThrowsAsync<StudyStorageException>(() => again.GetStudyAsync("x"));
        Assert.Contains("newer", e.Message);
    }

    [Fact]
    public async Task A_writer_holding_the_lock_delays_but_does_not_fail_a_start()
    {
        var path = _dir.File("locked.db");
        await using var s = new SqliteStudyStorage(path);
        var st = await s.CreateStudyAsync("locked", Direction.Minimize);
        await using var blocker = new SqliteConnection($"Data Source={path};Pooling=False");
        blocker.Open();
        var tx = blocker.BeginTransaction(deferred: false); // holds the write lock
        var start = Task.Run(() => s.StartTrialAsync(st.Id, "w"));
        await Task.Delay(300);
        Assert.False(start.IsCompleted);
        tx.Commit();
        Assert.Equal(0, (await start)!.Number);
    }

    [Fact]
    public async Task Studies_created_or_loaded_from_many_tasks_on_one_file_are_one_study()
    {
        var url = "sqlite:///" + _dir.File("col.db");
        var studies = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
            Study.CreateOrLoadAsync("col", new StudyOptions { Storage = url, Sampler = new RandomSampler(seed: 1) }))));
        try
        {
            Assert.Single(studies.Select(s => s.Record.Id).Distinct());
        }
        finally
        {
            foreach (var s in studies) await s.DisposeAsync();
        }
    }
}
