namespace Tunesmith.Storage;

/// <summary>
/// Finds the file system a path lives on from <c>/proc/self/mountinfo</c>, to keep SQLite off network file systems (NFS,
/// Lustre, GPFS, ...), where its locking is unreliable and several writers corrupt or block each other.
/// </summary>
public static class NetworkFileSystem
{
    private static readonly HashSet<string> NetworkTypes = new(StringComparer.OrdinalIgnoreCase)
    {
        "nfs", "nfs4", "lustre", "gpfs", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "fuse.glusterfs", "beegfs", "fuse.sshfs",
        "9p", "afs", "panfs", "pvfs2", "orangefs", "wekafs", "fuse.ceph-fuse", "fuse.juicefs",
    };

    /// <summary>True when <paramref name="fileSystemType"/> (a mountinfo type) is a network or cluster file system.</summary>
    public static bool IsNetworkType(string fileSystemType) => NetworkTypes.Contains(fileSystemType);

    /// <summary>
    /// The type of the file system holding <paramref name="path"/> (the longest mount point that contains it) in the
    /// given <c>/proc/self/mountinfo</c> text, or null when none matches.
    /// </summary>
    public static string? TypeOf(string path, string mountInfo)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(mountInfo);
        string? best = null;
        var bestLength = -1;
        foreach (var line in mountInfo.Split('\n'))
        {
            // id parent major:minor root mountpoint options [optional fields] - fstype source superoptions
            var parts = line.Split(' ');
            var dash = Array.IndexOf(parts, "-");
            if (parts.Length < 5 || dash < 0 || dash + 1 >= parts.Length) continue;
            var mount = Unescape(parts[4]);
            if (!Contains(mount, path) || mount.Length <= bestLength) continue;
            best = parts[dash + 1];
            bestLength = mount.Length;
        }
        return best;
    }

    /// <summary>
    /// The network file system type the SQLite file of <paramref name="storageUrl"/> would live on (read from this
    /// machine's <c>/proc/self/mountinfo</c>), or null when the URL is not a SQLite file or the file system is local.
    /// </summary>
    public static string? SqliteOnNetwork(string storageUrl)
    {
        const string prefix = "sqlite:///";
        if (!storageUrl.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)) return null;
        var path = storageUrl[prefix.Length..];
        var q = path.IndexOf('?', StringComparison.Ordinal);
        if (q >= 0) path = path[..q];
        if (path.Length == 0 || path == ":memory:") return null;
        if (!File.Exists("/proc/self/mountinfo")) return null;
        var full = Path.GetFullPath(path);
        var type = TypeOf(full, File.ReadAllText("/proc/self/mountinfo"));
        return type is not null && IsNetworkType(type) ? type : null;
    }

    private static bool Contains(string mount, string path) =>
        mount == "/" || path == mount || path.StartsWith(mount.EndsWith('/') ? mount : mount + "/", StringComparison.Ordinal);

    // mountinfo escapes space, tab, newline and backslash as \040 \011 \012 \134.
    private static string Unescape(string s) =>
        s.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
         .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal);
}
