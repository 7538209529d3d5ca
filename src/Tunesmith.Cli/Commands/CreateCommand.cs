using System.CommandLine;
using Tunesmith.Cli.Internal;
using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Execution.Commands;

namespace Tunesmith.Cli.Commands;

/// <summary><c>tunesmith create STUDY.yaml</c>: registers the study in its storage without running trials.</summary>
internal sealed class CreateCommand : Command
{
    private readonly CliConsole _console;
    private readonly TimeProvider _time;
    private readonly Microsoft.Extensions.Logging.ILoggerFactory _loggers;
    private readonly Argument<string> _file = new("STUDY.yaml") { Description = "The study file (YAML or JSON)" };
    private readonly Option<string?> _storage = CommonOptions.Storage(fromStudyFile: true);
    private readonly Option<bool> _updateSpace = CommonOptions.UpdateSpace();
    private readonly Option<int?> _trials = new("--trials", "-n") { Description = "Trial budget of the study (overrides the file's trials:; workers run to it)", HelpName = "N" };

    public CreateCommand(CliConsole console, TimeProvider time, Microsoft.Extensions.Logging.ILoggerFactory loggers) : base("create", "Register a study from its study file without running it")
    {
        _console = console;
        _time = time;
        _loggers = loggers;
        Arguments.Add(_file);
        Options.Add(_storage);
        Options.Add(_updateSpace);
        Options.Add(_trials);
        SetAction(ExecuteAsync);
    }

    private async Task<int> ExecuteAsync(ParseResult parse, CancellationToken ct)
    {
        var file = StudyFile.Load(parse.GetRequiredValue(_file));
        if (StudyFileRun.CommandSecretWarning(file) is { } secret) _console.Error.WriteLine("tunesmith: warning: " + secret);
        var trials = parse.GetValue(_trials);
        if (trials is < 0) throw new CliUsageException($"--trials {trials}: must be ≥ 0");
        var url = StorageUrl.Resolve(parse.GetValue(_storage), file.ResolvedStorage, _console);
        if (url.Trim() is "memory:" or "memory://" or ":memory:")
            throw new CliUsageException($"--storage {url}: an in-memory storage ends with this command, so the study would be gone at once; use sqlite:///PATH.db or postgresql://...");
        await using var storage = StorageScope.Open(url, _time, _loggers);
        var existed = await storage.GetStudyAsync(file.Name, ct) is not null;
        await using var study = await StudyFileRun.OpenAsync(file, storage, new StudyFileOpenOptions
        {
            TrialBudget = trials ?? file.Trials, TimeProvider = _time, LoggerFactory = _loggers,
            UpdateSpace = parse.GetValue(_updateSpace), SpaceUpdated = _console.Out.WriteLine,
            SecretsScrubbed = line => _console.Error.WriteLine("tunesmith: " + line),
        }, ct);
        _console.Out.WriteLine(existed
            ? $"study '{study.Name}' already exists in {StorageUrl.Shown(url)}; its stored study file was updated"
            : $"created study '{study.Name}' ({study.Direction.ToString().ToLowerInvariant()} {study.Metric}) in {StorageUrl.Shown(url)}");
        return ExitCodes.Ok;
    }
}
