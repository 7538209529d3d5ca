namespace Tunesmith.Reporting;

/// <summary>
/// Writes a report, an export or a plot file whole or not at all, the one way every writer does it (the CLI's
/// <c>--output</c>, <c>Tunesmith.Plots</c>' PNG files): the content goes into a temporary file beside the target
/// (<c>.NAME.XXXXXXXX.tmp</c>), is flushed to disk (fsync), takes an existing target's permissions and is renamed over
/// the target. A full disk or any other failure deletes the temporary file and leaves the target as it was, never
/// half-written. An existing symbolic link, and a path under <c>/dev</c> or <c>/proc</c> (<c>-o /dev/stdout</c>, a
/// shell's <c>&gt;(...)</c>), are written in place; an existing file this user may not write stays refused (a rename
/// would not ask). A failure is an <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/> whose message
/// names the target, not the temporary file.
/// </summary>
public static class ReportFile
{
    /// <summary>Writes <paramref name="content"/> to <paramref name="path"/> whole or not at all (see <see cref="ReportFile"/>).</summary>
    public static void Write(string path, ReadOnlyMemory<byte> content) =>
        WriteCoreAsync(path, content, synchronous: true, CancellationToken.None).AsTask().GetAwaiter().GetResult();

    /// <summary>Writes <paramref name="text"/> (UTF-8, no byte order mark) to <paramref name="path"/> whole or not at all (see <see cref="ReportFile"/>).</summary>
    public static Task WriteAsync(string path, string text, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        return WriteCoreAsync(path, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text), synchronous: false, cancellationToken).AsTask();
    }

    // One body for both: `synchronous` uses blocking calls only, so the sync Write completes before it returns.
    private static async ValueTask WriteCoreAsync(string path, ReadOnlyMemory<byte> content, bool synchronous, CancellationToken cancellationToken)
    {
        var (full, exists, inPlace) = Target(path);
        var file = inPlace ? full : TemporaryFor(full);
        try
        {
            using (var f = new FileStream(file, inPlace ? FileMode.Create : FileMode.CreateNew, FileAccess.Write, inPlace ? FileShare.Read : FileShare.None,
                bufferSize: 4096, useAsync: !synchronous))
            {
                if (synchronous) f.Write(content.Span);
                else await f.WriteAsync(content, cancellationToken).ConfigureAwait(false);
                if (!inPlace) f.Flush(flushToDisk: true);
            }
            if (!inPlace) Commit(file, full, exists);
        }
        catch (Exception e) when (!inPlace)
        {
            var failed = Failed(e, file, full);
            if (ReferenceEquals(failed, e)) throw;
            throw failed;
        }
    }

    /// <summary>The temporary file a write of <paramref name="fullPath"/> goes through: hidden, beside it, unique.</summary>
    public static string TemporaryFor(string fullPath) =>
        Path.Combine(Path.GetDirectoryName(fullPath)!, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid().ToString("N")[..8]}.tmp");

    private static (string Full, bool Exists, bool InPlace) Target(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = Path.GetFullPath(path);
        var existing = new FileInfo(full);
        if (!existing.Exists) return (full, false, false);
        if (existing.LinkTarget is not null || IsSpecialPath(full)) return (full, true, true);
        // A file this user may not write stays refused, as a plain write would refuse it.
        using (File.Open(full, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete)) { }
        return (full, true, false);
    }

    private static void Commit(string temp, string full, bool exists)
    {
        if (exists && !OperatingSystem.IsWindows()) File.SetUnixFileMode(temp, File.GetUnixFileMode(full));
        File.Move(temp, full, overwrite: true);
    }

    // Deletes the temporary file; the error names the target (a message naming a random temporary file helps no one).
    private static Exception Failed(Exception e, string temp, string full)
    {
        try { File.Delete(temp); }
        catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException) { }
        return e switch
        {
            UnauthorizedAccessException when e.Message.Contains(temp, StringComparison.Ordinal) => new UnauthorizedAccessException(e.Message.Replace(temp, full, StringComparison.Ordinal), e),
            IOException when e.Message.Contains(temp, StringComparison.Ordinal) => new IOException(e.Message.Replace(temp, full, StringComparison.Ordinal), e),
            _ => e,
        };
    }

    private static bool IsSpecialPath(string full) =>
        !OperatingSystem.IsWindows() && (full.StartsWith("/dev/", StringComparison.Ordinal) || full.StartsWith("/proc/", StringComparison.Ordinal));
}
