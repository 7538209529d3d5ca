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
        if (step < Options.WarmupSteps || (step - Options.WarmupSteps) % Options.EvaluationInterval != 0) return SchedulerDecision.Continue;
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
