using System.Globalization;
using System.Text.Json;
using Tunesmith.Spaces;

namespace Tunesmith.Reporting;

/// <summary>One group of a study's trials that share a key (a compute class, a node, a Slurm job, a worker, a parameter value).</summary>
/// <param name="Key">The shared value, as text; <c>(none)</c> for trials that lack the key.</param>
/// <param name="Trials">How many trials the group holds.</param>
/// <param name="Complete">How many of them are Complete.</param>
/// <param name="Pruned">How many were stopped by a scheduler.</param>
/// <param name="Failed">How many failed.</param>
/// <param name="Paused">How many are Paused (a promotion-based scheduler's, waiting for a promotion).</param>
/// <param name="Best">The best objective value among the Complete ones.</param>
/// <param name="Median">The median objective value among the Complete ones.</param>
/// <param name="Runtime">The summed wall time of the finished trials.</param>
public sealed record ReportGroup(string Key, int Trials, int Complete, int Pruned, int Failed, int Paused, double? Best, double? Median, TimeSpan Runtime);

/// <summary>
/// A study's trials grouped by one key, best group first: how each compute class, node or worker did. The key is looked
/// up as <c>worker</c>, then as a system attribute (<c>compute_class</c>, <c>node</c>, <c>slurm_job_id</c>), a user
/// attribute, and a parameter.
/// </summary>
public static class ReportGroups
{
    /// <summary>The text written for trials that lack the key.</summary>
    public const string None = "(none)";

    /// <summary>Groups <paramref name="trials"/> by <paramref name="by"/>; groups with a best value first (best first), then by key.</summary>
    public static IReadOnlyList<ReportGroup> Build(IEnumerable<FrozenTrial> trials, Direction direction, string by)
    {
        ArgumentNullException.ThrowIfNull(trials);
        ArgumentException.ThrowIfNullOrWhiteSpace(by);
        var groups = trials.GroupBy(t => KeyOf(t, by), StringComparer.Ordinal).Select(g =>
        {
            var values = g.Where(t => t.State == TrialState.Complete && t.Value is { } v && !double.IsNaN(v)).Select(t => t.Value!.Value).Order().ToArray();
            double? best = values.Length == 0 ? null : direction == Direction.Maximize ? values[^1] : values[0];
            double? median = values.Length == 0 ? null : values.Length % 2 == 1 ? values[values.Length / 2] : (values[values.Length / 2 - 1] + values[values.Length / 2]) / 2;
            return new ReportGroup(g.Key, g.Count(), g.Count(t => t.State == TrialState.Complete), g.Count(t => t.State == TrialState.Pruned),
                g.Count(t => t.State == TrialState.Failed), g.Count(t => t.State == TrialState.Paused), best, median, g.Aggregate(TimeSpan.Zero, (sum, t) => sum + (t.Duration ?? TimeSpan.Zero)));
        });
        return groups
            .OrderBy(g => g.Best is null)
            .ThenBy(g => g.Best is { } b ? (direction == Direction.Maximize ? -b : b) : 0)
            .ThenBy(g => g.Key, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>
    /// Why every trial would land in <see cref="None"/>: no trial has <paramref name="by"/> (a misspelt key), with the keys
    /// the trials do have and the closest one; null when some trial has it, or there are no trials.
    /// </summary>
    public static string? MissingKeyNote(IReadOnlyCollection<FrozenTrial> trials, string by)
    {
        ArgumentNullException.ThrowIfNull(trials);
        if (trials.Count == 0 || trials.Any(t => KeyOf(t, by) != None)) return null;
        string[] slurmKeys = ["compute_class", "node", "slurm_job_id"];
        var keys = new List<string> { "worker" };
        keys.AddRange(slurmKeys.Where(k => trials.Any(t => t.SystemAttributes.ContainsKey(k))));
        keys.AddRange(trials.SelectMany(t => t.UserAttributes.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal));
        keys.AddRange(trials.SelectMany(t => t.Params.Keys).Distinct(StringComparer.Ordinal));
        var known = keys.Distinct(StringComparer.Ordinal).ToList();
        return $"no trial has '{by}'{Spaces.Spec.ClosestName.Suggest(by, known)}, so every trial is in {None} (keys: {string.Join(", ", known)})";
    }

    /// <summary>The value of <paramref name="by"/> for one trial, as text, or <see cref="None"/>.</summary>
    public static string KeyOf(FrozenTrial trial, string by)
    {
        ArgumentNullException.ThrowIfNull(trial);
        var value = by == "worker" ? trial.Worker
            : trial.SystemAttributes.TryGetValue(by, out var s) ? s
            : trial.UserAttributes.TryGetValue(by, out var u) ? u
            : trial.Params.TryGetValue(by, out var p) ? p
            : null;
        return value switch
        {
            null => None,
            double d => NumberText.Double(d),
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            JsonElement e => e.ValueKind == JsonValueKind.String ? e.GetString() ?? None : e.GetRawText(),
            var other => other.ToString() ?? None,
        };
    }

    /// <summary>The formats <see cref="Write"/> knows.</summary>
    public static IReadOnlyList<string> Formats { get; } = ["table", "csv", "json", "md"];

    /// <summary>Writes <paramref name="groups"/> as a text table, CSV, JSON or Markdown.</summary>
    public static void Write(IReadOnlyList<ReportGroup> groups, string by, string metric, string format, TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(groups);
        ArgumentNullException.ThrowIfNull(writer);
        var f = ReportExporters.Canonical(format);
        if (f == "json")
        {
            using var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                w.WriteStartObject();
                w.WriteString("by", by);
                w.WriteString("metric", metric);
                w.WriteStartArray("groups");
                foreach (var g in groups)
                {
                    w.WriteStartObject();
                    w.WriteString("key", g.Key);
                    w.WriteNumber("trials", g.Trials);
                    w.WriteNumber("complete", g.Complete);
                    w.WriteNumber("pruned", g.Pruned);
                    w.WriteNumber("failed", g.Failed);
                    w.WriteNumber("paused", g.Paused);
                    if (g.Best is { } b) w.WriteNumber("best", b); else w.WriteNull("best");
                    if (g.Median is { } m) w.WriteNumber("median", m); else w.WriteNull("median");
                    w.WriteNumber("runtime_s", Math.Round(g.Runtime.TotalSeconds, 3));
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            writer.Write(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
            writer.Write('\n');
            return;
        }
        string[] headers = [by, "trials", "complete", "pruned", "failed", "paused", $"best {metric}", $"median {metric}", "runtime_s"];
        var rows = groups.Select(g => new[]
        {
            g.Key, Num(g.Trials), Num(g.Complete), Num(g.Pruned), Num(g.Failed), Num(g.Paused), Num(g.Best), Num(g.Median),
            g.Runtime.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture),
        }).ToList();
        switch (f)
        {
            case "csv":
                writer.WriteLine(string.Join(',', headers.Select(CsvReportExporter.Quote)));
                foreach (var r in rows) writer.WriteLine(string.Join(',', r.Select(CsvReportExporter.Quote)));
                break;
            case "md":
                writer.WriteLine("| " + string.Join(" | ", headers.Select(MarkdownReportExporter.Escape)) + " |");
                writer.WriteLine("| --- |" + string.Concat(Enumerable.Repeat(" ---: |", headers.Length - 1)));
                foreach (var r in rows) writer.WriteLine("| " + string.Join(" | ", r.Select(MarkdownReportExporter.Escape)) + " |");
                break;
            case "table":
                TextTableReportExporter.WriteAligned(writer, headers, rows, headers.Select((_, i) => i > 0).ToArray());
                break;
            default:
                throw new ArgumentException($"unknown grouped report format '{format}' (known: {string.Join(", ", Formats)})", nameof(format));
        }
    }

    private static string Num(int n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Num(double? v) => v is { } d ? NumberText.Short(d) : "";
}
