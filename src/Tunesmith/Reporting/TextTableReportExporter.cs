namespace Tunesmith.Reporting;

/// <summary>
/// A plain-text table with aligned columns (numbers right-aligned), for a terminal or a log; no console library,
/// so that any program can print it. Line breaks inside a cell (a failure reason) become spaces.
/// </summary>
public sealed class TextTableReportExporter : IReportExporter
{
    /// <summary>The longest a failure reason may run in a cell before it is cut with an ellipsis.</summary>
    public int MaxReasonWidth { get; init; } = 60;

    /// <inheritdoc />
    public string Format => "table";

    /// <inheritdoc />
    public string FileExtension => ".txt";

    /// <inheritdoc />
    public void Write(ReportTable table, TextWriter writer)
    {
        var headers = ReportCells.Headers(table);
        var rows = table.Rows.Select(r => ReportCells.Cells(table, r, roundTrip: false).Select(c => c.ReplaceLineEndings(" ")).ToArray()).ToList();
        var reason = headers.Count - 1;
        foreach (var cells in rows)
            if (cells[reason].Length > MaxReasonWidth) cells[reason] = cells[reason][..(MaxReasonWidth - 1)] + "…";
        WriteAligned(writer, headers, rows, headers.Select(h => ReportCells.IsNumeric(h, table)).ToArray());
    }

    /// <summary>Writes a header, a rule and the rows in aligned columns, the <paramref name="numeric"/> ones right-aligned.</summary>
    internal static void WriteAligned(TextWriter writer, IReadOnlyList<string> headers, IReadOnlyList<string[]> rows, bool[] numeric)
    {
        var widths = headers.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        WriteLine(writer, headers, widths, numeric);
        writer.WriteLine(string.Join("  ", widths.Select(w => new string('-', w))).TrimEnd());
        foreach (var cells in rows) WriteLine(writer, cells, widths, numeric);
    }

    private static void WriteLine(TextWriter writer, IReadOnlyList<string> cells, int[] widths, bool[] numeric)
    {
        var parts = cells.Select((c, i) => numeric[i] ? c.PadLeft(widths[i]) : c.PadRight(widths[i]));
        writer.WriteLine(string.Join("  ", parts).TrimEnd());
    }
}
