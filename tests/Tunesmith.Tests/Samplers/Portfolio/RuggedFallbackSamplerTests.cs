using FsCheck;
using FsCheck.Xunit;
using Tunesmith.Samplers;
using Tunesmith.Samplers.Gp;
using Tunesmith.Samplers.Portfolio;
using Tunesmith.Samplers.Tpe;
using Tunesmith.Spaces;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Tests.Samplers.Portfolio;

/// <summary>The GP with a TPE fallback passes the conformance suite, with a check that always hands over after 10 trials.</summary>
public sealed class RuggedFallbackSamplerConformanceTests : SamplerConformanceTests
{
    protected override ISampler CreateSampler(int? seed) =>
        new RuggedFallbackSampler(new GpSampler(seed), new TpeSampler(new TpeOptions { Seed = seed, Multivariate = true, Group = true }),
            new RuggedFallbackOptions { CheckAfterTrials = 10, MinNoiseShare = 0, MaxLengthScaleRatio = 1e9 });
}

public sealed class RuggedFallbackSamplerTests
{
    /// <summary>Proposes 0.123 for every parameter: shows which member a trial came from.</summary>
    private sealed class MarkerSampler : ISampler
    {
        public const double Value = 0.123;
        public int? Seed => 1;
        public string Name => "marker";
        public IReadOnlyDictionary<string, Distribution> InferRelativeSearchSpace(SamplingContext context) => new Dictionary<string, Distribution>();
        public IReadOnlyDictionary<string, object?> SampleRelative(SamplingContext context, IReadOnlyDictionary<string, Distribution> searchSpace) =>
            new Dictionary<string, object?>();
        public object? SampleIndependent(SamplingContext context, string name, Distribution distribution) => Value;
    }

    private static double Rastrigin(double[] x) => 10 * x.Length + x.Sum(v => v * v - 10 * Math.Cos(2 * Math.PI * v));
    private static double Sphere(double[] x) => x.Sum(v => v * v);

    private static readonly FloatDistribution Box = new(-5.12, 5.12);

    private static FrozenTrial Trial(int number, double[] x, double value) => new()
    {
        Id = number + 1, Number = number, State = TrialState.Complete, Value = value,
        Params = Enumerable.Range(0, x.Length).ToDictionary(j => $"x{j}", j => (object?)x[j]),
        Distributions = Enumerable.Range(0, x.Length).ToDictionary(j => $"x{j}", _ => (Distribution)Box),
    };

    // A hand-built history like a GP's first 50 trials in 5 dimensions: 10 random points, then 40 around (1, …, 1).
    private static List<FrozenTrial> Trials(Func<double[], double> f, int n = 50, int seed = 1)
    {
        var random = new Random(seed);
        var trials = new List<FrozenTrial>();
        for (var i = 0; i < n; i++)
        {
            var x = new double[5];
            for (var j = 0; j < x.Length; j++)
                x[j] = i < 10 ? -5.12 + random.NextDouble() * 10.24 : Math.Clamp(1 + (random.NextDouble() * 2 - 1) * 2.5, -5.12, 5.12);
            trials.Add(Trial(i, x, f(x)));
        }
        return trials;
    }

    private static SamplingContext Next(IEnumerable<FrozenTrial> trials, int seed = 7)
    {
        var history = StudyHistory.Of("rugged", Direction.Minimize, trials);
        var number = history.Trials.Count;
        return new SamplingContext(history, new FrozenTrial { Id = number + 1, Number = number, State = TrialState.Running }, TrialRandom.Create(seed, number));
    }

    // One trial's proposal through the sampler interface, as the study makes it.
    private static IReadOnlyDictionary<string, object?> Propose(ISampler sampler, SamplingContext context)
    {
        var relative = sampler.InferRelativeSearchSpace(context);
        var values = relative.Count > 0 ? new Dictionary<string, object?>(sampler.SampleRelative(context, relative)) : [];
        for (var j = 0; j < 5; j++)
            if (!values.ContainsKey($"x{j}")) values[$"x{j}"] = sampler.SampleIndependent(context, $"x{j}", Box);
        return values;
    }

    [Fact]
    public void A_rugged_history_hands_every_later_trial_to_the_fallback()
    {
        var sampler = new RuggedFallbackSampler(new GpSampler(1), new MarkerSampler());
        Assert.Null(sampler.Rugged);
        var proposal = Propose(sampler, Next(Trials(Rastrigin)));
        // The fit explains Rastrigin's ripples as noise and shrinks its length scales below the prior's mode.
        var report = Assert.IsType<GpFitReport>(sampler.Report);
        Assert.Equal(50, report.Observations);
        Assert.True(report.NoiseShare >= 0.025, $"noise share {report.NoiseShare}");
        Assert.True(report.MeanLengthScale <= GpFitReport.PriorLengthScale(5), $"mean length scale {report.MeanLengthScale}");
        Assert.True(sampler.Rugged);
        Assert.All(proposal.Values, v => Assert.Equal(MarkerSampler.Value, v));
        Assert.All(Propose(sampler, Next(Trials(Rastrigin, n: 80))).Values, v => Assert.Equal(MarkerSampler.Value, v));
        Assert.Equal("gp+marker_if_rugged", sampler.Name);
    }

    [Fact]
    public void A_smooth_history_keeps_the_gp_and_its_exact_trials()
    {
        var sampler = new RuggedFallbackSampler(new GpSampler(1), new MarkerSampler());
        var context = Next(Trials(Sphere));
        var proposal = Propose(sampler, context);
        Assert.False(sampler.Rugged);
        Assert.True(sampler.Report!.NoiseShare < 0.001, $"noise share {sampler.Report.NoiseShare}");
        // The same point as the GP alone proposes from the same history and random stream.
        Assert.Equal(Propose(new GpSampler(1), Next(Trials(Sphere))), proposal);
    }

    [Fact]
    public void Before_its_trials_have_finished_the_check_waits_and_the_gp_proposes()
    {
        var sampler = new RuggedFallbackSampler(new GpSampler(1), new MarkerSampler());
        var proposal = Propose(sampler, Next(Trials(Rastrigin, n: 49)));
        Assert.Null(sampler.Rugged);
        Assert.Null(sampler.Report);
        Assert.DoesNotContain(proposal.Values, v => Equals(v, MarkerSampler.Value));
    }

    [Fact]
    public void The_decision_and_the_proposal_are_reproducible_under_a_seed()
    {
        RuggedFallbackSampler Make() => new(new GpSampler(5), new TpeSampler(new TpeOptions { Seed = 5, Multivariate = true, Group = true }));
        var (a, b) = (Make(), Make());
        var first = Propose(a, Next(Trials(Rastrigin, seed: 3), seed: 5));
        var second = Propose(b, Next(Trials(Rastrigin, seed: 3), seed: 5));
        Assert.Equal(a.Report, b.Report);
        Assert.Equal(first, second);
    }

    /// <summary>
    /// The check reads only the lowest-numbered finished trials, so a process that joins later, or sees more trials
    /// finished, makes the same check, and hands over at the check exactly when the other does. Seeing more trials it may
    /// also hand over later, by the stall rule, where the trials stall, as a process that sees just that many does.
    /// </summary>
    [Property(MaxTest = 15)]
    public bool The_decision_depends_only_on_the_first_finished_trials(PositiveInt seed, NonNegativeInt extra, bool rugged) =>
        SameDecisionOnTheFirstTrials(seed.Get, extra.Get, rugged);

    // FsCheck's counterexample from a CI run (seed 24, 6 more trials, Rastrigin): the later process handed over by the
    // stall rule after 56 trials, which the early one, with 50, could not see yet.
    [Fact]
    public void A_later_stall_handover_is_not_a_different_check() => Assert.True(SameDecisionOnTheFirstTrials(24, 6, rugged: true));

    private static bool SameDecisionOnTheFirstTrials(int seed, int extra, bool rugged)
    {
        var trials = Trials(rugged ? Rastrigin : Sphere, n: 50 + extra % 40, seed: seed);
        var early = new RuggedFallbackSampler(new GpSampler(1), new MarkerSampler());
        var late = new RuggedFallbackSampler(new GpSampler(1), new MarkerSampler());
        Propose(early, Next(trials.Take(50)));
        Propose(late, Next(trials));
        if (!(early.Report == late.Report && early.HandoverAt == (late.HandoverAt <= 50 ? late.HandoverAt : null))) return false;
        if (late.HandoverAt is not { } at || at <= 50) return true;
        // A later handover is where the trials stall: a process that sees just that many decides the same.
        var stalled = new RuggedFallbackSampler(new GpSampler(1), new MarkerSampler());
        Propose(stalled, Next(trials.Take(at)));
        return stalled.HandoverAt == at;
    }

    /// <summary>Proposes 0.456 for every parameter: the GP's place in the stall tests, so that only the check's fits cost time.</summary>
    private sealed class OtherMarkerSampler : ISampler
    {
        public const double Value = 0.456;
        public int? Seed => 1;
        public string Name => "other";
        public IReadOnlyDictionary<string, Distribution> InferRelativeSearchSpace(SamplingContext context) => new Dictionary<string, Distribution>();
        public IReadOnlyDictionary<string, object?> SampleRelative(SamplingContext context, IReadOnlyDictionary<string, Distribution> searchSpace) =>
            new Dictionary<string, object?>();
        public object? SampleIndependent(SamplingContext context, string name, Distribution distribution) => Value;
    }

    // The first 50 trials of Trials(f), renumbered so that the best is the last (the GP was still improving at the
    // check), then `stalled` trials that are worse than that best (points of the first 40 moved by 0.01).
    private static List<FrozenTrial> StallingTrials(Func<double[], double> f, int stalled, int seed = 1)
    {
        var first = Trials(f, seed: seed);
        var best = first.MinBy(t => t.Value!.Value)!;
        var ordered = first.Where(t => t != best).Append(best).ToList();
        var trials = new List<FrozenTrial>();
        for (var i = 0; i < ordered.Count; i++) trials.Add(ordered[i] with { Id = i + 1, Number = i });
        var random = new Random(seed + 100);
        while (trials.Count < 50 + stalled)
        {
            var x = Enumerable.Range(0, 5).Select(j => Math.Clamp((double)trials[random.Next(40)].Params[$"x{j}"]! + 0.01, -5.12, 5.12)).ToArray();
            var value = f(x);
            if (value > best.Value!.Value) trials.Add(Trial(trials.Count, x, value));
        }
        return trials;
    }

    // The check's length-scale condition switched off, so that only the stall rule can hand over.
    private static readonly RuggedFallbackOptions LateOnly = new() { MaxLengthScaleRatio = 1e-9, LateMinNoiseShare = 0.025 };

    private static bool HandsOver(RuggedFallbackSampler sampler, SamplingContext context) =>
        Propose(sampler, context).Values.All(v => Equals(v, MarkerSampler.Value));

    [Fact]
    public void A_run_the_check_keeps_on_the_gp_hands_over_once_the_gp_has_stalled()
    {
        var trials = StallingTrials(Rastrigin, stalled: 40);
        var sampler = new RuggedFallbackSampler(new OtherMarkerSampler(), new MarkerSampler(), LateOnly);
        Assert.False(HandsOver(sampler, Next(trials.Take(50))));
        Assert.False(sampler.Rugged);
        Assert.True(sampler.Report!.NoiseShare >= LateOnly.LateMinNoiseShare, $"noise share {sampler.Report.NoiseShare}");
        // 29 trials without a new best: still the GP; the 30th: the fallback, from then on.
        Assert.False(HandsOver(sampler, Next(trials.Take(79))));
        Assert.True(HandsOver(sampler, Next(trials.Take(80))));
        Assert.True(sampler.Rugged);
        Assert.Equal(80, sampler.HandoverAt);
        Assert.True(HandsOver(sampler, Next(trials.Take(80))));
    }

    [Fact]
    public void A_smooth_history_never_hands_over_however_long_the_gp_stalls()
    {
        var trials = StallingTrials(Sphere, stalled: 100);
        var sampler = new RuggedFallbackSampler(new OtherMarkerSampler(), new MarkerSampler(), new RuggedFallbackOptions());
        for (var n = 50; n <= trials.Count; n += 5)
            Assert.False(HandsOver(sampler, Next(trials.Take(n))), $"handed over after {n} trials");
        Assert.False(sampler.Rugged);
        Assert.Null(sampler.HandoverAt);
        Assert.True(sampler.Report!.NoiseShare < new RuggedFallbackOptions().LateMinNoiseShare, $"noise share {sampler.Report.NoiseShare}");
    }

    /// <summary>
    /// The stall rule reads the finished trials in number order, so a process that asks after every trial and one that
    /// first asks late, with all of them stored, hand over at the same point.
    /// </summary>
    [Property(MaxTest = 100)]
    public bool The_handover_point_depends_only_on_the_stored_trials(PositiveInt seed, NonNegativeInt stalled, NonNegativeInt late)
    {
        var stalledCount = 15 + stalled.Get * 7 % 40; // 15..54: both sides of the 30-trial window
        var trials = StallingTrials(Rastrigin, stalled: stalledCount, seed: seed.Get % 1000);
        var everyTrial = new RuggedFallbackSampler(new OtherMarkerSampler(), new MarkerSampler(), LateOnly);
        for (var n = 50; n <= trials.Count; n++) HandsOver(everyTrial, Next(trials.Take(n)));
        var once = new RuggedFallbackSampler(new OtherMarkerSampler(), new MarkerSampler(), LateOnly);
        var lateCount = Math.Max(50, trials.Count - late.Get % 20);
        var handsOver = HandsOver(once, Next(trials.Take(lateCount)));
        var expected = everyTrial.HandoverAt is { } at && at <= lateCount;
        // Only where the check's fit saw enough noise, and by trial 80 when 30 trials stalled after trial 50's best. It may
        // come sooner: when that best beat the earlier ones by less than the stall tolerance, the stall began before it
        // (seed 29 with 29 stalled trials hands over at 76).
        var noisy = everyTrial.Report!.NoiseShare >= LateOnly.LateMinNoiseShare;
        return handsOver == expected && (!expected || once.HandoverAt == everyTrial.HandoverAt)
            && (everyTrial.HandoverAt is { } handover ? noisy && handover <= 80 : !(noisy && stalledCount >= 30));
    }

    [Fact]
    public void The_stall_options_are_read_from_a_study_file_and_checked()
    {
        var sampler = SamplerRegistry.Create("gp", new SamplerRequest(new Dictionary<string, object?>
        {
            ["rugged_fallback"] = true, ["rugged_stall_trials"] = 20L, ["rugged_late_min_noise_share"] = 0.1, ["rugged_stall_tolerance"] = "0.02",
            ["rugged_check_after_trials"] = 40L,
        }, 3));
        var options = Assert.IsType<RuggedFallbackSampler>(sampler).Options;
        Assert.Equal(new RuggedFallbackOptions { StallTrials = 20, LateMinNoiseShare = 0.1, StallTolerance = 0.02, CheckAfterTrials = 40 }, options);
        ArgumentException Bad(string key, object? value) => Assert.Throws<ArgumentException>(() => SamplerRegistry.Create("gp",
            new SamplerRequest(new Dictionary<string, object?> { ["rugged_fallback"] = true, [key] = value }, 3)));
        Assert.Contains("rugged_stall_trials", Bad("rugged_stall_trials", -1L).Message);
        Assert.Contains("late_min_noise_share", Bad("rugged_late_min_noise_share", 1.5).Message);
        Assert.Contains("stall_tolerance", Bad("rugged_stall_tolerance", "x").Message);
        Assert.Contains("rugged_stal", Bad("rugged_stal", 3L).Message);
        var alone = Assert.Throws<ArgumentException>(() => SamplerRegistry.Create("gp", new SamplerRequest(new Dictionary<string, object?> { ["rugged_stall_trials"] = 30L }, 3)));
        Assert.Contains("rugged_fallback", alone.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new RuggedFallbackOptions { StallTrials = -1 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new RuggedFallbackOptions { StallTolerance = double.NaN }.Validate());
    }

    [Fact]
    public void The_option_is_read_from_a_study_file_and_checked()
    {
        var sampler = SamplerRegistry.Create("gp", new SamplerRequest(new Dictionary<string, object?> { ["rugged_fallback"] = true, ["n_startup_trials"] = 5 }, 3));
        var rugged = Assert.IsType<RuggedFallbackSampler>(sampler);
        Assert.Equal(5, ((GpSampler)rugged.Gp).Options.NStartupTrials);
        Assert.True(((TpeSampler)rugged.Fallback).Options is { Multivariate: true, Group: true });
        Assert.Equal("gp+tpe_if_rugged", sampler.Name);
        Assert.IsType<GpSampler>(SamplerRegistry.Create("gp", new SamplerRequest(new Dictionary<string, object?> { ["rugged_fallback"] = "false" })));
        var e = Assert.Throws<ArgumentException>(() => SamplerRegistry.Create("gp", new SamplerRequest(new Dictionary<string, object?> { ["rugged_fallback"] = 3 })));
        Assert.Contains("rugged_fallback", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new RuggedFallbackOptions { CheckAfterTrials = 5 }.Validate());
    }
}
