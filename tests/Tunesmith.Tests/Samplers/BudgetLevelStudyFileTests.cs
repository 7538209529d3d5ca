using Tunesmith.Execution;
using Tunesmith.Samplers.Bohb;
using Tunesmith.Samplers.Mobster;
using Tunesmith.Spaces.Spec;
using Xunit;

namespace Tunesmith.Tests.Samplers;

/// <summary>
/// In a study file, a model-based multi-fidelity sampler (bohb, mobster) takes its budget levels from the asha or hyperband
/// scheduler beside it; other pairings and differing levels fail on one line naming the field.
/// </summary>
public sealed class BudgetLevelStudyFileTests
{
    private static StudyFile Parse(string sampler, string? scheduler) =>
        StudyFile.Parse($"command: run {{x}}\nspace: {{ x: {{ float: [0, 1] }} }}\nsampler: {sampler}\n" + (scheduler is null ? "" : $"scheduler: {scheduler}\n"), "study.yaml", "/tmp");

    private static StudyFileException Fail(string sampler, string? scheduler)
    {
        var e = Assert.Throws<StudyFileException>(() => Parse(sampler, scheduler));
        Assert.DoesNotContain('\n', e.Message);
        Assert.StartsWith($"study.yaml:{e.Line}:{e.Column}: sampler", e.Message);
        return e;
    }

    [Fact]
    public void Levels_left_out_are_the_asha_schedulers_rungs()
    {
        var bohb = Assert.IsType<BohbSampler>(Parse("bohb", "{ asha: { min: 2, max: 54 } }").CreateSampler(null, null));
        Assert.Equal([2L, 6, 18, 54], bohb.Options.Levels());
        var mobster = Assert.IsType<MobsterSampler>(Parse("{ mobster: { min_points: 4 } }", "{ hyperband: { min: 1, max: 16, reduction: 2 } }").CreateSampler(null, null));
        Assert.Equal((1L, 16L, 2.0, 4), (mobster.Options.MinResource, mobster.Options.MaxResource, mobster.Options.ReductionFactor, mobster.Options.MinPointsInModel));
    }

    [Fact]
    public void Levels_written_as_the_scheduler_has_them_are_accepted()
    {
        var bohb = Assert.IsType<BohbSampler>(Parse("{ bohb: { min: 1, max: 27, reduction: 3 } }", "{ asha: { min: 1, max: 27, reduction: 3 } }").CreateSampler(null, null));
        Assert.Equal([1L, 3, 9, 27], bohb.Options.Levels());
    }

    [Fact]
    public void A_level_that_differs_from_the_scheduler_names_both_fields()
    {
        var e = Fail("{ bohb: { max: 27 } }", "{ asha: { max: 81 } }");
        Assert.Equal(("sampler.bohb.max", 3, 25), (e.Field, e.Line, e.Column)); // at the value written
        Assert.Contains("27 differs from the scheduler's max, 81 (scheduler.asha.max)", e.Problem);
        Assert.Equal("sampler.mobster.reduction", Fail("{ mobster: { reduction: 2 } }", "hyperband").Field);
    }

    [Theory]
    [InlineData("bohb", null, "sampler 'bohb' models the budget levels of an asha or hyperband scheduler, so it needs scheduler: asha or hyperband, not no scheduler")]
    [InlineData("bohb", "{ median: { warmup_steps: 2 } }", "not 'median'")]
    [InlineData("{ mobster: { min: 1 } }", "pbt", "sampler 'mobster' models the budget levels")]
    [InlineData("bohb", "none", "not 'none'")]
    public void Without_asha_or_hyperband_a_model_based_sampler_is_refused(string sampler, string? scheduler, string problem)
    {
        var e = Fail(sampler, scheduler);
        Assert.Equal("sampler", e.Field);
        Assert.Contains(problem, e.Problem);
    }

    [Fact]
    public void Other_samplers_keep_their_options_with_any_scheduler()
    {
        Assert.Empty(Parse("tpe", "{ asha: { max: 27 } }").Sampler.Options);
        Assert.Empty(Parse("random", "median").Sampler.Options);
    }
}
