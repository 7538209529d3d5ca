using System.CommandLine;
using Tunesmith.Cli.Internal;
using Tunesmith.Execution;
using Tunesmith.Reporting;
using Tunesmith.Trials;
using Tunesmith.Spaces;

namespace Tunesmith.Cli.Commands;

/// <summary><c>tunesmith best --study NAME [--format text|json|args]</c>: the best Complete trial; <c>args</c> prints the <c>--set</c> flags that rerun it.</summary>
internal sealed class BestCommand : Command
{
    private readonly CliConsole _console;
    private readonly TimeProvider _time;
    private readonly Microsoft.Extensions.Logging.ILoggerFactory _loggers;
    private readonly Option<string> _study = CommonOptions.Study();
    private readonly Option<string?> _storage = CommonOptions.Storage();
    private readonly Option<string> _format = new("--format")
    {
        Description = "text (default), json, or args (the --set flags that rerun the best configuration)",
        DefaultValueFactory = _ => "text",
        HelpName = "text|json|args",
    };

    public BestCommand(CliConsole console, TimeProvider time, Microsoft.Extensions.Logging.ILoggerFactory loggers) : base("best", "Show the best complete trial of a study")
    {
        _console = console;
        _time = time;
        _loggers = loggers;
        _format.AcceptOnlyFromAmong("text", "json", "args");
        Options.Add(_study);
        Options.Add(_storage);
        Options.Add(_format);
        SetAction(ExecuteAsync);
    }

    private async Task<int> ExecuteAsync(ParseResult parse, CancellationToken ct)
    {
        var url = StorageUrl.Resolve(parse.GetValue(_storage), null, _console);
        var name = parse.GetRequiredValue(_study);
        // Only reads: nothing is created or written, and PostgreSQL is one read-only pool.
        await using var storage = await StorageScope.OpenToReadAsync(url, _time, _loggers, ct) ?? throw StorageScope.NoStudies(url);
        await using var study = await StorageScope.LoadStudyAsync(storage, name, url, _time, _loggers, ct);
        var best = await study.GetBestTrialAsync(ct);
        if (best is null)
        {
            _console.Error.WriteLine($"tunesmith: study '{name}' has no complete trial yet");
            return ExitCodes.Failed;
        }
        switch (parse.GetValue(_format))
        {
            case "args":
                // Only sampled parameters can be fixed with --set; derived values follow from them.
                _console.Out.WriteLine(Assignments.Format(best.Params.Where(p => best.Distributions.ContainsKey(p.Key) || !IsDerived(best, p.Key))));
                break;
            case "json":
                JsonReportExporter.WriteBest(ReportTable.Build([best], study.Direction, study.Metric, study.Name), _console.Out);
                break;
            default:
                _console.Out.WriteLine($"study {study.Name}: best trial {best.Number}, {study.Metric} = {Formats.Value(best.Value)} ({study.Direction.ToString().ToLowerInvariant()})");
                foreach (var (k, v) in best.Params) _console.Out.WriteLine($"  {k} = {ParamValues.Format(v)}");
                foreach (var (k, v) in best.Metrics.Where(m => m.Key != study.Metric)) _console.Out.WriteLine($"  [{k}] = {Formats.Value(v)}");
                break;
        }
        return ExitCodes.Ok;
    }

    // An enqueued trial's params have no distributions until suggested; a derived value has none either. A value whose
    // name contains a repeat block's "name.i." prefix or is recorded as derived is left out of --set flags.
    private static bool IsDerived(FrozenTrial trial, string name) =>
        trial.Distributions.Count > 0 && !trial.Distributions.ContainsKey(name);
}
