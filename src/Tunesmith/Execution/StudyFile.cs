using Tunesmith.Storage;
using Tunesmith.Samplers;
using Tunesmith.Schedulers;
using Tunesmith.Spaces;
using Tunesmith.Spaces.Spec;

namespace Tunesmith.Execution;

/// <summary>
/// A study file (YAML, or JSON, which is YAML): the study's name, direction, objective metric, command template,
/// search space, sampler, budget, resources and environment, validated at load with errors that name the file,
/// line, column and field (<see cref="StudyFileException"/>). The syntax is documented in docs/STUDY_FILE.md.
/// </summary>
public sealed record StudyFile
{
    /// <summary>The study's name (default: the file name without its extension).</summary>
    public required string Name { get; init; }

    /// <summary>Free text shown in reports.</summary>
    public string? Description { get; init; }

    /// <summary>Minimize (default) or maximize the objective.</summary>
    public Direction Direction { get; init; } = Direction.Minimize;

    /// <summary>The reported metric that is the objective (default "value").</summary>
    public string Metric { get; init; } = "value";

    /// <summary>The command template, rendered per trial by <see cref="RenderCommand"/>.</summary>
    public required CommandTemplate Command { get; init; }

    /// <summary>The search space.</summary>
    public required SearchSpace Space { get; init; }

    /// <summary>Every name a configuration can hold: parameters, derived values, repeat counts and block parameters (<c>layers.0.units</c>).</summary>
    public IReadOnlyList<string> ParameterNames { get; init; } = [];

    /// <summary>The sampler by name with its options (default <c>auto</c>).</summary>
    public SamplerSpec Sampler { get; init; } = SamplerSpec.Auto;

    /// <summary>The scheduler section, e.g. <c>{ asha: { min: 1, max: 27 } }</c>, or null for none (<see cref="CreateScheduler"/> builds it).</summary>
    public SchedulerSpec? Scheduler { get; init; }

    /// <summary>The study's trial budget, or null for no limit.</summary>
    public int? Trials { get; init; }

    /// <summary>How many trials run at once on this machine (default 1).</summary>
    public int Parallel { get; init; } = 1;

    /// <summary>The study's time budget, or null.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>The time limit of one trial, or null.</summary>
    public TimeSpan? TrialTimeout { get; init; }

    /// <summary>How many times a failed trial's params are re-run (default 0).</summary>
    public int Retries { get; init; }

    /// <summary>Stop the study at the first failed trial.</summary>
    public bool FailFast { get; init; }

    /// <summary>
    /// The study's goal (Katib's <c>objective.goal</c>): once a Complete trial's value reaches it (≥ when maximizing, ≤ when
    /// minimizing) no trial starts, in any process; running ones finish. Null: none.
    /// </summary>
    public double? Goal { get; init; }

    /// <summary>Stop the study once it holds this many failed trials that were not retried (Katib's maxFailedTrialCount + 1; fail_fast is 1); null: no limit.</summary>
    public int? MaxFailedTrials { get; init; }

    /// <summary>What one trial takes from the local pool.</summary>
    public TrialResources Resources { get; init; } = new();

    /// <summary>The storage URL as written in the file, or null.</summary>
    public string? Storage { get; init; }

    /// <summary>
    /// <see cref="Storage"/> with a relative SQLite path made absolute against the study file's directory (a database
    /// named in a study file lives next to it, wherever the command is run from); null when the file names none.
    /// </summary>
    public string? ResolvedStorage => ResolveStorage(Storage, Directory);

    /// <summary>Extra environment variables for every trial.</summary>
    public IReadOnlyDictionary<string, string> Env { get; init; } = new Dictionary<string, string>();

    /// <summary>The file's <c>slurm:</c> section (job options and compute classes for <c>tunesmith slurm submit</c>), or null.</summary>
    public Backends.Slurm.SlurmSettings? Slurm { get; init; }

    /// <summary>
    /// The <c>metrics:</c> section: read metrics from the program's ordinary stdout lines (<c>accuracy=0.81 loss=0.42</c>, as
    /// Katib's StdOut collector does) as reports and, when it prints no <c>tunesmith:result</c>, its result; null: only the
    /// protocol lines (docs/COMMAND_TRIALS.md).
    /// </summary>
    public Backends.Processes.StdoutMetrics? Metrics { get; init; }

    /// <summary>The working directory of trials (absolute: a relative one is resolved against the file's directory), or null for the file's directory.</summary>
    public string? Workdir { get; init; }

    /// <summary>The file as the user named it, or the source name given to <see cref="Parse"/>.</summary>
    public required string SourceName { get; init; }

    /// <summary>The full path of the file, or null when parsed from text.</summary>
    public string? Path { get; init; }

    /// <summary>The directory relative paths in the file are resolved against: the file's own, or the current directory.</summary>
    public required string Directory { get; init; }

    /// <summary>The file's text, e.g. to store with the study so that workers elsewhere run the same definition.</summary>
    public required string Text { get; init; }

    /// <summary>What an <c>env:</c> value reads in <see cref="RedactedText"/>: its name is kept, its value is not stored.</summary>
    public const string RedactedValue = "(redacted)";

    /// <summary>
    /// <see cref="Text"/> without secrets, as it is stored with a study: every <c>env:</c> value replaced by
    /// <see cref="RedactedValue"/> (the names stay) and a <c>storage:</c> URL in its redacted form (no password).
    /// </summary>
    public string RedactedText => StudyFileReader.Redact(Text, SourceName);

    /// <summary>
    /// This file with each <see cref="RedactedValue"/> env entry taken from <paramref name="environment"/> (a worker's own
    /// environment) or, when that lacks it, dropped, so the trial inherits the runner's environment: the values a stored
    /// (redacted) study file no longer holds.
    /// </summary>
    public StudyFile WithRedactedEnvFrom(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (!Env.Values.Contains(RedactedValue)) return this;
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in Env)
        {
            if (value != RedactedValue) env[key] = value;
            else if (environment(key) is { } v) env[key] = v;
        }
        return this with { Env = env };
    }

    /// <summary>Where the command was written, for errors found later (e.g. a placeholder value problem at run time).</summary>
    public SourceLocation? CommandLocation { get; init; }

    /// <summary>Reads and validates a study file; throws <see cref="StudyFileException"/> naming the file, line and field.</summary>
    public static StudyFile Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new StudyFileException(path, 0, 0, null, e is FileNotFoundException or DirectoryNotFoundException
                ? "no such file"
                : System.IO.Directory.Exists(path) ? "is a directory, not a study file" // .NET says "access denied" for a directory
                : $"cannot read the file: {e.Message}", e);
        }
        var full = System.IO.Path.GetFullPath(path);
        return StudyFileReader.Read(text, path, System.IO.Path.GetDirectoryName(full) ?? System.IO.Directory.GetCurrentDirectory()) with { Path = full };
    }

    /// <summary>Parses and validates study-file text; <paramref name="sourceName"/> names it in errors; relative paths resolve against <paramref name="directory"/> (default: the current directory).</summary>
    public static StudyFile Parse(string text, string sourceName = "study.yaml", string? directory = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        return StudyFileReader.Read(text, sourceName, System.IO.Path.GetFullPath(directory ?? System.IO.Directory.GetCurrentDirectory()));
    }

    /// <summary>
    /// The argv of one trial: each placeholder replaced by its value's invariant text inside one argument (never split,
    /// never given to a shell). An argument naming an inactive parameter is dropped with the literal flag before it
    /// (see <see cref="CommandTemplate"/>).
    /// </summary>
    public IReadOnlyList<string> RenderCommand(IReadOnlyDictionary<string, object?> configuration, int trialNumber, string trialDirectory) =>
        Command.Render(configuration, trialNumber, trialDirectory);

    /// <summary>
    /// Builds the sampler the file names, with <paramref name="seed"/> (e.g. <c>--seed</c>) taking precedence over the file's seed.
    /// Throws <see cref="StudyFileException"/> at the sampler's line for an unknown sampler or option.
    /// </summary>
    public ISampler CreateSampler(int? seed = null) => CreateSampler(seed, Trials);

    /// <summary>
    /// Parses a duration as a study file's <c>timeout:</c> and <c>trial_timeout:</c> read it — <c>2h</c>, <c>30m</c>,
    /// <c>45s</c>, <c>1h30m</c>, <c>1.5d</c>, <c>500ms</c>, <c>90</c> (seconds) or <c>hh:mm:ss</c> — so a command-line flag
    /// reads the same text the same way; null when malformed.
    /// </summary>
    public static TimeSpan? ParseDuration(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return StudyFileReader.ParseDuration(text);
    }

    /// <summary>
    /// The longest duration a study file or a flag takes (100 years: a deadline must stay a date); a longer one is
    /// refused as too long. <c>trial_timeout</c> has a shorter limit, <see cref="MaxTrialTimeout"/>.
    /// </summary>
    public static TimeSpan MaxDuration { get; } = TimeSpan.FromDays(36500);

    /// <summary>The longest <c>trial_timeout</c>: 49 days, the longest a .NET timer waits.</summary>
    public static TimeSpan MaxTrialTimeout { get; } = TimeSpan.FromDays(49);

    /// <summary>
    /// Builds the file's sampler for a trial budget other than the file's <c>trials:</c> (a run's <c>--trials</c>): <c>auto</c>
    /// chooses for it. Throws <see cref="StudyFileException"/> naming the field when an option is invalid.
    /// </summary>
    public ISampler CreateSampler(int? seed, int? trialBudget)
    {
        var request = new SamplerRequest(Sampler.Options, seed ?? Sampler.Seed, Space, trialBudget);
        try { return SamplerRegistry.Create(Sampler.Name, request); }
        catch (ArgumentException e)
        {
            throw Sampler.Location is { } at ? at.Error(e.Message) : new StudyFileException(SourceName, 0, 0, "sampler", e.Message, e);
        }
    }

    /// <summary>
    /// Builds the file's scheduler (null when it names none); throws <see cref="StudyFileException"/> naming the field when
    /// an option is invalid.
    /// </summary>
    public IScheduler? CreateScheduler()
    {
        if (Scheduler is not { Name: { } name } spec) return null;
        try { return SchedulerRegistry.Create(name, spec.Options); }
        catch (ArgumentException e) { throw spec.Location.Error(e.Message); }
    }

    /// <summary>Makes a relative <c>sqlite:///</c> path absolute against <paramref name="directory"/>; other URLs pass through.</summary>
    public static string? ResolveStorage(string? url, string directory)
    {
        if (url is null) return null;
        if (!url.StartsWith("sqlite:///", StringComparison.OrdinalIgnoreCase) || url.EndsWith("/:memory:", StringComparison.Ordinal)) return url;
        // One parser for every storage URL; a malformed one is reported when the storage is opened, with the flag's.
        try { return StorageLocation.Parse(url, directory).Url; }
        catch (ArgumentException) { return url; }
    }
}

/// <summary>The sampler a study file names.</summary>
/// <param name="Name">Registry name (<c>random</c>, <c>grid</c>, <c>tpe</c>, ..., or <c>auto</c>).</param>
/// <param name="Options">Options besides the seed, keys in snake_case as written.</param>
/// <param name="Seed">The seed, or null.</param>
/// <param name="Location">Where the file names it.</param>
public sealed record SamplerSpec(string Name, IReadOnlyDictionary<string, object?> Options, int? Seed = null, SourceLocation? Location = null)
{
    /// <summary>The default: let Tunesmith pick from the space and budget.</summary>
    public static SamplerSpec Auto { get; } = new("auto", new Dictionary<string, object?>());
}

/// <summary>A study file's scheduler section, checked when the file is read: one known scheduler name and its options.</summary>
/// <param name="Settings">The scheduler's name (lower case) mapped to its options as written, e.g. <c>{ "asha": { "min": 1, "max": 27 } }</c>.</param>
/// <param name="Location">Where the file writes it.</param>
public sealed record SchedulerSpec(IReadOnlyDictionary<string, object?> Settings, SourceLocation Location)
{
    /// <summary>The scheduler's name when the mapping has a single key (<c>{ asha: {...} }</c>), else null.</summary>
    public string? Name => Settings.Count == 1 ? Settings.Keys.First() : null;

    /// <summary>The options under <see cref="Name"/> when they are a mapping, else empty.</summary>
    public IReadOnlyDictionary<string, object?> Options =>
        Name is { } n && Settings[n] is IReadOnlyDictionary<string, object?> o ? o : new Dictionary<string, object?>();
}

/// <summary>What one trial takes from the local resource pool.</summary>
/// <param name="GpusPerTrial">GPUs per trial; a fraction packs several trials on one GPU (0.5: two per GPU). 0: none.</param>
/// <param name="CpusPerTrial">CPU cores per trial, or null for no CPU accounting.</param>
/// <param name="MaxGpus">The most GPUs the study may use at once (a quota), or null for all that are found.</param>
public sealed record TrialResources(double GpusPerTrial = 0, int? CpusPerTrial = null, int? MaxGpus = null);
