using System.Globalization;

namespace Tunesmith.Backends.Slurm;

/// <summary>Where a process runs in Slurm's eyes: the job it belongs to, read from the <c>SLURM_*</c> variables Slurm sets.</summary>
/// <param name="JobId">The job's own id (<c>SLURM_JOB_ID</c>).</param>
/// <param name="ArrayJobId">The array's id (<c>SLURM_ARRAY_JOB_ID</c>), or null.</param>
/// <param name="ArrayTaskId">The task index (<c>SLURM_ARRAY_TASK_ID</c>), or null.</param>
/// <param name="RestartCount">How many times this job was requeued before (<c>SLURM_RESTART_COUNT</c>).</param>
/// <param name="Node">The node it runs on (<c>SLURMD_NODENAME</c>), or null.</param>
/// <param name="Cpus">CPUs allocated on the node (<c>SLURM_CPUS_ON_NODE</c>), or null.</param>
public sealed record SlurmJobEnvironment(string JobId, string? ArrayJobId, int? ArrayTaskId, int RestartCount, string? Node, int? Cpus)
{
    /// <summary>The id as Slurm shows it: <c>ARRAY_TASK</c> for an array task, else the job id.</summary>
    public string Display => ArrayJobId is { } a && ArrayTaskId is { } t ? string.Create(CultureInfo.InvariantCulture, $"{a}_{t}") : JobId;

    /// <summary>The job this process runs in, or null outside any Slurm job (no <c>SLURM_JOB_ID</c>).</summary>
    public static SlurmJobEnvironment? Read(Func<string, string?> getEnvironment)
    {
        ArgumentNullException.ThrowIfNull(getEnvironment);
        if (getEnvironment("SLURM_JOB_ID") is not { Length: > 0 } id) return null;
        static int? Int(string? s) => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;
        return new SlurmJobEnvironment(id, getEnvironment("SLURM_ARRAY_JOB_ID") is { Length: > 0 } a ? a : null,
            Int(getEnvironment("SLURM_ARRAY_TASK_ID")), Int(getEnvironment("SLURM_RESTART_COUNT")) ?? 0,
            getEnvironment("SLURMD_NODENAME") is { Length: > 0 } n ? n : null, Int(getEnvironment("SLURM_CPUS_ON_NODE")));
    }
}

/// <summary>
/// Tells a login node from a compute node, so that <c>tunesmith run</c> and <c>worker</c> do not run trials where a
/// cluster forbids heavy work. A host is a login node when it is outside any Slurm job (no <c>SLURM_JOB_ID</c>) and
/// either Slurm is configured there (a <c>slurm.conf</c> at <c>SLURM_CONF</c> or <c>/etc/slurm/slurm.conf</c>) or its
/// name matches <c>TUNESMITH_LOGIN_NODE_PATTERN</c> (a regular expression, e.g. <c>^login\d+</c>).
/// </summary>
public static class LoginNodeGuard
{
    /// <summary>The environment variable holding a host name pattern that marks login nodes.</summary>
    public const string PatternVariable = "TUNESMITH_LOGIN_NODE_PATTERN";

    /// <summary>Why this host looks like a login node, or null when heavy work is fine here.</summary>
    /// <param name="getEnvironment">Reads an environment variable.</param>
    /// <param name="fileExists">Whether a file exists.</param>
    /// <param name="hostName">This host's name.</param>
    public static string? Check(Func<string, string?> getEnvironment, Func<string, bool> fileExists, string hostName)
    {
        ArgumentNullException.ThrowIfNull(getEnvironment);
        ArgumentNullException.ThrowIfNull(fileExists);
        if (getEnvironment("SLURM_JOB_ID") is { Length: > 0 }) return null;
        if (getEnvironment(PatternVariable) is { Length: > 0 } pattern)
        {
            bool matches;
            try { matches = System.Text.RegularExpressions.Regex.IsMatch(hostName, pattern, System.Text.RegularExpressions.RegexOptions.None, TimeSpan.FromSeconds(1)); }
            catch (ArgumentException) { throw new ArgumentException($"{PatternVariable}: '{pattern}' is not a valid regular expression"); }
            if (matches) return $"host '{hostName}' matches {PatternVariable} '{pattern}'";
        }
        var conf = getEnvironment("SLURM_CONF") is { Length: > 0 } c ? c : "/etc/slurm/slurm.conf";
        if (fileExists(conf)) return $"Slurm is configured on this host ({conf}) and this process is not inside a Slurm job";
        return null;
    }
}
