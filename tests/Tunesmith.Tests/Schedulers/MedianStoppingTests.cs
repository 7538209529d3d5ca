using Tunesmith.Schedulers;
using Tunesmith.Schedulers.MedianStopping;
using Tunesmith.Trials;
using Xunit;
using static Tunesmith.Tests.Schedulers.SchedulerTestHistory;

namespace Tunesmith.Tests.Schedulers;

public sealed class MedianStoppingTests
{
    // Five completed trials; at step 3 they reported 0.3, 0.4, 0.5, 0.6, 0.7 (median 0.5, 25th percentile 0.4).
    private static readonly StudyHistory Completed = History(Direction.Maximize,
        Enumerable.Range(0, 5).Select(i => Curve(i, TrialState.Complete, 0.1, 0.2, 0.3 + 0.1 * i, 0.9)));

    [Fact]
    public void A_trial_whose_best_value_is_below_the_median_of_completed_trials_at_that_step_stops()
    {
        var median = new MedianStoppingScheduler();
        Assert.Equal(SchedulerDecision.Stop, median.Decide(Completed, Curve(5, TrialState.Running, 0.1, 0.2, 0.45), 3, 0.45));
        Assert.Equal(SchedulerDecision.Continue, median.Decide(Completed, Curve(5, TrialState.Running, 0.1, 0.2, 0.55), 3, 0.55));
        // Its best value so far counts, not its latest.
        Assert.Equal(SchedulerDecision.Continue, median.Decide(Completed, Curve(5, TrialState.Running, 0.1, 0.6, 0.45), 3, 0.45));
    }

    [Fact]
    public void Warm_up_minimum_trials_and_interval_hold_decisions_back()
    {
        var bad = Curve(5, TrialState.Running, 0.0, 0.0, 0.0, 0.0);
        Assert.Equal(SchedulerDecision.Continue, new MedianStoppingScheduler(new MedianStoppingOptions { WarmupSteps = 4 }).Decide(Completed, bad, 3, 0));
        Assert.Equal(SchedulerDecision.Continue, new MedianStoppingScheduler(new MedianStoppingOptions { MinimumTrials = 6 }).Decide(Completed, bad, 3, 0));
        var everyTwo = new MedianStoppingScheduler(new MedianStoppingOptions { EvaluationInterval = 2 });
        Assert.Equal(SchedulerDecision.Continue, everyTwo.Decide(Completed, bad, 3, 0));
        Assert.Equal(SchedulerDecision.Stop, everyTwo.Decide(Completed, bad, 4, 0));
    }

    [Fact]
    public void The_percentile_variant_keeps_only_the_best_share()
    {
        var quarter = new MedianStoppingScheduler(new MedianStoppingOptions { Percentile = 25 });
        Assert.Equal("percentile", quarter.Name);
        // Keeping the best 25 % when maximizing: the bar is the 75th percentile, 0.6.
        Assert.Equal(SchedulerDecision.Stop, quarter.Decide(Completed, Curve(5, TrialState.Running, 0.1, 0.2, 0.55), 3, 0.55));
        Assert.Equal(SchedulerDecision.Continue, quarter.Decide(Completed, Curve(5, TrialState.Running, 0.1, 0.2, 0.65), 3, 0.65));
    }
}
