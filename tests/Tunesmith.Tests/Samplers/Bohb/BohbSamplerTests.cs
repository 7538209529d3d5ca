using Xunit;
using Tunesmith.Samplers;
using Tunesmith.Samplers.Bohb;
using Tunesmith.Spaces;
using Tunesmith.Trials;

namespace Tunesmith.Tests.Samplers.Bohb;

public sealed class BohbSamplerTests
{
    private static readonly FloatDistribution X = new(0, 1);

    internal static FrozenTrial Trial(int number, double x, TrialState state, params double[] curve) => new()
    {
        Id = number + 1,
        Number = number,
        State = state,
        Params = new Dictionary<string, object?> { ["x"] = x },
        Distributions = new Dictionary<string, Distribution> { ["x"] = X },
        Intermediate = curve.Select((v, i) => (Step: (long)(i + 1), v)).ToDictionary(p => p.Step, p => p.v),
        Version = number + 1,
    };

    [Fact]
    public void Budget_levels_are_the_rungs_and_the_maximum()
    {
        Assert.Equal([1L, 3, 9, 27, 50], new BohbOptions { MaxResource = 50 }.Levels());
        Assert.Equal([1L, 3, 9, 27, 81], new BohbOptions().Levels());
        Assert.Equal([2L, 4, 8, 10], new BohbOptions { MinResource = 2, MaxResource = 10, ReductionFactor = 2 }.Levels());
        Assert.Throws<ArgumentOutOfRangeException>(() => new BohbSampler(new BohbOptions { ReductionFactor = 1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BohbSampler(new BohbOptions { RandomFraction = 1.5 }));
    }

    [Fact]
    public void The_model_moves_up_to_the_largest_level_with_enough_observations()
    {
        var sampler = new BohbSampler(new BohbOptions { Seed = 1, MaxResource = 9, MinPointsInModel = 3 });
        var history = new StudyHistory("bohb", Direction.Maximize);
        Assert.Null(sampler.ModelLevel(history));
        for (var i = 0; i < 3; i++) history.Upsert(Trial(i, i / 10.0, TrialState.Pruned, 0.5));
        Assert.Equal(1, sampler.ModelLevel(history));
        // Two trials reach epoch 3: not enough there yet.
        for (var i = 3; i < 5; i++) history.Upsert(Trial(i, i / 10.0, TrialState.Pruned, 0.5, 0.6, 0.7));
        Assert.Equal(1, sampler.ModelLevel(history));
        // A running trial counts at every level it reached.
        history.Upsert(Trial(5, 0.5, TrialState.Running, 0.5, 0.6, 0.8, 0.9));
        Assert.Equal(3, sampler.ModelLevel(history));
        // A failed trial does not count.
        history.Upsert(Trial(6, 0.6, TrialState.Failed, Enumerable.Repeat(0.9, 9).ToArray()));
        history.Upsert(Trial(7, 0.7, TrialState.Complete, Enumerable.Repeat(0.9, 9).ToArray()));
        Assert.Equal(3, sampler.ModelLevel(history));
    }

    [Fact]
    public void Proposals_concentrate_where_the_model_level_was_good()
    {
        // At epoch 1 the trials with x near 0.8 did best; every proposal from the model should lean that way.
        var sampler = new BohbSampler(new BohbOptions { Seed = 3, MaxResource = 9, RandomFraction = 0 });
        var history = new StudyHistory("bohb", Direction.Maximize);
        var random = new Random(5);
        for (var i = 0; i < 40; i++)
        {
            var x = random.NextDouble();
            history.Upsert(Trial(i, x, TrialState.Pruned, -Math.Abs(x - 0.8)));
        }
        var proposals = new List<double>();
        for (var n = 40; n < 80; n++)
        {
            var context = new SamplingContext(history, new FrozenTrial { Id = n + 1, Number = n, State = TrialState.Running }, TrialRandom.Create(3, n));
            var space = sampler.InferRelativeSearchSpace(context);
            Assert.True(space.ContainsKey("x"));
            proposals.Add((double)sampler.SampleRelative(context, space)["x"]!);
        }
        Assert.True(proposals.Count(x => Math.Abs(x - 0.8) < 0.2) > 30, string.Join(", ", proposals.Select(p => p.ToString("0.00"))));
    }

    private static List<double?> Proposals(BohbSampler sampler, StudyHistory history, int seed, int count)
    {
        var proposals = new List<double?>();
        var first = history.Trials.Count;
        for (var n = first; n < first + count; n++)
        {
            var context = new SamplingContext(history, new FrozenTrial { Id = n + 1, Number = n, State = TrialState.Running }, TrialRandom.Create(seed, n));
            var space = sampler.InferRelativeSearchSpace(context);
            proposals.Add(sampler.SampleRelative(context, space).TryGetValue("x", out var x) ? (double)x! : null);
        }
        return proposals;
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0 / 3)]
    [InlineData(1.0)]
    public void A_random_fraction_of_proposals_leaves_the_model_out(double fraction)
    {
        // An empty relative sample means the trial is drawn uniformly (SampleIndependent); the rest come from the model.
        var history = new StudyHistory("bohb", Direction.Minimize);
        for (var i = 0; i < 30; i++) history.Upsert(Trial(i, i / 30.0, TrialState.Pruned, Math.Abs(i / 30.0 - 0.5)));
        var sampler = new BohbSampler(new BohbOptions { Seed = 2, MaxResource = 9, RandomFraction = fraction });
        var random = Proposals(sampler, history, seed: 2, count: 600).Count(p => p is null) / 600.0;
        Assert.InRange(random, fraction - 0.06, fraction + 0.06);
    }

    [Theory]
    [InlineData(BohbLevelValue.AtLevel, 0.8)]
    [InlineData(BohbLevelValue.BestSoFar, 0.2)]
    public void The_level_value_is_the_value_at_the_level_or_the_best_up_to_it(BohbLevelValue levelValue, double favoured)
    {
        // Maximize. Trials near x = 0.2 peak at epoch 2 (0.9) and fall to 0.1 by epoch 3; trials near 0.8 climb steadily to
        // 0.6. At level 3 the value there favours 0.8; the best value up to it favours 0.2.
        var history = new StudyHistory("bohb", Direction.Maximize);
        var random = new Random(7);
        for (var i = 0; i < 40; i++)
        {
            var x = random.NextDouble();
            var peaky = Math.Abs(x - 0.2) < 0.15;
            var steady = Math.Abs(x - 0.8) < 0.15;
            double[] curve = peaky ? [0.3, 0.9, 0.1] : steady ? [0.4, 0.5, 0.6] : [0.2, 0.25, 0.3];
            history.Upsert(Trial(i, x, TrialState.Pruned, curve));
        }
        var sampler = new BohbSampler(new BohbOptions { Seed = 4, MaxResource = 3, RandomFraction = 0, LevelValue = levelValue });
        Assert.Equal(3, sampler.ModelLevel(history));
        var proposals = Proposals(sampler, history, seed: 4, count: 60).Select(p => p!.Value).ToList();
        Assert.True(proposals.Count(x => Math.Abs(x - favoured) < 0.2) > 40, string.Join(", ", proposals.Select(p => p.ToString("0.00"))));
    }

    [Fact]
    public void The_level_models_kernels_are_widened_by_the_bandwidth_factor()
    {
        Assert.Equal(3, new BohbSampler().LevelModelOptions.BandwidthScale);
        var sampler = new BohbSampler(new BohbOptions { Seed = 5, BandwidthFactor = 2, Tpe = new() { BandwidthScale = 1.5 } });
        Assert.Equal((3.0, 5, 1, false), (sampler.LevelModelOptions.BandwidthScale, sampler.LevelModelOptions.Seed, sampler.LevelModelOptions.StartupTrials, sampler.LevelModelOptions.ConstantLiar));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BohbSampler(new BohbOptions { BandwidthFactor = 0 }));
    }

    [Fact]
    public void The_same_seed_and_history_give_the_same_proposal()
    {
        var history = new StudyHistory("bohb", Direction.Minimize);
        for (var i = 0; i < 20; i++) history.Upsert(Trial(i, i / 20.0, TrialState.Pruned, Math.Sin(i)));
        object? Propose()
        {
            var sampler = new BohbSampler(new BohbOptions { Seed = 9, MaxResource = 9 });
            var context = new SamplingContext(history, new FrozenTrial { Id = 99, Number = 20, State = TrialState.Running }, TrialRandom.Create(9, 20));
            var space = sampler.InferRelativeSearchSpace(context);
            return sampler.SampleRelative(context, space).GetValueOrDefault("x") ?? sampler.SampleIndependent(context, "x", X);
        }
        Assert.Equal(Propose(), Propose());
    }

    [Fact]
    public void Study_files_name_it_bohb_with_its_resources()
    {
        var sampler = Assert.IsType<BohbSampler>(SamplerRegistry.Create("bohb", new SamplerRequest(new Dictionary<string, object?> { ["min"] = 1L, ["max"] = 27L, ["reduction"] = 3.0 }, Seed: 4)));
        Assert.Equal([1L, 3, 9, 27], sampler.Levels);
        Assert.Equal(4, sampler.Seed);
        Assert.Equal(1.0 / 3, sampler.Options.RandomFraction);
        Assert.Equal(3, sampler.Options.BandwidthFactor);
        Assert.Equal(BohbLevelValue.AtLevel, sampler.Options.LevelValue);
        var tuned = Assert.IsType<BohbSampler>(SamplerRegistry.Create("bohb", new SamplerRequest(new Dictionary<string, object?> { ["level_value"] = "best_so_far", ["bandwidth_factor"] = 2.0, ["random_fraction"] = 0.25 })));
        Assert.Equal((BohbLevelValue.BestSoFar, 2.0, 0.25), (tuned.Options.LevelValue, tuned.Options.BandwidthFactor, tuned.Options.RandomFraction));
        Assert.Contains("level_value", Assert.Throws<ArgumentException>(() => SamplerRegistry.Create("bohb", new SamplerRequest(new Dictionary<string, object?> { ["level_value"] = "final" }))).Message);
        Assert.Contains("'eta'", Assert.Throws<ArgumentException>(() => SamplerRegistry.Create("bohb", new SamplerRequest(new Dictionary<string, object?> { ["eta"] = 3L }))).Message);
        Assert.Contains("bohb", Assert.Throws<ArgumentException>(() => SamplerRegistry.Create("bohb", new SamplerRequest(new Dictionary<string, object?> { ["reduction"] = 1.0 }))).Message);
    }
}
