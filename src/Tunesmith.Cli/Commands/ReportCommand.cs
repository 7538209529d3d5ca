using System.CommandLine;
using Tunesmith.Cli.Internal;
using Tunesmith.Reporting;
using Tunesmith.Trials;
using Tunesmith.Reporting.Plots;

namespace Tunesmith.Cli.Commands;

/// <summary><c>tunesmith report --study NAME [--format table|csv|json|md|html] [--output PATH] [--top K] [--by KEY] [--curves [--metric NAME]]</c>: every trial, best first, or one row per group of trials.</summary>
internal sealed class ReportCommand : Command
{
    private readonly CliConsole _console;
    private readonly TimeProvider _time;
    private readonly Microsoft.Extensions.Logging.ILoggerFactory _loggers;
    private readonly Option<string> _study = CommonOptions.Study();
    private readonly Option<string?> _storage = CommonOptions.Storage();
    private readonly Option<string> _format = new("--format") { Description = "table, csv, json, md or html (one self-contained file with plots)", DefaultValueFactory = _ => "table", HelpName = "table|csv|json|md|html" };
    private readonly Option<string?> _output = new("--output", "-o") { Description = "Write the report to this file instead of stdout", HelpName = "PATH" };
    private readonly Option<string?> _plots = new("--plots") { Description = "Also write every plot as a PNG file into this directory", HelpName = "DIR" };
    private readonly Option<int?> _top = new("--top") { Description = "Only the K best trials", HelpName = "K" };
    private readonly Option<bool> _userAttrs = new("--user-attrs") { Description = "Add a user_attrs_NAME column for each trial user attribute (as Optuna's trials_dataframe)" };
    private readonly Option<bool> _curves = new("--curves") { Description = "Every trial's intermediate values instead (its learning curve, as Ray Tune's metrics_dataframe): one row per trial and step (csv), or per trial a steps list (json)" };
    private readonly Option<string?> _metric = new("--metric") { Description = "With --curves: the curves of this reported metric (e.g. loss) instead of the study metric's", HelpName = "NAME" };
    private readonly Option<string?> _by = new("--by") { Description = "One row per group of trials sharing this key: compute_class, node, slurm_job_id, worker, any attribute or parameter", HelpName = "KEY" };

    public ReportCommand(CliConsole console, TimeProvider time, Microsoft.Extensions.Logging.ILoggerFactory loggers) : base("report", "Report every trial of a study, best first (table, CSV, JSON, Markdown or HTML with plots)")
    {
        _console = console;
        _time = time;
        _loggers = loggers;
        _format.AcceptOnlyFromAmong([.. ReportExporters.Formats, "markdown", "text"]);
        Options.Add(_study);
        Options.Add(_storage);
        Options.Add(_format);
        Options.Add(_output);
        Options.Add(_top);
        Options.Add(_plots);
        Options.Add(_by);
        Options.Add(_userAttrs);
        Options.Add(_curves);
        Options.Add(_metric);
        SetAction(ExecuteAsync);
    }

    private async Task<int> ExecuteAsync(ParseResult parse, CancellationToken ct)
    {
        var url = StorageUrl.Resolve(parse.GetValue(_storage), null, _console);
        var name = parse.GetRequiredValue(_study);
        var top = parse.GetValue(_top);
        if (top is < 1) throw new CliUsageException($"--top {top}: must be ≥ 1");
        // Only reads: nothing is created or written, and PostgreSQL is one read-only pool.
        await using var storage = await StorageScope.OpenToReadAsync(url, _time, _loggers, ct) ?? throw StorageScope.NoStudies(url);
        await using var study = await StorageScope.LoadStudyAsync(storage, name, url, _time, _loggers, ct);
        var format = parse.GetValue(_format)!;
        var curveMetric = parse.GetValue(_metric);
        if (curveMetric is not null && !parse.GetValue(_curves)) throw new CliUsageException($"--metric {curveMetric}: works with --curves");
        if (parse.GetValue(_curves))
        {
            if (!ReportCurves.Formats.Contains(format.Trim().ToLowerInvariant()))
                throw new CliUsageException($"--curves: works with --format {string.Join(" or ", ReportCurves.Formats)}, not {format}");
            if (parse.GetValue(_by) is not null || parse.GetValue(_plots) is not null || parse.GetValue(_userAttrs))
                throw new CliUsageException("--curves: cannot be combined with --by, --plots or --user-attrs");
            IEnumerable<FrozenTrial> trials = await study.GetTrialsAsync(ct);
            if (curveMetric is not null && ReportCurves.MetricNames(trials, study.Metric) is var known && !known.Contains(curveMetric, StringComparer.Ordinal))
                throw new CliUsageException($"--metric {curveMetric}: no trial of study '{name}' reported it (known: {string.Join(", ", known)})");
            if (top is not null)
            {
                // The K best trials as the report ranks them (Complete ones first), by number.
                var best = (await ReportTable.FromStorageAsync(study.Storage, study.Record, study.Metric, top, ct)).Rows.Select(r => r.Number).ToHashSet();
                trials = trials.Where(t => best.Contains(t.Number));
            }
            using var curves = new StringWriter(System.Globalization.CultureInfo.InvariantCulture) { NewLine = "\n" };
            ReportCurves.Write(trials, study.Name, study.Direction, study.Metric, format, curves, curveMetric);
            return await WriteAsync(parse, curves.ToString(), format, name, ct, "curves");
        }
        if (parse.GetValue(_by) is { } by)
        {
            if (string.IsNullOrWhiteSpace(by)) throw new CliUsageException("--by: give a key, e.g. compute_class");
            if (ReportExporters.Get(format) is HtmlReportExporter) throw new CliUsageException($"--by {by}: works with --format {string.Join(", ", ReportGroups.Formats)}, not html");
            if (top is not null || parse.GetValue(_plots) is not null) throw new CliUsageException($"--by {by}: cannot be combined with --top or --plots");
            var trials = await study.GetTrialsAsync(ct);
            // A misspelt key is no error (a study without Slurm runs has no compute_class either), but it is said.
            if (ReportGroups.MissingKeyNote(trials, by) is { } note) _console.Error.WriteLine($"tunesmith: --by {by}: {note}");
            var groups = ReportGroups.Build(trials, study.Direction, by);
            using var grouped = new StringWriter(System.Globalization.CultureInfo.InvariantCulture) { NewLine = "\n" };
            ReportGroups.Write(groups, by, study.Metric, format, grouped);
            return await WriteAsync(parse, grouped.ToString(), format, name, ct);
        }
        var table = await ReportTable.FromStorageAsync(study.Storage, study.Record, study.Metric, top, ct, userAttributes: parse.GetValue(_userAttrs));
        if (ReportExporters.Get(format) is HtmlReportExporter)
        {
            var trials = await study.GetTrialsAsync(ct);
            table = table with { Plots = StudyPlotsBuilder.Build(trials, study.Direction, study.Metric, study.Name, _time.GetUtcNow(), PlotOptions.ForReportFile, SchedulerRungs.From(Tunesmith.Execution.Commands.StudyFileRun.StoredScheduler(study.Record))) };
        }
        if (parse.GetValue(_plots) is { } plotsDir)
        {
            var parent = Path.GetDirectoryName(Path.GetFullPath(plotsDir));
            if (parent is not null && !Directory.Exists(parent)) throw new CliUsageException($"--plots {plotsDir}: directory '{parent}' does not exist");
            var trials = await study.GetTrialsAsync(ct);
            var plots = StudyPlotsBuilder.Build(trials, study.Direction, study.Metric, study.Name, _time.GetUtcNow(), rungs: SchedulerRungs.From(Tunesmith.Execution.Commands.StudyFileRun.StoredScheduler(study.Record)));
            IReadOnlyList<string> files;
            try { files = Tunesmith.Plots.PngPlotWriter.WriteAll(plots, plotsDir); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw OutputFile.CannotWrite("--plots", plotsDir, e); }
            _console.Error.WriteLine($"wrote {files.Count} PNG plots of study '{name}' to {plotsDir}");
        }
        return await WriteAsync(parse, ReportExporters.Get(format).Render(table), format, name, ct);
    }

    private async Task<int> WriteAsync(ParseResult parse, string text, string format, string name, CancellationToken ct, string what = "report")
    {
        var output = parse.GetValue(_output);
        if (output is null) _console.Out.Write(text);
        else
        {
            await OutputFile.WriteAsync("--output", output, text, ct);
            _console.Error.WriteLine($"wrote {format} {what} of study '{name}' to {output}");
        }
        return ExitCodes.Ok;
    }
}
