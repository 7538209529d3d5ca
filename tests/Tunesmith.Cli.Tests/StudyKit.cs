using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Tunesmith.Cli.Tests;

/// <summary>A temporary study folder: a study file, small Python programs written by the test, and an SQLite storage.</summary>
public sealed class StudyKit : IDisposable
{
    private readonly TempDir _dir = new();

    public string Dir => _dir.Path;
    public string Storage => _dir.Storage;

    public string Write(string name, string text) => _dir.Write(name, text);

    /// <summary>Writes study.yaml with the given body (name, storage and sampler filled in unless given).</summary>
    public string StudyFile(string body, string name = "s")
    {
        var text = $"name: {name}\n" + (body.Contains("sampler:") ? "" : "sampler: { random: { seed: 3 } }\n") + body;
        return Write("study.yaml", text);
    }

    /// <summary>
    /// The run directory of study <paramref name="study"/> (<c>runs/&lt;name&gt;-&lt;hash&gt;</c>) once it exists; until then
    /// a path that does not exist, so a test polling for a file in it keeps polling.
    /// </summary>
    public string RunDir(string study = "s") => RunDirIn(Dir, study);

    /// <summary>The run directory of <paramref name="study"/> under <paramref name="folder"/>/runs (see <see cref="RunDir"/>).</summary>
    public static string RunDirIn(string folder, string study)
    {
        var runs = Path.Combine(folder, "runs");
        var found = Directory.Exists(runs) ? Directory.GetDirectories(runs, study + "-??????????") : [];
        return found.Length == 1 ? found[0] : Path.Combine(runs, study + "-(not yet created)");
    }

    public Task<CliResult> Cli(params string[] args) => CliProcess.RunAsync(Dir, args);

    /// <summary>Runs the CLI with --storage pointing at the kit's database (appended).</summary>
    public Task<CliResult> CliS(params string[] args) => CliProcess.RunAsync(Dir, [.. args, "--storage", Storage]);

    /// <summary>The study's trials as `report --format json` lists them (best first).</summary>
    public async Task<List<JsonElement>> TrialsAsync(string study = "s")
    {
        var r = await CliS("report", "--study", study, "--format", "json");
        Assert.True(r.ExitCode == 0, r.ToString());
        using var doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement.GetProperty("trials").EnumerateArray().Select(e => e.Clone()).ToList();
    }

    public void Dispose() => _dir.Dispose();

    /// <summary>The python3 that runs test programs (the standard library is all they need).</summary>
    public const string Python = "python3";

    /// <summary>Sends a POSIX signal to a process (Process.Kill only sends SIGKILL).</summary>
    public static void Signal(Process process, int signal)
    {
        if (Kill(process.Id, signal) != 0) throw new InvalidOperationException($"kill({process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    /// <summary>The repository root (where Tunesmith.sln is), found from the test assembly's folder.</summary>
    public static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Tunesmith.sln"))) return d.FullName;
        throw new InvalidOperationException("cannot find the repository root above " + AppContext.BaseDirectory);
    }
}
