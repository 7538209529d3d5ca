namespace Tunesmith.Schedulers.Hyperband;

/// <summary>
/// One bracket of Hyperband's table (Li et al. 2018, Algorithm 1): bracket <see cref="Index"/> b (s = s_max − b) starts
/// <see cref="Configurations"/> n = ⌈(s_max + 1)/(s + 1) · η^s⌉ configurations at resource r = R·η^−s. Async Hyperband draws
/// each new trial's bracket with probability proportional to n.
/// </summary>
/// <param name="Index">0 for the most aggressive bracket (the smallest starting resource).</param>
/// <param name="Configurations">n: how many configurations the synchronous bracket starts.</param>
/// <param name="Resource">r: the resource each starts with.</param>
public sealed record HyperbandBracket(int Index, long Configurations, double Resource)
{
    /// <summary>The brackets for resources <paramref name="minResource"/>..<paramref name="maxResource"/> and η, most aggressive first.</summary>
    public static IReadOnlyList<HyperbandBracket> Table(long minResource, long maxResource, double eta)
    {
        if (minResource < 1 || maxResource <= minResource || !(eta > 1)) throw new ArgumentOutOfRangeException(nameof(eta), "needs 1 ≤ min < max and η > 1");
        var sMax = Asha.RungLadder.BracketCount(minResource, maxResource, eta) - 1;
        var brackets = new HyperbandBracket[sMax + 1];
        for (var b = 0; b <= sMax; b++)
        {
            var s = sMax - b;
            var n = (long)Math.Ceiling((sMax + 1.0) / (s + 1) * Math.Pow(eta, s) - 1e-9);
            var r = (double)maxResource * Math.Pow(eta, -s);
            if (Math.Abs(r - Math.Round(r)) < 1e-9) r = Math.Round(r);
            brackets[b] = new HyperbandBracket(b, n, r);
        }
        return brackets;
    }
}
