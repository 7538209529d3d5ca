namespace Tunesmith.Backends;

/// <summary>
/// How a running trial was asked to end, shared by the backends: none yet, Stopped or Paused. A stop wins over a pause; a
/// pause does not undo a stop. Safe to set from any thread.
/// </summary>
internal sealed class TrialEndRequest
{
    private int _kind = -1;

    /// <summary>The end asked for, or null when none was.</summary>
    public TrialExitKind? Kind => Volatile.Read(ref _kind) is var v and >= 0 ? (TrialExitKind)v : null;

    /// <summary>Records <paramref name="kind"/>: a stop always, a pause only when nothing was asked before.</summary>
    public void Set(TrialExitKind kind)
    {
        if (kind == TrialExitKind.Stopped) Volatile.Write(ref _kind, (int)kind);
        else Interlocked.CompareExchange(ref _kind, (int)kind, -1);
    }
}
