using Tunesmith.Samplers.Gp;
using Tunesmith.Spaces;

namespace Tunesmith.Samplers.Portfolio;

/// <summary>
/// When <see cref="RuggedFallbackSampler"/> judges a landscape rugged: a Gaussian process fitted to the first
/// <see cref="CheckAfterTrials"/> finished trials leaves at least <see cref="MinNoiseShare"/> of their variance
/// unexplained as noise while its length scales are, on geometric average, at most <see cref="MaxLengthScaleRatio"/> times
/// the prior's mode (≈ 0.2·√d). Both together mean many local optima finer than the model can resolve (Rastrigin-like);
/// smooth functions leave almost no noise, and noisy but broad ones (Ackley) keep long length scales.
/// </summary>
public sealed record RuggedFallbackOptions
{
    /// <summary>How many finished trials (the lowest-numbered) the check is made on, once (default 50; at least 10).</summary>
    public int CheckAfterTrials { get; init; } = 50;

    /// <summary>The least share of the variance the fit puts in noise for the landscape to count as rugged (default 0.025).</summary>
    public double MinNoiseShare { get; init; } = 0.025;

    /// <summary>The largest geometric-mean length scale, relative to the prior's mode, for the landscape to count as rugged (default 1).</summary>
    public double MaxLengthScaleRatio { get; init; } = 1.0;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (CheckAfterTrials < 10) throw new ArgumentException($"rugged check_after_trials must be at least 10, got {CheckAfterTrials}");
        if (!(MinNoiseShare is >= 0 and <= 1)) throw new ArgumentException($"rugged min_noise_share must be in [0, 1], got {MinNoiseShare}");
        if (!(MaxLengthScaleRatio > 0) || double.IsInfinity(MaxLengthScaleRatio))
            throw new ArgumentException($"rugged max_length_scale_ratio must be a positive number, got {MaxLengthScaleRatio}");
    }

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
/// its trials are exactly those of the GP alone.
/// <para>
/// Why: on a function with many local optima finer than the trials can resolve (Rastrigin), the GP explains the
/// ripples as noise and settles in the first good basin, while TPE keeps sampling where good values were seen and crosses
/// basins. A GP that is wrong this way shows it in its own fit, so no trials are spent finding out.
/// </para>
/// The check is made once per sampler (one fit, tens of milliseconds) and is deterministic: every process that sees the
/// same first finished trials decides the same. Which sampler proposed a trial is kept in memory for the trial's asks.
/// </summary>
public sealed class RuggedFallbackSampler : ISampler
{
    private readonly object _gate = new();
    private readonly Dictionary<int, bool> _fallbackFor = [];
    private GpFitReport? _report;
    private bool _checked;

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

    /// <summary>Null before the check; then whether the fallback took over.</summary>
    public bool? Rugged { get { lock (_gate) return _checked ? ReportSaysRugged() : null; } }

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

    private ISampler Member(bool fallback) => fallback ? Fallback : Gp;

    private bool FallbackFor(int trial)
    {
        lock (_gate) return _fallbackFor.TryGetValue(trial, out var f) && f;
    }

    private bool Decide(SamplingContext context)
    {
        lock (_gate)
        {
            if (_checked) return ReportSaysRugged();
            var first = context.History.Trials
                .Where(t => t.State == TrialState.Complete && t.Value is { } v && double.IsFinite(v))
                .OrderBy(t => t.Number).Take(Options.CheckAfterTrials).ToList();
            if (first.Count < Options.CheckAfterTrials) return false;
            _checked = true;
            _report = Measure(first, context.Direction);
            return ReportSaysRugged();
        }
    }

    // Under _gate.
    private bool ReportSaysRugged() => _report is { } r && Options.IsRugged(r);

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
