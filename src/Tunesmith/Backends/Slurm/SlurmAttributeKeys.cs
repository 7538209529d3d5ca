namespace Tunesmith.Backends.Slurm;

/// <summary>The system attributes a trial run by a Slurm job carries (and the study attributes <c>tunesmith slurm</c> keeps).</summary>
public static class SlurmAttributeKeys
{
    /// <summary>Trial: the job that ran this attempt, as Slurm shows it (<c>40_3</c> for an array task), with <c>#N</c> after its N-th requeue.</summary>
    public const string JobId = "slurm_job_id";
    /// <summary>Trial: every job that ran the trial so far, comma-separated, oldest first (one per attempt).</summary>
    public const string JobIds = "slurm_job_ids";
    /// <summary>Trial: how many times the trial was sent back to the queue by a time limit or preemption before this attempt.</summary>
    public const string Resumptions = "slurm_resumptions";
    /// <summary>Trial: seconds this attempt ran.</summary>
    public const string Runtime = "slurm_runtime_s";
    /// <summary>Trial: seconds all attempts ran together.</summary>
    public const string TotalRuntime = "slurm_total_runtime_s";
    /// <summary>Trial: why Slurm stopped this attempt (<c>walltime</c>, <c>preempted</c>, <c>cancelled</c>); absent when it was not stopped.</summary>
    public const string Stop = "slurm_stop";
    /// <summary>Trial: the node that ran this attempt.</summary>
    public const string Node = "node";
    /// <summary>Trial: the compute class that ran this attempt.</summary>
    public const string ComputeClass = "compute_class";
    /// <summary>Trial: the hardware of the worker that ran it (CPUs, GPU model and memory), as one line.</summary>
    public const string Hardware = "hardware";
    /// <summary>Study: the jobs submitted for it, comma-separated <c>JOBID:CLASS:TASKS</c> entries.</summary>
    public const string StudyJobs = "slurm_jobs";
    /// <summary>Study: what a worker does with its trial when its job is cancelled: <c>return</c> (to Waiting, the default) or <c>fail</c>.</summary>
    public const string CancelPolicy = "slurm_cancel_policy";
}

/// <summary>Why Slurm stopped a job early, from the job's own state.</summary>
public enum SlurmStopCause
{
    /// <summary>Not stopped by Slurm (or not known).</summary>
    None,
    /// <summary>The pre-walltime signal arrived, or the job hit its time limit (<c>TIMEOUT</c>).</summary>
    Walltime,
    /// <summary>A higher-priority job preempted it (<c>PREEMPTED</c>), or it was requeued from outside.</summary>
    Preempted,
    /// <summary>Someone cancelled it (<c>scancel</c>: <c>CANCELLED</c>).</summary>
    Cancelled,
}

/// <summary>Reads a stop cause from a Slurm job state.</summary>
public static class SlurmStopCauses
{
    /// <summary>The cause a job state tells (<c>TIMEOUT</c> → walltime, <c>PREEMPTED</c>/<c>REQUEUED</c> → preempted, <c>CANCELLED</c> → cancelled).</summary>
    public static SlurmStopCause FromJobState(string? state) => state switch
    {
        "TIMEOUT" or "DEADLINE" => SlurmStopCause.Walltime,
        "PREEMPTED" or "REQUEUED" or "REQUEUE_HOLD" or "REQUEUE_FED" => SlurmStopCause.Preempted,
        "CANCELLED" => SlurmStopCause.Cancelled,
        _ => SlurmStopCause.None,
    };

    /// <summary>
    /// The cause of a SIGTERM from the job as Slurm shows it at that moment. While its processes are being signalled a job
    /// is <c>COMPLETING</c> in <c>scontrol</c>; then the reason tells: <c>TimeLimit</c> is the walltime, a reason naming
    /// preemption is a preemption, none is an <c>scancel</c>. A final state (from <c>sacct</c>, or once it is known) is read as is.
    /// </summary>
    public static SlurmStopCause FromJob(SlurmJobInfo? job) => FromJob(job, null);

    /// <summary>
    /// As <see cref="FromJob(SlurmJobInfo?)"/>, for the job a worker runs in, which has run <paramref name="ownRestarts"/>
    /// times before (<c>SLURM_RESTART_COUNT</c>): when Slurm shows more restarts than that, Slurm has requeued the job
    /// while it ran — a preemption with <c>PreemptMode=REQUEUE</c> (captured on Slurm 22.05: <c>COMPLETING</c>, no
    /// reason, <c>Restarts</c> already one higher, which without this reads as an scancel) or an operator's requeue.
    /// </summary>
    public static SlurmStopCause FromJob(SlurmJobInfo? job, int? ownRestarts)
    {
        if (job is null) return SlurmStopCause.None;
        if (RequeuedBySlurm(job, ownRestarts)) return SlurmStopCause.Preempted;
        if (job.State != "COMPLETING") return FromJobState(job.State);
        return job.Reason switch
        {
            "TimeLimit" or "DeadLine" => SlurmStopCause.Walltime,
            { } r when r.Contains("Preempt", StringComparison.OrdinalIgnoreCase) => SlurmStopCause.Preempted,
            _ => SlurmStopCause.Cancelled,
        };
    }

    /// <summary>True when Slurm shows more restarts of the job than the run that asks has seen (<paramref name="ownRestarts"/>): Slurm requeued it.</summary>
    public static bool RequeuedBySlurm(SlurmJobInfo? job, int? ownRestarts) => job is not null && ownRestarts is { } own && job.Restarts > own;

    /// <summary>
    /// Whether a cancel that reached one array task stopped its whole array, judged from the array's other tasks as Slurm
    /// shows them then: none is left pending or running and at least one was cancelled too (an array of one task counts as
    /// whole). An array whose other tasks all finished normally was not cancelled as a whole: only this task was.
    /// </summary>
    public static bool IsWholeArrayCancel(IReadOnlyCollection<SlurmJobInfo> otherTasks)
    {
        ArgumentNullException.ThrowIfNull(otherTasks);
        if (otherTasks.Count == 0) return true;
        if (otherTasks.Any(t => t.IsActive && t.State != "COMPLETING")) return false;
        return otherTasks.Any(t => FromJob(t) == SlurmStopCause.Cancelled);
    }

    /// <summary>The word stored in <see cref="SlurmAttributeKeys.Stop"/>.</summary>
    public static string Word(this SlurmStopCause cause) => cause switch
    {
        SlurmStopCause.Walltime => "walltime",
        SlurmStopCause.Preempted => "preempted",
        SlurmStopCause.Cancelled => "cancelled",
        _ => "none",
    };
}
