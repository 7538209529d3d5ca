namespace Tunesmith.Cli.Internal;

/// <summary>A user error found by the CLI itself (a bad flag value, a missing confirmation): printed as one line, exit code 2.</summary>
internal sealed class CliUsageException(string message) : Exception(message);

/// <summary>The exit codes of <c>tunesmith</c>.</summary>
internal static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Ok = 0;
    /// <summary>The study ran but stopped on a failure (fail_fast), or an unexpected error occurred.</summary>
    public const int Failed = 1;
    /// <summary>Bad input: a flag, a study file, a storage URL, a combinations file, an unknown study.</summary>
    public const int BadInput = 2;
    /// <summary>Stopped by SIGINT (128 + 2), as shells report it.</summary>
    public const int Interrupted = 130;
    /// <summary>Stopped by SIGTERM (128 + 15).</summary>
    public const int Terminated = 143;
}
