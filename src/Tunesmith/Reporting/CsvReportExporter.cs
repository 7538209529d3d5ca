namespace Tunesmith.Reporting;

/// <summary>
/// CSV (RFC 4180): a header row, then one row per trial; a field holding a comma, a quote or a line break is quoted,
/// with quotes doubled. Numbers are invariant and round-trip; an inactive parameter is an empty field.
/// </summary>
public sealed class CsvReportExporter : IReportExporter
{
    /// <inheritdoc />
    public string Format => "csv";

    /// <inheritdoc />
    public string FileExtension => ".csv";

    /// <inheritdoc />
    public void Write(ReportTable table, TextWriter writer)
    {
        WriteRecord(writer, ReportCells.Headers(table));
        foreach (var row in table.Rows)
            WriteRecord(writer, ReportCells.Cells(table, row, roundTrip: true));
    }

    private static void WriteRecord(TextWriter writer, IReadOnlyList<string> fields)
    {
        for (var i = 0; i < fields.Count; i++)
        {
            if (i > 0) writer.Write(',');
            writer.Write(Quote(fields[i]));
        }
        // RFC 4180 ends records with CRLF.
        writer.Write("\r\n");
    }

    /// <summary>Quotes a field when it needs it.</summary>
    public static string Quote(string field) =>
        field.AsSpan().IndexOfAny(",\"\r\n") >= 0 || (field.Length > 0 && (field[0] == ' ' || field[^1] == ' '))
            ? $"\"{field.Replace("\"", "\"\"")}\""
            : field;
}
