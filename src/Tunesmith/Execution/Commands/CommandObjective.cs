using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tunesmith.Backends;
using Tunesmith.Backends.Processes;
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

    private LocalProcessBackend BackendFor(string metric) => _backends.GetOrAdd(metric, m => new LocalProcessBackend(new LocalProcessBackendOptions
    {
        Command = _options.Command,
        RootDirectory = _options.RootDirectory,
        WorkingDirectory = _options.WorkingDirectory,
        Environment = _options.Environment,
        TrialTimeout = _options.TrialTimeout,
        KillGrace = _options.KillGrace,
        StopSettle = _options.StopSettle,
        Resources = _options.Resources,
        Metric = m,
        StderrTailLines = _options.StderrTailLines,
        StderrTailChars = _options.StderrTailChars,
        TimeProvider = _options.TimeProvider,
        LoggerFactory = _options.LoggerFactory,
    }));

    /// <summary>Runs one trial's program to its outcome; the signature of <see cref="Study.OptimizeAsync"/>'s objective.</summary>
    public async Task<double> RunAsync(Trial trial, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(trial);
        var configuration = _options.Suggest?.Invoke(trial)
            ?? (_options.FixedParams.Count == 0 ? trial.Suggest(_options.Space!) : _options.Space!.Sample(new FixingSuggester(trial, _options.FixedParams)));
        var backend = BackendFor(trial.Study.Metric);
        var directoryNumber = DirectoryNumber(trial.Number, trial.SystemAttributes);
        var request = new TrialStartRequest
        {
            StudyName = trial.Study.Name,
            TrialId = trial.Id,
            TrialNumber = trial.Number,
            Params = configuration,
            DirectoryNumber = directoryNumber,
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
            case TrialExitKind.Stopped:
                WriteOutcome(directory, trial, "Pruned", null, exit.Result, exit.ExitCode, null, seconds);
                throw new TrialPrunedException(trial.Number, exit.LastStep ?? 0);
            case TrialExitKind.Interrupted:
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
                return value;
            default:
                throw new InvalidOperationException($"trial {trial.Number} ended {exit.Kind}, which a command objective does not ask for");
        }
    }

    private static void RecordAttributes(Trial trial, TrialExecution execution)
    {
        foreach (var (key, value) in execution.Attributes) trial.SetSystemAttribute(key, value);
    }

    /// <summary>Passes a trial's reports to its study (and so its scheduler), and stops the trial when told to.</summary>
    private sealed class TrialReporter(CommandObjective owner, LocalProcessBackend backend, Trial trial, Configuration configuration, int directoryNumber)
        : ITrialObserver
    {
        public bool Started { get; private set; }

        public async ValueTask StartedAsync(TrialExecution execution, CancellationToken cancellationToken)
        {
            Started = true;
            RecordAttributes(trial, execution);
            await trial.FlushAsync(cancellationToken).ConfigureAwait(false);
            owner._options.Progress?.Report(new CommandTrialStarted(trial.Number, new Dictionary<string, object?>(configuration), execution.Directory!,
                execution.Gpus, directoryNumber == trial.Number ? null : directoryNumber, owner._options.TimeProvider.GetUtcNow()));
        }

        public async ValueTask ReportedAsync(int trialNumber, long step, IReadOnlyDictionary<string, double> metrics, CancellationToken ct)
        {
            owner._options.Progress?.Report(new CommandTrialReported(trialNumber, step, metrics));
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
                owner._logger.LogInformation("Trial {Number} pruned by the scheduler at step {Step}", trialNumber, step);
                backend.RequestStop(trialNumber);
            }
            catch (TrialWriteRefusedException e)
            {
                // The trial is no longer ours (failed as stale by another worker): its program has nothing left to report to.
                owner._logger.LogWarning("Trial {Number}: {Message}; stopping it", trialNumber, e.Message);
                backend.RequestStop(trialNumber);
            }
        }
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
