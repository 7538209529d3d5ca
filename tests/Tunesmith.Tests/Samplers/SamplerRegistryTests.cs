using Tunesmith.Samplers;
using Tunesmith.Spaces;
using Xunit;

namespace Tunesmith.Tests.Samplers;

/// <summary>What every sampler built by name shares: a seed among its options is its seed.</summary>
public sealed class SamplerRegistryTests
{
    public static TheoryData<string> Names => [.. SamplerRegistry.Names];

    [Theory]
    [MemberData(nameof(Names))]
    public void A_seed_among_the_options_is_the_samplers_seed(string name)
    {
        var space = name == "grid" ? new SearchSpace().Int("layers", 1, 3) : new SearchSpace().Int("layers", 1, 3).Float("lr", 1e-4, 1e-1, log: true);
        var sampler = SamplerRegistry.Create(name, new SamplerRequest(new Dictionary<string, object?> { ["seed"] = 5L }, Seed: 1, Space: space, TrialBudget: 50));
        Assert.Equal(5, sampler.Seed);
    }

    [Fact]
    public void A_seed_that_is_not_a_32_bit_integer_is_refused_naming_the_sampler()
    {
        var e = Assert.Throws<ArgumentException>(() => SamplerRegistry.Create("gp", new SamplerRequest(new Dictionary<string, object?> { ["seed"] = "x" })));
        Assert.Equal("sampler 'gp': option 'seed' must be a 32-bit integer, got x", e.Message);
    }
}
