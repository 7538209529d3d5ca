using System.Globalization;
using System.Text.RegularExpressions;

namespace Tunesmith.Backends.Slurm;

/// <summary>One job (or array task) as Slurm reports it.</summary>
/// <param name="JobId">The job's own id (an array task has its own, e.g. <c>42</c> for <c>40_2</c>).</param>
/// <param name="ArrayJobId">The array's id, or null for a plain job.</param>
/// <param name="ArrayTaskId">The task index, or null (also for an array's pending remainder, e.g. <c>40_[3-7]</c>).</param>
/// <param name="State">The job state (<c>PENDING</c>, <c>RUNNING</c>, <c>COMPLETED</c>, <c>TIMEOUT</c>, <c>PREEMPTED</c>, <c>CANCELLED</c>, ...).</param>
/// <param name="Reason">Slurm's reason (why pending, or why it ended), or null.</param>
/// <param name="Node">The node list it runs on, or null.</param>
/// <param name="Restarts">How many times it was requeued.</param>
/// <param name="ExitCode">Slurm's <c>code:signal</c>, or null.</param>
/// <param name="Display">The id as Slurm shows it: <c>40_2</c>, <c>40_[3-7%2]</c> or <c>17</c>.</param>
/// <param name="RunTime">How long its current run has run (<c>scontrol</c>'s <c>RunTime</c>), or null.</param>
/// <param name="TimeLimit">Its time limit (<c>TimeLimit</c>), or null when unlimited or unknown.</param>
public sealed record SlurmJobInfo(string JobId, string? ArrayJobId, int? ArrayTaskId, string State, string? Reason, string? Node,
    int Restarts, string? ExitCode, string Display, TimeSpan? RunTime = null, TimeSpan? TimeLimit = null)
{
    /// <summary>Time left before the job's time limit (its limit less its run time), or null when either is unknown.</summary>
    public TimeSpan? TimeLeft => TimeLimit is { } limit && RunTime is { } run ? limit - run : null;

    /// <summary>True while the job can still run (pending, running, being requeued or finishing).</summary>
    public bool IsActive => State is "PENDING" or "RUNNING" or "CONFIGURING" or "COMPLETING" or "REQUEUED" or "REQUEUE_HOLD"
        or "REQUEUE_FED" or "RESIZING" or "SUSPENDED" or "STOPPED" or "SIGNALING" or "STAGE_OUT";
}

/// <summary>Parses what Slurm's commands print (<c>scontrol show job -o</c>, <c>squeue</c>, <c>sacct -P</c>, <c>scontrol show config</c>).</summary>
public static partial class SlurmOutput
{
    /// <summary>The <c>squeue</c> format <see cref="ParseSqueue"/> reads: id, array id, task, state, reason, nodes, restarts unknown.</summary>
    public const string SqueueFormat = "%i|%F|%K|%T|%r|%N|%A";

    /// <summary>The <c>sacct</c> fields <see cref="ParseSacct"/> reads (with <c>-P -n -X</c>).</summary>
    public const string SacctFields = "JobID,JobIDRaw,State,ExitCode,NodeList,Reason";

    /// <summary>
    /// Parses <c>scontrol show job -o</c> (one job per line, <c>Key=Value</c> words). Values may contain spaces (a command
    /// line, a work directory), so a value runs up to the next <c> Key=</c>.
    /// </summary>
    public static IReadOnlyList<SlurmJobInfo> ParseScontrolJobs(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var jobs = new List<SlurmJobInfo>();
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith("JobId=", StringComparison.Ordinal)) continue;
            var f = KeyValues(line);
            var id = f.GetValueOrDefault("JobId") ?? "";
            var arrayId = f.GetValueOrDefault("ArrayJobId");
            var taskText = f.GetValueOrDefault("ArrayTaskId");
            int? task = int.TryParse(taskText, NumberStyles.None, CultureInfo.InvariantCulture, out var ti) ? ti : null;
            var state = f.GetValueOrDefault("JobState") ?? "UNKNOWN";
            var node = f.GetValueOrDefault("NodeList") is { } nl && nl != "(null)" && nl.Length > 0 ? nl : null;
            var restarts = int.TryParse(f.GetValueOrDefault("Restarts"), NumberStyles.None, CultureInfo.InvariantCulture, out var r) ? r : 0;
            var display = arrayId is null ? id : $"{arrayId}_{(task is { } t ? t.ToString(CultureInfo.InvariantCulture) : "[" + taskText + "]")}";
            // RunTime and TimeLimit are durations ([D-]HH:MM:SS), unlike StartTime/EndTime (the controller's local time).
            jobs.Add(new SlurmJobInfo(id, arrayId, task, state, NullIfNone(f.GetValueOrDefault("Reason")), node, restarts,
                f.GetValueOrDefault("ExitCode"), display,
                f.GetValueOrDefault("RunTime") is { } rt ? SlurmJobOptions.ParseTime(rt) : null,
                f.GetValueOrDefault("TimeLimit") is { } tl ? SlurmJobOptions.ParseTime(tl) : null));
        }
        return jobs;
    }

    /// <summary>Parses <c>squeue -h -o '<see cref="SqueueFormat"/>'</c>.</summary>
    public static IReadOnlyList<SlurmJobInfo> ParseSqueue(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var jobs = new List<SlurmJobInfo>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            var p = line.Split('|');
            if (p.Length < 7) continue;
            var display = p[0];
            var underscore = display.IndexOf('_', StringComparison.Ordinal);
            string? arrayId = underscore > 0 ? display[..underscore] : null;
            int? task = arrayId is not null && int.TryParse(display[(underscore + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var t) ? t : null;
            jobs.Add(new SlurmJobInfo(p[6], arrayId, task, p[3], NullIfNone(p[4]), p[5].Length == 0 ? null : p[5], 0, null, display));
        }
        return jobs;
    }

    /// <summary>Parses <c>sacct -P -n -X -o <see cref="SacctFields"/></c> (states such as <c>CANCELLED by 0</c> keep their first word).</summary>
    public static IReadOnlyList<SlurmJobInfo> ParseSacct(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var jobs = new List<SlurmJobInfo>();
        foreach (var raw in text.Split('\n'))
        {
            var p = raw.TrimEnd('\r').Split('|');
            if (p.Length < 6 || p[0].Length == 0) continue;
            var display = p[0];
            var underscore = display.IndexOf('_', StringComparison.Ordinal);
            string? arrayId = underscore > 0 ? display[..underscore] : null;
            int? task = arrayId is not null && int.TryParse(display[(underscore + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var t) ? t : null;
            var state = p[2].Split(' ', 2)[0];
            jobs.Add(new SlurmJobInfo(p[1], arrayId, task, state, NullIfNone(p[5]), p[4] is "" or "None assigned" ? null : p[4], 0, p[3], display));
        }
        return jobs;
    }

    /// <summary>Parses <c>scontrol show config</c> (<c>Key = Value</c> lines) into a dictionary.</summary>
    public static IReadOnlyDictionary<string, string> ParseConfig(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var config = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var raw in text.Split('\n'))
        {
            var eq = raw.IndexOf(" = ", StringComparison.Ordinal);
            if (eq <= 0) continue;
            config.TryAdd(raw[..eq].Trim(), raw[(eq + 3)..].Trim());
        }
        return config;
    }

    /// <summary>The cluster's <c>MaxArraySize</c> from <c>scontrol show config</c>, or Slurm's default 1001.</summary>
    public static int MaxArraySize(IReadOnlyDictionary<string, string> config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.TryGetValue("MaxArraySize", out var v) && int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 1001;
    }

    /// <summary>
    /// The smallest <c>MaxSubmitJobs</c> in <c>sacctmgr -n -P show assoc user=U format=MaxSubmitJobs</c> (or of the QOS), or null
    /// when none is set.
    /// </summary>
    public static int? ParseMaxSubmitJobs(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int? min = null;
        foreach (var raw in text.Split('\n'))
            foreach (var word in raw.Split('|'))
                if (int.TryParse(word.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0)
                    min = min is { } m ? Math.Min(m, n) : n;
        return min;
    }

    private static Dictionary<string, string> KeyValues(string line)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var matches = KeyPattern().Matches(line);
        for (var i = 0; i < matches.Count; i++)
        {
            var m = matches[i];
            var start = m.Index + m.Length;
            var end = i + 1 < matches.Count ? matches[i + 1].Index : line.Length;
            result.TryAdd(m.Groups[1].Value, line[start..end].Trim());
        }
        return result;
    }

    private static string? NullIfNone(string? s) => s is null or "" or "None" or "(null)" ? null : s;

    // A key starts a line or follows a space: letters, digits, ':' '/' '_' (AllocNode:Sid, TRES/...), then '='.
    [GeneratedRegex(@"(?:^|(?<= ))([A-Za-z][A-Za-z0-9_:/]*)=")]
    private static partial Regex KeyPattern();
}
