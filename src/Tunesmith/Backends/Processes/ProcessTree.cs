using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Tunesmith.Backends.Processes;

/// <summary>
/// A started program and every process it spawns, stoppable as a whole: SIGTERM to each, a grace period, then SIGKILL.
/// Command trials run in one, and it is the hook early-stopping schedulers use to stop a trial. On Linux the program
/// starts in a session of its own (through util-linux <c>setsid</c>, which execs it in place: same pid, no shell), so
/// that even grandchildren orphaned by their parent's exit are still found; the tree is read from <c>/proc</c>.
/// Where util-linux <c>setpriv</c> is on the machine, the program is also tied to its runner: it gets SIGKILL when the
/// runner dies (<c>PR_SET_PDEATHSIG</c>, set by <c>setpriv --pdeathsig KILL</c>, which execs in place too). That signal
/// fires when the <em>thread</em> that started the program ends, so programs are started from one dedicated thread that
/// lives as long as the process (.NET retires idle thread-pool threads). Without <c>setpriv</c> a program outlives a
/// killed runner until its next run or worker on this machine kills what is left of its session.
/// </summary>
public sealed class ProcessTree : IDisposable
{
    private const int SigTerm = 15;
    private const int SigKill = 9;
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(25);

    // Every pid ever seen in the tree with its start time, so that a process reparented away from the tree (its parent
    // died) is still stopped, and a recycled pid is not.
    private readonly Dictionary<int, ulong> _known = [];
    private readonly object _gate = new();

    private ProcessTree(Process process, bool ownSession)
    {
        Process = process;
        RootId = process.Id;
        OwnsSession = ownSession;
        lock (_gate) Remember(Snapshot());
    }

    /// <summary>The root process (the program started).</summary>
    public Process Process { get; }

    /// <summary>The root process's id.</summary>
    public int RootId { get; }

    /// <summary>True when the program was started as the leader of a session of its own (Linux with <c>setsid</c>).</summary>
    public bool OwnsSession { get; }

    /// <summary>
    /// Starts <paramref name="startInfo"/> (FileName and ArgumentList, never a shell) as the root of a new tree; on Linux
    /// in a session of its own when <c>setsid</c> is on the machine.
    /// </summary>
    public static ProcessTree Start(ProcessStartInfo startInfo)
    {
        ArgumentNullException.ThrowIfNull(startInfo);
        if (startInfo.UseShellExecute) throw new ArgumentException("a process tree is started without a shell (UseShellExecute = false)", nameof(startInfo));
        var setsid = OperatingSystem.IsLinux() ? FindTool("setsid") : null;
        var setpriv = setsid is not null && TieToRunner ? FindTool("setpriv") : null;
        if (setsid is not null)
        {
            // setpriv and setsid exec the program in place (our child is never a group leader, so setsid does not fork):
            // same pid. The argv stays an argv: no shell anywhere.
            var args = startInfo.ArgumentList.ToArray();
            var program = startInfo.FileName;
            startInfo.ArgumentList.Clear();
            if (setpriv is not null)
            {
                startInfo.FileName = setpriv;
                foreach (var a in new[] { "--pdeathsig", "KILL", "--", setsid }) startInfo.ArgumentList.Add(a);
            }
            else startInfo.FileName = setsid;
            startInfo.ArgumentList.Add("--wait");
            startInfo.ArgumentList.Add(program);
            foreach (var a in args) startInfo.ArgumentList.Add(a);
        }
        var process = (setpriv is not null ? Launcher.Start(startInfo) : Process.Start(startInfo))
            ?? throw new InvalidOperationException($"could not start '{startInfo.FileName}'");
        return new ProcessTree(process, setsid is not null) { TiedToRunner = setpriv is not null };
    }

    /// <summary>
    /// Whether <see cref="Start"/> ties programs to this process with <c>setpriv --pdeathsig KILL</c> when it can (default
    /// true). Environment variable <c>TUNESMITH_NO_PDEATHSIG=1</c> turns it off (to show what it prevents).
    /// </summary>
    internal static bool TieToRunner { get; } = Environment.GetEnvironmentVariable("TUNESMITH_NO_PDEATHSIG") != "1";

    /// <summary>True when the program gets SIGKILL if its runner dies (started through <c>setpriv --pdeathsig KILL</c>).</summary>
    public bool TiedToRunner { get; private init; }

    /// <summary>The root's start time (clock ticks since boot, from <c>/proc</c>), or null where unknown.</summary>
    public ulong? RootStartTime { get { lock (_gate) return _known.TryGetValue(RootId, out var t) ? t : null; } }

    private static string? FindTool(string name)
    {
        foreach (var dir in new[] { "/usr/bin", "/bin" })
            if (File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        return null;
    }

    /// <summary>
    /// Starts processes from one thread that never ends: a child's parent-death signal fires when the thread that forked
    /// it exits, not only the process, and thread-pool threads retire when idle.
    /// </summary>
    private static class Launcher
    {
        private static readonly System.Collections.Concurrent.BlockingCollection<(ProcessStartInfo Info, TaskCompletionSource<Process?> Done)> Queue = new();

        static Launcher()
        {
            var thread = new Thread(() =>
            {
                foreach (var (info, done) in Queue.GetConsumingEnumerable())
                {
                    try { done.SetResult(Process.Start(info)); }
                    catch (Exception e) { done.SetException(e); }
                }
            })
            { IsBackground = true, Name = "tunesmith-trial-launcher" };
            thread.Start();
        }

        public static Process? Start(ProcessStartInfo info)
        {
            var done = new TaskCompletionSource<Process?>(TaskCreationOptions.RunContinuationsAsynchronously);
            Queue.Add((info, done));
            return done.Task.GetAwaiter().GetResult();
        }
    }

    /// <summary>The ids of the tree's live processes now (zombies excluded).</summary>
    public IReadOnlyList<int> GetLiveProcessIds()
    {
        lock (_gate)
        {
            var live = Snapshot();
            Remember(live);
            return live.Select(p => p.Pid).ToArray();
        }
    }

    /// <summary>
    /// Stops the whole tree: SIGTERM to every live process, then SIGKILL to whatever is left after <paramref name="grace"/>
    /// (processes spawned meanwhile included). Returns once none is left, or after a bounded wait past SIGKILL.
    /// Cancelling <paramref name="cancellationToken"/> cuts the grace period short (SIGKILL at once): the tree is never
    /// left running.
    /// </summary>
    public async Task TerminateAsync(TimeSpan grace, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        var time = timeProvider ?? TimeProvider.System;
        if (!OperatingSystem.IsLinux())
        {
            await TerminateWithoutProcfsAsync(cancellationToken.IsCancellationRequested ? TimeSpan.Zero : grace, time).ConfigureAwait(false);
            return;
        }
        if (!Signal(SigTerm)) return;
        if (await WaitUntilGoneAsync(grace, time, cancellationToken).ConfigureAwait(false)) return;
        Signal(SigKill);
        // SIGKILL cannot be ignored; the bound only guards against a process stuck in the kernel (e.g. a dead NFS mount).
        await WaitUntilGoneAsync(TimeSpan.FromSeconds(10), time).ConfigureAwait(false);
    }

    /// <summary>SIGKILLs every live process of the tree now, without a grace period (synchronous: safe in a signal handler's last moments).</summary>
    public void Kill()
    {
        if (OperatingSystem.IsLinux()) Signal(SigKill);
        else
        {
            try { Process.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { }
        }
    }

    /// <summary>
    /// Sends <paramref name="signal"/> once to every live process of the tree; false when none was left. The root's process
    /// group gets it in one call (which also catches a fork racing the snapshot); only the processes outside the group
    /// are signalled one by one. A process is never signalled twice: a second SIGTERM runs a program's handler again,
    /// in Python inside the first one, so a checkpoint is saved twice at once or a last report is printed into the
    /// middle of another.
    /// </summary>
    internal bool Signal(int signal)
    {
        List<LocalProcesses.ProcStat> live;
        lock (_gate)
        {
            live = Snapshot();
            Remember(live);
        }
        var groupSignalled = OwnsSession && LibC.Kill(-RootId, signal) == 0;
        foreach (var p in live)
            if (!groupSignalled || p.Group != RootId) _ = LibC.Kill(p.Pid, signal);
        return live.Count > 0;
    }

    private async Task<bool> WaitUntilGoneAsync(TimeSpan limit, TimeProvider time, CancellationToken cancellationToken = default)
    {
        var start = time.GetTimestamp();
        while (true)
        {
            if (GetLiveProcessIds().Count == 0) return true;
            if (time.GetElapsedTime(start) >= limit || cancellationToken.IsCancellationRequested) return false;
            // Only the root is awaitable as an event; its descendants can only be polled.
            try { await Task.Delay(PollInterval, time, cancellationToken).ConfigureAwait(false); }
            catch (OperationCanceledException) { return GetLiveProcessIds().Count == 0; }
        }
    }

    private async Task TerminateWithoutProcfsAsync(TimeSpan grace, TimeProvider time)
    {
        if (Process.HasExited) return;
        if (!OperatingSystem.IsWindows()) _ = LibC.Kill(RootId, SigTerm);
        using var cts = new CancellationTokenSource(grace, time);
        try { await Process.WaitForExitAsync(cts.Token).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
        try { Process.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { } // already exited
    }

    // ---------------------------------------------------------------- /proc

    private void Remember(List<LocalProcesses.ProcStat> live)
    {
        foreach (var p in live) _known[p.Pid] = p.StartTime;
    }

    private List<LocalProcesses.ProcStat> Snapshot()
    {
        var table = LocalProcesses.Table();
        var byPid = table.ToDictionary(p => p.Pid);
        var self = Environment.ProcessId;
        var members = new HashSet<int>();
        var queue = new Queue<int>();
        void Add(int pid)
        {
            if (pid != self && members.Add(pid)) queue.Enqueue(pid);
        }
        if (byPid.ContainsKey(RootId)) Add(RootId);
        foreach (var p in table)
        {
            if (OwnsSession && (p.Session == RootId || p.Group == RootId)) Add(p.Pid);
            else if (_known.TryGetValue(p.Pid, out var start) && start == p.StartTime) Add(p.Pid);
        }
        var children = table.ToLookup(p => p.Parent);
        while (queue.Count > 0)
            foreach (var c in children[queue.Dequeue()]) Add(c.Pid);
        return members.Select(pid => byPid[pid]).Where(p => p.State is not ('Z' or 'X')).ToList();
    }

    /// <summary>True when a process with this id exists and is not a zombie (for tests and diagnostics).</summary>
    public static bool IsAlive(int pid)
    {
        if (!OperatingSystem.IsLinux())
        {
            try { return !Process.GetProcessById(pid).HasExited; }
            catch (ArgumentException) { return false; }
        }
        return LocalProcesses.Stat(pid) is { State: not ('Z' or 'X') };
    }

    /// <summary>Describes a POSIX signal number (e.g. 9 → "SIGKILL") for failure reasons.</summary>
    public static string SignalName(int signal) => signal switch
    {
        1 => "SIGHUP", 2 => "SIGINT", 3 => "SIGQUIT", 4 => "SIGILL", 6 => "SIGABRT", 7 => "SIGBUS", 8 => "SIGFPE",
        9 => "SIGKILL", 11 => "SIGSEGV", 13 => "SIGPIPE", 14 => "SIGALRM", 15 => "SIGTERM",
        _ => $"signal {signal.ToString(CultureInfo.InvariantCulture)}",
    };

    /// <inheritdoc />
    public void Dispose() => Process.Dispose();

    private static class LibC
    {
        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        public static extern int Kill(int pid, int signal);
    }
}
