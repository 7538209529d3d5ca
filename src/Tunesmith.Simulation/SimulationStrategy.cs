using Tunesmith.Samplers;
using Tunesmith.Schedulers;
using Tunesmith.Simulation.Benchmarks;

namespace Tunesmith.Simulation;

/// <summary>A search strategy to simulate: how to build its sampler and scheduler for one seed on one benchmark.</summary>
/// <param name="Scheduler">The scheduler's name as <c>--scheduler</c> gives it.</param>
/// <param name="Sampler">The sampler's name as <c>--sampler</c> gives it.</param>
/// <param name="CreateSampler">Builds the sampler for a seed.</param>
/// <param name="CreateScheduler">Builds the scheduler for a seed (null: no scheduler, every trial runs to its last epoch).</param>
public sealed record SimulationStrategy(
    string Scheduler,
    string Sampler,
    Func<ILearningCurveBenchmark, int, ISampler> CreateSampler,
    Func<ILearningCurveBenchmark, int, IScheduler?> CreateScheduler)
{
    /// <summary>"scheduler+sampler", e.g. <c>asha+random</c> (just <c>bohb</c> for the model-based method with its own sampler).</summary>
    public string Name => Scheduler == Sampler ? Scheduler : $"{Scheduler}+{Sampler}";
}

/// <summary>What several seeds of one strategy on one benchmark produced, with the statistics the study reports.</summary>
public sealed record SimulationSummary(
    ILearningCurveBenchmark Benchmark,
    SimulationStrategy Strategy,
    SimulationOptions Options,
    IReadOnlyList<SimulationRun> Runs)
{
    /// <summary>How many seeds reached the target within the budget.</summary>
    public int Reached => Runs.Count(r => r.TimeToTargetSeconds is not null);

    /// <summary>The median time to target over the seeds, counting a seed that never reached it as infinitely late; null when that median is infinite.</summary>
    public double? MedianTimeToTargetSeconds => Statistics.MedianOrNull(Runs.Select(TimeOrInfinity).ToArray());

    /// <summary>A 95 % bootstrap interval of <see cref="MedianTimeToTargetSeconds"/> (2000 resamples, fixed seed); an infinite bound is null.</summary>
    public (double? Low, double? High) MedianTimeToTargetInterval(int resamples = 2000, int seed = 12345) =>
        Statistics.BootstrapMedianInterval(Runs.Select(TimeOrInfinity).ToArray(), resamples, seed);

    private static double TimeOrInfinity(SimulationRun r) => r.TimeToTargetSeconds ?? double.PositiveInfinity;
}

/// <summary>The few statistics the simulator reports.</summary>
public static class Statistics
{
    /// <summary>The median (mean of the two middle values for an even count); NaN for none.</summary>
    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>The median, or null when it is infinite or undefined.</summary>
    public static double? MedianOrNull(IReadOnlyList<double> values)
    {
        var m = Median(values);
        return double.IsFinite(m) ? m : null;
    }

    /// <summary>The 2.5 % and 97.5 % quantiles of the medians of <paramref name="resamples"/> bootstrap resamples; an infinite bound is null.</summary>
    public static (double? Low, double? High) BootstrapMedianInterval(IReadOnlyList<double> values, int resamples, int seed)
    {
        if (values.Count == 0) return (null, null);
        var random = new Random(seed);
        var medians = new double[resamples];
        var sample = new double[values.Count];
        for (var b = 0; b < resamples; b++)
        {
            for (var i = 0; i < sample.Length; i++) sample[i] = values[random.Next(values.Count)];
            medians[b] = Median(sample);
        }
        Array.Sort(medians);
        double Quantile(double q) => medians[Math.Clamp((int)Math.Floor(q * (resamples - 1)), 0, resamples - 1)];
        var (low, high) = (Quantile(0.025), Quantile(0.975));
        return (double.IsFinite(low) ? low : null, double.IsFinite(high) ? high : null);
    }
}
