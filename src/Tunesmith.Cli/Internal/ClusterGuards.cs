using System.CommandLine;
using Tunesmith.Backends.Slurm;
using Tunesmith.Storage;

namespace Tunesmith.Cli.Internal;

/// <summary>The checks that keep heavy work off login nodes and SQLite off network file systems.</summary>
internal static class ClusterGuards
{
    /// <summary><c>--allow-login-node</c>.</summary>
    public static Option<bool> AllowLoginNode() => new("--allow-login-node")
    {
        Description = "Run trials even on what looks like a cluster login node (Slurm configured here, outside any job, or a host matching $TUNESMITH_LOGIN_NODE_PATTERN)",
    };

    /// <summary><c>--allow-sqlite-on-network-fs</c>.</summary>
    public static Option<bool> AllowSqliteOnNetworkFs() => new("--allow-sqlite-on-network-fs")
    {
        Description = "Use a SQLite file on a network file system (NFS, Lustre, GPFS) even though its locking is unreliable there; use PostgreSQL instead",
    };

    /// <summary>Refuses heavy work on a login node unless allowed; the message points to <c>tunesmith slurm submit</c>.</summary>
    public static void RefuseLoginNode(bool allowed, CliConsole console, string command)
    {
        if (allowed) return;
        string? why;
        try { why = LoginNodeGuard.Check(console.GetEnvironment, File.Exists, Environment.MachineName); }
        catch (ArgumentException e) { throw new CliUsageException(e.Message); }
        if (why is not null)
            throw new CliUsageException($"refusing to run trials on a login node ({why}): submit them as jobs with 'tunesmith slurm submit STUDY_FILE', " +
                $"or pass --allow-login-node to '{command}'");
    }

    /// <summary>Refuses a SQLite storage on a network file system unless allowed; the message names PostgreSQL.</summary>
    public static void RefuseSqliteOnNetworkFs(string url, bool allowed)
    {
        if (allowed) return;
        if (NetworkFileSystem.SqliteOnNetwork(url) is { } type)
            throw new CliUsageException($"storage {StorageUrl.Shown(url)}: the SQLite file is on a network file system ({type}), where SQLite's locking is unreliable " +
                "and workers on several nodes would corrupt or block it; use PostgreSQL (--storage postgresql://user:pass@host/db), " +
                "or pass --allow-sqlite-on-network-fs if only one process uses it");
    }
}
