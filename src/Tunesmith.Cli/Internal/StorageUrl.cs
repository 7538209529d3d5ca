using Tunesmith.Storage;

namespace Tunesmith.Cli.Internal;

/// <summary>Chooses the storage URL: <c>--storage</c>, then the study file's <c>storage:</c>, then <c>TUNESMITH_STORAGE</c>, then the SQLite default.</summary>
internal static class StorageUrl
{
    /// <summary>The environment variable consulted when neither the flag nor the study file names a storage.</summary>
    public const string EnvironmentVariable = "TUNESMITH_STORAGE";

    /// <summary>The URL as the CLI prints it: a PostgreSQL password replaced by <c>***</c>.</summary>
    public static string Shown(string url) => Tunesmith.Storage.Sql.PostgresUrl.Redact(url);

    /// <summary>Resolves the URL by precedence; blank values count as absent.</summary>
    public static string Resolve(string? option, string? fromStudyFile, CliConsole console)
    {
        if (!string.IsNullOrWhiteSpace(option)) return option.Trim();
        if (!string.IsNullOrWhiteSpace(fromStudyFile)) return fromStudyFile.Trim();
        var env = console.GetEnvironment(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(env)) return env.Trim();
        return StudyStorage.DefaultUrl;
    }
}
