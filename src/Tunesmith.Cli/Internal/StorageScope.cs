using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Storage;

namespace Tunesmith.Cli.Internal;

/// <summary>Opens the storage a command works on, and the named study in it, with one-line errors for the usual mistakes.</summary>
internal static class StorageScope
{
    /// <summary>Opens the storage at <paramref name="url"/>; a bad URL becomes a one-line error.</summary>
    public static IStudyStorage Open(string url)
    {
        try { return StudyStorage.Open(url); }
        catch (ArgumentException e) { throw new CliUsageException(ErrorLine.OneLine(StripParam(e))); }
    }

    /// <summary>Loads a study record or throws <see cref="StudyNotFoundException"/> naming it and the storage.</summary>
    public static async Task<StudyRecord> GetStudyAsync(IStudyStorage storage, string name, string url, CancellationToken ct) =>
        await storage.GetStudyAsync(name, ct).ConfigureAwait(false)
        ?? throw new CliUsageException($"study '{name}' does not exist in {StorageUrl.Shown(url)}");

    /// <summary>Loads a study over an open storage (not owned by the study).</summary>
    public static async Task<Study> LoadStudyAsync(IStudyStorage storage, string name, string url, CancellationToken ct)
    {
        try { return await Study.LoadAsync(name, new StudyOptions { StorageInstance = storage }, ct).ConfigureAwait(false); }
        catch (StudyNotFoundException) { throw new CliUsageException($"study '{name}' does not exist in {StorageUrl.Shown(url)}"); }
    }

    private static string StripParam(ArgumentException e) =>
        e.ParamName is { } p ? e.Message.Replace($" (Parameter '{p}')", "", StringComparison.Ordinal) : e.Message;
}
