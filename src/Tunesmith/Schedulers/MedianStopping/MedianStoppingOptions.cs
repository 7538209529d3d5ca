using Tunesmith.Spaces;
using Tunesmith.Spaces.Spec;

namespace Tunesmith.Schedulers.MedianStopping;

/// <summary>Options of <see cref="MedianStoppingScheduler"/>.</summary>
public sealed record MedianStoppingOptions
{
    /// <summary>No trial is stopped at a step below this (default 0): early values are noisy.</summary>
    public long WarmupSteps { get; init; }

    /// <summary>No trial is stopped until this many trials have completed (default 5).</summary>
    public int MinimumTrials { get; init; } = 5;

    /// <summary>
    /// Judge a trial's first report at or after each step <c>WarmupSteps + k·EvaluationInterval</c>, as Optuna's
    /// <c>interval_steps</c> (default 1: at every report).
    /// </summary>
    public long EvaluationInterval { get; init; } = 1;

    /// <summary>
    /// Keep a trial only while its best value so far is within the best <c>Percentile</c> percent of the completed trials'
    /// values at the same step (default 50: the median rule). Lower keeps fewer: 25 stops every trial outside the best quarter.
    /// </summary>
    public double Percentile { get; init; } = 50;

    /// <summary>Throws naming the option when the options are invalid.</summary>
    public void Validate() => Validate(new OptionRules(Percentile == 50 ? "scheduler 'median'" : "scheduler 'percentile'", nameof(MedianStoppingOptions), null));

    private static readonly Dictionary<string, string> KeyOf = new()
    {
        [nameof(WarmupSteps)] = "warmup_steps", [nameof(MinimumTrials)] = "min_trials", [nameof(EvaluationInterval)] = "interval", [nameof(Percentile)] = "percentile",
    };

    internal void Validate(OptionRules rules)
    {
        rules.Require(WarmupSteps >= 0, nameof(WarmupSteps), WarmupSteps, "must be ≥ 0");
        rules.Require(MinimumTrials >= 1, nameof(MinimumTrials), MinimumTrials, "must be ≥ 1");
        rules.Require(EvaluationInterval >= 1, nameof(EvaluationInterval), EvaluationInterval, "must be ≥ 1");
        rules.Require(Percentile is > 0 and < 100, nameof(Percentile), Percentile, "must be between 0 and 100 (exclusive)");
    }

    /// <summary>
    /// Reads a study file's <c>scheduler: { median: {...} }</c> or <c>{ percentile: { percentile: 75, ... } }</c> options;
    /// throws <see cref="ArgumentException"/> naming a bad one.
    /// </summary>
    public static MedianStoppingOptions FromStudyFile(IReadOnlyDictionary<string, object?>? options, string name = "median")
    {
        string[] keys = name == "median" ? ["warmup_steps", "min_trials", "interval"] : ["warmup_steps", "min_trials", "interval", "percentile"];
        // Optuna's MedianPruner has no percentile either; the other percentile is its own scheduler name, so say which.
        if (name == "median" && options?.ContainsKey("percentile") == true)
            throw new ArgumentException($"scheduler 'median': unknown option 'percentile' (the median is the 50th percentile; for another, write scheduler: {{ percentile: {{ percentile: {ParamValues.Format(ParamValues.Normalize(options["percentile"]))} }} }})");
        var r = new SchedulerOptionReader(name, options, keys);
        if (name != "median" && !r.Has("percentile"))
            throw new ArgumentException($"scheduler '{name}': option 'percentile' is required, e.g. {{ percentile: {{ percentile: 75 }} }}");
        var o = new MedianStoppingOptions();
        if (r.Integer("warmup_steps") is { } w) o = o with { WarmupSteps = w };
        if (r.Int32("min_trials") is { } m) o = o with { MinimumTrials = m };
        if (r.Integer("interval") is { } i) o = o with { EvaluationInterval = i };
        if (r.Number("percentile") is { } p) o = o with { Percentile = p };
        o.Validate(new OptionRules($"scheduler '{name}'", nameof(MedianStoppingOptions), KeyOf));
        return o;
    }
}
