using ScottPlot;

namespace Tunesmith.Bench;

/// <summary>PNG plots of the median best-so-far regret per function, one line per sampler (log scale).</summary>
internal static class QualityPlots
{
    public static void Render(IReadOnlyList<(string Function, string Sampler, int Budget, double[] BestSoFar)> runs,
        IReadOnlyList<QualityFunction> functions, IReadOnlyList<string> samplers, int maxBudget, string outputDir)
    {
        var dir = Path.Combine(outputDir, "plots");
        Directory.CreateDirectory(dir);
        foreach (var f in functions)
        {
            var plot = new Plot();
            plot.Title($"{f.Name}: median best-so-far regret");
            plot.XLabel("trial");
            plot.YLabel("log10 regret");
            foreach (var s in samplers)
            {
                // Budget-aware samplers: plot their largest-budget runs.
                var curves = runs.Where(r => r.Function == f.Name && r.Sampler == s && r.Budget == maxBudget).Select(r => r.BestSoFar).ToList();
                if (curves.Count == 0) continue;
                var xs = Enumerable.Range(1, maxBudget).Select(i => (double)i).ToArray();
                var ys = Enumerable.Range(0, maxBudget)
                    .Select(i => Math.Log10(Math.Max(1e-12, QualityBenchmark.Percentile(curves.Select(c => c[i]).ToArray(), 0.5))))
                    .ToArray();
                var line = plot.Add.Scatter(xs, ys);
                line.LegendText = s;
                line.MarkerSize = 0;
                line.LineWidth = 2;
            }
            plot.ShowLegend(Alignment.UpperRight);
            plot.SavePng(Path.Combine(dir, $"{f.Name}.png"), 800, 500);
        }
    }
}
