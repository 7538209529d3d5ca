using FsCheck.Xunit;
using Xunit;
using Tunesmith.Samplers;
using Tunesmith.Samplers.Bohb;
using Tunesmith.Spaces;
using Tunesmith.Trials;

namespace Tunesmith.Tests.Samplers.Bohb;

/// <summary>Hyper-Tune's level weights in the BOHB sampler (<see cref="BohbLevelChoice.RankWeighted"/>) on hand-built histories.</summary>
public sealed class BohbLevelWeightingTests
{
    // One-parameter trials with a learning curve, as in BohbSamplerTests.
    private static FrozenTrial Trial(int number, double x, TrialState state, params double[] curve) =>
        BohbSamplerTests.Trial(number, x, state, curve);

    // Maximize. 60 trials stopped at epoch 1 with the epoch-1 value lowOrder(x); 12 trials with x in [0.5, 1] ran to epoch 3,
    // where the value is −|x − 0.75|, and reported lowOrder(x) at epoch 1.
    private static StudyHistory TwoLevels(Func<double, double> lowOrder)
    {
        var history = new StudyHistory("weights", Direction.Maximize);
        var random = new Random(11);
        for (var i = 0; i < 60; i++)
        {
            var x = random.NextDouble();
            history.Upsert(Trial(i, x, TrialState.Pruned, lowOrder(x)));
        }
        for (var i = 60; i < 72; i++)
        {
            var x = 0.5 + 0.5 * random.NextDouble();
            history.Upsert(Trial(i, x, TrialState.Complete, lowOrder(x), lowOrder(x), -Math.Abs(x - 0.75)));
        }
        return history;
    }

    private static BohbSampler Sampler(BohbLevelChoice choice, int seed = 3) =>
        new(new BohbOptions { Seed = seed, MaxResource = 3, RandomFraction = 0, LevelChoice = choice });

    [Fact]
    public void A_level_whose_model_orders_the_top_level_backwards_gets_no_weight()
    {
        // Epoch 1 ranks the top level's configurations the other way round (best far from 0.75).
        var history = TwoLevels(x => Math.Abs(x - 0.75));
        var weights = Sampler(BohbLevelChoice.RankWeighted).LevelWeights(history);
        Assert.Equal(2, weights.Count);
        Assert.True(weights[0] < 0.1 && weights[1] > 0.9, string.Join(", ", weights));
        Assert.Equal(1, weights.Sum(), 9);
    }

    [Fact]
    public void A_level_whose_model_orders_the_top_level_as_it_does_shares_the_weight()
    {
        // Epoch 1 agrees with epoch 3 on [0.5, 1] and has many more points: it ranks the top level at least as well as
        // that level's own (leave-one-out) model.
        var history = TwoLevels(x => -Math.Abs(x - 0.75));
        var weights = Sampler(BohbLevelChoice.RankWeighted).LevelWeights(history);
        Assert.True(weights[0] >= 0.3, string.Join(", ", weights));
        Assert.Equal(1, weights.Sum(), 9);
    }

    [Fact]
    public void With_the_largest_level_rule_the_largest_level_with_enough_points_has_all_the_weight()
    {
        var history = TwoLevels(x => -Math.Abs(x - 0.75));
        Assert.Equal([0.0, 1.0], Sampler(BohbLevelChoice.Largest).LevelWeights(history));
        var few = new StudyHistory("weights", Direction.Maximize);
        for (var i = 0; i < 2; i++) few.Upsert(Trial(i, i / 2.0, TrialState.Pruned, 0.1)); // d + 2 = 3 points needed
        Assert.Equal([0.0, 0.0], Sampler(BohbLevelChoice.RankWeighted).LevelWeights(few));
    }

    [Fact]
    public void Proposals_come_from_every_level_with_weight()
    {
        // Epoch 1 also rewards x near 0.1, where no trial reached epoch 3: only the epoch-1 model proposes there. It orders
        // the top level's configurations (all in [0.5, 1]) correctly, so it has weight and some proposals land near 0.1.
        var history = TwoLevels(x => x < 0.5 ? -Math.Abs(x - 0.1) : -Math.Abs(x - 0.75));
        int NearLowPeak(BohbLevelChoice choice) =>
            Proposals(Sampler(choice, seed: 5), history, seed: 5, count: 200).Count(x => x < 0.3);
        var weighted = NearLowPeak(BohbLevelChoice.RankWeighted);
        var largest = NearLowPeak(BohbLevelChoice.Largest);
        Assert.True(weighted >= 20 && largest <= 10, $"rank-weighted {weighted}, largest {largest} of 200 near x = 0.1");
    }

    [Fact]
    public void Best_ranked_lets_the_heaviest_level_propose()
    {
        // Backwards epoch 1: the top level is heaviest and proposes, exactly as with the largest-level rule.
        var backwards = TwoLevels(x => Math.Abs(x - 0.75));
        Assert.Equal(3, Sampler(BohbLevelChoice.BestRanked).ModelLevel(backwards));
        Assert.Equal(Proposals(Sampler(BohbLevelChoice.Largest, seed: 6), backwards, 6, 20), Proposals(Sampler(BohbLevelChoice.BestRanked, seed: 6), backwards, 6, 20));
        // Epoch 1 with many more points ranks the top level as well as it does and also rewards x near 0.1: when it is
        // the heaviest (here it wins every resample: the top level's own leave-one-out model has only 11 points), it
        // proposes every model-based trial, and a good share lands near x = 0.1, where the top level's model never goes.
        var twoPeaks = TwoLevels(x => x < 0.5 ? -Math.Abs(x - 0.1) : -Math.Abs(x - 0.75));
        var sampler = Sampler(BohbLevelChoice.BestRanked, seed: 5);
        var weights = sampler.LevelWeights(twoPeaks);
        Assert.True(weights[0] > weights[1], string.Join(", ", weights));
        Assert.Equal(1, sampler.ModelLevel(twoPeaks));
        var near = Proposals(sampler, twoPeaks, seed: 5, count: 100).Count(x => x < 0.3);
        Assert.True(near >= 20, $"{near} of 100 near x = 0.1");
        Assert.Equal(1, BohbSampler.Heaviest([0.5, 0.5]));
        Assert.Equal(0, BohbSampler.Heaviest([0.6, 0.4]));
    }

    [Fact]
    public void The_same_seed_and_history_give_the_same_weights_and_proposals()
    {
        var history = TwoLevels(x => x < 0.5 ? -Math.Abs(x - 0.1) : -Math.Abs(x - 0.75));
        Assert.Equal(Sampler(BohbLevelChoice.RankWeighted, seed: 8).LevelWeights(history), Sampler(BohbLevelChoice.RankWeighted, seed: 8).LevelWeights(history));
        Assert.Equal(Proposals(Sampler(BohbLevelChoice.RankWeighted, seed: 8), history, 8, 30), Proposals(Sampler(BohbLevelChoice.RankWeighted, seed: 8), history, 8, 30));
    }

    [Fact]
    public void A_level_is_drawn_by_its_cumulative_weight()
    {
        double[] weights = [0.0, 0.25, 0.0, 0.75];
        Assert.Equal(1, BohbSampler.DrawLevel(weights, 0.0));
        Assert.Equal(1, BohbSampler.DrawLevel(weights, 0.2499));
        Assert.Equal(3, BohbSampler.DrawLevel(weights, 0.25));
        Assert.Equal(3, BohbSampler.DrawLevel(weights, 0.99999999999));
        Assert.Null(BohbSampler.DrawLevel([0.0, 0.0], 0.5));
    }

    [Property(MaxTest = 200)]
    public bool The_ranking_loss_counts_the_pairs_a_model_orders_otherwise_than_the_scores(byte[] predictionCodes, byte[] scoreCodes, byte[] pickCodes)
    {
        // Few distinct values, so ties in both predictions and scores (and points picked twice) are common.
        var n = Math.Min(predictionCodes.Length, scoreCodes.Length);
        if (n == 0 || pickCodes.Length == 0) return true;
        var predictions = predictionCodes.Take(n).Select(b => (double)(b % 5)).ToArray();
        var y = scoreCodes.Take(n).Select(b => (double)(b % 4)).ToArray();
        var pick = pickCodes.Select(b => b % n).ToArray();
        long expected = 0;
        for (var a = 0; a < pick.Length; a++)
            for (var b = a + 1; b < pick.Length; b++)
            {
                var (i, j) = y[pick[a]] < y[pick[b]] ? (pick[a], pick[b]) : (pick[b], pick[a]); // i scored better
                if (y[i] != y[j] && !(predictions[i] > predictions[j])) expected++;
            }
        return LevelWeighting.RankingLoss(predictions, y, pick) == expected;
    }

    [Fact]
    public void Study_files_choose_the_level_rule_and_name_a_bad_value()
    {
        BohbSampler Create(Dictionary<string, object?> options) => Assert.IsType<BohbSampler>(SamplerRegistry.Create("bohb", new SamplerRequest(options, Seed: 1)));
        Assert.Equal((BohbLevelChoice.Largest, 50), (Create([]).Options.LevelChoice, Create([]).Options.WeightSamples));
        var weighted = Create(new() { ["level_choice"] = "rank_weighted", ["weight_samples"] = 20L });
        Assert.Equal((BohbLevelChoice.RankWeighted, 20), (weighted.Options.LevelChoice, weighted.Options.WeightSamples));
        Assert.Equal(BohbLevelChoice.BestRanked, Create(new() { ["level_choice"] = "best_ranked" }).Options.LevelChoice);
        Assert.True(Create([]).Options.DilutionGuard);
        Assert.False(Create(new() { ["dilution_guard"] = false }).Options.DilutionGuard);
        var bad = Assert.Throws<ArgumentException>(() => Create(new() { ["level_choice"] = "smallest" }));
        Assert.Equal("sampler 'bohb': option 'level_choice' must be largest, rank_weighted or best_ranked, got smallest", bad.Message);
        Assert.Contains("'dilution_guard'", Assert.Throws<ArgumentException>(() => Create(new() { ["dilution_guard"] = "maybe" })).Message);
        Assert.Contains("'weight_samples'", Assert.Throws<ArgumentException>(() => Create(new() { ["weight_samples"] = 0.5 })).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new BohbSampler(new BohbOptions { WeightSamples = 0 }));
    }

    private static List<double> Proposals(BohbSampler sampler, StudyHistory history, int seed, int count)
    {
        var proposals = new List<double>();
        var first = history.Trials.Count;
        for (var n = first; n < first + count; n++)
        {
            var context = new SamplingContext(history, new FrozenTrial { Id = n + 1, Number = n, State = TrialState.Running }, TrialRandom.Create(seed, n));
            var space = sampler.InferRelativeSearchSpace(context);
            proposals.Add((double)sampler.SampleRelative(context, space)["x"]!);
        }
        return proposals;
    }
}

/// <summary>
/// The BOHB sampler with Hyper-Tune's level choice passes the sampler conformance suite (its trials report no steps, so
/// this checks the contract — bounds, conditional spaces, seeds, concurrent asks — not the level models).
/// </summary>
public sealed class BohbBestRankedSamplerConformanceTests : SamplerConformanceTests
{
    protected override ISampler CreateSampler(int? seed) =>
        new BohbSampler(new BohbOptions { Seed = seed, MaxResource = 9, LevelChoice = BohbLevelChoice.BestRanked });
}
