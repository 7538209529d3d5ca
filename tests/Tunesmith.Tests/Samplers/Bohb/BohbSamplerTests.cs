using Xunit;
using Tunesmith.Samplers;
using Tunesmith.Samplers.Bohb;
using Tunesmith.Spaces;
using Tunesmith.Trials;

namespace Tunesmith.Tests.Samplers.Bohb;

public sealed class BohbSamplerTests
{
    private static readonly FloatDistribution X = new(0, 1);

    private static FrozenTrial Trial(int number, double x, TrialState state, params double[] curve) => new()
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
        Assert.Contains("'eta'", Assert.Throws<ArgumentException>(() => SamplerRegistry.Create("bohb", new SamplerRequest(new Dictionary<string, object?> { ["eta"] = 3L }))).Message);
        Assert.Contains("bohb", Assert.Throws<ArgumentException>(() => SamplerRegistry.Create("bohb", new SamplerRequest(new Dictionary<string, object?> { ["reduction"] = 1.0 }))).Message);
    }
}
