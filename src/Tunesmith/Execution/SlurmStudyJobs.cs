using System.Globalization;
using Tunesmith.Backends.Slurm;
using Tunesmith.Storage;

namespace Tunesmith.Execution;

/// <summary>The Slurm jobs recorded with a study in its storage (system attribute <see cref="SlurmAttributeKeys.StudyJobs"/>).</summary>
public static class SlurmStudyJobs
{
    /// <summary>Appends <paramref name="job"/> to the jobs recorded with study <paramref name="study"/> (and clears the policy of an earlier <c>tunesmith slurm cancel</c>).</summary>
    public static async Task RecordAsync(IStudyStorage storage, string study, SlurmStudyJob job, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentNullException.ThrowIfNull(job);
        var record = await storage.GetStudyAsync(study, cancellationToken).ConfigureAwait(false) ?? throw new StudyNotFoundException(study);
        var entry = string.Create(CultureInfo.InvariantCulture, $"{job.JobId}:{job.ComputeClass}:{job.Tasks}");
        var text = record.SystemAttributes.GetValueOrDefault(SlurmAttributeKeys.StudyJobs) is string t && t.Length > 0 ? t + "," + entry : entry;
        // A new submission ends an earlier `tunesmith slurm cancel`: its policy no longer applies to the new jobs (an scancel
        // of one of their tasks then requeues it again; see SlurmTrialJob).
        if (record.SystemAttributes.GetValueOrDefault(SlurmAttributeKeys.CancelPolicy) is not null)
            await storage.SetStudyAttributesAsync(record.Id, system: true, [new(SlurmAttributeKeys.CancelPolicy, null)], cancellationToken).ConfigureAwait(false);
        await storage.SetStudyAttributesAsync(record.Id, system: true, [new(SlurmAttributeKeys.StudyJobs, text)], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The jobs recorded with a study, oldest first.</summary>
    public static IReadOnlyList<SlurmStudyJob> Jobs(StudyRecord study)
    {
        ArgumentNullException.ThrowIfNull(study);
        return SlurmSubmitter.Jobs(study.SystemAttributes);
    }
}
