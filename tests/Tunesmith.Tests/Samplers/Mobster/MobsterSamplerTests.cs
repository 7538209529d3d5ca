using Xunit;
using Tunesmith.Samplers;
using Tunesmith.Samplers.Bohb;
using Tunesmith.Samplers.Mobster;
using Tunesmith.Spaces;
using Tunesmith.Testing;
using Tunesmith.Trials;

namespace Tunesmith.Tests.Samplers.Mobster;

public sealed class MobsterSamplerTests
{
    private static readonly FloatDistribution Unit = new(0, 1);

    private static FrozenTrial Trial(int number, double x, double y, TrialState state, params double[] curve) => new()
    {
        Id = number + 1,
        Number = number,
        State = state,
        Params = new Dictionary<string, object?> { ["x"] = x, ["y"] = y },
        Distributions = new Dictionary<string, Distribution> { ["x"] = Unit, ["y"] = Unit },
        Intermediate = curve.Select((v, i) => (Step: (long)(i + 1), v)).ToDictionary(p => p.Step, p => p.v),
        Value = state is TrialState.Complete or TrialState.Pruned && curve.Length > 0 ? curve[^1] : null,
        Version = number + 1,
    };

    // A learning curve whose every epoch ranks configurations about as the last does: error falls with epochs towards the
    // configuration's floor, the squared distance from (0.8, 0.3), with a little noise per epoch as training runs have.
    private static double[] Curve(double x, double y, int epochs)
    {
        var floor = (x - 0.8) * (x - 0.8) + (y - 0.3) * (y - 0.3);
        return Enumerable.Range(1, epochs).Select(e => floor + 0.5 / e + 0.01 * Math.Sin(9973 * x + 7919 * y + e)).ToArray();
    }

    // ASHA-like history: every trial ran 1 epoch, the better third 3, the better ninth 9 (of MaxResource 9).
    private static StudyHistory MultiFidelityHistory(int trials, int seed)
    {
        var history = new StudyHistory("mobster", Direction.Minimize);
        var random = new Random(seed);
        var points = Enumerable.Range(0, trials).Select(_ => (X: random.NextDouble(), Y: random.NextDouble())).ToList();
        var ranked = points.Select((p, i) => (i, Curve(p.X, p.Y, 1)[0])).OrderBy(p => p.Item2).Select(p => p.i).ToList();
        for (var i = 0; i < trials; i++)
        {
            var rank = ranked.IndexOf(i);
            var epochs = rank < trials / 9 ? 9 : rank < trials / 3 ? 3 : 1;
            history.Upsert(Trial(i, points[i].X, points[i].Y, epochs == 9 ? TrialState.Complete : TrialState.Pruned, Curve(points[i].X, points[i].Y, epochs)));
        }
        return history;
    }

    private static List<(double X, double Y)?> Proposals(MobsterSampler sampler, StudyHistory history, int seed, int count)
    {
        var result = new List<(double X, double Y)?>();
        var first = history.Trials.Count;
        for (var n = first; n < first + count; n++)
        {
            var context = new SamplingContext(history, new FrozenTrial { Id = n + 1, Number = n, State = TrialState.Running }, TrialRandom.Create(seed, n));
            var space = sampler.InferRelativeSearchSpace(context);
            var values = sampler.SampleRelative(context, space);
            result.Add(values.Count == 0 ? null : ((double)values["x"]!, (double)values["y"]!));
        }
        return result;
    }

    [Fact]
    public void Expected_improvement_is_taken_at_the_largest_level_with_enough_observations()
    {
        var sampler = new MobsterSampler(new MobsterOptions { Seed = 1, MaxResource = 9 });
        Assert.Equal([1L, 3, 9], sampler.Levels);
        var history = new StudyHistory("mobster", Direction.Minimize);
        Assert.Null(sampler.AcquisitionLevel(history));
        // Two parameters: a level needs 2 + 2 observations (BOHB's rule). Trials count at every level they reached.
        for (var i = 0; i < 4; i++) history.Upsert(Trial(i, i / 10.0, 0.5, TrialState.Pruned, 0.5));
        Assert.Equal(1, sampler.AcquisitionLevel(history));
        for (var i = 4; i < 7; i++) history.Upsert(Trial(i, i / 10.0, 0.5, TrialState.Pruned, 0.5, 0.4, 0.3));
        Assert.Equal(1, sampler.AcquisitionLevel(history));
        history.Upsert(Trial(7, 0.7, 0.5, TrialState.Running, 0.5, 0.4, 0.3, 0.2));
        Assert.Equal(3, sampler.AcquisitionLevel(history));
        history.Upsert(Trial(8, 0.8, 0.5, TrialState.Failed, Enumerable.Repeat(0.1, 9).ToArray()));
        Assert.Equal(3, sampler.AcquisitionLevel(history));
        Assert.Equal(9, new MobsterSampler(new MobsterOptions { Seed = 1, MaxResource = 9, MinPointsInModel = 1 + 1 }).AcquisitionLevel(
            With(history, Trial(9, 0.9, 0.5, TrialState.Complete, Enumerable.Repeat(0.1, 9).ToArray()), Trial(10, 0.1, 0.1, TrialState.Complete, Enumerable.Repeat(0.2, 9).ToArray()))));
    }

    private static StudyHistory With(StudyHistory history, params FrozenTrial[] trials)
    {
        foreach (var t in trials) history.Upsert(t);
        return history;
    }

    [Fact]
    public void Trials_are_random_until_the_lowest_level_has_enough_observations()
    {
        var history = new StudyHistory("mobster", Direction.Minimize);
        for (var i = 0; i < 3; i++) history.Upsert(Trial(i, i / 10.0, 0.5, TrialState.Pruned, 0.5));
        var sampler = new MobsterSampler(new MobsterOptions { Seed = 1, MaxResource = 9 });
        Assert.All(Proposals(sampler, history, 1, 5), p => Assert.Null(p));
        history.Upsert(Trial(3, 0.3, 0.5, TrialState.Pruned, 0.5));
        Assert.All(Proposals(sampler, history, 1, 5), p => Assert.NotNull(p));
    }

    [Fact]
    public void Proposals_concentrate_near_the_optimum_the_low_levels_point_to()
    {
        // 60 trials, most seen at one epoch only; the low levels rank configurations as the high one does. A proposal lands
        // within 0.15 of the optimum (0.8, 0.3) by chance 7 % of the time.
        var history = MultiFidelityHistory(60, seed: 11);
        var sampler = new MobsterSampler(new MobsterOptions { Seed = 3, MaxResource = 9 });
        Assert.Equal(9, sampler.AcquisitionLevel(history));
        var proposals = Proposals(sampler, history, seed: 3, count: 20).Select(p => p!.Value).ToList();
        var near = proposals.Count(p => Math.Sqrt((p.X - 0.8) * (p.X - 0.8) + (p.Y - 0.3) * (p.Y - 0.3)) < 0.15);
        Assert.True(near >= 14, string.Join(", ", proposals.Select(p => $"({p.X:0.00}, {p.Y:0.00})")));
    }

    [Theory]
    [InlineData(MobsterPendingLevel.NextLevel, 0.0)]
    [InlineData(MobsterPendingLevel.AcquisitionLevel, 1e-4)]
    public void The_point_a_running_trial_holds_is_not_proposed_again(MobsterPendingLevel pendingLevel, double moved)
    {
        // Kriging believer: the same ask (same trial number, same random stream) proposes the same point on the same
        // history, and another one once a running trial holds that point. Pending at the next level (epoch 1 for a trial
        // that has reported nothing) the point moves only a little (about 1e-6 here): the acquisition level is 9.
        var history = MultiFidelityHistory(60, seed: 12);
        (double X, double Y) Ask()
        {
            var sampler = new MobsterSampler(new MobsterOptions { Seed = 5, MaxResource = 9, PendingLevel = pendingLevel });
            var context = new SamplingContext(history, new FrozenTrial { Id = 100, Number = 99, State = TrialState.Running }, TrialRandom.Create(5, 99));
            var values = sampler.SampleRelative(context, sampler.InferRelativeSearchSpace(context));
            return ((double)values["x"]!, (double)values["y"]!);
        }
        var first = Ask();
        Assert.Equal(first, Ask());
        history.Upsert(Trial(60, first.X, first.Y, TrialState.Running));
        var second = Ask();
        Assert.True(Math.Abs(second.X - first.X) + Math.Abs(second.Y - first.Y) > moved && second != first, $"{first} then {second}");
    }

    [Fact]
    public void Cost_aware_acquisition_leans_towards_configurations_that_run_faster()
    {
        // The floor is symmetric about x = 0.5 (two equally good optima, (0.2, 0.5) and (0.8, 0.5)); an epoch at x > 0.5
        // takes ten times as long. Plain EI splits its proposals; EI per second prefers the fast side.
        var history = new StudyHistory("mobster", Direction.Minimize);
        var random = new Random(21);
        var start = DateTimeOffset.UnixEpoch;
        for (var i = 0; i < 60; i++)
        {
            var (x, y) = (random.NextDouble(), random.NextDouble());
            var floor = Math.Min((x - 0.2) * (x - 0.2), (x - 0.8) * (x - 0.8)) + (y - 0.5) * (y - 0.5);
            var epochs = floor < 0.02 ? 3 : 1;
            var curve = Enumerable.Range(1, epochs).Select(e => floor + 0.3 / e + 0.005 * Math.Sin(977 * x + 131 * y + e)).ToArray();
            var seconds = (x > 0.5 ? 100.0 : 10.0) * epochs;
            history.Upsert(Trial(i, x, y, TrialState.Pruned, curve) with { Started = start, Finished = start.AddSeconds(seconds) });
        }
        int FastShare(double exponent) => Proposals(new MobsterSampler(new MobsterOptions { Seed = 8, MaxResource = 9, CostExponent = exponent }), history, seed: 8, count: 16)
            .Count(p => p!.Value.X < 0.5);
        var plain = FastShare(0);
        var aware = FastShare(1);
        Assert.True(aware >= 14 && aware > plain, $"fast-side proposals: {aware} of 16 cost-aware, {plain} plain");
    }

    [Fact]
    public void The_same_seed_and_history_give_the_same_proposals()
    {
        List<(double X, double Y)?> Run() => Proposals(new MobsterSampler(new MobsterOptions { Seed = 9, MaxResource = 9, RefitInterval = 3 }), MultiFidelityHistory(40, seed: 2), seed: 9, count: 6);
        var a = Run();
        Assert.All(a, p => Assert.NotNull(p));
        Assert.Equal(a, Run());
        var other = Proposals(new MobsterSampler(new MobsterOptions { Seed = 10, MaxResource = 9, RefitInterval = 3 }), MultiFidelityHistory(40, seed: 2), seed: 10, count: 6);
        Assert.NotEqual(a, other);
    }

    [Fact]
    public void A_random_fraction_of_proposals_leaves_the_model_out()
    {
        var history = MultiFidelityHistory(30, seed: 4);
        var sampler = new MobsterSampler(new MobsterOptions { Seed = 2, MaxResource = 9, RandomFraction = 0.5, CandidateCount = 16, RefinementStarts = 0 });
        var random = Proposals(sampler, history, seed: 2, count: 200).Count(p => p is null) / 200.0;
        Assert.InRange(random, 0.4, 0.6);
    }

    [Fact]
    public void Study_files_name_it_mobster_with_its_options_and_a_bad_option_is_one_line_naming_it()
    {
        var sampler = Assert.IsType<MobsterSampler>(SamplerRegistry.Create("mobster", new SamplerRequest(new Dictionary<string, object?> { ["min"] = 1L, ["max"] = 27L, ["reduction"] = 3.0 }, Seed: 4)));
        Assert.Equal([1L, 3, 9, 27], sampler.Levels);
        Assert.Equal(4, sampler.Seed);
        Assert.Equal("mobster", sampler.Name);
        Assert.Equal(new MobsterOptions { Seed = 4, MaxResource = 27 }, sampler.Options);
        Assert.Contains("mobster", SamplerRegistry.Names);
        var tuned = Assert.IsType<MobsterSampler>(SamplerRegistry.Create("mobster", new SamplerRequest(new Dictionary<string, object?>
        {
            ["level_value"] = "best_so_far", ["random_fraction"] = 0.25, ["min_points"] = 5L, ["max_training_points"] = 120L, ["max_fit_points"] = 60L,
            ["refit_interval"] = 2L, ["candidate_count"] = 100L, ["refinement_starts"] = 1L, ["pending_level"] = "acquisition_level", ["cost_exponent"] = 1.0,
        })));
        Assert.Equal(new MobsterOptions
        {
            LevelValue = BohbLevelValue.BestSoFar, RandomFraction = 0.25, MinPointsInModel = 5, MaxTrainingPoints = 120, MaxFitPoints = 60,
            RefitInterval = 2, CandidateCount = 100, RefinementStarts = 1, PendingLevel = MobsterPendingLevel.AcquisitionLevel, CostExponent = 1,
        }, tuned.Options);

        string Error(string key, object? value)
        {
            var message = Assert.Throws<ArgumentException>(() => SamplerRegistry.Create("mobster", new SamplerRequest(new Dictionary<string, object?> { [key] = value }))).Message;
            Assert.DoesNotContain('\n', message);
            Assert.StartsWith("sampler 'mobster': ", message);
            return message;
        }
        Assert.Contains("unknown option 'eta'", Error("eta", 3L));
        Assert.Contains("option 'refit_interval' must be at least 1", Error("refit_interval", 0L));
        Assert.Contains("option 'refit_interval' must be a whole number", Error("refit_interval", 1.5));
        Assert.Contains("option 'max_training_points' must be at least 10", Error("max_training_points", 5L));
        Assert.Contains("option 'reduction' must be greater than 1", Error("reduction", 1.0));
        Assert.Contains("option 'random_fraction' must be in [0, 1]", Error("random_fraction", 2.0));
        Assert.Contains("option 'min' must be a number", Error("min", "one"));
        Assert.Contains("option 'level_value' must be at_level or best_so_far", Error("level_value", "final"));
        Assert.Contains("option 'pending_level' must be next_level or acquisition_level", Error("pending_level", "first"));
        Assert.Contains("option 'cost_exponent' must be in [0, 4]", Error("cost_exponent", -1.0));
    }
}

public sealed class MobsterStudyFileTests
{
    [Fact]
    public void A_study_file_pairs_the_mobster_sampler_with_asha_and_a_bad_option_fails_at_load_in_one_line()
    {
        const string Head = """
            name: m
            command: python3 train.py --lr {lr}
            space:
              lr: { float: [1.0e-4, 1.0], log: true }
              layers: { int: [1, 4] }
            scheduler: { asha: { resource: epoch, min: 1, max: 27, reduction: 3 } }

            """;
        var file = Tunesmith.Execution.StudyFile.Parse(Head + "sampler: { mobster: { min: 1, max: 27, reduction: 3, level_value: best_so_far, seed: 7 } }\n");
        var sampler = Assert.IsType<MobsterSampler>(file.CreateSampler());
        Assert.Equal([1L, 3, 9, 27], sampler.Levels);
        Assert.Equal((7, BohbLevelValue.BestSoFar), (sampler.Seed, sampler.Options.LevelValue));

        var error = Assert.Throws<Tunesmith.Spaces.Spec.StudyFileException>(() => Tunesmith.Execution.StudyFile.Parse(Head + "sampler: { mobster: { refit_interval: 0 } }\n"));
        Assert.DoesNotContain('\n', error.Message);
        Assert.StartsWith("study.yaml:7:", error.Message);
        Assert.Contains("sampler 'mobster': option 'refit_interval' must be at least 1", error.Message);
    }
}

public sealed class MobsterSamplerConformanceTests : SamplerConformanceTests
{
    // Trials that report nothing count at the largest level, so the suite's studies run the GP path after the first few.
    protected override ISampler CreateSampler(int? seed) => new MobsterSampler(new MobsterOptions { Seed = seed, MaxResource = 9, CandidateCount = 128 });
}
