using System.Buffers;
using System.Text;
using System.Text.Json;
using Tunesmith.Spaces;

namespace Tunesmith.Storage.Sql;

/// <summary>
/// One parameter or attribute value as a JSON text (the stored form), read back with its type: string, long, double,
/// bool or null. 1.0 stays a double and 1 a long, because <see cref="ParamValues.WriteJson"/> keeps the decimal point.
/// </summary>
internal static class SqlValueJson
{
    /// <summary>Serializes one value.</summary>
    public static string Write(object? value)
    {
        switch (ParamValues.Normalize(value))
        {
            // The common cases without a JSON writer: they dominate every trial's params.
            case null: return "null";
            case bool b: return b ? "true" : "false";
            case long l: return l.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var w = new Utf8JsonWriter(buffer))
            ParamValues.WriteJson(w, value);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Reads one value written by <see cref="Write"/>.</summary>
    public static object? Read(string json)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json));
        if (!reader.Read()) throw new FormatException($"stored value '{json}' is not JSON");
        return reader.TokenType switch
        {
            JsonTokenType.Null => null,
            JsonTokenType.True => true,
            JsonTokenType.False => false,
            JsonTokenType.String => reader.GetString(),
            JsonTokenType.Number => reader.ValueSpan.IndexOfAny((byte)'.', (byte)'e', (byte)'E') < 0 && reader.TryGetInt64(out var l)
                ? (object)l
                : reader.GetDouble(),
            _ => ParamValues.FromJson(JsonDocument.Parse(json).RootElement.Clone()),
        };
    }
}
