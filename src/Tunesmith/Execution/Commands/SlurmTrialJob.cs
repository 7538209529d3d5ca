using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tunesmith.Backends.Slurm;
using Tunesmith.Spaces;
using Tunesmith.Trials;

namespace Tunesmith.Execution.Commands;

/// <summary>What a worker inside a Slurm job needs to know about it.</summary>
public sealed record SlurmTrialJobOptions
{
    /// <summary>The job the worker runs in.</summary>
    public required SlurmJobEnvironment Job { get; init; }
    /// <summary>How many times one trial may be sent back to the queue by time limits or preemptions before it fails (default 3).</summary>
    public int MaxRequeues { get; init; } = 3;
    /// <summary>The compute class the job belongs to, or null.</summary>
    public string? ComputeClass { get; init; }
    /// <summary>The worker's hardware as one line (recorded on each trial), or null.</summary>
    public string? Hardware { get; init; }
    /// <summary>Runs Slurm's programs (to read the job's state and requeue it).</summary>
    public SlurmCommands Commands { get; init; } = new();
    /// <summary>Logging, or null.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }
    /// <summary>The clock.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
    /// <summary>
    /// How long before the job's time limit the trial is stopped to checkpoint (the lead of <c>--signal=B:USR1@lead</c>), or
    /// null to stop at the pre-walltime signal whenever it comes.
    /// </summary>
    public TimeSpan? SignalLead { get; init; }
}

/// <summary>When a job's trial stops for its time limit (pure: no Slurm, no clock).</summary>
public static class SlurmTimeLimit
{
    /// <summary>Slurm reports run times in whole seconds: a stop due within this much is due now.</summary>
    public static readonly TimeSpan Resolution = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long from now the trial should stop so that it ends <paramref name="lead"/> before the time limit, given the
    /// job's <paramref name="timeLeft"/>: <see cref="TimeSpan.Zero"/> when that moment has come (or is within
    /// <see cref="Resolution"/>), null when the job has no time limit.
    /// </summary>
    public static TimeSpan? StopIn(TimeSpan? timeLeft, TimeSpan lead)
    {
        if (timeLeft is not { } left) return null;
        var due = left - lead;
        return due <= Resolution ? TimeSpan.Zero : due;
    }
}

/// <summary>
/// The Slurm side of a one-trial job's worker. It records on each trial the job, node, class and hardware that ran it,
/// every job id of the trial's attempts, its resumptions and runtime. When Slurm stops the job early it tells why from
/// the job's own state, not from the clock: the pre-walltime signal (<c>SIGUSR1</c>, <see cref="OnWalltimeSignal"/>) or a
/// <c>TIMEOUT</c> state is a time limit, <c>PREEMPTED</c> a preemption, <c>CANCELLED</c> an <c>scancel</c>. The run is then
/// cancelled, so the trial's process tree gets SIGTERM and the grace period to write its checkpoint in
/// <c>TUNESMITH_TRIAL_DIR</c>; <see cref="FinishAsync"/> returns the trial to the queue (a Waiting attempt with the same
/// params and trial directory) and requeues the job, up to <see cref="SlurmTrialJobOptions.MaxRequeues"/> times per trial;
/// past that the trial fails with the reason.
/// </summary>
public sealed class SlurmTrialJob : IDisposable
{
    private readonly SlurmTrialJobOptions _options;
    private readonly Study _study;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _timerLock = new();
    private ITimer? _timer;
    private bool _disposed;
    private int _cause; // SlurmStopCause
    private long? _returnToQueue;
    private bool _failOnCancel;
    private bool _requeueOnCancel;
    private bool _requeuedBySlurm;

    /// <summary>Creates the job side of a worker for <paramref name="study"/>.</summary>
    public SlurmTrialJob(Study study, SlurmTrialJobOptions options)
    {
        ArgumentNullException.ThrowIfNull(study);
        ArgumentNullException.ThrowIfNull(options);
        _study = study;
        _options = options;
        _logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger<SlurmTrialJob>();
    }

    /// <summary>Cancelled when Slurm stops the job early: the token the worker's run should use.</summary>
    public CancellationToken Token => _stop.Token;

    /// <summary>Why Slurm stopped the job, or <see cref="SlurmStopCause.None"/>.</summary>
    public SlurmStopCause Cause => (SlurmStopCause)Volatile.Read(ref _cause);

    /// <summary>The trial this job returned to the queue (its id), or null.</summary>
    public long? ReturnedTrial => _returnToQueue;

    /// <summary>
    /// The pre-walltime signal arrived. Slurm sends it at its periodic time-limit check, so it may come up to a minute
    /// before the lead asked for (<c>man sbatch</c>, <c>--signal</c>), even as the job starts. With a
    /// <see cref="SlurmTrialJobOptions.SignalLead"/> the job's time left is read again and the trial stops when it is
    /// down to the lead (now, if it is); without one, or when Slurm cannot say, it stops now. Either way the trial
    /// checkpoints, goes back to the queue and the job is requeued.
    /// </summary>
    public void OnWalltimeSignal()
    {
        if (_options.SignalLead is null) { Stop(SlurmStopCause.Walltime); return; }
        _ = CheckTimeLimitAsync(fromSignal: true);
    }

    /// <summary>
    /// Reads the job's time left from Slurm (<c>scontrol show job</c>: its time limit less its run time, both durations)
    /// and arms a timer that stops the trial <see cref="SlurmTrialJobOptions.SignalLead"/> before the limit. Call it once
    /// the signal handlers are in place; it does not depend on when (or whether) Slurm's signal arrives. Nothing to do
    /// without a lead or a time limit; a failure to read is logged (the signal and Slurm's own SIGTERM still stop the trial).
    /// </summary>
    public Task WatchTimeLimitAsync() => _options.SignalLead is null ? Task.CompletedTask : CheckTimeLimitAsync(fromSignal: false);

    private async Task CheckTimeLimitAsync(bool fromSignal)
    {
        var lead = _options.SignalLead!.Value;
        TimeSpan? left;
        try
        {
            var job = (await _options.Commands.ShowJobsAsync([_options.Job.Display]).ConfigureAwait(false))
                .FirstOrDefault(j => j.Display == _options.Job.Display || j.JobId == _options.Job.JobId);
            left = job?.TimeLeft;
            if (job is null) throw new InvalidOperationException($"scontrol does not know job {_options.Job.Display}");
        }
        catch (Exception e) when (e is SlurmCommandException or InvalidOperationException)
        {
            _logger.LogWarning("Job {Job}: cannot read its time left ({Message})", _options.Job.Display, e.Message);
            if (fromSignal) Stop(SlurmStopCause.Walltime);
            return;
        }
        if (SlurmTimeLimit.StopIn(left, lead) is not { } due)
        {
            // No time limit: a signal can only mean Slurm wants the job to end.
            if (fromSignal) Stop(SlurmStopCause.Walltime);
            return;
        }
        if (due == TimeSpan.Zero) { Stop(SlurmStopCause.Walltime); return; }
        if (fromSignal)
            _logger.LogInformation("Job {Job}: the pre-walltime signal came early ({Left:0} s left, lead {Lead:0} s); stopping the trial in {Due:0} s",
                _options.Job.Display, left!.Value.TotalSeconds, lead.TotalSeconds, due.TotalSeconds);
        lock (_timerLock)
        {
            if (Cause != SlurmStopCause.None || _disposed) return;
            _timer?.Dispose();
            // At the due time the time left is read again: a limit raised meanwhile (scontrol update) moves the stop.
            _timer = _options.TimeProvider.CreateTimer(_ => _ = CheckTimeLimitAsync(fromSignal: false), null, due, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>
    /// SIGTERM arrived: asks Slurm what happened to the job (see <see cref="SlurmStopCauses.FromJob(SlurmJobInfo?, int?)"/>: a time limit, a
    /// preemption or a cancel) and stops the trial; when Slurm cannot say, it is treated as preempted (back to the queue).
    /// </summary>
    public async Task OnTerminateAsync()
    {
        SlurmStopCause cause;
        try
        {
            var job = await _options.Commands.ShowJobAsync(_options.Job.Display).ConfigureAwait(false);
            if (job is { State: "COMPLETING" })
            {
                // The accounting database, where there is one, already has the final state (TIMEOUT, CANCELLED, PREEMPTED).
                var final = (await _options.Commands.AccountingAsync([_options.Job.Display]).ConfigureAwait(false)).FirstOrDefault(j => j.Display == _options.Job.Display);
                if (final is not null && SlurmStopCauses.FromJobState(final.State) != SlurmStopCause.None) job = final;
            }
            cause = SlurmStopCauses.FromJob(job, _options.Job.RestartCount);
            // Preempted with PreemptMode=REQUEUE (or requeued by an operator): Slurm has already sent the job back to the queue.
            _requeuedBySlurm = SlurmStopCauses.RequeuedBySlurm(job, _options.Job.RestartCount);
            _logger.LogInformation("Job {Job}: SIGTERM with job state {State} ({Reason}, restarts {Restarts})", _options.Job.Display,
                job?.State ?? "unknown", job?.Reason ?? "no reason", job?.Restarts ?? -1);
            if (cause == SlurmStopCause.Cancelled)
            {
                var record = await _study.Storage.GetStudyAsync(_study.Name).ConfigureAwait(false);
                var policy = record?.SystemAttributes.GetValueOrDefault(SlurmAttributeKeys.CancelPolicy) as string;
                _failOnCancel = policy is "fail";
                // `tunesmith slurm cancel` (a stored policy) or an scancel of the whole array stops the study's work; an
                // scancel of this task alone does not: the task is requeued so that its trial still runs and the study completes.
                _requeueOnCancel = policy is null && !await WholeArrayCancelledAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is SlurmCommandException or InvalidOperationException)
        {
            _logger.LogWarning("Job {Job}: cannot read its state ({Message})", _options.Job.Display, e.Message);
            cause = SlurmStopCause.None;
        }
        Stop(cause == SlurmStopCause.None ? SlurmStopCause.Preempted : cause);
    }

    /// <summary>
    /// True when the cancel stopped the job's whole array: no other task of it is left pending or running, and at least one
    /// was cancelled with this one. A plain job, or an array of one task, is its whole array.
    /// </summary>
    private async Task<bool> WholeArrayCancelledAsync()
    {
        if (_options.Job.ArrayJobId is not { } array) return true;
        var others = (await _options.Commands.ShowJobsAsync([array]).ConfigureAwait(false)).Where(j => j.Display != _options.Job.Display).ToList();
        _logger.LogInformation("Job {Job}: cancelled; the other tasks of array {Array}: {States}", _options.Job.Display, array,
            others.Count == 0 ? "none" : string.Join(", ", others.Select(o => $"{o.Display} {o.State}")));
        return SlurmStopCauses.IsWholeArrayCancel(others);
    }

    private void Stop(SlurmStopCause cause)
    {
        if (Interlocked.CompareExchange(ref _cause, (int)cause, 0) != 0) return;
        _logger.LogInformation("Job {Job}: stopping its trial ({Cause})", _options.Job.Display, cause.Word());
        try { _stop.Cancel(); }
        catch (ObjectDisposedException) { } // a timer or signal after the worker finished: nothing left to stop
    }

    /// <summary>Runs one trial attempt through <paramref name="run"/>, recording the job's side of it (pass as <see cref="CommandStudyOptions.AroundTrial"/>).</summary>
    public async Task<double> RunTrialAsync(Trial trial, Func<Trial, CancellationToken, Task<double>> run, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(trial);
        ArgumentNullException.ThrowIfNull(run);
        var time = _options.TimeProvider;
        var root = CommandObjective.DirectoryNumber(trial.Number, trial.SystemAttributes);
        var earlier = (await _study.GetTrialsAsync(cancellationToken).ConfigureAwait(false))
            .Where(t => t.Number != trial.Number && CommandObjective.DirectoryNumber(t.Number, t.SystemAttributes) == root)
            .OrderBy(t => t.Number).ToList();
        var jobIds = earlier.Select(t => t.SystemAttributes.GetValueOrDefault(SlurmAttributeKeys.JobId) as string).OfType<string>().ToList();
        // A requeued job keeps its id: its later runs are told apart by Slurm's restart count (40_2, then 40_2#1).
        var here = _options.Job.RestartCount > 0 ? string.Create(CultureInfo.InvariantCulture, $"{_options.Job.Display}#{_options.Job.RestartCount}") : _options.Job.Display;
        jobIds.Add(here);
        var resumptions = earlier.Count(t => t.SystemAttributes.GetValueOrDefault(SlurmAttributeKeys.Stop) is "walltime" or "preempted");
        var earlierRuntime = earlier.Sum(t => ParamValues.TryToDouble(t.SystemAttributes.GetValueOrDefault(SlurmAttributeKeys.Runtime), out var s) ? s : 0);
        // A trial Slurm stopped (time limit, preemption, cancel) continues from its checkpoint: like a promoted paused trial
        // its program is told the last step it reported (TUNESMITH_RESUME_STEP), when it reported any.
        if (trial.ResumeStep is null && earlier.Where(t => t.SystemAttributes.ContainsKey(SlurmAttributeKeys.Stop))
                .SelectMany(t => t.Intermediate.Keys.Append(ParamValues.TryToLong(t.SystemAttributes.GetValueOrDefault(CommandAttributeKeys.LastStep), out var l) ? l : -1))
                .DefaultIfEmpty(-1).Max() is var step && step >= 0)
            trial.SetSystemAttribute(SystemAttributeKeys.ResumeStep, step);
        trial.SetSystemAttribute(SlurmAttributeKeys.JobId, here);
        trial.SetSystemAttribute(SlurmAttributeKeys.JobIds, string.Join(',', jobIds));
        trial.SetSystemAttribute(SlurmAttributeKeys.Resumptions, (long)resumptions);
        if (_options.Job.Node is { } node) trial.SetSystemAttribute(SlurmAttributeKeys.Node, node);
        if (_options.ComputeClass is { } cls) trial.SetSystemAttribute(SlurmAttributeKeys.ComputeClass, cls);
        if (_options.Hardware is { } hw) trial.SetSystemAttribute(SlurmAttributeKeys.Hardware, hw);
        await trial.FlushAsync(cancellationToken).ConfigureAwait(false);

        var started = time.GetTimestamp();
        void RecordRuntime()
        {
            var seconds = Math.Round(time.GetElapsedTime(started).TotalSeconds, 3);
            trial.SetSystemAttribute(SlurmAttributeKeys.Runtime, seconds);
            trial.SetSystemAttribute(SlurmAttributeKeys.TotalRuntime, Math.Round(earlierRuntime + seconds, 3));
        }
        try
        {
            var value = await run(trial, cancellationToken).ConfigureAwait(false);
            RecordRuntime();
            return value;
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            RecordRuntime();
            var cause = Cause;
            trial.SetSystemAttribute(SlurmAttributeKeys.Stop, cause.Word());
            if (cause is SlurmStopCause.Walltime or SlurmStopCause.Preempted)
            {
                if (resumptions >= _options.MaxRequeues)
                    throw new TrialFailedException(string.Create(CultureInfo.InvariantCulture,
                        $"{(cause == SlurmStopCause.Walltime ? "hit the job's time limit" : "was preempted")} in job {_options.Job.Display} after {resumptions} {(resumptions == 1 ? "requeue" : "requeues")} " +
                        $"(max_requeues {_options.MaxRequeues}); jobs: {string.Join(',', jobIds)}"));
            }
            else if (cause == SlurmStopCause.Cancelled && _failOnCancel)
            {
                throw new TrialFailedException($"cancelled: job {_options.Job.Display} was cancelled (tunesmith slurm cancel --fail)");
            }
            _returnToQueue = trial.Id;
            throw;
        }
        catch
        {
            RecordRuntime();
            throw;
        }
    }

    /// <summary>
    /// After the run: returns a stopped trial to the queue (a Waiting attempt with the same params and directory) and,
    /// after a time limit or a preemption, requeues this job so that it runs again (a cancelled job stays cancelled; its
    /// trial waits for the next task). Returns true when the job was requeued.
    /// </summary>
    public async Task<bool> FinishAsync(CancellationToken cancellationToken = default)
    {
        if (_returnToQueue is not { } id) return false;
        var retry = await _study.Storage.RetryTrialAsync(id, cancellationToken).ConfigureAwait(false);
        if (retry is not null) _logger.LogInformation("Trial back in the queue as trial {Number} (same params and directory)", retry.Number);
        if (Cause is not (SlurmStopCause.Walltime or SlurmStopCause.Preempted) && !(Cause == SlurmStopCause.Cancelled && _requeueOnCancel)) return false;
        if (_requeuedBySlurm)
        {
            _logger.LogInformation("Job {Job} was requeued by Slurm itself (preempted); its next run takes a waiting trial", _options.Job.Display);
            return true;
        }
        try
        {
            // By the task's ARRAY_TASK id: an array's own id (which is also one task's job id) would requeue every task.
            await _options.Commands.RequeueAsync(_options.Job.Display, cancellationToken).ConfigureAwait(false);
            _logger.LogInformation("Job {Job} requeued", _options.Job.Display);
            return true;
        }
        catch (SlurmCommandException e)
        {
            // A preempted job Slurm requeues itself, or one that cannot be requeued: the trial waits for the next task.
            _logger.LogWarning("Job {Job}: not requeued ({Message}); its trial waits for the next array task", _options.Job.Display, e.Message);
            return false;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_timerLock) { _disposed = true; _timer?.Dispose(); _timer = null; }
        _stop.Dispose();
    }
}
