using Tunesmith.Trials;
using Tunesmith.Schedulers;
using Tunesmith.Schedulers.Asha;
using Tunesmith.Schedulers.Hyperband;
using Xunit;
using static Tunesmith.Tests.Schedulers.SchedulerTestHistory;

namespace Tunesmith.Tests.Schedulers;

public sealed class AshaAndHyperbandTests
{
    [Fact]
    public void Hyperband_brackets_match_the_papers_table_for_R_81_and_eta_3()
    {
        var table = HyperbandBracket.Table(1, 81, 3);
        Assert.Equal([81L, 34, 15, 8, 5], table.Select(b => b.Configurations));
        Assert.Equal([1.0, 3, 9, 27, 81], table.Select(b => b.Resource));
        var hyperband = new HyperbandScheduler(new HyperbandOptions { MinResource = 1, MaxResource = 81, ReductionFactor = 3 });
        Assert.Equal(5, hyperband.Brackets.Count);
        Assert.Equal([1L, 3, 9, 27], hyperband.Rungs(0));
        Assert.Equal([3L, 9, 27], hyperband.Rungs(1));
        Assert.Equal([27L], hyperband.Rungs(3));
        Assert.Empty(hyperband.Rungs(4)); // the last bracket runs its 5 configurations to 81 without halving
    }

    [Fact]
    public void Hyperband_draws_brackets_in_proportion_to_the_table_and_the_same_under_a_seed()
    {
        var a = new HyperbandScheduler(new HyperbandOptions { MaxResource = 81, Seed = 7 });
        var b = new HyperbandScheduler(new HyperbandOptions { MaxResource = 81, Seed = 7 });
        var counts = new int[5];
        for (var n = 0; n < 14_300; n++)
        {
            Assert.Equal(a.BracketOf(n), b.BracketOf(n));
            counts[a.BracketOf(n)]++;
        }
        // 81 : 34 : 15 : 8 : 5 of 143
        double[] expected = [81 / 143.0, 34 / 143.0, 15 / 143.0, 8 / 143.0, 5 / 143.0];
        for (var i = 0; i < 5; i++) Assert.InRange(counts[i] / 14_300.0, expected[i] - 0.015, expected[i] + 0.015);
    }

    [Fact]
    public void Asha_rungs_sit_at_min_times_eta_to_the_k_below_max_and_the_grace_period()
    {
        Assert.Equal([1L, 3, 9], new AshaScheduler(1, 27).Rungs());
        Assert.Equal([2L, 4, 8, 16], new AshaScheduler(new AshaOptions { MinResource = 2, MaxResource = 20, ReductionFactor = 2 }).Rungs());
        Assert.Equal([3L, 9], new AshaScheduler(new AshaOptions { MinResource = 1, MaxResource = 27, GracePeriod = 2 }).Rungs());
    }

    [Fact]
    public void Stop_based_asha_keeps_the_top_third_of_a_rung_and_decides_only_at_rungs()
    {
        var asha = new AshaScheduler(1, 27); // rungs 1, 3, 9 (maximize: higher is better)
        // Eight trials reported at rung 1 (values 0.1 .. 0.8); the ninth's record makes n = 9, quota ⌊9/3⌋ = 3.
        var others = Enumerable.Range(0, 8).Select(i => Curve(i, TrialState.Pruned, 0.1 * (i + 1))).ToList();
        var history = History(Direction.Maximize, others);
        Assert.Equal(SchedulerDecision.Continue, asha.Decide(history, Curve(8, TrialState.Running, 0.75), 1, 0.75)); // 1 better: in top 3
        Assert.Equal(SchedulerDecision.Continue, asha.Decide(history, Curve(8, TrialState.Running, 0.65), 1, 0.65)); // 2 better
        Assert.Equal(SchedulerDecision.Stop, asha.Decide(history, Curve(8, TrialState.Running, 0.55), 1, 0.55));     // 3 better: out
        // Step 2 is no rung: no decision however bad the value.
        Assert.Equal(SchedulerDecision.Continue, asha.Decide(history, Curve(8, TrialState.Running, 0.9, 0.0), 2, 0.0));
        // The first trial at a rung always goes on.
        Assert.Equal(SchedulerDecision.Continue, asha.Decide(History(Direction.Maximize), Curve(0, TrialState.Running, 0.0), 1, 0.0));
        // Minimizing, lower is better.
        var minimizing = History(Direction.Minimize, others);
        Assert.Equal(SchedulerDecision.Continue, asha.Decide(minimizing, Curve(8, TrialState.Running, 0.15), 1, 0.15));
        Assert.Equal(SchedulerDecision.Stop, asha.Decide(minimizing, Curve(8, TrialState.Running, 0.35), 1, 0.35));
    }

    [Fact]
    public void Stop_based_asha_reads_a_rung_record_at_the_first_step_past_the_milestone()
    {
        var asha = new AshaScheduler(1, 27);
        // Trials that report every 2 steps: their rung-3 record is their step-4 value.
        var others = Enumerable.Range(0, 5).Select(i => Trial(i, TrialState.Pruned, new Dictionary<long, double> { [2] = 0, [4] = 10 - i })).ToList();
        var history = History(Direction.Minimize, others);
        var trial = Trial(5, TrialState.Running, new Dictionary<long, double> { [2] = 0, [4] = 6.5 });
        // Step 4 crosses rung 3: records 10, 9, 8, 7, 6 and 6.5; quota ⌊6/3⌋ = 2; one better (6) → continue.
        Assert.Equal(SchedulerDecision.Continue, asha.Decide(history, trial, 4, 6.5));
        var worse = Trial(5, TrialState.Running, new Dictionary<long, double> { [2] = 0, [4] = 7.5 });
        Assert.Equal(SchedulerDecision.Stop, asha.Decide(history, worse, 4, 7.5));
    }

    [Fact]
    public void Promotion_based_asha_pauses_below_the_quota_and_promotes_the_best_paused_trial_of_the_highest_rung()
    {
        var asha = new AshaScheduler(new AshaOptions { MinResource = 1, MaxResource = 27, Mode = AshaMode.Promotion });
        FrozenTrial Paused(int n, params double[] values) =>
            Trial(n, TrialState.Paused, values.Select((v, i) => ((long)(i + 1), v)).ToDictionary(x => x.Item1, x => x.v),
                new Dictionary<string, object?> { [SystemAttributeKeys.PausedStep] = (long)values.Length });
        // Two trials at rung 1 → quota ⌊3/3⌋ = 1 with a third: the third pauses unless it is the best.
        var two = History(Direction.Maximize, Paused(0, 0.5), Paused(1, 0.6));
        Assert.Equal(SchedulerDecision.Pause, asha.Decide(two, Curve(2, TrialState.Running, 0.55), 1, 0.55));
        Assert.Equal(SchedulerDecision.Continue, asha.Decide(two, Curve(2, TrialState.Running, 0.7), 1, 0.7));
        // With the first two alone there is no quota yet (⌊2/3⌋ = 0): nothing to resume, start new trials.
        Assert.Equal(StartSuggestion.New, asha.SuggestStart(two));
        // Unless no new trial may start: then the rung's best paused trial goes on (at least one per rung).
        Assert.Equal(new StartSuggestion.Resume(1, 1), asha.SuggestFinish(two));

        // Rung 1: fifteen records (quota 5), four of which (trials 4 to 7) already went on; rung 3: three records (quota 1),
        // none went on.
        var history = History(Direction.Maximize, new[]
        {
            Paused(0, 0.1), Paused(1, 0.2), Paused(2, 0.9), Paused(3, 0.3),
            Paused(4, 0.5, 0.6, 0.7), Trial(5, TrialState.Running, new Dictionary<long, double> { [1] = 0.8, [2] = 0.8 }),
            Paused(6, 0.4, 0.5, 0.2), Paused(7, 0.35, 0.45, 0.65),
        }.Concat(Enumerable.Range(8, 7).Select(n => Paused(n, 0.01 * (n - 7)))));
        // Trial 4 is the best paused trial at rung 3, the highest rung: resumed first, from its last step.
        Assert.Equal(new StartSuggestion.Resume(4, 3), asha.SuggestStart(history));
        // Once trial 4 went on, rung 3's quota is used up; rung 1's fifth place goes to trial 2 (0.9, the best).
        var after = History(Direction.Maximize, history.Trials.Select(t => t.Number == 4
            ? t with { State = TrialState.Running, Intermediate = new Dictionary<long, double> { [1] = 0.5, [2] = 0.6, [3] = 0.7, [4] = 0.7 } } : t));
        Assert.Equal(new StartSuggestion.Resume(2, 1), asha.SuggestStart(after));
    }

    [Fact]
    public void Finishing_a_study_promotion_based_asha_resumes_a_rungs_best_paused_trial_whatever_the_quota()
    {
        var asha = new AshaScheduler(new AshaOptions { MinResource = 1, MaxResource = 27, Mode = AshaMode.Promotion });
        FrozenTrial Paused(int n, double value) => Trial(n, TrialState.Paused, new Dictionary<long, double> { [1] = value },
            new Dictionary<string, object?> { [SystemAttributeKeys.PausedStep] = 1L });
        // Five records at rung 1 (quota 1), and trial 4 (0.25) took the promotion before trial 3 (0.3) reported.
        var wentOn = Trial(4, TrialState.Complete, Enumerable.Range(1, 27).ToDictionary(s => (long)s, s => 0.25));
        var history = History(Direction.Maximize, Paused(0, 0.1), Paused(1, 0.15), Paused(2, 0.2), Paused(3, 0.3), wentOn);
        Assert.Equal(StartSuggestion.New, asha.SuggestStart(history));
        Assert.Equal(new StartSuggestion.Resume(3, 1), asha.SuggestFinish(history));
        // Once the rung's best went on, the others (below a record that went on) stay paused.
        var after = History(Direction.Maximize, history.Trials.Select(t => t.Number == 3
            ? t with { State = TrialState.Complete, Intermediate = Enumerable.Range(1, 27).ToDictionary(s => (long)s, s => 0.3) } : t));
        Assert.Equal(StartSuggestion.New, asha.SuggestFinish(after));
    }

    [Fact]
    public void A_crashed_trial_and_its_retry_are_one_configuration_at_a_rung_and_the_retry_keeps_the_attempts_bracket()
    {
        // Rung 1 of min 1, max 27, η 3. Trial 0 crashed after reporting 0.1 and was retried as trial 4, which inherited
        // its reports (IStudyStorage.RetryTrialAsync). Counted once, trial 5's rung has five records (quota 1) and one
        // better (0.9): it stops. Counting the failed attempt too would make six (quota 2) and let it go on.
        var asha = new AshaScheduler(1, 27);
        var attempt = Trial(0, TrialState.Failed, new Dictionary<long, double> { [1] = 0.1 },
            new Dictionary<string, object?> { [SystemAttributeKeys.RetriedBy] = 4L });
        var retry = Trial(4, TrialState.Running, new Dictionary<long, double> { [1] = 0.1 },
            new Dictionary<string, object?> { [SystemAttributeKeys.RetryOf] = 0L, [SystemAttributeKeys.RetryCount] = 1L });
        var history = History(Direction.Maximize, attempt, Curve(1, TrialState.Complete, 0.9), Curve(2, TrialState.Pruned, 0.2),
            Curve(3, TrialState.Pruned, 0.3), retry);
        var trial = Trial(5, TrialState.Running, new Dictionary<long, double> { [1] = 0.5 });
        Assert.Equal(SchedulerDecision.Stop, asha.Decide(History(Direction.Maximize, history.Trials.Append(trial)), trial, 1, 0.5));
        // A failed trial that was not retried is still a record of its rung.
        var unretried = History(Direction.Maximize, history.Trials.Where(t => t.Number != 4)
            .Select(t => t.Number == 0 ? t with { SystemAttributes = new Dictionary<string, object?>() } : t).Append(Curve(4, TrialState.Pruned, 0.05)).Append(trial));
        Assert.Equal(SchedulerDecision.Continue, asha.Decide(unretried, trial, 1, 0.5));

        // Hyperband: a retry is judged at its first attempt's rungs, whatever bracket its own number would draw.
        var hyperband = new HyperbandScheduler(new HyperbandOptions { MinResource = 1, MaxResource = 27, Seed = 3 });
        var root = Enumerable.Range(0, 1000).First(n => hyperband.BracketOf(n) == 0);              // rungs 1, 3, 9
        var number = Enumerable.Range(root + 1, 1000).First(n => hyperband.BracketOf(n) == 3);     // no rungs: runs to 27
        var others = Enumerable.Range(number + 1, 2000).Where(n => hyperband.BracketOf(n) == 0).Take(5)
            .Select(n => Curve(n, TrialState.Pruned, 0.9)).ToArray();
        var lateRetry = Trial(number, TrialState.Running, new Dictionary<long, double> { [1] = 0.1 },
            new Dictionary<string, object?> { [SystemAttributeKeys.RetryOf] = (long)root });
        Assert.Equal(SchedulerDecision.Stop, hyperband.Decide(History(Direction.Maximize, others.Append(lateRetry)), lateRetry, 1, 0.1));
    }

    [Theory]
    [InlineData(AshaMode.Stop)]
    [InlineData(AshaMode.Promotion)]
    public void A_retry_is_judged_at_the_rung_of_its_inherited_last_report_whose_decision_its_attempt_did_not_live_to_carry_out(AshaMode mode)
    {
        // Trial 0 reported 0.1 at rung 1, the worst of four, and its runner died before the stop (or pause) took effect.
        // Its retry, trial 4, inherited the report and resumed from the checkpoint of step 1: its first report, at step 2,
        // is judged at rung 1 with the inherited record. Judged only from step 2 on, it would train on unjudged to rung 3.
        var asha = new AshaScheduler(new AshaOptions { MinResource = 1, MaxResource = 27, Mode = mode });
        var attempt = Trial(0, TrialState.Failed, new Dictionary<long, double> { [1] = 0.1 }, new Dictionary<string, object?> { [SystemAttributeKeys.RetriedBy] = 4L });
        var retry = Trial(4, TrialState.Running, new Dictionary<long, double> { [1] = 0.1, [2] = 0.95 }, new Dictionary<string, object?>
        {
            [SystemAttributeKeys.RetryOf] = 0L, [SystemAttributeKeys.InheritedStep] = 1L,
        });
        var history = History(Direction.Maximize, attempt, Curve(1, TrialState.Pruned, 0.5), Curve(2, TrialState.Pruned, 0.6), Curve(3, TrialState.Pruned, 0.7), retry);
        Assert.Equal(mode == AshaMode.Stop ? SchedulerDecision.Stop : SchedulerDecision.Pause, asha.Decide(history, retry, 2, 0.95));
        // Without the inherited mark (a trial's own reports), step 2 reaches no rung.
        var own = retry with { SystemAttributes = new Dictionary<string, object?>() };
        Assert.Equal(SchedulerDecision.Continue, asha.Decide(History(Direction.Maximize, history.Trials.Where(t => t.Number != 4).Append(own)), own, 2, 0.95));
    }

    [Fact]
    public void Stop_based_asha_never_resumes_anything()
    {
        var asha = new AshaScheduler(1, 27);
        var history = History(Direction.Maximize, Trial(0, TrialState.Paused, new Dictionary<long, double> { [1] = 1 }));
        Assert.Equal(StartSuggestion.New, asha.SuggestStart(history));
        Assert.Equal(StartSuggestion.New, asha.SuggestFinish(history));
    }

    [Theory]
    [InlineData(0, 27, 3, "MinResource")]
    [InlineData(5, 5, 3, "MaxResource")]
    [InlineData(1, 27, 1, "ReductionFactor")]
    public void Invalid_asha_options_fail_naming_the_property(long min, long max, double eta, string property)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => new AshaScheduler(new AshaOptions { MinResource = min, MaxResource = max, ReductionFactor = eta }));
        Assert.Equal(property, e.ParamName);
    }
}
