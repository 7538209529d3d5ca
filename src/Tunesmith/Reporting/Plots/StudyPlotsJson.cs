using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tunesmith.Reporting.Plots;

/// <summary>
/// The JSON form of <see cref="StudyPlots"/> that the JavaScript renderer (plots.js) reads: camelCase names, enums as
/// their names, and plot numbers with 7 significant digits (enough to draw; it keeps report files small).
/// </summary>
public static class StudyPlotsJson
{
    /// <summary>The serializer options (also fit for the other plot records).</summary>
    public static JsonSerializerOptions Options { get; } = CreateOptions();

    /// <summary>Serializes the plots as UTF-8 JSON, safe to embed in an HTML script element.</summary>
    public static string Serialize(StudyPlots plots) => JsonSerializer.Serialize(plots, Options);

    /// <summary>
    /// The optimization history alone, as <c>{"metric", "direction", "history"}</c>: the fields plots.js needs to draw it
    /// before the rest of the plots arrive.
    /// </summary>
    public static string SerializeHistory(string metric, Direction direction, HistoryPlot history) =>
        JsonSerializer.Serialize(new HistoryOnly(metric, direction, history), Options);

    private sealed record HistoryOnly(string Metric, Direction Direction, HistoryPlot History);

    private static JsonSerializerOptions CreateOptions()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.Never,
            // The default encoder escapes <, > and &, so the JSON can sit inside <script> without closing it.
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.Default,
        };
        o.Converters.Add(new JsonStringEnumConverter());
        o.Converters.Add(new CompactDoubleConverter());
        o.MakeReadOnly(populateMissingResolver: true);
        return o;
    }

    private sealed class CompactDoubleConverter : JsonConverter<double>
    {
        public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.GetDouble();

        public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
        {
            if (!double.IsFinite(value)) { writer.WriteNullValue(); return; }
            // Integers (steps, epoch milliseconds) keep every digit; other numbers get 7 significant ones.
            if (value == Math.Floor(value) && Math.Abs(value) < 1e15) writer.WriteNumberValue((long)value);
            else writer.WriteRawValue(value.ToString("G7", CultureInfo.InvariantCulture));
        }
    }
}
