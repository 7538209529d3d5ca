using Tunesmith.Schedulers.Asha;

namespace Tunesmith.Schedulers.Hyperband;

/// <summary>
/// Asynchronous Hyperband: ASHA run in Hyperband's brackets at once (bracket b's rungs start at r·η^b). Each new trial
/// joins one bracket, drawn with probability proportional to that bracket's size in Hyperband's table, seeded by the
/// trial's number so every worker agrees; within its bracket it is stopped, paused or promoted as ASHA does.
/// </summary>
public sealed class HyperbandScheduler : IScheduler
{
    private readonly AshaScheduler _asha;

    /// <summary>Creates the scheduler; throws naming the option when <paramref name="options"/> are invalid.</summary>
    public HyperbandScheduler(HyperbandOptions? options = null)
    {
        Options = options ?? new HyperbandOptions();
        Options.Validate();
        _asha = new AshaScheduler(Options.ToAsha(), "hyperband");
        Brackets = HyperbandBracket.Table(Options.MinResource, Options.MaxResource, Options.ReductionFactor).Take(_asha.Options.Brackets).ToArray();
    }

    /// <summary>The options.</summary>
    public HyperbandOptions Options { get; }

    /// <summary>The brackets in use (Hyperband's table), most aggressive first.</summary>
    public IReadOnlyList<HyperbandBracket> Brackets { get; }

    /// <inheritdoc />
    public string Name => "hyperband";

    /// <summary>The bracket trial <paramref name="trialNumber"/> joins.</summary>
    public int BracketOf(int trialNumber) => _asha.BracketOf(trialNumber);

    /// <summary>The rungs of bracket <paramref name="bracket"/>.</summary>
    public IReadOnlyList<long> Rungs(int bracket) => _asha.Rungs(bracket);

    /// <inheritdoc />
    public SchedulerDecision Decide(StudyHistory history, FrozenTrial trial, long step, double value) => _asha.Decide(history, trial, step, value);

    /// <inheritdoc />
    public StartSuggestion SuggestStart(StudyHistory history) => _asha.SuggestStart(history);

    /// <inheritdoc />
    public StartSuggestion SuggestFinish(StudyHistory history) => _asha.SuggestFinish(history);

    /// <inheritdoc />
    public override string ToString() => _asha.ToString();
}
