using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Tunesmith.Schedulers;
using Tunesmith.Schedulers.Asha;
using Tunesmith.Schedulers.MedianStopping;
using Tunesmith.Spaces;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Tests.Schedulers;

/// <summary>
/// Median stopping and promotion-based ASHA's <c>SuggestStart</c> read incremental indexes of the history (the values
/// per step of the Complete trials; the paused trials per rung) instead of passing over every trial at each call. On
/// random histories that grow and change one trial at a time — reports, pauses, resumes, finishes, ties — one scheduler
/// object, asked after every change, decides exactly as the straightforward pass it replaced, kept here as the oracle.
/// </summary>
public sealed class IncrementalSchedulerTests
{
    /// <summary>A growing history: new trials, one more report of a live trial, and state changes, with coarse values (ties).</summary>
    private sealed class RandomStudy(int seed, Direction direction)
    {
        private readonly Random _random = new(seed);
        private readonly Dictionary<int, Dictionary<long, double>> _reports = [];
        private readonly Dictionary<int, (TrialState State, long? PausedStep)> _states = [];
        private long _version;

        public StudyHistory History { get; } = new("incremental", direction);
        public Random Random => _random;

        /// <summary>Applies one random change; returns the trial it changed, its last step and value.</summary>
        public (FrozenTrial Trial, long Step, double Value) Step()
        {
            // Running trials report on; a paused one is resumed now and then (most stay paused at their rung, as under ASHA).
            var live = _states.Where(s => s.Value.State == TrialState.Running || (s.Value.State == TrialState.Paused && _random.NextDouble() < 0.03))
                .Select(s => s.Key).ToList();
            int number;
            if (live.Count == 0 || _random.NextDouble() < 0.3)
            {
                number = _states.Count;
                _reports[number] = [];
                _states[number] = (TrialState.Running, null);
            }
            else number = live[_random.Next(live.Count)];
            var steps = _reports[number];
            var (state, pausedStep) = _states[number];
            if (state == TrialState.Paused) state = TrialState.Running; // resumed: it reports again
            var next = steps.Count == 0 ? 1 + _random.Next(2) : steps.Keys.Max() + 1 + _random.Next(3);
            steps[next] = Math.Round(_random.NextDouble() * 10) / 2;
            var roll = _random.NextDouble();
            (state, pausedStep) = roll < 0.12 ? (TrialState.Pruned, pausedStep)
                : roll < 0.3 ? (TrialState.Complete, pausedStep)
                : roll < 0.55 ? (TrialState.Paused, next)
                : (state, pausedStep);
            _states[number] = (state, pausedStep);
            var system = new Dictionary<string, object?>();
            if (pausedStep is { } p) system[SystemAttributeKeys.PausedStep] = p;
            var trial = SchedulerTestHistory.Trial(number, state, new Dictionary<long, double>(steps), system) with { Version = ++_version };
            History.Upsert(trial);
            return (trial, next, steps[next]);
        }
    }

    [Property(MaxTest = 60)]
    public Property Median_and_percentile_stopping_decide_as_a_pass_over_the_history(int seed, bool maximize)
    {
        var direction = maximize ? Direction.Maximize : Direction.Minimize;
        var study = new RandomStudy(seed, direction);
        var random = study.Random;
        var options = new MedianStoppingOptions
        {
            Percentile = new[] { 50.0, 25, 75, 10 }[random.Next(4)], MinimumTrials = random.Next(1, 4),
            WarmupSteps = random.Next(0, 3), EvaluationInterval = random.Next(1, 3),
        };
        var scheduler = new MedianStoppingScheduler(options);
        var mismatches = new List<string>();
        for (var round = 0; round < 200; round++)
        {
            var (trial, step, value) = study.Step();
            // The changed trial, and a made-up report of another at a random step: both against the oracle.
            var expected = MedianOracle(options, study.History, trial, step, value);
            var actual = scheduler.Decide(study.History, trial, step, value);
            if (!expected.Equals(actual)) mismatches.Add($"round {round}: trial {trial.Number} at {step}: expected {expected}, got {actual}");
            var other = study.History.Trials[random.Next(study.History.Trials.Count)];
            var (otherStep, otherValue) = (1L + random.Next(8), Math.Round(random.NextDouble() * 10) / 2);
            if (!MedianOracle(options, study.History, other, otherStep, otherValue).Equals(scheduler.Decide(study.History, other, otherStep, otherValue)))
                mismatches.Add($"round {round}: trial {other.Number} at {otherStep}");
        }
        return (mismatches.Count == 0).Label(string.Join("; ", mismatches.Take(3)));
    }

    [Property(MaxTest = 25)]
    public Property Promotion_asha_resumes_the_same_paused_trial_as_a_pass_over_the_history(int seed, bool maximize, PositiveInt brackets)
    {
        var direction = maximize ? Direction.Maximize : Direction.Minimize;
        var study = new RandomStudy(seed, direction);
        var options = new AshaOptions
        {
            MinResource = 1, MaxResource = 27, ReductionFactor = 2 + study.Random.Next(2), Mode = AshaMode.Promotion,
            Brackets = brackets.Get % 3 + 1, Seed = seed,
        };
        var scheduler = new AshaScheduler(options);
        var ladder = new RungLadder(options.MinResource, options.MaxResource, options.ReductionFactor, options.MinResource, options.Brackets, options.Seed);
        var mismatches = new List<string>();
        for (var round = 0; round < 150; round++)
        {
            study.Step();
            var expected = SuggestStartOracle(ladder, study.History);
            var actual = scheduler.SuggestStart(study.History);
            if (!expected.Equals(actual)) mismatches.Add($"round {round}: expected {expected}, got {actual}");
            var expectedFinish = SuggestStartOracle(ladder, study.History, finishing: true);
            var actualFinish = scheduler.SuggestFinish(study.History);
            if (!expectedFinish.Equals(actualFinish)) mismatches.Add($"round {round}: finishing, expected {expectedFinish}, got {actualFinish}");
        }
        return (mismatches.Count == 0).Label(string.Join("; ", mismatches.Take(3)));
    }

    [Fact]
    public void The_random_histories_stop_and_promote_trials()
    {
        // Guard against vacuous properties: the oracles do stop and resume trials on these histories.
        var (stops, resumes) = (0, 0);
        for (var seed = 0; seed < 10; seed++)
        {
            var study = new RandomStudy(seed, Direction.Maximize);
            var ladder = new RungLadder(1, 27, 3, 1, 1, 0);
            var median = new MedianStoppingOptions { MinimumTrials = 1 };
            for (var round = 0; round < 200; round++)
            {
                var (trial, step, value) = study.Step();
                if (MedianOracle(median, study.History, trial, step, value) is SchedulerDecision.StopDecision) stops++;
                if (SuggestStartOracle(ladder, study.History) is StartSuggestion.Resume) resumes++;
            }
        }
        Assert.True(stops > 100, $"{stops} stops");
        Assert.True(resumes > 100, $"{resumes} resumes");
    }

    /// <summary>MedianStoppingScheduler.Decide as it was: a pass over every trial at each call.</summary>
    private static SchedulerDecision MedianOracle(MedianStoppingOptions options, StudyHistory history, FrozenTrial trial, long step, double value)
    {
        if (!MedianStoppingScheduler.JudgedAt(options, trial, step)) return SchedulerDecision.Continue;
        var completed = 0;
        var others = new List<double>();
        foreach (var t in history.Trials)
        {
            if (t.State != TrialState.Complete || t.Number == trial.Number) continue;
            completed++;
            if (t.Intermediate.TryGetValue(step, out var v) && !double.IsNaN(v)) others.Add(v);
        }
        if (completed < options.MinimumTrials || others.Count == 0) return SchedulerDecision.Continue;
        var direction = history.Direction;
        var best = value;
        foreach (var (s, v) in trial.Intermediate)
            if (s <= step && !double.IsNaN(v) && direction.IsBetter(v, best)) best = v;
        others.Sort();
        var p = direction == Direction.Maximize ? 100 - options.Percentile : options.Percentile;
        var rank = p / 100 * (others.Count - 1);
        var lo = (int)Math.Floor(rank);
        var hi = Math.Min(lo + 1, others.Count - 1);
        var bar = others[lo] + (others[hi] - others[lo]) * (rank - lo);
        return direction.IsBetter(bar, best) ? SchedulerDecision.Stop : SchedulerDecision.Continue;
    }

    /// <summary>
    /// AshaScheduler.SuggestStart (promotion) as it was: every paused trial against its rung's records; with
    /// <paramref name="finishing"/>, SuggestFinish (a paused trial with its rung's best record is promotable whatever the quota).
    /// </summary>
    private static StartSuggestion SuggestStartOracle(RungLadder ladder, StudyHistory history, bool finishing = false)
    {
        List<(FrozenTrial Trial, long Step)>? paused = null;
        foreach (var t in history.Trials)
            if (t.State == TrialState.Paused && RungLadder.LastStep(t) is { } last) (paused ??= []).Add((t, last));
        if (paused is null) return StartSuggestion.New;
        StartSuggestion.Resume? best = null;
        long bestRung = -1;
        var bestValue = 0.0;
        foreach (var (t, last) in paused)
        {
            var bracket = ladder.BracketOf(t.Number);
            if (ladder.RungAtOrBelow(bracket, last) is not { } milestone || milestone < bestRung) continue;
            var records = ladder.Records(history, bracket, milestone, except: -1);
            var quota = ladder.Quota(records.Count);
            var promoted = records.Count(r => r.Promoted);
            var value = RungLadder.RungValue(t, milestone)!.Value;
            var better = records.Count(r => r.Trial.Number != t.Number && history.Direction.IsBetter(r.Value, value));
            if (!(promoted < quota && better < quota) && !(finishing && better == 0)) continue;
            if (milestone > bestRung || history.Direction.IsBetter(value, bestValue))
            {
                best = new StartSuggestion.Resume(t.Number, last);
                (bestRung, bestValue) = (milestone, value);
            }
        }
        return best ?? StartSuggestion.New;
    }
}
