using System.Globalization;

namespace Tunesmith.Backends.Slurm;

/// <summary>A job array Tunesmith submitted (or would submit) for a study.</summary>
/// <param name="JobId">Slurm's job id, or null for a dry run.</param>
/// <param name="ComputeClass">The compute class, or null.</param>
/// <param name="Tasks">Its number of tasks (one trial each).</param>
/// <param name="Script">The sbatch script.</param>
/// <param name="ScriptPath">Where the script was written, or null for a dry run.</param>
public sealed record SlurmSubmittedArray(string? JobId, string? ComputeClass, int Tasks, string Script, string? ScriptPath);

/// <summary>A study's jobs as recorded in storage (study system attribute <see cref="SlurmAttributeKeys.StudyJobs"/>).</summary>
/// <param name="JobId">The array's job id.</param>
/// <param name="ComputeClass">Its compute class, or null.</param>
/// <param name="Tasks">Its number of tasks.</param>
public sealed record SlurmStudyJob(string JobId, string? ComputeClass, int Tasks);

/// <summary>What a submission submits.</summary>
public sealed record SlurmSubmitRequest
{
    /// <summary>The study's name.</summary>
    public required string Study { get; init; }
    /// <summary>One-trial tasks to submit in all (shared among the compute classes).</summary>
    public required int Tasks { get; init; }
    /// <summary>The study's Slurm settings (defaults and compute classes), with any command-line overrides applied.</summary>
    public required SlurmSettings Settings { get; init; }
    /// <summary>The argv that starts Tunesmith on a compute node.</summary>
    public required IReadOnlyList<string> WorkerCommand { get; init; }
    /// <summary>Where the scripts and the tasks' output go (visible on compute nodes).</summary>
    public required string LogDirectory { get; init; }
    /// <summary>The storage URL, passed to the jobs as <c>TUNESMITH_STORAGE</c> through sbatch's environment (never written to a script).</summary>
    public required string StorageUrl { get; init; }
    /// <summary>The clock that stamps the scripts' names (the caller's, so a test or a simulator names them); default the system clock.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}

/// <summary>
/// Submits a study's one-trial job arrays: shares the tasks among its compute classes (in proportion to their
/// concurrency caps), splits each class's share by <c>MaxArraySize</c> and <c>MaxSubmitJobs</c>, writes each sbatch script
/// beside the logs, runs <c>sbatch</c> and records each job id with the study.
/// </summary>
public static class SlurmSubmitter
{
    /// <summary>The classes to submit, with their share of <paramref name="tasks"/>: every class gets its share, the rest go to the first ones.</summary>
    public static IReadOnlyList<(SlurmComputeClass? Class, int Tasks)> Share(SlurmSettings settings, int tasks)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Classes.Count == 0) return [(null, tasks)];
        var weights = settings.Classes.Select(c => (double)(c.Options.Concurrency ?? 1)).ToArray();
        var total = weights.Sum();
        var shares = weights.Select(w => (int)Math.Floor(tasks * w / total)).ToArray();
        for (var i = 0; shares.Sum() < tasks; i = (i + 1) % shares.Length) shares[i]++;
        return settings.Classes.Select((c, i) => ((SlurmComputeClass?)c, shares[i])).Where(x => x.Item2 > 0).ToList();
    }

    /// <summary>The scripts a submission would submit (a dry run): one per array, unsubmitted.</summary>
    public static IReadOnlyList<SlurmSubmittedArray> DryRun(SlurmSubmitRequest request, SlurmLimits limits)
    {
        ArgumentNullException.ThrowIfNull(request);
        var arrays = new List<SlurmSubmittedArray>();
        foreach (var (cls, tasks) in Share(request.Settings, request.Tasks))
        {
            var options = cls?.Options ?? request.Settings.Defaults;
            var plan = SlurmArrayPlan.Make(tasks, options.Concurrency, limits);
            var first = arrays.Count;
            foreach (var a in plan.Planned)
            {
                var depends = a.After is { } after ? $"<job id of array {first + after + 1}>" : null;
                var script = SbatchScript.Render(new SbatchRequest(request.Study, a.Tasks, options with { Concurrency = a.Throttle }, request.WorkerCommand, request.LogDirectory, cls?.Name, depends));
                arrays.Add(new SlurmSubmittedArray(null, cls?.Name, a.Tasks, script, null));
            }
        }
        return arrays;
    }

    /// <summary>
    /// Submits the arrays and hands each job id to <paramref name="recordJob"/> as soon as it is queued (the caller records
    /// it with the study: see <c>Tunesmith.Execution.SlurmStudyJobs</c>); returns them and the tasks deferred by
    /// <c>MaxSubmitJobs</c>. Backends know nothing of storage, so the record is the caller's.
    /// </summary>
    public static async Task<(IReadOnlyList<SlurmSubmittedArray> Arrays, int Deferred)> SubmitAsync(SlurmSubmitRequest request, SlurmLimits limits,
        SlurmCommands commands, Func<SlurmStudyJob, CancellationToken, Task> recordJob, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(commands);
        ArgumentNullException.ThrowIfNull(recordJob);
        Directory.CreateDirectory(request.LogDirectory);
        var environment = new Dictionary<string, string> { ["TUNESMITH_STORAGE"] = request.StorageUrl };
        var arrays = new List<SlurmSubmittedArray>();
        var deferred = 0;
        var queued = limits.QueuedJobs;
        foreach (var (cls, tasks) in Share(request.Settings, request.Tasks))
        {
            var options = cls?.Options ?? request.Settings.Defaults;
            var plan = SlurmArrayPlan.Make(tasks, options.Concurrency, limits with { QueuedJobs = queued });
            deferred += plan.Deferred;
            queued += plan.Arrays.Sum();
            var ids = new List<string>();
            foreach (var a in plan.Planned)
            {
                var size = a.Tasks;
                var script = SbatchScript.Render(new SbatchRequest(request.Study, size, options with { Concurrency = a.Throttle }, request.WorkerCommand, request.LogDirectory, cls?.Name,
                    a.After is { } after ? ids[after] : null));
                var stamp = request.TimeProvider.GetUtcNow().ToString("yyyyMMdd-HHmmss-fff", CultureInfo.InvariantCulture);
                var path = Path.Combine(request.LogDirectory, $"submit-{stamp}{(cls is null ? "" : "-" + cls.Name)}.sbatch");
                for (var n = 2; File.Exists(path); n++)   // arrays submitted within one millisecond keep their own scripts
                    path = Path.Combine(request.LogDirectory, $"submit-{stamp}{(cls is null ? "" : "-" + cls.Name)}-{n}.sbatch");
                await File.WriteAllTextAsync(path, script, cancellationToken).ConfigureAwait(false);
                var id = await commands.SubmitAsync(path, environment, cancellationToken).ConfigureAwait(false);
                await recordJob(new SlurmStudyJob(id, cls?.Name, size), cancellationToken).ConfigureAwait(false);
                arrays.Add(new SlurmSubmittedArray(id, cls?.Name, size, script, path));
                ids.Add(id);
            }
        }
        return (arrays, deferred);
    }

    /// <summary>The jobs recorded with a study (from its system attributes), oldest first.</summary>
    public static IReadOnlyList<SlurmStudyJob> Jobs(IReadOnlyDictionary<string, object?> studySystemAttributes)
    {
        ArgumentNullException.ThrowIfNull(studySystemAttributes);
        if (studySystemAttributes.GetValueOrDefault(SlurmAttributeKeys.StudyJobs) is not string text || text.Length == 0) return [];
        return text.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(entry =>
        {
            var p = entry.Split(':');
            var tasks = p.Length > 2 && int.TryParse(p[2], NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;
            return new SlurmStudyJob(p[0], p.Length > 1 && p[1].Length > 0 ? p[1] : null, tasks);
        }).ToList();
    }
}
