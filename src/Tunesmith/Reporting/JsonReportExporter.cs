using System.Text;
using System.Text.Json;
using Tunesmith.Spaces;

namespace Tunesmith.Reporting;

/// <summary>
/// JSON: <c>{"study", "direction", "metric", "total_trials", "trials": [{"rank", "number", "state", "value", "step",
/// "metrics", "params", "duration_seconds", "fail_reason"}]}</c>, best first; an inactive parameter is absent from its
/// trial's params. A Pruned trial's value is its last report, a Running one's its latest; <c>step</c> is that report's step.
/// A Failed or Waiting trial has neither (both null). <c>metrics</c> are those that go with the value: a Complete trial's
/// result, a Pruned, Paused or Running command trial's last report.
/// </summary>
public sealed class JsonReportExporter : IReportExporter
{
    /// <inheritdoc />
    public string Format => "json";

    /// <inheritdoc />
    public string FileExtension => ".json";

    /// <inheritdoc />
    public void Write(ReportTable table, TextWriter writer)
    {
        WriteDocument(table, writer, w =>
        {
            w.WriteNumber("total_trials", table.TotalTrials);
            w.WriteStartArray("trials");
            foreach (var r in table.Rows)
            {
                w.WriteStartObject();
                if (r.Rank is { } rank) w.WriteNumber("rank", rank); else w.WriteNull("rank");
                w.WriteNumber("number", r.Number);
                w.WriteString("state", r.State.ToString());
                w.WritePropertyName("value");
                WriteNumber(w, r.Objective);
                if (r.Step is { } step) w.WriteNumber("step", step); else w.WriteNull("step");
                WriteMetrics(w, table, r, withObjective: false);
                WriteParams(w, table, r);
                if (table.UserAttributeNames.Count > 0)
                {
                    // Only with user attributes asked for: the document's shape is otherwise unchanged.
                    WriteValues(w, "user_attrs", table.UserAttributeNames, r.UserAttributes);
                }
                w.WritePropertyName("duration_seconds");
                WriteNumber(w, r.Duration?.TotalSeconds);
                if (r.FailReason is { } reason) w.WriteString("fail_reason", reason); else w.WriteNull("fail_reason");
                w.WriteEndObject();
            }
            w.WriteEndArray();
        });
    }

    /// <summary>
    /// Writes the best trial of <paramref name="table"/> (its first ranked row) as one object:
    /// <c>{"study", "direction", "metric", "number", "value", "params", "metrics", "duration_seconds"}</c>, where
    /// <c>metrics</c> holds the objective too. This is <c>tunesmith best --format json</c>.
    /// </summary>
    /// <exception cref="ArgumentException">The table has no ranked (Complete) trial.</exception>
    public static void WriteBest(ReportTable table, TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(writer);
        var best = table.Rows.FirstOrDefault(r => r.Rank == 1)
            ?? throw new ArgumentException($"study '{table.StudyName}' has no complete trial", nameof(table));
        WriteDocument(table, writer, w =>
        {
            w.WriteNumber("number", best.Number);
            w.WritePropertyName("value");
            WriteNumber(w, best.Objective);
            WriteParams(w, table, best);
            WriteMetrics(w, table, best, withObjective: true);
            if (best.Duration is { } d)
            {
                w.WritePropertyName("duration_seconds");
                WriteNumber(w, d.TotalSeconds);
            }
        });
    }

    // One indented JSON object and a newline: the study's study/direction/metric, then what body writes.
    private static void WriteDocument(ReportTable table, TextWriter writer, Action<Utf8JsonWriter> body)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("study", table.StudyName);
            w.WriteString("direction", table.Direction.ToString().ToLowerInvariant());
            w.WriteString("metric", table.Metric);
            body(w);
            w.WriteEndObject();
        }
        writer.Write(Encoding.UTF8.GetString(buffer.ToArray()));
        writer.Write('\n');
    }

    private static void WriteMetrics(Utf8JsonWriter w, ReportTable table, ReportRow r, bool withObjective)
    {
        w.WriteStartObject("metrics");
        if (withObjective && r.Objective is { } objective)
        {
            w.WritePropertyName(table.Metric);
            WriteNumber(w, objective);
        }
        foreach (var m in table.MetricNames)
            if (r.Metrics.TryGetValue(m, out var v))
            {
                w.WritePropertyName(m);
                WriteNumber(w, v);
            }
        w.WriteEndObject();
    }

    private static void WriteParams(Utf8JsonWriter w, ReportTable table, ReportRow r) => WriteValues(w, "params", table.ParameterNames, r.Params);

    /// <summary>An object <paramref name="property"/> holding each of <paramref name="names"/> that <paramref name="values"/> has, in that order.</summary>
    internal static void WriteValues(Utf8JsonWriter w, string property, IEnumerable<string> names, IReadOnlyDictionary<string, object?> values)
    {
        w.WriteStartObject(property);
        foreach (var name in names)
            if (values.TryGetValue(name, out var v))
            {
                w.WritePropertyName(name);
                ParamValues.WriteJson(w, v);
            }
        w.WriteEndObject();
    }

    // JSON has no NaN or infinity: such a metric is written as null rather than breaking the document.
    internal static void WriteNumber(Utf8JsonWriter w, double? v)
    {
        if (v is { } d && double.IsFinite(d)) w.WriteRawValue(NumberText.Double(d));
        else w.WriteNullValue();
    }
}
