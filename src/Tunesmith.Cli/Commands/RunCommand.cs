using System.CommandLine;
using Tunesmith.Cli.Internal;
using Tunesmith.Cli.Internal.Progress;
using Tunesmith.Spaces;
using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Execution.Commands;

namespace Tunesmith.Cli.Commands;

/// <summary><c>tunesmith run STUDY.yaml</c>: creates or resumes the study and runs its trials locally until the budget.</summary>
internal sealed class RunCommand : Command
{
    private readonly CliConsole _console;
    private readonly TimeProvider _time;
    private readonly Microsoft.Extensions.Logging.ILoggerFactory _loggers;
    private readonly Argument<string> _file = new("STUDY.yaml") { Description = "The study file (YAML or JSON)" };
    private readonly Option<int?> _trials = new("--trials", "-n") { Description = "Trial budget of the study (overrides the file's trials:)", HelpName = "N" };
    private readonly Option<int?> _parallel = new("--parallel", "-p") { Description = "Trials run at once (overrides the file's parallel:)", HelpName = "N" };
    private readonly Option<string?> _timeout = new("--timeout") { Description = "Time budget of the study, e.g. 90s, 30m, 2h or seconds (overrides the file's timeout:)", HelpName = "DURATION" };
    private readonly Option<string?> _storage = CommonOptions.Storage(fromStudyFile: true);
    private readonly Option<bool> _updateSpace = CommonOptions.UpdateSpace();
    private readonly Option<string[]> _set = CommonOptions.Set("Fix a parameter to a value for every trial of this run (repeatable)");
    private readonly Option<int?> _seed = new("--seed") { Description = "Sampler seed (overrides the file's seed)", HelpName = "N" };
    private readonly Option<string?> _gpus = new("--gpus") { Description = "GPU ids to use, e.g. 0,1,2,3 (default: CUDA_VISIBLE_DEVICES, else nvidia-smi -L, else none)", HelpName = "IDS" };
    private readonly Option<bool> _allowLoginNode = ClusterGuards.AllowLoginNode();
    private readonly Option<bool> _allowSqliteOnNetworkFs = ClusterGuards.AllowSqliteOnNetworkFs();
    private readonly Option<bool> _quiet = CommonOptions.Quiet();
    private readonly Option<string> _logFormat = CommonOptions.LogFormat();

    public RunCommand(CliConsole console, TimeProvider time, Microsoft.Extensions.Logging.ILoggerFactory loggers) : base("run", "Create or resume a study from its study file and run trials locally until its budget")
    {
        _console = console;
        _time = time;
        _loggers = loggers;
        Arguments.Add(_file);
        foreach (var o in new Option[] { _trials, _parallel, _timeout, _storage, _set, _seed, _gpus, _allowLoginNode, _allowSqliteOnNetworkFs, _quiet, _logFormat, _updateSpace }) Options.Add(o);
        SetAction(ExecuteAsync);
    }

    private async Task<int> ExecuteAsync(ParseResult parse, CancellationToken ct)
    {
        var file = StudyFile.Load(parse.GetRequiredValue(_file));
        if (StudyFileRun.CommandSecretWarning(file) is { } secret) _console.Error.WriteLine("tunesmith: warning: " + secret);
        var fixedParams = CoerceFixed(file, Assignments.Parse(parse.GetValue(_set)));
        var trials = parse.GetValue(_trials);
        var parallel = parse.GetValue(_parallel);
        if (trials is < 0) throw new CliUsageException($"--trials {trials}: must be ≥ 0");
        if (parallel is < 1) throw new CliUsageException($"--parallel {parallel}: must be ≥ 1");
        var runOptions = StudyFileRun.RunOptions(file, trials, parallel, DurationFlag.Parse("--timeout", parse.GetValue(_timeout)));
        var url = StorageUrl.Resolve(parse.GetValue(_storage), file.ResolvedStorage, _console);
        var mode = ProgressViews.Choose(parse.GetValue(_quiet), parse.GetValue(_logFormat)!, _console);
        ClusterGuards.RefuseLoginNode(parse.GetValue(_allowLoginNode), _console, "tunesmith run");
        ClusterGuards.RefuseSqliteOnNetworkFs(url, parse.GetValue(_allowSqliteOnNetworkFs));
        var pool = await CommandRunSession.PreparePoolAsync(file, parse.GetValue(_gpus), runOptions.Parallel, _console, _time);

        await using var storage = StorageScope.Open(url, _time, _loggers);
        // The sampler is chosen for the budget this run has (--trials beats the file's trials:), and runs on the entry point's clock.
        await using var study = await StudyFileRun.OpenAsync(file, storage,
            new StudyFileOpenOptions
            {
                Seed = parse.GetValue(_seed), TrialBudget = runOptions.Trials, TimeProvider = _time, LoggerFactory = _loggers,
                UpdateSpace = parse.GetValue(_updateSpace), SpaceUpdated = _console.Error.WriteLine,
                SecretsScrubbed = line => _console.Error.WriteLine("tunesmith: " + line),
            }, ct);
        return await CommandRunSession.RunAsync(study, file, url, runOptions, fixedParams, pool, mode, _console, _time, _loggers, resultsTable: true, cancellationToken: ct,
            raiseBudget: "run with --trials {0} to run more");
    }

    private static IReadOnlyDictionary<string, object?> CoerceFixed(StudyFile file, IReadOnlyDictionary<string, object?> values)
    {
        try { return file.Space.CoerceValues(values); }
        catch (SearchSpaceException e) { throw new CliUsageException($"--set: {e.Message}"); }
    }
}
