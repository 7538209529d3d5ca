using System.Runtime.InteropServices;

namespace Tunesmith.Cli.Internal;

/// <summary>
/// Turns the first SIGINT (Ctrl+C) or SIGTERM into a cancelled token so a run can stop its trials, record them and exit
/// with the study resumable. A second signal is left to its default action, so a stuck shutdown can still be forced.
/// </summary>
internal sealed class InterruptSignal : IDisposable
{
    private readonly CancellationTokenSource _cts = new();
    private readonly List<PosixSignalRegistration> _registrations = [];
    private int _signal;

    public InterruptSignal()
    {
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
            _registrations.Add(PosixSignalRegistration.Create(signal, OnSignal));
    }

    /// <summary>Cancelled when the first signal arrives.</summary>
    public CancellationToken Token => _cts.Token;

    /// <summary>The exit code the signal calls for (130 for SIGINT, 143 for SIGTERM), or null when none arrived.</summary>
    public int? ExitCode => _signal switch
    {
        0 => null,
        var s when s == (int)PosixSignal.SIGTERM => ExitCodes.Terminated,
        _ => ExitCodes.Interrupted,
    };

    private void OnSignal(PosixSignalContext context)
    {
        if (Interlocked.CompareExchange(ref _signal, (int)context.Signal, 0) != 0) return; // second signal: default action
        context.Cancel = true;
        _cts.Cancel();
    }

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
        _cts.Dispose();
    }
}
