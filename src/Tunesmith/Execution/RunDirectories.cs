using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Tunesmith.Storage;

namespace Tunesmith.Execution;

/// <summary>
/// Names a study's run directory under a <c>runs/</c> folder, by one rule for command trials
/// (<see cref="Commands.StudyFileRun.RunDirectoryAsync"/>, which <c>run</c>, <c>worker</c> and <c>slurm submit</c> use)
/// and in-process checkpoints (<see cref="StudyOptions.RunDirectory"/>'s default): the study's cleaned-up name, a dash and
/// ten hex digits of SHA-256 over the storage's identity and the study's id (<c>runs/exp_1-3f9a0c12de/</c>). Studies of
/// one name in two databases, or names that clean up alike (<c>exp 1</c>, <c>exp_1</c>), never share a directory, and a
/// study deleted and created again under its name gets a new one.
/// </summary>
/// <remarks>
/// The name is decided once and stored with the study (<see cref="Key"/>), so a folder moved later, or a worker reaching
/// the database by another host name, keeps it. A study from before this layout, whose trials already ran in
/// <c>runs/&lt;clean name&gt;/</c>, keeps that directory. Every name is one directory under <c>runs/</c>: letters, digits,
/// <c>-</c>, <c>_</c> and <c>.</c>, never dots alone, at most 80 characters of the study's name.
/// </remarks>
public static class RunDirectories
{
    /// <summary>Study system attribute holding the name of the study's directory under <c>runs/</c>, once chosen.</summary>
    public const string Key = "run_directory";

    // Longest cleaned-up study name kept in a run directory's name (a file name may have 255 bytes).
    private const int MaxNameLength = 80;

    // Stored trial attributes that say a trial ran under the old runs/<clean name>/: a command trial's directory (absolute),
    // an in-process checkpoint (relative to the run directory).
    private const string TrialDirectoryKey = "trial_dir";

    /// <summary>
    /// The study's run directory under <paramref name="runsDirectory"/>: the stored name, else the old
    /// <c>runs/&lt;clean name&gt;/</c> when it holds this study's trials, else the keyed name, stored with the study when
    /// <paramref name="remember"/> is set. Reads the study afresh from <paramref name="storage"/>.
    /// </summary>
    /// <param name="runsDirectory">The <c>runs/</c> folder.</param>
    /// <param name="storageUrl">The storage's URL, or null/empty when the storage was given as an instance.</param>
    /// <param name="storage">The open storage.</param>
    /// <param name="studyName">The study.</param>
    /// <param name="remember">Store a newly chosen name with the study (false: read only, e.g. a dry run).</param>
    /// <param name="cancellationToken">Cancels the storage calls.</param>
    /// <returns>The absolute run directory, or null when the storage holds no such study.</returns>
    public static async Task<string?> ResolveAsync(string runsDirectory, string? storageUrl, IStudyStorage storage, string studyName,
        bool remember = true, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(runsDirectory);
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentNullException.ThrowIfNull(studyName);
        var study = await storage.GetStudyAsync(studyName, cancellationToken).ConfigureAwait(false);
        if (study is null) return null;
        if (Stored(study) is { } leaf) return Path.GetFullPath(Path.Combine(runsDirectory, leaf));
        var trials = Directory.Exists(Path.Combine(runsDirectory, CleanName(study.Name)))
            ? (await storage.GetTrialsSinceAsync(study.Id, 0, cancellationToken).ConfigureAwait(false)).Trials : [];
        var name = Choose(runsDirectory, storageUrl, storage, study, trials);
        // Two workers choosing at once: the first stored name wins and both use it.
        if (remember && await storage.SetStudySystemAttributeIfAbsentAsync(study.Id, Key, name, cancellationToken).ConfigureAwait(false) is string first
            && IsDirectoryName(first))
            name = first;
        return Path.GetFullPath(Path.Combine(runsDirectory, name));
    }

    /// <summary>
    /// The name <see cref="ResolveAsync"/> would choose, from what is at hand and without storing it: the stored name in
    /// <paramref name="study"/>, else the old layout when <paramref name="trials"/> show it, else the keyed name.
    /// </summary>
    internal static string Choose(string runsDirectory, string? storageUrl, IStudyStorage storage, StudyRecord study, IEnumerable<FrozenTrial> trials)
    {
        if (Stored(study) is { } leaf) return leaf;
        var clean = CleanName(study.Name);
        return HoldsOldLayout(runsDirectory, clean, trials) ? clean : Name(study.Name, StorageIdentity(storageUrl, storage, study), study.Id);
    }

    /// <summary>
    /// The keyed name of a study's directory: its cleaned-up name (at most 80 characters), a dash and the first 10 hex
    /// digits of SHA-256 over <paramref name="storageIdentity"/> and <paramref name="studyId"/>.
    /// </summary>
    /// <param name="studyName">The study's name.</param>
    /// <param name="storageIdentity">What tells the storage apart from others (a SQLite file's path; a PostgreSQL server, database and schema).</param>
    /// <param name="studyId">The study's id in that storage.</param>
    public static string Name(string studyName, string storageIdentity, long studyId)
    {
        ArgumentNullException.ThrowIfNull(studyName);
        ArgumentNullException.ThrowIfNull(storageIdentity);
        var clean = CleanName(studyName);
        if (clean.Length > MaxNameLength) clean = clean[..MaxNameLength];
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{storageIdentity}\n{studyId.ToString(CultureInfo.InvariantCulture)}"));
        return $"{clean}-{Convert.ToHexStringLower(hash)[..10]}";
    }

    /// <summary>
    /// A study name made into one directory name: letters, digits, <c>-</c>, <c>_</c> and <c>.</c> kept, anything else
    /// <c>_</c>; a name of dots only (<c>.</c>, <c>..</c>), which would name <c>runs/</c> itself or its parent, becomes underscores.
    /// </summary>
    public static string CleanName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var safe = string.Concat(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));
        return safe.Length == 0 || safe.All(c => c == '.') ? new string('_', Math.Max(1, safe.Length)) : safe;
    }

    // The stored name, when it is one safe directory name (a tampered database cannot point outside runs/).
    private static string? Stored(StudyRecord study) =>
        study.SystemAttributes.TryGetValue(Key, out var v) && v is string leaf && IsDirectoryName(leaf) ? leaf : null;

    private static bool IsDirectoryName(string leaf) =>
        leaf.Length is > 0 and <= 255 && leaf.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') && !leaf.All(c => c == '.');

    // What tells one storage from another: a SQLite file by its path; a PostgreSQL database by server, port, database and
    // schema (never the user or password); an in-memory storage by this process, since it is gone when the process ends.
    // A storage given as an instance without its URL: its kind. The study's creation time is hashed in as well.
    private static string StorageIdentity(string? storageUrl, IStudyStorage storage, StudyRecord study)
    {
        StorageLocation? location = null;
        if (!string.IsNullOrWhiteSpace(storageUrl))
            try { location = StorageLocation.Parse(storageUrl); }
            catch (ArgumentException) { }
        var created = study.Created.UtcTicks.ToString(CultureInfo.InvariantCulture);
        return location?.Kind switch
        {
            StorageKind.Sqlite => $"sqlite:{location.SqlitePath}\n{created}",
            StorageKind.Postgres when location.PostgresSettings is { } pg =>
                $"postgresql://{pg.Host?.ToLowerInvariant()}:{pg.Port}/{pg.Database}?search_path={pg.SearchPath}\n{created}",
            StorageKind.Memory => $"memory:{Environment.ProcessId}\n{created}",
            _ => storage is InMemoryStudyStorage ? $"memory:{Environment.ProcessId}\n{created}" : $"{storage.GetType().Name}\n{created}",
        };
    }

    // A study from before keyed names ran its trials in runs/<clean name>/. That directory is still this study's when one of
    // its trials recorded a directory there (compared by the path's tail, runs/<name>/trials/, so a folder moved since still
    // counts) or saved an in-process checkpoint (kept relative to the run directory).
    private static bool HoldsOldLayout(string runsDirectory, string clean, IEnumerable<FrozenTrial> trials)
    {
        if (!Directory.Exists(Path.Combine(runsDirectory, clean))) return false;
        var sep = Path.DirectorySeparatorChar;
        var tail = $"{sep}runs{sep}{clean}{sep}trials{sep}";
        return trials.Any(t =>
            t.SystemAttributes.TryGetValue(TrialDirectoryKey, out var d) && d is string s && s.Contains(tail, StringComparison.Ordinal)
            || t.SystemAttributes.ContainsKey(SystemAttributeKeys.Checkpoint));
    }

    /// <summary>The directory of a SQLite storage URL's database file, or null for any other URL (or none).</summary>
    internal static string? SqliteDirectory(string? storageUrl)
    {
        if (string.IsNullOrWhiteSpace(storageUrl)) return null;
        try
        {
            return StorageLocation.Parse(storageUrl) is { Kind: StorageKind.Sqlite, SqlitePath: { } db } && !storageUrl.EndsWith("/:memory:", StringComparison.Ordinal)
                ? Path.GetDirectoryName(Path.GetFullPath(db)) : null;
        }
        catch (ArgumentException) { return null; }
    }
}
