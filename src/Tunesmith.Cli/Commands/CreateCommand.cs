using System.CommandLine;
using Tunesmith.Cli.Internal;

namespace Tunesmith.Cli.Commands;

/// <summary><c>tunesmith create STUDY.yaml</c>: registers the study in its storage without running trials.</summary>
internal sealed class CreateCommand : Command
{
    private readonly CliConsole _console;
    private readonly Argument<string> _file = new("STUDY.yaml") { Description = "The study file (YAML or JSON)" };
    private readonly Option<string?> _storage = CommonOptions.Storage();

    public CreateCommand(CliConsole console) : base("create", "Register a study from its study file without running it")
    {
        _console = console;
        Arguments.Add(_file);
        Options.Add(_storage);
        SetAction(ExecuteAsync);
    }

    private Task<int> ExecuteAsync(ParseResult parse, CancellationToken ct)
    {
        _ = _console;
        throw new CliUsageException("create: the study-file parser is not available in this build yet");
    }
}
