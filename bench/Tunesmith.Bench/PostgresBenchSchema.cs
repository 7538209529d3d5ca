using Npgsql;
using Tunesmith.Spaces;
using Tunesmith.Storage;
using Tunesmith.Storage.Sql;

namespace Tunesmith.Bench;

/// <summary>A throwaway schema on a PostgreSQL server for the overhead benchmark, dropped on dispose.</summary>
internal sealed class PostgresBenchSchema : IAsyncDisposable
{
    private readonly string _server;
    private readonly string _name;

    private PostgresBenchSchema(string server, string name)
    {
        _server = server;
        _name = name;
        Url = server + (server.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "search_path=" + name;
    }

    /// <summary>The schema's name.</summary>
    public string Name => _name;

    /// <summary>The storage URL whose tables live in this schema.</summary>
    public string Url { get; }

    /// <summary>Creates the schema (a fresh random name, or <paramref name="name"/>) and Tunesmith's tables in it.</summary>
    public static async Task<PostgresBenchSchema> CreateAsync(string server, string? name = null)
    {
        var schema = new PostgresBenchSchema(server, name ?? "bench_" + Guid.NewGuid().ToString("N")[..12]);
        await schema.ExecuteAsync($"CREATE SCHEMA {schema._name}");
        await using (var storage = StudyStorage.Open(schema.Url)) await storage.ListStudiesAsync(); // creates the tables
        return schema;
    }

    /// <summary>
    /// Creates a study holding <paramref name="count"/> Complete trials of the benchmark's objective, written with three
    /// set-based INSERTs (seconds, where running them would take minutes); returns its name.
    /// </summary>
    public async Task<string> FillStudyAsync(int count)
    {
        var name = "filled-" + Guid.NewGuid().ToString("N")[..8];
        await using var c = new NpgsqlConnection(PostgresUrl.Parse(Url).ConnectionString);
        await c.OpenAsync();
        await using var tx = await c.BeginTransactionAsync();
        long id;
        await using (var cmd = new NpgsqlCommand(
            "INSERT INTO studies (name, direction, created_at, next_number, budget_count, change_seq) VALUES (@n, 'minimize', 0, @c, @c, @c) RETURNING id", c, tx))
        {
            cmd.Parameters.AddWithValue("n", name);
            cmd.Parameters.AddWithValue("c", (long)count);
            id = (long)(await cmd.ExecuteScalarAsync())!;
        }
        await using (var cmd = new NpgsqlCommand(
            "INSERT INTO trials (study_id, number, state, value, worker, created_at, started_at, finished_at, heartbeat_at, version) " +
            "SELECT @s, g, 'complete', 0, 'fill', 0, 0, 0, 0, g + 1 FROM generate_series(0, @c - 1) g", c, tx))
        {
            cmd.Parameters.AddWithValue("s", id);
            cmd.Parameters.AddWithValue("c", (long)count);
            await cmd.ExecuteNonQueryAsync();
        }
        await using (var cmd = new NpgsqlCommand(
            "INSERT INTO trial_params (trial_id, name, value_json, distribution_json) " +
            "SELECT id, 'x', (((number * 7919) % 2000) / 100.0 - 10)::text, @d FROM trials WHERE study_id = @s", c, tx))
        {
            cmd.Parameters.AddWithValue("s", id);
            cmd.Parameters.AddWithValue("d", DistributionJson.Serialize(new FloatDistribution(-10, 10)));
            await cmd.ExecuteNonQueryAsync();
        }
        await using (var cmd = new NpgsqlCommand("UPDATE trials SET value = (SELECT (p.value_json::float8) ^ 2 FROM trial_params p WHERE p.trial_id = trials.id) WHERE study_id = @s", c, tx))
        {
            cmd.Parameters.AddWithValue("s", id);
            await cmd.ExecuteNonQueryAsync();
        }
        await tx.CommitAsync();
        await using (var cmd = new NpgsqlCommand("ANALYZE", c)) await cmd.ExecuteNonQueryAsync();
        return name;
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var c = new NpgsqlConnection(PostgresUrl.Parse(_server).ConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        await cmd.ExecuteNonQueryAsync();
    }

    public async ValueTask DisposeAsync() => await ExecuteAsync($"DROP SCHEMA IF EXISTS {_name} CASCADE");
}
