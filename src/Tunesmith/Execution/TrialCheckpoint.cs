using System.Globalization;
using System.Text.Json;
using Tunesmith.Backends;
using Tunesmith.Spaces;

namespace Tunesmith.Execution;

/// <summary>
/// A checkpoint of an in-process trial: a directory that the objective wrote through
/// <see cref="Trial.Report(long, double, Action{string})"/> (or that a PBT exploit copied in from another trial), the
/// step it was saved at, and the trial whose training wrote it. Read it; never write into it (it may be copied by other
/// trials at any time).
/// </summary>
/// <param name="Directory">The checkpoint's directory (absolute path): the files the objective wrote, plus Tunesmith's <c>tunesmith-checkpoint.json</c>.</param>
/// <param name="Step">The step it was saved at: continue from the step after it.</param>
/// <param name="TrialNumber">The trial that wrote it: this trial, or after a PBT exploit the source trial.</param>
public sealed record TrialCheckpoint(string Directory, long Step, int TrialNumber);

/// <summary>
/// Where in-process checkpoints live and how they are saved and copied. Each checkpoint is a directory of its own,
/// <c>run/trials/n/checkpoint-&lt;step&gt;-&lt;random&gt;</c>, written under a temporary name, flushed to disk and renamed into
/// place, and never changed afterwards; a trial keeps its latest two and removes older ones by renaming them away
/// first. So a trial copying another's checkpoint copies one immutable directory, and a copy that races with its
/// removal fails instead of taking half of it. <c>tunesmith-checkpoint.json</c> in each records the writer, the step and
/// the params it was trained with, and an exploit checks it after the copy.
/// </summary>
internal static class InProcessCheckpoints
{
    /// <summary>Tunesmith's record of a checkpoint, inside its directory.</summary>
    public const string InfoFile = "tunesmith-checkpoint.json";
    private const string Prefix = "checkpoint-";

    /// <summary>What <c>tunesmith-checkpoint.json</c> says.</summary>
    public sealed record Info(int TrialNumber, long Step, IReadOnlyDictionary<string, object?> Params);

    /// <summary>The <c>checkpoint</c> system attribute: the directory relative to the run directory, the step and the writer.</summary>
    public static string AttributeValue(string relativeDirectory, long step, int writer) =>
        ParamValues.ToJson([new("dir", relativeDirectory), new("step", step), new("trial", (long)writer)]);

    /// <summary>Reads a <c>checkpoint</c> attribute; null when absent or not one.</summary>
    public static (string RelativeDirectory, long Step, int Writer)? Parse(object? attribute)
    {
        if (attribute is not string json) return null;
        try
        {
            var values = ParamValues.FromJsonObject(json);
            return values.TryGetValue("dir", out var d) && d is string dir
                && values.TryGetValue("step", out var s) && ParamValues.TryToLong(s, out var step)
                && values.TryGetValue("trial", out var t) && ParamValues.TryToLong(t, out var writer)
                ? (dir, step, (int)writer) : null;
        }
        catch (JsonException) { return null; }
        catch (FormatException) { return null; }
    }

    /// <summary>The absolute directory of a checkpoint recorded relative to <paramref name="runDirectory"/>.</summary>
    public static string Resolve(string runDirectory, string relativeDirectory) => Path.GetFullPath(Path.Combine(runDirectory, relativeDirectory));

    /// <summary>
    /// Saves a checkpoint of trial <paramref name="trialNumber"/>: <paramref name="write"/> fills a temporary directory,
    /// Tunesmith adds its record, flushes every file to disk and renames the directory into place; then removes the
    /// trial's checkpoints other than this one and <paramref name="keep"/>. Returns the new directory relative to the run directory.
    /// </summary>
    public static async Task<string> SaveAsync(string runDirectory, int trialNumber, long step, IReadOnlyDictionary<string, object?> parameters,
        Func<string, CancellationToken, Task> write, string? keep, CancellationToken cancellationToken)
    {
        var trialDirectory = TrialDirectories.TrialDirectory(runDirectory, trialNumber);
        Directory.CreateDirectory(trialDirectory);
        var name = NewName(step);
        var temporary = Path.Combine(trialDirectory, $".partial-{name}");
        Directory.CreateDirectory(temporary);
        try
        {
            await write(temporary, cancellationToken).ConfigureAwait(false);
            if (File.Exists(Path.Combine(temporary, InfoFile)))
                throw new InvalidOperationException($"trial {trialNumber}: a checkpoint must not contain a file named {InfoFile} (Tunesmith's own)");
            await WriteInfoAsync(temporary, new Info(trialNumber, step, parameters), cancellationToken).ConfigureAwait(false);
            TrialDirectories.FlushTreeToDisk(temporary);
            Directory.Move(temporary, Path.Combine(trialDirectory, name));
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
        var relative = Relative(trialNumber, name);
        Prune(runDirectory, trialNumber, relative, keep);
        return relative;
    }

    /// <summary>
    /// Copies the checkpoint at <paramref name="sourceRelative"/> into a new checkpoint directory of trial
    /// <paramref name="targetTrialNumber"/> (atomically: a temporary directory renamed into place) and checks that the copy
    /// is the checkpoint <paramref name="expected"/> describes: its writer, step and params. Returns the copy's directory
    /// relative to the run directory, or null when the source's checkpoint is gone or is not that one any more (the
    /// source moved on: removed it, or saved another).
    /// </summary>
    public static async Task<string?> CopyAsync(string runDirectory, string sourceRelative, int targetTrialNumber, Info expected, string? keep,
        CancellationToken cancellationToken)
    {
        var source = Resolve(runDirectory, sourceRelative);
        var trialDirectory = TrialDirectories.TrialDirectory(runDirectory, targetTrialNumber);
        Directory.CreateDirectory(trialDirectory);
        var name = NewName(expected.Step);
        var target = Path.Combine(trialDirectory, name);
        try { await TrialDirectories.CopySnapshotAsync(source, target, cancellationToken).ConfigureAwait(false); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; } // removed while copied, or never here
        var info = await TryReadInfoAsync(target, cancellationToken).ConfigureAwait(false);
        if (info is null || info.TrialNumber != expected.TrialNumber || info.Step != expected.Step || !SameParams(info.Params, expected.Params))
        {
            TryDelete(target);
            return null;
        }
        var relative = Relative(targetTrialNumber, name);
        Prune(runDirectory, targetTrialNumber, relative, keep);
        return relative;
    }

    /// <summary>Reads a checkpoint's record; null when it is missing or unreadable.</summary>
    public static async Task<Info?> TryReadInfoAsync(string directory, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = File.OpenRead(Path.Combine(directory, InfoFile));
            using var doc = await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false);
            var root = doc.RootElement;
            var parameters = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var p in root.GetProperty("params").EnumerateObject()) parameters[p.Name] = ParamValues.FromJson(p.Value);
            return new Info(root.GetProperty("trial").GetInt32(), root.GetProperty("step").GetInt64(), parameters);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    private static async Task WriteInfoAsync(string directory, Info info, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("trial", info.TrialNumber);
            w.WriteNumber("step", info.Step);
            w.WriteStartObject("params");
            foreach (var (k, v) in info.Params)
            {
                w.WritePropertyName(k);
                ParamValues.WriteJson(w, v);
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        await File.WriteAllBytesAsync(Path.Combine(directory, InfoFile), buffer.ToArray(), cancellationToken).ConfigureAwait(false);
    }

    private static bool SameParams(IReadOnlyDictionary<string, object?> a, IReadOnlyDictionary<string, object?> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && ParamValues.AreEqual(kv.Value, v));

    private static string NewName(long step) =>
        $"{Prefix}{step.ToString(CultureInfo.InvariantCulture)}-{Guid.NewGuid().ToString("N")[..10]}";

    private static string Relative(int trialNumber, string name) =>
        string.Join('/', "trials", trialNumber.ToString(CultureInfo.InvariantCulture), name);

    // Every checkpoint of the trial but the new one and the one kept is renamed away, then deleted: a trial copying it
    // at that moment gets an error (and goes on without the exploit), never part of it.
    private static void Prune(string runDirectory, int trialNumber, string newRelative, string? keepRelative)
    {
        var trialDirectory = TrialDirectories.TrialDirectory(runDirectory, trialNumber);
        var keep = new HashSet<string>(StringComparer.Ordinal) { Resolve(runDirectory, newRelative) };
        if (keepRelative is not null) keep.Add(Resolve(runDirectory, keepRelative));
        foreach (var directory in Directory.EnumerateDirectories(trialDirectory, Prefix + "*").ToList())
        {
            if (keep.Contains(Path.GetFullPath(directory))) continue;
            var aside = Path.Combine(trialDirectory, $".removed-{Path.GetFileName(directory)}");
            try { Directory.Move(directory, aside); }
            catch (IOException) { continue; }
            TryDelete(aside);
        }
    }

    private static void TryDelete(string directory)
    {
        try { if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
