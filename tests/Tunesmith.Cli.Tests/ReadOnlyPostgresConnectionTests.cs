using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging.Abstractions;
using Tunesmith.Cli.Internal;

namespace Tunesmith.Cli.Tests;

/// <summary>
/// The commands that only read a PostgreSQL study open one pool of read-only connections and no probe: counted by
/// Npgsql's own metric for each physical connection it opens (tagged with the pool, so other tests' connections are
/// told apart by this test's application name).
/// </summary>
public sealed class ReadOnlyPostgresConnectionTests
{
    [SkippableFact]
    public async Task Report_best_and_status_on_postgres_open_one_connection_of_one_pool()
    {
        using var schema = Tunesmith.Tests.Storage.PostgresTestServer.NewSchema();
        using var dir = new TempDir();
        dir.Write("study.yaml", "name: s\nmetric: loss\ntrials: 2\ncommand: [python3, -c, 'print(1)']\nspace: { x: { float: [0, 1] } }\n");
        Assert.Equal(0, (await CliProcess.RunAsync(dir.Path, ["create", "study.yaml", "--storage", schema.Url])).ExitCode);

        foreach (var args in new[] { ["report", "--study", "s"], ["best", "--study", "s"], ["status"], new[] { "status", "--study", "s" } })
        {
            var tag = "ts-conn-" + Guid.NewGuid().ToString("N")[..12];
            var pools = new ConcurrentQueue<string>();
            using (var listener = new MeterListener())
            {
                listener.InstrumentPublished = (instrument, l) =>
                {
                    if (instrument.Meter.Name.StartsWith("Npgsql", StringComparison.Ordinal) && instrument.Name == "db.client.connection.npgsql.create_time")
                        l.EnableMeasurementEvents(instrument);
                };
                // One measurement per physical connection opened, tagged with its pool (the connection string, no password).
                listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
                {
                    foreach (var t in tags)
                        if (t.Key == "db.client.connection.pool.name" && t.Value is string pool && pool.Contains(tag, StringComparison.Ordinal)) pools.Enqueue(pool);
                });
                listener.Start();
                var output = new StringWriter();
                var console = new CliConsole(output, output, _ => null, outputIsTerminal: false);
                var code = await CliApplication.RunAsync([.. args, "--storage", schema.Url + "&application_name=" + tag], console, TimeProvider.System, NullLoggerFactory.Instance);
                Assert.True(code is 0 or 1, $"{string.Join(' ', args)}: exit {code}: {output}"); // best exits 1: no complete trial yet
            }
            var opened = Assert.Single(pools); // one connection: no probe pool beside the one that reads
            Assert.Contains("default_transaction_read_only=on", opened, StringComparison.Ordinal);
        }
    }
}
