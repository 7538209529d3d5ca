namespace Tunesmith.Backends.Slurm;

/// <summary>One exclusive branch of a search space (a value of a choice that opens its own sub-space).</summary>
/// <param name="Value">The choice's value (e.g. <c>rbf</c>).</param>
/// <param name="Complexity">The size of its sub-space (see <see cref="HardwareAwareAssignment.Complexity"/>).</param>
/// <param name="Results">The objective values its finished trials reached so far.</param>
public sealed record BranchProfile(object? Value, double Complexity, IReadOnlyList<double> Results);

/// <summary>A compute class as the assignment sees it.</summary>
/// <param name="Name">The class name.</param>
/// <param name="Speed">Its relative speed (the study file's <c>speed:</c>; higher is faster).</param>
/// <param name="Capacity">How many trials it runs at once (its <c>max_concurrent</c>).</param>
public sealed record ClassProfile(string Name, double Speed, int Capacity);

/// <summary>
/// Sends a space's exclusive branches to compute classes, after SHADHO (Kinnison et al., 2018): each branch's priority
/// is its complexity (how big its sub-space is) times its uncertainty (how spread its results are so far; a branch with
/// fewer than two results counts as the most uncertain one seen, or 1); branches are sorted by priority and the
/// fastest classes take the top of the list, each class a share of the total priority in proportion to its
/// capacity × speed. Every class gets at least one branch while there are enough; with fewer branches than classes,
/// a class left without one may run any branch. Pure: no I/O, the same inputs give the same answer.
/// </summary>
public static class HardwareAwareAssignment
{
    /// <summary>The complexity of a sub-space: 1 + one per numeric parameter + log2(choices) per categorical one.</summary>
    public static double Complexity(int numericParameters, IEnumerable<int> categoricalChoices)
    {
        ArgumentNullException.ThrowIfNull(categoricalChoices);
        return 1 + numericParameters + categoricalChoices.Sum(k => Math.Log2(Math.Max(2, k)));
    }

    /// <summary>A branch's priority: complexity × uncertainty (the standard deviation of its results, with the prior for too few).</summary>
    public static double Priority(BranchProfile branch, double priorUncertainty)
    {
        ArgumentNullException.ThrowIfNull(branch);
        return branch.Complexity * (branch.Results.Count >= 2 ? StandardDeviation(branch.Results) : priorUncertainty);
    }

    /// <summary>The branches each class runs (class name → branch values, highest priority first).</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<object?>> Assign(IReadOnlyList<BranchProfile> branches, IReadOnlyList<ClassProfile> classes)
    {
        ArgumentNullException.ThrowIfNull(branches);
        ArgumentNullException.ThrowIfNull(classes);
        var result = classes.ToDictionary(c => c.Name, _ => new List<object?>(), StringComparer.Ordinal);
        if (branches.Count == 0 || classes.Count == 0) return result.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<object?>)kv.Value, StringComparer.Ordinal);
        var spreads = branches.Where(b => b.Results.Count >= 2).Select(b => StandardDeviation(b.Results)).ToList();
        var prior = spreads.Count > 0 ? Math.Max(spreads.Max(), 1e-12) : 1.0;
        var ranked = branches.Select((b, i) => (Branch: b, Index: i, Priority: Math.Max(Priority(b, prior), 1e-12)))
            .OrderByDescending(x => x.Priority).ThenBy(x => x.Index).ToList();
        var fastest = classes.Select((c, i) => (Class: c, Index: i)).OrderByDescending(x => x.Class.Speed).ThenBy(x => x.Index).Select(x => x.Class).ToList();
        var weights = fastest.Select(c => Math.Max(c.Capacity, 1) * c.Speed).ToArray();
        var total = ranked.Sum(x => x.Priority);
        var boundaries = new double[weights.Length];
        var running = 0.0;
        for (var k = 0; k < weights.Length; k++) { running += weights[k]; boundaries[k] = running / weights.Sum() * total; }
        var mass = 0.0;
        var owner = new int[ranked.Count];
        for (var i = 0; i < ranked.Count; i++)
        {
            var middle = mass + ranked[i].Priority / 2;
            mass += ranked[i].Priority;
            var k = 0;
            while (k < boundaries.Length - 1 && middle > boundaries[k]) k++;
            owner[i] = k;
        }
        // Every class gets a branch while there are enough: an empty class takes the lowest-priority branch of the
        // nearest faster class that has more than one.
        if (ranked.Count >= fastest.Count)
            for (var k = 0; k < fastest.Count; k++)
            {
                if (owner.Contains(k)) continue;
                var donor = Enumerable.Range(0, fastest.Count).Where(d => owner.Count(o => o == d) > 1).OrderBy(d => Math.Abs(d - k)).First();
                owner[Array.LastIndexOf(owner, donor)] = k;
            }
        for (var i = 0; i < ranked.Count; i++) result[fastest[owner[i]].Name].Add(ranked[i].Branch.Value);
        foreach (var (name, list) in result)
            if (list.Count == 0) list.AddRange(ranked.Select(r => r.Branch.Value));
        return result.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<object?>)kv.Value, StringComparer.Ordinal);
    }

    private static double StandardDeviation(IReadOnlyList<double> xs)
    {
        var mean = xs.Average();
        return Math.Sqrt(xs.Sum(x => (x - mean) * (x - mean)) / (xs.Count - 1));
    }
}
