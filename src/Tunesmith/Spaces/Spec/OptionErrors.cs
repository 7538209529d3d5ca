using Tunesmith.Spaces;

namespace Tunesmith.Spaces.Spec;

/// <summary>
/// One wording for the option errors of samplers and schedulers. A C# user sees the property they set
/// (<c>RandomForestOptions.Trees must be at least 1</c>, an <see cref="ArgumentOutOfRangeException"/>); a study-file user
/// sees the key they wrote (<c>sampler 'rf': option 'n_trees' must be at least 1, got 0</c>); an unknown key says which
/// known one is close (<c>did you mean 'n_trees'?</c>).
/// </summary>
internal static class OptionErrors
{
    /// <summary>
    /// "<paramref name="owner"/>: unknown option 'key' (did you mean 'x'?) (known: a, b)"; a key Ray Tune uses for a known
    /// one (<paramref name="otherNames"/>: <c>max_t</c> for <c>max</c>) says so instead of guessing by spelling.
    /// </summary>
    public static ArgumentException Unknown(string owner, string key, IReadOnlyCollection<string> known, IReadOnlyDictionary<string, string>? otherNames = null)
    {
        var hint = otherNames is not null && otherNames.TryGetValue(key, out var ours)
            ? ours.Contains(' ', StringComparison.Ordinal) ? $" ({ours})" : known.Contains(ours, StringComparer.Ordinal) ? $" (Ray Tune's '{key}' is '{ours}' here)" : ClosestName.Suggest(key, known)
            : ClosestName.Suggest(key, known);
        return new($"{owner}: unknown option '{key}'{hint} (known: {string.Join(", ", known)})");
    }

    /// <summary>Throws <see cref="Unknown"/> for the first key of <paramref name="options"/> not in <paramref name="known"/>.</summary>
    public static void CheckKnown(string owner, IEnumerable<string> options, IReadOnlyCollection<string> known, IReadOnlyDictionary<string, string>? otherNames = null)
    {
        foreach (var key in options)
            if (!known.Contains(key, StringComparer.Ordinal)) throw Unknown(owner, key, known, otherNames);
    }
}

/// <summary>
/// Checks option rules with one wording for C# (an <see cref="ArgumentOutOfRangeException"/> naming
/// <c>Type.Property</c>) and for study files (an <see cref="ArgumentException"/> naming the study file's key).
/// </summary>
/// <param name="owner">How a study file's error starts: <c>sampler 'rf'</c>, <c>scheduler 'asha'</c>.</param>
/// <param name="type">The C# options type: <c>RandomForestOptions</c>.</param>
/// <param name="studyFileKeys">Property → study-file key, when the options came from a study file; null for C#.</param>
internal readonly struct OptionRules(string owner, string type, IReadOnlyDictionary<string, string>? studyFileKeys)
{
    /// <summary>Throws when <paramref name="ok"/> is false: "<c>Type.Property</c> <paramref name="rule"/>" or "owner: option 'key' rule, got value".</summary>
    public void Require(bool ok, string property, object? value, string rule)
    {
        if (ok) return;
        if (studyFileKeys is null) throw new ArgumentOutOfRangeException(property, value, $"{type}.{property} {rule}");
        var key = studyFileKeys.TryGetValue(property, out var k) ? k : property;
        throw new ArgumentException($"{owner}: option '{key}' {rule}, got {AsWritten(ParamValues.Normalize(value))}");
    }

    // The value as the study file most likely spelled it: a whole number read into a double option is "2", not "2.0".
    private static string AsWritten(object? value) => value is double d ? NumberText.AsWritten(d) : ParamValues.Format(value);
}
