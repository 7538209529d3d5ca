using System.Diagnostics;
using System.Text;

namespace Tunesmith.Cli.Tests;

/// <summary>The result of one CLI run: exit code, stdout and stderr.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

/// <summary>Starts the real <c>tunesmith</c> CLI (the built Tunesmith.Cli.dll) as a process, in a working directory.</summary>
public sealed class CliProcess
{
    /// <summary>The CLI assembly built beside the tests by the ProjectReference.</summary>
    public static string CliDll { get; } = Path.Combine(AppContext.BaseDirectory, "Tunesmith.Cli.dll");

    /// <summary>Creates the process start info for <paramref name="args"/> in <paramref name="workDir"/>.</summary>
    public static ProcessStartInfo StartInfo(string workDir, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? env = null)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(CliDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("TUNESMITH_STORAGE");
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (k, v) in env ?? new Dictionary<string, string?>()) psi.Environment[k] = v;
        return psi;
    }

    /// <summary>Runs the CLI to completion (killing it after <paramref name="timeout"/>) and returns what it printed.</summary>
    public static async Task<CliResult> RunAsync(string workDir, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? env = null, TimeSpan? timeout = null)
    {
        using var process = Process.Start(StartInfo(workDir, args, env))!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(3));
        try { await process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"tunesmith {string.Join(' ', args)} did not finish in {timeout ?? TimeSpan.FromMinutes(3)}; stderr so far: {await stderr}");
        }
        return new CliResult(process.ExitCode, await stdout, await stderr);
    }
}

/// <summary>A temporary directory deleted at the end of a test.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "tunesmith-cli-" + Guid.NewGuid().ToString("N")[..10]);

    public string Write(string name, string text)
    {
        var full = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        File.WriteAllText(full, text, new UTF8Encoding(false));
        return full;
    }

    public string Storage => $"sqlite:///{System.IO.Path.Combine(Path, "t.db")}";

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
