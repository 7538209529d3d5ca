using System.CommandLine;
using Tunesmith.Cli.Internal;

namespace Tunesmith.Cli.Commands;

/// <summary><c>tunesmith delete --study NAME --yes</c>: deletes a study and its trials (refuses without <c>--yes</c>).</summary>
internal sealed class DeleteCommand : Command
{
    private readonly CliConsole _console;
    private readonly TimeProvider _time;
    private readonly Microsoft.Extensions.Logging.ILoggerFactory _loggers;
    private readonly Option<string> _study = CommonOptions.Study();
    private readonly Option<string?> _storage = CommonOptions.Storage();
    private readonly Option<bool> _yes = CommonOptions.Yes("Confirm the deletion (required: it cannot be undone)");

    public DeleteCommand(CliConsole console, TimeProvider time, Microsoft.Extensions.Logging.ILoggerFactory loggers) : base("delete", "Delete a study and all its trials")
    {
        _console = console;
        _time = time;
        _loggers = loggers;
        Options.Add(_study);
        Options.Add(_storage);
        Options.Add(_yes);
        SetAction(ExecuteAsync);
    }

    private async Task<int> ExecuteAsync(ParseResult parse, CancellationToken ct)
    {
        var url = StorageUrl.Resolve(parse.GetValue(_storage), null, _console);
        var name = parse.GetRequiredValue(_study);
        if (!parse.GetValue(_yes))
            throw new CliUsageException($"deleting study '{name}' cannot be undone: add --yes to confirm");
        await using var storage = await StorageScope.OpenExistingAsync(url, _time, _loggers, ct);
        if (!await storage.DeleteStudyAsync(name, ct))
            throw new CliUsageException($"study '{name}' does not exist in {StorageUrl.Shown(url)}");
        _console.Out.WriteLine($"deleted study '{name}' from {StorageUrl.Shown(url)}");
        return ExitCodes.Ok;
    }
}
