using System.Globalization;
using System.Runtime.InteropServices;

namespace Tunesmith.Backends.Processes;

/// <summary>
/// Processes of this machine as <c>/proc</c> shows them (Linux): whether a process recorded by its id and start time
/// still lives, and the killing of what a dead runner left of its trials' process sessions. A pid alone is not an
/// identity (pids are recycled); a pid with its start time (clock ticks since boot) and the boot id is.
/// </summary>
internal static class LocalProcesses
{
    private const int SigKill = 9;

    /// <summary>The first 8 hex digits of this boot's id (<c>/proc/sys/kernel/random/boot_id</c>), or "" where there is none.</summary>
    public static string BootId { get; } = ReadBootId();

    /// <summary>This process's start time in clock ticks since boot, or 0 where unknown.</summary>
    public static ulong SelfStartTime { get; } = StartTime(Environment.ProcessId) ?? 0;

    /// <summary>True when <c>/proc</c> can answer for this machine's processes.</summary>
    public static bool Available => OperatingSystem.IsLinux() && BootId.Length > 0;

    private static string ReadBootId()
    {
        if (!OperatingSystem.IsLinux()) return "";
        try { return File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim().Replace("-", "", StringComparison.Ordinal)[..8]; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentOutOfRangeException) { return ""; }
    }

    /// <summary>The process's start time (clock ticks since boot), or null when it does not exist or is a zombie.</summary>
    public static ulong? StartTime(int pid) => Stat(pid) is { State: not ('Z' or 'X') } s ? s.StartTime : null;

    /// <summary>True when the process <paramref name="pid"/> started at <paramref name="startTime"/> still runs (a zombie does not).</summary>
    public static bool IsAlive(int pid, ulong startTime) => StartTime(pid) == startTime;

    /// <summary>
    /// SIGKILLs what is left of the session a trial's program led (its pid <paramref name="leader"/>, started at
    /// <paramref name="leaderStart"/>): every live process of that session that started no earlier than the leader. When the
    /// pid now belongs to another process, nothing is killed. Returns the pids signalled.
    /// </summary>
    public static IReadOnlyList<int> KillSession(int leader, ulong leaderStart)
    {
        if (!Available || leader <= 1) return [];
        if (StartTime(leader) is { } now && now != leaderStart) return []; // recycled pid: not our session
        var killed = new List<int>();
        foreach (var s in Table())
        {
            if (s.Session != leader || s.Pid == Environment.ProcessId || s.StartTime < leaderStart || s.State is 'Z' or 'X') continue;
            if (Kill(s.Pid, SigKill) == 0) killed.Add(s.Pid);
        }
        return killed;
    }

    internal readonly record struct ProcStat(int Pid, char State, int Parent, int Group, int Session, ulong StartTime);

    internal static ProcStat? Stat(int pid)
    {
        if (!OperatingSystem.IsLinux() || pid <= 0) return null;
        try { return Parse(pid, File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat")); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    internal static List<ProcStat> Table()
    {
        var list = new List<ProcStat>();
        if (!OperatingSystem.IsLinux()) return list;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            if (Stat(pid) is { } s) list.Add(s);
        }
        return list;
    }

    // /proc/<pid>/stat: "pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime
    // cutime cstime priority nice num_threads itrealvalue starttime ..."; comm may hold spaces and parentheses.
    internal static ProcStat? Parse(int pid, string text)
    {
        var close = text.LastIndexOf(')');
        if (close < 0) return null;
        var fields = text[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 20) return null;
        return new ProcStat(pid, fields[0][0],
            int.Parse(fields[1], CultureInfo.InvariantCulture),
            int.Parse(fields[2], CultureInfo.InvariantCulture),
            int.Parse(fields[3], CultureInfo.InvariantCulture),
            ulong.Parse(fields[19], CultureInfo.InvariantCulture));
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}

/// <summary>
/// Who runs a trial, as its worker id records it: <c>host:pid:start:boot:random</c> (the default worker id). A trial whose
/// runner was on this machine (same host and boot) and whose process is gone is known dead at once; any other only once
/// its heartbeat is older than the grace period.
/// </summary>
internal readonly record struct RunnerIdentity(string Host, int Pid, ulong StartTime, string Boot)
{
    /// <summary>This process, as a worker id records it.</summary>
    public static RunnerIdentity Current { get; } = new(Environment.MachineName, Environment.ProcessId, LocalProcesses.SelfStartTime, LocalProcesses.BootId);

    /// <summary>A new worker id for this process: its identity and a random suffix (one per study object).</summary>
    public static string NewWorkerId() =>
        $"{Current.Host}:{Current.Pid.ToString(CultureInfo.InvariantCulture)}:{Current.StartTime.ToString(CultureInfo.InvariantCulture)}:{Current.Boot}:{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>Reads a worker id written by <see cref="NewWorkerId"/>; null for any other (a custom worker id).</summary>
    public static RunnerIdentity? TryParse(string? workerId)
    {
        if (workerId is null) return null;
        var parts = workerId.Split(':');
        if (parts.Length != 5 || parts[3].Length != 8) return null;
        if (!int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) return null;
        if (!ulong.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var start)) return null;
        return new RunnerIdentity(parts[0], pid, start, parts[3]);
    }

    /// <summary>True when the runner was a process of this machine since its last boot.</summary>
    public bool IsThisMachine => LocalProcesses.Available && Boot == Current.Boot && Host == Current.Host;

    /// <summary>True when the runner was a process of this machine and is gone now.</summary>
    public bool IsGoneFromThisMachine => IsThisMachine && StartTime != 0 && !LocalProcesses.IsAlive(Pid, StartTime);
}
