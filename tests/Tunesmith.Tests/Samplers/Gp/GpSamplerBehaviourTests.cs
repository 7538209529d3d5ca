using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Samplers;
using Tunesmith.Samplers.Gp;
using Tunesmith.Spaces.Spec;
using Xunit;

namespace Tunesmith.Tests.Samplers.Gp;

public sealed class GpSamplerBehaviourTests
{
    private static double Branin(double x0, double x1)
    {
        const double b = 5.1 / (4 * Math.PI * Math.PI), c = 5 / Math.PI, t = 1 / (8 * Math.PI);
        return Math.Pow(x1 - b * x0 * x0 + c * x0 - 6, 2) + 10 * (1 - t) * Math.Cos(x0) + 10;
    }

    private static double BestRegret(ISampler sampler, int trials)
    {
        var study = Study.Create($"branin-{Guid.NewGuid():N}", sampler: sampler);
        study.Optimize(t => Branin(t.SuggestFloat("x0", -5, 10), t.SuggestFloat("x1", 0, 15)), trials: trials);
        return study.BestTrial!.Value!.Value - 0.39788735772973816;
    }

    private static double Median(IEnumerable<double> values)
    {
        var a = values.Order().ToArray();
        return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2;
    }

    [Fact]
    public void Gp_beats_random_on_a_smooth_2d_function_in_median_over_seeds()
    {
        var seeds = Enumerable.Range(0, 5).ToArray();
        var gp = Median(seeds.Select(s => BestRegret(new GpSampler(s, new GpOptions { CandidateCount = 512 }), 30)));
        var random = Median(seeds.Select(s => BestRegret(new RandomSampler(s), 30)));
        // Generous: at 30 trials random's median regret on Branin is around 0.5, a working GP's below 0.05.
        Assert.True(gp < random / 3, $"GP median regret {gp} vs random {random}");
    }

    [Fact]
    public void Parallel_asks_with_pending_trials_do_not_collapse_onto_one_point()
    {
        var study = Study.Create($"pending-{Guid.NewGuid():N}", sampler: new GpSampler(3, new GpOptions { NStartupTrials = 8, CandidateCount = 512 }));
        for (var i = 0; i < 10; i++)
        {
            var t = study.Ask();
            var (x, y) = (t.SuggestFloat("x", 0, 1), t.SuggestFloat("y", 0, 1));
            study.Tell(t, Math.Sin(7 * x) * Math.Cos(5 * y) + x * y);
        }
        // Four asks before any result: each must see the others as pending and go elsewhere.
        var running = Enumerable.Range(0, 4).Select(_ => study.Ask()).ToList();
        var points = running.Select(t => (X: t.SuggestFloat("x", 0, 1), Y: t.SuggestFloat("y", 0, 1))).ToList();
        for (var a = 0; a < points.Count; a++)
            for (var b = a + 1; b < points.Count; b++)
            {
                var distance = Math.Sqrt(Math.Pow(points[a].X - points[b].X, 2) + Math.Pow(points[a].Y - points[b].Y, 2));
                Assert.True(distance > 0.02, $"trials {running[a].Number} and {running[b].Number} proposed nearly the same point ({distance})");
            }
    }

    [Fact]
    public void Registry_builds_gp_with_snake_case_options_and_rejects_unknown_ones()
    {
        var sampler = Assert.IsType<GpSampler>(SamplerRegistry.Create("gp", new SamplerRequest(
            new Dictionary<string, object?> { ["n_startup_trials"] = 5L, ["deterministic_objective"] = true }, Seed: 4)));
        Assert.Equal(5, sampler.Options.NStartupTrials);
        Assert.True(sampler.Options.DeterministicObjective);
        Assert.Equal(4, sampler.Seed);
        var error = Assert.Throws<ArgumentException>(() => SamplerRegistry.Create("gp", new SamplerRequest(
            new Dictionary<string, object?> { ["n_startup"] = 5L })));
        Assert.Contains("n_startup", error.Message);
        Assert.Throws<ArgumentException>(() => SamplerRegistry.Create("gp", new SamplerRequest(
            new Dictionary<string, object?> { ["n_startup_trials"] = 1L })));
    }

    // The quality suite's `mixed` (MixedObjective): the best value after 100 trials and how many of trials 50-99 had the
    // learning rate at an end of its range.
    private static (double Best, int LearningRateAtAnEnd) Mixed(GpSampler sampler)
    {
        var study = Study.Create($"mixed-{Guid.NewGuid():N}", sampler: sampler);
        var atEnd = 0;
        study.Optimize(t =>
        {
            var value = MixedObjective.Evaluate(t, out var lr);
            if (t.Number >= 50 && (lr < 1.2e-5 || lr > 0.9)) atEnd++;
            return value;
        }, trials: 100);
        return (study.BestTrial!.Value!.Value, atEnd);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(40)]
    public void A_best_trial_the_model_smooths_over_is_still_searched_around(int seed)
    {
        // Seeds whose runs stalled when expected improvement was measured against the best observed value: the fit
        // explained the best trials partly as noise, so improvement looked negligible near them and the proposals went
        // to the box's corners, the learning rate at an end in 50 and 49 of trials 50-99 (best 1.32 in C and 5.11 in A,
        // a start-up trial staying the best of 100 on seed 11). Against the best posterior mean both get below 0.31.
        var (best, atEnd) = Mixed(new GpSampler(seed, new GpOptions { EdgeRedrawInterval = 0 }));
        Assert.True(best < 0.31, $"best {best} after 100 trials");
        Assert.True(atEnd < 10, $"{atEnd} of trials 50-99 with the learning rate at an end of its range");
    }

    [Fact]
    public void A_parameter_the_best_trial_holds_at_an_end_of_its_range_is_redrawn_inside()
    {
        // Dev seed 71: the run settles in C with n at its top (20; C's best is 17), the fitted length scale of n grows
        // past 10 range widths so the model finds it flat, and without the redraw the best stays at 1.16 after 100 trials.
        Assert.True(Mixed(new GpSampler(71, new GpOptions { EdgeRedrawInterval = 0 })).Best > 1,
            "seed 71 no longer stalls without the redraw; pick a seed that does");
        var (best, _) = Mixed(new GpSampler(71));
        Assert.True(best < 0.31, $"best {best} after 100 trials with the redraw");
    }

    [Fact]
    public void Edge_redraw_interval_is_read_from_study_files_and_validated()
    {
        Assert.Equal(10, new GpOptions().EdgeRedrawInterval);
        var off = Assert.IsType<GpSampler>(SamplerRegistry.Create("gp", new SamplerRequest(
            new Dictionary<string, object?> { ["edge_redraw_interval"] = 0L })));
        Assert.Equal(0, off.Options.EdgeRedrawInterval);
        var parsed = StudyFile.Parse("command: run {x}\nspace: { x: { float: [0, 1] } }\nsampler: { gp: { edge_redraw_interval: 5 } }\n", "study.yaml", "/tmp");
        Assert.Equal(5, Assert.IsType<GpSampler>(parsed.CreateSampler()).Options.EdgeRedrawInterval);
        var e = Assert.Throws<StudyFileException>(() => StudyFile.Parse(
            "command: run {x}\nspace: { x: { float: [0, 1] } }\nsampler: { gp: { edge_redraw_interval: -1 } }\n", "study.yaml", "/tmp"));
        Assert.DoesNotContain('\n', e.Message);
        Assert.Contains("edge_redraw_interval", e.Message);
        Assert.Equal("sampler.gp.edge_redraw_interval", e.Field);
    }

    [Fact]
    public void Auto_runs_the_category_bandit_on_a_gp_space_with_a_categorical_parameter()
    {
        var space = new Tunesmith.Spaces.SearchSpace().Float("x", -5, 5).Int("n", 1, 20).Choice("cat", ["A", "B", "C"]);
        var auto = (AutoSampler)SamplerRegistry.Create("auto", new SamplerRequest(new Dictionary<string, object?>(), 1, space, 100));
        Assert.Equal("auto(gp+tpe_if_rugged)", auto.Name);
        var gp = Assert.IsType<GpSampler>(((Tunesmith.Samplers.Portfolio.RuggedFallbackSampler)auto.Inner).Gp);
        Assert.Equal(6, gp.Options.CategoryExploreInterval);
        Assert.Contains("every 6th trial a category bandit", auto.Choice.Reason, StringComparison.Ordinal);
        // A numeric space: the option is not set (it would do nothing there).
        var numeric = (AutoSampler)SamplerRegistry.Create("auto", new SamplerRequest(new Dictionary<string, object?>(), 1,
            new Tunesmith.Spaces.SearchSpace().Float("x", -5, 5).Int("n", 1, 20), 100));
        Assert.False(numeric.Choice.Options!.ContainsKey("category_explore_interval"));
    }
}
