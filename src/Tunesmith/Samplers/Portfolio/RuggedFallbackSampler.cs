using MathNet.Numerics.Statistics;
using Tunesmith.Samplers.Gp;
using Tunesmith.Spaces;
using Tunesmith.Spaces.Spec;

namespace Tunesmith.Samplers.Portfolio;

/// <summary>
/// When <see cref="RuggedFallbackSampler"/> judges a landscape rugged: a Gaussian process fitted to the first
/// <see cref="CheckAfterTrials"/> finished trials leaves at least <see cref="MinNoiseShare"/> of their variance
/// unexplained as noise while its length scales are, on geometric average, at most <see cref="MaxLengthScaleRatio"/> times
/// the prior's mode (≈ 0.2·√d). Both together mean many local optima finer than the model can resolve (Rastrigin-like);
/// smooth functions leave almost no noise, and noisy but broad ones (Ackley) keep long length scales. A run the check
/// keeps on the GP gets a second chance: when the check's fit put at least <see cref="LateMinNoiseShare"/> in noise and the
/// GP's best value then stops improving for <see cref="StallTrials"/> finished trials, the fallback takes over.
/// </summary>
public sealed record RuggedFallbackOptions
{
    /// <summary>How many finished trials (the lowest-numbered) the check is made on, once (default 50; at least 10).</summary>
    public int CheckAfterTrials { get; init; } = 50;

    /// <summary>The least share of the variance the fit puts in noise for the landscape to count as rugged (default 0.025).</summary>
    public double MinNoiseShare { get; init; } = 0.025;

    /// <summary>The largest geometric-mean length scale, relative to the prior's mode, for the landscape to count as rugged (default 1).</summary>
    public double MaxLengthScaleRatio { get; init; } = 1.0;

    /// <summary>
    /// The stall rule, a second chance for a run the check kept on the GP: when the check's fit put at least
    /// <see cref="LateMinNoiseShare"/> of the variance in noise, the fallback takes over at the first point, after the check,
    /// where the GP's best value has not improved over the last this many finished trials (read in trial-number order).
    /// Default 30; 0 turns the rule off.
    /// </summary>
    public int StallTrials { get; init; } = 30;

    /// <summary>
    /// The least noise share of the check's fit for the stall rule to apply (default 0.05, twice <see cref="MinNoiseShare"/>:
    /// smooth functions stay below 0.004, and a GP that stalls there has converged rather than stuck).
    /// </summary>
    public double LateMinNoiseShare { get; init; } = 0.05;

    /// <summary>
    /// An improvement of the best value smaller than this share of the interquartile range of the checked trials' values
    /// counts as none for the stall rule (default 0.01).
    /// </summary>
    public double StallTolerance { get; init; } = 0.01;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first invalid property.</summary>
    public void Validate() => Validate(new OptionRules("sampler 'gp'", nameof(RuggedFallbackOptions), null));

    // The study-file key of each property Validate checks.
    private static readonly Dictionary<string, string> KeyOf = new()
    {
        [nameof(CheckAfterTrials)] = "rugged_check_after_trials", [nameof(MinNoiseShare)] = "rugged_min_noise_share",
        [nameof(MaxLengthScaleRatio)] = "rugged_max_length_scale_ratio", [nameof(StallTrials)] = "rugged_stall_trials",
        [nameof(LateMinNoiseShare)] = "rugged_late_min_noise_share", [nameof(StallTolerance)] = "rugged_stall_tolerance",
    };

    /// <summary>The <c>rugged_*</c> keys of a study file's <c>gp:</c> section.</summary>
    public static IReadOnlyList<string> StudyFileKeys { get; } =
        ["rugged_fallback", "rugged_check_after_trials", "rugged_min_noise_share", "rugged_max_length_scale_ratio", "rugged_stall_trials", "rugged_late_min_noise_share", "rugged_stall_tolerance"];

    internal void Validate(OptionRules rules)
    {
        rules.Require(CheckAfterTrials >= 10, nameof(CheckAfterTrials), CheckAfterTrials, "must be at least 10");
        rules.Require(MinNoiseShare is >= 0 and <= 1, nameof(MinNoiseShare), MinNoiseShare, "must be in [0, 1]");
        rules.Require(MaxLengthScaleRatio > 0 && !double.IsInfinity(MaxLengthScaleRatio), nameof(MaxLengthScaleRatio), MaxLengthScaleRatio, "must be a positive number");
        rules.Require(StallTrials >= 0, nameof(StallTrials), StallTrials, "must be at least 0");
        rules.Require(LateMinNoiseShare is >= 0 and <= 1, nameof(LateMinNoiseShare), LateMinNoiseShare, "must be in [0, 1]");
        rules.Require(StallTolerance is >= 0 and <= 1, nameof(StallTolerance), StallTolerance, "must be in [0, 1]");
    }

    /// <summary>
    /// Reads the <c>rugged_*</c> keys of a <c>gp</c> sampler's study-file options (other keys are left for the GP):
    /// <c>rugged_check_after_trials</c>, <c>rugged_min_noise_share</c>, <c>rugged_max_length_scale_ratio</c>,
    /// <c>rugged_stall_trials</c>, <c>rugged_late_min_noise_share</c>, <c>rugged_stall_tolerance</c>; <c>rugged_fallback</c> is the switch itself.
    /// </summary>
    public static RuggedFallbackOptions FromDictionary(IReadOnlyDictionary<string, object?> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var result = new RuggedFallbackOptions();
        foreach (var (key, value) in options)
        {
            if (!key.StartsWith("rugged_", StringComparison.Ordinal) || key == "rugged_fallback") continue;
            result = key switch
            {
                "rugged_check_after_trials" => result with { CheckAfterTrials = Int(key, value) },
                "rugged_min_noise_share" => result with { MinNoiseShare = Number(key, value) },
                "rugged_max_length_scale_ratio" => result with { MaxLengthScaleRatio = Number(key, value) },
                "rugged_stall_trials" => result with { StallTrials = Int(key, value) },
                "rugged_late_min_noise_share" => result with { LateMinNoiseShare = Number(key, value) },
                "rugged_stall_tolerance" => result with { StallTolerance = Number(key, value) },
                _ => throw OptionErrors.Unknown("sampler 'gp'", key, Gp.GpOptions.StudyFileKeys),
            };
        }
        result.Validate(new OptionRules("sampler 'gp'", nameof(RuggedFallbackOptions), KeyOf));
        return result;
    }

    private static int Int(string key, object? value) => value switch
    {
        int i => i,
        long l and >= int.MinValue and <= int.MaxValue => (int)l,
        string s when int.TryParse(s, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var p) => p,
        _ => throw new ArgumentException($"sampler 'gp': option '{key}' must be an integer, got '{value}'"),
    };

    private static double Number(string key, object? value) => value switch
    {
        double d => d,
        int i => i,
        long l => l,
        string s when double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var p) => p,
        _ => throw new ArgumentException($"sampler 'gp': option '{key}' must be a number, got '{value}'"),
    };

    /// <summary>Whether a fit report says the landscape is rugged.</summary>
    public bool IsRugged(GpFitReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return report.NoiseShare >= MinNoiseShare && double.IsFinite(report.MeanLengthScale)
            && report.MeanLengthScale <= MaxLengthScaleRatio * GpFitReport.PriorLengthScale(report.Dimensions);
    }
}

/// <summary>
/// A Gaussian process that hands the rest of the run to TPE when the landscape turns out rugged. The GP proposes every
/// trial until <see cref="RuggedFallbackOptions.CheckAfterTrials"/> trials have finished; then a GP is fitted afresh to
/// the lowest-numbered that many and judged by <see cref="RuggedFallbackOptions.IsRugged"/>. Rugged: every later trial
/// comes from the fallback (TPE sees the whole history, the GP's trials included). Otherwise the GP keeps the run, and
/// its trials are exactly those of the GP alone, unless the stall rule (<see cref="RuggedFallbackOptions.StallTrials"/>)
/// hands it over later: the check's fit put at least <see cref="RuggedFallbackOptions.LateMinNoiseShare"/> in noise, and the
/// GP's best value then stopped improving. The switch is one-way either way.
/// <para>
/// Why: on a function with many local optima finer than the trials can resolve (Rastrigin), the GP explains the
/// ripples as noise and settles in the first good basin, while TPE keeps sampling where good values were seen and crosses
/// basins. A GP that is wrong this way shows it in its own fit, so no trials are spent finding out.
/// </para>
/// The check is made once per sampler (one fit, tens of milliseconds) and is deterministic: every process that sees the
/// same first finished trials decides the same; the stall rule reads the finished trials in number order, so the point
/// where it hands over depends only on the stored trials too. Which sampler proposed a trial is kept in memory for the trial's asks.
/// </summary>
public sealed class RuggedFallbackSampler : ISampler
{
    private readonly object _gate = new();
    private readonly Dictionary<int, bool> _fallbackFor = [];
    private GpFitReport? _report;
    private bool _checked;
    private bool _handedOver;
    private int? _handoverAt;
    private double _valueSpread;

    /// <summary>Creates the sampler from a GP and the sampler that takes over on rugged landscapes.</summary>
    public RuggedFallbackSampler(ISampler gp, ISampler fallback, RuggedFallbackOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(gp);
        ArgumentNullException.ThrowIfNull(fallback);
        Options = options ?? new RuggedFallbackOptions();
        Options.Validate();
        Gp = gp;
        Fallback = fallback;
    }

    /// <summary>The sampler that runs until the check and, on a smooth landscape, after it.</summary>
    public ISampler Gp { get; }

    /// <summary>The sampler that takes over on a rugged landscape.</summary>
    public ISampler Fallback { get; }

    /// <summary>When the landscape counts as rugged.</summary>
    public RuggedFallbackOptions Options { get; }

    /// <summary>The check's fit, once made (null before it, or when the trials gave nothing to fit).</summary>
    public GpFitReport? Report { get { lock (_gate) return _report; } }

    /// <summary>Null before the check; then whether the fallback took over (at the check or, by the stall rule, later).</summary>
    public bool? Rugged { get { lock (_gate) return _checked ? _handedOver : null; } }

    /// <summary>After how many finished trials the fallback took over (null while the GP keeps the run).</summary>
    public int? HandoverAt { get { lock (_gate) return _handoverAt; } }

    /// <inheritdoc />
    public int? Seed => Gp.Seed;

    /// <inheritdoc />
    public string Name => $"{Gp.Name}+{Fallback.Name}_if_rugged";

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Distribution> InferRelativeSearchSpace(SamplingContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var fallback = Decide(context);
        lock (_gate) _fallbackFor[context.Trial.Number] = fallback;
        return Member(fallback).InferRelativeSearchSpace(context);
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, object?> SampleRelative(SamplingContext context, IReadOnlyDictionary<string, Distribution> searchSpace)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Member(FallbackFor(context.Trial.Number)).SampleRelative(context, searchSpace);
    }

    /// <inheritdoc />
    public object? SampleIndependent(SamplingContext context, string name, Distribution distribution)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Member(FallbackFor(context.Trial.Number)).SampleIndependent(context, name, distribution);
    }

    private bool FallbackFor(int trial)
    {
        lock (_gate) return _fallbackFor.TryGetValue(trial, out var f) && f;
    }

    private ISampler Member(bool fallback) => fallback ? Fallback : Gp;

    private bool Decide(SamplingContext context)
    {
        lock (_gate)
        {
            if (_handedOver) return true;
            var finished = context.History.Trials
                .Where(t => t.State == TrialState.Complete && t.Value is { } v && double.IsFinite(v))
                .OrderBy(t => t.Number).ToList();
            if (!_checked)
            {
                if (finished.Count < Options.CheckAfterTrials) return false;
                _checked = true;
                var first = finished.Take(Options.CheckAfterTrials).ToList();
                _report = Measure(first, context.Direction);
                _valueSpread = InterquartileRange(first.Select(t => t.Value!.Value));
                if (_report is { } r && Options.IsRugged(r)) return HandOver(first.Count);
            }
            if (Options.StallTrials > 0 && _report is { } report && report.NoiseShare >= Options.LateMinNoiseShare
                && StallPoint(finished, context.Direction) is { } n)
                return HandOver(n);
            return false;
        }
    }

    // Under _gate: the fallback takes over, after the given number of finished trials.
    private bool HandOver(int finishedTrials)
    {
        _handedOver = true;
        _handoverAt = finishedTrials;
        return true;
    }

    // Under _gate: the least number of finished trials (by number, from the check on) after which the best value had
    // not improved by more than the tolerance over the last StallTrials of them; null if there is none yet.
    private int? StallPoint(List<FrozenTrial> finished, Direction direction)
    {
        var sign = direction == Direction.Minimize ? 1.0 : -1.0;
        var tolerance = Options.StallTolerance * _valueSpread;
        var best = new double[finished.Count];
        for (var i = 0; i < finished.Count; i++)
            best[i] = Math.Min(i > 0 ? best[i - 1] : double.PositiveInfinity, sign * finished[i].Value!.Value);
        for (var n = Math.Max(Options.CheckAfterTrials, Options.StallTrials + 1); n <= finished.Count; n++)
            if (best[n - 1 - Options.StallTrials] - best[n - 1] <= tolerance) return n;
        return null;
    }

    // Linear interpolation between order statistics (R7, numpy's default).
    private static double InterquartileRange(IEnumerable<double> values)
    {
        var v = values.ToArray();
        if (v.Length == 0) return 0;
        return Statistics.QuantileCustom(v, 0.75, QuantileDefinition.R7) - Statistics.QuantileCustom(v, 0.25, QuantileDefinition.R7);
    }

    // The fit on the first trials' shared parameters, values turned larger-is-better as the GP sampler does; null when
    // fewer than half of them can be encoded or no parameter is shared.
    private static GpFitReport? Measure(List<FrozenTrial> trials, Direction direction)
    {
        var space = new GpFeatureSpace(IntersectionSearchSpace.Of(trials));
        if (space.Dimensions == 0) return null;
        var sign = direction == Direction.Minimize ? -1.0 : 1.0;
        var points = new List<(double[] X, double Y)>();
        foreach (var t in trials)
            if (space.TryEncode(t.Params) is { } x) points.Add((x, sign * t.Value!.Value));
        return points.Count * 2 < trials.Count || points.Count < 5 ? null : GpFitDiagnostics.Measure(points, space.IsCategorical);
    }
}
