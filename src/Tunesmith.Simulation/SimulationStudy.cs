using Tunesmith.Simulation.Benchmarks;

namespace Tunesmith.Simulation;

/// <summary>Runs one strategy on one benchmark for several seeds (side by side on the machine's cores; each seed alone is deterministic).</summary>
public static class SimulationStudy
{
    /// <summary>Simulates <paramref name="seeds"/> with <paramref name="strategy"/>; results are in seed order whatever the parallelism.</summary>
    public static SimulationSummary Run(ILearningCurveBenchmark benchmark, SimulationStrategy strategy, SimulationOptions options,
        IReadOnlyList<int> seeds, int parallelism = 1, CancellationToken cancellationToken = default)
    {
        options.Validate();
        var runs = new SimulationRun[seeds.Count];
        Parallel.For(0, seeds.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, parallelism), CancellationToken = cancellationToken }, i =>
        {
            var seed = seeds[i];
            var simulator = new LearningCurveSimulator(benchmark, strategy.CreateSampler(benchmark, seed), strategy.CreateScheduler(benchmark, seed), options);
            runs[i] = simulator.Run() with { Seed = seed };
        });
        return new SimulationSummary(benchmark, strategy, options, runs);
    }

    /// <summary>
    /// The default target: the benchmark's best value within a relative <paramref name="tolerance"/> — for a maximized
    /// metric best − tolerance·|best|, for a minimized one best + tolerance·|best|.
    /// </summary>
    public static double DefaultTarget(ILearningCurveBenchmark benchmark, double tolerance = DefaultTolerance)
    {
        if (!(tolerance is >= 0 and < 1))
            throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, "must be a fraction from 0 up to, not including, 1");
        return benchmark.Direction == Direction.Maximize
            ? benchmark.BestValue - tolerance * Math.Abs(benchmark.BestValue)
            : benchmark.BestValue + tolerance * Math.Abs(benchmark.BestValue);
    }

    /// <summary>The default relative tolerance of the target: 1 %.</summary>
    public const double DefaultTolerance = 0.01;
}
