using Tunesmith.Samplers;
using Tunesmith.Samplers.Gp;

namespace Tunesmith.Tests.Samplers.Gp;

/// <summary>The GP sampler passes the sampler conformance suite, past its startup phase.</summary>
public sealed class GpSamplerConformanceTests : SamplerConformanceTests
{
    // Fewer candidates than the default keep the suite fast; the code paths are the same.
    protected override ISampler CreateSampler(int? seed) => new GpSampler(seed, new GpOptions { CandidateCount = 256 });

    protected override int TrialsPerRun => 24;
}
