using System.Globalization;
using System.Text;
using Tunesmith.Backends.Processes;

namespace Tunesmith.Backends.Resources;

/// <summary>
/// One holding recorded in a <see cref="GpuLedger"/>: a share of one GPU, the process that holds it (host, pid, the
/// pid's start time and the boot, so that a recycled pid is not taken for the holder), the lease it belongs to (one
/// entry per GPU of a multi-GPU lease) and the trial it runs.
/// </summary>
public sealed record GpuLedgerEntry(string Gpu, double Share, string Host, int Pid, ulong StartTime, string Boot, string Lease, string Trial)
{
    /// <summary>True when this process holds the entry.</summary>
    public bool IsThisProcess => Pid == Environment.ProcessId && StartTime == LocalProcesses.SelfStartTime
        && Host == Environment.MachineName && Boot == LocalProcesses.BootId;

    internal string ToLine() => string.Join('\t', Clean(Gpu), Share.ToString("R", CultureInfo.InvariantCulture), Clean(Host),
        Pid.ToString(CultureInfo.InvariantCulture), StartTime.ToString(CultureInfo.InvariantCulture), Clean(Boot), Clean(Lease), Clean(Trial));

    internal static GpuLedgerEntry? Parse(string line)
    {
        var f = line.Split('\t');
        if (f.Length != 8) return null;
        if (!double.TryParse(f[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var share) || !double.IsFinite(share) || share <= 0) return null;
        if (!int.TryParse(f[3], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) return null;
        if (!ulong.TryParse(f[4], NumberStyles.None, CultureInfo.InvariantCulture, out var start)) return null;
        return new GpuLedgerEntry(f[0], share, f[2], pid, start, f[5], f[6], f[7]);
    }

    private static string Clean(string s) => s.Replace('\t', ' ').Replace('\n', ' ').Replace('\r', ' ');
}

/// <summary>
/// The machine-wide record of which process holds which share of which GPU, shared by every Tunesmith process of the
/// host: one file (<c>gpus.ledger</c> in <see cref="Directory"/>), read and rewritten under an exclusive <c>flock</c>.
/// Entries whose holder is gone (a runner killed by SIGKILL included) are dropped whenever the ledger is read, so a dead
/// process never keeps a GPU. Linux only (liveness is read from <c>/proc</c>); see docs/DECISIONS.md for the location.
/// </summary>
public sealed class GpuLedger
{
    /// <summary>The environment variable that moves the ledger's directory (tests; a site that wants it elsewhere).</summary>
    public const string DirectoryVariable = "TUNESMITH_GPU_LEDGER_DIR";

    /// <summary>The ledger file's name inside <see cref="Directory"/>.</summary>
    public const string FileName = "gpus.ledger";

    private const string EndMarker = "end";
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);

    /// <summary>A ledger kept in <paramref name="directory"/> (created when missing).</summary>
    public GpuLedger(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        Directory = Path.GetFullPath(directory);
    }

    /// <summary>The directory holding the ledger.</summary>
    public string Directory { get; }

    /// <summary>The ledger file.</summary>
    public string FilePath => Path.Combine(Directory, FileName);

    /// <summary>True where a ledger can tell live holders from dead ones (Linux with <c>/proc</c>).</summary>
    public static bool Supported => LocalProcesses.Available;

    /// <summary>
    /// This machine's ledger: <c>$TUNESMITH_GPU_LEDGER_DIR</c>, else <c>/dev/shm/tunesmith-gpus</c> (memory, gone at reboot,
    /// shared by every user), else <c>tunesmith-gpus</c> in the temporary directory; null where <see cref="Supported"/> is false,
    /// and inside a Slurm job (<c>SLURM_JOB_ID</c>) unless the variable names a directory.
    /// </summary>
    public static GpuLedger? ForMachine(Func<string, string?>? environment = null)
    {
        if (!Supported) return null;
        environment ??= Environment.GetEnvironmentVariable;
        if (environment(DirectoryVariable) is { Length: > 0 } dir) return new GpuLedger(dir);
        // Inside a Slurm job the allocation is the quota, and with cgroup device limits every job numbers its own GPUs from
        // 0: a node-wide ledger would make two jobs wait for each other's different "GPU 0".
        if (environment("SLURM_JOB_ID") is { Length: > 0 }) return null;
        var root = System.IO.Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();
        return new GpuLedger(Path.Combine(root, "tunesmith-gpus"));
    }

    /// <summary>The live entries (the dead ones are dropped from the file on the way).</summary>
    public IReadOnlyList<GpuLedgerEntry> Read() => Update(entries => (entries.ToArray(), false));

    /// <summary>Creates the directory and the file when missing and checks that this process can lock and write them; throws <see cref="IOException"/> naming the path.</summary>
    public void Check() => Read();

    /// <summary>Removes the entries of lease <paramref name="lease"/>.</summary>
    public void Release(string lease) => Update(entries => (0, entries.RemoveAll(e => e.Lease == lease) > 0));

    /// <summary>
    /// Under the lock: <paramref name="change"/> gets the live entries (it may change the list) and says whether it did;
    /// the list is then written back when it changed or when dead entries were dropped.
    /// </summary>
    public T Update<T>(Func<List<GpuLedgerEntry>, (T Result, bool Changed)> change)
    {
        ArgumentNullException.ThrowIfNull(change);
        try
        {
            using var file = OpenLocked();
            var text = ReadAll(file);
            var (entries, dropped) = Parse(text);
            var (result, changed) = change(entries);
            if (changed || dropped) WriteAll(file, entries);
            return result;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException && !e.Message.StartsWith("GPU ledger ", StringComparison.Ordinal))
        {
            // One line that names the file and the way out (a full /dev/shm, a directory of another user's).
            throw new IOException($"GPU ledger {FilePath}: {e.Message} (set {DirectoryVariable} to a directory every user of the GPUs can write)", e);
        }
    }

    private static (List<GpuLedgerEntry> Live, bool Dropped) Parse(string text)
    {
        var live = new List<GpuLedgerEntry>();
        var dropped = false;
        foreach (var line in text.Split('\n'))
        {
            if (line == EndMarker) break; // what follows is what a longer earlier content left before the truncate
            if (line.Length == 0) continue;
            if (GpuLedgerEntry.Parse(line) is { } e && IsLive(e)) live.Add(e);
            else dropped = true;
        }
        return (live, dropped);
    }

    /// <summary>True unless the holder is known gone: a process of this machine and boot that no longer runs with that start time.</summary>
    internal static bool IsLive(GpuLedgerEntry e)
    {
        if (e.Host != Environment.MachineName) return true; // a ledger on a shared filesystem: another host's holder cannot be judged here
        if (e.Boot != LocalProcesses.BootId) return false;  // written before this boot
        return LocalProcesses.IsAlive(e.Pid, e.StartTime);
    }

    // An exclusive flock on the ledger file itself (never replaced, so every process locks the same inode). .NET takes it
    // with FileShare.None (flock LOCK_EX | LOCK_NB) and fails at once when another process holds it: the lock is held
    // for microseconds, so a short retry loop is enough. The kernel drops the lock of a killed process.
    private FileStream OpenLocked()
    {
        var started = Environment.TickCount64;
        var delay = 1;
        while (true)
        {
            try { return Open(); }
            catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException && IsSharingViolation(e))
            {
                if (Environment.TickCount64 - started > LockTimeout.TotalMilliseconds)
                    throw new IOException($"GPU ledger {FilePath}: still locked by another process after {LockTimeout.TotalSeconds:0} s", e);
                Thread.Sleep(delay);
                delay = Math.Min(delay * 2, 20);
            }
        }
    }

    private static bool IsSharingViolation(IOException e) => e.HResult == 11 || e.HResult == 32 || e.HResult == unchecked((int)0x80070020) || e.Message.Contains("being used by another process", StringComparison.Ordinal);

    private FileStream Open()
    {
        EnsureDirectory();
        var path = FilePath;
        for (var attempt = 0; ; attempt++)
        {
            // Open without O_CREAT first: in a sticky world-writable directory the kernel (fs.protected_regular) refuses
            // O_CREAT on another user's existing file even when its mode lets us write it.
            try { return new FileStream(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.ReadWrite, Share = FileShare.None, BufferSize = 0 }); }
            catch (FileNotFoundException) when (attempt < 3) { }
            catch (UnauthorizedAccessException e) { throw new IOException($"GPU ledger {path}: {e.Message} (set {DirectoryVariable} to a directory every user of the GPUs can write)", e); }
            try
            {
                var created = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.ReadWrite, Share = FileShare.None, BufferSize = 0 });
                // Every user's runners share the file: rw for all, whatever the umask.
                if (!OperatingSystem.IsWindows())
                    try { File.SetUnixFileMode(created.SafeFileHandle, Rw); } catch (IOException) { } catch (UnauthorizedAccessException) { }
                return created;
            }
            catch (IOException e) when (File.Exists(path) && !IsSharingViolation(e)) { } // created meanwhile by another process: open it
        }
    }

    private const UnixFileMode Rw = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;

    private void EnsureDirectory()
    {
        if (System.IO.Directory.Exists(Directory)) return;
        try
        {
            if (OperatingSystem.IsWindows()) { System.IO.Directory.CreateDirectory(Directory); return; }
            System.IO.Directory.CreateDirectory(Directory);
            // Sticky and world-writable, as /tmp: every user's runners add to the ledger, none can delete another's file.
            File.SetUnixFileMode(Directory, Rw | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute | UnixFileMode.StickyBit);
        }
        catch (UnauthorizedAccessException e) { throw new IOException($"GPU ledger {Directory}: {e.Message} (set {DirectoryVariable} to a directory you can write)", e); }
        catch (IOException) when (System.IO.Directory.Exists(Directory)) { } // another process made it (and set its mode)
    }

    private static string ReadAll(FileStream file)
    {
        file.Position = 0;
        using var buffer = new MemoryStream();
        file.CopyTo(buffer);
        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    // One write call of the whole content, then the end marker's truncate: a process killed between the two leaves the
    // new content followed by the marker and the old tail, which the marker hides.
    private static void WriteAll(FileStream file, List<GpuLedgerEntry> entries)
    {
        var text = new StringBuilder();
        foreach (var e in entries) text.Append(e.ToLine()).Append('\n');
        text.Append(EndMarker).Append('\n');
        var bytes = Encoding.UTF8.GetBytes(text.ToString());
        file.Position = 0;
        file.Write(bytes);
        file.SetLength(bytes.Length);
        file.Flush();
    }

    /// <summary>An entry for this process.</summary>
    internal static GpuLedgerEntry Mine(string gpu, double share, string lease, string trial) =>
        new(gpu, share, Environment.MachineName, Environment.ProcessId, LocalProcesses.SelfStartTime, LocalProcesses.BootId, lease, trial);
}
