using System.CommandLine;
using Tunesmith.Cli.Internal;

namespace Tunesmith.Cli.Commands;

/// <summary><c>tunesmith worker --study NAME --storage URL</c>: joins an existing study (created from a study file) and runs its trials.</summary>
internal sealed class WorkerCommand : Command
{
    private readonly CliConsole _console;
    private readonly TimeProvider _time;
    private readonly Option<string> _study = CommonOptions.Study();
    private readonly Option<string?> _storage = CommonOptions.Storage();
    private readonly Option<int?> _trials = new("--trials", "-n") { Description = "Run at most N trials in this worker (the study's own budget still holds)", HelpName = "N" };
    private readonly Option<bool> _oneTrial = new("--one-trial") { Description = "Run exactly one trial, then exit (one trial per cluster job)" };
    private readonly Option<string?> _gpus = new("--gpus") { Description = "GPU ids to use, e.g. 0,1 (default: CUDA_VISIBLE_DEVICES, else nvidia-smi -L, else none)", HelpName = "IDS" };
    private readonly Option<bool> _quiet = CommonOptions.Quiet();
    private readonly Option<string> _logFormat = CommonOptions.LogFormat();

    public WorkerCommand(CliConsole console, TimeProvider time) : base("worker", "Join an existing study and run its trials (on this or another machine)")
    {
        _console = console;
        _time = time;
        foreach (var o in new Option[] { _study, _storage, _trials, _oneTrial, _gpus, _quiet, _logFormat }) Options.Add(o);
        SetAction(ExecuteAsync);
    }

    private Task<int> ExecuteAsync(ParseResult parse, CancellationToken ct)
    {
        _ = (_console, _time);
        throw new CliUsageException("worker: the study-file parser is not available in this build yet");
    }
}
