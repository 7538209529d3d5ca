using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Tunesmith.Spaces.Spec;

/// <summary>
/// Reads typed values out of a YAML (or JSON) node tree and turns every problem into a <see cref="StudyFileException"/>
/// carrying the node's line and column. Plain scalars are typed by the YAML 1.2 core schema; quoted ones are strings.
/// </summary>
internal sealed partial class YamlSource(string file)
{
    public string File { get; } = file;

    public static YamlNode? LoadRoot(string text, string file)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new StudyFileException(file, (int)e.Start.Line, (int)e.Start.Column, null, $"not valid YAML or JSON: {InnerMessage(e)}", e);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException or OverflowException)
        {
            // The scanner sometimes fails without a position; the end of the last event it read is where it stopped.
            var (line, column) = LastGoodPosition(text);
            throw new StudyFileException(file, line, column, null, "not valid YAML or JSON: the parser stopped after this point", e);
        }
        if (stream.Documents.Count == 0) return null;
        if (stream.Documents.Count > 1)
        {
            var second = stream.Documents[1].RootNode;
            throw new StudyFileException(file, (int)second.Start.Line, (int)second.Start.Column, null, "a study file holds one document, found a second one");
        }
        var root = stream.Documents[0].RootNode;
        return root is YamlScalarNode { Value: null or "" } ? null : root;
    }

    private static (int Line, int Column) LastGoodPosition(string text)
    {
        var line = 1L;
        var column = 1L;
        try
        {
            var parser = new Parser(new StringReader(text));
            while (parser.MoveNext())
                if (parser.Current is { } current) (line, column) = (current.End.Line, current.End.Column);
        }
        catch (Exception)
        {
            // Expected: this walk only looks for where reading stops.
        }
        return ((int)line, (int)column);
    }

    private static string InnerMessage(YamlException e)
    {
        // YamlDotNet prefixes its messages with "(Line: …) - (Line: …): "; the position is already in our prefix.
        var m = e.InnerException is YamlException inner ? inner.Message : e.Message;
        var cut = m.IndexOf("): ", StringComparison.Ordinal);
        return m.StartsWith("(Line", StringComparison.Ordinal) && cut > 0 ? m[(cut + 3)..] : m;
    }

    public StudyFileException Error(YamlNode node, string? field, string problem) =>
        new(File, (int)node.Start.Line, (int)node.Start.Column, field, problem);

    public StudyFileException Error(YamlNode node, int offset, string? field, string problem) =>
        new(File, (int)node.Start.Line, (int)node.Start.Column + offset, field, problem);

    public SourceLocation Location(YamlNode node, string field) => new(File, (int)node.Start.Line, (int)node.Start.Column, field);

    public static string Describe(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        YamlScalarNode s => TypeOf(Scalar(s)),
        _ => "an unsupported node",
    };

    public static string TypeOf(object? v) => v switch
    {
        null => "null",
        string s => $"the string '{s}'",
        bool b => $"the boolean {(b ? "true" : "false")}",
        long l => $"the integer {l.ToString(CultureInfo.InvariantCulture)}",
        double d => $"the number {ParamValues.Format(d)}",
        _ => v.GetType().Name,
    };

    /// <summary>The typed value of a scalar: null, bool, long, double or string.</summary>
    public static object? Scalar(YamlScalarNode node)
    {
        var text = node.Value ?? "";
        if (node.Style is not (ScalarStyle.Plain or ScalarStyle.Any)) return text;
        if (text.Length == 0 || text is "~" or "null" or "Null" or "NULL") return null;
        if (text is "true" or "True" or "TRUE") return true;
        if (text is "false" or "False" or "FALSE") return false;
        if (IntPattern().IsMatch(text) && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)) return l;
        if (text.StartsWith("0x", StringComparison.Ordinal) && long.TryParse(text[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var h)) return h;
        if (FloatPattern().IsMatch(text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return d;
        switch (text)
        {
            case ".inf" or ".Inf" or ".INF" or "+.inf" or "+.Inf" or "+.INF": return double.PositiveInfinity;
            case "-.inf" or "-.Inf" or "-.INF": return double.NegativeInfinity;
            case ".nan" or ".NaN" or ".NAN": return double.NaN;
        }
        return text;
    }

    [GeneratedRegex(@"^[-+]?[0-9]+$")]
    private static partial Regex IntPattern();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex FloatPattern();

    public YamlMappingNode Mapping(YamlNode node, string field, string example)
    {
        if (node is YamlMappingNode m) return m;
        throw Error(node, field, $"expected a mapping such as {example}, got {Describe(node)}");
    }

    public YamlSequenceNode Sequence(YamlNode node, string field, string example)
    {
        if (node is YamlSequenceNode s) return s;
        throw Error(node, field, $"expected a list such as {example}, got {Describe(node)}");
    }

    public object? ScalarValue(YamlNode node, string field)
    {
        if (node is YamlScalarNode s) return Scalar(s);
        throw Error(node, field, $"expected a single value, got {Describe(node)}");
    }

    public string String(YamlNode node, string field)
    {
        // Any scalar reads as its text: `name: 2024` is a fine study name.
        if (node is YamlScalarNode s && Scalar(s) is not null) return s.Value!;
        throw Error(node, field, $"expected text, got {Describe(node)}");
    }

    public long Integer(YamlNode node, string field)
    {
        var v = ScalarValue(node, field);
        return v switch
        {
            long l => l,
            double d when d == Math.Floor(d) && Math.Abs(d) < 9e15 => (long)d,
            _ => throw Error(node, field, $"expected an integer, got {TypeOf(v)}"),
        };
    }

    public double Number(YamlNode node, string field)
    {
        var v = ScalarValue(node, field);
        return v switch
        {
            long l => l,
            double d when double.IsFinite(d) => d,
            _ => throw Error(node, field, $"expected a number, got {TypeOf(v)}"),
        };
    }

    public bool Boolean(YamlNode node, string field)
    {
        var v = ScalarValue(node, field);
        return v is bool b ? b : throw Error(node, field, $"expected true or false, got {TypeOf(v)}");
    }

    /// <summary>The mapping's entries with their keys as text; a non-scalar key is an error.</summary>
    public IEnumerable<(string Key, YamlScalarNode KeyNode, YamlNode Value)> Entries(YamlMappingNode mapping, string field)
    {
        foreach (var (k, v) in mapping.Children)
        {
            if (k is not YamlScalarNode ks || ks.Value is null)
                throw Error(k, field, $"a key must be a plain name, got {Describe(k)}");
            yield return (ks.Value, ks, v);
        }
    }

    /// <summary>Throws on the first key that is not in <paramref name="known"/>, suggesting the closest known key.</summary>
    public void CheckKeys(YamlMappingNode mapping, string field, IReadOnlyCollection<string> known)
    {
        if (UnknownKeys(mapping, field, known).FirstOrDefault() is { } first) throw first;
    }

    /// <summary>
    /// An error for each key that is not in <paramref name="known"/>, in the file's order, each suggesting the closest known
    /// key, or, for a key another tool spells that way (<paramref name="foreign"/>: Ray Tune's <c>mode</c>), what it is here.
    /// </summary>
    public IEnumerable<StudyFileException> UnknownKeys(YamlMappingNode mapping, string field, IReadOnlyCollection<string> known,
        IReadOnlyDictionary<string, string>? foreign = null)
    {
        foreach (var (key, keyNode, _) in Entries(mapping, field))
            if (!known.Contains(key))
                yield return Error(keyNode, Join(field, key), $"unknown key '{key}'"
                    + (foreign is not null && foreign.TryGetValue(key, out var ours) ? $" ({ours})" : ClosestName.Suggest(key, known))
                    + $" (known: {string.Join(", ", known)})");
    }

    public static string Join(string field, string key) => field.Length == 0 ? key : $"{field}.{key}";

    /// <summary>Converts a node to plain CLR data (scalars, lists, ordered dictionaries), for options passed on to samplers and schedulers.</summary>
    public static object? ToData(YamlNode node) => node switch
    {
        YamlScalarNode s => Scalar(s),
        YamlSequenceNode seq => seq.Children.Select(ToData).ToList(),
        YamlMappingNode m => m.Children.ToDictionary(kv => (kv.Key as YamlScalarNode)?.Value ?? kv.Key.ToString(), kv => ToData(kv.Value), StringComparer.Ordinal),
        _ => null,
    };
}
