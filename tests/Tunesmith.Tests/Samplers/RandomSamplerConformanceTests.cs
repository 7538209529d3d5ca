using Tunesmith.Samplers;

namespace Tunesmith.Tests.Samplers;

/// <summary>The random sampler passes the conformance suite.</summary>
public sealed class RandomSamplerConformanceTests : SamplerConformanceTests
{
    protected override ISampler CreateSampler(int? seed) => new RandomSampler(seed);
}
