namespace Tunesmith.Backends;

/// <summary>
/// Tunesmith could not write a trial's directory: before starting its program (create it, move an earlier attempt's
/// files aside, write <c>params.json</c>, open the logs), or while it ran (its logs; or the directory was removed) when
/// the program then failed too, most likely of the same cause. A full disk, a quota, a read-only or vanished filesystem, a permission: not the
/// trial's fault, and every next trial would meet it too, so a run stops on it (in one line) instead of failing trial
/// after trial: <c>Study.OptimizeAsync</c> records the trial Failed "interrupted" (the
/// next <c>tunesmith run</c> runs it again) and rethrows.
/// </summary>
public sealed class TrialDirectoryException : IOException
{
    /// <summary>Creates the exception; <paramref name="message"/> is one line.</summary>
    public TrialDirectoryException(int trialNumber, string directory, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        TrialNumber = trialNumber;
        Directory = directory;
    }

    /// <summary>The trial whose directory could not be written.</summary>
    public int TrialNumber { get; }

    /// <summary>The trial directory (absolute path).</summary>
    public string Directory { get; }

    /// <summary>The one-line reason for <paramref name="fault"/> while preparing <paramref name="directory"/> for trial <paramref name="trialNumber"/>.</summary>
    internal static TrialDirectoryException From(int trialNumber, string directory, Exception fault) =>
        new(trialNumber, directory, $"cannot prepare trial {trialNumber}'s directory {directory}: {fault.Message.Split('\n', 2)[0].Trim()}", fault);
}
