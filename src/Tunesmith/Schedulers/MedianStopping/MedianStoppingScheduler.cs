using Tunesmith.Spaces;

namespace Tunesmith.Schedulers.MedianStopping;

/// <summary>
/// Median stopping rule (Golovin et al. 2017, as Optuna's MedianPruner and PercentilePruner apply it): at a step, stop a
/// trial whose best value so far is worse than the median — or another percentile — of the completed trials' values
/// reported at that same step. Pure: it reads only the stored history.
/// </summary>
public sealed class MedianStoppingScheduler : IScheduler
{
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
        var completed = 0;
        var others = new List<double>();
        foreach (var t in history.Trials)
        {
            if (t.State != TrialState.Complete || t.Number == trial.Number) continue;
            completed++;
            if (t.Intermediate.TryGetValue(step, out var v) && !double.IsNaN(v)) others.Add(v);
        }
        if (completed < Options.MinimumTrials || others.Count == 0) return SchedulerDecision.Continue;

        var direction = history.Direction;
        var best = value;
        foreach (var (s, v) in trial.Intermediate)
            if (s <= step && !double.IsNaN(v) && direction.IsBetter(v, best)) best = v;
        // For maximization the bar is the mirrored percentile: "worse than the median" is below it either way.
        var bar = Percentile(others, direction == Direction.Maximize ? 100 - Options.Percentile : Options.Percentile);
        return direction.IsBetter(bar, best) ? SchedulerDecision.Stop : SchedulerDecision.Continue;
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
