using System.Collections.Concurrent;
using Tunesmith.Backends;
using Tunesmith.Storage;

namespace Tunesmith.Execution.Commands;

/// <summary>How a <see cref="CommandStudyRunner"/> runs a study of command trials (a study file's run settings).</summary>
public sealed record CommandStudyOptions
{
    /// <summary>The study's trial budget, counted in storage across every worker and resume (a study file's <c>trials</c>); null: no limit.</summary>
    public int? Trials { get; init; }

    /// <summary>Trials at once in this process (default 1); also capped by the resource pool's capacity.</summary>
    public int Parallel { get; init; } = 1;

    /// <summary>The study's time budget: no trial starts after it (running ones finish); null: none.</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>Re-runs a failed trial's params up to this many times, in the first attempt's directory (default 0).</summary>
    public int Retries { get; init; }

    /// <summary>The study's goal (a study file's <c>goal:</c>): see <see cref="OptimizeOptions.Goal"/>; null: none.</summary>
    public double? Goal { get; init; }

    /// <summary>The study's failed-trial limit (a study file's <c>max_failed_trials:</c>): see <see cref="OptimizeOptions.MaxFailedTrials"/>; null: none.</summary>
    public int? MaxFailedTrials { get; init; }

    /// <summary>At most this many trials are started by this run (a worker's own cap, e.g. one trial per cluster job); null: no cap.</summary>
    public int? MaxTrialsThisRun { get; init; }

    /// <summary>Stops the study at the first failure that is not retried: no new trial starts, running ones are stopped.</summary>
    public bool FailFast { get; init; }

    /// <summary>
    /// When a run starts, re-enqueues the trials an earlier run left Failed "interrupted" (Ctrl+C), so that they resume in
    /// their own directories from their checkpoints (default true). They do not use up <see cref="Retries"/>.
    /// </summary>
    public bool ResumeInterrupted { get; init; } = true;

    /// <summary>
    /// Runs around each trial's program (given the trial, the run itself and the token), e.g. a Slurm job's bookkeeping of
    /// time limits and requeues (<see cref="SlurmTrialJob.RunTrialAsync"/>); null: the program alone.
    /// </summary>
    public Func<Trial, Func<Trial, CancellationToken, Task<double>>, CancellationToken, Task<double>>? AroundTrial { get; init; }

    /// <summary>Validates the options; throws naming the property.</summary>
    public void Validate()
    {
        if (Trials is < 0) throw new ArgumentOutOfRangeException(nameof(Trials), Trials, "trials must be ≥ 0");
        if (Parallel < 1) throw new ArgumentOutOfRangeException(nameof(Parallel), Parallel, "parallel must be ≥ 1");
        if (Timeout is { } t && t <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(Timeout), Timeout, "timeout must be > 0");
        if (Retries < 0) throw new ArgumentOutOfRangeException(nameof(Retries), Retries, "retries must be ≥ 0");
        if (Goal is { } g && !double.IsFinite(g)) throw new ArgumentOutOfRangeException(nameof(Goal), Goal, "the goal must be a finite number");
        if (MaxFailedTrials is < 1) throw new ArgumentOutOfRangeException(nameof(MaxFailedTrials), MaxFailedTrials, "max_failed_trials must be ≥ 1");
    }
}

/// <summary>Why a command study run ended.</summary>
public enum CommandStudyStop
{
    /// <summary>The trial budget or time budget was reached, or a finite sampler ran out of configurations.</summary>
    Finished,
    /// <summary>The run was cancelled (Ctrl+C / SIGTERM): running trials were stopped and recorded Failed "interrupted".</summary>
    Interrupted,
    /// <summary>
    /// A trial failed with <see cref="CommandStudyOptions.FailFast"/> set, or the study's failed trials reached
    /// <see cref="CommandStudyOptions.MaxFailedTrials"/> (this run's or another's).
    /// </summary>
    FailedFast,
    /// <summary>A Complete trial of the study (this run's or another's) reached <see cref="CommandStudyOptions.Goal"/>: no trial started after it.</summary>
    GoalReached,
}

/// <summary>What one run of a command study did.</summary>
/// <param name="Stop">Why it ended.</param>
/// <param name="Completed">Trials this run completed.</param>
/// <param name="Pruned">Trials this run pruned.</param>
/// <param name="Failed">Trials this run recorded Failed (retried ones and interrupted ones included).</param>
/// <param name="Resumed">Interrupted trials of earlier runs re-enqueued at the start.</param>
/// <param name="FailedTrial">With <see cref="CommandStudyStop.FailedFast"/>: the trial whose failure stopped the study.</param>
/// <param name="Best">The study's best trial after the run (all runs and workers), or null.</param>
public sealed record CommandStudyResult(CommandStudyStop Stop, int Completed, int Pruned, int Failed, int Resumed,
    FrozenTrial? FailedTrial, FrozenTrial? Best)
{
    /// <summary>With <see cref="CommandStudyStop.GoalReached"/>: the study's first trial that reached the goal.</summary>
    public FrozenTrial? GoalTrial { get; init; }

    /// <summary>The study's failed trials that count toward <see cref="CommandStudyOptions.MaxFailedTrials"/> (0 without one).</summary>
    public int FailedTrials { get; init; }
}

/// <summary>
/// Runs a study of command trials on this machine: up to <c>parallel</c> programs at once within the resource pool,
/// until the study's budget; retries, fail-fast, and a clean stop on cancellation (every running trial's process tree
/// stopped and recorded Failed "interrupted", nothing left Running, the study resumable). The <c>tunesmith run</c> and
/// <c>tunesmith worker</c> commands are this class plus argument parsing.
/// </summary>
public sealed class CommandStudyRunner
{
    private readonly CommandStudyOptions _options;

    /// <summary>Creates a runner for <paramref name="study"/>; throws naming the option when options are invalid.</summary>
    public CommandStudyRunner(Study study, CommandObjectiveOptions objective, CommandStudyOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(study);
        Study = study;
        Objective = new CommandObjective(objective);
        _options = options ?? new CommandStudyOptions();
        _options.Validate();
    }

    /// <summary>The study run.</summary>
    public Study Study { get; }

    /// <summary>The objective running each trial (see <see cref="CommandObjective.RequestStop"/> to stop one).</summary>
    public CommandObjective Objective { get; }

    /// <summary>How many trials run at once: <c>parallel</c>, capped by what the resource pool can hold.</summary>
    public int EffectiveParallelism => Math.Max(1, Math.Min(_options.Parallel, Objective.Options.Resources?.Capacity ?? int.MaxValue));

    /// <summary>
    /// Runs trials until the budget is reached, a fail-fast failure, or <paramref name="cancellationToken"/> is cancelled;
    /// cancellation is not an exception here but <see cref="CommandStudyStop.Interrupted"/>.
    /// </summary>
    public async Task<CommandStudyResult> RunAsync(CancellationToken cancellationToken = default)
    {
        var resumed = _options.ResumeInterrupted ? await ResumeInterruptedAsync(cancellationToken).ConfigureAwait(false) : 0;
        int completed = 0, pruned = 0, failedCount = 0;
        var failures = new ConcurrentQueue<FrozenTrial>();
        var progress = Objective.Options.Progress;
        void OnFinished(Study _, FrozenTrial trial)
        {
            switch (trial.State)
            {
                case TrialState.Complete: Interlocked.Increment(ref completed); break;
                case TrialState.Pruned: Interlocked.Increment(ref pruned); break;
                case TrialState.Failed:
                    Interlocked.Increment(ref failedCount);
                    failures.Enqueue(trial);
                    break;
            }
            progress?.Report(new CommandTrialFinished(trial) { StudyDone = Study.DoneTrialCount, StudyBest = Study.KnownBestTrial });
        }

        var optimize = new OptimizeOptions
        {
            Trials = _options.Trials,
            Parallelism = EffectiveParallelism,
            Timeout = _options.Timeout,
            Retries = _options.Retries,
            MaxTrialsThisRun = _options.MaxTrialsThisRun,
            FailFast = _options.FailFast,
            Goal = _options.Goal,
            MaxFailedTrials = _options.MaxFailedTrials,
            Callbacks = [OnFinished],
            RecoveryCallbacks = [(_, recovery) => progress?.Report(new CommandTrialRecovered(recovery))],
            // GPUs other processes of the machine may hold: a worker waits for its share before it starts a trial in
            // storage, so that a trial is never Running (heartbeat, duration, a place of the budget) while it waits.
            HoldBeforeStart = Objective.Options.Resources is { Options: { Ledger: not null, GpusPerTrial: > 0 } } pool
                ? async ct => await pool.AcquireAsync($"study '{Study.Name}'", ct).ConfigureAwait(false)
                : null,
        };
        var stop = CommandStudyStop.Finished;
        FrozenTrial? failedTrial = null;
        try
        {
            Func<Trial, CancellationToken, Task<double>> objective = _options.AroundTrial is { } around
                ? (trial, ct) => around(trial, Objective.RunAsync, ct)
                : Objective.RunAsync;
            await Study.OptimizeAsync(objective, optimize, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            stop = CommandStudyStop.Interrupted;
        }
        catch (Exception e) when ((_options.FailFast || _options.MaxFailedTrials is not null) && e is not (OperationCanceledException or TrialDirectoryException or StudyStorageException) && !failures.IsEmpty)
        {
            stop = CommandStudyStop.FailedFast;
            failedTrial = failures.FirstOrDefault(t => t.FailReason is { } r && (r == e.Message || r.EndsWith(e.Message, StringComparison.Ordinal)))
                ?? failures.FirstOrDefault(t => t.FailReason != Execution.Study.InterruptedReason);
        }
        FrozenTrial? goalTrial = null;
        var counted = 0;
        if (stop == CommandStudyStop.Finished && _options.Goal is { } goal
            && await Study.GetGoalTrialAsync(goal, CancellationToken.None).ConfigureAwait(false) is { } reached)
            (stop, goalTrial) = (CommandStudyStop.GoalReached, reached);
        if (_options.MaxFailedTrials is { } max)
        {
            var studyFailures = await Study.GetCountedFailuresAsync(CancellationToken.None).ConfigureAwait(false);
            counted = studyFailures.Count;
            // The limit's last failure names the stop (failures with the same reason cannot be told apart by the exception);
            // when another process's failure reached it, this run started nothing more and ends as its own would have.
            if (stop is CommandStudyStop.Finished or CommandStudyStop.FailedFast && counted >= max && !_options.FailFast)
                (stop, failedTrial) = (CommandStudyStop.FailedFast, studyFailures[^1]);
        }
        var best = await Study.GetBestTrialAsync(CancellationToken.None).ConfigureAwait(false);
        return new CommandStudyResult(stop, completed, pruned, failedCount, resumed, failedTrial, best) { GoalTrial = goalTrial, FailedTrials = counted };
    }

    private async Task<int> ResumeInterruptedAsync(CancellationToken ct)
    {
        var resumed = 0;
        foreach (var t in await Study.GetTrialsAsync(ct).ConfigureAwait(false))
        {
            if (t.State != TrialState.Failed || t.FailReason != Execution.Study.InterruptedReason
                || t.SystemAttributes.ContainsKey(SystemAttributeKeys.RetriedBy)) continue;
            // Atomic in storage: when several workers resume at once, one of them re-enqueues it.
            if (await Study.Storage.RetryTrialAsync(t.Id, ct).ConfigureAwait(false) is not null) resumed++;
        }
        return resumed;
    }
}
