using Tunesmith.Spaces;

namespace Tunesmith.Schedulers.Asha;

/// <summary>
/// Asynchronous successive halving (ASHA, Li et al. 2020): rungs at r·η^k steps below the maximum resource; a trial that
/// reaches a rung goes on when it is in the rung's top 1/η, and otherwise stops (<see cref="AshaMode.Stop"/>) or pauses
/// until it is promoted (<see cref="AshaMode.Promotion"/>). Rung records are the trials' stored intermediate values, so
/// every worker of a study decides alike.
/// </summary>
public sealed class AshaScheduler : IScheduler
{
    private readonly RungLadder _ladder;
    private readonly RungIndex _index;

    /// <summary>Creates the scheduler; throws naming the option when <paramref name="options"/> are invalid.</summary>
    public AshaScheduler(AshaOptions? options = null) : this(options ?? new AshaOptions(), "asha") { }

    /// <summary>Creates a stop-based scheduler with rungs from <paramref name="minResource"/> up to <paramref name="maxResource"/>.</summary>
    public AshaScheduler(long minResource, long maxResource, double reductionFactor = 3, AshaMode mode = AshaMode.Stop)
        : this(new AshaOptions { MinResource = minResource, MaxResource = maxResource, ReductionFactor = reductionFactor, Mode = mode }) { }

    internal AshaScheduler(AshaOptions options, string name)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        Name = name;
        _ladder = new RungLadder(options.MinResource, options.MaxResource, options.ReductionFactor,
            options.GracePeriod ?? options.MinResource, options.Brackets, options.Seed);
        _index = new RungIndex(_ladder);
    }

    /// <summary>The options.</summary>
    public AshaOptions Options { get; }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>The bracket trial <paramref name="trialNumber"/> joins (0 when there is one).</summary>
    public int BracketOf(int trialNumber) => _ladder.BracketOf(trialNumber);

    /// <summary>The rungs (steps at which trials are judged) of bracket <paramref name="bracket"/>.</summary>
    public IReadOnlyList<long> Rungs(int bracket = 0) => _ladder.Milestones(bracket);

    /// <inheritdoc />
    public SchedulerDecision Decide(StudyHistory history, FrozenTrial trial, long step, double value)
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(trial);
        // A resumed trial that reports again at or before the step it was resumed after (its program started over instead of
        // loading its checkpoint) is going over ground it was judged on: judged again, it would be paused at a lower rung
        // and resumed by the same rule, for ever.
        if (trial.SystemAttributes.TryGetValue(SystemAttributeKeys.ResumeStep, out var r) && ParamValues.TryToLong(r, out var resumedAfter)
            && step <= resumedAfter)
            return SchedulerDecision.Continue;
        var bracket = _ladder.BracketOf(trial);
        if (_ladder.RungReached(bracket, RungLadder.JudgedAfter(trial, step), step) is not { } milestone) return SchedulerDecision.Continue;
        // Judged by its rung record, the first report at or after the milestone: this one, or a retry's inherited report.
        if (RungLadder.RungValue(trial, milestone) is { } record && !double.IsNaN(record)) value = record;

        // The rung's records other than this trial's, from an incremental index of the history (equal to a pass over
        // RungLadder.Records, which a simulator asking a million times cannot afford).
        var (count, better, promoted) = _index.Query(history, bracket, milestone, except: trial.Number, value);
        var quota = _ladder.Quota(count + 1);
        if (Options.Mode == AshaMode.Stop)
            return better < Math.Max(1, quota) ? SchedulerDecision.Continue : SchedulerDecision.Stop;
        return better < quota && promoted < quota ? SchedulerDecision.Continue : SchedulerDecision.Pause;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Promotion-based: the paused trial to resume is the best one in a rung's top ⌊n/η⌋ while fewer than that have gone
    /// on from the rung, highest rung first (it is closest to done); the best value first, ties to the lower trial number.
    /// </remarks>
    public StartSuggestion SuggestStart(StudyHistory history)
    {
        ArgumentNullException.ThrowIfNull(history);
        if (Options.Mode != AshaMode.Promotion) return StartSuggestion.New;
        // From the incremental index (paused trials kept per rung, best first): equal to a pass over every paused trial
        // and its rung's records, which a long study cannot afford at every start.
        return _index.Promotable(history) is { } resume ? new StartSuggestion.Resume(resume.Number, resume.LastStep) : StartSuggestion.New;
    }

    /// <inheritdoc />
    /// <remarks>
    /// Promotion-based: as <see cref="SuggestStart"/>, and a paused trial that holds its rung's best record goes on
    /// whatever the rung's quota. Without it a study whose budget is below η^k trials ends with every trial paused short
    /// of the maximum and no best trial, and a trial that did better than the one an earlier, smaller rung promoted (an
    /// asynchronous promotion cannot be taken back) never goes on. With it each rung's best goes on at the end, so the
    /// trial with the best record at the highest rung reached is trained to the maximum, as synchronous successive
    /// halving would train it.
    /// </remarks>
    public StartSuggestion SuggestFinish(StudyHistory history)
    {
        ArgumentNullException.ThrowIfNull(history);
        if (Options.Mode != AshaMode.Promotion) return StartSuggestion.New;
        return _index.Promotable(history, finishing: true) is { } resume ? new StartSuggestion.Resume(resume.Number, resume.LastStep) : StartSuggestion.New;
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"{Name}(min={Options.MinResource}, max={Options.MaxResource}, η={ParamValues.Format(Options.ReductionFactor)}, brackets={Options.Brackets}, mode={Options.Mode.ToString().ToLowerInvariant()})";
}
