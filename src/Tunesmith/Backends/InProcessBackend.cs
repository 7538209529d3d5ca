using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tunesmith.Backends.Resources;

namespace Tunesmith.Backends;

/// <summary>Runs one trial in this process: reads its parameters, reports, and returns its final metrics.</summary>
/// <param name="context">The trial's parameters, directory, resume step, report sink and token.</param>
public delegate Task<IReadOnlyDictionary<string, double>> InProcessTrialFunction(InProcessTrialContext context);

/// <summary>What an in-process trial function sees of its trial.</summary>
public sealed class InProcessTrialContext
{
    private readonly Func<long, IReadOnlyDictionary<string, double>, ValueTask> _report;

    internal InProcessTrialContext(TrialStartRequest request, string? directory, long? resumeAfterStep, CancellationToken cancellationToken,
        Func<long, IReadOnlyDictionary<string, double>, ValueTask> report, Func<bool> pauseRequested)
    {
        TrialNumber = request.TrialNumber;
        Params = request.Params;
        Directory = directory;
        ResumeAfterStep = resumeAfterStep;
        CancellationToken = cancellationToken;
        _report = report;
        PauseRequestedCheck = pauseRequested;
    }

    private Func<bool> PauseRequestedCheck { get; }

    /// <summary>The trial's number.</summary>
    public int TrialNumber { get; }

    /// <summary>The trial's parameter values.</summary>
    public IReadOnlyDictionary<string, object?> Params { get; }

    /// <summary>The trial's directory for checkpoints (created), or null when the backend has no root directory.</summary>
    public string? Directory { get; }

    /// <summary>On a resumed trial, the last step it reported before its pause (-1 when none); null on a fresh start.</summary>
    public long? ResumeAfterStep { get; }

    /// <summary>Cancelled when the trial must end: stopped, paused (save a checkpoint first) or the run interrupted.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>True once a pause was asked for: save a checkpoint, then return or throw <see cref="OperationCanceledException"/>.</summary>
    public bool IsPauseRequested => PauseRequestedCheck();

    /// <summary>Reports intermediate metrics at <paramref name="step"/>.</summary>
    public ValueTask ReportAsync(long step, IReadOnlyDictionary<string, double> metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        return _report(step, metrics);
    }
}

/// <summary>How an <see cref="InProcessBackend"/> runs trials.</summary>
public sealed record InProcessBackendOptions
{
    /// <summary>The trial function.</summary>
    public required InProcessTrialFunction Run { get; init; }

    /// <summary>
    /// Where trial directories live (<c>root/trials/n/</c>); setting it enables checkpoints (copy, start from another
    /// trial's). Null: trials have no directory.
    /// </summary>
    public string? RootDirectory { get; init; }

    /// <summary>The slots trials take (e.g. <see cref="ResourcePoolOptions.MaxConcurrent"/>); null: no limit.</summary>
    public ResourcePool? Resources { get; init; }

    /// <summary>
    /// The objective's name among the returned metrics: a result without it, or with a non-finite value, ends the trial
    /// Failed. Null: any result finishes it.
    /// </summary>
    public string? Metric { get; init; }

    /// <summary>Clock for durations.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Logging; default none.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }
}

/// <summary>
/// Runs trials as asynchronous functions in this process (the .NET developer's objective), with the same contract as a
/// process or a cluster job: slots from a pool, stop and pause through the function's token, resume with the last step,
/// checkpoints in trial directories when a root directory is set.
/// </summary>
/// <remarks>
/// The function's outcome decides the exit: metrics returned → Finished (even when a stop came too late); an
/// <see cref="OperationCanceledException"/> after a stop, a pause or the run's cancellation → Stopped, Paused,
/// Interrupted; any other exception → Failed with its message.
/// </remarks>
public sealed class InProcessBackend : ITrialBackend
{
    private readonly InProcessBackendOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<int, Running> _running = new();
    private readonly ConcurrentDictionary<int, (TrialStartRequest Request, long? LastStep)> _paused = new();

    /// <summary>Creates the backend.</summary>
    public InProcessBackend(InProcessBackendOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.Run);
        ArgumentNullException.ThrowIfNull(options.TimeProvider);
        _options = options;
        _logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger<InProcessBackend>();
    }

    /// <inheritdoc />
    public TrialBackendCapabilities Capabilities =>
        TrialBackendCapabilities.Pause | TrialBackendCapabilities.Resume
        | (_options.RootDirectory is null ? TrialBackendCapabilities.None : TrialBackendCapabilities.Checkpoints);

    /// <summary>The directory trial <paramref name="directoryNumber"/> runs in, or null when the backend has no root directory.</summary>
    public string? TrialDirectory(int directoryNumber) =>
        _options.RootDirectory is { } root ? TrialDirectories.TrialDirectory(root, directoryNumber) : null;

    /// <inheritdoc />
    public Task<TrialExecution> StartAsync(TrialStartRequest request, ITrialObserver observer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(observer);
        if (request.CheckpointFrom is not null) RequireCheckpoints();
        _paused.TryRemove(request.TrialNumber, out _); // resumed through a new start (e.g. by its study, from storage)
        return LaunchAsync(request, observer, request.ResumeAfterStep, cancellationToken);
    }

    /// <inheritdoc />
    public Task<TrialExecution> ResumeAsync(int trialNumber, ITrialObserver observer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(observer);
        if (!_paused.TryRemove(trialNumber, out var paused)) throw new InvalidOperationException($"trial {trialNumber} is not paused here");
        return LaunchAsync(paused.Request with { CheckpointFrom = null, ResumeAfterStep = null }, observer, paused.LastStep ?? -1, cancellationToken);
    }

    /// <inheritdoc />
    public Task<bool> StopAsync(int trialNumber, CancellationToken cancellationToken = default) =>
        Task.FromResult(_running.TryGetValue(trialNumber, out var r) && r.RequestEnd(TrialExitKind.Stopped));

    /// <inheritdoc />
    public Task<bool> PauseAsync(int trialNumber, CancellationToken cancellationToken = default) =>
        Task.FromResult(_running.TryGetValue(trialNumber, out var r) && r.RequestEnd(TrialExitKind.Paused));

    /// <inheritdoc />
    public async Task CopyCheckpointAsync(int fromTrialNumber, int toTrialNumber, CancellationToken cancellationToken = default)
    {
        RequireCheckpoints();
        if (_running.ContainsKey(toTrialNumber))
            throw new InvalidOperationException($"trial {toTrialNumber} is running: its checkpoint cannot be replaced under it");
        await TrialDirectories.CopyCheckpointAsync(TrialDirectory(fromTrialNumber)!, TrialDirectory(toTrialNumber)!, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops every running trial and waits for them.</summary>
    public async ValueTask DisposeAsync()
    {
        var running = _running.Values.ToArray();
        foreach (var r in running) r.RequestEnd(TrialExitKind.Stopped);
        foreach (var r in running)
            try { await r.Completion.ConfigureAwait(false); }
            catch (Exception e) when (e is not OutOfMemoryException) { }
    }

    private void RequireCheckpoints()
    {
        if (_options.RootDirectory is null)
            throw new NotSupportedException("this in-process backend keeps no trial directories (set InProcessBackendOptions.RootDirectory) and so no checkpoints");
    }

    private async Task<TrialExecution> LaunchAsync(TrialStartRequest request, ITrialObserver observer, long? resumeStep, CancellationToken cancellationToken)
    {
        var time = _options.TimeProvider;
        var lease = _options.Resources is { } pool ? await pool.AcquireAsync($"study '{request.StudyName}' trial {request.TrialNumber}", cancellationToken).ConfigureAwait(false) : null;
        var started = time.GetTimestamp();
        var number = request.TrialNumber;
        var directory = TrialDirectory(request.EffectiveDirectoryNumber);
        var gpus = lease?.Gpus ?? [];
        var attributes = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (directory is not null) attributes["trial_dir"] = directory;
        try
        {
            if (directory is not null)
            {
                if (request.CheckpointFrom is { } from)
                {
                    try { await TrialDirectories.CopyCheckpointAsync(TrialDirectory(from)!, directory, cancellationToken).ConfigureAwait(false); }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                        lease?.Dispose();
                        lease = null;
                        var exit = new TrialExit(TrialExitKind.Failed, null, $"cannot copy the checkpoint of trial {from}: {e.Message}", null, null, time.GetElapsedTime(started));
                        return new TrialExecution(number, directory, gpus, resumeStep, Task.FromResult(exit), attributes);
                    }
                }
                Directory.CreateDirectory(directory);
            }
            var running = new Running(cancellationToken) { LastStep = resumeStep is >= 0 ? resumeStep : null };
            var completion = new TaskCompletionSource<TrialExit>(TaskCreationOptions.RunContinuationsAsynchronously);
            running.Completion = completion.Task;
            var execution = new TrialExecution(number, directory, gpus, resumeStep, completion.Task, attributes);
            _running[number] = running;
            try { await observer.StartedAsync(execution, cancellationToken).ConfigureAwait(false); }
            catch
            {
                _running.TryRemove(number, out _);
                running.Dispose();
                throw;
            }
            var owned = lease;
            lease = null;
            _ = Task.Run(async () =>
            {
                try { completion.SetResult(await RunAsync(request, resumeStep, directory, running, observer, owned, started, cancellationToken).ConfigureAwait(false)); }
                catch (Exception e) { completion.SetException(e); }
            }, CancellationToken.None);
            return execution;
        }
        finally { lease?.Dispose(); }
    }

    private async Task<TrialExit> RunAsync(TrialStartRequest request, long? resumeStep, string? directory, Running running, ITrialObserver observer,
        ResourceLease? lease, long started, CancellationToken cancellationToken)
    {
        var time = _options.TimeProvider;
        var number = request.TrialNumber;
        using var _lease = lease;
        try
        {
            var context = new InProcessTrialContext(request, directory, resumeStep, running.Token, async (step, metrics) =>
            {
                running.LastStep = step;
                if (cancellationToken.IsCancellationRequested) return; // after a stop or pause request a report is still told
                await observer.ReportedAsync(number, step, metrics, cancellationToken).ConfigureAwait(false);
            }, () => running.EndRequested == TrialExitKind.Paused);
            IReadOnlyDictionary<string, double> result;
            try { result = await _options.Run(context).ConfigureAwait(false); }
            catch (OperationCanceledException) when (running.Token.IsCancellationRequested)
            {
                var kind = running.EndRequested ?? (cancellationToken.IsCancellationRequested ? TrialExitKind.Interrupted : TrialExitKind.Stopped);
                if (kind == TrialExitKind.Paused) _paused[number] = (request, running.LastStep);
                return new TrialExit(kind, null, null, running.LastStep, null, time.GetElapsedTime(started));
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                _logger.LogInformation("Trial {Number} failed: {Message}", number, e.Message);
                return new TrialExit(TrialExitKind.Failed, null, FailReasons.Of(e), running.LastStep, null, time.GetElapsedTime(started));
            }
            var duration = time.GetElapsedTime(started);
            if (result is null) return new TrialExit(TrialExitKind.Failed, null, "no result: the trial function returned null", running.LastStep, null, duration);
            if (_options.Metric is { } metric)
            {
                if (!result.TryGetValue(metric, out var value))
                    return new TrialExit(TrialExitKind.Failed, result, $"the result has no metric '{metric}' (got: {string.Join(", ", result.Keys)})", running.LastStep, null, duration);
                if (!double.IsFinite(value))
                    return new TrialExit(TrialExitKind.Failed, result, $"the result's '{metric}' is {value.ToString(System.Globalization.CultureInfo.InvariantCulture)}", running.LastStep, null, duration);
            }
            return new TrialExit(TrialExitKind.Finished, result, null, running.LastStep, null, duration);
        }
        finally
        {
            _running.TryRemove(number, out _);
            running.Dispose();
        }
    }

    private sealed class Running : IDisposable
    {
        private readonly CancellationTokenSource _end;
        private readonly TrialEndRequest _endRequest = new();

        public Running(CancellationToken run) => _end = CancellationTokenSource.CreateLinkedTokenSource(run);

        public CancellationToken Token => _end.Token;
        public Task<TrialExit> Completion { get; set; } = Task.FromResult<TrialExit>(null!);
        public long? LastStep;
        public TrialExitKind? EndRequested => _endRequest.Kind;

        public bool RequestEnd(TrialExitKind kind)
        {
            _endRequest.Set(kind);
            try { _end.Cancel(); }
            catch (ObjectDisposedException) { return false; }
            return true;
        }

        public void Dispose() => _end.Dispose();
    }
}
