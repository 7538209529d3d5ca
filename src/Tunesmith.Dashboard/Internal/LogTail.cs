using System.Text;

namespace Tunesmith.Dashboard.Internal;

/// <summary>The last bytes of a command trial's stdout/stderr logs in its trial directory.</summary>
internal static class LogTail
{
    public const int MaxBytes = 16 * 1024;

    /// <summary>The tail of <paramref name="fileName"/> in <paramref name="directory"/>, or null when there is none.</summary>
    public static string? Read(string? directory, string fileName)
    {
        if (string.IsNullOrEmpty(directory)) return null;
        var path = Path.Combine(directory, fileName);
        try
        {
            // Opened for reading with sharing, so a trial still writing its log is never disturbed.
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var start = Math.Max(0, stream.Length - MaxBytes);
            stream.Seek(start, SeekOrigin.Begin);
            var buffer = new byte[stream.Length - start];
            stream.ReadExactly(buffer);
            var text = Encoding.UTF8.GetString(buffer);
            if (start > 0)
            {
                var newline = text.IndexOf('\n', StringComparison.Ordinal);
                text = "…\n" + (newline >= 0 ? text[(newline + 1)..] : text);
            }
            return text;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
