namespace Tunesmith.Reporting;

/// <summary>A GitHub-flavoured Markdown table, with a heading naming the study, direction and metric.</summary>
public sealed class MarkdownReportExporter : IReportExporter
{
    /// <inheritdoc />
    public string Format => "md";

    /// <inheritdoc />
    public string FileExtension => ".md";

    /// <inheritdoc />
    public void Write(ReportTable table, TextWriter writer)
    {
        var title = table.StudyName.Length > 0 ? table.StudyName : "study";
        writer.WriteLine($"## {Escape(title)}");
        writer.WriteLine();
        writer.WriteLine($"{table.Rows.Count} of {table.TotalTrials} {(table.TotalTrials == 1 ? "trial" : "trials")}, best first ({table.Direction.ToString().ToLowerInvariant()} {Escape(table.Metric)}).");
        writer.WriteLine();
        var headers = ReportCells.Headers(table);
        writer.WriteLine("| " + string.Join(" | ", headers.Select(Escape)) + " |");
        writer.WriteLine("|" + string.Join("|", headers.Select(h => ReportCells.IsNumeric(h, table) ? " ---: " : " --- ")) + "|");
        foreach (var row in table.Rows)
            writer.WriteLine("| " + string.Join(" | ", ReportCells.Cells(table, row, roundTrip: false).Select(Escape)) + " |");
    }

    /// <summary>A Markdown table cell: backslashes and pipes escaped, line breaks as spaces.</summary>
    internal static string Escape(string s) => s.Replace("\\", "\\\\").Replace("|", "\\|").ReplaceLineEndings(" ");
}
