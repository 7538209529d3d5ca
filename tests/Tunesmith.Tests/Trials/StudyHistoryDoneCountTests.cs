using FsCheck;
using FsCheck.Xunit;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Tests.Trials;

/// <summary><see cref="StudyHistory.DoneCount"/>, kept as changes are applied, always equals a count of the trials it holds.</summary>
public sealed class StudyHistoryDoneCountTests
{
    private static readonly TrialState[] States = Enum.GetValues<TrialState>();

    /// <summary>
    /// Any sequence of snapshots (numbers 0..9 in any order, holes included, versions older or newer, states changing,
    /// failures retried or not), applied in batches: the kept count is the count over <see cref="StudyHistory.Trials"/>.
    /// </summary>
    [Property(MaxTest = 300)]
    public bool The_kept_done_count_equals_a_count_of_the_trials_held(byte[][] batches)
    {
        var history = new StudyHistory("s", Direction.Minimize);
        var id = 0L;
        foreach (var batch in batches ?? [])
        {
            var trials = (batch ?? []).Select(b => new FrozenTrial
            {
                Id = ++id,
                Number = b % 10,
                State = States[(b / 10) % States.Length],
                Version = (b / 60) % 4,
                SystemAttributes = b % 7 == 0 ? new Dictionary<string, object?> { [SystemAttributeKeys.RetriedBy] = 99L } : new Dictionary<string, object?>(),
            }).ToArray();
            history.Apply(new TrialChanges(trials, id));
            var counted = history.Trials.Count(t => t.State is TrialState.Complete or TrialState.Pruned or TrialState.Paused
                || (t.State == TrialState.Failed && !t.SystemAttributes.ContainsKey(SystemAttributeKeys.RetriedBy)));
            if (history.DoneCount != counted) return false;
        }
        return true;
    }
}
