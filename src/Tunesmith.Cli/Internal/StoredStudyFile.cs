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
}
