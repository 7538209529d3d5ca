using Tunesmith.Backends.Slurm;
using Tunesmith.Spaces;

namespace Tunesmith.Execution.Commands;

/// <summary>
/// The worker's side of hardware-aware assignment: a one-trial job of a compute class picks which exclusive branch its
/// trial runs, from the branches <see cref="HardwareAwareAssignment.Assign"/> gives the class on the study's results so
/// far, and fixes the branch choice for that trial (as <c>--set</c> does); the sampler draws the rest.
/// </summary>
public static class SlurmBranchChoice
{
    /// <summary>
    /// The space's exclusive branch choice: a top-level categorical parameter whose values open parameters of their own
    /// (two or more values are the condition of some parameter); null when the space has none.
    /// </summary>
    public static (string Name, IReadOnlyList<object?> Values)? FindBranch(SearchSpace space)
    {
        ArgumentNullException.ThrowIfNull(space);
        var flat = space.Flatten();
        foreach (var (name, distribution, when) in flat)
        {
            if (when is not null || distribution is not CategoricalDistribution choice) continue;
            var gated = flat.Where(p => p.When?.Parent == name).SelectMany(p => p.When!.Values).Distinct().Count();
            if (gated >= 2) return (name, choice.Choices);
        }
        return null;
    }

    /// <summary>
    /// The branch value a job of class <paramref name="computeClass"/> should run next, or null when the space has no
    /// branches or the study names no classes. Complexity per branch: 1 + its numeric parameters + log2(choices) of its
    /// categorical ones; results: the values of its Complete trials.
    /// </summary>
    public static (string Name, object? Value)? Choose(SearchSpace space, IReadOnlyList<FrozenTrial> history, IReadOnlyList<SlurmComputeClass> classes,
        string computeClass, Random random)
    {
        ArgumentNullException.ThrowIfNull(space);
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(classes);
        ArgumentNullException.ThrowIfNull(random);
        if (classes.Count == 0 || classes.All(c => c.Name != computeClass) || FindBranch(space) is not { } branch) return null;
        var flat = space.Flatten();
        var profiles = branch.Values.Select(value =>
        {
            var own = flat.Where(p => p.When is { } w && w.Parent == branch.Name && w.Values.Contains(value)).ToList();
            var complexity = HardwareAwareAssignment.Complexity(own.Count(p => p.Distribution is not CategoricalDistribution),
                own.Select(p => p.Distribution).OfType<CategoricalDistribution>().Select(c => c.Choices.Count));
            var results = history.Where(t => t.State == TrialState.Complete && t.Value is not null
                    && t.Params.TryGetValue(branch.Name, out var v) && Equals(ParamValues.Normalize(v), value))
                .Select(t => t.Value!.Value).ToList();
            return new BranchProfile(value, complexity, results);
        }).ToList();
        var profilesOfClasses = classes.Select(c => new ClassProfile(c.Name, c.Options.Speed, c.Options.Concurrency ?? 1)).ToList();
        var mine = HardwareAwareAssignment.Assign(profiles, profilesOfClasses)[computeClass];
        return (branch.Name, mine[random.Next(mine.Count)]);
    }
}
