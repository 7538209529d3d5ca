using Tunesmith.Storage;

namespace Tunesmith.Execution.Commands;

public static partial class StudyFileRun
{
    /// <summary>
    /// The study's run directory, the one place <c>run</c>, <c>worker</c> and <c>slurm submit</c> take it from: trial n
    /// runs in <c>RunDirectory/trials/n/</c> and Slurm jobs write their logs in <c>RunDirectory/slurm/</c>. It is
    /// <c>runs/&lt;clean name&gt;-&lt;hash&gt;/</c> in <see cref="RunsDirectory"/>, named by <see cref="RunDirectories"/>
    /// (the storage and the study's id, so no two studies share one), chosen once and stored with the study; a study whose
    /// trials ran in the old <c>runs/&lt;name&gt;/</c> keeps it.
    /// </summary>
    /// <param name="file">The study file (its <c>workdir</c> and directory).</param>
    /// <param name="storageUrl">The storage URL the study was opened with.</param>
    /// <param name="storage">The open storage holding the study.</param>
    /// <param name="remember">Store the name with the study when it is not stored yet (false: read only, e.g. a dry run).</param>
    /// <param name="cancellationToken">Cancels the storage calls.</param>
    /// <returns>The absolute run directory, or null when the storage holds no study of the file's name.</returns>
    public static Task<string?> RunDirectoryAsync(StudyFile file, string storageUrl, IStudyStorage storage, bool remember = true,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        return RunDirectories.ResolveAsync(RunsDirectory(file, storageUrl), storageUrl, storage, file.Name, remember, cancellationToken);
    }

    /// <summary>
    /// The <c>runs/</c> folder that holds the run directories of a study file's studies (see <see cref="RunDirectoryAsync"/>):
    /// under the file's <c>workdir</c>, else beside a SQLite database, else beside the study file.
    /// </summary>
    public static string RunsDirectory(StudyFile file, string storageUrl)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(storageUrl);
        var baseDirectory = file.Workdir ?? RunDirectories.SqliteDirectory(storageUrl) ?? file.Directory;
        return Path.Combine(baseDirectory, "runs");
    }
}
