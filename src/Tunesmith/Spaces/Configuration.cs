using System.Collections;

namespace Tunesmith.Spaces;

/// <summary>
/// One configuration: parameter values by name, in the order they were drawn, with typed getters.
/// Repeated blocks are stored flat (<c>layers.0.filters</c>); <see cref="Blocks"/> gives them back as a list.
/// </summary>
public sealed class Configuration : IReadOnlyDictionary<string, object?>
{
    private readonly IReadOnlyDictionary<string, object?> _values;
    private readonly string _prefix;

    /// <summary>Wraps parameter values; lookups inside a block first try <paramref name="prefix"/> + name.</summary>
    public Configuration(IReadOnlyDictionary<string, object?> values, string prefix = "")
    {
        _values = values;
        _prefix = prefix;
    }

    private bool TryResolve(string name, out object? value)
    {
        if (_prefix.Length > 0 && _values.TryGetValue(_prefix + name, out value)) return true;
        return _values.TryGetValue(name, out value);
    }

    /// <summary>The raw value of a parameter; throws <see cref="KeyNotFoundException"/> naming it when absent.</summary>
    public object? this[string key] => TryResolve(key, out var v) ? v
        : throw new KeyNotFoundException($"parameter '{key}' is not part of this configuration (inactive branch or unknown name)");

    /// <summary>A float parameter's value.</summary>
    public double GetDouble(string name) => ParamValues.ToDouble(this[name]);

    /// <summary>An int parameter's value.</summary>
    public int GetInt(string name) => checked((int)GetLong(name));

    /// <summary>An int parameter's value as long.</summary>
    public long GetLong(string name) => ParamValues.TryToLong(this[name], out var l) ? l
        : throw new InvalidCastException($"parameter '{name}' = {ParamValues.Format(this[name])} is not an integer");

    /// <summary>A parameter's value as text.</summary>
    public string GetString(string name) => ParamValues.Format(this[name]);

    /// <summary>A boolean parameter's value.</summary>
    public bool GetBool(string name) => this[name] is bool b ? b
        : throw new InvalidCastException($"parameter '{name}' = {ParamValues.Format(this[name])} is not a boolean");

    /// <summary>The sub-configurations of a repeated block, one per repetition.</summary>
    public IReadOnlyList<Configuration> Blocks(string name)
    {
        var full = _prefix + name;
        var list = new List<Configuration>();
        // The stored count is authoritative: a repetition whose parameters are all switched off by conditions still counts.
        if (_values.TryGetValue(full, out var stored) && ParamValues.TryToLong(stored, out var count))
        {
            for (var i = 0; i < count; i++) list.Add(new Configuration(_values, $"{full}.{i}."));
            return list;
        }
        for (var i = 0; ; i++)
        {
            var p = $"{full}.{i}.";
            if (!_values.Keys.Any(k => k.StartsWith(p, StringComparison.Ordinal))) break;
            list.Add(new Configuration(_values, p));
        }
        return list;
    }

    /// <inheritdoc />
    public IEnumerable<string> Keys => _values.Keys;
    /// <inheritdoc />
    public IEnumerable<object?> Values => _values.Values;
    /// <inheritdoc />
    public int Count => _values.Count;
    /// <inheritdoc />
    public bool ContainsKey(string key) => TryResolve(key, out _);
    /// <inheritdoc />
    public bool TryGetValue(string key, out object? value) => TryResolve(key, out value);
    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => _values.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc />
    public override string ToString() => string.Join(", ", _values.Select(kv => $"{kv.Key}={ParamValues.Format(kv.Value)}"));
}
