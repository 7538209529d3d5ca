using System.Text;
using System.Text.Json;

namespace Tunesmith.Spaces;

/// <summary>
/// Reads explicit parameter combinations from a CSV file (a header row of parameter names, one combination per row)
/// or a JSON Lines file (one JSON object per line). This is the "we give you every combination to test" input of
/// <c>tunesmith enqueue --file</c>; a library user can enqueue the same rows with <c>Study.EnqueueAsync</c>.
/// </summary>
/// <remarks>
/// CSV cells are typed the way a <c>--set name=value</c> flag is (<see cref="ParamValues.ParseText"/>): integers, reals,
/// <c>true</c>/<c>false</c>, <c>null</c>, else text. An empty cell leaves the parameter out of that combination, so a
/// conditional parameter that does not apply to a row can be left blank.
/// </remarks>
public static class CombinationFile
{
    /// <summary>Reads a combinations file, choosing the format by extension (<c>.csv</c>; <c>.jsonl</c>, <c>.ndjson</c> or <c>.json</c>).</summary>
    /// <exception cref="CombinationFileException">The file is malformed; the message names the file and line.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static IReadOnlyList<IReadOnlyDictionary<string, object?>> Read(string path) => ReadRows(path).Select(r => r.Values).ToList();

    /// <summary>Reads a combinations file as <see cref="Read"/> does, keeping the line each combination starts on.</summary>
    /// <exception cref="CombinationFileException">The file is malformed; the message names the file and line.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static IReadOnlyList<CombinationRow> ReadRows(string path) => ReadRows(path, problems: null);

    /// <summary>
    /// Reads a combinations file as <see cref="ReadRows(string)"/> does, but with <paramref name="problems"/> it reads on past
    /// a malformed row: the row's problem is added there (in line order) and the row left out, so that a caller can name
    /// every bad row at once. A problem with the whole file (no header, a bad header, an unknown format) still throws; a
    /// quoted cell never closed ends the reading with its problem added.
    /// </summary>
    /// <exception cref="CombinationFileException">The whole file is malformed, or a row is and <paramref name="problems"/> is null.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static IReadOnlyList<CombinationRow> ReadRows(string path, ICollection<CombinationFileException>? problems)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"combinations file '{path}' does not exist", path);
        var extension = Path.GetExtension(path).ToLowerInvariant();
        using var reader = new StreamReader(path, Encoding.UTF8);
        return extension switch
        {
            ".csv" => ReadCsvRows(reader, path, problems),
            ".jsonl" or ".ndjson" or ".json" => ReadJsonLinesRows(reader, path, problems),
            _ => throw new CombinationFileException(path, 0, $"unknown combinations format '{extension}': use .csv or .jsonl"),
        };
    }

    // A row's problem: thrown, or kept for the caller when it collects them.
    private static void RowProblem(ICollection<CombinationFileException>? problems, CombinationFileException problem)
    {
        if (problems is null) throw problem;
        problems.Add(problem);
    }

    /// <summary>Reads CSV text (RFC 4180 quoting; a header row of parameter names).</summary>
    /// <param name="reader">The CSV text.</param>
    /// <param name="source">The name used in error messages (usually the file path).</param>
    public static IReadOnlyList<IReadOnlyDictionary<string, object?>> ReadCsv(TextReader reader, string source) =>
        ReadCsvRows(reader, source, null).Select(r => r.Values).ToList();

    private static List<CombinationRow> ReadCsvRows(TextReader reader, string source, ICollection<CombinationFileException>? problems)
    {
        var rows = new CsvRows(reader, source);
        if (!rows.TryNext(out var header, out var headerLine))
            throw new CombinationFileException(source, 1, "the file is empty: expected a header row of parameter names");
        var names = header.Select(h => h.Trim()).ToArray();
        for (var i = 0; i < names.Length; i++)
        {
            if (names[i].Length == 0) throw new CombinationFileException(source, headerLine, $"column {i + 1} of the header has no parameter name");
            for (var j = 0; j < i; j++)
                if (names[j] == names[i]) throw new CombinationFileException(source, headerLine, $"parameter '{names[i]}' appears twice in the header");
        }
        var result = new List<CombinationRow>();
        while (true)
        {
            List<string> cells;
            int line;
            try
            {
                if (!rows.TryNext(out cells, out line)) break;
            }
            catch (CombinationFileException e) when (problems is not null)
            {
                problems.Add(e); // a quoted cell never closed: the rest of the file is inside it
                break;
            }
            if (cells.Count == 1 && cells[0].Length == 0) continue; // blank line
            if (cells.Count != names.Length)
            {
                RowProblem(problems, new CombinationFileException(source, line, $"expected {names.Length} cells ({string.Join(", ", names)}), got {cells.Count}"));
                continue;
            }
            var combination = new Dictionary<string, object?>(StringComparer.Ordinal);
            for (var i = 0; i < names.Length; i++)
                if (cells[i].Length > 0) combination[names[i]] = ParamValues.ParseText(cells[i]);
            result.Add(new CombinationRow(line, combination));
        }
        return result;
    }

    /// <summary>Reads JSON Lines: each non-blank line is a JSON object of parameter values (strings, numbers, booleans, null).</summary>
    /// <param name="reader">The text.</param>
    /// <param name="source">The name used in error messages (usually the file path).</param>
    public static IReadOnlyList<IReadOnlyDictionary<string, object?>> ReadJsonLines(TextReader reader, string source) =>
        ReadJsonLinesRows(reader, source, null).Select(r => r.Values).ToList();

    private static List<CombinationRow> ReadJsonLinesRows(TextReader reader, string source, ICollection<CombinationFileException>? problems)
    {
        var result = new List<CombinationRow>();
        var lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                result.Add(new CombinationRow(lineNumber, ParamValues.FromJsonObject(line)));
            }
            catch (JsonException e)
            {
                RowProblem(problems, new CombinationFileException(source, lineNumber, $"not valid JSON: {FirstSentence(e.Message)}"));
            }
            catch (FormatException e)
            {
                RowProblem(problems, new CombinationFileException(source, lineNumber, e.Message));
            }
        }
        return result;
    }

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return (cut > 0 ? message[..cut] : message).TrimEnd('.', ' ');
    }

    /// <summary>Splits CSV text into rows of cells, tracking the line each row starts on.</summary>
    private sealed class CsvRows(TextReader reader, string source)
    {
        private int _line;

        public bool TryNext(out List<string> cells, out int startLine)
        {
            cells = [];
            startLine = _line + 1;
            var text = reader.ReadLine();
            if (text is null) return false;
            _line++;
            var cell = new StringBuilder();
            var quoted = false;
            var i = 0;
            while (true)
            {
                if (i >= text.Length)
                {
                    if (!quoted) break;
                    // A quoted cell continues on the next line.
                    var more = reader.ReadLine() ?? throw new CombinationFileException(source, startLine, "a quoted cell is never closed");
                    _line++;
                    cell.Append('\n');
                    text = more;
                    i = 0;
                    continue;
                }
                var c = text[i];
                if (quoted)
                {
                    if (c == '"' && i + 1 < text.Length && text[i + 1] == '"') { cell.Append('"'); i += 2; continue; }
                    if (c == '"') { quoted = false; i++; continue; }
                    cell.Append(c);
                    i++;
                    continue;
                }
                switch (c)
                {
                    case '"' when cell.ToString().Trim().Length == 0:
                        cell.Clear();
                        quoted = true;
                        break;
                    case ',':
                        cells.Add(cell.ToString());
                        cell.Clear();
                        break;
                    case '\r' when i == text.Length - 1:
                        break;
                    default:
                        cell.Append(c);
                        break;
                }
                i++;
            }
            cells.Add(cell.ToString());
            return true;
        }
    }
}

/// <summary>One combination of a combinations file and the line it starts on (1-based; the header is line 1 of a CSV file).</summary>
/// <param name="Line">The line the combination starts on.</param>
/// <param name="Values">The parameter values, typed as <see cref="CombinationFile.Read"/> types them.</param>
public sealed record CombinationRow(int Line, IReadOnlyDictionary<string, object?> Values);

/// <summary>A combinations file is malformed; the message is one line naming the file and line.</summary>
public sealed class CombinationFileException(string source, int line, string problem)
    : FormatException(line > 0 ? $"{source}:{line}: {problem}" : $"{source}: {problem}")
{
    /// <summary>The file (or source name) that is malformed.</summary>
    public string FileName { get; } = source;

    /// <summary>The 1-based line of the problem (0 when it concerns the whole file).</summary>
    public int Line { get; } = line;
}
