using Microsoft.Extensions.Logging;
using Tunesmith.Samplers;
using Tunesmith.Schedulers;
using Tunesmith.Spaces;
using Tunesmith.Storage;

namespace Tunesmith.Execution;

/// <summary>
/// A running trial, as the objective sees it (define-by-run): suggest parameters, report intermediate values,
/// set attributes and metrics. One objective call owns a trial; it is not meant to be shared between threads.
/// Writes are buffered and sent to storage in one transaction at the next report or at the end.
/// </summary>
public sealed class Trial : IParameterSuggester
{
    private readonly Study _study;
    private readonly SamplingContext _context;
    private readonly IReadOnlyDictionary<string, object?> _fixed;
    private readonly IReadOnlyDictionary<string, Distribution> _relativeSpace;
    private readonly IReadOnlyDictionary<string, object?> _relative;
    private readonly Dictionary<string, object?> _params = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Distribution> _distributions = new(StringComparer.Ordinal);
    private readonly List<(string, object?, Distribution?)> _pendingParams = [];
    private readonly List<(long, double)> _pendingIntermediate = [];
    private readonly List<(long, string, double)> _pendingIntermediateMetrics = [];
    private readonly List<KeyValuePair<string, object?>> _pendingUserAttributes = [];
    private readonly List<KeyValuePair<string, object?>> _pendingSystemAttributes = [];
    private readonly List<KeyValuePair<string, double>> _pendingMetrics = [];
    private readonly Dictionary<long, double> _intermediate = [];
    private readonly FrozenTrial _started;
    // What was set since the start, created on first use: most trials set none of these.
    private Dictionary<string, object?>? _userAttributes;
    private Dictionary<string, object?>? _systemAttributes;
    private Dictionary<string, double>? _metrics;
    private Dictionary<string, Dictionary<long, double>>? _intermediateMetrics;

    internal Trial(Study study, FrozenTrial started, SamplingContext context,
        IReadOnlyDictionary<string, Distribution> relativeSpace, IReadOnlyDictionary<string, object?> relative,
        CancellationToken cancellationToken)
    {
        _study = study;
        _context = context;
        _started = started;
        Id = started.Id;
        Number = started.Number;
        _fixed = started.Params;
        _relativeSpace = relativeSpace;
        _relative = relative;
        SystemAttributes = started.SystemAttributes;
        CancellationToken = cancellationToken;
    }

    /// <summary>Storage-wide id.</summary>
    public long Id { get; }

    /// <summary>The trial's number in its study (0, 1, 2, ...).</summary>
    public int Number { get; }

    /// <summary>The study this trial belongs to.</summary>
    public Study Study => _study;

    /// <summary>Cancelled when the study's run is cancelled (Ctrl+C, the caller's token): a long objective should stop.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>The parameters drawn so far (sampled, fixed and derived), in order.</summary>
    public IReadOnlyDictionary<string, object?> Params => _params;

    /// <summary>The distributions of the sampled parameters.</summary>
    public IReadOnlyDictionary<string, Distribution> Distributions => _distributions;

    /// <summary>The system attributes the trial started with (e.g. <c>retry_of</c> on a retry).</summary>
    public IReadOnlyDictionary<string, object?> SystemAttributes { get; }

    /// <summary>The intermediate values reported so far.</summary>
    public IReadOnlyDictionary<long, double> Intermediate => _intermediate;

    /// <summary>True once the trial has been told (finished).</summary>
    public bool IsFinished { get; internal set; }

    /// <summary>Whether this run took the trial up again after a pause (a promotion), rather than starting it.</summary>
    internal bool IsResumed { get; set; }

    /// <summary>What its worker took for it before starting it (<see cref="OptimizeOptions.HoldBeforeStart"/>), or null; the worker gives it back.</summary>
    internal IDisposable? Held { get; set; }

    /// <summary>Suggests a float in [low, high] (log scale or step grid optional).</summary>
    public double SuggestFloat(string name, double low, double high, bool log = false, double? step = null) =>
        (double)Suggest(name, new FloatDistribution(low, high, log, step))!;

    /// <summary>Suggests an integer in [low, high] (log scale or step optional).</summary>
    public int SuggestInt(string name, int low, int high, bool log = false, int step = 1) =>
        checked((int)(long)Suggest(name, new IntDistribution(low, high, log, step))!);

    /// <summary>Suggests one of <paramref name="choices"/> (strings, numbers, booleans or null).</summary>
    public T SuggestCategorical<T>(string name, IReadOnlyList<T> choices)
    {
        var distribution = new CategoricalDistribution(choices.Cast<object?>());
        var value = Suggest(name, distribution);
        // Return the caller's own object (e.g. an int choice comes back as int, not long).
        return choices[distribution.IndexOf(value)];
    }

    /// <summary>Draws every active parameter of a declarative space and returns the configuration.</summary>
    public Configuration Suggest(SearchSpace space) => space.Sample(this);

    /// <summary>
    /// Suggests a value for <paramref name="name"/> from <paramref name="distribution"/>: the enqueued value when the trial
    /// was enqueued with one, else the sampler's joint sample, else an independent draw. Suggesting the same name again
    /// with the same distribution returns the same value; with a different one it throws. A new name after the trial has
    /// finished throws <see cref="InvalidOperationException"/>: it could no longer be stored.
    /// </summary>
    public object? Suggest(string name, Distribution distribution)
    {
        ArgumentNullException.ThrowIfNull(name);
        // As a declarative space refuses one: an empty name cannot be a placeholder, a column or a --set key.
        if (string.IsNullOrWhiteSpace(name)) throw new SearchSpaceException("a parameter name must not be empty");
        distribution.Validate(name);
        if (_distributions.TryGetValue(name, out var known))
        {
            if (!known.Equals(distribution))
                throw new SearchSpaceException(name, $"was suggested as {known.Describe()} and again as {distribution.Describe()} in the same trial");
            return _params[name];
        }
        ThrowIfFinished();
        if (_params.ContainsKey(name) && !_fixed.ContainsKey(name))
            throw new SearchSpaceException(name, "is already a derived value in this trial");

        object? value;
        if (_fixed.TryGetValue(name, out var fixedValue))
            value = CoerceGiven(name, fixedValue, distribution);
        else if (distribution.IsSingle)
            value = distribution switch
            {
                FloatDistribution f => f.Low,
                IntDistribution i => i.Low,
                CategoricalDistribution c => c.Choices[0],
                _ => throw new ArgumentException($"unknown distribution {distribution.GetType().Name}"),
            };
        else if (_relative.TryGetValue(name, out var r) && _relativeSpace.TryGetValue(name, out var rd) && rd.Equals(distribution) && distribution.Contains(r))
            value = ParamValues.Normalize(r);
        else
        {
            _context.Trial = _context.Trial with { Params = new Dictionary<string, object?>(_params), Distributions = new Dictionary<string, Distribution>(_distributions) };
            value = ParamValues.Normalize(_study.Sampler.SampleIndependent(_context, name, distribution));
            if (!distribution.Contains(value))
                throw new InvalidOperationException($"sampler '{_study.Sampler.Name}' proposed {ParamValues.Format(value)} for '{name}', outside {distribution.Describe()}");
        }
        _params[name] = value;
        _distributions[name] = distribution;
        _pendingParams.Add((name, value, distribution));
        return value;
    }

    // A value given to this trial rather than drawn (enqueued, or its retried trial's) that the suggestion does not accept:
    // the message says where the value came from, since the objective's own range is right.
    private object? CoerceGiven(string name, object? given, Distribution distribution)
    {
        try { return distribution.Coerce(name, given); }
        catch (SearchSpaceException e)
        {
            var source = SystemAttributes.TryGetValue(SystemAttributeKeys.RetryOf, out var of)
                ? $"it is the value of trial {ParamValues.Format(of)}, which this trial retries"
                : $"it was enqueued (Study.Enqueue, tunesmith enqueue) for trial {Number}: enqueue a value that {distribution.Describe()} holds, or leave '{name}' out to have it drawn";
            throw new SearchSpaceException($"{e.Message}; {source}");
        }
    }

    /// <summary>
    /// Records a value derived from other parameters (e.g. <c>padding = kernel / 2</c>); samplers ignore it. The value must
    /// be a string, a number, a boolean or null (anything else throws <see cref="SearchSpaceException"/> naming it).
    /// </summary>
    public void SetDerived(string name, object? value)
    {
        ThrowIfFinished();
        if (string.IsNullOrWhiteSpace(name)) throw new SearchSpaceException("a parameter name must not be empty");
        if (_distributions.ContainsKey(name))
            throw new SearchSpaceException(name, "is already a sampled parameter in this trial");
        value = ParamValues.Normalize(value);
        // Refused here, naming it, rather than by the storage write at the trial's finish (SQLite, PostgreSQL).
        if (value is not (null or string or long or double or bool))
            throw new SearchSpaceException(name, $"a derived value must be a string, a number, a boolean or null, got {value.GetType().Name}");
        _params[name] = value;
        _pendingParams.Add((name, value, null));
    }

    /// <summary>
    /// Sets a user attribute (string, number, boolean or null); any other value (an array, an object) throws
    /// <see cref="ArgumentException"/> naming the key, as storage could not hold it.
    /// </summary>
    public void SetUserAttribute(string key, object? value)
    {
        ThrowIfFinished();
        value = AttributeValue(key, value);
        (_userAttributes ??= new(StringComparer.Ordinal))[key] = value;
        _pendingUserAttributes.Add(new(key, value));
    }

    /// <summary>Sets a Tunesmith system attribute.</summary>
    internal void SetSystemAttribute(string key, object? value)
    {
        value = ParamValues.Normalize(value);
        (_systemAttributes ??= new(StringComparer.Ordinal))[key] = value;
        _pendingSystemAttributes.Add(new(key, value));
    }

    /// <summary>Records a named metric of the final result besides the objective (e.g. "loss" next to "f1").</summary>
    public void SetMetric(string name, double value)
    {
        ThrowIfFinished();
        (_metrics ??= new(StringComparer.Ordinal))[name] = value;
        _pendingMetrics.Add(new(name, value));
    }

    /// <summary>
    /// Stores an intermediate objective value at <paramref name="step"/> (an epoch, a number of samples). When the study has
    /// a scheduler and it decides to stop this trial, throws <see cref="TrialPrunedException"/>: let it propagate.
    /// </summary>
    public void Report(long step, double value) => ReportAsync(step, value).GetAwaiter().GetResult();

    /// <summary>
    /// Stores an intermediate objective value at <paramref name="step"/> together with other metrics of the same step
    /// (e.g. the training loss beside the validation score), as Ray Tune's <c>train.report({...})</c> keeps every metric
    /// of every iteration: they are the trial's <see cref="FrozenTrial.IntermediateMetrics"/>, which reports and the
    /// dashboard plot. Only <paramref name="value"/> is the scheduler's; a non-finite metric is left out, and so is one
    /// named as the study's metric (that is <paramref name="value"/>). Then as <see cref="Report(long, double)"/>.
    /// </summary>
    public void Report(long step, double value, IReadOnlyDictionary<string, double> metrics) =>
        ReportAsync(step, value, metrics).GetAwaiter().GetResult();

    /// <inheritdoc cref="Report(long, double, IReadOnlyDictionary{string, double})"/>
    public Task ReportAsync(long step, double value, IReadOnlyDictionary<string, double> metrics, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        ThrowIfFinished();
        foreach (var name in metrics.Keys)
            if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException($"trial {Number}: a reported metric's name must not be empty", nameof(metrics));
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, $"trial {Number}: a step cannot be negative (got {step})");
        if (double.IsNaN(value)) throw new ArgumentException($"trial {Number}: reported value at step {step} is NaN", nameof(value));
        SetIntermediateMetrics(step, metrics);
        return ReportInProcessAsync(step, value, null, cancellationToken);
    }

    /// <summary>
    /// Buffers the finite metrics of a report at <paramref name="step"/> other than the study's metric, for the next write
    /// (the report's own, or a flush).
    /// </summary>
    internal void SetIntermediateMetrics(long step, IEnumerable<KeyValuePair<string, double>> metrics)
    {
        foreach (var (name, value) in metrics)
        {
            if (!double.IsFinite(value) || string.Equals(name, _study.Metric, StringComparison.Ordinal)) continue;
            _intermediateMetrics ??= new(StringComparer.Ordinal);
            if (!_intermediateMetrics.TryGetValue(name, out var series)) _intermediateMetrics[name] = series = [];
            series[step] = value;
            _pendingIntermediateMetrics.Add((step, name, value));
        }
    }

    /// <summary>
    /// Saves a checkpoint and stores an intermediate value at <paramref name="step"/>: <paramref name="checkpoint"/> writes
    /// the model's state (weights, optimizer) into the directory it is given; Tunesmith makes it this trial's
    /// <see cref="Checkpoint"/> atomically, before the scheduler decides. This is what promotion-based ASHA resumes from and
    /// what PBT copies between trials. See <see cref="ReportAsync(long, double, Func{string, CancellationToken, Task}, CancellationToken)"/>.
    /// </summary>
    public void Report(long step, double value, Action<string> checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ReportAsync(step, value, (directory, _) =>
        {
            checkpoint(directory);
            return Task.CompletedTask;
        }).GetAwaiter().GetResult();
    }

    /// <inheritdoc cref="Report(long, double)"/>
    /// <remarks>
    /// A scheduler's pause throws <see cref="TrialPausedException"/> (let it propagate: the trial is recorded Paused and its
    /// objective is called again when it is resumed, with <see cref="ResumeStep"/> and <see cref="Checkpoint"/> set). A PBT
    /// exploit throws <see cref="TrialRestartException"/> (let it propagate too) once the source's checkpoint has been copied:
    /// the objective is called again with the new params.
    /// </remarks>
    public Task ReportAsync(long step, double value, CancellationToken cancellationToken = default) =>
        ReportInProcessAsync(step, value, null, cancellationToken);

    /// <summary>
    /// Saves a checkpoint and stores an intermediate value at <paramref name="step"/> (as Ray Tune's
    /// <c>train.report(metrics, checkpoint=…)</c>): <paramref name="checkpoint"/> writes the model's state into the empty
    /// directory it is given (any files and folders); Tunesmith records which trial wrote it, the step and the params, flushes
    /// it to disk and renames it into place, so it becomes <see cref="Checkpoint"/> whole or not at all, before the
    /// scheduler hears the report. Then as <see cref="ReportAsync(long, double, CancellationToken)"/>.
    /// </summary>
    /// <remarks>
    /// Checkpoints live under <see cref="StudyOptions.RunDirectory"/> (<c>trials/n/checkpoint-…</c>); a trial keeps its
    /// latest two. Under PBT every trial must save one at least every <c>interval</c> steps: only checkpointed trials can
    /// be copied, and a trial that reaches a perturbation step without any checkpoint fails with a reason saying so.
    /// </remarks>
    public async Task ReportAsync(long step, double value, Func<string, CancellationToken, Task> checkpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        await ReportInProcessAsync(step, value, checkpoint, cancellationToken).ConfigureAwait(false);
    }

    private async Task ReportInProcessAsync(long step, double value, Func<string, CancellationToken, Task>? checkpoint, CancellationToken cancellationToken)
    {
        ThrowIfFinished();
        if (checkpoint is not null)
        {
            var runDirectory = await _study.CheckpointRunDirectoryAsync(cancellationToken).ConfigureAwait(false);
            var relative = await InProcessCheckpoints.SaveAsync(runDirectory, Number, step, CurrentParams, checkpoint,
                CheckpointAttribute?.RelativeDirectory, cancellationToken).ConfigureAwait(false);
            // Recorded with the report, in one write: the scheduler sees the checkpoint and the value together.
            SetSystemAttribute(SystemAttributeKeys.Checkpoint, InProcessCheckpoints.AttributeValue(relative, step, Number));
            SetSystemAttribute(SystemAttributeKeys.CheckpointStep, step);
        }
        else if (_study.Scheduler is Schedulers.Pbt.PbtScheduler pbt && step > 0 && step % pbt.Options.PerturbationInterval == 0 && CheckpointAttribute is null)
        {
            throw new TrialFailedException(
                $"scheduler 'pbt' continues trials from other trials' checkpoints, and trial {Number} reached step {step} (a perturbation step) without saving one: "
                + $"save a checkpoint at least every {pbt.Options.PerturbationInterval} steps with trial.Report(step, value, checkpoint: directory => ...)");
        }
        var (decision, history) = await ReportAndDecideAsync(step, value, cancellationToken).ConfigureAwait(false);
        switch (decision)
        {
            case SchedulerDecision.StopDecision:
                throw new TrialPrunedException(Number, step);
            case SchedulerDecision.PauseDecision:
                throw new TrialPausedException(Number, step);
            case SchedulerDecision.ExploitDecision exploit:
                if (await ExploitAsync(exploit, history!, cancellationToken).ConfigureAwait(false))
                    throw new TrialRestartException(Number, exploit.FromTrialNumber, exploit.FromStep);
                break;
        }
    }

    /// <summary>
    /// Carries out a PBT exploit for an in-process trial: copies the source's checkpoint (the one the decision was made
    /// from) into this trial's directory, checks that the copy is that checkpoint — written by the source at the step the
    /// decision names, with the params the new ones were perturbed from — and records the new params, <c>restored_from</c>,
    /// <c>resume_step</c> and the new checkpoint in one write. False when the source moved on meanwhile (it saved another
    /// checkpoint, exploited itself, or its checkpoint is not reachable from here): the trial goes on as it was. A source
    /// that never saved a checkpoint fails the trial: the scheduler asked for something no trial can do.
    /// </summary>
    private async Task<bool> ExploitAsync(SchedulerDecision.ExploitDecision exploit, StudyHistory history, CancellationToken ct)
    {
        var scheduler = _study.Scheduler!.Name;
        var source = history.Trials.FirstOrDefault(t => t.Number == exploit.FromTrialNumber);
        var sourceCheckpoint = source is null ? null : InProcessCheckpoints.Parse(source.SystemAttributes.GetValueOrDefault(SystemAttributeKeys.Checkpoint));
        if (source is null || sourceCheckpoint is not { } saved)
            throw new TrialFailedException(
                $"scheduler '{scheduler}' asked trial {Number} to continue from trial {exploit.FromTrialNumber}'s checkpoint of step {exploit.FromStep}, "
                + $"but trial {exploit.FromTrialNumber} has saved no checkpoint: save checkpoints with trial.Report(step, value, checkpoint: directory => ...)");
        var current = Schedulers.Pbt.PbtScheduler.CheckpointStep(source);
        string? copied = null;
        if (current == exploit.FromStep && saved.Step == exploit.FromStep)
        {
            var expected = new InProcessCheckpoints.Info(saved.Writer, exploit.FromStep, exploit.SourceParams ?? source.Params);
            copied = await InProcessCheckpoints.CopyAsync(await _study.CheckpointRunDirectoryAsync(ct).ConfigureAwait(false), saved.RelativeDirectory, Number, expected,
                CheckpointAttribute?.RelativeDirectory, ct).ConfigureAwait(false);
        }
        if (copied is null)
        {
            _study.Logger.LogInformation("Trial {Number}: trial {Source} no longer holds its checkpoint of step {Step}; going on without the exploit",
                Number, exploit.FromTrialNumber, exploit.FromStep);
            return false;
        }
        ReplaceParams(exploit.NewParams);
        SetSystemAttribute(SystemAttributeKeys.RestoredFrom, ParamValues.ToJson([new("trial", (long)exploit.FromTrialNumber), new("step", exploit.FromStep)]));
        SetSystemAttribute(SystemAttributeKeys.ResumeStep, exploit.FromStep);
        SetSystemAttribute(SystemAttributeKeys.Checkpoint, InProcessCheckpoints.AttributeValue(copied, exploit.FromStep, saved.Writer));
        // Its checkpoint now holds the source's weights, which are not a checkpoint of its new params until it saves one.
        SetSystemAttribute(SystemAttributeKeys.CheckpointStep, null);
        await FlushAsync(ct).ConfigureAwait(false);
        _study.Logger.LogInformation("Trial {Number} exploits trial {Source}: its checkpoint of step {Step}, params {Params}",
            Number, exploit.FromTrialNumber, exploit.FromStep, ParamValues.ToJson(exploit.NewParams));
        return true;
    }

    /// <summary>
    /// Stores the report and, with <paramref name="decide"/>, returns the scheduler's decision (Continue without a scheduler
    /// or without <paramref name="decide"/>); the caller acts on it. A program told to end may still report before it
    /// does: those reports are stored without a decision.
    /// </summary>
    internal async Task<SchedulerDecision> ReportCoreAsync(long step, double value, CancellationToken cancellationToken, bool decide = true) =>
        (await ReportAndDecideAsync(step, value, cancellationToken, decide).ConfigureAwait(false)).Decision;

    private async Task<(SchedulerDecision Decision, StudyHistory? History)> ReportAndDecideAsync(long step, double value, CancellationToken cancellationToken, bool decide = true)
    {
        ThrowIfFinished();
        // Steps count training progress (epochs, iterations) and rungs sit at positive steps; Optuna refuses negative ones too.
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, $"trial {Number}: a step cannot be negative (got {step})");
        if (double.IsNaN(value)) throw new ArgumentException($"trial {Number}: reported value at step {step} is NaN", nameof(value));
        _intermediate[step] = value;
        _pendingIntermediate.Add((step, value));
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        if (!decide || _study.Scheduler is not { } scheduler) return (SchedulerDecision.Continue, null);
        var history = await _study.RefreshAsync(cancellationToken).ConfigureAwait(false);
        return (scheduler.Decide(history, ToFrozen(TrialState.Running), step, value), history);
    }

    /// <summary>
    /// This trial's latest checkpoint: the one its objective saved last (<see cref="Report(long, double, Action{string})"/>),
    /// or, after a PBT exploit, the source's checkpoint copied into this trial's directory. When the objective is called for
    /// a promoted (resumed) trial or after an exploit (<see cref="TrialRestartException"/>), load it and go on from
    /// <see cref="TrialCheckpoint.Step"/> + 1; null when the trial has saved none.
    /// </summary>
    public TrialCheckpoint? Checkpoint =>
        CheckpointAttribute is { } c ? new TrialCheckpoint(InProcessCheckpoints.Resolve(_study.CheckpointRunDirectory(), c.RelativeDirectory), c.Step, c.Writer) : null;

    /// <summary>
    /// When this call of the objective continues from another trial's checkpoint (a PBT exploit): that trial's number (as
    /// <c>TUNESMITH_RESTORE_FROM</c> for command trials); <see cref="Checkpoint"/> holds its weights and <see cref="Params"/>
    /// the new params. Null otherwise.
    /// </summary>
    public int? RestoredFrom =>
        _systemAttributes is { } set && set.TryGetValue(SystemAttributeKeys.RestoredFrom, out var r) && r is string json
        && ParamValues.FromJsonObject(json).TryGetValue("trial", out var t) && ParamValues.TryToLong(t, out var n) ? (int)n : null;

    private (string RelativeDirectory, long Step, int Writer)? CheckpointAttribute =>
        InProcessCheckpoints.Parse(_systemAttributes is { } set && set.TryGetValue(SystemAttributeKeys.Checkpoint, out var now) ? now
            : _started.SystemAttributes.GetValueOrDefault(SystemAttributeKeys.Checkpoint));

    private IReadOnlyDictionary<string, object?> CurrentParams => Overlay(_started.Params, _params, StringComparer.Ordinal);

    /// <summary>
    /// The step after which this trial continues, when it was resumed from a pause or continued from another trial's
    /// checkpoint (PBT); null for a fresh start. The objective loads its checkpoint and goes on from the next step.
    /// </summary>
    public long? ResumeStep =>
        _systemAttributes is { } set && set.TryGetValue(SystemAttributeKeys.ResumeStep, out var now) && ParamValues.TryToLong(now, out var s) ? s
        : null;

    /// <summary>The last reported step and value, counting reports before a pause; null when none.</summary>
    internal (long Step, double Value)? LastIntermediate
    {
        get
        {
            (long, double)? last = _started.LastIntermediate;
            foreach (var (k, v) in _intermediate) if (last is not { } l || k >= l.Item1) last = (k, v);
            return last;
        }
    }

    /// <summary>
    /// Replaces the trial's params (a PBT exploit continues with another trial's params, perturbed): values of parameters
    /// with a distribution keep it; the new values reach storage with the next write.
    /// </summary>
    internal void ReplaceParams(IReadOnlyDictionary<string, object?> values)
    {
        foreach (var (name, raw) in values)
        {
            var value = ParamValues.Normalize(raw);
            _params[name] = value;
            var distribution = _distributions.TryGetValue(name, out var d) ? d : _started.Distributions.GetValueOrDefault(name);
            _pendingParams.Add((name, value, distribution));
        }
    }

    /// <summary>Writes buffered params, reports, attributes and metrics to storage now (also done at each report and at the end).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        var update = TakePending();
        if (update.IsEmpty) return;
        var outcome = await _study.Storage.UpdateTrialAsync(Id, _study.WorkerId, update, cancellationToken).ConfigureAwait(false);
        if (outcome != TrialWriteOutcome.Applied)
            throw new TrialWriteRefusedException(Number, outcome);
    }

    internal TrialUpdate TakePending()
    {
        var update = new TrialUpdate
        {
            Params = _pendingParams.ToArray(),
            Intermediate = _pendingIntermediate.ToArray(),
            IntermediateMetrics = _pendingIntermediateMetrics.ToArray(),
            UserAttributes = _pendingUserAttributes.ToArray(),
            SystemAttributes = _pendingSystemAttributes.ToArray(),
            Metrics = _pendingMetrics.ToArray(),
        };
        _pendingParams.Clear();
        _pendingIntermediate.Clear();
        _pendingIntermediateMetrics.Clear();
        _pendingUserAttributes.Clear();
        _pendingSystemAttributes.Clear();
        _pendingMetrics.Clear();
        return update;
    }

    /// <summary>
    /// The values the trial was enqueued with (stored without a distribution when it started) that this run neither
    /// suggested nor derived. A trial that completes or is pruned drops them from its params, as Optuna keeps enqueued
    /// values a trial never asked for out of <c>trial.params</c>; a failed or paused one keeps them for its retry or resumption.
    /// </summary>
    internal IReadOnlyList<string> UnusedFixedParams() =>
        _started.Params.Keys.Where(k => !_started.Distributions.ContainsKey(k) && !_params.ContainsKey(k)).ToArray();

    /// <summary>The values the trial was enqueued with (those stored without a distribution when it started).</summary>
    internal IEnumerable<KeyValuePair<string, object?>> FixedParams() =>
        _started.Params.Where(kv => !_started.Distributions.ContainsKey(kv.Key));

    /// <summary>
    /// The trial as this process wrote it: what it started with plus everything set since, in <paramref name="state"/>.
    /// After a finish it equals the stored trial except for the version (the next history read brings the stored one).
    /// </summary>
    internal FrozenTrial ToFrozen(TrialState state, double? value = null, DateTimeOffset? finished = null) => _started with
    {
        State = state,
        Value = value,
        Params = Overlay(_started.Params, _params, StringComparer.Ordinal),
        Distributions = Overlay(_started.Distributions, _distributions, StringComparer.Ordinal),
        Intermediate = Overlay(_started.Intermediate, _intermediate, null),
        IntermediateMetrics = MergeSeries(_started.IntermediateMetrics, _intermediateMetrics),
        UserAttributes = Overlay(_started.UserAttributes, _userAttributes, StringComparer.Ordinal),
        SystemAttributes = Overlay(_started.SystemAttributes, _systemAttributes, StringComparer.Ordinal),
        Metrics = Overlay(_started.Metrics, _metrics, StringComparer.Ordinal),
        Worker = _study.WorkerId,
        Finished = finished,
        Heartbeat = finished ?? _started.Heartbeat,
    };

    /// <summary>
    /// The started trial's entries overlaid with those set since, in a new dictionary; the started trial's own when
    /// nothing was set (a frozen trial's dictionaries are never modified, so sharing is safe and saves a copy per trial).
    /// </summary>
    private static IReadOnlyDictionary<TKey, TValue> Overlay<TKey, TValue>(IReadOnlyDictionary<TKey, TValue> started,
        Dictionary<TKey, TValue>? since, IEqualityComparer<TKey>? comparer) where TKey : notnull
    {
        if (since is null || since.Count == 0) return started;
        var merged = new Dictionary<TKey, TValue>(started, comparer);
        foreach (var (k, v) in since) merged[k] = v;
        return merged;
    }

    /// <summary>The started trial's intermediate metrics with those reported since; the started trial's own when none were.</summary>
    private static IReadOnlyDictionary<string, IReadOnlyDictionary<long, double>> MergeSeries(
        IReadOnlyDictionary<string, IReadOnlyDictionary<long, double>> started, Dictionary<string, Dictionary<long, double>>? since)
    {
        if (since is null || since.Count == 0) return started;
        var merged = new Dictionary<string, IReadOnlyDictionary<long, double>>(started, StringComparer.Ordinal);
        foreach (var (name, series) in since) merged[name] = Overlay(started.GetValueOrDefault(name) ?? new Dictionary<long, double>(), series, null);
        return merged;
    }

    /// <summary>
    /// A user attribute's value as storage holds it; anything but a string, number, boolean or null is refused here,
    /// naming the key, rather than failing the write that stores it (the trial's finish, on SQLite and PostgreSQL).
    /// </summary>
    internal static object? AttributeValue(string key, object? value)
    {
        ArgumentNullException.ThrowIfNull(key);
        var normalized = ParamValues.Normalize(value);
        return normalized is null or string or long or double or bool
            ? normalized
            : throw new ArgumentException($"user attribute '{key}': a value must be a string, a number, a boolean or null, got {normalized.GetType().Name}", nameof(value));
    }

    // A write after the trial finished would never reach storage: say so rather than drop it.
    private void ThrowIfFinished()
    {
        if (IsFinished) throw new InvalidOperationException($"trial {Number} has already finished: it takes no more suggestions, reports, attributes or metrics");
    }

    /// <inheritdoc />
    public override string ToString() => $"Trial {Number} {{{string.Join(", ", _params.Select(p => $"{p.Key}={ParamValues.Format(p.Value)}"))}}}";
}

/// <summary>Thrown by <see cref="Trial.Report(long, double)"/> when the scheduler stops the trial; the study records it as Pruned.</summary>
public sealed class TrialPrunedException(int trialNumber, long step)
    : Exception($"trial {trialNumber} was pruned at step {step}")
{
    /// <summary>The pruned trial's number.</summary>
    public int TrialNumber { get; } = trialNumber;
    /// <summary>The step of the report that pruned it.</summary>
    public long Step { get; } = step;
}

/// <summary>
/// Thrown by <see cref="Trial.Report(long, double)"/> when the scheduler pauses the trial (promotion-based ASHA): the study records it
/// Paused at <see cref="Step"/>, and calls the objective again with <see cref="Trial.ResumeStep"/> set when it is promoted.
/// </summary>
public sealed class TrialPausedException(int trialNumber, long step)
    : Exception($"trial {trialNumber} was paused at step {step}")
{
    /// <summary>The paused trial's number.</summary>
    public int TrialNumber { get; } = trialNumber;
    /// <summary>The last step it reported.</summary>
    public long Step { get; } = step;
}

/// <summary>
/// Thrown by <see cref="Trial.Report(long, double)"/> when PBT continues the trial from another trial's checkpoint: the
/// checkpoint has been copied into this trial's directory and its new params stored. Let it propagate: the objective is
/// called again for the same trial, with the new <see cref="Trial.Params"/> (suggest them again: the same names return the
/// new values), <see cref="Trial.Checkpoint"/> holding the copied weights, <see cref="Trial.ResumeStep"/> and
/// <see cref="Trial.RestoredFrom"/> set.
/// </summary>
public sealed class TrialRestartException(int trialNumber, int fromTrialNumber, long fromStep)
    : Exception($"trial {trialNumber} continues from trial {fromTrialNumber}'s checkpoint of step {fromStep}")
{
    /// <summary>The trial that continues.</summary>
    public int TrialNumber { get; } = trialNumber;
    /// <summary>The trial whose checkpoint it continues from.</summary>
    public int FromTrialNumber { get; } = fromTrialNumber;
    /// <summary>The step of that checkpoint.</summary>
    public long FromStep { get; } = fromStep;
}

/// <summary>Storage refused a write to a trial (it already finished — e.g. failed as stale — or another worker owns it).</summary>
public sealed class TrialWriteRefusedException(int trialNumber, TrialWriteOutcome outcome)
    : Exception(outcome switch
    {
        TrialWriteOutcome.AlreadyFinished => $"trial {trialNumber} has already finished (told by another worker or failed as stale); the write was refused",
        TrialWriteOutcome.NotOwner => $"trial {trialNumber} is owned by another worker; the write was refused",
        _ => $"trial {trialNumber} does not exist; the write was refused",
    })
{
    /// <summary>The trial's number.</summary>
    public int TrialNumber { get; } = trialNumber;
    /// <summary>Why the write was refused.</summary>
    public TrialWriteOutcome Outcome { get; } = outcome;
}

/// <summary>
/// Thrown by an objective to fail its trial with a reason of its own (e.g. a command's exit code and the tail of its
/// stderr): the study records the trial as Failed with <see cref="Exception.Message"/> as the reason, verbatim.
/// </summary>
public sealed class TrialFailedException(string reason) : Exception(reason)
{
    /// <summary>The first line of the reason, for one-line logs.</summary>
    public string Summary => Message.Split('\n', 2)[0];
}
