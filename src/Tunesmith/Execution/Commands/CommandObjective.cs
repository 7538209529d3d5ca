using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tunesmith.Execution.Resources;
using Tunesmith.Spaces;

namespace Tunesmith.Execution.Commands;

/// <summary>
/// Runs one trial as an external program, speaking the black-box trial protocol: it draws the trial's configuration,
/// prepares the trial directory (params.json), starts the program from an argv array with the TUNESMITH_* environment,
/// keeps its stdout/stderr in the directory, feeds its <c>tunesmith:report</c> lines to the study's scheduler and reads
/// its result. Pass <see cref="RunAsync"/> to <see cref="Study.OptimizeAsync"/>, or use <see cref="CommandStudyRunner"/>.
/// </summary>
/// <remarks>
/// Outcomes: a result → Complete (every metric kept, the study's metric the objective); a non-zero exit, a crash, a
/// missing or NaN result, or the trial timeout → Failed with the tail of stderr (<see cref="TrialFailedException"/>);
/// the scheduler or <see cref="RequestStop"/> stopping it → its process tree stopped, Pruned; the token cancelled →
/// its process tree stopped, Failed "interrupted".
/// </remarks>
public sealed class CommandObjective
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

    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(5);
    private readonly CommandObjectiveOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<int, RunState> _running = new();

    /// <summary>Creates the objective; throws naming the option when the options are invalid.</summary>
    public CommandObjective(CommandObjectiveOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger<CommandObjective>();
    }

    /// <summary>The options.</summary>
    public CommandObjectiveOptions Options => _options;

    /// <summary>The numbers of the trials whose programs run now.</summary>
    public IReadOnlyCollection<int> RunningTrials => _running.Keys.ToArray();

    /// <summary>The directory of trial <paramref name="directoryNumber"/> under <paramref name="rootDirectory"/>: <c>root/trials/n</c>.</summary>
    public static string TrialDirectory(string rootDirectory, int directoryNumber) =>
        Path.GetFullPath(Path.Combine(rootDirectory, "trials", directoryNumber.ToString(CultureInfo.InvariantCulture)));

    /// <summary>The trial whose directory a trial uses: its first attempt's (system attribute <c>retry_of</c>), else its own.</summary>
    public static int DirectoryNumber(int trialNumber, IReadOnlyDictionary<string, object?> systemAttributes) =>
        systemAttributes.TryGetValue(SystemAttributeKeys.RetryOf, out var r) && ParamValues.TryToLong(r, out var root) ? (int)root : trialNumber;

    /// <summary>
    /// Stops a running trial on demand (SIGTERM to its whole process tree, the grace period, SIGKILL) and records it
    /// Pruned: the hook for early-stopping schedulers and "stop this trial" buttons. False when it is not running here.
    /// </summary>
    public bool RequestStop(int trialNumber)
    {
        if (!_running.TryGetValue(trialNumber, out var state)) return false;
        state.Prune();
        return true;
    }

    /// <summary>
    /// SIGKILLs every running trial's whole process tree at once, without a grace period: for a second Ctrl+C, or a host
    /// that must exit now. Trial programs run in sessions of their own, so they would otherwise outlive a killed runner.
    /// The trials are recorded as usual if the runner lives on (Failed "interrupted" when the run was cancelled).
    /// </summary>
    public void KillRunningTrees()
    {
        foreach (var state in _running.Values)
            state.Tree?.Kill();
    }

    /// <summary>Runs one trial's program to its outcome; the signature of <see cref="Study.OptimizeAsync"/>'s objective.</summary>
    public async Task<double> RunAsync(Trial trial, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(trial);
        var configuration = _options.Suggest?.Invoke(trial)
            ?? (_options.FixedParams.Count == 0 ? trial.Suggest(_options.Space!) : _options.Space!.Sample(new FixingSuggester(trial, _options.FixedParams)));
        var time = _options.TimeProvider;

        using var lease = _options.Resources is { } pool ? await pool.AcquireAsync(cancellationToken).ConfigureAwait(false) : null;

        var directoryNumber = DirectoryNumber(trial.Number, trial.SystemAttributes);
        var directory = TrialDirectory(_options.RootDirectory, directoryNumber);
        Directory.CreateDirectory(directory);
        ArchiveEarlierAttempt(directory);
        var paramsJson = ParamValues.ToJson(configuration);
        var paramsFile = Path.Combine(directory, ParamsFile);
        await File.WriteAllTextAsync(paramsFile, paramsJson + "\n", CancellationToken.None).ConfigureAwait(false);

        trial.SetSystemAttribute(CommandAttributeKeys.TrialDirectory, directory);
        if (lease?.CudaVisibleDevices is { } devices) trial.SetSystemAttribute(CommandAttributeKeys.Gpus, devices);
        await trial.FlushAsync(cancellationToken).ConfigureAwait(false);

        IReadOnlyList<string> argv;
        try { argv = _options.Command(configuration, trial.Number, directory); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw Fail(directory, trial, $"cannot render the command: {e.Message}", null, null);
        }
        if (argv.Count == 0 || string.IsNullOrWhiteSpace(argv[0])) throw Fail(directory, trial, "the command is empty", null, null);

        var workingDirectory = Path.GetFullPath(_options.WorkingDirectory ?? Environment.CurrentDirectory);
        var startInfo = new ProcessStartInfo
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = workingDirectory,
        };
        SetEnvironment(startInfo.Environment, trial, configuration, paramsJson, paramsFile, directory, lease);
        var program = ResolveProgram(argv[0], workingDirectory, startInfo.Environment.TryGetValue("PATH", out var p) ? p : null);
        if (program is null) throw Fail(directory, trial, $"cannot start '{argv[0]}': no such program (looked in the working directory {workingDirectory} and on PATH)", null, null);
        startInfo.FileName = program;
        foreach (var a in argv.Skip(1)) startInfo.ArgumentList.Add(a);

        using var timeout = _options.TrialTimeout is { } limit ? new CancellationTokenSource(limit, time) : new CancellationTokenSource();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var state = new RunState(stop, _options.StderrTailLines);
        var started = time.GetTimestamp();

        ProcessTree tree;
        try { tree = ProcessTree.Start(startInfo); }
        catch (Win32Exception e) { throw Fail(directory, trial, $"cannot start '{argv[0]}': {e.Message}", null, null); }
        using var _tree = tree;
        state.Tree = tree;
        _running[trial.Number] = state;
        _logger.LogInformation("Trial {Number} started: pid {Pid} in {Directory}", trial.Number, tree.RootId, directory);
        _options.Progress?.Report(new CommandTrialStarted(trial.Number, new Dictionary<string, object?>(configuration), directory,
            lease?.Gpus ?? [], directoryNumber == trial.Number ? null : directoryNumber, time.GetUtcNow()));

        try
        {
            tree.Process.StandardInput.Close(); // a trial reads no input: never let it wait on (or steal) the terminal
            using var readStop = new CancellationTokenSource();
            await using var stdoutLog = OpenLog(Path.Combine(directory, StdoutFile));
            await using var stderrLog = OpenLog(Path.Combine(directory, StderrFile));
            var stdoutPump = PumpStdoutAsync(tree.Process.StandardOutput, stdoutLog, trial, state, cancellationToken, readStop.Token);
            var stderrPump = PumpStderrAsync(tree.Process.StandardError, stderrLog, state, readStop.Token);

            var exited = true;
            try { await tree.Process.WaitForExitAsync(stop.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { exited = false; }
            if (!exited) _logger.LogInformation("Trial {Number}: stopping its process tree ({Why})", trial.Number,
                state.Pruned ? "pruned" : cancellationToken.IsCancellationRequested ? "interrupted" : "timed out");
            // Also when the program exited by itself: children it left behind must not outlive the trial (or hold its pipes).
            await tree.TerminateAsync(exited ? TimeSpan.FromSeconds(1) : _options.KillGrace, time).ConfigureAwait(false);
            await tree.Process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            var pumps = Task.WhenAll(stdoutPump, stderrPump);
            try { await pumps.WaitAsync(DrainLimit, time).ConfigureAwait(false); }
            catch (TimeoutException)
            {
                // A process that left the tree (its own session) still holds the pipes: stop reading, keep what we have.
                state.Closed = true;
                await readStop.CancelAsync().ConfigureAwait(false);
                _logger.LogWarning("Trial {Number}: its output pipes stayed open after its process tree ended; stopped reading", trial.Number);
            }
            state.Closed = true;

            var exitCode = tree.Process.ExitCode;
            if (exited && !state.Pruned && !cancellationToken.IsCancellationRequested && _options.StopSettle > TimeSpan.Zero
                && LooksStoppedFromOutside(exitCode, state, directory))
            {
                // Probably stopped with the whole job (scancel, a walltime limit): the runner's own signal is due any moment.
                try { await Task.Delay(_options.StopSettle, time, cancellationToken).ConfigureAwait(false); }
                catch (OperationCanceledException) { }
            }
            var seconds = time.GetElapsedTime(started).TotalSeconds;
            trial.SetSystemAttribute(CommandAttributeKeys.ExitCode, (long)exitCode);

            if (state.Pruned)
            {
                WriteOutcome(directory, trial, "Pruned", null, state.Result, exitCode, null, seconds);
                throw new TrialPrunedException(trial.Number, state.LastStep ?? 0);
            }
            // A program that died while the run was being cancelled was stopped, whatever its exit code says; so was one that
            // exited 0 without a result then (it saved a checkpoint on SIGTERM). One that finished with a result is kept.
            if (cancellationToken.IsCancellationRequested && (!exited || exitCode != 0 || !HasResult(state, directory)))
            {
                WriteOutcome(directory, trial, "Failed", null, state.Result, exitCode, Study.InterruptedReason, seconds);
                throw new OperationCanceledException(cancellationToken);
            }
            if (!exited)
                throw Fail(directory, trial, $"timed out after {FormatSpan(_options.TrialTimeout!.Value)}", state, exitCode, seconds);
            if (exitCode != 0)
            {
                KeepMetrics(trial, state.Result);
                var why = exitCode > 128 && exitCode < 128 + 65
                    ? $"exit code {exitCode} (killed by {ProcessTree.SignalName(exitCode - 128)})"
                    : $"exit code {exitCode}";
                throw Fail(directory, trial, why, state, exitCode, seconds);
            }
            return ReadResult(directory, trial, state, exitCode, seconds);
        }
        finally
        {
            _running.TryRemove(trial.Number, out _);
            if (!tree.Process.HasExited) await tree.TerminateAsync(TimeSpan.Zero, time).ConfigureAwait(false);
        }
    }

    // ---------------------------------------------------------------- outcome

    private double ReadResult(string directory, Trial trial, RunState state, int exitCode, double seconds)
    {
        var metric = trial.Study.Metric;
        IReadOnlyDictionary<string, double>? metrics = state.Result;
        var source = "its tunesmith:result line";
        if (metrics is null)
        {
            var file = Path.Combine(directory, ResultFile);
            if (File.Exists(file))
            {
                try { metrics = TrialProtocol.ParseMetrics(File.ReadAllText(file), ResultFile); source = ResultFile; }
                catch (FormatException e) { throw Fail(directory, trial, $"its {e.Message}", state, exitCode, seconds); }
            }
        }
        if (metrics is null && state.LastLine is { } last && TrialProtocol.TryParseBareNumber(last, out var bare))
        {
            metrics = new Dictionary<string, double> { [metric] = bare };
            source = "its last stdout line";
        }
        if (metrics is null)
        {
            var why = "no result: the program printed no 'tunesmith:result {...}' line, wrote no result.json in TUNESMITH_TRIAL_DIR, and its last stdout line is not a number";
            if (state.ProtocolError is { } error) why += $" (a protocol line was malformed: {error})";
            throw Fail(directory, trial, why, state, exitCode, seconds);
        }
        KeepMetrics(trial, metrics);
        if (!metrics.TryGetValue(metric, out var value))
            throw Fail(directory, trial, $"the result ({source}) has no metric '{metric}' (got: {string.Join(", ", metrics.Keys)})", state, exitCode, seconds);
        if (!double.IsFinite(value))
            throw Fail(directory, trial, $"the result's '{metric}' is {value.ToString(CultureInfo.InvariantCulture)}", state, exitCode, seconds);
        WriteOutcome(directory, trial, "Complete", value, metrics, exitCode, null, seconds);
        _logger.LogInformation("Trial {Number} complete: {Metric} = {Value}", trial.Number, metric, value);
        return value;
    }

    // What the result fallbacks of ReadResult would find, without judging it.
    private static bool HasResult(RunState state, string directory) =>
        state.Result is not null || File.Exists(Path.Combine(directory, ResultFile))
        || state.LastLine is { } last && TrialProtocol.TryParseBareNumber(last, out _);

    // Killed by SIGHUP (1), SIGINT (2) or SIGTERM (15) — signals an operator, a terminal or a batch system sends, never
    // Tunesmith when it did not stop the trial itself — or exited 0 without any result.
    private static bool LooksStoppedFromOutside(int exitCode, RunState state, string directory) =>
        exitCode is 128 + 1 or 128 + 2 or 128 + 15 || exitCode == 0 && !HasResult(state, directory);

    private static void KeepMetrics(Trial trial, IReadOnlyDictionary<string, double>? metrics)
    {
        if (metrics is null) return;
        foreach (var (k, v) in metrics) trial.SetMetric(k, v);
    }

    private TrialFailedException Fail(string directory, Trial trial, string why, RunState? state, int? exitCode, double? seconds = null)
    {
        var reason = why;
        if (state?.StderrTail(_options.StderrTailChars) is { Length: > 0 } tail)
            reason += $"\n--- last lines of {StderrFile} ---\n{tail}";
        WriteOutcome(directory, trial, "Failed", null, state?.Result, exitCode, reason, seconds);
        return new TrialFailedException(reason);
    }

    private void WriteOutcome(string directory, Trial trial, string outcome, double? value, IReadOnlyDictionary<string, double>? metrics,
        int? exitCode, string? reason, double? seconds)
    {
        try
        {
            using var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            {
                w.WriteStartObject();
                w.WriteNumber("trial", trial.Number);
                w.WriteString("state", outcome);
                w.WriteString("metric", trial.Study.Metric);
                if (value is { } v) w.WriteNumber("value", v);
                else w.WriteNull("value");
                w.WriteStartObject("metrics");
                foreach (var (k, m) in metrics ?? new Dictionary<string, double>())
                {
                    w.WritePropertyName(k);
                    if (double.IsFinite(m)) w.WriteNumberValue(m);
                    else w.WriteStringValue(m.ToString(CultureInfo.InvariantCulture));
                }
                w.WriteEndObject();
                if (exitCode is { } c) w.WriteNumber("exit_code", c);
                if (reason is not null) w.WriteString("reason", reason);
                if (seconds is { } s) w.WriteNumber("duration_seconds", Math.Round(s, 3));
                w.WriteEndObject();
            }
            File.WriteAllBytes(Path.Combine(directory, ResultFile), buffer.ToArray());
        }
        catch (IOException e)
        {
            _logger.LogWarning("Trial {Number}: could not write {File}: {Message}", trial.Number, ResultFile, e.Message);
        }
    }

    // ---------------------------------------------------------------- streams

    private async Task PumpStdoutAsync(StreamReader reader, StreamWriter log, Trial trial, RunState state, CancellationToken cancellationToken, CancellationToken readStop)
    {
        try
        {
            while (await reader.ReadLineAsync(readStop).ConfigureAwait(false) is { } line)
            {
                await log.WriteLineAsync(line.AsMemory(), CancellationToken.None).ConfigureAwait(false);
                if (line.AsSpan().Trim().Length > 0) state.LastLine = line;
                ProtocolMessage? message;
                try { message = TrialProtocol.ParseLine(line); }
                catch (FormatException e)
                {
                    state.ProtocolError = e.Message;
                    _logger.LogWarning("Trial {Number}: {Message}", trial.Number, e.Message);
                    continue;
                }
                if (message is null) continue;
                if (message.Kind == ProtocolMessageKind.Result)
                {
                    state.Result = message.Metrics;
                    continue;
                }
                var step = message.Step ?? (state.LastStep ?? -1) + 1;
                state.LastStep = step;
                _options.Progress?.Report(new CommandTrialReported(trial.Number, step, message.Metrics));
                if (state.Pruned || state.Closed || state.Stop.IsCancellationRequested) continue;
                await ReportAsync(trial, state, step, message.Metrics, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (readStop.IsCancellationRequested || cancellationToken.IsCancellationRequested) { }
    }

    private async Task ReportAsync(Trial trial, RunState state, long step, IReadOnlyDictionary<string, double> metrics, CancellationToken ct)
    {
        trial.SetSystemAttribute(CommandAttributeKeys.LastReport, ReportJson(step, metrics));
        try
        {
            if (metrics.TryGetValue(trial.Study.Metric, out var value) && double.IsFinite(value))
                await trial.ReportAsync(step, value, ct).ConfigureAwait(false);
            else
                await trial.FlushAsync(ct).ConfigureAwait(false);
        }
        catch (TrialPrunedException)
        {
            _logger.LogInformation("Trial {Number} pruned by the scheduler at step {Step}", trial.Number, step);
            state.Prune();
        }
        catch (TrialWriteRefusedException e)
        {
            // The trial is no longer ours (failed as stale by another worker): its program has nothing left to report to.
            _logger.LogWarning("Trial {Number}: {Message}; stopping it", trial.Number, e.Message);
            state.Prune();
        }
    }

    private static string ReportJson(long step, IReadOnlyDictionary<string, double> metrics)
    {
        var values = new List<KeyValuePair<string, object?>> { new("step", step) };
        values.AddRange(metrics.Select(kv => new KeyValuePair<string, object?>(kv.Key, kv.Value)));
        return ParamValues.ToJson(values);
    }

    private static async Task PumpStderrAsync(StreamReader reader, StreamWriter log, RunState state, CancellationToken readStop)
    {
        try
        {
            while (await reader.ReadLineAsync(readStop).ConfigureAwait(false) is { } line)
            {
                await log.WriteLineAsync(line.AsMemory(), CancellationToken.None).ConfigureAwait(false);
                state.AddStderr(line);
            }
        }
        catch (OperationCanceledException) when (readStop.IsCancellationRequested) { }
    }

    private static StreamWriter OpenLog(string path) =>
        new(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete), new UTF8Encoding(false)) { AutoFlush = true };

    // ---------------------------------------------------------------- set-up

    private void SetEnvironment(IDictionary<string, string?> env, Trial trial, Configuration configuration, string paramsJson,
        string paramsFile, string directory, ResourceLease? lease)
    {
        // Python buffers a piped stdout: reports would arrive only at exit, too late for the scheduler to stop the trial.
        if (!env.ContainsKey("PYTHONUNBUFFERED")) env["PYTHONUNBUFFERED"] = "1";
        foreach (var (k, v) in _options.Environment) env[k] = v;
        env["TUNESMITH_STUDY"] = trial.Study.Name;
        env["TUNESMITH_TRIAL_ID"] = trial.Id.ToString(CultureInfo.InvariantCulture);
        env["TUNESMITH_TRIAL_NUMBER"] = trial.Number.ToString(CultureInfo.InvariantCulture);
        env["TUNESMITH_PARAMS"] = paramsJson;
        env["TUNESMITH_PARAMS_FILE"] = paramsFile;
        env["TUNESMITH_TRIAL_DIR"] = directory;
        foreach (var (name, value) in configuration)
            env[ParamVariableName(name)] = value is null ? "" : ParamValues.Format(value);
        if (lease?.CudaVisibleDevices is { } devices) env["CUDA_VISIBLE_DEVICES"] = devices;
    }

    /// <summary>The environment variable that carries a parameter: <c>TUNESMITH_PARAM_</c> + its name upper-cased, other characters than letters and digits as <c>_</c>.</summary>
    public static string ParamVariableName(string name)
    {
        var sb = new StringBuilder("TUNESMITH_PARAM_", 16 + name.Length);
        foreach (var c in name) sb.Append(char.IsAsciiLetterOrDigit(c) ? char.ToUpperInvariant(c) : '_');
        return sb.ToString();
    }

    private static string? ResolveProgram(string program, string workingDirectory, string? path)
    {
        if (OperatingSystem.IsWindows()) return program;
        if (program.Contains('/'))
        {
            var full = Path.GetFullPath(program, workingDirectory);
            return File.Exists(full) ? full : null;
        }
        foreach (var dir in (path ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(Path.GetFullPath(dir, workingDirectory), program);
            if (File.Exists(candidate) && (File.GetUnixFileMode(candidate) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0)
                return candidate;
        }
        return null;
    }

    // A retry runs in its first attempt's directory (to resume from its checkpoints): the earlier attempt's logs and
    // outcome move to attempts/<k>/ so nothing is lost and an old result.json is never read as this attempt's result.
    private static void ArchiveEarlierAttempt(string directory)
    {
        string[] files = [StdoutFile, StderrFile, ResultFile, ParamsFile];
        if (!files.Any(f => File.Exists(Path.Combine(directory, f)))) return;
        var k = 0;
        string target;
        while (Directory.Exists(target = Path.Combine(directory, AttemptsFolder, k.ToString(CultureInfo.InvariantCulture)))) k++;
        Directory.CreateDirectory(target);
        foreach (var f in files)
        {
            var source = Path.Combine(directory, f);
            if (File.Exists(source)) File.Move(source, Path.Combine(target, f));
        }
    }

    private static string FormatSpan(TimeSpan t) =>
        t.TotalSeconds < 120 ? $"{t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s"
        : t.TotalHours < 2 ? $"{t.TotalMinutes.ToString("0.##", CultureInfo.InvariantCulture)} min"
        : $"{t.TotalHours.ToString("0.##", CultureInfo.InvariantCulture)} h";

    /// <summary>Walks a space for a trial, taking the fixed values instead of drawing them.</summary>
    private sealed class FixingSuggester(Trial trial, IReadOnlyDictionary<string, object?> fixedParams) : IParameterSuggester
    {
        public object? Suggest(string name, Distribution distribution)
        {
            if (!fixedParams.TryGetValue(name, out var value)) return trial.Suggest(name, distribution);
            var coerced = distribution.Coerce(name, value);
            trial.SetDerived(name, coerced);
            return coerced;
        }

        public void SetDerived(string name, object? value) => trial.SetDerived(name, value);
    }

    /// <summary>What the stream readers learn while a trial's program runs.</summary>
    private sealed class RunState(CancellationTokenSource stop, int tailLines)
    {
        private readonly Queue<string> _stderrTail = new();
        private volatile bool _pruned;

        public CancellationTokenSource Stop { get; } = stop;
        public bool Pruned => _pruned;
        public volatile bool Closed;
        public IReadOnlyDictionary<string, double>? Result;
        public ProcessTree? Tree;
        public string? LastLine;
        public string? ProtocolError;
        public long? LastStep;

        public void Prune()
        {
            _pruned = true;
            try { Stop.Cancel(); }
            catch (ObjectDisposedException) { } // the trial already finished
        }

        public void AddStderr(string line)
        {
            lock (_stderrTail)
            {
                if (tailLines == 0) return;
                _stderrTail.Enqueue(line);
                while (_stderrTail.Count > tailLines) _stderrTail.Dequeue();
            }
        }

        public string StderrTail(int maxChars)
        {
            string text;
            lock (_stderrTail) text = string.Join("\n", _stderrTail);
            return text.Length <= maxChars ? text : "..." + text[^Math.Max(0, maxChars - 3)..];
        }
    }
}
