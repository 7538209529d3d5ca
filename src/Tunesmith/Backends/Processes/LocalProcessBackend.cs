using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tunesmith.Backends.Resources;
using Tunesmith.Spaces;

namespace Tunesmith.Backends.Processes;

/// <summary>
/// Runs each trial as a program on this machine, speaking the black-box trial protocol: it takes a slot of the GPU/CPU
/// pool, prepares the trial directory (params.json; earlier attempts' files moved to <c>attempts/k/</c>), starts the
/// program from an argv array with the TUNESMITH_* environment in a process tree of its own, keeps its stdout/stderr in
/// the directory, passes its <c>tunesmith:report</c> lines to the observer and reads its result.
/// </summary>
/// <remarks>
/// Stop and pause both send SIGTERM to the whole tree, wait the kill grace, then SIGKILL; a paused trial is expected to
/// save a checkpoint in <c>TUNESMITH_TRIAL_DIR</c> on SIGTERM and exit, and starts again in the same directory with
/// <c>TUNESMITH_RESUME_STEP</c> set to the last step it reported. Outcomes: a result (a <c>tunesmith:result</c> line,
/// else a result.json it wrote, else a bare number as its last stdout line) → Finished; a non-zero exit, a crash, a
/// missing or non-finite result, or the trial timeout → Failed with the tail of stderr.
/// </remarks>
public sealed class LocalProcessBackend : ITrialBackend
{
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(5);
    private readonly LocalProcessBackendOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<int, RunState> _running = new();
    private readonly ConcurrentDictionary<int, (TrialStartRequest Request, long? LastStep)> _paused = new();

    /// <summary>Creates the backend; throws naming the option when the options are invalid.</summary>
    public LocalProcessBackend(LocalProcessBackendOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger<LocalProcessBackend>();
    }

    /// <summary>The options.</summary>
    public LocalProcessBackendOptions Options => _options;

    /// <inheritdoc />
    public TrialBackendCapabilities Capabilities =>
        TrialBackendCapabilities.Pause | TrialBackendCapabilities.Resume | TrialBackendCapabilities.Checkpoints;

    /// <summary>The numbers of the trials whose programs run now.</summary>
    public IReadOnlyCollection<int> RunningTrials => _running.Keys.ToArray();

    /// <summary>The numbers of the paused trials that <see cref="ResumeAsync"/> can start again.</summary>
    public IReadOnlyCollection<int> PausedTrials => _paused.Keys.ToArray();

    /// <summary>The directory trial <paramref name="directoryNumber"/> runs in.</summary>
    public string TrialDirectory(int directoryNumber) => TrialDirectories.TrialDirectory(_options.RootDirectory, directoryNumber);

    /// <inheritdoc />
    public Task<TrialExecution> StartAsync(TrialStartRequest request, ITrialObserver observer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(observer);
        _paused.TryRemove(request.TrialNumber, out _); // resumed through a new start (e.g. by its study, from storage)
        return LaunchAsync(request, observer, request.ResumeAfterStep, cancellationToken);
    }

    /// <inheritdoc />
    public Task<TrialExecution> ResumeAsync(int trialNumber, ITrialObserver observer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(observer);
        if (!_paused.TryRemove(trialNumber, out var paused))
            throw new InvalidOperationException($"trial {trialNumber} is not paused here");
        // A lease its runner held for the first start is the runner's, given back by now: the resumption takes its own.
        return LaunchAsync(paused.Request with { CheckpointFrom = null, ResumeAfterStep = null, Held = null }, observer, paused.LastStep ?? -1, cancellationToken);
    }

    /// <inheritdoc />
    public Task<bool> StopAsync(int trialNumber, CancellationToken cancellationToken = default) =>
        Task.FromResult(RequestStop(trialNumber));

    /// <summary>Asks a running trial to stop now (synchronous: for callbacks that cannot await); false when it is not running here.</summary>
    public bool RequestStop(int trialNumber)
    {
        if (!_running.TryGetValue(trialNumber, out var state)) return false;
        state.RequestEnd(TrialExitKind.Stopped);
        return true;
    }

    /// <inheritdoc />
    public Task<bool> PauseAsync(int trialNumber, CancellationToken cancellationToken = default)
    {
        if (!_running.TryGetValue(trialNumber, out var state)) return Task.FromResult(false);
        state.RequestEnd(TrialExitKind.Paused);
        return Task.FromResult(true);
    }

    /// <inheritdoc />
    public async Task CopyCheckpointAsync(int fromTrialNumber, int toTrialNumber, CancellationToken cancellationToken = default)
    {
        if (_running.ContainsKey(toTrialNumber))
            throw new InvalidOperationException($"trial {toTrialNumber} is running: its checkpoint cannot be replaced under it");
        await TrialDirectories.CopyCheckpointAsync(TrialDirectory(fromTrialNumber), TrialDirectory(toTrialNumber), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// SIGKILLs every running trial's whole process tree at once, without a grace period: for a second Ctrl+C, or a host
    /// that must exit now. Trial programs run in sessions of their own, so they would otherwise outlive a killed runner.
    /// </summary>
    public void KillRunningTrees()
    {
        foreach (var state in _running.Values)
            state.Tree?.Kill();
    }

    /// <summary>Stops every running trial (their executions end Stopped) and waits for them.</summary>
    public async ValueTask DisposeAsync()
    {
        var running = _running.Values.ToArray();
        foreach (var state in running) state.RequestEnd(TrialExitKind.Stopped);
        foreach (var state in running)
            if (state.Completion is { } done)
                try { await done.ConfigureAwait(false); }
                catch (Exception e) when (e is not OutOfMemoryException) { } // an observer's fault is its starter's to see
    }

    // ---------------------------------------------------------------- start

    private async Task<TrialExecution> LaunchAsync(TrialStartRequest request, ITrialObserver observer, long? resumeStep, CancellationToken cancellationToken)
    {
        var time = _options.TimeProvider;
        var holder = $"study '{request.StudyName}' trial {request.TrialNumber}";
        // Taken by the runner before it started the trial (see OptimizeOptions.HoldBeforeStart): used here, given back by the runner.
        var lease = request.Held is { } held && _options.Resources is { } own && held.IsOf(own) ? held.Borrow(holder)
            : _options.Resources is { } pool ? await pool.AcquireAsync(holder, cancellationToken).ConfigureAwait(false) : null;
        var started = time.GetTimestamp();
        var number = request.TrialNumber;
        var directory = TrialDirectory(request.EffectiveDirectoryNumber);
        var gpus = lease?.Gpus ?? [];
        var attributes = new Dictionary<string, object?>(StringComparer.Ordinal) { [TrialDirectoryAttribute] = directory };
        if (lease?.CudaVisibleDevices is { } devices) attributes[GpusAttribute] = devices;
        ProcessTree? tree = null;
        TrialExecution Failed(string why)
        {
            lease?.Dispose();
            var exit = new TrialExit(TrialExitKind.Failed, null, why, null, null, time.GetElapsedTime(started));
            return new TrialExecution(number, directory, gpus, resumeStep, Task.FromResult(exit), attributes);
        }
        try
        {
            if (request.CheckpointFrom is { } from)
            {
                // With the record of what it holds, so that a retry after a crash here knows whether the copy landed.
                var record = TrialDirectories.RestoreRecord(from, request.ResumeAfterStep ?? -1);
                try { await TrialDirectories.CopyCheckpointAsync(TrialDirectory(from), directory, record, cancellationToken).ConfigureAwait(false); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    return Failed($"cannot copy the checkpoint of trial {from}: {e.Message}");
                }
            }
            var configuration = request.Params as Configuration ?? new Configuration(request.Params);
            var paramsJson = ParamValues.ToJson(configuration);
            var paramsFile = Path.Combine(directory, TrialDirectories.ParamsFile);
            try
            {
                // Only the user may read a trial's directory (its params, logs and checkpoints): 0700, as the umask allows.
                if (OperatingSystem.IsWindows()) Directory.CreateDirectory(directory);
                else Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                ArchiveEarlierAttempt(directory);
                await File.WriteAllTextAsync(paramsFile, paramsJson + "\n", CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A full disk, a quota, a read-only filesystem: not this trial's fault, and the next trial would meet it too.
                throw TrialDirectoryException.From(number, directory, e);
            }

            IReadOnlyList<string> argv;
            try { argv = _options.Command(configuration, number, directory); }
            catch (Exception e) when (e is not OperationCanceledException) { return Failed($"cannot render the command: {e.Message}"); }
            if (argv.Count == 0 || string.IsNullOrWhiteSpace(argv[0])) return Failed("the command is empty");

            var workingDirectory = Path.GetFullPath(_options.WorkingDirectory ?? System.Environment.CurrentDirectory);
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
            SetEnvironment(startInfo.Environment, request, configuration, paramsJson, paramsFile, directory, lease, resumeStep);
            var program = ResolveProgram(argv[0], workingDirectory, startInfo.Environment.TryGetValue("PATH", out var p) ? p : null);
            if (program is null) return Failed($"cannot start '{argv[0]}': no such program (looked in the working directory {workingDirectory} and on PATH)");
            startInfo.FileName = program;
            foreach (var a in argv.Skip(1)) startInfo.ArgumentList.Add(a);

            var state = new RunState(_options.StderrTailLines, cancellationToken, _options.TrialTimeout, time) { LastStep = resumeStep is >= 0 ? resumeStep : null };
            try
            {
                // Opened before the program starts, so a directory that cannot take them stops the run before anything runs.
                state.StdoutLog = TrialLog.Open(Path.Combine(directory, TrialDirectories.StdoutFile));
                state.StderrLog = TrialLog.Open(Path.Combine(directory, TrialDirectories.StderrFile));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                state.Dispose();
                throw TrialDirectoryException.From(number, directory, e);
            }
            try { tree = ProcessTree.Start(startInfo); }
            catch (Win32Exception e)
            {
                state.Dispose();
                return Failed($"cannot start '{argv[0]}': {e.Message}");
            }
            state.Tree = tree;
            _running[number] = state;
            _logger.LogInformation("Trial {Number} started: pid {Pid} in {Directory}", number, tree.RootId, directory);
            if (tree.RootStartTime is { } rootStart)
            {
                // So that a later run or worker on this machine can kill what is left of the program's session if this runner dies.
                attributes[SystemAttributeKeys.ProcessId] = (long)tree.RootId;
                attributes[SystemAttributeKeys.ProcessStart] = (long)rootStart;
            }
            var completion = new TaskCompletionSource<TrialExit>(TaskCreationOptions.RunContinuationsAsynchronously);
            var execution = new TrialExecution(number, directory, gpus, resumeStep, completion.Task, attributes);
            try { await observer.StartedAsync(execution, cancellationToken).ConfigureAwait(false); }
            catch
            {
                _running.TryRemove(number, out _);
                await tree.TerminateAsync(TimeSpan.Zero, time).ConfigureAwait(false);
                tree.Dispose();
                state.Dispose();
                throw;
            }
            var owned = tree;
            var ownedLease = lease;
            tree = null;
            lease = null;
            state.Completion = completion.Task;
            _ = Task.Run(async () =>
            {
                try { completion.SetResult(await MonitorAsync(request, owned, ownedLease, state, observer, directory, started, cancellationToken).ConfigureAwait(false)); }
                catch (Exception e) { completion.SetException(e); }
            }, CancellationToken.None);
            return execution;
        }
        finally
        {
            lease?.Dispose();
            tree?.Dispose();
        }
    }

    // ---------------------------------------------------------------- run

    private async Task<TrialExit> MonitorAsync(TrialStartRequest request, ProcessTree tree, ResourceLease? lease, RunState state,
        ITrialObserver observer, string directory, long started, CancellationToken cancellationToken)
    {
        var time = _options.TimeProvider;
        var number = request.TrialNumber;
        using var _lease = lease;
        using var _tree = tree;
        using var _state = state;
        try
        {
            tree.Process.StandardInput.Close(); // a trial reads no input: never let it wait on (or steal) the terminal
            using var readStop = new CancellationTokenSource();
            var stdoutLog = state.StdoutLog!;
            var stderrLog = state.StderrLog!;
            var stdoutPump = PumpStdoutAsync(tree.Process.StandardOutput, stdoutLog, number, state, observer, cancellationToken, readStop.Token);
            var stderrPump = PumpStderrAsync(tree.Process.StandardError, stderrLog, number, state, readStop.Token);

            var exited = true;
            try { await tree.Process.WaitForExitAsync(state.Stop.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { exited = false; }
            if (!exited) _logger.LogInformation("Trial {Number}: stopping its process tree ({Why})", number,
                state.EndRequested switch
                {
                    TrialExitKind.Stopped => "stopped",
                    TrialExitKind.Paused => "paused",
                    _ => cancellationToken.IsCancellationRequested ? "interrupted" : "timed out",
                });
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
                _logger.LogWarning("Trial {Number}: its output pipes stayed open after its process tree ended; stopped reading", number);
            }
            state.Closed = true;
            await pumps.ConfigureAwait(false);
            // An observer's exception surfaces here, after the tree is gone.
            if (state.ObserverFault is { } observerFault) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(observerFault);

            var exitCode = tree.Process.ExitCode;
            if (exited && state.EndRequested is null && !cancellationToken.IsCancellationRequested && _options.StopSettle > TimeSpan.Zero
                && LooksStoppedFromOutside(exitCode, state, directory))
            {
                // Probably stopped with the whole job (scancel, a walltime limit): the runner's own signal is due any moment.
                try { await Task.Delay(_options.StopSettle, time, cancellationToken).ConfigureAwait(false); }
                catch (OperationCanceledException) { }
            }
            var duration = time.GetElapsedTime(started);
            TrialExit Exit(TrialExitKind kind, IReadOnlyDictionary<string, double>? result, string? reason) =>
                new(kind, result, reason, state.LastStep, exitCode, duration, state.StderrTail(_options.StderrTailChars) is { Length: > 0 } t ? t : null);
            TrialExit Fail(string why, IReadOnlyDictionary<string, double>? result)
            {
                // A program that failed while its directory could not take its own logs most likely failed of the same
                // full disk (an OSError writing its checkpoint): not its fault, and the next trial would meet it too.
                if ((state.StdoutLog?.Fault ?? state.StderrLog?.Fault) is { } full)
                    throw new TrialDirectoryException(number, directory,
                        $"cannot write trial {number}'s directory {directory}: {full.Message.Split('\n', 2)[0].Trim()}; its program failed meanwhile ({why})", full);
                // Likewise a directory removed under it (runs/ deleted by hand mid-run): its checkpoint went with it.
                if (!Directory.Exists(directory))
                    throw new TrialDirectoryException(number, directory,
                        $"trial {number}'s directory {directory} was removed while it ran; its program failed meanwhile ({why})");
                return Exit(TrialExitKind.Failed, result, state.StderrTail(_options.StderrTailChars) is { Length: > 0 } tail
                    ? $"{why}\n--- last lines of {TrialDirectories.StderrFile} ---\n{tail}" : why);
            }

            if (state.EndRequested == TrialExitKind.Stopped) return Exit(TrialExitKind.Stopped, state.Result, null);
            if (state.EndRequested == TrialExitKind.Paused)
            {
                // A program that printed its result before the pause took effect is finished, not paused, whether it then
                // exited by itself or our signal reached it first (a fast program can run from the rung to its end).
                if (state.Result is not null) return ReadResult(directory, state, Exit, Fail);
                _paused[number] = (request, state.LastStep);
                return Exit(TrialExitKind.Paused, state.Result, null);
            }
            // A program that died while the run was being cancelled was stopped, whatever its exit code says; so was one that
            // exited 0 without a result then (it saved a checkpoint on SIGTERM). One that finished with a result is kept.
            if (cancellationToken.IsCancellationRequested && (!exited || exitCode != 0 || !HasResult(state, directory)))
                return Exit(TrialExitKind.Interrupted, state.Result, null);
            if (!exited) return Fail($"timed out after {FormatSpan(_options.TrialTimeout!.Value)}", state.Result);
            if (exitCode != 0)
            {
                var why = exitCode > 128 && exitCode < 128 + 65
                    ? $"exit code {exitCode} (killed by {ProcessTree.SignalName(exitCode - 128)})"
                    : $"exit code {exitCode}";
                return Fail(why, state.Result);
            }
            return ReadResult(directory, state, Exit, Fail);
        }
        finally
        {
            _running.TryRemove(number, out _);
            if (!tree.Process.HasExited) await tree.TerminateAsync(TimeSpan.Zero, time).ConfigureAwait(false);
        }
    }

    private TrialExit ReadResult(string directory, RunState state, Func<TrialExitKind, IReadOnlyDictionary<string, double>?, string?, TrialExit> exit,
        Func<string, IReadOnlyDictionary<string, double>?, TrialExit> fail)
    {
        var metric = _options.Metric;
        IReadOnlyDictionary<string, double>? metrics = state.Result;
        var source = "its tunesmith:result line";
        if (metrics is null)
        {
            var file = Path.Combine(directory, TrialDirectories.ResultFile);
            if (File.Exists(file))
            {
                try { metrics = TrialProtocol.ParseMetrics(File.ReadAllText(file), TrialDirectories.ResultFile); source = TrialDirectories.ResultFile; }
                catch (FormatException e) { return fail($"its {e.Message}", null); }
            }
        }
        if (metrics is null && _options.StdoutMetrics is { } format && (format.Result == StdoutMetricsResult.Best ? state.BestMetricsLine ?? state.LastMetricsLine : state.LastMetricsLine) is { } line)
        {
            metrics = line;
            source = $"its {StdoutMetrics.Describe(format.Result)} line of metrics";
        }
        if (metrics is null && metric is not null && state.LastLine is { } last && TrialProtocol.TryParseBareNumber(last, out var bare))
        {
            metrics = new Dictionary<string, double> { [metric] = bare };
            source = "its last stdout line";
        }
        if (metrics is null)
        {
            var why = "no result: the program printed no 'tunesmith:result {...}' line, wrote no result.json in TUNESMITH_TRIAL_DIR, and its last stdout line is not a number";
            if (_options.StdoutMetrics is not null)
                why = $"no result: the program printed no line with {metric ?? "a metric"}=<number> (the study file's metrics: section), no 'tunesmith:result {{...}}' line, wrote no result.json in TUNESMITH_TRIAL_DIR, and its last stdout line is not a number";
            if (state.ProtocolError is { } error) why += $" (a protocol line was malformed: {error})";
            // A program written for Ray Tune ends with its last train.report, which is its result there: say what is missing.
            if (state.LastStep is { } step && _options.StdoutMetrics is null)
                why += string.Create(CultureInfo.InvariantCulture,
                    $"; its tunesmith:report lines (the last at step {step}) are intermediate values, not the result: end with tunesmith:result {{\"{metric ?? "value"}\": ...}}");
            return fail(why, null);
        }
        if (metric is null) return exit(TrialExitKind.Finished, metrics, null);
        if (!metrics.TryGetValue(metric, out var value))
            return fail($"the result ({source}) has no metric '{metric}' (got: {string.Join(", ", metrics.Keys)})", metrics);
        if (!double.IsFinite(value))
            return fail($"the result's '{metric}' is {value.ToString(CultureInfo.InvariantCulture)}", metrics);
        return exit(TrialExitKind.Finished, metrics, null);
    }

    // What the result fallbacks of ReadResult would find, without judging it.
    private static bool HasResult(RunState state, string directory) =>
        state.Result is not null || state.LastMetricsLine is not null || File.Exists(Path.Combine(directory, TrialDirectories.ResultFile))
        || state.LastLine is { } last && TrialProtocol.TryParseBareNumber(last, out _);

    // Killed by SIGHUP (1), SIGINT (2) or SIGTERM (15) — signals an operator, a terminal or a batch system sends, never
    // Tunesmith when it did not stop the trial itself — or exited 0 without any result.
    private static bool LooksStoppedFromOutside(int exitCode, RunState state, string directory) =>
        exitCode is 128 + 1 or 128 + 2 or 128 + 15 || exitCode == 0 && !HasResult(state, directory);

    // ---------------------------------------------------------------- streams

    private async Task PumpStdoutAsync(StreamReader reader, TrialLog log, int number, RunState state, ITrialObserver observer,
        CancellationToken cancellationToken, CancellationToken readStop)
    {
        try
        {
            while (await reader.ReadLineAsync(readStop).ConfigureAwait(false) is { } line)
            {
                await WriteLogLineAsync(log, line, number).ConfigureAwait(false);
                if (line.AsSpan().Trim().Length > 0) state.LastLine = line;
                ProtocolMessage? message;
                try { message = TrialProtocol.ParseLine(line); }
                catch (FormatException e)
                {
                    state.ProtocolError = e.Message;
                    _logger.LogWarning("Trial {Number}: {Message}", number, e.Message);
                    continue;
                }
                long? lineStep;
                IReadOnlyDictionary<string, double> reported;
                if (message is null)
                {
                    // Not a protocol line: with a study file's metrics: section, a line holding the study's metric
                    // (accuracy=0.81) is a report, as the same tunesmith:report would be.
                    if (_options.StdoutMetrics is not { } format || ReadMetricsLine(format, line, number, state) is not { } read) continue;
                    (lineStep, reported) = read;
                }
                else if (message.Kind == ProtocolMessageKind.Result)
                {
                    state.Result = message.Metrics;
                    continue;
                }
                else (lineStep, reported) = (message.Step, message.Metrics);
                var step = lineStep ?? (state.LastStep ?? -1) + 1;
                state.LastStep = step;
                // A program told to stop or pause may still report the step it was in: stored, as the docs promise (the
                // observer no longer judges it). Only a cancelled run, or a trial already closed, reads on without telling.
                if (state.Closed || cancellationToken.IsCancellationRequested) continue;
                if (state.ObserverFault is not null) continue;
                try { await observer.ReportedAsync(number, step, reported, cancellationToken).ConfigureAwait(false); }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    // The run was cancelled during this report's write: read on, so the last step and the log hold what the
                    // program printed up to its end (its checkpoint's step, told to its retry), not what was stored by then.
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // E.g. the storage refused the report (a full disk): the program is stopped and the fault surfaces once
                    // its tree is gone. The pipe is read on meanwhile, so a program that writes on is never blocked on it.
                    state.ObserverFault = e;
                    state.RequestEnd(TrialExitKind.Stopped);
                }
            }
        }
        catch (OperationCanceledException) when (readStop.IsCancellationRequested || cancellationToken.IsCancellationRequested) { }
    }

    // A stdout line read with the study file's metrics: section: null when it is not a report (no metric of the study on
    // it; a line holding only the step metric sets the step of the next report). The step metric is not a metric.
    private (long? Step, IReadOnlyDictionary<string, double> Metrics)? ReadMetricsLine(StdoutMetrics format, string line, int number, RunState state)
    {
        var parsed = format.Parse(line);
        if (parsed.Count == 0) return null;
        long? step = null;
        var metrics = new Dictionary<string, double>(parsed, StringComparer.Ordinal);
        if (format.Step is { } stepName && metrics.Remove(stepName, out var stepValue))
        {
            if (StdoutMetrics.TryReadStep(stepValue, out var s)) step = s;
            else
            {
                state.ProtocolError = $"'{stepName}' must be a non-negative integer, got {stepValue.ToString(CultureInfo.InvariantCulture)}: {line.Trim()}";
                _logger.LogWarning("Trial {Number}: its line's step {Message}", number, state.ProtocolError);
                return null;
            }
        }
        if (_options.Metric is { } metric ? !metrics.ContainsKey(metric) : metrics.Count == 0)
        {
            if (step is not null) state.PendingStep = step;
            return null;
        }
        step ??= state.PendingStep;
        state.PendingStep = null;
        var kept = (IReadOnlyDictionary<string, double>)metrics;
        state.LastMetricsLine = kept;
        if (_options.Metric is { } m && metrics.TryGetValue(m, out var v) && double.IsFinite(v)
            && (state.BestMetricsLine is not { } best || !best.TryGetValue(m, out var b)
                || (_options.Direction == Trials.Direction.Maximize ? v > b : v < b)))
            state.BestMetricsLine = kept;
        return (step, kept);
    }

    private async Task PumpStderrAsync(StreamReader reader, TrialLog log, int number, RunState state, CancellationToken readStop)
    {
        try
        {
            while (await reader.ReadLineAsync(readStop).ConfigureAwait(false) is { } line)
            {
                await WriteLogLineAsync(log, line, number).ConfigureAwait(false);
                state.AddStderr(line);
            }
        }
        catch (OperationCanceledException) when (readStop.IsCancellationRequested) { }
    }

    // A log that can no longer be written (a full disk) must not stop the reading: an unread pipe would block the program
    // once its buffer fills, and its reports and result still arrive through it. Said once per log.
    private async Task WriteLogLineAsync(TrialLog log, string line, int number)
    {
        if (await log.WriteLineAsync(line).ConfigureAwait(false) is { } fault)
            _logger.LogWarning("Trial {Number}: cannot write {File} ({Fault}); its output is still read (reports and result are kept) but no longer written there",
                number, Path.GetFileName(log.Path), fault.Message.Split('\n', 2)[0].Trim());
    }

    /// <summary>One of a trial's log files: written line by line until a write fails, then left as it is.</summary>
    private sealed class TrialLog : IDisposable
    {
        private readonly StreamWriter _writer;
        private bool _failed;

        /// <summary>The fault of the write that failed, or null.</summary>
        public Exception? Fault { get; private set; }

        private TrialLog(string path, StreamWriter writer)
        {
            Path = path;
            _writer = writer;
        }

        public string Path { get; }

        public static TrialLog Open(string path) =>
            new(path, new StreamWriter(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete), new UTF8Encoding(false)) { AutoFlush = true });

        /// <summary>Appends a line; the fault of the first write that fails (later ones are skipped), else null.</summary>
        public async ValueTask<Exception?> WriteLineAsync(string line)
        {
            if (_failed) return null;
            try
            {
                await _writer.WriteLineAsync(line.AsMemory(), CancellationToken.None).ConfigureAwait(false);
                return null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _failed = true;
                Fault = e;
                return e;
            }
        }

        public void Dispose()
        {
            try { _writer.Dispose(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { } // the failed write's bytes, still buffered
        }
    }

    // ---------------------------------------------------------------- set-up

    /// <summary>The system attribute that records a trial's directory (absolute path).</summary>
    public const string TrialDirectoryAttribute = "trial_dir";

    /// <summary>The system attribute that records a trial's GPUs, as CUDA_VISIBLE_DEVICES spelled them.</summary>
    public const string GpusAttribute = "gpus";

    private void SetEnvironment(IDictionary<string, string?> env, TrialStartRequest request, Configuration configuration, string paramsJson,
        string paramsFile, string directory, ResourceLease? lease, long? resumeStep)
    {
        // Python buffers a piped stdout: reports would arrive only at exit, too late for the scheduler to stop the trial.
        if (!env.ContainsKey("PYTHONUNBUFFERED")) env["PYTHONUNBUFFERED"] = "1";
        foreach (var (k, v) in _options.Environment) env[k] = v;
        env["TUNESMITH_STUDY"] = request.StudyName;
        env["TUNESMITH_TRIAL_ID"] = request.TrialId.ToString(CultureInfo.InvariantCulture);
        env["TUNESMITH_TRIAL_NUMBER"] = request.TrialNumber.ToString(CultureInfo.InvariantCulture);
        env["TUNESMITH_PARAMS"] = paramsJson;
        env["TUNESMITH_PARAMS_FILE"] = paramsFile;
        env["TUNESMITH_TRIAL_DIR"] = directory;
        if (resumeStep is { } step) env["TUNESMITH_RESUME_STEP"] = step.ToString(CultureInfo.InvariantCulture);
        else env.Remove("TUNESMITH_RESUME_STEP");
        if (request.CheckpointFrom is { } from) env["TUNESMITH_RESTORE_FROM"] = from.ToString(CultureInfo.InvariantCulture);
        else env.Remove("TUNESMITH_RESTORE_FROM");
        foreach (var (name, value) in configuration)
            env[ParamVariableName(name)] = value is null ? "" : ParamValues.Format(value);
        if (lease?.CudaVisibleDevices is { } devices) env["CUDA_VISIBLE_DEVICES"] = devices;
    }

    /// <summary>The environment variable that carries a parameter: <c>TUNESMITH_PARAM_</c> + its name upper-cased, other characters than letters and digits as <c>_</c>.</summary>
    public static string ParamVariableName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var sb = new StringBuilder("TUNESMITH_PARAM_", 16 + name.Length);
        foreach (var c in name) sb.Append(char.IsAsciiLetterOrDigit(c) ? char.ToUpperInvariant(c) : '_');
        return sb.ToString();
    }

    /// <summary>
    /// The file a trial's program (<c>argv[0]</c>) runs from: a path with a '/' against <paramref name="workingDirectory"/>,
    /// else the first executable of that name on <paramref name="path"/>; null when there is none (the trial could not start).
    /// </summary>
    public static string? FindProgram(string program, string workingDirectory, string? path)
    {
        ArgumentNullException.ThrowIfNull(program);
        ArgumentNullException.ThrowIfNull(workingDirectory);
        return ResolveProgram(program, Path.GetFullPath(workingDirectory), path);
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

    // A retry (or a resumed trial) runs in its first attempt's directory to resume from its checkpoints: the earlier
    // attempt's logs and outcome move to attempts/<k>/ so nothing is lost and an old result.json is never read as this
    // attempt's result.
    private static void ArchiveEarlierAttempt(string directory)
    {
        string[] files = [TrialDirectories.StdoutFile, TrialDirectories.StderrFile, TrialDirectories.ResultFile, TrialDirectories.ParamsFile];
        if (!files.Any(f => File.Exists(Path.Combine(directory, f)))) return;
        var k = 0;
        string target;
        while (Directory.Exists(target = Path.Combine(directory, TrialDirectories.AttemptsFolder, k.ToString(CultureInfo.InvariantCulture)))) k++;
        Directory.CreateDirectory(target);
        foreach (var f in files)
        {
            var source = Path.Combine(directory, f);
            if (File.Exists(source)) File.Move(source, Path.Combine(target, f));
        }
    }

    internal static string FormatSpan(TimeSpan t) =>
        t.TotalSeconds < 120 ? $"{t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s"
        : t.TotalHours < 2 ? $"{t.TotalMinutes.ToString("0.##", CultureInfo.InvariantCulture)} min"
        : $"{t.TotalHours.ToString("0.##", CultureInfo.InvariantCulture)} h";

    /// <summary>What the stream readers learn while a trial's program runs, and how it is asked to end.</summary>
    private sealed class RunState : IDisposable
    {
        private readonly Queue<string> _stderrTail = new();
        private readonly int _tailLines;
        private readonly CancellationTokenSource _timeout;
        private readonly TrialEndRequest _endRequest = new();

        public RunState(int tailLines, CancellationToken run, TimeSpan? timeout, TimeProvider time)
        {
            _tailLines = tailLines;
            _timeout = timeout is { } limit ? new CancellationTokenSource(limit, time) : new CancellationTokenSource();
            Stop = CancellationTokenSource.CreateLinkedTokenSource(run, _timeout.Token);
        }

        /// <summary>Cancelled when the program must end: the run cancelled, the timeout, a stop or a pause.</summary>
        public CancellationTokenSource Stop { get; }
        public TrialExitKind? EndRequested => _endRequest.Kind;
        public volatile bool Closed;
        public IReadOnlyDictionary<string, double>? Result;
        public ProcessTree? Tree;
        public TrialLog? StdoutLog;
        public TrialLog? StderrLog;
        public Task<TrialExit>? Completion;
        public string? LastLine;
        public string? ProtocolError;
        public long? LastStep;
        // With a metrics: section: the step of a line that held only the step metric, and the report lines kept for the result.
        public long? PendingStep;
        public IReadOnlyDictionary<string, double>? LastMetricsLine;
        public IReadOnlyDictionary<string, double>? BestMetricsLine;
        public volatile Exception? ObserverFault;

        /// <summary>A stop wins over a pause; a pause does not undo a stop.</summary>
        public void RequestEnd(TrialExitKind kind)
        {
            _endRequest.Set(kind);
            try { Stop.Cancel(); }
            catch (ObjectDisposedException) { } // the trial already finished
        }

        public void AddStderr(string line)
        {
            lock (_stderrTail)
            {
                if (_tailLines == 0) return;
                _stderrTail.Enqueue(line);
                while (_stderrTail.Count > _tailLines) _stderrTail.Dequeue();
            }
        }

        public string StderrTail(int maxChars)
        {
            string text;
            lock (_stderrTail) text = string.Join("\n", _stderrTail);
            return text.Length <= maxChars ? text : "..." + text[^Math.Max(0, maxChars - 3)..];
        }

        public void Dispose()
        {
            StdoutLog?.Dispose();
            StderrLog?.Dispose();
            Stop.Dispose();
            _timeout.Dispose();
        }
    }
}
