using System.CommandLine;
using Tunesmith.Cli.Internal;

namespace Tunesmith.Cli.Commands;

/// <summary><c>tunesmith run STUDY.yaml</c>: creates or resumes the study and runs its trials locally until the budget.</summary>
internal sealed class RunCommand : Command
{
    private readonly CliConsole _console;
    private readonly TimeProvider _time;
    private readonly Argument<string> _file = new("STUDY.yaml") { Description = "The study file (YAML or JSON)" };
    private readonly Option<int?> _trials = new("--trials", "-n") { Description = "Trial budget of the study (overrides the file's trials:)", HelpName = "N" };
    private readonly Option<int?> _parallel = new("--parallel", "-p") { Description = "Trials run at once (overrides the file's parallel:)", HelpName = "N" };
    private readonly Option<string?> _timeout = new("--timeout") { Description = "Time budget of the study, e.g. 90s, 30m, 2h or seconds (overrides the file's timeout:)", HelpName = "DURATION" };
    private readonly Option<string?> _storage = CommonOptions.Storage();
    private readonly Option<string[]> _set = CommonOptions.Set("Fix a parameter to a value for every trial of this run (repeatable)");
    private readonly Option<int?> _seed = new("--seed") { Description = "Sampler seed (overrides the file's seed)", HelpName = "N" };
    private readonly Option<string?> _gpus = new("--gpus") { Description = "GPU ids to use, e.g. 0,1,2,3 (default: CUDA_VISIBLE_DEVICES, else nvidia-smi -L, else none)", HelpName = "IDS" };
    private readonly Option<bool> _quiet = CommonOptions.Quiet();
    private readonly Option<string> _logFormat = CommonOptions.LogFormat();

    public RunCommand(CliConsole console, TimeProvider time) : base("run", "Create or resume a study from its study file and run trials locally until its budget")
    {
        _console = console;
        _time = time;
        Arguments.Add(_file);
        foreach (var o in new Option[] { _trials, _parallel, _timeout, _storage, _set, _seed, _gpus, _quiet, _logFormat }) Options.Add(o);
        SetAction(ExecuteAsync);
    }

    private Task<int> ExecuteAsync(ParseResult parse, CancellationToken ct)
    {
        _ = (_console, _time);
        throw new CliUsageException("run: the study-file parser is not available in this build yet");
    }
}
