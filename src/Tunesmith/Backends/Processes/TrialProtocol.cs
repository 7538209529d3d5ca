using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Tunesmith.Backends.Processes;

/// <summary>What one protocol line of a command trial's stdout says.</summary>
public enum ProtocolMessageKind
{
    /// <summary><c>tunesmith:report {...}</c>: intermediate metrics at a step.</summary>
    Report,
    /// <summary><c>tunesmith:result {...}</c>: the final metrics.</summary>
    Result,
}

/// <summary>One parsed protocol line.</summary>
/// <param name="Kind">Report or result.</param>
/// <param name="Step">A report's <c>step</c>, when it gave one (an integer).</param>
/// <param name="Metrics">Every numeric field but <c>step</c> (NaN and ∞ kept, so the caller can reject them).</param>
public sealed record ProtocolMessage(ProtocolMessageKind Kind, long? Step, IReadOnlyDictionary<string, double> Metrics);

/// <summary>
/// The black-box trial protocol's wire format: the lines a program prints on stdout
/// (<c>tunesmith:report {"step": 3, "val_f1": 0.81}</c>, <c>tunesmith:result {"val_f1": 0.84}</c>), the
/// <c>result.json</c> it may write instead, and the bare-number last line accepted as a last resort. Pure parsing, no I/O.
/// </summary>
public static class TrialProtocol
{
    /// <summary>The prefix of an intermediate report line.</summary>
    public const string ReportPrefix = "tunesmith:report";

    /// <summary>The prefix of a final result line.</summary>
    public const string ResultPrefix = "tunesmith:result";

    /// <summary>
    /// Parses a stdout line: a report, a result, or null when the line is not a protocol line (ordinary output).
    /// Throws <see cref="FormatException"/> naming the problem when it is a protocol line with a malformed payload.
    /// </summary>
    public static ProtocolMessage? ParseLine(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        var text = line.Trim();
        ProtocolMessageKind kind;
        string payload;
        if (text.StartsWith(ReportPrefix, StringComparison.Ordinal)) (kind, payload) = (ProtocolMessageKind.Report, text[ReportPrefix.Length..]);
        else if (text.StartsWith(ResultPrefix, StringComparison.Ordinal)) (kind, payload) = (ProtocolMessageKind.Result, text[ResultPrefix.Length..]);
        else return null;
        // "tunesmith:reporter" is not ours: the prefix must end at whitespace or the payload.
        if (payload.Length > 0 && !char.IsWhiteSpace(payload[0]) && payload[0] != '{') return null;
        var prefix = kind == ProtocolMessageKind.Report ? ReportPrefix : ResultPrefix;
        var metrics = ParseMetricsObject(payload.Trim(), prefix, out var step);
        if (kind == ProtocolMessageKind.Result) step = null;
        return new ProtocolMessage(kind, step, metrics);
    }

    /// <summary>
    /// Parses a JSON object of metrics (a result line's payload, or a <c>result.json</c>): numeric fields become metrics;
    /// Python's bare <c>NaN</c>/<c>Infinity</c> and numeric strings are accepted; other fields are ignored. A
    /// <c>result.json</c> of the form <c>{"metrics": {...}}</c> is read from its <c>metrics</c> object. A <c>step</c> field is
    /// never a metric. Throws <see cref="FormatException"/> naming <paramref name="source"/> when the text is not such an object.
    /// </summary>
    public static IReadOnlyDictionary<string, double> ParseMetrics(string json, string source = "result") =>
        ParseMetricsObject(json.Trim(), source, out _, allowNestedMetrics: true);

    /// <summary>Reads a bare number line (<c>0.84</c>, <c>nan</c>, <c>-inf</c>): the last-resort result of a program.</summary>
    public static bool TryParseBareNumber(string line, out double value)
    {
        var t = line.Trim();
        switch (t.ToLowerInvariant())
        {
            case "nan": value = double.NaN; return true;
            case "inf" or "+inf" or "infinity" or "+infinity": value = double.PositiveInfinity; return true;
            case "-inf" or "-infinity": value = double.NegativeInfinity; return true;
        }
        return double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }

    private static Dictionary<string, double> ParseMetricsObject(string json, string source, out long? step, bool allowNestedMetrics = false)
    {
        step = null;
        if (json.Length == 0) throw new FormatException($"{source}: expected a JSON object of metrics, got nothing");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(QuoteNonFiniteLiterals(json)); }
        catch (JsonException e) { throw new FormatException($"{source}: not a JSON object ({e.Message.Split('.')[0]}): {Shorten(json)}"); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new FormatException($"{source}: expected a JSON object of metrics, got {root.ValueKind.ToString().ToLowerInvariant()}");
            if (allowNestedMetrics && root.TryGetProperty("metrics", out var nested) && nested.ValueKind == JsonValueKind.Object) root = nested;
            var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var p in root.EnumerateObject())
            {
                // A step that is no number ("x", true) is as wrong as a negative one: said, not taken as a missing step.
                if (p.Name == "step" && p.Value.ValueKind != JsonValueKind.Null && !TryReadNumber(p.Value, out _))
                    throw new FormatException($"{source}: \"step\" must be a non-negative integer, got {p.Value.GetRawText()}");
                if (!TryReadNumber(p.Value, out var v)) continue;
                if (p.Name == "step")
                {
                    if (v != Math.Floor(v) || !double.IsFinite(v) || v < 0) throw new FormatException($"{source}: \"step\" must be a non-negative integer, got {p.Value.GetRawText()}");
                    step = (long)v;
                    continue;
                }
                metrics[p.Name] = v;
            }
            return metrics;
        }
    }

    private static bool TryReadNumber(JsonElement e, out double value)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Number: return e.TryGetDouble(out value);
            case JsonValueKind.String: return TryParseBareNumber(e.GetString()!, out value);
            default: value = double.NaN; return false;
        }
    }

    // Python's json.dumps writes NaN, Infinity and -Infinity as bare tokens, which JSON does not allow: quote them (outside
    // strings) so they parse, and the NaN check, not the JSON parser, is what fails the trial.
    private static string QuoteNonFiniteLiterals(string json)
    {
        if (json.IndexOf("NaN", StringComparison.Ordinal) < 0 && json.IndexOf("Infinity", StringComparison.Ordinal) < 0) return json;
        var sb = new StringBuilder(json.Length + 8);
        var inString = false;
        for (var i = 0; i < json.Length; i++)
        {
            var c = json[i];
            if (inString)
            {
                sb.Append(c);
                if (c == '\\' && i + 1 < json.Length) sb.Append(json[++i]);
                else if (c == '"') inString = false;
                continue;
            }
            if (c == '"') { inString = true; sb.Append(c); continue; }
            string? token = null;
            foreach (var t in (ReadOnlySpan<string>)["-Infinity", "Infinity", "NaN"])
                if (string.CompareOrdinal(json, i, t, 0, t.Length) == 0) { token = t; break; }
            if (token is not null)
            {
                sb.Append('"').Append(token).Append('"');
                i += token.Length - 1;
            }
            else sb.Append(c);
        }
        return sb.ToString();
    }

    private static string Shorten(string s) => s.Length <= 120 ? s : s[..117] + "...";
}
