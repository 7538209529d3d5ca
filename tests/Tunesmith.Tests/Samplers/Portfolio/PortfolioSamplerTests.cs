using Tunesmith.Execution;
using Tunesmith.Samplers;
using Tunesmith.Samplers.Portfolio;
using Tunesmith.Samplers.Tpe;
using Tunesmith.Spaces;
using Xunit;

namespace Tunesmith.Tests.Samplers.Portfolio;

/// <summary>A portfolio of TPE and random search passes the sampler conformance suite.</summary>
public sealed class PortfolioSamplerConformanceTests : SamplerConformanceTests
{
    protected override ISampler CreateSampler(int? seed) =>
        new PortfolioSampler([new TpeSampler(new TpeOptions { Seed = seed }), new RandomSampler(seed)], warmupTrials: 10);
}

public sealed class PortfolioSamplerTests
{
    /// <summary>Proposes the same point every time: it can never improve after its first trial.</summary>
    private sealed class StuckSampler : ISampler
    {
        public int? Seed => 1;
        public string Name => "stuck";
        public IReadOnlyDictionary<string, Distribution> InferRelativeSearchSpace(SamplingContext context) => new Dictionary<string, Distribution>();
        public IReadOnlyDictionary<string, object?> SampleRelative(SamplingContext context, IReadOnlyDictionary<string, Distribution> searchSpace) =>
            new Dictionary<string, object?>();
        public object? SampleIndependent(SamplingContext context, string name, Distribution distribution) =>
            distribution is FloatDistribution f ? f.Low + 0.9 * (f.High - f.Low) : RandomSampler.DrawUniform(context.Random, distribution);
    }

    [Fact]
    public void Trials_shift_to_the_member_that_keeps_improving()
    {
        var portfolio = new PortfolioSampler([new StuckSampler(), new TpeSampler(new TpeOptions { Seed = 3 })], warmupTrials: 10);
        var study = Study.Create($"portfolio-{Guid.NewGuid():N}", sampler: portfolio);
        study.Optimize(t => Math.Pow(t.SuggestFloat("x", 0, 1) - 0.3, 2) + Math.Pow(t.SuggestFloat("y", 0, 1) - 0.6, 2), trials: 80);
        // The warm-up trials are the stuck member's; of the 70 after it, most must be TPE's.
        var stuckAfterWarmup = study.Trials.Skip(10).Count(t => (double)t.Params["x"]! == 0.9);
        Assert.True(stuckAfterWarmup < 25, $"{stuckAfterWarmup} of 70 trials after the warm-up went to the member that never improves");
        Assert.Equal("portfolio(stuck,tpe)", portfolio.Name);
    }
}
