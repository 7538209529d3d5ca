using Tunesmith.Reporting;

namespace Tunesmith.Cli.Internal;

/// <summary>The file a flag such as <c>--output</c> names: checked before the work that fills it, and written so that a bad path is one line naming the flag.</summary>
internal static class OutputFile
{
    /// <summary>Throws <see cref="CliUsageException"/> when <paramref name="path"/> cannot be a file to write: a directory, or in a directory that does not exist.</summary>
    public static void Check(string flag, string path)
    {
        if (Directory.Exists(path)) throw new CliUsageException($"{flag} {path}: is a directory; give a file name");
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null && !Directory.Exists(dir)) throw new CliUsageException($"{flag} {path}: directory '{dir}' does not exist");
    }

    /// <summary>
    /// Writes <paramref name="text"/> to <paramref name="path"/> whole or not at all, as every report and plot file is
    /// written (<see cref="ReportFile"/>: a temporary file beside it, flushed, renamed over it; a symbolic link or a path
    /// under /dev or /proc is written in place); a path that cannot be written is <see cref="CannotWrite"/>'s line.
    /// </summary>
    public static async Task WriteAsync(string flag, string path, string text, CancellationToken cancellationToken)
    {
        Check(flag, path);
        try { await ReportFile.WriteAsync(path, text, cancellationToken); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw CannotWrite(flag, path, e); }
    }

    /// <summary>The one line for a file or directory a flag names that could not be written: <c>--output r.csv: cannot write: No space left on device ...</c>.</summary>
    public static CliUsageException CannotWrite(string flag, string path, Exception e) => new($"{flag} {path}: cannot write: {e.Message}");
}
