using System.Text.Json;
using Tunesmith.Spaces;
using Tunesmith.Storage;

namespace Tunesmith.Cli.Internal;

/// <summary>Turns an exception into the one line the user sees and the exit code, so no user error shows a stack trace.</summary>
internal static class ErrorLine
{
    /// <summary>The message and exit code for <paramref name="error"/>; <c>Unexpected</c> is true when it is a bug rather than bad input.</summary>
    public static (string Message, int ExitCode, bool Unexpected) Describe(Exception error) => error switch
    {
        CliUsageException e => (e.Message, ExitCodes.BadInput, false),
        StudyStorageException e => (e.Message, ExitCodes.BadInput, false),
        Tunesmith.Backends.TrialDirectoryException e => (e.Message, ExitCodes.BadInput, false),
        StudyNotFoundException e => (e.Message, ExitCodes.BadInput, false),
        StudyExistsException e => (e.Message, ExitCodes.BadInput, false),
        SearchSpaceException e => (e.Message, ExitCodes.BadInput, false),
        CombinationFileException e => (e.Message, ExitCodes.BadInput, false),
        FileNotFoundException e => (e.Message, ExitCodes.BadInput, false),
        DirectoryNotFoundException e => (e.Message, ExitCodes.BadInput, false),
        UnauthorizedAccessException e => (e.Message, ExitCodes.BadInput, false),
        JsonException e => (e.Message, ExitCodes.BadInput, false),
        ArgumentException e => (StripParamName(e), ExitCodes.BadInput, false),
        FormatException e => (e.Message, ExitCodes.BadInput, false),
        IOException e when IsOutOfSpace(e) => ($"cannot write: {e.Message}", ExitCodes.BadInput, false),
        _ when IsKnownUserError(error) => (error.Message, ExitCodes.BadInput, false),
        _ => ($"unexpected error: {error.GetType().Name}: {error.Message} (run with --verbose for details)", ExitCodes.Failed, true),
    };

    // Library exceptions for bad input that the CLI does not reference by type (e.g. the study-file parser's) end in "Exception"
    // and live in the Tunesmith namespace; they carry one-line messages by contract.
    private static bool IsKnownUserError(Exception e) =>
        e.GetType().Namespace?.StartsWith("Tunesmith", StringComparison.Ordinal) == true
        && e.GetType().Name is "StudyFileException" or "ReportException";

    // No space left on the device (ENOSPC), a disk quota exceeded (EDQUOT), or .NET's own words for a failed preallocation:
    // the machine's state, not a bug (e.g. stdout redirected to a file on a full disk).
    private static bool IsOutOfSpace(IOException e) =>
        e.HResult is 28 or 122 or unchecked((int)0x80070070) or unchecked((int)0x80070027)
        || e.Message.Contains("No space left on device", StringComparison.Ordinal)
        || e.Message.Contains("Disk quota exceeded", StringComparison.Ordinal)
        || e.Message.Contains("because the disk was full", StringComparison.Ordinal);

    private static string StripParamName(ArgumentException e) =>
        e.ParamName is { } p && e.Message.EndsWith($" (Parameter '{p}')", StringComparison.Ordinal)
            ? e.Message[..^$" (Parameter '{p}')".Length]
            : e.Message;

    /// <summary>
    /// The message of <paramref name="e"/> without .NET's " (Parameter 'name')", wherever it stands (an
    /// <see cref="ArgumentOutOfRangeException"/> puts its actual value after it): for a library error about a storage URL or
    /// a study file's resources, whose parameter name means nothing to a CLI user.
    /// </summary>
    public static string WithoutParamName(ArgumentException e) =>
        e.ParamName is { } p ? e.Message.Replace($" (Parameter '{p}')", "", StringComparison.Ordinal) : e.Message;

    /// <summary>Collapses a message onto one line.</summary>
    public static string OneLine(string message) =>
        string.Join(" ", message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
