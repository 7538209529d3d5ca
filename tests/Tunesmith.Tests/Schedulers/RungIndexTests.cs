using Xunit;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Tunesmith.Schedulers.Asha;
using Tunesmith.Trials;

namespace Tunesmith.Tests.Schedulers;

/// <summary>ASHA's incremental rung index gives the same counts as a pass over the history, as the history grows and changes.</summary>
public sealed class RungIndexTests
{
    [Property(MaxTest = 60)]
    public Property Incremental_counts_equal_a_pass_over_the_history(int seed, bool maximize, PositiveInt brackets)
    {
        var random = new Random(seed);
        var direction = maximize ? Direction.Maximize : Direction.Minimize;
        var b = brackets.Get % 3 + 1;
        var ladder = new RungLadder(1, 27, 3, 1, b, seed);
        var index = new RungIndex(ladder);
        var history = new StudyHistory("rungs", direction);
        var reports = new Dictionary<int, Dictionary<long, double>>();
        var states = new Dictionary<int, TrialState>();
        var version = 0L;
        var mismatches = new List<string>();
        for (var round = 0; round < 150; round++)
        {
            // Either a new trial or one more report (or a finish, or a pause and resume) of a live one.
            var live = states.Where(s => !s.Value.IsFinished()).Select(s => s.Key).ToList();
            int number;
            if (live.Count == 0 || random.NextDouble() < 0.3)
            {
                number = states.Count;
                reports[number] = [];
                states[number] = TrialState.Running;
            }
            else number = live[random.Next(live.Count)];
            var steps = reports[number];
            var next = steps.Count == 0 ? 1 + random.Next(2) : steps.Keys.Max() + 1 + random.Next(3);
            steps[next] = Math.Round(random.NextDouble() * 10) / 2; // coarse values: ties happen
            var roll = random.NextDouble();
            states[number] = roll < 0.1 ? TrialState.Pruned : roll < 0.15 ? TrialState.Complete : roll < 0.25 ? TrialState.Paused : TrialState.Running;
            var trial = SchedulerTestHistory.Trial(number, states[number], new Dictionary<long, double>(steps)) with { Version = ++version };
            history.Upsert(trial);

            var value = steps[next];
            for (var bracket = 0; bracket < b; bracket++)
                foreach (var milestone in ladder.Milestones(bracket))
                {
                    var records = ladder.Records(history, bracket, milestone, except: number);
                    var expected = (records.Count, records.Count(r => direction.IsBetter(r.Value, value)), records.Count(r => r.Promoted));
                    var actual = index.Query(history, bracket, milestone, number, value);
                    if (expected != actual) mismatches.Add($"round {round} bracket {bracket} rung {milestone}: expected {expected}, got {actual}");
                }
        }
        return (mismatches.Count == 0).Label(string.Join("; ", mismatches.Take(3)));
    }

    [Fact]
    public void A_new_history_object_rebuilds_the_index()
    {
        var ladder = new RungLadder(1, 9, 3, 1, 1, 0);
        var index = new RungIndex(ladder);
        var first = SchedulerTestHistory.History(Direction.Maximize, SchedulerTestHistory.Curve(0, TrialState.Pruned, 5), SchedulerTestHistory.Curve(1, TrialState.Pruned, 7));
        Assert.Equal((2, 1, 0), index.Query(first, 0, 1, -1, 6));
        var second = SchedulerTestHistory.History(Direction.Maximize, SchedulerTestHistory.Curve(0, TrialState.Pruned, 1));
        Assert.Equal((1, 0, 0), index.Query(second, 0, 1, -1, 6));
    }
}
