using Tunesmith.Schedulers;
using Tunesmith.Schedulers.Asha;
using Tunesmith.Schedulers.Hyperband;
using Tunesmith.Schedulers.MedianStopping;
using Tunesmith.Schedulers.Pbt;
using Tunesmith.Testing;

namespace Tunesmith.Tests.Schedulers;

public sealed class StopBasedAshaConformanceTests : SchedulerConformanceTests
{
    protected override IScheduler CreateScheduler(int seed) => new AshaScheduler(new AshaOptions { MinResource = 1, MaxResource = 27, Brackets = 2, Seed = seed });
}

public sealed class PromotionBasedAshaConformanceTests : SchedulerConformanceTests
{
    protected override IScheduler CreateScheduler(int seed) =>
        new AshaScheduler(new AshaOptions { MinResource = 1, MaxResource = 27, Mode = AshaMode.Promotion, Seed = seed });
}

public sealed class HyperbandConformanceTests : SchedulerConformanceTests
{
    protected override IScheduler CreateScheduler(int seed) => new HyperbandScheduler(new HyperbandOptions { MaxResource = 27, Seed = seed });
}

public sealed class PromotionBasedHyperbandConformanceTests : SchedulerConformanceTests
{
    protected override IScheduler CreateScheduler(int seed) => new HyperbandScheduler(new HyperbandOptions { MaxResource = 27, Mode = AshaMode.Promotion, Seed = seed });
}

public sealed class MedianStoppingConformanceTests : SchedulerConformanceTests
{
    protected override IScheduler CreateScheduler(int seed) => new MedianStoppingScheduler(new MedianStoppingOptions { MinimumTrials = 2 });
}

public sealed class PercentileStoppingConformanceTests : SchedulerConformanceTests
{
    protected override IScheduler CreateScheduler(int seed) =>
        new MedianStoppingScheduler(new MedianStoppingOptions { Percentile = 25, WarmupSteps = 2, EvaluationInterval = 2, MinimumTrials = 1 });
}

public sealed class PbtConformanceTests : SchedulerConformanceTests
{
    protected override IScheduler CreateScheduler(int seed) => new PbtScheduler(new PbtOptions { PopulationSize = 6, PerturbationInterval = 3, Seed = seed });
}
