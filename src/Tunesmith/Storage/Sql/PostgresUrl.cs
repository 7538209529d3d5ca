using System.Globalization;
using Npgsql;

namespace Tunesmith.Storage.Sql;

/// <summary>
/// Reads a libpq-style URL (<c>postgresql://user:pass@host:port/db?sslmode=require&amp;application_name=x</c>, also
/// <c>postgres://</c>) into Npgsql connection settings, and writes the URL back with its password hidden. Users copy such
/// URLs from libpq, psql and SQLAlchemy, so Tunesmith accepts the same spelling rather than Npgsql's key=value one.
/// </summary>
public static class PostgresUrl
{
    /// <summary>True when <paramref name="url"/> names a PostgreSQL storage (<c>postgresql://</c> or <c>postgres://</c>).</summary>
    public static bool IsPostgres(string url) =>
        url.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The URL with any password replaced by <c>***</c>: the only form of a PostgreSQL URL that Tunesmith ever prints, so a
    /// password in a URL never reaches a log, an error message or a terminal.
    /// </summary>
    public static string Redact(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        var scheme = url.IndexOf("://", StringComparison.Ordinal);
        if (scheme < 0) return url;
        var rest = url[(scheme + 3)..];
        var pathStart = rest.IndexOfAny(['/', '?']);
        var authority = pathStart < 0 ? rest : rest[..pathStart];
        var tail = pathStart < 0 ? "" : rest[pathStart..];
        var at = authority.LastIndexOf('@');
        if (at >= 0)
        {
            var userInfo = authority[..at];
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            if (colon >= 0) authority = userInfo[..colon] + ":***" + authority[at..];
        }
        // A password may also come as a query parameter.
        var q = tail.IndexOf('?', StringComparison.Ordinal);
        if (q >= 0)
        {
            var parts = tail[(q + 1)..].Split('&');
            for (var i = 0; i < parts.Length; i++)
                if (parts[i].StartsWith("password=", StringComparison.OrdinalIgnoreCase)) parts[i] = "password=***";
            tail = tail[..(q + 1)] + string.Join('&', parts);
        }
        return url[..(scheme + 3)] + authority + tail;
    }

    /// <summary>Seconds a connection attempt may take when the URL sets no <c>connect_timeout</c>.</summary>
    public const int DefaultConnectTimeoutSeconds = 10;

    /// <summary>
    /// The Npgsql connection settings a URL names. The password may come from the URL, from <c>PGPASSWORD</c>, or from a
    /// password file (<c>passfile=</c>, <c>PGPASSFILE</c>, else <c>~/.pgpass</c>, which Npgsql reads itself). Without
    /// <c>connect_timeout</c>, a connection attempt gives up after <see cref="DefaultConnectTimeoutSeconds"/>.
    /// </summary>
    /// <exception cref="ArgumentException">A malformed URL or an unknown parameter (one line, password hidden).</exception>

    public static NpgsqlConnectionStringBuilder Parse(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        var shown = Redact(url);
        if (!IsPostgres(url))
            throw new ArgumentException($"storage URL '{shown}' is not a PostgreSQL URL: use postgresql://user:password@host:port/database", nameof(url));
        var rest = url[(url.IndexOf("://", StringComparison.Ordinal) + 3)..];
        string query = "";
        var qi = rest.IndexOf('?', StringComparison.Ordinal);
        if (qi >= 0) { query = rest[(qi + 1)..]; rest = rest[..qi]; }
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var authority = slash < 0 ? rest : rest[..slash];
        var database = slash < 0 ? "" : Uri.UnescapeDataString(rest[(slash + 1)..]);

        // A server that cannot be reached fails the first connection in seconds, not Npgsql's 15 s (connect_timeout overrides).
        var b = new NpgsqlConnectionStringBuilder { Timeout = DefaultConnectTimeoutSeconds };
        var at = authority.LastIndexOf('@');
        if (at >= 0)
        {
            var userInfo = authority[..at];
            authority = authority[(at + 1)..];
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            var user = Uri.UnescapeDataString(colon < 0 ? userInfo : userInfo[..colon]);
            if (user.Length > 0) b.Username = user;
            if (colon >= 0) b.Password = Uri.UnescapeDataString(userInfo[(colon + 1)..]);
        }
        if (authority.Length > 0) ParseHosts(authority, b, shown);
        if (database.Length > 0) b.Database = database;

        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]);
            var value = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' '));
            ApplyParameter(b, key, value, shown);
        }

        // libpq's environment defaults for what the URL leaves out.
        b.Host ??= Environment.GetEnvironmentVariable("PGHOST") is { Length: > 0 } h ? h : "localhost";
        if (b.Username is null && Environment.GetEnvironmentVariable("PGUSER") is { Length: > 0 } u) b.Username = u;
        if (b.Database is null && Environment.GetEnvironmentVariable("PGDATABASE") is { Length: > 0 } d) b.Database = d;
        if (!url.Contains("sslmode=", StringComparison.OrdinalIgnoreCase)
            && Environment.GetEnvironmentVariable("PGSSLMODE") is { Length: > 0 } ssl) ApplyParameter(b, "sslmode", ssl, shown);
        if (b.Password is null && Environment.GetEnvironmentVariable("PGPASSWORD") is { Length: > 0 } p) b.Password = p;
        if (b.Password is null && b.Passfile is null && Environment.GetEnvironmentVariable("PGPASSFILE") is { Length: > 0 } pf) b.Passfile = pf;
        return b;
    }

    private static void ParseHosts(string authority, NpgsqlConnectionStringBuilder b, string shown)
    {
        // host[:port][,host[:port]...]; an IPv6 address in brackets.
        var hosts = new List<string>();
        int? port = null;
        foreach (var item in authority.Split(','))
        {
            string host;
            string? portText = null;
            if (item.StartsWith('['))
            {
                var close = item.IndexOf(']', StringComparison.Ordinal);
                if (close < 0) throw new ArgumentException($"storage URL '{shown}': unclosed '[' in host", "url");
                host = item[1..close];
                if (close + 1 < item.Length && item[close + 1] == ':') portText = item[(close + 2)..];
            }
            else
            {
                var colon = item.LastIndexOf(':');
                host = colon < 0 ? item : item[..colon];
                if (colon >= 0) portText = item[(colon + 1)..];
            }
            if (portText is { Length: > 0 })
            {
                if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var p) || p is < 1 or > 65535)
                    throw new ArgumentException($"storage URL '{shown}': port '{portText}' is not a number from 1 to 65535", "url");
                port = p;
            }
            if (host.Length > 0) hosts.Add(Uri.UnescapeDataString(host));
        }
        if (hosts.Count > 0) b.Host = string.Join(',', hosts);
        if (port is { } pp) b.Port = pp;
    }

    private static void ApplyParameter(NpgsqlConnectionStringBuilder b, string key, string value, string shown)
    {
        try
        {
            switch (key.ToLowerInvariant())
            {
                case "host": b.Host = value; break; // e.g. a unix socket directory
                case "port": b.Port = int.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture); break;
                case "dbname": b.Database = value; break;
                case "user": b.Username = value; break;
                case "password": b.Password = value; break;
                case "passfile": b.Passfile = value; break;
                case "sslmode": b.SslMode = Enum.Parse<SslMode>(value.Replace("-", "", StringComparison.Ordinal), ignoreCase: true); break;
                case "sslcert": b.SslCertificate = value; break;
                case "sslkey": b.SslKey = value; break;
                case "sslrootcert": b.RootCertificate = value; break;
                case "sslpassword": b.SslPassword = value; break;
                case "application_name": b.ApplicationName = value; break;
                case "connect_timeout": b.Timeout = int.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture); break;
                case "options": b.Options = value; break;
                case "target_session_attrs": b.TargetSessionAttributes = value; break;
                case "keepalives_idle": b.TcpKeepAliveTime = int.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture); break;
                case "keepalives_interval": b.TcpKeepAliveInterval = int.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture); break;
                case "keepalives": b.TcpKeepAlive = value != "0"; break;
                case "client_encoding": b.ClientEncoding = value; break;
                case "gssencmode": b.GssEncryptionMode = Enum.Parse<GssEncryptionMode>(value, ignoreCase: true); break;
                case "krbsrvname": b.KerberosServiceName = value; break;
                case "channel_binding": b.ChannelBinding = Enum.Parse<ChannelBinding>(value, ignoreCase: true); break;
                // Not libpq's, but what a shared study server needs: which schema holds Tunesmith's tables.
                case "search_path": b.SearchPath = value; break;
                // Tunesmith's own, for many workers on one server: the most connections one process opens, and how long an
                // idle one stays open (0: none stays open; each operation connects and disconnects, see docs/SLURM.md).
                case "pool_max_size":
                    b.MaxPoolSize = int.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture) is var max and >= 1 ? max : throw new FormatException("pool_max_size must be ≥ 1");
                    break;
                // 0 turns off Npgsql's automatic server-side prepared statements (for PgBouncer before 1.21 in transaction mode).
                case "max_auto_prepare": b.MaxAutoPrepare = int.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture); break;
                case "pool_idle_lifetime":
                    var idle = int.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture);
                    if (idle == 0) b.Pooling = false;
                    else { b.ConnectionIdleLifetime = idle; b.ConnectionPruningInterval = Math.Clamp(idle / 2, 1, 10); }
                    break;
                default:
                    throw new ArgumentException($"storage URL '{shown}': unknown parameter '{key}'", "url");
            }
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException and not ArgumentException { ParamName: "url" })
        {
            throw new ArgumentException($"storage URL '{shown}': bad value for '{key}'", "url", e);
        }
    }
}
