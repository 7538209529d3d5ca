using Tunesmith.Backends.Slurm;
using Tunesmith.Cli.Internal.Progress;
using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Execution.Commands;
using Tunesmith.Backends.Resources;
using Tunesmith.Reporting;

namespace Tunesmith.Cli.Internal;

/// <summary>What <c>run</c> and <c>worker</c> share: GPU discovery, the resource pool, the progress view, signal handling and the summary.</summary>
internal static class CommandRunSession
{
    /// <summary>How many of the best trials the results table at the end of <c>run</c> shows.</summary>
    public const int ResultsTableRows = 10;

    /// <summary>
    /// Runs the study's command trials on this machine and returns the exit code. With <paramref name="resultsTable"/>
    /// (<c>run</c>), ends with the best trials as <c>tunesmith report</c> prints them, unless quiet or JSON. The trials'
    /// processes run on <paramref name="time"/> and log to <paramref name="loggers"/>: the entry point's, as the study does.
    /// </summary>
    public static async Task<int> RunAsync(Study study, StudyFile file, string storageUrl, CommandStudyOptions runOptions,
        IReadOnlyDictionary<string, object?> fixedParams, ResourcePool pool, ProgressMode mode, CliConsole console, TimeProvider time,
        Microsoft.Extensions.Logging.ILoggerFactory loggers, bool resultsTable = false, SlurmTrialJob? slurmJob = null, CancellationToken cancellationToken = default,
        string? raiseBudget = null)
    {
        if (slurmJob is not null) runOptions = runOptions with { AroundTrial = slurmJob.RunTrialAsync };

        var history = await study.RefreshAsync(cancellationToken);
        // An interrupted trial of an earlier run is about to be retried (ResumeInterrupted): like any retried trial it stops
        // counting, and its retry counts when it finishes. Counted here too, a resumed run's lines read [5/4], [6/4].
        var finishedBefore = history.Trials.Count(t => t.State.IsFinished() && !t.SystemAttributes.ContainsKey(SystemAttributeKeys.RetriedBy)
            && !(runOptions.ResumeInterrupted && t.State == TrialState.Failed && t.FailReason == Study.InterruptedReason));
        var pausedBefore = history.Trials.Where(t => t.State == TrialState.Paused).Select(t => t.Number);
        var progress = new RunProgress(study.Name, study.Direction, study.Metric, runOptions.Trials, finishedBefore, history.Best, time, pausedBefore);
        var runDirectory = await StudyFileRun.RunDirectoryAsync(file, storageUrl, study.Storage, cancellationToken: cancellationToken)
            ?? throw new InvalidOperationException($"study '{study.Name}' is not in its storage");
        var runner = new CommandStudyRunner(study, StudyFileRun.ObjectiveOptions(file, runDirectory, pool, fixedParams, progress, loggers, time), runOptions);

        if (mode != ProgressMode.Json && mode != ProgressMode.Quiet)
            console.Error.WriteLine($"study '{study.Name}' ({study.Direction.ToString().ToLowerInvariant()} {study.Metric}) in {StorageUrl.Shown(storageUrl)}: " +
                $"{(runOptions.Trials is { } n ? $"budget {Formats.Count(n, "trial")}" : "no trial budget")}, parallel {runner.EffectiveParallelism}" +
                // The pool caps what runs at once; say so, or parallel: 4 showing as 2 reads as a mistake.
                (runner.EffectiveParallelism < runOptions.Parallel ? $" ({runOptions.Parallel} asked, as many as resources: allows at once)" : "") +
                (pool.Gpus.Count > 0 ? $", GPUs {string.Join(",", pool.Gpus)}" : "") + $"; trial logs in {Path.Combine(runDirectory, "trials")}");

        // Inside a Slurm job the job's own signals (SIGUSR1 before the time limit, SIGTERM) stop the run; see SlurmSignals.
        using var signal = slurmJob is null ? new InterruptSignal() : null;
        using var slurmSignals = slurmJob is null ? null : new SlurmSignals(slurmJob);
        // Once the handlers are in place: the job's own time left (from Slurm) sets when its trial stops, not the signal's timing.
        _ = slurmJob?.WatchTimeLimitAsync();
        // The command's own token stops the run as a signal does.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(signal?.Token ?? slurmJob!.Token, cancellationToken);
        var result = await ProgressViews.ShowWhileAsync(mode, progress, console, () => runner.RunAsync(stop.Token), pool);
        if (slurmJob is not null && await slurmJob.FinishAsync())
        {
            console.Error.WriteLine($"tunesmith: Slurm stopped the job ({slurmJob.Cause.Word()}); its trial went back to the queue and the job was requeued");
            return ExitCodes.Ok;
        }

        var summary = $"study '{study.Name}': this run {result.Completed} complete, {result.Pruned} pruned, {result.Failed} failed"
            + (progress.Retried > 0 ? $" ({progress.Retried} retried)" : "")
            + (progress.Paused > 0 ? $", {progress.Paused} paused (a run with budget left may promote them)" : "");
        summary += ResumedNote(result.Resumed);
        if (mode == ProgressMode.Json) { } // the events said it all
        else console.Error.WriteLine(summary);
        if (result.Stop == CommandStudyStop.Finished && mode != ProgressMode.Quiet && runOptions.Trials is { } budget)
            foreach (var line in await BudgetLinesAsync(study, budget, ranNothing: result.Completed + result.Pruned + result.Failed + result.Resumed == 0, raiseBudget))
                console.Error.WriteLine(line);
        if (resultsTable && mode is not (ProgressMode.Json or ProgressMode.Quiet))
            await WriteResultsTableAsync(study, storageUrl, console);
        if (result.Best is { } best && mode != ProgressMode.Json)
            console.Out.WriteLine($"best: trial {best.Number} {study.Metric}={Formats.Value(best.Value)}" + (best.Params.Count > 0 ? " " + RunProgress.FormatParams(best.Params) : ""));

        switch (result.Stop)
        {
            case CommandStudyStop.Interrupted when slurmJob is not null:
                console.Error.WriteLine(slurmJob.ReturnedTrial is null
                    ? $"tunesmith: Slurm stopped the job ({slurmJob.Cause.Word()}); its trial was recorded"
                    : $"tunesmith: Slurm stopped the job ({slurmJob.Cause.Word()}); its trial went back to the queue");
                return slurmJob.Cause == SlurmStopCause.Cancelled ? ExitCodes.Terminated : ExitCodes.Ok;
            case CommandStudyStop.Interrupted:
                console.Error.WriteLine($"tunesmith: interrupted; running trials were stopped and recorded Failed (interrupted). Resume with the same command.");
                return signal!.ExitCode ?? ExitCodes.Interrupted;
            case CommandStudyStop.FailedFast:
                var reason = result.FailedTrial?.FailReason?.Split('\n', 2)[0] ?? "a trial failed";
                var failedNumber = result.FailedTrial?.Number.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?";
                console.Error.WriteLine(runOptions.MaxFailedTrials is { } maxFailed && !runOptions.FailFast
                    ? $"tunesmith: max_failed_trials: study '{study.Name}' has {Formats.Count(result.FailedTrials, "failed trial")}, its limit is {maxFailed}; no trial starts (the last, trial {failedNumber}: {reason}). Raise max_failed_trials to run more"
                    : $"tunesmith: fail_fast: trial {failedNumber} failed: {reason}");
                return ExitCodes.Failed;
            case CommandStudyStop.GoalReached when result.GoalTrial is { } goalTrial:
                var ranNothing = result.Completed + result.Pruned + result.Failed == 0;
                console.Error.WriteLine($"tunesmith: study '{study.Name}' reached its goal {study.Metric} {(study.Direction == Direction.Maximize ? "≥" : "≤")} {Formats.Value(runOptions.Goal)} "
                    + $"with trial {goalTrial.Number} ({Formats.Value(goalTrial.Value)}){(ranNothing ? " before this run; nothing to run" : "; no trial started after it")}");
                return ExitCodes.Ok;
            default:
                if (result.Completed == 0 && result.Pruned == 0 && result.Failed > 0)
                {
                    // Nothing came of this run: say so in the exit code, or a script carries on as if it had worked.
                    var last = (await study.GetTrialsAsync()).LastOrDefault(t => t.State == TrialState.Failed)?.FailReason?.Split('\n', 2)[0] ?? "see the trial logs";
                    console.Error.WriteLine($"tunesmith: every trial of this run failed ({result.Failed}); the last: {last}");
                    return ExitCodes.Failed;
                }
                return ExitCodes.Ok;
        }
    }

    /// <summary>
    /// What the library logs as <see cref="StudyLogEvents.BudgetSpent"/> and <see cref="StudyLogEvents.WaitingBeyondBudget"/>,
    /// in the CLI's words (the CLI's logger drops those): a run that started nothing because the study's budget was spent,
    /// and enqueued trials past the budget, which no run starts. <paramref name="raiseBudget"/> is the command's way to raise
    /// it (<c>--trials</c> of <c>run</c>), with {0} the budget that runs them all.
    /// </summary>
    /// <summary>The run summary's note on trials an earlier run left interrupted and this one ran again: " (1 interrupted trial resumed)"; empty for none.</summary>
    internal static string ResumedNote(int resumed) => resumed > 0 ? $" ({Formats.Count(resumed, "interrupted trial")} resumed)" : "";

    private static async Task<IReadOnlyList<string>> BudgetLinesAsync(Study study, int budget, bool ranNothing, string? raiseBudget)
    {
        var trials = await study.GetTrialsAsync();
        var waiting = study.Sampler is Tunesmith.Samplers.IFiniteSampler ? 0 : trials.Count(t => t.State == TrialState.Waiting);
        var taken = trials.Count(t => t.State != TrialState.Waiting && !t.SystemAttributes.ContainsKey(SystemAttributeKeys.RetriedBy));
        if (taken < budget) return [];
        string Raise(int all) => raiseBudget is null ? "" : "; " + string.Format(System.Globalization.CultureInfo.InvariantCulture, raiseBudget, all);
        if (ranNothing && budget > 0)
            return [$"tunesmith: study '{study.Name}' already has {taken} of its budget of {Formats.Count(budget, "trial")}; nothing to run" +
                (waiting > 0 ? $", and its {Formats.Count(waiting, "waiting trial")} will not run" : "") + Raise(taken + Math.Max(waiting, 1))];
        if (waiting > 0)
            return [$"tunesmith: study '{study.Name}': {Formats.Count(waiting, "waiting trial")} {(waiting == 1 ? "is" : "are")} beyond its budget of {Formats.Count(budget, "trial")} and will not run" + Raise(taken + waiting)];
        return [];
    }

    /// <summary>
    /// What a run on this machine needs besides storage — a program that can start, the GPUs (<paramref name="gpus"/>, else
    /// the environment), a resource pool the file's <c>resources:</c> fit — checked before the study is opened, so that a
    /// refused <c>run</c> leaves no new study behind; one line (<see cref="CliUsageException"/>) for each problem.
    /// </summary>
    public static async Task<ResourcePool> PreparePoolAsync(StudyFile file, string? gpus, int parallel, CliConsole console, TimeProvider time)
    {
        RefuseUnstartableCommand(file);
        IReadOnlyList<string> gpuIds;
        try { gpuIds = (await GpuDiscovery.DiscoverAsync(gpus, console.GetEnvironment)).Gpus; }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            throw new CliUsageException($"{(gpus is null ? "CUDA_VISIBLE_DEVICES" : $"--gpus {gpus}")}: {e.Message}");
        }
        // Every tunesmith process of this machine counts its GPUs in one ledger, so that two runs never share a GPU beyond its share.
        var ledger = file.Resources.GpusPerTrial > 0 ? GpuLedger.ForMachine(console.GetEnvironment) : null;
        ResourcePool pool;
        try { pool = StudyFileRun.CreatePool(file, gpuIds, parallel, ledger, time); }
        catch (ArgumentException e) { throw new CliUsageException($"{file.SourceName}: resources: {ErrorLine.WithoutParamName(e)}"); }
        try { ledger?.Check(); }
        catch (IOException e) { throw new CliUsageException(e.Message); }
        return pool;
    }

    /// <summary>
    /// A command whose program cannot be found would fail every trial in a fraction of a second: stop before the first one,
    /// in one line. (A program given by a placeholder is checked trial by trial.)
    /// </summary>
    private static void RefuseUnstartableCommand(StudyFile file)
    {
        if (file.Command.Arguments.FirstOrDefault() is not { } first || first.Parts.Any(p => p.IsPlaceholder)) return;
        var program = string.Concat(first.Parts.Select(p => p.Text));
        var workingDirectory = file.Workdir ?? file.Directory;
        var path = file.Env.TryGetValue("PATH", out var p) ? p : Environment.GetEnvironmentVariable("PATH");
        if (Tunesmith.Backends.Processes.LocalProcessBackend.FindProgram(program, workingDirectory, path) is null)
            throw new CliUsageException($"{file.SourceName}: command: cannot start '{program}': no such program (looked in the working directory {workingDirectory} and on PATH); no trial was run");
    }

    // The mission's output: every configuration with its score, sorted. The top rows here; `report` has them all.
    private static async Task WriteResultsTableAsync(Study study, string storageUrl, CliConsole console)
    {
        var table = await ReportTable.FromStorageAsync(study.Storage, study.Record, study.Metric, ResultsTableRows);
        if (table.Rows.Count == 0) return;
        var order = $"{(study.Direction == Direction.Maximize ? "highest" : "lowest")} {study.Metric} first";
        // Paused, running, pruned and failed trials follow the ranked ones, by number: the heading says so.
        if (table.Rows.Any(r => r.Rank is null)) order += table.Rows.Any(r => r.Rank is not null) ? ", then the unranked by number" : "; none is complete, so none is ranked";
        var more = table.TotalTrials - table.Rows.Count;
        console.Out.WriteLine();
        console.Out.WriteLine(more > 0
            ? $"the best {table.Rows.Count} of {table.TotalTrials} trials ({order}):"
            : table.TotalTrials == 1 ? $"the 1 trial ({order}):" : $"all {table.TotalTrials} trials ({order}):");
        console.Out.Write(ReportExporters.Get("table").Render(table));
        if (more > 0)
        {
            // A storage that came from $TUNESMITH_STORAGE is left to it (StorageUrl.HintFlag).
            console.Out.WriteLine($"... {more} more: tunesmith report --study {SbatchScript.Quote(study.Name)}{StorageUrl.HintFlag(storageUrl, console)}");
        }
        console.Out.WriteLine();
    }
}
