using System.Runtime.InteropServices;
using Tunesmith.Execution.Commands;

namespace Tunesmith.Cli.Internal;

/// <summary>
/// A worker's signal handling inside a Slurm job: <c>SIGUSR1</c> (sent <c>--signal=B:USR1@lead</c> before the time limit
/// and passed on by the batch script) means the walltime is near; <c>SIGTERM</c> or <c>SIGINT</c> means Slurm is stopping the
/// job, and the job's state says why. Every later signal is ignored: the worker is already stopping, and Slurm sends
/// SIGKILL after its <c>KillWait</c> if it takes too long.
/// </summary>
internal sealed class SlurmSignals : IDisposable
{
    // SIGUSR1 has no PosixSignal name; .NET accepts the raw Linux number.
    private const int SigUsr1 = 10;
    private readonly List<PosixSignalRegistration> _registrations = [];

    public SlurmSignals(SlurmTrialJob job)
    {
        _registrations.Add(PosixSignalRegistration.Create((PosixSignal)SigUsr1, c => { c.Cancel = true; job.OnWalltimeSignal(); }));
        foreach (var s in new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT })
            _registrations.Add(PosixSignalRegistration.Create(s, c => { c.Cancel = true; _ = job.OnTerminateAsync(); }));
    }

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
    }
}
