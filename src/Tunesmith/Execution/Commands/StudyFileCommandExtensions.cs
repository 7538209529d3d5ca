using System.Text;
using Tunesmith.Execution.Resources;

namespace Tunesmith.Execution.Commands;

/// <summary>
/// Turns a <see cref="StudyFile"/> into the settings of a local command run, so that <c>tunesmith run</c> and a C#
/// caller build the same run: <c>new CommandStudyRunner(study, file.ToCommandObjectiveOptions(...), file.ToCommandStudyOptions())</c>.
/// </summary>
public static class StudyFileCommandExtensions
{
    /// <summary>
    /// The default run directory of a study: <c>BASE/NAME</c>, where BASE is the file's <c>workdir</c> when it sets one, else the
    /// directory of its SQLite database, else the file's directory; trial n then runs in <c>BASE/NAME/trials/n/</c>.
    /// The study's name keeps two studies of one database out of each other's trial directories.
    /// </summary>
    public static string DefaultRunDirectory(this StudyFile file, string? storageUrl = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        var baseDirectory = file.Workdir ?? SqliteDirectory(storageUrl ?? file.ResolvedStorage) ?? file.Directory;
        return Path.GetFullPath(Path.Combine(baseDirectory, SafeDirectoryName(file.Name)));
    }

    /// <summary>The resource pool a file's <c>resources</c> and <c>parallel</c> call for, over the GPUs found (see <see cref="GpuDiscovery"/>).</summary>
    public static ResourcePoolOptions ToResourcePoolOptions(this StudyFile file, IReadOnlyList<string> gpus, int? parallel = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        return new ResourcePoolOptions
        {
            Gpus = gpus,
            GpusPerTrial = file.Resources.GpusPerTrial,
            CpusPerTrial = file.Resources.CpusPerTrial ?? 0,
            MaxGpus = file.Resources.MaxGpus,
            MaxConcurrent = parallel ?? file.Parallel,
        };
    }

    /// <summary>How each trial of the file runs: its command, space, environment, working directory and trial timeout.</summary>
    public static CommandObjectiveOptions ToCommandObjectiveOptions(this StudyFile file, string? runDirectory = null, ResourcePool? resources = null,
        IReadOnlyDictionary<string, object?>? fixedParams = null, IProgress<CommandTrialEvent>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        return new CommandObjectiveOptions
        {
            Command = file.RenderCommand,
            Space = file.Space,
            FixedParams = fixedParams ?? new Dictionary<string, object?>(),
            RootDirectory = runDirectory ?? file.DefaultRunDirectory(),
            WorkingDirectory = file.Workdir ?? file.Directory,
            Environment = file.Env,
            TrialTimeout = file.TrialTimeout,
            Resources = resources,
            Progress = progress,
        };
    }

    /// <summary>The run settings of the file: trials, parallel, timeout, retries, fail_fast (override with <c>with</c>).</summary>
    public static CommandStudyOptions ToCommandStudyOptions(this StudyFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return new CommandStudyOptions
        {
            Trials = file.Trials,
            Parallel = file.Parallel,
            Timeout = file.Timeout,
            Retries = file.Retries,
            FailFast = file.FailFast,
        };
    }

    private static string? SqliteDirectory(string? url)
    {
        const string prefix = "sqlite:///";
        if (url is null || !url.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) return null;
        var path = url[prefix.Length..];
        if (path.Length == 0 || path == ":memory:") return null;
        return Path.GetDirectoryName(Path.GetFullPath(path));
    }

    private static string SafeDirectoryName(string name)
    {
        var sb = new StringBuilder(name.Length);
        foreach (var c in name) sb.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_');
        var s = sb.ToString().Trim('.');
        return s.Length == 0 ? "study" : s;
    }
}
