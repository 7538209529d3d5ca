using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Spaces;

namespace Tunesmith.Cli.Internal;

/// <summary>Reads back the search space of a study created from a study file, to check enqueued combinations against it.</summary>
internal static class StoredStudyFile
{
    /// <summary>The study's declarative space, or null when the study was not created from a study file.</summary>
    public static Task<SearchSpace?> TryGetSpaceAsync(Study study, CancellationToken ct)
    {
        _ = ct;
        return Task.FromResult(Tunesmith.Execution.Commands.StudyFileRun.ReadStored(study.Record)?.Space);
    }

    /// <summary>Checks every name against the space and coerces each value onto its distribution; errors name <paramref name="where"/>.</summary>
    public static IReadOnlyDictionary<string, object?> Coerce(SearchSpace space, IReadOnlyDictionary<string, object?> combination, string where)
    {
        var known = new Dictionary<string, Distribution>(StringComparer.Ordinal);
        foreach (var (name, distribution, _) in space.Flatten()) known.TryAdd(name, distribution);
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in combination)
        {
            if (!known.TryGetValue(name, out var distribution))
                throw new CliUsageException($"{where}: unknown parameter '{name}' (the study's parameters: {string.Join(", ", known.Keys)})");
            try { result[name] = distribution.Coerce(name, value); }
            catch (Exception e) when (e is SearchSpaceException or ArgumentException or FormatException)
            {
                throw new CliUsageException($"{where}: {e.Message}");
            }
        }
        return result;
    }
}
