using System.Diagnostics;
using System.Globalization;
using Npgsql;
using Tunesmith.Storage;
using Tunesmith.Storage.Sql;
using Tunesmith.Trials;

namespace Tunesmith.Bench;

/// <summary>
/// Many workers on one PostgreSQL server (docs/BENCHMARKS.md, "Scale on one database"): W workers spread over P processes,
/// each worker with its own storage (its own Npgsql data source, as separate cluster jobs would have), all running one
/// trial at once: start it, heartbeat and report every H seconds for T seconds, finish it. A monitor samples the
/// server's connections and the running trials. Every storage error a worker sees (after the storage's own retries) counts.
/// </summary>
internal static class PostgresWorkersBenchmark
{
    /// <remarks>
    /// <paramref name="workersServer"/> (e.g. PgBouncer's port) is where the workers connect; the schema is made and the
    /// server's connections are counted at <paramref name="server"/>. Behind PgBouncer, which drops a <c>search_path</c>
    /// startup parameter (<c>ignore_startup_parameters</c>), name the schema after the user (<paramref name="schemaName"/>):
    /// the server's default search path (<c>"$user", public</c>) then finds it.
    /// </remarks>
    public static async Task<int> RunAsync(string server, int workers, int processes, double trialSeconds, double heartbeatSeconds, string poolParameters,
        string? workersServer = null, string? schemaName = null)
    {
        await using var schema = await PostgresBenchSchema.CreateAsync(server, schemaName);
        long studyId;
        await using (var storage = new PostgresStudyStorage(schema.Url))
            studyId = (await storage.CreateStudyAsync("scale", Direction.Minimize)).Id;
        var workersUrl = workersServer is null ? schema.Url
            : workersServer + (workersServer.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "search_path=" + schema.Name;
        var url = workersUrl + (poolParameters.Length > 0 ? "&" + poolParameters : "");
        if (workersServer is not null) Console.Error.WriteLine($"workers connect to {PostgresUrl.Redact(workersServer)}");
        var maxConnections = await ScalarAsync(server, "SHOW max_connections");
        Console.Error.WriteLine($"{workers} workers in {processes} processes, trials of {trialSeconds} s with a heartbeat and a report every {heartbeatSeconds} s; " +
            $"server max_connections={maxConnections}; pool: {(poolParameters.Length > 0 ? poolParameters : "Npgsql defaults (idle connections kept 300 s)")}");

        using var stop = new CancellationTokenSource();
        var peaks = MonitorAsync(schema.Url, stop.Token);
        var sw = Stopwatch.StartNew();
        var children = Enumerable.Range(0, processes).Select(p =>
        {
            var count = workers / processes + (p < workers % processes ? 1 : 0);
            var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") psi.ArgumentList.Add(typeof(PostgresWorkersBenchmark).Assembly.Location);
            foreach (var a in new[] { "pg-workers-child", url, studyId.ToString(CultureInfo.InvariantCulture), count.ToString(CultureInfo.InvariantCulture),
                trialSeconds.ToString(CultureInfo.InvariantCulture), heartbeatSeconds.ToString(CultureInfo.InvariantCulture), p.ToString(CultureInfo.InvariantCulture) })
                psi.ArgumentList.Add(a);
            return Process.Start(psi)!;
        }).ToList();
        var outputs = await Task.WhenAll(children.Select(async c => { var o = await c.StandardOutput.ReadToEndAsync(); await c.WaitForExitAsync(); return o; }));
        var elapsed = sw.Elapsed.TotalSeconds;
        await stop.CancelAsync();
        var (peakConnections, peakRunning) = await peaks;
        long errors = 0, operations = 0, completed = 0;
        var firstErrors = new List<string>();
        foreach (var line in outputs.SelectMany(o => o.Split('\n', StringSplitOptions.RemoveEmptyEntries)))
        {
            var f = line.Split('\t');
            if (f[0] == "totals") { operations += long.Parse(f[1], CultureInfo.InvariantCulture); errors += long.Parse(f[2], CultureInfo.InvariantCulture); completed += long.Parse(f[3], CultureInfo.InvariantCulture); }
            else if (f[0] == "error" && firstErrors.Count < 3) firstErrors.Add(f[1]);
        }
        Console.WriteLine($"workers={workers} processes={processes} completed={completed} operations={operations} errors={errors} " +
            $"peak_running_trials={peakRunning} peak_server_connections={peakConnections} max_connections={maxConnections} wall_s={elapsed:0.0}");
        foreach (var e in firstErrors) Console.WriteLine("  error: " + e);
        return errors == 0 && completed == workers ? 0 : 1;
    }

    /// <summary>One process's workers; prints "totals ops errors completed" and the first errors.</summary>
    public static async Task<int> ChildAsync(string url, long studyId, int workers, double trialSeconds, double heartbeatSeconds, int processIndex)
    {
        long operations = 0, errors = 0, completed = 0;
        var messages = new System.Collections.Concurrent.ConcurrentQueue<string>();
        async Task Op(Func<Task> op)
        {
            try { await op(); Interlocked.Increment(ref operations); }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Interlocked.Increment(ref errors);
                messages.Enqueue($"{e.GetType().Name}: {e.Message.Split('\n')[0]}");
            }
        }
        async Task Worker(int i)
        {
            await using var storage = new PostgresStudyStorage(url);
            var name = $"w{processIndex}-{i}";
            FrozenTrial? trial = null;
            await Op(async () => trial = await storage.StartTrialAsync(studyId, name));
            if (trial is null) return;
            var end = Stopwatch.StartNew();
            var step = 0;
            while (end.Elapsed.TotalSeconds < trialSeconds)
            {
                await Task.Delay(TimeSpan.FromSeconds(heartbeatSeconds * (0.5 + Random.Shared.NextDouble())));
                var s = step++;
                await Op(() => storage.HeartbeatAsync([trial.Id], name));
                await Op(() => storage.UpdateTrialAsync(trial.Id, name, new TrialUpdate { Intermediate = [(s, 1.0 / (s + 1))] }));
            }
            await Op(async () =>
            {
                var outcome = await storage.UpdateTrialAsync(trial.Id, name, new TrialUpdate { FinalState = TrialState.Complete, Value = 0.5 });
                if (outcome == TrialWriteOutcome.Applied) Interlocked.Increment(ref completed);
            });
        }
        await Task.WhenAll(Enumerable.Range(0, workers).Select(i => Task.Run(() => Worker(i))));
        foreach (var m in messages.Take(3)) Console.WriteLine("error\t" + m);
        Console.WriteLine($"totals\t{operations}\t{errors}\t{completed}");
        return 0;
    }

    private static async Task<(long Connections, long Running)> MonitorAsync(string schemaUrl, CancellationToken ct)
    {
        long peakConnections = 0, peakRunning = 0;
        await using var c = new NpgsqlConnection(PostgresUrl.Parse(schemaUrl).ConnectionString);
        await c.OpenAsync(CancellationToken.None);
        while (!ct.IsCancellationRequested)
        {
            await using (var cmd = new NpgsqlCommand("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'", c))
                peakConnections = Math.Max(peakConnections, (long)(await cmd.ExecuteScalarAsync(CancellationToken.None))!);
            await using (var cmd = new NpgsqlCommand("SELECT count(*) FROM trials WHERE state = 'running'", c))
                peakRunning = Math.Max(peakRunning, (long)(await cmd.ExecuteScalarAsync(CancellationToken.None))!);
            try { await Task.Delay(100, ct); } catch (OperationCanceledException) { }
        }
        return (peakConnections, peakRunning);
    }

    private static async Task<string> ScalarAsync(string server, string sql)
    {
        await using var c = new NpgsqlConnection(PostgresUrl.Parse(server).ConnectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        return Convert.ToString(await cmd.ExecuteScalarAsync(), CultureInfo.InvariantCulture)!;
    }
}
