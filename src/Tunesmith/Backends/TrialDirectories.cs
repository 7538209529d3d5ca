using System.Globalization;

namespace Tunesmith.Backends;

/// <summary>
/// The layout of a trial's directory (<c>root/trials/n/</c>) and the atomic checkpoint copy between two of them. A
/// trial's checkpoint is everything its program left in its directory except Tunesmith's own files (logs, params,
/// outcome, earlier attempts), so programs that already write checkpoints into <c>TUNESMITH_TRIAL_DIR</c> need no change.
/// </summary>
public static class TrialDirectories
{
    /// <summary>The program's stdout, kept in the trial directory.</summary>
    public const string StdoutFile = "stdout.log";
    /// <summary>The program's stderr, kept in the trial directory.</summary>
    public const string StderrFile = "stderr.log";
    /// <summary>The trial's params as a JSON object.</summary>
    public const string ParamsFile = "params.json";
    /// <summary>The outcome (and, before it, a result the program may write itself).</summary>
    public const string ResultFile = "result.json";
    /// <summary>Where a retry moves the files of the earlier attempts that ran in the same directory.</summary>
    public const string AttemptsFolder = "attempts";
    /// <summary>
    /// Written by a checkpoint copy into the directory it fills, in the same rename: which trial directory's checkpoint of
    /// which step the directory holds since (<see cref="RestoreRecord"/>). A trial whose runner died during an exploit is
    /// told by it whether the copy landed.
    /// </summary>
    public const string RestoreRecordFile = ".tunesmith-restored-from.json";

    private static readonly string[] OwnNames = [StdoutFile, StderrFile, ParamsFile, ResultFile, AttemptsFolder, RestoreRecordFile];

    /// <summary>The directory of trial <paramref name="directoryNumber"/> under <paramref name="rootDirectory"/>: <c>root/trials/n</c>.</summary>
    public static string TrialDirectory(string rootDirectory, int directoryNumber) =>
        Path.GetFullPath(Path.Combine(rootDirectory, "trials", directoryNumber.ToString(CultureInfo.InvariantCulture)));

    /// <summary>True for the names Tunesmith keeps in a trial directory itself (never part of a checkpoint).</summary>
    public static bool IsOwnFile(string name) => OwnNames.Contains(name, StringComparer.Ordinal);

    /// <summary>
    /// Copies the checkpoint in <paramref name="sourceDirectory"/> into <paramref name="targetDirectory"/> atomically: the
    /// new content is written to a temporary directory beside the target, every file flushed to disk, and then renamed
    /// into place. A target that exists keeps its own files (logs, earlier attempts) and loses its old checkpoint; it
    /// is renamed aside first and removed after, so a crash between the two renames leaves the old directory beside
    /// the target under a <c>.replaced-</c> name, never a half-copied checkpoint under the target's name. A file the source's
    /// program renames or removes while it is copied (the temporary file of a write-then-rename) is skipped, and the source
    /// listed again.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The source directory does not exist.</exception>
    public static Task CopyCheckpointAsync(string sourceDirectory, string targetDirectory, CancellationToken cancellationToken = default) =>
        CopyCheckpointAsync(sourceDirectory, targetDirectory, null, cancellationToken);

    /// <summary>
    /// <see cref="CopyCheckpointAsync(string, string, CancellationToken)"/>, and the copied directory holds
    /// <paramref name="restoreRecord"/> (<see cref="RestoreRecord"/>) as <see cref="RestoreRecordFile"/>, put in place by the
    /// same rename as the checkpoint: it is there if and only if the copy landed.
    /// </summary>
    public static async Task CopyCheckpointAsync(string sourceDirectory, string targetDirectory, string? restoreRecord, CancellationToken cancellationToken = default)
    {
        var source = Path.GetFullPath(sourceDirectory);
        var target = Path.GetFullPath(targetDirectory).TrimEnd(Path.DirectorySeparatorChar);
        if (!Directory.Exists(source)) throw new DirectoryNotFoundException($"no checkpoint to copy: the trial directory {source} does not exist");
        if (string.Equals(source.TrimEnd(Path.DirectorySeparatorChar), target, StringComparison.Ordinal))
            throw new ArgumentException("a checkpoint cannot be copied onto its own directory", nameof(targetDirectory));
        var parent = Path.GetDirectoryName(target) ?? throw new ArgumentException($"'{target}' has no parent directory", nameof(targetDirectory));
        Directory.CreateDirectory(parent);
        var name = Path.GetFileName(target);
        var suffix = Guid.NewGuid().ToString("N")[..12];
        var temporary = Path.Combine(parent, $".{name}.copy-{suffix}");
        try
        {
            Directory.CreateDirectory(temporary);
            await CopyLiveEntriesAsync(source, temporary, cancellationToken).ConfigureAwait(false);
            var targetExists = Directory.Exists(target);
            if (targetExists)
                foreach (var entry in new DirectoryInfo(target).EnumerateFileSystemInfos())
                    if (IsOwnFile(entry.Name) && entry.Name != RestoreRecordFile)
                        await CopyEntryAsync(entry, Path.Combine(temporary, entry.Name), cancellationToken).ConfigureAwait(false);
            if (restoreRecord is not null)
            {
                await using var record = new FileStream(Path.Combine(temporary, RestoreRecordFile), FileMode.CreateNew, FileAccess.Write);
                await record.WriteAsync(System.Text.Encoding.UTF8.GetBytes(restoreRecord), cancellationToken).ConfigureAwait(false);
                record.Flush(flushToDisk: true);
            }
            cancellationToken.ThrowIfCancellationRequested();
            if (!targetExists)
            {
                Directory.Move(temporary, target);
                return;
            }
            var aside = Path.Combine(parent, $".{name}.replaced-{suffix}");
            Directory.Move(target, aside);
            Directory.Move(temporary, target);
            Directory.Delete(aside, recursive: true);
        }
        catch
        {
            if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
            throw;
        }
    }

    // The source trial's program may still be running (PBT copies a trial that goes on training): a file it renames or
    // removes between the listing and its copy (the temporary file of a write-then-rename, a checkpoint it rotates out) is
    // skipped and the directory listed again for what replaced it, rather than failing the copy. Files stay whole: each is
    // opened once by its path, and a rename replaces a file atomically.
    private static async Task CopyLiveEntriesAsync(string source, string destination, CancellationToken cancellationToken)
    {
        var copied = new HashSet<string>(StringComparer.Ordinal);
        for (var listing = 1; ; listing++)
        {
            var vanished = false;
            foreach (var entry in new DirectoryInfo(source).EnumerateFileSystemInfos())
            {
                if (IsOwnFile(entry.Name) || copied.Contains(entry.Name)) continue;
                var to = Path.Combine(destination, entry.Name);
                try
                {
                    await CopyEntryAsync(entry, to, cancellationToken).ConfigureAwait(false);
                    copied.Add(entry.Name);
                }
                catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException && listing < MaxListings && Directory.Exists(source))
                {
                    if (File.Exists(to)) File.Delete(to);
                    else if (Directory.Exists(to)) Directory.Delete(to, recursive: true);
                    vanished = true;
                }
            }
            if (!vanished) return;
        }
    }

    private const int MaxListings = 100;

    /// <summary>What <see cref="RestoreRecordFile"/> says: the checkpoint of trial directory <paramref name="fromDirectory"/> at step <paramref name="step"/>.</summary>
    public static string RestoreRecord(int fromDirectory, long step) =>
        string.Create(CultureInfo.InvariantCulture, $$"""{"from": {{fromDirectory}}, "step": {{step}}}""");

    /// <summary>The <see cref="RestoreRecordFile"/> of a trial directory (what its last checkpoint copy brought), or null.</summary>
    public static string? ReadRestoreRecord(string directory)
    {
        var path = Path.Combine(directory, RestoreRecordFile);
        try { return File.Exists(path) ? File.ReadAllText(path).Trim() : null; }
        catch (IOException) { return null; }
    }

    /// <summary>
    /// Tidies what a checkpoint copy into <paramref name="targetDirectory"/> left behind when its process died: a half-made
    /// copy beside it (<c>.n.copy-*</c>) is removed, never used; the old directory renamed aside (<c>.n.replaced-*</c>) is
    /// removed once the new one is in place, or renamed back when the process died between the two renames.
    /// </summary>
    public static void RecoverInterruptedCopy(string targetDirectory)
    {
        var target = Path.GetFullPath(targetDirectory).TrimEnd(Path.DirectorySeparatorChar);
        var parent = Path.GetDirectoryName(target);
        if (parent is null || !Directory.Exists(parent)) return;
        var name = Path.GetFileName(target);
        foreach (var aside in Directory.EnumerateDirectories(parent, $".{name}.replaced-*"))
            if (Directory.Exists(target)) Directory.Delete(aside, recursive: true);
            else Directory.Move(aside, target);
        foreach (var partial in Directory.EnumerateDirectories(parent, $".{name}.copy-*"))
            Directory.Delete(partial, recursive: true);
    }

    /// <summary>
    /// Moves the checkpoint in <paramref name="directory"/> (everything but Tunesmith's own files) into
    /// <c>attempts/<paramref name="folder"/></c>, so the next program started there finds none. Returns that folder, or null
    /// when there was nothing to move.
    /// </summary>
    public static string? SetCheckpointAside(string directory, string folder)
    {
        if (!Directory.Exists(directory)) return null;
        var entries = new DirectoryInfo(directory).EnumerateFileSystemInfos().Where(e => !IsOwnFile(e.Name)).ToList();
        if (entries.Count == 0) return null;
        var aside = Path.Combine(directory, AttemptsFolder, folder);
        Directory.CreateDirectory(aside);
        foreach (var entry in entries)
        {
            var to = Path.Combine(aside, entry.Name);
            if (entry is DirectoryInfo) Directory.Move(entry.FullName, to);
            else File.Move(entry.FullName, to, overwrite: true);
        }
        return aside;
    }

    /// <summary>
    /// Copies the whole of <paramref name="sourceDirectory"/> to the new directory <paramref name="targetDirectory"/>
    /// atomically: every file and folder of the source is listed first, then copied into a temporary directory beside the
    /// target, each file flushed to disk, and the temporary directory renamed to the target. A source that is renamed away
    /// or removed while it is copied makes the copy fail (<see cref="IOException"/>) rather than come out partial, since the
    /// listing is taken before any file is opened and every file is opened by its path.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The source does not exist.</exception>
    /// <exception cref="IOException">The target exists, or the source changed under the copy.</exception>
    public static async Task CopySnapshotAsync(string sourceDirectory, string targetDirectory, CancellationToken cancellationToken = default)
    {
        var source = Path.GetFullPath(sourceDirectory);
        var target = Path.GetFullPath(targetDirectory).TrimEnd(Path.DirectorySeparatorChar);
        var entries = new DirectoryInfo(source).EnumerateFileSystemInfos("*", SearchOption.AllDirectories)
            .Select(e => (Relative: Path.GetRelativePath(source, e.FullName), IsDirectory: e is DirectoryInfo)).ToList();
        if (Directory.Exists(target)) throw new IOException($"{target} exists already");
        var parent = Path.GetDirectoryName(target) ?? throw new ArgumentException($"'{target}' has no parent directory", nameof(targetDirectory));
        var temporary = Path.Combine(parent, $".{Path.GetFileName(target)}.copy-{Guid.NewGuid().ToString("N")[..12]}");
        try
        {
            Directory.CreateDirectory(temporary);
            foreach (var (relative, isDirectory) in entries.OrderBy(e => e.Relative.Length))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var destination = Path.Combine(temporary, relative);
                if (isDirectory)
                {
                    Directory.CreateDirectory(destination);
                    continue;
                }
                Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
                await CopyFileToDiskAsync(Path.Combine(source, relative), destination, cancellationToken).ConfigureAwait(false);
            }
            if (!Directory.Exists(source)) throw new DirectoryNotFoundException($"{source} was removed while it was copied");
            Directory.Move(temporary, target);
        }
        catch
        {
            if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
            throw;
        }
    }

    /// <summary>Flushes every file under <paramref name="directory"/> to disk (before the directory is renamed into place).</summary>
    public static void FlushTreeToDisk(string directory)
    {
        foreach (var file in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
            stream.Flush(flushToDisk: true);
        }
    }

    private static async Task CopyEntryAsync(FileSystemInfo entry, string destination, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (entry is DirectoryInfo directory)
        {
            Directory.CreateDirectory(destination);
            foreach (var child in directory.EnumerateFileSystemInfos())
                await CopyEntryAsync(child, Path.Combine(destination, child.Name), cancellationToken).ConfigureAwait(false);
            return;
        }
        await CopyFileToDiskAsync(entry.FullName, destination, cancellationToken).ConfigureAwait(false);
    }

    // The source stays open to its program's renames and deletes (FileShare.Delete); the copy is new (CreateNew) and on
    // disk before the directory holding it is renamed into place.
    private static async Task CopyFileToDiskAsync(string source, string destination, CancellationToken cancellationToken)
    {
        await using var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, useAsync: true);
        await using var output = new FileStream(destination, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
        await input.CopyToAsync(output, cancellationToken).ConfigureAwait(false);
        output.Flush(flushToDisk: true);
    }
}
