using System.Text.Json;

namespace Tunesmith.Spaces;

/// <summary>
/// JSON form of a distribution, as stored with every trial parameter:
/// <c>{"type":"float","low":0.001,"high":1,"log":true}</c>, <c>{"type":"int","low":1,"high":8,"step":1}</c>,
/// <c>{"type":"categorical","choices":["adam","sgd",null]}</c>.
/// </summary>
public static class DistributionJson
{
    /// <summary>Serializes a distribution.</summary>
    public static string Serialize(Distribution distribution)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
            Write(w, distribution);
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Writes a distribution as a JSON object.</summary>
    public static void Write(Utf8JsonWriter w, Distribution distribution)
    {
        w.WriteStartObject();
        switch (distribution)
        {
            case FloatDistribution f:
                w.WriteString("type", "float");
                w.WriteNumber("low", f.Low);
                w.WriteNumber("high", f.High);
                if (f.Log) w.WriteBoolean("log", true);
                if (f.Step is { } s) w.WriteNumber("step", s);
                break;
            case IntDistribution i:
                w.WriteString("type", "int");
                w.WriteNumber("low", i.Low);
                w.WriteNumber("high", i.High);
                if (i.Log) w.WriteBoolean("log", true);
                if (i.Step != 1) w.WriteNumber("step", i.Step);
                break;
            case CategoricalDistribution c:
                w.WriteString("type", "categorical");
                w.WriteStartArray("choices");
                foreach (var choice in c.Choices) ParamValues.WriteJson(w, choice);
                w.WriteEndArray();
                break;
            default:
                throw new ArgumentException($"unknown distribution {distribution.GetType().Name}");
        }
        w.WriteEndObject();
    }

    /// <summary>Parses a distribution written by <see cref="Serialize"/>.</summary>
    public static Distribution Deserialize(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return Read(doc.RootElement);
    }

    /// <summary>Reads a distribution from a JSON object.</summary>
    public static Distribution Read(JsonElement e)
    {
        var type = e.GetProperty("type").GetString();
        bool Log() => e.TryGetProperty("log", out var l) && l.GetBoolean();
        return type switch
        {
            "float" => new FloatDistribution(e.GetProperty("low").GetDouble(), e.GetProperty("high").GetDouble(), Log(),
                e.TryGetProperty("step", out var fs) && fs.ValueKind == JsonValueKind.Number ? fs.GetDouble() : null),
            "int" => new IntDistribution(e.GetProperty("low").GetInt64(), e.GetProperty("high").GetInt64(), Log(),
                e.TryGetProperty("step", out var s) ? s.GetInt64() : 1),
            "categorical" => new CategoricalDistribution(e.GetProperty("choices").EnumerateArray().Select(ParamValues.FromJson).ToArray()),
            _ => throw new FormatException($"unknown distribution type '{type}'"),
        };
    }
}
