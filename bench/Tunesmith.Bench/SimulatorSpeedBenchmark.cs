using System.Diagnostics;
using System.Globalization;
using Tunesmith.Simulation;
using Tunesmith.Simulation.Benchmarks;

namespace Tunesmith.Bench;

/// <summary>
/// How fast the simulator replays a study: ASHA + random search, 8 workers, 24 simulated hours on lcbench-blood (the
/// issue's bar: at most 2 s of wall time on the 2-core machine), with the speed-up over real time.
/// </summary>
internal static class SimulatorSpeedBenchmark
{
    public static int Run(string benchmarkName, string scheduler, string sampler, int workers, TimeSpan budget, int repeats, string? data, bool repeatRows = false)
    {
        using var catalog = SimulatorStudy.OpenCatalog(data);
        var load = Stopwatch.StartNew();
        var benchmark = catalog.Open(benchmarkName);
        var target = SimulationStudy.DefaultTarget(benchmark);
        load.Stop();
        var strategy = SimulationStrategies.Create(scheduler, sampler);
        var options = new SimulationOptions { Workers = workers, TimeBudget = budget, Target = target, RepeatTabulatedConfigurations = repeatRows };
        Console.WriteLine($"simulator speed: {strategy.Name} on {benchmarkName}, {workers} workers, {budget.TotalHours:0.##} simulated hours{(repeatRows ? ", rows may repeat (old lookup)" : "")}; data loaded in {load.Elapsed.TotalSeconds:0.00} s (not counted)");
        Console.WriteLine("| seed | wall s | CPU s | speed-up over real time (wall) | trials | epochs | epochs/s | best |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        var walls = new List<double>();
        for (var seed = 0; seed < repeats; seed++)
        {
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            var simulator = new LearningCurveSimulator(benchmark, strategy.CreateSampler(benchmark, seed), strategy.CreateScheduler(benchmark, seed), options);
            var run = simulator.Run();
            watch.Stop();
            var wall = watch.Elapsed.TotalSeconds;
            var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
            walls.Add(wall);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {seed} | {wall:0.000} | {cpuSeconds:0.000} | {budget.TotalSeconds / wall:N0}× | {run.TrialsStarted} | {run.EpochsRun} | {run.EpochsRun / wall:N0} | {run.Best:G6} |"));
        }
        var median = Statistics.Median(walls);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"median wall {median:0.000} s, speed-up {budget.TotalSeconds / median:N0}× over real time (bar: ≤ 2 s)"));
        return 0;
    }
}
