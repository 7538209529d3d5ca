using Tunesmith.Execution;
using Tunesmith.Schedulers;
using Tunesmith.Schedulers.Asha;
using Tunesmith.Schedulers.Hyperband;
using Tunesmith.Schedulers.MedianStopping;
using Tunesmith.Schedulers.Pbt;
using Tunesmith.Spaces.Spec;
using Xunit;

namespace Tunesmith.Tests.Schedulers;

/// <summary>A study file's <c>scheduler:</c> section builds the scheduler it names, or fails on one line naming the field.</summary>
public sealed class SchedulerStudyFileTests
{
    private static IScheduler? Read(string scheduler) =>
        StudyFile.Parse($"command: run {{x}}\nspace: {{ x: {{ float: [0, 1] }} }}\nscheduler: {scheduler}\n", "study.yaml", "/tmp").CreateScheduler();

    private static StudyFileException Fail(string scheduler)
    {
        var e = Assert.Throws<StudyFileException>(() => Read(scheduler));
        Assert.DoesNotContain('\n', e.Message);
        Assert.StartsWith($"study.yaml:{e.Line}:{e.Column}: scheduler", e.Message);
        return e;
    }

    [Fact]
    public void The_design_example_builds_asha_with_its_options()
    {
        var asha = Assert.IsType<AshaScheduler>(Read("{ asha: { resource: epoch, min: 1, max: 27, reduction: 3 } }"));
        Assert.Equal(("epoch", 1L, 27L, 3.0, AshaMode.Stop), (asha.Options.Resource, asha.Options.MinResource, asha.Options.MaxResource, asha.Options.ReductionFactor, asha.Options.Mode));
        Assert.Equal([1L, 3, 9], asha.Rungs());
    }

    [Fact]
    public void Every_scheduler_is_selectable_by_name_and_with_options()
    {
        Assert.IsType<AshaScheduler>(Read("asha"));
        Assert.Equal(AshaMode.Promotion, Assert.IsType<AshaScheduler>(Read("{ asha: { max: 9, mode: promotion, grace_period: 3, brackets: 2, seed: 4 } }")).Options.Mode);
        Assert.Equal(5, Assert.IsType<HyperbandScheduler>(Read("{ hyperband: { min: 1, max: 81 } }")).Brackets.Count);
        var median = Assert.IsType<MedianStoppingScheduler>(Read("{ median: { warmup_steps: 2, min_trials: 3, interval: 2 } }"));
        Assert.Equal((2L, 3, 2L, 50.0), (median.Options.WarmupSteps, median.Options.MinimumTrials, median.Options.EvaluationInterval, median.Options.Percentile));
        Assert.Equal(25, Assert.IsType<MedianStoppingScheduler>(Read("{ percentile: { percentile: 25 } }")).Options.Percentile);
        var pbt = Assert.IsType<PbtScheduler>(Read("{ pbt: { population: 4, interval: 2, quantile: 0.5, resample_probability: 0, perturbation_factors: [0.5, 2] } }"));
        Assert.Equal((4, 2L, 0.5, 0.0), (pbt.Options.PopulationSize, pbt.Options.PerturbationInterval, pbt.Options.QuantileFraction, pbt.Options.ResampleProbability));
        Assert.Equal([0.5, 2.0], pbt.Options.PerturbationFactors);
        Assert.Null(Read("none"));
    }

    [Fact]
    public void An_unknown_scheduler_is_named_with_the_closest_known_one()
    {
        var e = Fail("{ ashaa: { max: 27 } }");
        Assert.Equal(("scheduler", 3, 14), (e.Field, e.Line, e.Column));
        Assert.Contains("unknown scheduler 'ashaa' (did you mean 'asha'?)", e.Problem);
        Assert.Contains("unknown scheduler 'medain'", Fail("medain").Problem);
    }

    [Theory]
    [InlineData("{ asha: { max_t: 27 } }", "scheduler.asha.max_t", "unknown option 'max_t' (Ray Tune's 'max_t' is 'max' here)")]
    [InlineData("{ hyperband: { reduction_factor: 3 } }", "scheduler.hyperband.reduction_factor", "unknown option 'reduction_factor' (Ray Tune's 'reduction_factor' is 'reduction' here)")]
    [InlineData("{ asha: { time_attr: epoch } }", "scheduler.asha.time_attr", "(Ray Tune's 'time_attr' is 'resource' here)")]
    [InlineData("{ pbt: { perturbation_interval: 4 } }", "scheduler.pbt.perturbation_interval", "(Ray Tune's 'perturbation_interval' is 'interval' here)")]
    [InlineData("{ pbt: { quantile_fraction: 0.25 } }", "scheduler.pbt.quantile_fraction", "(Ray Tune's 'quantile_fraction' is 'quantile' here)")]
    [InlineData("{ pbt: { hyperparam_mutations: { x: [0.1, 0.2] } } }", "scheduler.pbt.hyperparam_mutations", "(Ray Tune's hyperparam_mutations is mutations: [names] here, the parameters an exploit may change; their ranges are the space:'s)")]
    [InlineData("{ median: { grace_period: 5 } }", "scheduler.median.grace_period", "(Ray Tune's 'grace_period' is 'warmup_steps' here)")]
    [InlineData("{ median: { min_samples_required: 3 } }", "scheduler.median.min_samples_required", "(Ray Tune's 'min_samples_required' is 'min_trials' here)")]
    [InlineData("{ asha: { metric: val_f1 } }", "scheduler.asha.metric", "unknown option 'metric' (Ray Tune's scheduler metric is the study file's top-level metric:)")]
    [InlineData("{ median: { mode: max } }", "scheduler.median.mode", "(Ray Tune's mode (max or min) is the study file's direction: (maximize or minimize))")]
    [InlineData("{ asha: { mode: max } }", "scheduler.asha.mode", "option 'mode' must be stop or promotion, got 'max' (Ray Tune's mode: max is the study file's direction: maximize)")]
    public void A_Ray_Tune_option_name_is_told_its_name_here(string scheduler, string field, string problem)
    {
        var e = Fail(scheduler);
        Assert.Equal(field, e.Field);
        Assert.Contains(problem, e.Problem);
    }

    [Fact]
    public void A_percentile_under_median_names_the_percentile_scheduler()
    {
        var e = Fail("{ median: { percentile: 25, warmup_steps: 5 } }");
        Assert.Equal("scheduler.median.percentile", e.Field);
        Assert.Contains("scheduler 'median': unknown option 'percentile' (the median is the 50th percentile; for another, write scheduler: { percentile: { percentile: 25 } })", e.Problem);
    }

    [Fact]
    public void An_unknown_or_invalid_option_names_its_field_and_value()
    {
        var unknown = Fail("{ asha: { max: 27, reductoin: 3 } }");
        Assert.Equal("scheduler.asha.reductoin", unknown.Field);
        Assert.Contains("unknown option 'reductoin' (did you mean 'reduction'?)", unknown.Problem);

        var invalid = Fail("{ asha: { min: 4, max: 2 } }");
        Assert.Equal("scheduler.asha.max", invalid.Field);
        Assert.Contains("option 'max' must be greater than the minimum resource (4), got 2", invalid.Problem);

        Assert.Contains("option 'reduction' must be > 1, got 1", Fail("{ hyperband: { reduction: 1 } }").Problem);
        var grace = Fail("{ asha: { max: 27, grace_period: 27 } }");
        Assert.Equal("scheduler.asha.grace_period", grace.Field);
        Assert.Contains("option 'grace_period' must be below the maximum resource (27), or no trial could ever be stopped, got 27", grace.Problem);
        Assert.Contains("option 'mode' must be stop or promotion, got 'sometimes'", Fail("{ asha: { mode: sometimes } }").Problem);
        Assert.Contains("option 'quantile' must be in (0, 0.5], got 0.9", Fail("{ pbt: { quantile: 0.9 } }").Problem);
        Assert.Contains("option 'min_trials' must be a whole number", Fail("{ median: { min_trials: 1.5 } }").Problem);
        Assert.Contains("option 'percentile' is required", Fail("percentile").Problem);
        Assert.Contains("unknown option 'percentile'", Fail("{ median: { percentile: 30 } }").Problem);
        Assert.Contains("expected one scheduler name", Fail("{ asha: {}, median: {} }").Problem);
    }

    [Fact]
    public void Pbt_mutations_name_the_parameters_an_exploit_may_change_and_a_name_not_in_the_space_is_refused_at_its_line()
    {
        static IScheduler? ReadSpace(string scheduler) => StudyFile.Parse(
            $"command: run {{lr}} {{hidden}}\nspace: {{ lr: {{ float: [0.001, 0.5], log: true }}, hidden: {{ choice: [4, 8] }}, epochs: 9 }}\nscheduler: {scheduler}\n",
            "study.yaml", "/tmp").CreateScheduler();
        Assert.Equal(["lr"], Assert.IsType<PbtScheduler>(ReadSpace("{ pbt: { mutations: [lr] } }")).Options.Mutations);
        Assert.Null(Assert.IsType<PbtScheduler>(ReadSpace("pbt")).Options.Mutations);

        var typo = Assert.Throws<StudyFileException>(() => ReadSpace("{ pbt: { mutations: [lr, hiddn] } }"));
        Assert.Equal(("scheduler.pbt.mutations", 3, 32), (typo.Field, typo.Line, typo.Column));
        Assert.Contains("option 'mutations' names 'hiddn', which is not a sampled parameter of space: (did you mean 'hidden'?) (sampled: lr, hidden)", typo.Problem);
        // A constant is not sampled: nothing to perturb.
        Assert.Contains("names 'epochs', which is not a sampled parameter", Assert.Throws<StudyFileException>(() => ReadSpace("{ pbt: { mutations: [epochs] } }")).Problem);
        Assert.Contains("option 'mutations' must be a list of parameter names, e.g. [lr, momentum], got lr", Fail("{ pbt: { mutations: lr } }").Problem);
        Assert.Contains("option 'mutations' must be a non-empty list of parameter names", Fail("{ pbt: { mutations: [] } }").Problem);
    }
}
