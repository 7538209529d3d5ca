using Tunesmith.Spaces;

namespace Tunesmith.Spaces.Spec;

/// <summary>
/// Reads the value of one study-file option of a sampler, with one wording for a value of the wrong type
/// (<c>sampler 'rf': option 'n_trees' must be an integer, got 'ten'</c>), so each options reader states only its keys.
/// </summary>
internal static class OptionValues
{
    /// <summary>An integer that fits an <see cref="int"/> (integer text and whole doubles count); else throws naming <paramref name="owner"/> and <paramref name="key"/>.</summary>
    /// <param name="owner">How the error starts: <c>sampler 'rf'</c>.</param>
    /// <param name="key">The study file's key.</param>
    /// <param name="value">The value as the study file gave it.</param>
    public static int Int(string owner, string key, object? value) => ParamValues.TryToLong(value, out var l) && l is >= int.MinValue and <= int.MaxValue
        ? (int)l
        : throw new ArgumentException($"{owner}: option '{key}' must be an integer, got {ParamValues.Format(value)}");

    /// <summary>A number written as a number: quoted text such as <c>"0.5"</c> is refused, as YAML gave a string.</summary>
    /// <param name="owner">How the error starts: <c>sampler 'rf'</c>.</param>
    /// <param name="key">The study file's key.</param>
    /// <param name="value">The value as the study file gave it.</param>
    public static double Real(string owner, string key, object? value) => ParamValues.TryToDouble(value, out var d) && value is not string
        ? d
        : throw new ArgumentException($"{owner}: option '{key}' must be a number, got {ParamValues.Format(value)}");

    /// <summary>A boolean, or text that <see cref="bool.TryParse(string?, out bool)"/> reads (<c>"true"</c>, <c>"False"</c>).</summary>
    /// <param name="owner">How the error starts: <c>sampler 'rf'</c>.</param>
    /// <param name="key">The study file's key.</param>
    /// <param name="value">The value as the study file gave it.</param>
    public static bool Bool(string owner, string key, object? value) => value switch
    {
        bool b => b,
        string s when bool.TryParse(s, out var b) => b,
        _ => throw new ArgumentException($"{owner}: option '{key}' must be true or false, got {ParamValues.Format(value)}"),
    };
}
