using Tunesmith.Samplers;
using Tunesmith.Samplers.Bohb;
using Tunesmith.Samplers.Branches;
using Tunesmith.Samplers.CmaEs;
using Tunesmith.Samplers.Gp;
using Tunesmith.Samplers.Mobster;
using Tunesmith.Samplers.Portfolio;
using Tunesmith.Samplers.Rf;
using Tunesmith.Samplers.Tpe;
using Tunesmith.Schedulers;
using Tunesmith.Schedulers.Asha;
using Tunesmith.Schedulers.Hyperband;
using Tunesmith.Schedulers.MedianStopping;
using Tunesmith.Schedulers.Pbt;
using Xunit;

namespace Tunesmith.Tests.Samplers;

/// <summary>
/// One rule for option errors: a C# user reads the property they set (<c>RandomForestOptions.Trees</c>), a study-file user
/// the key they wrote (<c>n_trees</c>), and a misspelt key gets the close known one.
/// </summary>
public sealed class OptionErrorTests
{
    public static TheoryData<string, Action> InvalidCSharpOptions() => new()
    {
        { "TpeOptions.Gamma", () => new TpeOptions { Gamma = 2 }.Validate() },
        { "GpOptions.NStartupTrials", () => new GpOptions { NStartupTrials = 1 }.Validate() },
        { "RandomForestOptions.Trees", () => new RandomForestOptions { Trees = 0 }.Validate() },
        { "CmaEsOptions.Sigma0", () => new CmaEsOptions { Sigma0 = 3 }.Validate() },
        { "CmaEsOptions.TolFun", () => new CmaEsOptions { TolFun = -1 }.Validate() },
        { "BranchAwareOptions.Optimism", () => new BranchAwareOptions { Optimism = -1 }.Validate() },
        { "RuggedFallbackOptions.CheckAfterTrials", () => new RuggedFallbackOptions { CheckAfterTrials = 5 }.Validate() },
        { "BohbOptions.MinResource", () => new BohbOptions { MinResource = 0 }.Validate() },
        { "MobsterOptions.RefitInterval", () => new MobsterOptions { RefitInterval = 0 }.Validate() },
        { "AshaOptions.GracePeriod", () => new AshaOptions { GracePeriod = 0 }.Validate() },
        { "HyperbandOptions.ReductionFactor", () => new HyperbandOptions { ReductionFactor = 1 }.Validate() },
        { "MedianStoppingOptions.WarmupSteps", () => new MedianStoppingOptions { WarmupSteps = -1 }.Validate() },
        { "PbtOptions.PopulationSize", () => new PbtOptions { PopulationSize = 0 }.Validate() },
    };

    [Theory]
    [MemberData(nameof(InvalidCSharpOptions))]
    public void A_CSharp_options_object_names_its_type_and_property(string property, Action validate)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(validate);
        Assert.StartsWith(property + " ", e.Message);
        Assert.Equal(property.Split('.')[1], e.ParamName);
    }

    [Theory]
    [InlineData("tpe", "gamma", 2.0, "sampler 'tpe': option 'gamma' must be in (0, 1], got 2")]
    [InlineData("gp", "n_startup_trials", 1L, "sampler 'gp': option 'n_startup_trials' must be at least 2, got 1")]
    [InlineData("gp", "rugged_check_after_trials", 5L, "sampler 'gp': option 'rugged_check_after_trials' must be at least 10, got 5")]
    [InlineData("rf", "n_trees", 0L, "sampler 'rf': option 'n_trees' must be at least 1, got 0")]
    [InlineData("cmaes", "sigma0", 3.0, "sampler 'cmaes': option 'sigma0' must be in (0, 1] (the unit cube), got 3")]
    [InlineData("bohb", "min", 0L, "sampler 'bohb': option 'min' must be at least 1, got 0")]
    [InlineData("mobster", "refit_interval", 0L, "sampler 'mobster': option 'refit_interval' must be at least 1, got 0")]
    [InlineData("tpe", "branch_optimism", -1.0, "sampler 'tpe': option 'branch_optimism' must be a finite number ≥ 0, got -1")]
    public void A_study_file_option_is_named_by_its_key(string sampler, string key, object value, string expected)
    {
        var options = new Dictionary<string, object?> { [key] = value };
        if (key.StartsWith("rugged_", StringComparison.Ordinal)) options["rugged_fallback"] = true;
        if (key.StartsWith("branch_", StringComparison.Ordinal)) options["branch_aware"] = true;
        var e = Assert.ThrowsAny<ArgumentException>(() => SamplerRegistry.Create(sampler, new SamplerRequest(options)));
        Assert.Equal(expected, e.Message);
    }

    [Theory]
    [InlineData("random", "sed", "seed")]
    [InlineData("sobol", "scrambel", "scramble")]
    [InlineData("grid", "shufle", "shuffle")]
    [InlineData("tpe", "n_startup_trial", "n_startup_trials")]
    [InlineData("tpe", "branch_awre", "branch_aware")]
    [InlineData("tpe", "gp_shares", "gp_share")]
    [InlineData("gp", "n_startup_trial", "n_startup_trials")]
    [InlineData("gp", "rugged_stall_trial", "rugged_stall_trials")]
    [InlineData("rf", "n_tres", "n_trees")]
    [InlineData("cmaes", "sigma", "sigma0")]
    [InlineData("bohb", "min_point", "min_points")]
    [InlineData("mobster", "refit_intervall", "refit_interval")]
    public void A_misspelt_sampler_option_says_which_it_may_mean(string sampler, string key, string meant)
    {
        var options = new Dictionary<string, object?> { [key] = 1L };
        if (key.StartsWith("rugged_", StringComparison.Ordinal)) options["rugged_fallback"] = true;
        var e = Assert.ThrowsAny<ArgumentException>(() => SamplerRegistry.Create(sampler, new SamplerRequest(options, Space: new Tunesmith.Spaces.SearchSpace().Int("x", 0, 3))));
        Assert.Contains($"sampler '{sampler}': unknown option '{key}' (did you mean '{meant}'?) (known: ", e.Message);
    }

    [Theory]
    [InlineData("tpe")]
    [InlineData("rf")]
    [InlineData("asha")]
    public void An_unknown_option_far_from_every_known_one_suggests_nothing(string name)
    {
        var options = new Dictionary<string, object?> { ["learning_rate_schedule"] = 1L };
        var e = Assert.ThrowsAny<ArgumentException>(() =>
            name == "asha" ? SchedulerRegistry.Create(name, options) : SamplerRegistry.Create(name, new SamplerRequest(options)));
        Assert.Contains("unknown option 'learning_rate_schedule' (known: ", e.Message);
    }

    [Fact]
    public void A_misspelt_sampler_name_says_which_it_may_mean()
    {
        var e = Assert.Throws<ArgumentException>(() => SamplerRegistry.Create("tpee", new SamplerRequest(new Dictionary<string, object?>())));
        Assert.Contains("unknown sampler 'tpee' (did you mean 'tpe'?)", e.Message);
    }
}
