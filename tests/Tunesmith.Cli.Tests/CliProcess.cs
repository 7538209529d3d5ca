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
        // The machine's GPU ledger is shared by every tunesmith process, other tests' (and other people's) included: a test's
        // runs keep their fake GPUs in a ledger of their own working directory, shared only by the runs of that test.
        psi.Environment["TUNESMITH_GPU_LEDGER_DIR"] = Path.Combine(workDir, ".gpu-ledger");
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
            throw new TimeoutException($"tunesmith {string.Join(' ', args)} did not finish in {timeout ?? TimeSpan.FromMinutes(3)}; stderr so far: {await Drained(stderr)}");
        }
        return new CliResult(process.ExitCode, await Drained(stdout), await Drained(stderr));
    }

    /// <summary>
    /// The rest of an output stream once its process has exited. A process it left behind (a trial program outliving
    /// its runner) could hold the pipe open forever, so this waits a bounded time and then fails instead of hanging.
    /// </summary>
    public static async Task<string> Drained(Task<string> output)
    {
        try { return await output.WaitAsync(TimeSpan.FromSeconds(30)); }
        catch (TimeoutException) { throw new TimeoutException("the process exited but its output pipe stayed open 30 s: a process it started still holds it"); }
    }
}

/// <summary>
/// A CLI process a test drives while it runs (reads its output, signals or kills it). Dispose kills it with its whole
/// process tree if it is still running, so nothing a failed test started outlives the test.
/// </summary>
public sealed class CliBackground : IDisposable
{
    private readonly Process _process;

    private CliBackground(Process process)
    {
        _process = process;
        process.StandardInput.Close();
        Stderr = process.StandardError.ReadToEndAsync();
    }

    /// <summary>Starts <c>tunesmith ARGS</c> in <paramref name="workDir"/>.</summary>
    public static CliBackground Start(string workDir, IEnumerable<string> args, IReadOnlyDictionary<string, string?>? env = null) =>
        new(Process.Start(CliProcess.StartInfo(workDir, args, env))!);

    /// <summary>The process.</summary>
    public Process Process => _process;

    /// <summary>Everything it prints on stderr, complete when it exits.</summary>
    public Task<string> Stderr { get; }

    /// <summary>Its stdout, for the test to read line by line (or to drain with <see cref="StreamReader.ReadToEndAsync()"/>).</summary>
    public StreamReader Stdout => _process.StandardOutput;

    /// <summary>Sends a POSIX signal to the CLI process only (not to the trial programs it started).</summary>
    public void Signal(int signal) => StudyKit.Signal(_process, signal);

    /// <summary>Waits for the exit and returns the exit code; fails (and kills the tree) after <paramref name="timeout"/>.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try { await _process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException)
        {
            Dispose();
            throw new TimeoutException($"tunesmith did not exit within {timeout}");
        }
        return _process.ExitCode;
    }

    public void Dispose()
    {
        try { if (!_process.HasExited) _process.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { }
        catch (System.ComponentModel.Win32Exception) { }
        _process.Dispose();
    }
}

/// <summary>Waits on observable conditions (a file, a state in storage), always with a timeout.</summary>
public static class Eventually
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);

    /// <summary>Polls <paramref name="condition"/> until it holds; fails naming <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task HoldsAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            if (deadline.Elapsed > timeout) throw new TimeoutException($"timed out after {timeout} waiting for {what}");
            await Task.Delay(Poll);
        }
    }

    /// <summary>Polls a synchronous <paramref name="condition"/>; see <see cref="HoldsAsync(Func{Task{bool}}, TimeSpan, string)"/>.</summary>
    public static Task HoldsAsync(Func<bool> condition, TimeSpan timeout, string what) => HoldsAsync(() => Task.FromResult(condition()), timeout, what);
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
