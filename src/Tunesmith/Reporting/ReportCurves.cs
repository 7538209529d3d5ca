using System.Text;
using System.Text.Json;
using Tunesmith.Spaces;

namespace Tunesmith.Reporting;

/// <summary>
/// Every trial's intermediate values (its learning curve: the study metric at each reported step) as data, as Ray Tune's
/// <c>result.metrics_dataframe</c> per trial and Optuna's <c>trial.intermediate_values</c>: CSV in long form (one row per
/// trial and step: <c>number, state, step, &lt;metric&gt;</c>, then the trial's parameters) or JSON
/// (<c>{"study", "direction", "metric", "trials": [{"number", "state", "params", "steps": [{"step", "&lt;metric&gt;"}]}]}</c>).
/// Trials by number, steps ascending; every state counts (a Pruned or Failed trial's curve is data too). Another reported
/// metric's curve (<see cref="FrozenTrial.IntermediateMetrics"/>, e.g. the training loss) is written the same way under
/// its own name. This is <c>tunesmith report --curves [--metric NAME]</c>.
/// </summary>
public static class ReportCurves
{
    /// <summary>The formats <c>Write</c> accepts.</summary>
    public static IReadOnlyList<string> Formats { get; } = ["csv", "json"];

    /// <summary>
    /// The metrics whose curves the trials hold: <paramref name="studyMetric"/> first (its curve is the intermediate
    /// values), then every other reported metric, by first appearance in trial order.
    /// </summary>
    public static IReadOnlyList<string> MetricNames(IEnumerable<FrozenTrial> trials, string studyMetric)
    {
        ArgumentNullException.ThrowIfNull(trials);
        var names = new List<string> { studyMetric };
        var seen = new HashSet<string>(names, StringComparer.Ordinal);
        foreach (var t in trials.OrderBy(t => t.Number))
            foreach (var name in t.IntermediateMetrics.Keys.Order(StringComparer.Ordinal))
                if (seen.Add(name)) names.Add(name);
        return names;
    }

    /// <summary>A trial's curve of <paramref name="metric"/>: its intermediate values for the study metric, else that reported metric's values (empty when it reported none).</summary>
    public static IReadOnlyDictionary<long, double> Curve(FrozenTrial trial, string metric, string studyMetric)
    {
        ArgumentNullException.ThrowIfNull(trial);
        return string.Equals(metric, studyMetric, StringComparison.Ordinal) ? trial.Intermediate
            : trial.IntermediateMetrics.TryGetValue(metric, out var series) ? series : Empty;
    }

    private static readonly IReadOnlyDictionary<long, double> Empty = new Dictionary<long, double>();

    /// <summary>Writes the curves of <paramref name="trials"/> in <paramref name="format"/> (csv or json).</summary>
    /// <exception cref="ArgumentException">An unknown format.</exception>
    public static void Write(IEnumerable<FrozenTrial> trials, string studyName, Direction direction, string metric, string format, TextWriter writer) =>
        Write(trials, studyName, direction, metric, format, writer, curveMetric: null);

    /// <summary>
    /// Writes the curves of <paramref name="curveMetric"/> (null: the study metric <paramref name="metric"/>) of
    /// <paramref name="trials"/> in <paramref name="format"/> (csv or json); a trial that did not report it has no rows.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown format.</exception>
    public static void Write(IEnumerable<FrozenTrial> trials, string studyName, Direction direction, string metric, string format, TextWriter writer, string? curveMetric)
    {
        ArgumentNullException.ThrowIfNull(trials);
        ArgumentNullException.ThrowIfNull(writer);
        var studyMetric = metric;
        metric = curveMetric ?? metric;
        var ordered = trials.OrderBy(t => t.Number).Select(t => (Trial: t, Curve: Curve(t, metric, studyMetric))).ToList();
        var parameters = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (t, _) in ordered)
            foreach (var p in t.Params.Keys)
                if (seen.Add(p)) parameters.Add(p);
        switch (ReportExporters.Canonical(format))
        {
            case "csv":
                WriteCsv(ordered, metric, parameters, writer);
                break;
            case "json":
                WriteJson(ordered, studyName, direction, metric, parameters, writer);
                break;
            default:
                throw new ArgumentException($"unknown curves format '{format}' (known: {string.Join(", ", Formats)})", nameof(format));
        }
    }

    private static void WriteCsv(List<(FrozenTrial Trial, IReadOnlyDictionary<long, double> Curve)> trials, string metric, List<string> parameters, TextWriter writer)
    {
        // A parameter named as a column before it (step, state) is written param:step, as the report's CSV writes it.
        var headers = new List<string> { "number", "state", metric == "step" ? "step_" : "step", metric };
        var taken = new HashSet<string>(headers, StringComparer.Ordinal);
        foreach (var p in parameters) headers.Add(ReportCells.Unique(p, "param:", taken));
        WriteRecord(writer, headers);
        foreach (var (t, curve) in trials)
            foreach (var (step, value) in curve.OrderBy(x => x.Key))
            {
                var cells = new List<string>(4 + parameters.Count)
                {
                    t.Number.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    t.State.ToString(),
                    step.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    NumberText.Double(value),
                };
                foreach (var p in parameters) cells.Add(t.Params.TryGetValue(p, out var v) ? ParamValues.Format(v) : "");
                WriteRecord(writer, cells);
            }
    }

    private static void WriteRecord(TextWriter writer, IReadOnlyList<string> fields)
    {
        writer.Write(string.Join(',', fields.Select(CsvReportExporter.Quote)));
        writer.Write("\r\n");
    }

    private static void WriteJson(List<(FrozenTrial Trial, IReadOnlyDictionary<long, double> Curve)> trials, string studyName, Direction direction, string metric, List<string> parameters, TextWriter writer)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("study", studyName);
            w.WriteString("direction", direction.ToString().ToLowerInvariant());
            w.WriteString("metric", metric);
            w.WriteStartArray("trials");
            foreach (var (t, curve) in trials)
            {
                w.WriteStartObject();
                w.WriteNumber("number", t.Number);
                w.WriteString("state", t.State.ToString());
                JsonReportExporter.WriteValues(w, "params", parameters, t.Params);
                w.WriteStartArray("steps");
                foreach (var (step, value) in curve.OrderBy(x => x.Key))
                {
                    w.WriteStartObject();
                    w.WriteNumber("step", step);
                    w.WritePropertyName(metric);
                    JsonReportExporter.WriteNumber(w, value);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        writer.Write(Encoding.UTF8.GetString(buffer.ToArray()));
        writer.Write('\n');
    }
}
