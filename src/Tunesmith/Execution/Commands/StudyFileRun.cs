using Microsoft.Extensions.Logging;
using Tunesmith.Backends.Processes;
using Tunesmith.Backends.Resources;
using Tunesmith.Spaces;
using Tunesmith.Spaces.Spec;
using Tunesmith.Storage;

namespace Tunesmith.Execution.Commands;

/// <summary>
/// Turns a <see cref="StudyFile"/> into a running study of command trials: opens (creates or loads) the study with the
/// file's direction, metric and sampler, stores the file's text with the study so a worker on another machine can run
/// it without the file, and builds the objective and run options. <c>tunesmith run</c>, <c>create</c> and <c>worker</c>
/// are these calls plus argument parsing; a library user gets the same behaviour from C#.
/// </summary>
public static partial class StudyFileRun
{
    /// <summary>Study system attribute holding the study file's text.</summary>
    public const string StudyFileTextKey = "study_file";

    /// <summary>Study system attribute holding the study file's full path when it was stored (for relative paths and messages).</summary>
    public const string StudyFilePathKey = "study_file_path";

    /// <summary>
    /// Study system attribute holding the study's effective trial budget: the one the last <c>run</c> or <c>create</c> set
    /// (its <c>--trials</c>, else the file's <c>trials:</c>), so a worker joining later chooses <c>auto</c>'s sampler for,
    /// and stops at, the same budget.
    /// </summary>
    public const string TrialBudgetKey = "trial_budget";

    /// <summary>
    /// Opens the study a file defines in <paramref name="storage"/>: creates it when absent (with <paramref name="create"/>),
    /// loads it when present (with <paramref name="load"/>), and stores the file's text and path on it. A stored study whose
    /// direction differs from the file's is refused with a one-line <see cref="StudyFileException"/>.
    /// </summary>
    /// <remarks>
    /// <c>heartbeatInterval</c> and <c>staleGracePeriod</c> set this worker's <see cref="StudyOptions.HeartbeatInterval"/> and
    /// <see cref="StudyOptions.StaleGracePeriod"/> (null: their defaults).
    /// </remarks>
    public static Task<Study> OpenAsync(StudyFile file, IStudyStorage storage, int? seed = null, bool create = true, bool load = true,
        ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default, TimeSpan? heartbeatInterval = null, TimeSpan? staleGracePeriod = null) =>
        OpenAsync(file, storage, new StudyFileOpenOptions
        {
            Seed = seed,
            Create = create,
            Load = load,
            LoggerFactory = loggerFactory,
            HeartbeatInterval = heartbeatInterval,
            StaleGracePeriod = staleGracePeriod,
        }, cancellationToken);

    /// <summary>
    /// Opens the study a file defines in <paramref name="storage"/>: creates it when absent (<see cref="StudyFileOpenOptions.Create"/>),
    /// loads it when present (<see cref="StudyFileOpenOptions.Load"/>), and stores the file's text and path on it. A stored
    /// study whose direction or metric differs from the file's is refused with a one-line <see cref="StudyFileException"/>.
    /// The sampler is built for the effective trial budget (<see cref="StudyFileOpenOptions.TrialBudget"/>), so <c>auto</c>
    /// chooses for the run a user asked for, not for the file's <c>trials:</c>.
    /// </summary>
    public static async Task<Study> OpenAsync(StudyFile file, IStudyStorage storage, StudyFileOpenOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentNullException.ThrowIfNull(options);
        // Without a budget of its own (a worker), the study's stored budget holds: the one its run or create set.
        var budget = options.TrialBudget ?? TrialBudget(file, await storage.GetStudyAsync(file.Name, cancellationToken).ConfigureAwait(false));
        var studyOptions = new StudyOptions
        {
            Direction = file.Direction,
            Metric = file.Metric,
            Sampler = file.CreateSampler(options.Seed, budget),
            Scheduler = file.CreateScheduler(),
            StorageInstance = storage,
            LoggerFactory = options.LoggerFactory,
            TimeProvider = options.TimeProvider,
            StaleGracePeriod = options.StaleGracePeriod,
            // The progress line counts every worker's finished trials (Study.DoneTrialCount), whatever the sampler.
            KeepHistory = true,
        };
        if (options.HeartbeatInterval is { } beat) studyOptions = studyOptions with { HeartbeatInterval = beat };
        Study study;
        try
        {
            study = options.Create && options.Load ? await Study.CreateOrLoadAsync(file.Name, studyOptions, cancellationToken).ConfigureAwait(false)
                : options.Create ? await Study.CreateAsync(file.Name, studyOptions, cancellationToken).ConfigureAwait(false)
                : await Study.LoadAsync(file.Name, studyOptions, cancellationToken).ConfigureAwait(false);
        }
        catch (StudyDirectionMismatchException e)
        {
            throw DirectionDiffers(file, e.Stored);
        }
        try
        {
            if (study.Direction != file.Direction) throw DirectionDiffers(file, study.Direction);
            if (study.Metric != file.Metric)
                throw new StudyFileException(file.SourceName, 0, 0, "metric",
                    $"study '{file.Name}' is stored with metric '{study.Metric}', the file says '{file.Metric}': use another name or delete the study");
            if (ReadStored(study.Record) is { } stored)
                await CheckSpaceAsync(file, stored, study, options, cancellationToken).ConfigureAwait(false);
            await ScrubStoredSecretsAsync(storage, options, cancellationToken).ConfigureAwait(false);
            List<KeyValuePair<string, object?>> attributes = [new(StudyFileTextKey, file.RedactedText), new(StudyFilePathKey, file.Path ?? file.SourceName)];
            if (options.TrialBudget is { } set) attributes.Add(new(TrialBudgetKey, (long)set));
            await storage.SetStudyAttributesAsync(study.Record.Id, system: true, attributes, cancellationToken).ConfigureAwait(false);
            return study;
        }
        catch
        {
            await study.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// A one-line warning when the file's <c>command:</c> holds what looks like a secret in literal text: a password in a
    /// URL (<c>scheme://user:password@host</c>), or a value given to a flag named like one (<c>--password</c>,
    /// <c>--token</c>, <c>--secret</c>, <c>--api-key</c>, ...). The command is stored with the study as written (a worker
    /// elsewhere must run the same argv), so it is not redacted; <c>env:</c> is the place for secrets. Null when none is found.
    /// </summary>
    public static string? CommandSecretWarning(StudyFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var args = file.Command.Arguments.Select(a => a.Parts.All(p => !p.IsPlaceholder) ? string.Concat(a.Parts.Select(p => p.Text)) : null).ToList();
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] is not { } text) continue;
            string? what = null;
            if (UrlPassword().IsMatch(text)) what = "a password in a URL";
            else if (SecretFlag().Match(text) is { Success: true } m && !NamesAPlace().IsMatch(m.Groups["flag"].Value)
                && (m.Groups["value"].Length > 0 || i + 1 < args.Count && args[i + 1] is { Length: > 0 } next && !next.StartsWith('-')))
                what = $"a value for {m.Groups["flag"].Value}";
            if (what is not null)
                return $"{file.SourceName}: command: argument {i + 1} holds what looks like a secret ({what}); the command is stored with the study as written, " +
                    "so pass secrets through env: (stored redacted, each worker supplies its own)";
        }
        return null;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*:[^/@\s]+@")]
    private static partial System.Text.RegularExpressions.Regex UrlPassword();

    [System.Text.RegularExpressions.GeneratedRegex(@"^(?<flag>--?[A-Za-z0-9_-]*(password|passwd|token|secret|api[-_]?key|access[-_]?key)[A-Za-z0-9_-]*)(=(?<value>.+))?$",
        System.Text.RegularExpressions.RegexOptions.IgnoreCase)]
    private static partial System.Text.RegularExpressions.Regex SecretFlag();

    // --token-file, --secret-path, --password-env: where a secret is, not the secret.
    [System.Text.RegularExpressions.GeneratedRegex(@"[-_](file|path|dir|env|var|name)$", System.Text.RegularExpressions.RegexOptions.IgnoreCase)]
    private static partial System.Text.RegularExpressions.Regex NamesAPlace();

    // A database written before the stored study file was redacted holds env: values and storage passwords in it: each
    // study's stored file is stored again redacted, and a SQLite file is then rewritten without its free pages and its WAL
    // emptied (VACUUM, then a TRUNCATE checkpoint), so the old bytes are gone from the files, not only from the rows.
    private static async Task ScrubStoredSecretsAsync(IStudyStorage storage, StudyFileOpenOptions options, CancellationToken ct)
    {
        var scrubbed = new List<string>();
        foreach (var summary in await storage.ListStudiesAsync(ct).ConfigureAwait(false))
        {
            var record = summary.Study;
            if (!record.SystemAttributes.TryGetValue(StudyFileTextKey, out var t) || t is not string text) continue;
            string redacted;
            try { redacted = StudyFileReader.Redact(text, StoredPath(record)); }
            catch (Exception e) when (e is StudyFileException or YamlDotNet.Core.YamlException) { continue; }
            if (string.Equals(redacted, text, StringComparison.Ordinal)) continue;
            await storage.SetStudyAttributesAsync(record.Id, system: true, [new(StudyFileTextKey, redacted)], ct).ConfigureAwait(false);
            scrubbed.Add(record.Name);
        }
        if (scrubbed.Count == 0) return;
        var how = "";
        if (storage is Storage.Sql.SqliteStudyStorage sqlite)
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            how = await sqlite.CompactAsync(ct).ConfigureAwait(false)
                ? $"; the database file was rewritten without the old bytes in {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds:0.00} s"
                : "; the database file could not be rewritten now (another process is using it): run `sqlite3 FILE VACUUM` to drop the old bytes";
        }
        else if (storage is not InMemoryStudyStorage)
            how = "; the server keeps the old row versions until VACUUM FULL study_attributes";
        options.SecretsScrubbed?.Invoke(
            $"removed env values and passwords stored by an older Tunesmith from the stored study file of {string.Join(", ", scrubbed.Select(n => $"'{n}'"))}{how}");
    }

    private static StudyFileException DirectionDiffers(StudyFile file, Direction stored) =>
        new(file.SourceName, 0, 0, "direction",
            $"study '{file.Name}' is stored with direction {stored.ToString().ToLowerInvariant()}, the file says {file.Direction.ToString().ToLowerInvariant()}: use another name or delete the study");

    // Once a study has trials its space is fixed: a file whose space differs is refused, naming the difference, unless
    // options.UpdateSpace is set and every stored trial's values still fit the file's space.
    private static async Task CheckSpaceAsync(StudyFile file, StudyFile stored, Study study, StudyFileOpenOptions options, CancellationToken ct)
    {
        var difference = SpaceDifference(stored.Space, file.Space);
        if (difference is null) return;
        var trials = await study.GetTrialsAsync(ct).ConfigureAwait(false);
        if (trials.Count == 0) return;
        if (!options.UpdateSpace)
            throw new StudyFileException(file.SourceName, 0, 0, "space",
                $"study '{file.Name}' has {trials.Count} trial(s) and its space is fixed: {difference}; use --update-space to change it (every trial must fit), or another name");
        // Each trial is walked through the new space with its own values, so a branch's parameters count only in that branch.
        foreach (var trial in trials)
            if (file.Space.Misfit(trial.Params, complete: trial.State is TrialState.Complete or TrialState.Pruned) is { } misfit)
                throw new StudyFileException(file.SourceName, 0, 0, "space", $"--update-space: trial {trial.Number} does not fit the new space: {misfit}");
        options.SpaceUpdated?.Invoke($"study '{file.Name}': space updated ({difference}); all {trials.Count} trial(s) fit the new space");
    }

    /// <summary>What differs between two spaces, in words (the first difference), or null when they are the same.</summary>
    public static string? SpaceDifference(SearchSpace stored, SearchSpace file)
    {
        ArgumentNullException.ThrowIfNull(stored);
        ArgumentNullException.ThrowIfNull(file);
        static List<(string Name, string What)> Describe(SearchSpace space) =>
            space.Flatten().Select(x => (x.Name, x.Distribution.Describe() + (x.When is { } w ? $" when {w}" : ""))).ToList();
        var a = Describe(stored);
        var b = Describe(file);
        foreach (var (name, what) in a)
            if (!b.Any(x => x.Name == name)) return $"parameter '{name}' ({what}) is stored, not in the file";
        foreach (var (name, what) in b)
            if (!a.Any(x => x.Name == name)) return $"parameter '{name}' ({what}) is in the file, not stored";
        foreach (var (name, what) in b)
            if (!a.Contains((name, what)))
                return $"parameter '{name}' is {string.Join(" or ", a.Where(x => x.Name == name).Select(x => x.What))} stored, {what} in the file";
        foreach (var (name, what) in a)
            if (!b.Contains((name, what))) return $"parameter '{name}' is {what} stored, {string.Join(" or ", b.Where(x => x.Name == name).Select(x => x.What))} in the file";
        return null;
    }

    /// <summary>
    /// Reads back the study file stored with a study (by <see cref="OpenAsync(StudyFile, IStudyStorage, StudyFileOpenOptions, CancellationToken)"/>), or null when the study was not created
    /// from one. Relative paths in it resolve against the original file's directory when it exists here, else the current
    /// one: enough to read the file's space and settings (status, reports), never to run trials (see <see cref="ReadStoredToRun"/>).
    /// </summary>
    public static StudyFile? ReadStored(StudyRecord study)
    {
        ArgumentNullException.ThrowIfNull(study);
        if (!study.SystemAttributes.TryGetValue(StudyFileTextKey, out var t) || t is not string text) return null;
        var path = StoredPath(study);
        var directory = System.IO.Path.GetDirectoryName(path) is { Length: > 0 } d && Directory.Exists(d) ? d : Directory.GetCurrentDirectory();
        return StudyFile.Parse(text, path, directory);
    }

    /// <summary>
    /// Reads back the stored study file of a study this machine will run trials of (a worker, a cluster job): the
    /// directory its trial directories and relative paths live in must be visible here. When it is not (a compute node
    /// without the shared file system the study was created on), throws <see cref="DirectoryNotFoundException"/> with a
    /// one-line message, rather than running the trials somewhere no one will look. Null when the study has no stored file.
    /// </summary>
    public static StudyFile? ReadStoredToRun(StudyRecord study)
    {
        ArgumentNullException.ThrowIfNull(study);
        if (!study.SystemAttributes.TryGetValue(StudyFileTextKey, out var t) || t is not string text) return null;
        var path = StoredPath(study);
        var directory = System.IO.Path.GetDirectoryName(path) is { Length: > 0 } d ? d : null;
        if (directory is null || !System.IO.Path.IsPathFullyQualified(directory) || !Directory.Exists(directory))
            throw new DirectoryNotFoundException($"study '{study.Name}': the directory of its study file ({directory ?? path}) is not visible on this machine ({Environment.MachineName}); " +
                "its trial directories live there, so a worker must see the same path (a shared file system mounted on every compute node)");
        var file = StudyFile.Parse(text, path, directory);
        if (file.Workdir is { } w && !Directory.Exists(w))
            throw new DirectoryNotFoundException($"study '{study.Name}': its workdir {w} is not visible on this machine ({Environment.MachineName}); " +
                "trials run and keep their directories there, so a worker must see the same path (a shared file system mounted on every compute node)");
        return file;
    }

    /// <summary>
    /// The scheduler of the study file stored with <paramref name="study"/> (as <c>tunesmith run</c>, workers and Slurm jobs
    /// build it), for reports and the dashboard to draw its rungs; null when the study has no stored file, it has no
    /// scheduler, or the file no longer reads.
    /// </summary>
    public static Schedulers.IScheduler? StoredScheduler(StudyRecord study)
    {
        ArgumentNullException.ThrowIfNull(study);
        try
        {
            return ReadStored(study)?.CreateScheduler();
        }
        catch (Exception e) when (e is StudyFileException or ArgumentException or FormatException or IOException)
        {
            return null;
        }
    }

    /// <summary>
    /// The study's effective trial budget: the one stored with it by the last <c>run</c> or <c>create</c>
    /// (<see cref="TrialBudgetKey"/>), else the file's <c>trials:</c>; null when neither sets one.
    /// </summary>
    public static int? TrialBudget(StudyFile file, StudyRecord? study)
    {
        ArgumentNullException.ThrowIfNull(file);
        return study is not null && study.SystemAttributes.TryGetValue(TrialBudgetKey, out var b) && ParamValues.TryToLong(b, out var n) && n is >= 0 and <= int.MaxValue
            ? (int)n : file.Trials;
    }

    private static string StoredPath(StudyRecord study) =>
        study.SystemAttributes.TryGetValue(StudyFilePathKey, out var p) && p is string s ? s : $"{study.Name} (stored study file)";

    /// <summary>Builds the objective options of a study file's command trials.</summary>
    /// <param name="file">The study file.</param>
    /// <param name="runDirectory">Where trial directories go (see <see cref="RunDirectoryAsync"/>).</param>
    /// <param name="resources">The local pool, or null.</param>
    /// <param name="fixedParams">Parameters fixed for every trial of this run (already coerced, see <see cref="SearchSpace.CoerceValues"/>).</param>
    /// <param name="progress">Receives trial events, or null.</param>
    /// <param name="loggerFactory">Logging, or null.</param>
    /// <param name="timeProvider">
    /// The clock of the trials' processes (trial timeouts, kill grace periods, durations): the study's, so a test or a
    /// simulator drives both; null: the system clock.
    /// </param>
    public static CommandObjectiveOptions ObjectiveOptions(StudyFile file, string runDirectory, ResourcePool? resources = null,
        IReadOnlyDictionary<string, object?>? fixedParams = null, IProgress<CommandTrialEvent>? progress = null, ILoggerFactory? loggerFactory = null,
        TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        var fixedValues = fixedParams ?? new Dictionary<string, object?>();
        return new CommandObjectiveOptions
        {
            Command = (configuration, number, directory) => file.RenderCommand(configuration, number, directory),
            Space = file.Space,
            FixedParams = fixedValues,
            RootDirectory = runDirectory,
            WorkingDirectory = file.Workdir ?? file.Directory,
            Environment = file.Env,
            TrialTimeout = file.TrialTimeout,
            StdoutMetrics = file.Metrics,
            Resources = resources,
            Progress = progress,
            LoggerFactory = loggerFactory,
            TimeProvider = timeProvider ?? TimeProvider.System,
        };
    }

    /// <summary>The run options of a study file (budget, parallelism, retries, fail-fast), each overridable.</summary>
    public static CommandStudyOptions RunOptions(StudyFile file, int? trials = null, int? parallel = null, TimeSpan? timeout = null) => new()
    {
        Trials = trials ?? file.Trials,
        Parallel = parallel ?? file.Parallel,
        Timeout = timeout ?? file.Timeout,
        Retries = file.Retries,
        FailFast = file.FailFast,
        Goal = file.Goal,
        MaxFailedTrials = file.MaxFailedTrials,
    };

    /// <summary>
    /// Builds the local resource pool for a study file from the GPUs found (see <see cref="GpuDiscovery"/>); with
    /// <paramref name="ledger"/> (<see cref="GpuLedger.ForMachine"/>), its GPUs are shared with every other process of the machine,
    /// whose holdings it polls on <paramref name="time"/> (default the system clock).
    /// </summary>
    public static ResourcePool CreatePool(StudyFile file, IReadOnlyList<string> gpus, int parallel, GpuLedger? ledger = null, TimeProvider? time = null) => new(new ResourcePoolOptions
    {
        Ledger = ledger,
        TimeProvider = time ?? TimeProvider.System,
        Gpus = gpus,
        GpusPerTrial = file.Resources.GpusPerTrial,
        CpusPerTrial = file.Resources.CpusPerTrial ?? 0,
        MaxGpus = file.Resources.MaxGpus,
        MaxConcurrent = parallel,
    });
}

/// <summary>How <see cref="StudyFileRun.OpenAsync(StudyFile, IStudyStorage, StudyFileOpenOptions, CancellationToken)"/> opens a study file's study.</summary>
public sealed record StudyFileOpenOptions
{
    /// <summary>The sampler's seed (a run's <c>--seed</c>); null: the file's, else none.</summary>
    public int? Seed { get; init; }

    /// <summary>
    /// The study's effective trial budget (a run's <c>--trials</c>, else the file's <c>trials:</c>), which <c>auto</c> chooses
    /// its sampler for; it is stored with the study (<see cref="StudyFileRun.TrialBudgetKey"/>). Null (a worker): the
    /// budget stored with the study, else the file's <c>trials:</c>.
    /// </summary>
    public int? TrialBudget { get; init; }

    /// <summary>Create the study when it is absent (default true).</summary>
    public bool Create { get; init; } = true;

    /// <summary>Load the study when it is present (default true).</summary>
    public bool Load { get; init; } = true;

    /// <summary>This worker's heartbeat interval; null: <see cref="StudyOptions.HeartbeatInterval"/>'s default.</summary>
    public TimeSpan? HeartbeatInterval { get; init; }

    /// <summary>How long a silent Running trial lives before it is failed as stale; null: the default.</summary>
    public TimeSpan? StaleGracePeriod { get; init; }

    /// <summary>The clock of the study (heartbeats, timestamps, budgets): the entry point's, so a test or a simulator can drive it.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Logging; default none.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>
    /// Accept a file whose space differs from the stored study's once it has trials (<c>--update-space</c>), when every stored
    /// trial's values fit the new space; default false: a changed space is refused.
    /// </summary>
    public bool UpdateSpace { get; init; }

    /// <summary>
    /// Told, in one line, when opening found stored study files written before they were redacted (env values, storage
    /// passwords) and scrubbed them; null: not told.
    /// </summary>
    public Action<string>? SecretsScrubbed { get; init; }

    /// <summary>Told, in one line, when <see cref="UpdateSpace"/> accepted a changed space; null: not told.</summary>
    public Action<string>? SpaceUpdated { get; init; }
}
