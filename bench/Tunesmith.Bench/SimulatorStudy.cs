using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using ScottPlot;
using Tunesmith.Simulation;
using Tunesmith.Simulation.Benchmarks;

namespace Tunesmith.Bench;

/// <summary>
/// The time-to-solution study (issue 20, item 4): each strategy with the same workers and simulated budget on each
/// benchmark, many seeds; median time to target with a bootstrap 95 % interval, speed-ups, and a PNG per benchmark of
/// the mean best-so-far (± one standard deviation over seeds) against simulated time. A run stops when it reaches the
/// target (nothing after that changes its time to target), so the curves flatten at the value that reached it.
/// <c>--record-proposed true</c> records proposals rather than the replayed table rows (the protocol before 7 Dec 2026).
/// </summary>
internal static class SimulatorStudy
{
    /// <summary>The catalog of tabulated benchmarks in the folder <paramref name="data"/> names, else the one <see cref="BenchmarkCatalog.FindDataDirectory"/> finds.</summary>
    internal static BenchmarkCatalog OpenCatalog(string? data) =>
        new(BenchmarkCatalog.FindDataDirectory(data, Environment.GetEnvironmentVariable(BenchmarkCatalog.DataEnvironmentVariable))
            ?? throw new InvalidOperationException("no benchmark data folder (--data DIR)"));

    /// <summary>A benchmark's simulated-time budget: its own (<c>yahpo-lcbench:189908</c>), else its family's (<c>yahpo-lcbench</c>), else <c>default</c>.</summary>
    internal static TimeSpan BudgetFor(IReadOnlyDictionary<string, TimeSpan> budgets, string name) =>
        budgets.TryGetValue(name, out var own) ? own : budgets.TryGetValue(name.Split(':')[0], out var family) ? family : budgets["default"];

    public static int Run(IReadOnlyList<string> benchmarks, IReadOnlyList<string> strategies, int seeds, int firstSeed, int workers,
        IReadOnlyDictionary<string, TimeSpan> budgets, int parallel, string outputDir, string? data, bool recordProposed = false)
    {
        using var catalog = OpenCatalog(data);
        Directory.CreateDirectory(outputDir);
        var seedList = Enumerable.Range(firstSeed, seeds).ToArray();
        var markdown = new StringBuilder();
        markdown.AppendLine(CultureInfo.InvariantCulture, $"Seeds {firstSeed}..{firstSeed + seeds - 1}, {workers} workers; median time to target [bootstrap 95 % interval], reached/seeds; speed-up = median of random alone ÷ median of the strategy.");
        markdown.AppendLine();
        var results = new List<object>();
        foreach (var name in benchmarks)
        {
            var benchmark = catalog.Open(name);
            var budget = BudgetFor(budgets, name);
            var target = SimulationStudy.DefaultTarget(benchmark);
            var options = new SimulationOptions { Workers = workers, TimeBudget = budget, Target = target, StopAtTarget = true, RecordProposedConfigurations = recordProposed };
            markdown.AppendLine(CultureInfo.InvariantCulture, $"**{name}** ({benchmark.Metric}, {benchmark.Direction.ToString().ToLowerInvariant()}; best {benchmark.BestValue:G6}, target {target:G6}; budget {budget.TotalHours:0.#} simulated hours)");
            markdown.AppendLine();
            markdown.AppendLine("| strategy | median time to target | 95 % interval | reached | speed-up vs random | mean trials started | CPU s |");
            markdown.AppendLine("|---|---|---|---|---|---|---|");
            var summaries = new List<SimulationSummary>();
            double? randomMedian = null;
            foreach (var s in strategies)
            {
                var parts = s.Split('+');
                var strategy = SimulationStrategies.Create(parts[0], parts.Length > 1 ? parts[1] : null);
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var summary = SimulationStudy.Run(benchmark, strategy, options, seedList, parallel);
                var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
                summaries.Add(summary);
                var median = summary.MedianTimeToTargetSeconds;
                if (strategy.Scheduler == "none" && strategy.Sampler == "random") randomMedian = median ?? double.PositiveInfinity;
                var (low, high) = summary.MedianTimeToTargetInterval();
                var speedup = randomMedian is { } rm && median is { } m && m > 0
                    ? double.IsPositiveInfinity(rm) ? $"> {budget.TotalSeconds / m:0.#}×" : $"{rm / m:0.#}×" : "-";
                markdown.AppendLine(CultureInfo.InvariantCulture,
                    $"| {strategy.Name} | {Time(median)} | {Time(low)} .. {Time(high)} | {summary.Reached}/{summary.Runs.Count} | {speedup} | {summary.Runs.Average(r => r.TrialsStarted):0} | {cpuSeconds:0.0} |");
                Console.Error.WriteLine($"{name} {strategy.Name}: median {Time(median)}, reached {summary.Reached}/{summary.Runs.Count}, {cpuSeconds:0.0} s CPU");
                results.Add(new
                {
                    benchmark = name, metric = benchmark.Metric, direction = benchmark.Direction.ToString().ToLowerInvariant(), target, workers,
                    time_budget_s = budget.TotalSeconds, scheduler = strategy.Scheduler, sampler = strategy.Sampler,
                    median_time_to_target_s = median, interval_low_s = low, interval_high_s = high, reached = summary.Reached,
                    runs = summary.Runs.Select(r => new { seed = r.Seed, best = double.IsNaN(r.Best) ? (double?)null : r.Best, time_to_target_s = r.TimeToTargetSeconds, trials_started = r.TrialsStarted, trials_stopped = r.TrialsStopped }),
                });
            }
            markdown.AppendLine();
            Plot(benchmark, summaries, budget, target, Path.Combine(outputDir, PlotName(name)));
            markdown.AppendLine(CultureInfo.InvariantCulture, $"![{name}]({PlotName(name)})");
            markdown.AppendLine();
        }
        var stem = benchmarks.Count == 1 ? "study-" + benchmarks[0].Replace(':', '-') : "study";
        File.WriteAllText(Path.Combine(outputDir, stem + ".md"), markdown.ToString());
        File.WriteAllText(Path.Combine(outputDir, stem + ".json"), JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine(markdown.ToString());
        return 0;
    }

    private static string PlotName(string benchmark) => benchmark.Replace(':', '-') + ".png";

    private static string Time(double? seconds) => seconds is not { } s ? "never" : s >= 86400 ? $"{s / 86400:0.0} d" : s >= 3600 ? $"{s / 3600:0.0} h" : s >= 60 ? $"{s / 60:0.0} min" : $"{s:0} s";

    private static void Plot(ILearningCurveBenchmark benchmark, IReadOnlyList<SimulationSummary> summaries, TimeSpan budget, double target, string path)
    {
        var plot = new Plot();
        plot.Title($"{benchmark.Name}: mean best-so-far ± 1 sd, 8 workers");
        plot.XLabel("simulated hours (log scale)");
        plot.YLabel(benchmark.Metric);
        // Log-spaced times from 1 minute (or less) to the budget.
        var start = Math.Min(60, budget.TotalSeconds / 100);
        var xs = Enumerable.Range(0, 120).Select(i => start * Math.Pow(budget.TotalSeconds / start, i / 119.0)).ToArray();
        var palette = new ScottPlot.Palettes.Category10();
        var c = 0;
        foreach (var summary in summaries)
        {
            var color = palette.GetColor(c++);
            var points = xs.Select(t => summary.Runs.Select(r => r.BestAt(t)).Where(v => !double.IsNaN(v)).ToArray()).ToArray();
            var keep = points.Select((p, i) => (p, i)).Where(x => x.p.Length == summary.Runs.Count).Select(x => x.i).ToArray();
            if (keep.Length == 0) continue;
            var lx = keep.Select(i => Math.Log10(xs[i] / 3600)).ToArray();
            var mean = keep.Select(i => points[i].Average()).ToArray();
            var sd = keep.Select(i => Math.Sqrt(points[i].Select(v => (v - points[i].Average()) * (v - points[i].Average())).Sum() / Math.Max(1, points[i].Length - 1))).ToArray();
            var band = plot.Add.FillY(lx, mean.Zip(sd, (m, s) => m - s).ToArray(), mean.Zip(sd, (m, s) => m + s).ToArray());
            band.FillColor = color.WithAlpha(0.15);
            band.LineWidth = 0;
            var line = plot.Add.Scatter(lx, mean);
            line.Color = color;
            line.MarkerSize = 0;
            line.LineWidth = 2;
            line.LegendText = summary.Strategy.Name;
        }
        var hline = plot.Add.HorizontalLine(target);
        hline.LinePattern = LinePattern.Dashed;
        hline.Color = Colors.Gray;
        hline.LegendText = "target";
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = v => Math.Pow(10, v).ToString(v < 0 ? "0.##" : "0.#", CultureInfo.InvariantCulture) };
        plot.ShowLegend(benchmark.Direction == Tunesmith.Trials.Direction.Maximize ? Alignment.LowerRight : Alignment.UpperRight);
        plot.SavePng(path, 900, 560);
    }
}
