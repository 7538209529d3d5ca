using Tunesmith.Trials;
using Tunesmith.Spaces;

namespace Tunesmith.Tests.Schedulers;

/// <summary>Builds study histories by hand for scheduler tests.</summary>
internal static class SchedulerTestHistory
{
    public static FrozenTrial Trial(int number, TrialState state, IReadOnlyDictionary<long, double> intermediate,
        IReadOnlyDictionary<string, object?>? system = null, IReadOnlyDictionary<string, object?>? parameters = null,
        IReadOnlyDictionary<string, Distribution>? distributions = null) => new()
    {
        Id = number + 1,
        Number = number,
        State = state,
        Intermediate = intermediate,
        SystemAttributes = system ?? new Dictionary<string, object?>(),
        Params = parameters ?? new Dictionary<string, object?>(),
        Distributions = distributions ?? new Dictionary<string, Distribution>(),
        Value = state == TrialState.Complete && intermediate.Count > 0 ? intermediate.MaxBy(kv => kv.Key).Value : null,
    };

    /// <summary>A trial that reported <paramref name="values"/> at steps 1, 2, 3, ...</summary>
    public static FrozenTrial Curve(int number, TrialState state, params double[] values) =>
        Trial(number, state, values.Select((v, i) => (Step: (long)(i + 1), v)).ToDictionary(x => x.Step, x => x.v));

    public static StudyHistory History(Direction direction, params FrozenTrial[] trials)
    {
        var history = new StudyHistory("test", direction);
        history.Apply(new TrialChanges(trials, 1));
        return history;
    }

    public static StudyHistory History(Direction direction, IEnumerable<FrozenTrial> trials) => History(direction, trials.ToArray());
}
