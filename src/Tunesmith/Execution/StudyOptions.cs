using Microsoft.Extensions.Logging;
using Tunesmith.Samplers;
using Tunesmith.Schedulers;
using Tunesmith.Storage;

namespace Tunesmith.Execution;

/// <summary>How a study is opened: its direction, sampler, scheduler, storage and services.</summary>
public sealed record StudyOptions
{
    /// <summary>
    /// Minimize (default) or maximize the objective; set when the study is created. Opening an existing study with
    /// <see cref="Study.CreateOrLoadAsync"/> and the other direction throws <see cref="StudyDirectionMismatchException"/>;
    /// <see cref="Study.LoadAsync"/> does not read it.
    /// </summary>
    public Direction Direction { get; init; } = Direction.Minimize;

    /// <summary>The sampler; default a seedless <see cref="RandomSampler"/>.</summary>
    public ISampler? Sampler { get; init; }

    /// <summary>The scheduler consulted on every report; null: trials always run to the end.</summary>
    public IScheduler? Scheduler { get; init; }

    /// <summary>Storage URL (<c>memory:</c>, <c>sqlite:///path.db</c>); ignored when <see cref="StorageInstance"/> is set. Default <c>memory:</c>.</summary>
    public string Storage { get; init; } = "memory:";

    /// <summary>A storage to use (not disposed by the study), e.g. to share one in-memory storage between studies.</summary>
    public IStudyStorage? StorageInstance { get; init; }

    /// <summary>The name of the objective among a trial's metrics (default "value").</summary>
    public string Metric { get; init; } = "value";

    /// <summary>How often running trials heartbeat (default 10 s).</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A Running trial whose heartbeat is older than this is failed as stale (its worker died: a killed job, a lost node)
    /// by any worker of the study, at each of its heartbeats, and re-run when <see cref="OptimizeOptions.Retries"/> allows.
    /// Null (default): the larger of 60 s and 6 heartbeat intervals. It must be longer than <see cref="HeartbeatInterval"/>
    /// (give live workers several missed beats of slack: a loaded machine delays them).
    /// </summary>
    public TimeSpan? StaleGracePeriod { get; init; }

    /// <summary>The grace period in force: <see cref="StaleGracePeriod"/>, or its default.</summary>
    public TimeSpan EffectiveStaleGracePeriod =>
        StaleGracePeriod ?? TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(60).Ticks, HeartbeatInterval.Ticks * 6));

    /// <summary>
    /// Where in-process trials keep their checkpoints (<c>RunDirectory/trials/n/checkpoint-…</c>, see
    /// <see cref="Trial.Report(long, double, Action{string})"/>). Workers that share a study must see the same directory
    /// (PBT copies checkpoints between their trials). Null (default): the study's directory under <c>runs/</c> beside a SQLite
    /// database, else under the current directory, named as command trials' are (<see cref="RunDirectories"/>:
    /// <c>runs/&lt;study&gt;-&lt;hash&gt;</c>, stored with the study); for <c>memory:</c> storage a temporary directory
    /// removed when the study is disposed.
    /// Created only when a trial saves a checkpoint.
    /// </summary>
    public string? RunDirectory { get; init; }

    /// <summary>
    /// Keep the study's trials in memory and follow other workers' changes with each ask and finish (read in the same
    /// storage call, no extra round trip) even when the sampler needs no history (random, grid), so that
    /// <see cref="Study.DoneTrialCount"/> counts the whole study. Default false: only a sampler that reads the history keeps one.
    /// </summary>
    public bool KeepHistory { get; init; }

    /// <summary>Clock for deadlines and heartbeats.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Logging; default none.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>
    /// Identifies this process's worker in storage; default <c>host:pid:start:boot:random</c> (the process's start time and
    /// the machine's boot id, so another worker on the same machine can tell at once that this one is gone and retry its
    /// trials). A custom id gets only <see cref="StaleGracePeriod"/>.
    /// </summary>
    public string? WorkerId { get; init; }
}

/// <summary>How <see cref="Study.OptimizeAsync(Func{Trial, CancellationToken, Task{double}}, OptimizeOptions?, CancellationToken)"/> runs.</summary>
public sealed record OptimizeOptions
{
    /// <summary>
    /// The study's trial budget: no trial starts once the study holds this many (Running or finished, counted in storage,
    /// so the budget holds across every process running the study and across resumes). Null: no limit.
    /// </summary>
    public int? Trials { get; init; }

    /// <summary>How many trials run at once in this process (default 1).</summary>
    public int Parallelism { get; init; } = 1;

    /// <summary>
    /// Time budget: no trial starts after the deadline. The first process to start sets the deadline in storage and every
    /// process that joins while it is live shares it; a run that starts after it expired opens a new window.
    /// </summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>
    /// Rethrow the first exception of an objective (after recording the trial as Failed) instead of going on: no new trial
    /// starts and the objectives still running see their cancellation token cancelled. With <see cref="Retries"/>, only a
    /// failure that is not retried stops the run.
    /// </summary>
    public bool FailFast { get; init; }

    /// <summary>
    /// The study's goal, Katib's <c>objective.goal</c>: once a Complete trial's value reaches it (≥ when maximizing, ≤ when
    /// minimizing), no trial starts; the trials already running finish and are stored, and the run returns normally, as
    /// after <see cref="Study.Stop"/>. Read from storage before each new trial, so it holds for every process running the
    /// study: a run of a study whose goal is already reached starts nothing. Null: no goal.
    /// </summary>
    public double? Goal { get; init; }

    /// <summary>
    /// Ends the run as <see cref="FailFast"/> does once the study holds this many failed trials (every process's): Failed,
    /// not retried (a trial whose <see cref="Retries"/> are left counts only when its last attempt fails) and not
    /// "interrupted". The run whose trial makes the count rethrows that trial's exception and stops its running trials; a
    /// run that finds the count reached before a new trial starts nothing and returns. <see cref="FailFast"/> is 1. Null: no limit.
    /// </summary>
    public int? MaxFailedTrials { get; init; }

    /// <summary>
    /// How many times a failed trial's params are re-run (default 0): each retry is a new trial with system attributes
    /// <c>retry_of</c> (the first attempt's number) and <c>retry_count</c>; failures marked "interrupted" do not count.
    /// </summary>
    public int Retries { get; init; }

    /// <summary>
    /// At most this many trials are started by this call, whatever the study's budget (e.g. <c>tunesmith worker --one-trial</c>,
    /// a cluster job that runs one trial); null: no cap. The study-wide <see cref="Trials"/> budget still holds. Paused
    /// trials the scheduler promotes are continued beside the cap (they were started by some run already), and a capped
    /// run that finds the budget spent and nothing else running or waiting goes on to finish the paused trials the
    /// scheduler names (<see cref="Schedulers.IScheduler.SuggestFinish"/>): the last one-trial job out finishes the study.
    /// </summary>
    public int? MaxTrialsThisRun { get; init; }

    /// <summary>
    /// Called after each trial finishes (in any state), on the thread that ran it, with the trial as stored: a failed
    /// trial that was retried carries <see cref="SystemAttributeKeys.RetriedBy"/>.
    /// </summary>
    public IReadOnlyList<Action<Study, FrozenTrial>> Callbacks { get; init; } = [];

    /// <summary>
    /// Called for each trial of another runner that this run found dead and failed (and retried when allowed): see
    /// <see cref="Study.FailStaleTrialsAsync"/>.
    /// </summary>
    public IReadOnlyList<Action<Study, TrialRecovery>> RecoveryCallbacks { get; init; } = [];

    /// <summary>
    /// What a worker takes before it starts a trial in storage (a command study's GPU share, which another process may
    /// hold): the worker waits for it first, so that no trial is Running in storage while it waits; the trial gets it as
    /// <see cref="Trial.Held"/>, and it is given back once the trial ends (or kept for the worker's next trial when that
    /// was started together with the finish). Only when the study looks able to start a new trial (see
    /// <see cref="Study.OptimizeAsync"/>); else the trial is asked for without it. Null: nothing is taken before.
    /// </summary>
    internal Func<CancellationToken, Task<IDisposable>>? HoldBeforeStart { get; init; }

    /// <summary>Validates the options; throws naming the property.</summary>
    public void Validate()
    {
        if (Trials is < 0) throw new ArgumentOutOfRangeException(nameof(Trials), Trials, "trials must be ≥ 0");
        if (Retries < 0) throw new ArgumentOutOfRangeException(nameof(Retries), Retries, "retries must be ≥ 0");
        if (MaxTrialsThisRun is < 0) throw new ArgumentOutOfRangeException(nameof(MaxTrialsThisRun), MaxTrialsThisRun, "the per-run trial cap must be ≥ 0");
        if (Parallelism < 1) throw new ArgumentOutOfRangeException(nameof(Parallelism), Parallelism, "parallelism must be ≥ 1");
        if (Timeout is { } t && t <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(Timeout), Timeout, "timeout must be > 0");
        if (Goal is { } g && !double.IsFinite(g)) throw new ArgumentOutOfRangeException(nameof(Goal), Goal, "the goal must be a finite number");
        if (MaxFailedTrials is < 1) throw new ArgumentOutOfRangeException(nameof(MaxFailedTrials), MaxFailedTrials, "the failed-trial limit must be ≥ 1");
    }
}

/// <summary>A trial whose runner died, failed by another worker: the failed trial (its reason says why) and its retry, if any.</summary>
/// <param name="Failed">The trial as failed (Failed, reason "crashed: …" or "stale: …").</param>
/// <param name="Retry">The Waiting trial that re-runs its params, or null when no retry was left.</param>
public sealed record TrialRecovery(FrozenTrial Failed, FrozenTrial? Retry);
