using Npgsql;
using Tunesmith.Storage.Sql;

namespace Tunesmith.Storage;

/// <summary>The kind of store a storage URL names.</summary>
public enum StorageKind
{
    /// <summary><c>memory:</c> — this process only, gone when it ends.</summary>
    Memory,
    /// <summary><c>sqlite:///path.db</c> — one file, safe for several local processes.</summary>
    Sqlite,
    /// <summary><c>postgresql://user:password@host:port/database</c> — shared by many machines.</summary>
    Postgres,
}

/// <summary>
/// A storage URL parsed once, by the one set of rules every part of Tunesmith uses: its kind, the SQLite file it names,
/// the PostgreSQL connection settings, and the form to show (password redacted). <see cref="Resolve"/> picks the URL by
/// the precedence the CLI applies — the flag, the study file, <c>TUNESMITH_STORAGE</c>, the default — so a library user
/// gets the same behaviour.
/// </summary>
public sealed record StorageLocation
{
    /// <summary>The environment variable consulted when neither a flag nor a study file names a storage.</summary>
    public const string EnvironmentVariable = "TUNESMITH_STORAGE";

    private StorageLocation(string url, StorageKind kind, string? sqlitePath)
    {
        Url = url;
        Kind = kind;
        SqlitePath = sqlitePath;
    }

    /// <summary>The URL (trimmed; a relative SQLite path made absolute when parsed against a base directory).</summary>
    public string Url { get; }

    /// <summary>The kind of store.</summary>
    public StorageKind Kind { get; }

    /// <summary>The SQLite database file (absolute path) for <see cref="StorageKind.Sqlite"/>, else null.</summary>
    public string? SqlitePath { get; }

    /// <summary>The URL as it may be shown or logged: a PostgreSQL password replaced by <c>***</c>.</summary>
    public string Display => PostgresUrl.Redact(Url);

    /// <summary>The PostgreSQL connection settings for <see cref="StorageKind.Postgres"/> (a new builder each call), else null.</summary>
    public NpgsqlConnectionStringBuilder? PostgresSettings => Kind == StorageKind.Postgres ? PostgresUrl.Parse(Url) : null;

    /// <inheritdoc />
    public override string ToString() => Display;

    /// <summary>
    /// Parses a storage URL: <c>memory:</c>, <c>sqlite:///relative/path.db</c> (relative to <paramref name="baseDirectory"/>,
    /// default the current directory), <c>sqlite:////absolute/path.db</c>, or <c>postgresql://</c> / <c>postgres://</c>.
    /// Throws <see cref="ArgumentException"/> with a one-line reason naming the URL (password redacted).
    /// </summary>
    public static StorageLocation Parse(string url, string? baseDirectory = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(url);
        var text = url.Trim();
        if (text is "memory:" or "memory://" or ":memory:") return new StorageLocation(text, StorageKind.Memory, null);
        if (text.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
        {
            var path = SqliteFile(text, baseDirectory);
            var relative = !text.StartsWith("sqlite:////", StringComparison.Ordinal) && baseDirectory is not null;
            return new StorageLocation(relative ? "sqlite:///" + path : text, StorageKind.Sqlite, path);
        }
        if (PostgresUrl.IsPostgres(text))
        {
            _ = PostgresUrl.Parse(text); // malformed settings fail here, with the one-line reason
            return new StorageLocation(text, StorageKind.Postgres, null);
        }
        throw new ArgumentException(
            $"storage URL '{PostgresUrl.Redact(text)}' is not supported: use memory:, sqlite:///relative/path.db, sqlite:////absolute/path.db or postgresql://user:password@host:port/database",
            nameof(url));
    }

    /// <summary>
    /// The storage URL by precedence: <paramref name="flag"/> (e.g. <c>--storage</c>), then <paramref name="studyFile"/>
    /// (a study file's <c>storage:</c>, relative paths already resolved against the file), then <see cref="EnvironmentVariable"/>
    /// read through <paramref name="environment"/> (default the process environment), then <see cref="StudyStorage.DefaultUrl"/>.
    /// Blank values count as absent.
    /// </summary>
    public static string Resolve(string? flag, string? studyFile, Func<string, string?>? environment = null)
    {
        if (!string.IsNullOrWhiteSpace(flag)) return flag.Trim();
        if (!string.IsNullOrWhiteSpace(studyFile)) return studyFile.Trim();
        var env = (environment ?? Environment.GetEnvironmentVariable)(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(env)) return env.Trim();
        return StudyStorage.DefaultUrl;
    }

    // sqlite:///relative or sqlite:////absolute, SQLAlchemy style; no options after '?'.
    private static string SqliteFile(string url, string? baseDirectory)
    {
        const string prefix = "sqlite:///";
        if (!url.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException(
                $"storage URL '{url}' is not a SQLite URL: use sqlite:///relative/path.db (three slashes) or sqlite:////absolute/path.db (four)", nameof(url));
        var rest = url[prefix.Length..];
        if (rest.Length == 0 || rest == "/")
            throw new ArgumentException($"storage URL '{url}' names no file: use sqlite:///relative/path.db or sqlite:////absolute/path.db", nameof(url));
        if (rest.Contains('?'))
            throw new ArgumentException($"storage URL '{url}': options after '?' are not supported", nameof(url));
        return baseDirectory is null ? Path.GetFullPath(rest) : Path.GetFullPath(rest, Path.GetFullPath(baseDirectory));
    }
}
