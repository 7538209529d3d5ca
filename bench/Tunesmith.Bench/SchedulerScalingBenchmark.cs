using System.Diagnostics;
using System.Globalization;
using Tunesmith.Schedulers;
using Tunesmith.Schedulers.Asha;
using Tunesmith.Schedulers.MedianStopping;
using Tunesmith.Simulation;
using Tunesmith.Simulation.Benchmarks;

namespace Tunesmith.Bench;

/// <summary>
/// How a scheduler's cost grows with the study: median stopping and promotion-based ASHA driving the simulator (random
/// search, 8 workers) for growing simulated budgets on lcbench-blood. A scheduler that passes over the whole history at
/// every report or start makes the wall time grow with the square of the trials; an incremental one, linearly.
/// </summary>
internal static class SchedulerScalingBenchmark
{
    public static int Run(string benchmarkName, IReadOnlyList<string> schedulers, IReadOnlyList<double> hours, int workers, string? data)
    {
        using var catalog = SimulatorStudy.OpenCatalog(data);
        var benchmark = catalog.Open(benchmarkName);
        Console.WriteLine($"scheduler scaling on {benchmarkName}, random search, {workers} workers, seed 0");
        Console.WriteLine("| scheduler | simulated h | wall s | trials | stopped | epochs | wall µs per trial |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var name in schedulers)
            foreach (var h in hours)
            {
                IScheduler scheduler = name switch
                {
                    "median" => new MedianStoppingScheduler(new MedianStoppingOptions()),
                    "asha-promotion" => new AshaScheduler(new AshaOptions { Resource = "epoch", MinResource = 1, MaxResource = benchmark.MaxEpoch, ReductionFactor = 3, Mode = AshaMode.Promotion }),
                    "asha" => new AshaScheduler(new AshaOptions { Resource = "epoch", MinResource = 1, MaxResource = benchmark.MaxEpoch, ReductionFactor = 3 }),
                    _ => throw new ArgumentException($"--schedulers: unknown '{name}' (median, asha-promotion, asha)"),
                };
                // No target: the run goes on for the whole budget.
                var options = new SimulationOptions { Workers = workers, TimeBudget = TimeSpan.FromHours(h), Target = null };
                var watch = Stopwatch.StartNew();
                var run = new LearningCurveSimulator(benchmark, SimulationStrategies.CreateSampler("random", benchmark, 0), scheduler, options).Run();
                watch.Stop();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {name} | {h:0.##} | {watch.Elapsed.TotalSeconds:0.00} | {run.TrialsStarted} | {run.TrialsStopped} | {run.EpochsRun} | {watch.Elapsed.TotalMicroseconds / Math.Max(1, run.TrialsStarted):N0} |"));
            }
        return 0;
    }
}
