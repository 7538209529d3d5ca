using Tunesmith.Backends.Slurm;
using Tunesmith.Storage;

namespace Tunesmith.Cli.Internal;

/// <summary>Chooses the storage URL: <c>--storage</c>, then the study file's <c>storage:</c>, then <c>TUNESMITH_STORAGE</c>, then the SQLite default.</summary>
internal static class StorageUrl
{
    /// <summary>The environment variable consulted when neither the flag nor the study file names a storage.</summary>
    public const string EnvironmentVariable = StorageLocation.EnvironmentVariable;

    /// <summary>The URL as the CLI prints it: a PostgreSQL password replaced by <c>***</c>.</summary>
    public static string Shown(string url) => Tunesmith.Storage.Sql.PostgresUrl.Redact(url);

    /// <summary>
    /// The <c> --storage URL</c> to put in a command the CLI suggests, or nothing when the URL came from <c>TUNESMITH_STORAGE</c>:
    /// written out, a PostgreSQL URL shows its password as <c>***</c> and the pasted command would fail to log in.
    /// </summary>
    public static string HintFlag(string url, CliConsole console) =>
        console.GetEnvironment(EnvironmentVariable) == url ? "" : $" --storage {SbatchScript.Quote(Shown(url))}";

    /// <summary>Resolves the URL by the library's precedence (<see cref="StorageLocation.Resolve"/>), reading the console's environment.</summary>
    public static string Resolve(string? option, string? fromStudyFile, CliConsole console) =>
        StorageLocation.Resolve(option, fromStudyFile, console.GetEnvironment);
}
