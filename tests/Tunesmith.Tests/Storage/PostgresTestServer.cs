using Npgsql;
using Tunesmith.Storage.Sql;
using Xunit;

namespace Tunesmith.Tests.Storage;

/// <summary>
/// The PostgreSQL server the tests use: the URL in <c>TUNESMITH_TEST_POSTGRES</c> (CI sets it from scripts/ci-postgres.sh;
/// locally, run <c>scripts/postgres-local.sh start</c> and export what it prints). Under <c>CI=true</c> a missing or
/// unreachable server fails the test; without CI it skips it, saying why.
/// </summary>
public static class PostgresTestServer
{
    public const string Variable = "TUNESMITH_TEST_POSTGRES";
    private static readonly Lazy<string?> Unreachable = new(Probe);

    private static bool UnderCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The server's URL; skips (CI unset) or fails (CI=true) the calling test when there is no usable server.</summary>
    public static string Url
    {
        get
        {
            var url = Environment.GetEnvironmentVariable(Variable);
            string? problem = string.IsNullOrWhiteSpace(url) ? $"{Variable} is not set" : Unreachable.Value;
            if (problem is null) return url!;
            if (UnderCi) throw new InvalidOperationException($"PostgreSQL tests need a server under CI=true: {problem}");
            Skip.If(true, $"{problem}; skipped because CI is unset (under CI=true this fails). Start one with scripts/postgres-local.sh start and export {Variable}=<the URL it prints>");
            return url!;
        }
    }

    private static string? Probe()
    {
        var url = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrWhiteSpace(url)) return null;
        // The probe asks whether there is a server, not how fast it answers: with the suite's test assemblies and the
        // server on two busy cores a first connection once took over 5 s, and one timed-out probe failed every PostgreSQL
        // test of the run. A refused or rejected connection fails at once; only a timeout is tried again (four 15 s tries).
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var b = PostgresUrl.Parse(url);
                b.Timeout = 15;
                using var c = new NpgsqlConnection(b.ConnectionString);
                c.Open();
                return null;
            }
            catch (Exception e) when (attempt < 4 && (e is TimeoutException || e.InnerException is TimeoutException))
            {
            }
            catch (Exception e)
            {
                return $"cannot reach {PostgresUrl.Redact(url)}: {e.Message.Split('\n')[0]}";
            }
        }
    }

    /// <summary>A fresh, empty schema on the server, dropped on dispose: a test's own database, as a URL.</summary>
    public static PostgresTestSchema NewSchema() => new(Url);

    /// <summary>
    /// A free port for a test's private server (scripts/postgres-local.sh --port), outside the kernel's range for
    /// outgoing connections' source ports: a port inside it can be taken by any client connection between the pick and
    /// the server's bind, or while the test restarts the server (seen once: "could not bind ... Address already in use").
    /// </summary>
    public static int PrivateServerPort()
    {
        var (low, high) = EphemeralPortRange();
        var candidates = Enumerable.Range(1024, 65535 - 1024 + 1).Where(p => p < low || p > high).ToArray();
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var port = candidates[Random.Shared.Next(candidates.Length)];
            try
            {
                using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
                probe.Start();
                return port;
            }
            catch (System.Net.Sockets.SocketException)
            {
                // Taken by another listener: try another.
            }
        }
        throw new InvalidOperationException("no free port outside the ephemeral range after 200 tries");
    }

    /// <summary>The kernel's source-port range for outgoing connections (Linux; its default elsewhere).</summary>
    internal static (int Low, int High) EphemeralPortRange()
    {
        const string file = "/proc/sys/net/ipv4/ip_local_port_range";
        if (File.Exists(file)
            && File.ReadAllText(file).Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries) is [var low, var high]
            && int.TryParse(low, System.Globalization.CultureInfo.InvariantCulture, out var l) && int.TryParse(high, System.Globalization.CultureInfo.InvariantCulture, out var h))
            return (l, h);
        return (32768, 60999);
    }
}

/// <summary>One throwaway schema; <see cref="Url"/> points Tunesmith's tables into it (<c>search_path</c>).</summary>
public sealed class PostgresTestSchema : IAsyncDisposable, IDisposable
{
    private readonly string _serverUrl;

    public PostgresTestSchema(string serverUrl)
    {
        _serverUrl = serverUrl;
        Name = "tst_" + Guid.NewGuid().ToString("N")[..16];
        Execute($"CREATE SCHEMA {Name}");
        Url = serverUrl + (serverUrl.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "search_path=" + Name;
    }

    public string Name { get; }

    public string Url { get; }

    public void Execute(string sql)
    {
        using var c = new NpgsqlConnection(PostgresUrl.Parse(_serverUrl).ConnectionString);
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    public void Dispose()
    {
        try { Execute($"DROP SCHEMA IF EXISTS {Name} CASCADE"); }
        catch (NpgsqlException) { }
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
