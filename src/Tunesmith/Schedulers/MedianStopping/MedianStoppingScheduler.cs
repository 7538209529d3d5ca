using Tunesmith.Spaces;

namespace Tunesmith.Schedulers.MedianStopping;

/// <summary>
/// Median stopping rule (Golovin et al. 2017, as Optuna's MedianPruner and PercentilePruner apply it): at a step, stop a
/// trial whose best value so far is worse than the median — or another percentile — of the completed trials' values
/// reported at that same step. Pure: it reads only the stored history.
/// </summary>
public sealed class MedianStoppingScheduler : IScheduler
{
    private readonly CompletedValuesIndex _index = new();

    /// <summary>Creates the scheduler; throws naming the option when <paramref name="options"/> are invalid.</summary>
    public MedianStoppingScheduler(MedianStoppingOptions? options = null)
    {
        Options = options ?? new MedianStoppingOptions();
        Options.Validate();
    }

    /// <summary>The options.</summary>
    public MedianStoppingOptions Options { get; }

    /// <inheritdoc />
    public string Name => Options.Percentile == 50 ? "median" : "percentile";

    /// <inheritdoc />
    public SchedulerDecision Decide(StudyHistory history, FrozenTrial trial, long step, double value)
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(trial);
        if (!JudgedAt(Options, trial, step)) return SchedulerDecision.Continue;
        var direction = history.Direction;
        // For maximization the bar is the mirrored percentile: "worse than the median" is below it either way. From an
        // incremental index of the Complete trials' values per step (equal to a pass over the history).
        var (completed, bar) = _index.Query(history, trial.Number, step, direction == Direction.Maximize ? 100 - Options.Percentile : Options.Percentile);
        if (completed < Options.MinimumTrials || bar is not { } threshold) return SchedulerDecision.Continue;

        var best = value;
        foreach (var (s, v) in trial.Intermediate)
            if (s <= step && !double.IsNaN(v) && direction.IsBetter(v, best)) best = v;
        return direction.IsBetter(threshold, best) ? SchedulerDecision.Stop : SchedulerDecision.Continue;
    }

    /// <summary>
    /// Whether a report at <paramref name="step"/> is judged: it is at or after the warm-up, and it is the trial's first
    /// report at or after the latest judging step (warm-up + k·interval) at or below it — Optuna's
    /// <c>_is_first_in_interval_step</c>. With a report at every step that is every interval-th step after the warm-up
    /// (and the first report when the warm-up is 0 and steps start at 1); with sparser reports (every 3 steps, interval
    /// 3, warm-up 5) the report that first passes each judging step. Before, only a report exactly at a judging step was
    /// judged, so such a trial was never stopped.
    /// </summary>
    internal static bool JudgedAt(MedianStoppingOptions options, FrozenTrial trial, long step)
    {
        if (step < options.WarmupSteps) return false;
        var judging = (step - options.WarmupSteps) / options.EvaluationInterval * options.EvaluationInterval + options.WarmupSteps;
        foreach (var s in trial.Intermediate.Keys) if (s < step && s >= judging) return false;
        return true;
    }

    /// <summary>The <paramref name="p"/>-th percentile (linear interpolation between order statistics, as numpy's default).</summary>
    internal static double Percentile(List<double> values, double p)
    {
        values.Sort();
        var rank = p / 100 * (values.Count - 1);
        var lo = (int)Math.Floor(rank);
        var hi = Math.Min(lo + 1, values.Count - 1);
        return values[lo] + (values[hi] - values[lo]) * (rank - lo);
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"{Name}(percentile={ParamValues.Format(Options.Percentile)}, warmup_steps={Options.WarmupSteps}, min_trials={Options.MinimumTrials}, interval={Options.EvaluationInterval})";
}
