using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using Tunesmith.Cli.Internal;
using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Spaces;
using Tunesmith.Storage;

namespace Tunesmith.Cli.Commands;

/// <summary><c>tunesmith status [--study NAME]</c>: the studies in a storage, their trial counts per state and best value, and running trials.</summary>
internal sealed class StatusCommand : Command
{
    private readonly CliConsole _console;
    private readonly TimeProvider _time;
    private readonly Microsoft.Extensions.Logging.ILoggerFactory _loggers;
    private readonly Option<string> _study = CommonOptions.Study(required: false);
    private readonly Option<string?> _storage = CommonOptions.Storage();
    private readonly Option<string> _format = new("--format") { Description = "table or json", DefaultValueFactory = _ => "table", HelpName = "table|json" };
    private readonly Option<bool> _failStale = new("--fail-stale")
    {
        Description = "Mark Failed the running trials whose runner died: a process of this machine that is gone (at once), or any whose heartbeat is older than --grace; retry each as the worker would",
    };
    private readonly Option<double> _grace = new("--grace")
    {
        Description = "Seconds without a heartbeat after which a running trial is stale (with --fail-stale; default: the worker's, 60)",
        DefaultValueFactory = _ => new StudyOptions().EffectiveStaleGracePeriod.TotalSeconds,
        HelpName = "SECONDS",
    };

    public StatusCommand(CliConsole console, TimeProvider time, Microsoft.Extensions.Logging.ILoggerFactory loggers) : base("status", "Show studies, their trial counts per state, best values and running trials")
    {
        _console = console;
        _loggers = loggers;
        _time = time;
        _format.AcceptOnlyFromAmong("table", "json");
        Options.Add(_study);
        Options.Add(_storage);
        Options.Add(_format);
        Options.Add(_failStale);
        Options.Add(_grace);
        SetAction(ExecuteAsync);
    }

    private async Task<int> ExecuteAsync(ParseResult parse, CancellationToken ct)
    {
        var url = StorageUrl.Resolve(parse.GetValue(_storage), null, _console);
        var name = parse.GetValue(_study);
        var json = parse.GetValue(_format) == "json";
        // Only reading (no --fail-stale): nothing is created or written, and PostgreSQL is one read-only pool.
        var storageOrNone = parse.GetValue(_failStale)
            ? await StorageScope.OpenExistingOrNoneAsync(url, _time, _loggers, ct)
            : await StorageScope.OpenToReadAsync(url, _time, _loggers, ct);
        if (storageOrNone is null)
        {
            // No SQLite file, or a database or schema without Tunesmith's tables: nothing to show, and status creates none.
            var why = StorageScope.MissingSqliteFile(url) is { } missing ? $"no such file: {missing}" : "it has no Tunesmith tables";
            if (name is not null) throw new CliUsageException($"study '{name}' does not exist in {StorageUrl.Shown(url)} ({why})");
            if (json) WriteJson([], []);
            else _console.Out.WriteLine($"no studies in {StorageUrl.Shown(url)} ({why})");
            return ExitCodes.Ok;
        }
        await using var storage = storageOrNone;

        if (parse.GetValue(_failStale))
        {
            var grace = parse.GetValue(_grace);
            if (!(grace > 0)) throw new CliUsageException($"--grace {grace}: must be > 0 seconds");
            var studies = name is null ? (await storage.ListStudiesAsync(ct)).Select(s => s.Study) : [await StorageScope.GetStudyAsync(storage, name, url, ct)];
            foreach (var s in studies)
            {
                // With the study file's retries, a stale trial is re-enqueued with its params (and so its trial directory).
                var retries = s.SystemAttributes.ContainsKey(Tunesmith.Execution.Commands.StudyFileRun.StudyFileTextKey)
                    ? Tunesmith.Execution.Commands.StudyFileRun.ReadStored(s)?.Retries ?? 0 : 0;
                var graceSpan = TimeSpan.FromSeconds(grace);
                await using var study = await Study.LoadAsync(s.Name, new StudyOptions
                {
                    StorageInstance = storage, TimeProvider = _time, LoggerFactory = _loggers, StaleGracePeriod = graceSpan, HeartbeatInterval = graceSpan / 2,
                }, ct);
                var recovered = await study.RecoverAsync(retries, ct);
                foreach (var r in recovered) _console.Error.WriteLine(Internal.Progress.ProgressViews.RecoveredLine(r, $"study '{s.Name}': "));
                if (recovered.Count == 0)
                    _console.Error.WriteLine($"study '{s.Name}': no stale trials (none of this machine's runners gone, no heartbeat older than {grace.ToString(System.Globalization.CultureInfo.InvariantCulture)} s)");
            }
        }

        var summaries = await storage.ListStudiesAsync(ct);
        if (name is null)
        {
            if (json) WriteJson(summaries, []);
            else if (summaries.Count == 0) _console.Out.WriteLine($"no studies in {StorageUrl.Shown(url)}");
            else RenderStudies(summaries);
            return ExitCodes.Ok;
        }

        var summary = summaries.FirstOrDefault(s => s.Study.Name == name) ?? throw new CliUsageException($"study '{name}' does not exist in {StorageUrl.Shown(url)}");
        var trials = (await storage.GetTrialsSinceAsync(summary.Study.Id, 0, ct)).Trials;
        var running = trials.Where(t => t.State == TrialState.Running).OrderBy(t => t.Number).ToList();
        if (json) WriteJson([summary], running);
        else
        {
            RenderStudies([summary]);
            RenderRunning(running);
        }
        return ExitCodes.Ok;
    }

    private static readonly TrialState[] States = [TrialState.Waiting, TrialState.Running, TrialState.Complete, TrialState.Pruned, TrialState.Failed];

    // Paused trials (promotion-based schedulers) get a column only where there are some.
    private static TrialState[] StatesOf(IReadOnlyList<StudySummary> summaries) =>
        summaries.Any(s => s.Count(TrialState.Paused) > 0) ? [.. States, TrialState.Paused] : States;

    private void RenderStudies(IReadOnlyList<StudySummary> summaries)
    {
        var states = StatesOf(summaries);
        var table = new Table().Border(TableBorder.Simple);
        table.AddColumn("study");
        table.AddColumn("direction");
        table.AddColumn("metric");
        foreach (var s in states) table.AddColumn(new TableColumn(s.ToString().ToLowerInvariant()).RightAligned());
        table.AddColumn(new TableColumn("best").RightAligned());
        foreach (var s in summaries)
        {
            var cells = new List<string> { s.Study.Name, s.Study.Direction.ToString().ToLowerInvariant(), MetricOf(s.Study) };
            cells.AddRange(states.Select(st => s.Count(st).ToString(System.Globalization.CultureInfo.InvariantCulture)));
            cells.Add(Formats.Value(s.BestValue));
            table.AddRow(cells.Select(c => new Text(c)).ToArray());
        }
        _console.CreateAnsiConsole().Write(table);
    }

    private void RenderRunning(IReadOnlyList<FrozenTrial> running)
    {
        if (running.Count == 0) { _console.Out.WriteLine("no running trials"); return; }
        var now = _time.GetUtcNow();
        var table = new Table().Border(TableBorder.Simple).Title("running trials");
        table.AddColumn(new TableColumn("trial").RightAligned());
        table.AddColumn(new TableColumn("elapsed").RightAligned());
        table.AddColumn(new TableColumn("step").RightAligned());
        table.AddColumn(new TableColumn("last value").RightAligned());
        table.AddColumn("worker");
        table.AddColumn("params");
        foreach (var t in running)
        {
            var last = t.LastIntermediate;
            table.AddRow(
                new Text(t.Number.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                new Text(Formats.Duration(now - (t.Started ?? now))),
                new Text(last is { } l ? l.Step.ToString(System.Globalization.CultureInfo.InvariantCulture) : "-"),
                new Text(Formats.Value(last?.Value)),
                new Text(t.Worker ?? "-"),
                new Text(string.Join(" ", t.Params.Select(p => $"{p.Key}={ParamValues.Format(p.Value)}"))));
        }
        _console.CreateAnsiConsole().Write(table);
    }

    private void WriteJson(IReadOnlyList<StudySummary> summaries, IReadOnlyList<FrozenTrial> running)
    {
        var now = _time.GetUtcNow();
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteStartArray("studies");
            foreach (var s in summaries)
            {
                w.WriteStartObject();
                w.WriteString("name", s.Study.Name);
                w.WriteString("direction", s.Study.Direction.ToString().ToLowerInvariant());
                w.WriteString("metric", MetricOf(s.Study));
                w.WriteStartObject("counts");
                foreach (var st in (TrialState[])[.. States, TrialState.Paused]) w.WriteNumber(st.ToString().ToLowerInvariant(), s.Count(st));
                w.WriteEndObject();
                if (s.BestValue is { } b && double.IsFinite(b)) NumberText.WriteJson(w, "best", b); else w.WriteNull("best");
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("running");
            foreach (var t in running)
            {
                w.WriteStartObject();
                w.WriteNumber("number", t.Number);
                w.WriteNumber("elapsed_seconds", Math.Round((now - (t.Started ?? now)).TotalSeconds, 3));
                if (t.LastIntermediate is { } last)
                {
                    w.WriteNumber("step", last.Step);
                    if (double.IsFinite(last.Value)) NumberText.WriteJson(w, "last_value", last.Value); else w.WriteNull("last_value");
                }
                w.WriteString("worker", t.Worker);
                w.WritePropertyName("params");
                w.WriteRawValue(ParamValues.ToJson(t.Params));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        _console.Out.WriteLine(System.Text.Encoding.UTF8.GetString(stream.ToArray()));
    }

    private static string MetricOf(StudyRecord study) =>
        study.SystemAttributes.TryGetValue(SystemAttributeKeys.Metric, out var m) && m is string s ? s : "value";
}
