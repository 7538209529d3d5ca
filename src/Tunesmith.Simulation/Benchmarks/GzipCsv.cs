using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace Tunesmith.Simulation.Benchmarks;

/// <summary>Reads the benchmark data's gzip-compressed CSV files (header row, comma-separated, <c>""</c> escapes inside quotes).</summary>
internal sealed class GzipCsv
{
    private readonly Dictionary<string, int> _columns;

    private GzipCsv(string path, string[] header, List<string[]> rows)
    {
        Path = path;
        _columns = header.Select((h, i) => (h, i)).ToDictionary(x => x.h, x => x.i, StringComparer.Ordinal);
        Rows = rows;
    }

    /// <summary>The file read.</summary>
    public string Path { get; }

    /// <summary>The data rows (the header excluded).</summary>
    public IReadOnlyList<string[]> Rows { get; }

    /// <summary>Reads a whole file.</summary>
    public static GzipCsv Read(string path)
    {
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);
        var header = ParseLine(reader.ReadLine() ?? throw new InvalidDataException($"{path}: empty file"));
        var rows = new List<string[]>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0) continue;
            var row = ParseLine(line);
            if (row.Length != header.Length) throw new InvalidDataException($"{path}: row {rows.Count + 2} has {row.Length} fields, the header {header.Length}");
            rows.Add(row);
        }
        return new GzipCsv(path, header, rows);
    }

    /// <summary>The index of column <paramref name="name"/>; throws naming the file and column when absent.</summary>
    public int Column(string name) =>
        _columns.TryGetValue(name, out var i) ? i : throw new InvalidDataException($"{Path}: no column '{name}'");

    /// <summary>A field as a double (<c>nan</c> is NaN).</summary>
    public static double Number(string field) =>
        field is "nan" or "NaN" ? double.NaN : double.Parse(field, NumberStyles.Float, CultureInfo.InvariantCulture);

    private static string[] ParseLine(string line)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c != '"') field.Append(c);
                else if (i + 1 < line.Length && line[i + 1] == '"') { field.Append('"'); i++; }
                else quoted = false;
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { fields.Add(field.ToString()); field.Clear(); }
            else field.Append(c);
        }
        fields.Add(field.ToString());
        return fields.ToArray();
    }
}
