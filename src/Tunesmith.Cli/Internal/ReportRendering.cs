using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;
using Tunesmith.Execution;
using Tunesmith.Spaces;

namespace Tunesmith.Cli.Internal;

/// <summary>Renders a study's trials, best first, in the report formats.</summary>
internal static class ReportRendering
{
    /// <summary>Renders the report; with <paramref name="table"/> a table is drawn on that console and null is returned.</summary>
    public static string? Render(Study study, IReadOnlyList<FrozenTrial> trials, string format, int? top, CliConsole? table)
    {
        var ranked = Rank(study.Direction, trials);
        if (top is { } k) ranked = ranked.Take(k).ToList();
        var metrics = ranked.SelectMany(r => r.Trial.Metrics.Keys).Where(m => m != study.Metric).Distinct().Order(StringComparer.Ordinal).ToList();
        var parameters = ranked.SelectMany(r => r.Trial.Params.Keys).Distinct().ToList();
        var header = new List<string> { "rank", "number", "state", study.Metric };
        header.AddRange(metrics);
        header.AddRange(parameters);
        header.Add("duration_s");
        var rows = ranked.Select(r =>
        {
            var row = new List<string>
            {
                r.Rank?.ToString(CultureInfo.InvariantCulture) ?? "",
                r.Trial.Number.ToString(CultureInfo.InvariantCulture),
                r.Trial.State.ToString(),
                r.Trial.Value is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : "",
            };
            row.AddRange(metrics.Select(m => r.Trial.Metrics.TryGetValue(m, out var x) ? x.ToString("R", CultureInfo.InvariantCulture) : ""));
            row.AddRange(parameters.Select(p => r.Trial.Params.TryGetValue(p, out var x) ? ParamValues.Format(x) : ""));
            row.Add(r.Trial.Duration is { } d ? d.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) : "");
            return row;
        }).ToList();

        switch (format)
        {
            case "csv":
                var csv = new StringBuilder();
                csv.AppendLine(string.Join(",", header.Select(CsvCell)));
                foreach (var row in rows) csv.AppendLine(string.Join(",", row.Select(CsvCell)));
                return csv.ToString();
            case "md" or "markdown":
                var md = new StringBuilder();
                md.AppendLine("| " + string.Join(" | ", header.Select(MdCell)) + " |");
                md.AppendLine("|" + string.Concat(header.Select(_ => " --- |")));
                foreach (var row in rows) md.AppendLine("| " + string.Join(" | ", row.Select(MdCell)) + " |");
                return md.ToString();
            case "json":
                return Json(study, ranked);
            default:
                var t = new Table().Border(TableBorder.Simple);
                foreach (var h in header) t.AddColumn(new TableColumn(Markup.Escape(h)));
                foreach (var row in rows) t.AddRow(row.Select(c => new Text(c)).ToArray());
                if (table is not null) { table.CreateAnsiConsole().Write(t); return null; }
                var writer = new StringWriter();
                new CliConsole(writer, TextWriter.Null, _ => null, false).CreateAnsiConsole().Write(t);
                return writer.ToString();
        }
    }

    private static List<(int? Rank, FrozenTrial Trial)> Rank(Direction direction, IReadOnlyList<FrozenTrial> trials)
    {
        var complete = trials.Where(t => t.State == TrialState.Complete && t.Value is not null)
            .OrderBy(t => direction == Direction.Maximize ? -t.Value!.Value : t.Value!.Value).ThenBy(t => t.Number).ToList();
        var rest = trials.Where(t => !(t.State == TrialState.Complete && t.Value is not null))
            .OrderBy(t => t.State switch { TrialState.Pruned => 0, TrialState.Running => 1, TrialState.Waiting => 2, _ => 3 }).ThenBy(t => t.Number);
        return complete.Select((t, i) => ((int?)(i + 1), t)).Concat(rest.Select(t => ((int?)null, t))).ToList();
    }

    private static string Json(Study study, List<(int? Rank, FrozenTrial Trial)> ranked)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("study", study.Name);
            w.WriteString("direction", study.Direction.ToString().ToLowerInvariant());
            w.WriteString("metric", study.Metric);
            w.WriteStartArray("trials");
            foreach (var (rank, t) in ranked)
            {
                w.WriteStartObject();
                if (rank is { } r) w.WriteNumber("rank", r); else w.WriteNull("rank");
                w.WriteNumber("number", t.Number);
                w.WriteString("state", t.State.ToString());
                if (t.Value is { } v) w.WriteNumber("value", v); else w.WriteNull("value");
                w.WriteStartObject("metrics");
                foreach (var (k, x) in t.Metrics) if (double.IsFinite(x)) w.WriteNumber(k, x);
                w.WriteEndObject();
                w.WritePropertyName("params");
                w.WriteRawValue(ParamValues.ToJson(t.Params));
                if (t.Duration is { } d) w.WriteNumber("duration_seconds", Math.Round(d.TotalSeconds, 3)); else w.WriteNull("duration_seconds");
                if (t.FailReason is { } reason) w.WriteString("fail_reason", reason);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + Environment.NewLine;
    }

    private static string CsvCell(string s) =>
        s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;

    private static string MdCell(string s) => s.Replace("|", "\\|").Replace("\n", " ");
}
