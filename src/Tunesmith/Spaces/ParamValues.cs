using System.Globalization;
using System.Text.Json;

namespace Tunesmith.Spaces;

/// <summary>
/// The value types a parameter may hold — <see cref="string"/>, <see cref="long"/>, <see cref="double"/>,
/// <see cref="bool"/> and null — and the conversions between them, JSON and text.
/// </summary>
public static class ParamValues
{
    /// <summary>Normalizes a CLR value onto the parameter value types (int → long, float → double, JsonElement → its value).</summary>
    public static object? Normalize(object? value) => value switch
    {
        null => null,
        string or long or double or bool => value,
        int i => (long)i,
        short s => (long)s,
        byte b => (long)b,
        uint u => (long)u,
        float f => (double)f,
        decimal d => (double)d,
        JsonElement e => FromJson(e),
        _ => value,
    };

    /// <summary>Reads a JSON value as a parameter value: integers without a fraction or exponent become long.</summary>
    public static object? FromJson(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => e.GetString(),
        // The cast matters: without it the conditional is typed double and every integer comes back as a double.
        JsonValueKind.Number => e.TryGetInt64(out var l) && IsIntegerLiteral(e.GetRawText()) ? (object)l : e.GetDouble(),
        _ => throw new FormatException($"a parameter value must be a string, number, boolean or null, got {e.ValueKind.ToString().ToLowerInvariant()}"),
    };

    private static bool IsIntegerLiteral(string raw) => raw.IndexOfAny(['.', 'e', 'E']) < 0;

    /// <summary>Writes a parameter value as JSON.</summary>
    public static void WriteJson(Utf8JsonWriter w, object? value)
    {
        switch (Normalize(value))
        {
            case null: w.WriteNullValue(); break;
            case string s: w.WriteStringValue(s); break;
            case long l: w.WriteNumberValue(l); break;
            case double d when double.IsFinite(d):
                // As Python writes it (6.5388e-05), always with a point or an exponent, so that 1.0 reads back as a double.
                w.WriteRawValue(NumberText.Double(d));
                break;
            case double d: w.WriteStringValue(d.ToString(CultureInfo.InvariantCulture)); break;
            case bool b: w.WriteBooleanValue(b); break;
            case var other: throw new ArgumentException($"unsupported parameter value type {other.GetType().Name}");
        }
    }

    /// <summary>
    /// Serializes a dictionary of parameter values as a JSON object, keeping the key order. Characters are written as they
    /// are (<c>+</c>, <c>&lt;</c>, <c>é</c>), not as <c>\u</c> escapes: the text goes to files and terminals, never into HTML.
    /// </summary>
    public static string ToJson(IEnumerable<KeyValuePair<string, object?>> values)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            foreach (var (k, v) in values)
            {
                w.WritePropertyName(k);
                WriteJson(w, v);
            }
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Parses a JSON object of parameter values, keeping the key order.</summary>
    public static Dictionary<string, object?> FromJsonObject(string json)
    {
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw new FormatException("expected a JSON object of parameter values");
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var p in doc.RootElement.EnumerateObject())
            result[p.Name] = FromJson(p.Value);
        return result;
    }

    /// <summary>Formats a value the way a user would type it (invariant culture; a double as <see cref="NumberText.Double"/> writes it).</summary>
    public static string Format(object? value) => Normalize(value) switch
    {
        null => "null",
        string s => s,
        bool b => b ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => NumberText.Double(d),
        var o => Convert.ToString(o, CultureInfo.InvariantCulture) ?? "",
    };

    /// <summary>Equality of two parameter values across numeric types (3 == 3.0) but not across kinds (3 ≠ "3").</summary>
    public static bool AreEqual(object? a, object? b)
    {
        a = Normalize(a);
        b = Normalize(b);
        return (a, b) switch
        {
            (null, null) => true,
            (long x, long y) => x == y,
            (long x, double y) => x == y,
            (double x, long y) => x == y,
            (double x, double y) => x.Equals(y),
            _ => Equals(a, b),
        };
    }

    /// <summary>Converts a numeric value (or numeric text) to double, or returns false.</summary>
    public static bool TryToDouble(object? value, out double result)
    {
        switch (Normalize(value))
        {
            case long l: result = l; return true;
            case double d: result = d; return true;
            case string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var p): result = p; return true;
            default: result = double.NaN; return false;
        }
    }

    /// <summary>Converts a numeric value without a fractional part (or integer text) to long, or returns false.</summary>
    public static bool TryToLong(object? value, out long result)
    {
        switch (Normalize(value))
        {
            case long l: result = l; return true;
            case double d when d == Math.Floor(d) && Math.Abs(d) < 9e18: result = (long)d; return true;
            case string s when long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var p): result = p; return true;
            case string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var p) && p == Math.Floor(p) && Math.Abs(p) < 9e18:
                result = (long)p; return true;
            default: result = 0; return false;
        }
    }

    /// <summary>Converts a numeric value to double or throws.</summary>
    public static double ToDouble(object? value) =>
        TryToDouble(value, out var d) ? d : throw new ArgumentException($"value {Format(value)} is not a number");

    /// <summary>Reads a typed value from text the way a CSV cell or a <c>--set name=value</c> flag spells it.</summary>
    public static object? ParseText(string text)
    {
        var t = text.Trim();
        if (t.Length == 0 || t == "null") return t.Length == 0 ? "" : null;
        if (t is "true" or "True") return true;
        if (t is "false" or "False") return false;
        if (long.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l)) return l;
        if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return d;
        return text;
    }
}
