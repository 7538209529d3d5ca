using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tunesmith.Backends;
using Tunesmith.Backends.Processes;
using Tunesmith.Schedulers;
using Tunesmith.Spaces;

namespace Tunesmith.Execution.Commands;

/// <summary>
/// Runs one trial as an external program, speaking the black-box trial protocol: it draws the trial's configuration and
/// runs it on a <see cref="LocalProcessBackend"/> (which prepares the trial directory, starts the program from an argv
/// array with the TUNESMITH_* environment and keeps its stdout/stderr), feeds its <c>tunesmith:report</c> lines to the
/// study's scheduler and records its outcome. Pass <see cref="RunAsync"/> to <see cref="Study.OptimizeAsync"/>, or use
/// <see cref="CommandStudyRunner"/>.
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
    public const string StdoutFile = TrialDirectories.StdoutFile;
    /// <summary>The program's stderr, kept in the trial directory.</summary>
    public const string StderrFile = TrialDirectories.StderrFile;
    /// <summary>The trial's params as a JSON object.</summary>
    public const string ParamsFile = TrialDirectories.ParamsFile;
    /// <summary>The outcome (and, before it, a result the program may write itself).</summary>
    public const string ResultFile = TrialDirectories.ResultFile;
    /// <summary>Where a retry moves the files of the earlier attempts that ran in the same directory.</summary>
    public const string AttemptsFolder = TrialDirectories.AttemptsFolder;

    private readonly CommandObjectiveOptions _options;
    private readonly ILogger _logger;
    private int _warnedNoReports;
    private int _warnedNoCheckpoint;
    // One backend per objective metric (a study's): it reads a bare-number result as that metric. In practice one.
    private readonly ConcurrentDictionary<string, LocalProcessBackend> _backends = new(StringComparer.Ordinal);

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
    public IReadOnlyCollection<int> RunningTrials => _backends.Values.SelectMany(b => b.RunningTrials).ToArray();

    /// <summary>The directory of trial <paramref name="directoryNumber"/> under <paramref name="rootDirectory"/>: <c>root/trials/n</c>.</summary>
    public static string TrialDirectory(string rootDirectory, int directoryNumber) => TrialDirectories.TrialDirectory(rootDirectory, directoryNumber);

    /// <summary>The trial whose directory a trial uses: its first attempt's (system attribute <c>retry_of</c>), else its own.</summary>
    public static int DirectoryNumber(int trialNumber, IReadOnlyDictionary<string, object?> systemAttributes) =>
        systemAttributes.TryGetValue(SystemAttributeKeys.RetryOf, out var r) && ParamValues.TryToLong(r, out var root) ? (int)root : trialNumber;

    /// <summary>
    /// Stops a running trial on demand (SIGTERM to its whole process tree, the grace period, SIGKILL) and records it
    /// Pruned: the hook for early-stopping schedulers and "stop this trial" buttons. False when it is not running here.
    /// </summary>
    public bool RequestStop(int trialNumber) => _backends.Values.Any(b => b.RequestStop(trialNumber));

    /// <summary>
    /// SIGKILLs every running trial's whole process tree at once, without a grace period: for a second Ctrl+C, or a host
    /// that must exit now. Trial programs run in sessions of their own, so they would otherwise outlive a killed runner.
    /// The trials are recorded as usual if the runner lives on (Failed "interrupted" when the run was cancelled).
    /// </summary>
    public void KillRunningTrees()
    {
        foreach (var backend in _backends.Values) backend.KillRunningTrees();
    }

    private LocalProcessBackend BackendFor(string metric, Direction direction) =>
        _backends.GetOrAdd($"{metric}\n{direction}", _ => new LocalProcessBackend(_options.ToBackendOptions(metric, direction)));

    /// <summary>Runs one trial's program to its outcome; the signature of <see cref="Study.OptimizeAsync"/>'s objective.</summary>
    /// <remarks>
    /// The study's scheduler hears every report. A stop ends the program (SIGTERM to its tree, the kill grace, SIGKILL):
    /// Pruned with its last value. A pause ends it the same way, after which it is recorded Paused and, when promoted,
    /// started again in the same directory with <c>TUNESMITH_RESUME_STEP</c>. An exploit (PBT) ends it, copies the source
    /// trial's checkpoint atomically into its directory and starts it again there with the source's params, perturbed,
    /// <c>TUNESMITH_RESTORE_FROM</c> naming the source and <c>TUNESMITH_RESUME_STEP</c> the source checkpoint's step.
    /// </remarks>
    public async Task<double> RunAsync(Trial trial, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(trial);
        var configuration = _options.Suggest?.Invoke(trial)
            ?? (_options.FixedParams.Count == 0 ? trial.Suggest(_options.Space!) : _options.Space!.Sample(new FixingSuggester(trial, _options.FixedParams)));
        var backend = BackendFor(trial.Study.Metric, trial.Study.Direction);
        var directoryNumber = DirectoryNumber(trial.Number, trial.SystemAttributes);
        IReadOnlyDictionary<string, object?> parameters = configuration;
        var resumeAfter = trial.ResumeStep;
        if (trial.SystemAttributes.ContainsKey(SystemAttributeKeys.RetryOf)
            && trial.SystemAttributes.GetValueOrDefault(SystemAttributeKeys.CheckpointStep) is null)
            resumeAfter = await SettleInterruptedExploitAsync(trial, backend, directoryNumber, cancellationToken).ConfigureAwait(false) ?? resumeAfter;
        if (resumeAfter is null && RetryResumeStep(trial) is { } retryStep && HoldsCheckpoint(backend.TrialDirectory(directoryNumber)))
        {
            trial.SetSystemAttribute(SystemAttributeKeys.ResumeStep, retryStep);
            await trial.FlushAsync(cancellationToken).ConfigureAwait(false);
            resumeAfter = retryStep;
        }
        int? checkpointFrom = null;
        while (true)
        {
            var request = new TrialStartRequest
            {
                StudyName = trial.Study.Name,
                TrialId = trial.Id,
                TrialNumber = trial.Number,
                Params = parameters,
                DirectoryNumber = directoryNumber,
                CheckpointFrom = checkpointFrom,
                ResumeAfterStep = resumeAfter,
                Held = trial.Held as Backends.Resources.ResourceLease,
            };
            var reporter = new TrialReporter(this, backend, trial, configuration, directoryNumber);
            var execution = await backend.StartAsync(request, reporter, cancellationToken).ConfigureAwait(false);
            if (!reporter.Started) RecordAttributes(trial, execution); // it could not start: the failure still names its directory
            var exit = await execution.Completion.ConfigureAwait(false);
            var directory = execution.Directory!;
            double? seconds = exit.ExitCode is null ? null : exit.Duration.TotalSeconds;
            if (exit.ExitCode is { } exitCode) trial.SetSystemAttribute(CommandAttributeKeys.ExitCode, (long)exitCode);
            switch (exit.Kind)
            {
                case TrialExitKind.Paused when reporter.Exploit is { } exploit:
                    (checkpointFrom, resumeAfter, parameters) = await PrepareExploitAsync(trial, exploit, exit, cancellationToken).ConfigureAwait(false);
                    continue;
                case TrialExitKind.Paused:
                    WriteOutcome(directory, trial, "Paused", null, exit.Result, exit.ExitCode, null, seconds);
                    // It resumes after the last step it reported, which may be later than the one it was paused at.
                    throw new TrialPausedException(trial.Number, trial.LastIntermediate?.Step ?? exit.LastStep ?? resumeAfter ?? 0);
                case TrialExitKind.Stopped:
                    WriteOutcome(directory, trial, "Pruned", trial.LastIntermediate?.Value, exit.Result, exit.ExitCode, null, seconds);
                    throw new TrialPrunedException(trial.Number, exit.LastStep ?? 0);
                case TrialExitKind.Interrupted:
                    if (exit.LastStep is { } lastStep) trial.SetSystemAttribute(CommandAttributeKeys.LastStep, lastStep);
                    WriteOutcome(directory, trial, "Failed", null, exit.Result, exit.ExitCode, Study.InterruptedReason, seconds);
                    throw new OperationCanceledException(cancellationToken);
                case TrialExitKind.Failed:
                    KeepMetrics(trial, exit.Result);
                    var reason = exit.Reason ?? "failed";
                    WriteOutcome(directory, trial, "Failed", null, exit.Result, exit.ExitCode, reason, seconds);
                    throw new TrialFailedException(reason);
                case TrialExitKind.Finished:
                    var metrics = exit.Result!;
                    KeepMetrics(trial, metrics);
                    var value = metrics[trial.Study.Metric];
                    WriteOutcome(directory, trial, "Complete", value, metrics, exit.ExitCode, null, seconds);
                    _logger.LogInformation("Trial {Number} complete: {Metric} = {Value}", trial.Number, trial.Study.Metric, value);
                    // A scheduler hears only reports: a program that prints none is never judged, which deserves a word (once a run).
                    if (trial.Study.Scheduler is { } scheduler && trial.Intermediate.Count == 0 && Interlocked.Exchange(ref _warnedNoReports, 1) == 0)
                        _logger.LogWarning("Trial {Number} completed without a tunesmith:report line, so scheduler '{Scheduler}' never judged it: "
                            + "print tunesmith:report {{\"step\": ..., \"{Metric}\": ...}} lines as it trains (docs/COMMAND_TRIALS.md)",
                            trial.Number, scheduler.Name, trial.Study.Metric);
                    return value;
                default:
                    throw new InvalidOperationException($"trial {trial.Number} ended {exit.Kind}, which a command objective does not ask for");
            }
        }
    }

    /// <summary>
    /// After a trial's program ended for an exploit: checks that the source still holds the checkpoint the decision named,
    /// and records the params it continues with. Returns what to start next: from the source's checkpoint with the new
    /// params — or, when the source changed meanwhile (it exploited another trial itself), from the trial's own checkpoint
    /// with its own params, since the source's directory no longer matches the params the decision took from it.
    /// </summary>
    private async Task<(int? CheckpointFrom, long? ResumeAfter, IReadOnlyDictionary<string, object?> Params)> PrepareExploitAsync(
        Trial trial, SchedulerDecision.ExploitDecision exploit, TrialExit exit, CancellationToken ct)
    {
        var history = await trial.Study.RefreshAsync(ct).ConfigureAwait(false);
        var source = history.Trials.FirstOrDefault(t => t.Number == exploit.FromTrialNumber);
        if (source is null || Schedulers.Pbt.PbtScheduler.CheckpointStep(source) is not { } step || step < exploit.FromStep)
        {
            _logger.LogWarning("Trial {Number}: trial {Source} no longer holds its checkpoint of step {Step}; going on from its own checkpoint",
                trial.Number, exploit.FromTrialNumber, exploit.FromStep);
            return (null, exit.LastStep, trial.Params);
        }
        trial.ReplaceParams(exploit.NewParams);
        trial.SetSystemAttribute(SystemAttributeKeys.RestoredFrom,
            ParamValues.ToJson([new("trial", (long)source.Number), new("step", exploit.FromStep)]));
        trial.SetSystemAttribute(SystemAttributeKeys.ResumeStep, exploit.FromStep);
        // Its directory is about to hold another trial's weights: not a checkpoint of its own params until it writes one.
        trial.SetSystemAttribute(SystemAttributeKeys.CheckpointStep, null);
        await trial.FlushAsync(ct).ConfigureAwait(false);
        _logger.LogInformation("Trial {Number} exploits trial {Source}: its checkpoint of step {Step}, params {Params}",
            trial.Number, source.Number, exploit.FromStep, ParamValues.ToJson(exploit.NewParams));
        return (DirectoryNumber(source.Number, source.SystemAttributes), exploit.FromStep, exploit.NewParams);
    }

    /// <summary>
    /// The retry of an attempt that exploited another trial and wrote no checkpoint of its own since: its runner may have
    /// died between storing the new params and the end of the copy (a checkpoint of hundreds of MB takes a while), leaving
    /// its directory with its own older weights, trained with params no trial holds now. The copy's record
    /// (<see cref="TrialDirectories.RestoreRecordFile"/>) tells: the copy landed, and the retry continues from it as the
    /// attempt would have (returns the step); or it did not, and that old checkpoint is moved to <c>attempts/</c> so the
    /// retry starts afresh with its params (returns null). Weights and params never come from two sources.
    /// </summary>
    private async Task<long?> SettleInterruptedExploitAsync(Trial trial, LocalProcessBackend backend, int directoryNumber, CancellationToken ct)
    {
        var history = await trial.Study.RefreshAsync(ct).ConfigureAwait(false);
        var attempt = history.Trials.FirstOrDefault(t => t.SystemAttributes.TryGetValue(SystemAttributeKeys.RetriedBy, out var r)
            && ParamValues.TryToLong(r, out var n) && n == trial.Number);
        if (attempt?.SystemAttributes.GetValueOrDefault(SystemAttributeKeys.RestoredFrom) is not string restoredFrom) return null;
        var restored = ParamValues.FromJsonObject(restoredFrom);
        if (!restored.TryGetValue("trial", out var t) || !ParamValues.TryToLong(t, out var sourceNumber)
            || !restored.TryGetValue("step", out var s) || !ParamValues.TryToLong(s, out var step)) return null;
        var directory = backend.TrialDirectory(directoryNumber);
        TrialDirectories.RecoverInterruptedCopy(directory);
        var source = history.Trials.FirstOrDefault(x => x.Number == sourceNumber);
        var sourceDirectory = source is null ? (int)sourceNumber : DirectoryNumber(source.Number, source.SystemAttributes);
        if (TrialDirectories.ReadRestoreRecord(directory) == TrialDirectories.RestoreRecord(sourceDirectory, step))
        {
            trial.SetSystemAttribute(SystemAttributeKeys.RestoredFrom, restoredFrom);
            trial.SetSystemAttribute(SystemAttributeKeys.ResumeStep, step);
            await trial.FlushAsync(ct).ConfigureAwait(false);
            _logger.LogInformation("Trial {Number}: its attempt {Attempt} had copied trial {Source}'s checkpoint of step {Step}; it goes on from that copy",
                trial.Number, attempt.Number, sourceNumber, step);
            return step;
        }
        var aside = TrialDirectories.SetCheckpointAside(directory, $"checkpoint-before-exploit-{attempt.Number.ToString(CultureInfo.InvariantCulture)}");
        _logger.LogWarning("Trial {Number}: its attempt {Attempt} ended before trial {Source}'s checkpoint was copied into {Directory}; it starts afresh with "
            + "its params (the source's, perturbed){Aside}", trial.Number, attempt.Number, sourceNumber, directory,
            aside is null ? "" : $", and the older checkpoint there, trained with other params, is kept in {aside}");
        return null;
    }

    /// <summary>
    /// The step a retry (a crash, a run interrupted and resumed, <c>retries:</c>) continues after, as a Slurm requeue and an
    /// in-process retry do: the last step its attempt reported (<see cref="SystemAttributeKeys.InheritedStep"/>), or under
    /// PBT its checkpoint's step (<see cref="SystemAttributeKeys.CheckpointStep"/>; without one,
    /// <see cref="SettleInterruptedExploitAsync"/> decided). Null for a first attempt or one with nothing reported.
    /// </summary>
    private static long? RetryResumeStep(Trial trial)
    {
        var attributes = trial.SystemAttributes;
        if (!attributes.ContainsKey(SystemAttributeKeys.RetryOf)) return null;
        var key = trial.Study.Scheduler is Schedulers.Pbt.PbtScheduler ? SystemAttributeKeys.CheckpointStep : SystemAttributeKeys.InheritedStep;
        return attributes.TryGetValue(key, out var v) && ParamValues.TryToLong(v, out var step) && step >= 0 ? step : null;
    }

    /// <summary>True when the trial directory holds a file besides Tunesmith's own: a checkpoint its program wrote.</summary>
    private static bool HoldsCheckpoint(string directory)
    {
        if (!Directory.Exists(directory)) return false;
        try
        {
            return new DirectoryInfo(directory).EnumerateFiles("*", SearchOption.AllDirectories)
                .Any(f => !TrialDirectories.IsOwnFile(Path.GetRelativePath(directory, f.FullName).Split(Path.DirectorySeparatorChar)[0]));
        }
        catch (IOException) { return false; }
    }

    private static void RecordAttributes(Trial trial, TrialExecution execution)
    {
        foreach (var (key, value) in execution.Attributes) trial.SetSystemAttribute(key, value);
    }

    /// <summary>Passes a trial's reports to its study (and so its scheduler), and carries out what the scheduler decides.</summary>
    private sealed class TrialReporter(CommandObjective owner, LocalProcessBackend backend, Trial trial, Configuration configuration, int directoryNumber)
        : ITrialObserver
    {
        private string? _directory;
        private Dictionary<string, (DateTime Written, long Length)>? _checkpointFiles;
        private bool _decided;
        private bool _warnedUnjudged;

        public bool Started { get; private set; }

        /// <summary>The exploit the scheduler decided (the program was asked to end for it), or null.</summary>
        public SchedulerDecision.ExploitDecision? Exploit { get; private set; }

        public async ValueTask StartedAsync(TrialExecution execution, CancellationToken cancellationToken)
        {
            Started = true;
            _directory = execution.Directory;
            if (trial.Study.Scheduler is Schedulers.Pbt.PbtScheduler) _checkpointFiles = CheckpointFiles();
            // Promoted (or retried into a PBT copy) with nothing to continue from: the program starts over, and would
            // otherwise do so silently at every promotion.
            if (execution.ResumedAfterStep is >= 0 and var after && (_checkpointFiles ?? CheckpointFiles()).Count == 0)
                WarnOnceNoCheckpoint("Trial {Number} resumes after step {Step}, but its directory {Directory} holds no checkpoint (no file besides "
                    + "Tunesmith's own): its program can only start over. Write one into TUNESMITH_TRIAL_DIR before each tunesmith:report (docs/COMMAND_TRIALS.md)",
                    trial.Number, after, execution.Directory!);
            RecordAttributes(trial, execution);
            await trial.FlushAsync(cancellationToken).ConfigureAwait(false);
            owner._options.Progress?.Report(new CommandTrialStarted(trial.Number, new Dictionary<string, object?>(configuration), execution.Directory!,
                execution.Gpus, directoryNumber == trial.Number ? null : directoryNumber, owner._options.TimeProvider.GetUtcNow()));
        }

        public async ValueTask ReportedAsync(int trialNumber, long step, IReadOnlyDictionary<string, double> metrics, CancellationToken ct)
        {
            owner._options.Progress?.Report(new CommandTrialReported(trialNumber, step, metrics));
            trial.SetSystemAttribute(CommandAttributeKeys.LastReport, ReportJson(step, metrics));
            // Every other finite metric of the report, stored with it by step (the study metric is its intermediate value).
            trial.SetIntermediateMetrics(step, metrics);
            if (_checkpointFiles is not null && CheckpointChanged())
                trial.SetSystemAttribute(SystemAttributeKeys.CheckpointStep, step);
            // PBT copies only checkpointed trials: a program that never writes one is never copied, and PBT silently
            // does nothing. Said once a run, at a perturbation step of a trial that never checkpointed (nor exploited).
            if (trial.Study.Scheduler is Schedulers.Pbt.PbtScheduler pbt && step >= pbt.Options.PerturbationInterval
                && trial.SystemAttributes.GetValueOrDefault(SystemAttributeKeys.CheckpointStep) is null
                && !trial.SystemAttributes.ContainsKey(SystemAttributeKeys.RestoredFrom))
                WarnOnceNoCheckpoint("Trial {Number} reached step {Step} without writing a checkpoint into its directory {Directory}, so PBT cannot "
                    + "copy it into other trials: write one into TUNESMITH_TRIAL_DIR before each tunesmith:report (docs/COMMAND_TRIALS.md)",
                    trialNumber, step, _directory!);
            WarnOnceIfUnjudged(trialNumber, step, metrics);
            try
            {
                // Once the program was told to end, what it still reports is stored but not judged again.
                var decision = metrics.TryGetValue(trial.Study.Metric, out var value) && double.IsFinite(value)
                    ? await trial.ReportCoreAsync(step, value, ct, decide: !_decided).ConfigureAwait(false)
                    : await FlushOnlyAsync(ct).ConfigureAwait(false);
                switch (decision)
                {
                    case SchedulerDecision.StopDecision:
                        owner._logger.LogInformation("Trial {Number} pruned by the scheduler at step {Step}", trialNumber, step);
                        _decided = backend.RequestStop(trialNumber);
                        break;
                    case SchedulerDecision.PauseDecision:
                        owner._logger.LogInformation("Trial {Number} paused by the scheduler at step {Step}", trialNumber, step);
                        _decided = await backend.PauseAsync(trialNumber, ct).ConfigureAwait(false);
                        break;
                    case SchedulerDecision.ExploitDecision exploit:
                        if (!backend.Capabilities.HasFlag(TrialBackendCapabilities.Checkpoints | TrialBackendCapabilities.Pause))
                            throw new NotSupportedException($"scheduler '{trial.Study.Scheduler!.Name}' asked trial {trialNumber} to exploit trial {exploit.FromTrialNumber}, which this backend cannot do");
                        Exploit = exploit;
                        _decided = await backend.PauseAsync(trialNumber, ct).ConfigureAwait(false);
                        break;
                }
            }
            catch (TrialWriteRefusedException e)
            {
                // The trial is no longer ours (failed as stale by another worker): its program has nothing left to report to.
                owner._logger.LogWarning("Trial {Number}: {Message}; stopping it", trialNumber, e.Message);
                _decided = backend.RequestStop(trialNumber);
            }
        }

        private void WarnOnceNoCheckpoint(string message, int number, long step, string directory)
        {
            if (Interlocked.Exchange(ref owner._warnedNoCheckpoint, 1) == 0)
#pragma warning disable CA2254 // two fixed templates
                owner._logger.LogWarning(message, number, step, directory);
#pragma warning restore CA2254
        }

        // A report without the study's metric (a misspelt name, another metric) is stored but no scheduler sees it: with a
        // scheduler, say so once per trial, or early stopping silently never happens.
        private void WarnOnceIfUnjudged(int trialNumber, long step, IReadOnlyDictionary<string, double> metrics)
        {
            if (_warnedUnjudged || trial.Study.Scheduler is not { } scheduler) return;
            var metric = trial.Study.Metric;
            var has = metrics.TryGetValue(metric, out var value);
            if (has && double.IsFinite(value)) return;
            _warnedUnjudged = true;
            owner._logger.LogWarning("Trial {Number}: its tunesmith:report at step {Step} has {What}, so scheduler '{Scheduler}' cannot judge it (the report has: {Keys})",
                trialNumber, step, has ? $"{metric} = {ParamValues.Format(value)}" : $"no '{metric}' (the study's metric)", scheduler.Name,
                metrics.Count == 0 ? "no metrics" : string.Join(", ", metrics.Keys));
        }

        private async Task<SchedulerDecision> FlushOnlyAsync(CancellationToken ct)
        {
            await trial.FlushAsync(ct).ConfigureAwait(false);
            return SchedulerDecision.Continue;
        }

        // The program wrote a checkpoint since the last report (or its start): a file besides Tunesmith's own appeared or
        // changed in its directory. Compared with the directory as it was, not with a clock, so a checkpoint copied in from
        // another trial or left from before a pause never counts as this run's own.
        private bool CheckpointChanged()
        {
            var now = CheckpointFiles();
            var changed = now.Count != _checkpointFiles!.Count
                || now.Any(f => !_checkpointFiles.TryGetValue(f.Key, out var before) || before != f.Value);
            _checkpointFiles = now;
            return changed;
        }

        private Dictionary<string, (DateTime, long)> CheckpointFiles()
        {
            var files = new Dictionary<string, (DateTime, long)>(StringComparer.Ordinal);
            if (_directory is null || !Directory.Exists(_directory)) return files;
            try
            {
                foreach (var file in new DirectoryInfo(_directory).EnumerateFiles("*", SearchOption.AllDirectories))
                    if (!TrialDirectories.IsOwnFile(RelativeTop(file.FullName))) files[file.FullName] = (file.LastWriteTimeUtc, file.Length);
            }
            catch (IOException) { } // a file replaced while listed: the next report looks again
            return files;
        }

        private string RelativeTop(string path) => Path.GetRelativePath(_directory!, path).Split(Path.DirectorySeparatorChar)[0];
    }

    // ---------------------------------------------------------------- outcome

    private static void KeepMetrics(Trial trial, IReadOnlyDictionary<string, double>? metrics)
    {
        if (metrics is null) return;
        foreach (var (k, v) in metrics) trial.SetMetric(k, v);
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

    private static string ReportJson(long step, IReadOnlyDictionary<string, double> metrics)
    {
        var values = new List<KeyValuePair<string, object?>> { new("step", step) };
        values.AddRange(metrics.Select(kv => new KeyValuePair<string, object?>(kv.Key, kv.Value)));
        return ParamValues.ToJson(values);
    }

    // ---------------------------------------------------------------- set-up

    /// <summary>The environment variable that carries a parameter: <c>TUNESMITH_PARAM_</c> + its name upper-cased, other characters than letters and digits as <c>_</c>.</summary>
    public static string ParamVariableName(string name) => LocalProcessBackend.ParamVariableName(name);

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
}
