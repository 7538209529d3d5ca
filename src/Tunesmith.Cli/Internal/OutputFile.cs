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
    /// Writes <paramref name="text"/> to <paramref name="path"/>; a path that cannot be written is a <see cref="CliUsageException"/>
    /// naming <paramref name="flag"/>. A file is written whole or not at all: into a temporary file beside it, then renamed
    /// over it, so a full disk leaves the previous report as it was (and no half-written one). A symbolic link and a path
    /// under /dev or /proc (<c>-o /dev/stdout</c>, a shell's <c>&gt;(...)</c>) are written in place.
    /// </summary>
    public static async Task WriteAsync(string flag, string path, string text, CancellationToken cancellationToken)
    {
        Check(flag, path);
        var full = Path.GetFullPath(path);
        var existing = new FileInfo(full);
        try
        {
            if (existing.Exists && (existing.LinkTarget is not null || IsSpecialPath(full)))
                await File.WriteAllTextAsync(full, text, cancellationToken);
            else await WriteWholeAsync(full, existing.Exists, text, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliUsageException($"{flag} {path}: cannot write: {e.Message}");
        }
    }

    private static async Task WriteWholeAsync(string full, bool exists, string text, CancellationToken cancellationToken)
    {
        // A file this user may not write stays refused, as a plain write would refuse it (the rename would not ask).
        if (exists) using (File.Open(full, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete)) { }
        var temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid().ToString("N")[..8]}.tmp");
        try
        {
            await File.WriteAllTextAsync(temp, text, cancellationToken);
            if (exists && !OperatingSystem.IsWindows()) File.SetUnixFileMode(temp, File.GetUnixFileMode(full));
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            throw;
        }
    }

    private static bool IsSpecialPath(string full) =>
        !OperatingSystem.IsWindows() && (full.StartsWith("/dev/", StringComparison.Ordinal) || full.StartsWith("/proc/", StringComparison.Ordinal));
}
