using System.Globalization;
using Tunesmith.Spaces;

namespace Tunesmith.Reporting;

/// <summary>Writes a <see cref="ReportTable"/> in one format; adding a format (HTML, ...) adds one exporter.</summary>
public interface IReportExporter
{
    /// <summary>The format's name as the CLI spells it (<c>table</c>, <c>csv</c>, <c>json</c>, <c>md</c>, <c>html</c>).</summary>
    string Format { get; }

    /// <summary>The usual file extension, with its dot.</summary>
    string FileExtension { get; }

    /// <summary>Writes the report.</summary>
    void Write(ReportTable table, TextWriter writer);
}

/// <summary>The report exporters by format name.</summary>
public static class ReportExporters
{
    private static readonly IReportExporter[] All =
        [new TextTableReportExporter(), new CsvReportExporter(), new JsonReportExporter(), new MarkdownReportExporter(), new HtmlReportExporter()];

    /// <summary>The format names <see cref="Get"/> accepts (aliases aside: <c>markdown</c> for md, <c>text</c> for table).</summary>
    public static IReadOnlyList<string> Formats { get; } = All.Select(e => e.Format).ToArray();

    /// <summary>The exporter for <paramref name="format"/>; throws <see cref="ArgumentException"/> naming the known formats.</summary>
    public static IReportExporter Get(string format)
    {
        var f = Canonical(format);
        return All.FirstOrDefault(e => e.Format == f)
            ?? throw new ArgumentException($"unknown report format '{format}' (known: {string.Join(", ", Formats)})", nameof(format));
    }

    /// <summary>A format name as the exporters spell it: trimmed, lower case, <c>markdown</c> → md, <c>text</c>/<c>txt</c> → table.</summary>
    internal static string Canonical(string format) =>
        format.Trim().ToLowerInvariant() switch { "markdown" => "md", "text" or "txt" => "table", var other => other };

    /// <summary>Renders a report to a string.</summary>
    public static string Render(this IReportExporter exporter, ReportTable table)
    {
        using var w = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        exporter.Write(table, w);
        return w.ToString();
    }
}

/// <summary>The cell texts every text-like exporter shares, so that the formats agree on what a value looks like.</summary>
internal static class ReportCells
{
    public static IReadOnlyList<string> Headers(ReportTable t)
    {
        var headers = new List<string> { "rank", "number", "state", t.Metric };
        if (t.HasSteps) headers.Add(t.Metric == "step" ? "step_" : "step");
        var taken = new HashSet<string>(headers, StringComparer.Ordinal);
        foreach (var m in t.MetricNames) headers.Add(Unique(m, "metric:", taken));
        foreach (var p in t.ParameterNames) headers.Add(Unique(p, "param:", taken));
        foreach (var a in t.UserAttributeNames) headers.Add(Unique("user_attrs_" + a, "", taken));
        headers.Add(Unique("duration_s", "", taken));
        headers.Add(Unique("fail_reason", "", taken));
        return headers;
    }

    internal static string Unique(string name, string prefix, HashSet<string> taken)
    {
        var n = taken.Contains(name) ? prefix + name : name;
        while (!taken.Add(n)) n += "_";
        return n;
    }

    /// <summary>The row's cells, in <see cref="Headers"/> order; <paramref name="roundTrip"/> keeps every digit (CSV), else 6 significant ones.</summary>
    public static IReadOnlyList<string> Cells(ReportTable t, ReportRow r, bool roundTrip)
    {
        var cells = new List<string>
        {
            r.Rank?.ToString(CultureInfo.InvariantCulture) ?? "",
            r.Number.ToString(CultureInfo.InvariantCulture),
            r.State.ToString(),
            r.Objective is { } v ? Number(v, roundTrip) : "",
        };
        if (t.HasSteps) cells.Add(r.Step?.ToString(CultureInfo.InvariantCulture) ?? "");
        foreach (var m in t.MetricNames) cells.Add(r.Metrics.TryGetValue(m, out var mv) ? Number(mv, roundTrip) : "");
        foreach (var p in t.ParameterNames) cells.Add(r.Params.TryGetValue(p, out var pv) ? Value(pv, roundTrip) : "");
        foreach (var a in t.UserAttributeNames) cells.Add(r.UserAttributes.TryGetValue(a, out var av) && av is not null ? Value(av, roundTrip) : "");
        cells.Add(r.Duration is { } d ? d.TotalSeconds.ToString(roundTrip ? "0.###" : "0.0", CultureInfo.InvariantCulture) : "");
        cells.Add(r.FailReason ?? "");
        return cells;
    }

    public static string Number(double v, bool roundTrip) =>
        roundTrip ? NumberText.Double(v) : NumberText.Short(v);

    public static string Value(object? v, bool roundTrip) =>
        !roundTrip && ParamValues.Normalize(v) is double d ? Number(d, false) : ParamValues.Format(v);

    public static bool IsNumeric(string header, ReportTable t) =>
        header is "rank" or "number" or "duration_s" || (t.HasSteps && header is "step" or "step_") || header == t.Metric || t.MetricNames.Contains(header);
}
