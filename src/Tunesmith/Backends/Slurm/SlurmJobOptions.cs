using System.Globalization;

namespace Tunesmith.Backends.Slurm;

/// <summary>
/// What one Slurm job of a study asks for (one trial per job): the resources, limits and placement of the array's tasks.
/// A study file's <c>slurm:</c> section, each of its <c>classes</c>, and the flags of <c>tunesmith slurm submit</c> fill it.
/// </summary>
public sealed record SlurmJobOptions
{
    /// <summary>The default lead of the pre-walltime signal: 5 minutes before the limit.</summary>
    public static readonly TimeSpan DefaultSignalLead = TimeSpan.FromMinutes(5);

    /// <summary>Array tasks running at once (<c>%K</c> in <c>--array</c>); null: as many as Slurm allows.</summary>
    public int? Concurrency { get; init; }

    /// <summary>GPUs per trial (<c>--gres=gpu:G</c>); 0: none.</summary>
    public int GpusPerTrial { get; init; }

    /// <summary>CPUs per trial (<c>--cpus-per-task</c>); null: the cluster's default.</summary>
    public int? CpusPerTrial { get; init; }

    /// <summary>Memory per trial in Slurm's syntax (<c>--mem</c>, e.g. <c>16G</c>); null: the cluster's default.</summary>
    public string? Memory { get; init; }

    /// <summary>Each job's time limit (<c>--time</c>); null: the partition's default.</summary>
    public TimeSpan? TimeLimit { get; init; }

    /// <summary><c>--partition</c>, or null.</summary>
    public string? Partition { get; init; }

    /// <summary><c>--account</c>, or null.</summary>
    public string? Account { get; init; }

    /// <summary><c>--qos</c>, or null.</summary>
    public string? Qos { get; init; }

    /// <summary><c>--constraint</c> (node features, e.g. <c>a100</c>), or null.</summary>
    public string? Constraint { get; init; }

    /// <summary>
    /// Shell text run at the start of each job before the worker (e.g. <c>module load cuda; source venv/bin/activate</c>):
    /// the user's own shell, by design the one place where Tunesmith writes user text into a script.
    /// </summary>
    public string? Setup { get; init; }

    /// <summary>Further <c>#SBATCH</c> options, one per entry (e.g. <c>--exclusive</c>).</summary>
    public IReadOnlyList<string> ExtraSbatch { get; init; } = [];

    /// <summary>How long before the time limit Slurm sends the worker <c>SIGUSR1</c> (<c>--signal=B:USR1@lead</c>).</summary>
    public TimeSpan SignalLead { get; init; } = DefaultSignalLead;

    /// <summary>How many times one trial may be sent back to the queue by a time limit or a preemption before it fails (default 3).</summary>
    public int MaxRequeues { get; init; } = 3;

    /// <summary>The compute class's relative speed (fastest first when branches are assigned; default 1).</summary>
    public double Speed { get; init; } = 1;

    /// <summary>Validates the options; throws <see cref="ArgumentException"/> naming the field.</summary>
    public void Validate(string where = "slurm")
    {
        if (Concurrency is < 1) throw new ArgumentException($"{where}.concurrency: must be ≥ 1, got {Concurrency}");
        if (GpusPerTrial < 0) throw new ArgumentException($"{where}.gpus_per_trial: must be ≥ 0, got {GpusPerTrial}");
        if (CpusPerTrial is < 1) throw new ArgumentException($"{where}.cpus_per_trial: must be ≥ 1, got {CpusPerTrial}");
        if (TimeLimit is { } t && t < TimeSpan.FromMinutes(1)) throw new ArgumentException($"{where}.time: Slurm's smallest time limit is 1 minute, got {FormatTime(t)}");
        if (SignalLead < TimeSpan.Zero) throw new ArgumentException($"{where}.signal_lead: must be ≥ 0");
        if (TimeLimit is { } limit && SignalLead >= limit)
            throw new ArgumentException($"{where}.signal_lead: {(int)SignalLead.TotalSeconds} s is not shorter than the time limit {FormatTime(limit)}");
        if (MaxRequeues < 0) throw new ArgumentException($"{where}.max_requeues: must be ≥ 0, got {MaxRequeues}");
        if (!(Speed > 0) || !double.IsFinite(Speed)) throw new ArgumentException($"{where}.speed: must be a positive number, got {Speed.ToString(CultureInfo.InvariantCulture)}");
        if (Memory is { } m && !IsMemory(m)) throw new ArgumentException($"{where}.mem: '{m}' is not a Slurm memory size such as 4000, 16G or 512M");
        foreach (var text in new[] { Partition, Account, Qos, Constraint })
            if (text is not null && (text.Length == 0 || text.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))))
                throw new ArgumentException($"{where}: '{text}' is not a valid partition, account, qos or constraint (no spaces)");
        foreach (var extra in ExtraSbatch)
            if (!extra.StartsWith('-') || extra.Contains('\n') || extra.Contains('\r'))
                throw new ArgumentException($"{where}.extra_sbatch: '{extra}' must be one sbatch option on one line, starting with '-'");
    }

    /// <summary>Slurm's <c>[D-]HH:MM:SS</c> form of a time limit (whole minutes and seconds).</summary>
    public static string FormatTime(TimeSpan t)
    {
        var seconds = (long)Math.Ceiling(t.TotalSeconds);
        var days = seconds / 86400;
        var rest = seconds % 86400;
        var hms = string.Create(CultureInfo.InvariantCulture, $"{rest / 3600:00}:{rest % 3600 / 60:00}:{rest % 60:00}");
        return days > 0 ? string.Create(CultureInfo.InvariantCulture, $"{days}-{hms}") : hms;
    }

    /// <summary>Parses Slurm's time forms: <c>MM</c>, <c>MM:SS</c>, <c>HH:MM:SS</c>, <c>D-HH</c>, <c>D-HH:MM</c>, <c>D-HH:MM:SS</c>; null when malformed.</summary>
    public static TimeSpan? ParseTime(string text)
    {
        var t = text.Trim();
        if (t.Length == 0) return null;
        long days = 0;
        var dash = t.IndexOf('-', StringComparison.Ordinal);
        if (dash >= 0)
        {
            if (!long.TryParse(t[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out days)) return null;
            t = t[(dash + 1)..];
        }
        var parts = t.Split(':');
        var numbers = new long[parts.Length];
        for (var i = 0; i < parts.Length; i++)
            if (!long.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out numbers[i])) return null;
        long seconds = (dash >= 0, numbers.Length) switch
        {
            (false, 1) => numbers[0] * 60,
            (false, 2) => numbers[0] * 60 + numbers[1],
            (_, 3) => numbers[0] * 3600 + numbers[1] * 60 + numbers[2],
            (true, 1) => numbers[0] * 3600,
            (true, 2) => numbers[0] * 3600 + numbers[1] * 60,
            _ => -1,
        };
        return seconds < 0 ? null : TimeSpan.FromSeconds(days * 86400 + seconds);
    }

    private static bool IsMemory(string m) =>
        m.Length > 0 && m.TrimEnd('K', 'M', 'G', 'T', 'k', 'm', 'g', 't') is { Length: > 0 } n && n.All(char.IsAsciiDigit)
        && m.Length - n.Length <= 1;
}

/// <summary>
/// A study's Slurm settings: the default job options and, optionally, named compute classes (each its own array with
/// its own options and cap). The <c>slurm:</c> section of a study file.
/// </summary>
/// <param name="Defaults">The options of a single-class submission, and the base every class starts from.</param>
/// <param name="Classes">Named compute classes in the order the file gives them; empty: one class, the defaults.</param>
public sealed record SlurmSettings(SlurmJobOptions Defaults, IReadOnlyList<SlurmComputeClass> Classes)
{
    /// <summary>No settings: Slurm's defaults, one class.</summary>
    public static SlurmSettings Empty { get; } = new(new SlurmJobOptions(), []);
}

/// <summary>A named class of hardware (e.g. <c>a100</c>, <c>cpu</c>) with its own job options and its own concurrency cap.</summary>
/// <param name="Name">The class name (letters, digits, <c>-</c>, <c>_</c>).</param>
/// <param name="Options">Its job options (the study's defaults with the class's own fields on top).</param>
public sealed record SlurmComputeClass(string Name, SlurmJobOptions Options);
