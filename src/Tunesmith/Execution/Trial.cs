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
    private readonly List<KeyValuePair<string, object?>> _pendingUserAttributes = [];
    private readonly List<KeyValuePair<string, object?>> _pendingSystemAttributes = [];
    private readonly List<KeyValuePair<string, double>> _pendingMetrics = [];
    private readonly Dictionary<long, double> _intermediate = [];
    private readonly FrozenTrial _started;
    // What was set since the start, created on first use: most trials set none of these.
    private Dictionary<string, object?>? _userAttributes;
    private Dictionary<string, object?>? _systemAttributes;
    private Dictionary<string, double>? _metrics;

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
    /// with the same distribution returns the same value; with a different one it throws.
    /// </summary>
    public object? Suggest(string name, Distribution distribution)
    {
        ArgumentNullException.ThrowIfNull(name);
        distribution.Validate(name);
        if (_distributions.TryGetValue(name, out var known))
        {
            if (!known.Equals(distribution))
                throw new SearchSpaceException(name, $"was suggested as {known.Describe()} and again as {distribution.Describe()} in the same trial");
            return _params[name];
        }
        if (_params.ContainsKey(name) && !_fixed.ContainsKey(name))
            throw new SearchSpaceException(name, "is already a derived value in this trial");

        object? value;
        if (_fixed.TryGetValue(name, out var fixedValue))
            value = distribution.Coerce(name, fixedValue);
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

    /// <summary>Records a value derived from other parameters (e.g. <c>padding = kernel / 2</c>); samplers ignore it.</summary>
    public void SetDerived(string name, object? value)
    {
        if (_distributions.ContainsKey(name))
            throw new SearchSpaceException(name, "is already a sampled parameter in this trial");
        value = ParamValues.Normalize(value);
        _params[name] = value;
        _pendingParams.Add((name, value, null));
    }

    /// <summary>Sets a user attribute (string, number, boolean or null).</summary>
    public void SetUserAttribute(string key, object? value)
    {
        value = ParamValues.Normalize(value);
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
        (_metrics ??= new(StringComparer.Ordinal))[name] = value;
        _pendingMetrics.Add(new(name, value));
    }

    /// <summary>
    /// Stores an intermediate objective value at <paramref name="step"/> (an epoch, a number of samples). When the study has
    /// a scheduler and it decides to stop this trial, throws <see cref="TrialPrunedException"/>: let it propagate.
    /// </summary>
    public void Report(long step, double value) => ReportAsync(step, value).GetAwaiter().GetResult();

    /// <inheritdoc cref="Report"/>
    /// <remarks>
    /// A scheduler's pause throws <see cref="TrialPausedException"/> (let it propagate: the trial is recorded Paused and its
    /// objective is called again when it is resumed, with <see cref="ResumeStep"/> set). An exploit (PBT) needs a checkpoint
    /// directory to copy, which in-process trials do not have: the trial fails with a reason saying so.
    /// </remarks>
    public async Task ReportAsync(long step, double value, CancellationToken cancellationToken = default)
    {
        if (_study.Scheduler is Schedulers.Pbt.PbtScheduler)
            throw new TrialFailedException("scheduler 'pbt' copies checkpoints between trials, and an in-process trial has no checkpoint directory: run PBT with command trials (TUNESMITH_TRIAL_DIR)");
        switch (await ReportCoreAsync(step, value, cancellationToken).ConfigureAwait(false))
        {
            case SchedulerDecision.StopDecision:
                throw new TrialPrunedException(Number, step);
            case SchedulerDecision.PauseDecision:
                throw new TrialPausedException(Number, step);
            case SchedulerDecision.ExploitDecision exploit:
                throw new TrialFailedException(
                    $"scheduler '{_study.Scheduler!.Name}' asked trial {Number} to continue from trial {exploit.FromTrialNumber}'s checkpoint of step {exploit.FromStep}, "
                    + "but an in-process trial has no checkpoint directory to copy: run PBT with command trials (TUNESMITH_TRIAL_DIR)");
        }
    }

    /// <summary>
    /// Stores the report and, with <paramref name="decide"/>, returns the scheduler's decision (Continue without a scheduler
    /// or without <paramref name="decide"/>); the caller acts on it. A program told to end may still report before it
    /// does: those reports are stored without a decision.
    /// </summary>
    internal async Task<SchedulerDecision> ReportCoreAsync(long step, double value, CancellationToken cancellationToken, bool decide = true)
    {
        if (IsFinished) throw new InvalidOperationException($"trial {Number} has already finished");
        if (double.IsNaN(value)) throw new ArgumentException($"trial {Number}: reported value at step {step} is NaN", nameof(value));
        _intermediate[step] = value;
        _pendingIntermediate.Add((step, value));
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        if (!decide || _study.Scheduler is not { } scheduler) return SchedulerDecision.Continue;
        var history = await _study.RefreshAsync(cancellationToken).ConfigureAwait(false);
        return scheduler.Decide(history, ToFrozen(TrialState.Running), step, value);
    }

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
            UserAttributes = _pendingUserAttributes.ToArray(),
            SystemAttributes = _pendingSystemAttributes.ToArray(),
            Metrics = _pendingMetrics.ToArray(),
        };
        _pendingParams.Clear();
        _pendingIntermediate.Clear();
        _pendingUserAttributes.Clear();
        _pendingSystemAttributes.Clear();
        _pendingMetrics.Clear();
        return update;
    }

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

    /// <inheritdoc />
    public override string ToString() => $"Trial {Number} {{{string.Join(", ", _params.Select(p => $"{p.Key}={ParamValues.Format(p.Value)}"))}}}";
}

/// <summary>Thrown by <see cref="Trial.Report"/> when the scheduler stops the trial; the study records it as Pruned.</summary>
public sealed class TrialPrunedException(int trialNumber, long step)
    : Exception($"trial {trialNumber} was pruned at step {step}")
{
    /// <summary>The pruned trial's number.</summary>
    public int TrialNumber { get; } = trialNumber;
    /// <summary>The step of the report that pruned it.</summary>
    public long Step { get; } = step;
}

/// <summary>
/// Thrown by <see cref="Trial.Report"/> when the scheduler pauses the trial (promotion-based ASHA): the study records it
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
