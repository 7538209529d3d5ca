using System.CommandLine;

namespace Tunesmith.Cli.Internal;

/// <summary>Builders for the options several commands share, so each is spelled and described once.</summary>
internal static class CommonOptions
{
    /// <summary><c>--storage URL</c>; <paramref name="fromStudyFile"/>: the command reads a study file, whose <c>storage:</c> comes before the environment.</summary>
    public static Option<string?> Storage(bool fromStudyFile = false) => new("--storage")
    {
        Description = "Storage URL (sqlite:///path.db, postgresql://user:password@host:port/database, memory:); default: "
            + (fromStudyFile ? "the study file's storage:, then " : "") + "$TUNESMITH_STORAGE, then sqlite:///tunesmith.db",
        HelpName = "URL",
    };

    /// <summary><c>--study NAME</c>.</summary>
    public static Option<string> Study(bool required = true) => new("--study")
    {
        Description = "The study's name",
        HelpName = "NAME",
        Required = required,
    };

    /// <summary><c>--set name=value</c>, repeatable.</summary>
    public static Option<string[]> Set(string description) => new("--set")
    {
        Description = description,
        HelpName = "name=value",
        Arity = ArgumentArity.ZeroOrMore,
    };

    /// <summary><c>--quiet</c>: no progress output.</summary>
    public static Option<bool> Quiet() => new("--quiet", "-q") { Description = "Print no progress and no log lines, only errors and the final summary" };

    /// <summary><c>--update-space</c>: accept a changed space for a study with trials when every trial fits it.</summary>
    public static Option<bool> UpdateSpace() => new("--update-space") { Description = "Accept a study file whose space differs from the stored study's (it has trials) when every stored trial still fits the new space" };

    /// <summary><c>--log-format text|json</c>.</summary>
    public static Option<string> LogFormat()
    {
        var option = new Option<string>("--log-format")
        {
            Description = "Progress output: text (a live view in a terminal, one line per finished trial otherwise) or json (one JSON object per event line)",
            DefaultValueFactory = _ => "text",
            HelpName = "text|json",
        };
        option.AcceptOnlyFromAmong("text", "json");
        return option;
    }

    /// <summary><c>--verbose</c>/<c>-v</c> (on every command): the library's info and debug log on stderr, and details for unexpected errors.</summary>
    public static Option<bool> Verbose() => new("--verbose", "-v")
    {
        Description = "Log what Tunesmith does (info and debug lines on stderr), and print the stack trace of an unexpected error",
        Recursive = true,
    };

    /// <summary><c>--yes</c>.</summary>
    public static Option<bool> Yes(string description) => new("--yes", "-y") { Description = description };
}
