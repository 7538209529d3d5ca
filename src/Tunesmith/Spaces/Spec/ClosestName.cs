namespace Tunesmith.Spaces.Spec;

/// <summary>Finds the known name closest to a misspelt one, so that an error can say "did you mean ...?".</summary>
internal static class ClosestName
{
    /// <summary>
    /// The candidate within a small edit distance of <paramref name="input"/>, or null. Close means about one edit per
    /// three characters (a typo, not a different word), or a shortening: the one name is the other with one or two
    /// letters dropped, the first letter kept (<c>optim</c> for <c>opt</c>, <c>cnt</c> for <c>count</c>), and no other
    /// candidate is as close.
    /// </summary>
    public static string? Find(string input, IEnumerable<string> candidates)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        var tied = false;
        var lower = input.ToLowerInvariant();
        foreach (var c in candidates)
        {
            var d = Distance(lower, c.ToLowerInvariant());
            if (d < bestDistance) { best = c; bestDistance = d; tied = false; }
            else if (d == bestDistance && !string.Equals(c, best, StringComparison.Ordinal)) tied = true;
        }
        if (best is null) return null;
        if (bestDistance <= Math.Max(1, Math.Max(input.Length, best.Length) / 3)) return best;
        return bestDistance == 2 && !tied && IsShortening(lower, best.ToLowerInvariant()) ? best : null;
    }

    // One name is the other with letters dropped (the distance is then the difference in length), the first letter kept.
    private static bool IsShortening(string a, string b)
    {
        var (shorter, longer) = a.Length <= b.Length ? (a, b) : (b, a);
        if (shorter.Length < 3 || longer.Length - shorter.Length != 2 || shorter[0] != longer[0]) return false;
        var i = 0;
        foreach (var ch in longer)
            if (i < shorter.Length && shorter[i] == ch) i++;
        return i == shorter.Length;
    }

    /// <summary>" (did you mean 'x'?)" or an empty string.</summary>
    public static string Suggest(string input, IEnumerable<string> candidates) =>
        Find(input, candidates) is { } hit ? $" (did you mean '{hit}'?)" : "";

    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                // Transposed neighbours count as one edit, the commonest typo.
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }
}
