using System.Diagnostics;
using System.Globalization;
using System.Text;
using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Samplers;
using Tunesmith.Storage;

namespace Tunesmith.Bench;

/// <summary>
/// How long one ask takes as the history grows: a study is filled with k completed random trials, then the sampler
/// under test proposes the next 10 (ask + suggest + tell each); the median of those 10 is reported. Spaces: one float
/// (as Optuna's reference), hartmann6 (6 floats) and mixed (floats, ints, a categorical).
/// </summary>
internal static class AskLatencyBenchmark
{
    public static async Task<int> RunAsync(IReadOnlySet<string>? samplers, int[] histories)
    {
        var spaces = new[]
        {
            new QualityFunction("x (1 float)", 0, new Spaces.SearchSpace().Float("x", -10, 10), c => Math.Pow(c.GetDouble("x"), 2)),
            QualityFunctions.All.First(f => f.Name == "hartmann6"),
            QualityFunctions.All.First(f => f.Name == "mixed"),
        };
        var labels = QualityBenchmark.AllSamplers.Where(s => (samplers is null || samplers.Contains(s.Label)) && SamplerRegistry.Names.Contains(s.RegistryName)).ToList();
        var sb = new StringBuilder();
        sb.AppendLine($"| sampler | space | {string.Join(" | ", histories.Select(h => $"ask ms at {h:N0}"))} |");
        sb.AppendLine($"|---|---|{string.Concat(histories.Select(_ => "---:|"))}");
        foreach (var s in labels)
            foreach (var f in spaces)
            {
                var cells = new List<string>();
                foreach (var k in histories)
                {
                    var ms = await MeasureAsync(s, f, k);
                    cells.Add(ms.ToString("F3", CultureInfo.InvariantCulture));
                    Console.Error.WriteLine($"  {s.Label} {f.Name} @{k}: {ms:F3} ms");
                }
                sb.AppendLine($"| {s.Label} | {f.Name} | {string.Join(" | ", cells)} |");
            }
        Console.WriteLine(sb.ToString());
        return 0;
    }

    private static async Task<double> MeasureAsync(SamplerUnderTest s, QualityFunction f, int history)
    {
        var storage = new InMemoryStudyStorage();
        var name = $"latency-{s.Label}-{history}";
        await using (var filler = await Study.CreateAsync(name, new StudyOptions { StorageInstance = storage, Sampler = new RandomSampler(seed: 7) }))
        {
            await filler.OptimizeAsync((t, _) => Task.FromResult(f.Evaluate(t.Suggest(f.Space))), new OptimizeOptions { Trials = history });
        }
        var sampler = SamplerRegistry.Create(s.RegistryName, new SamplerRequest(s.Options, 1, f.Space, history + 10));
        await using var study = await Study.LoadAsync(name, new StudyOptions { StorageInstance = storage, Sampler = sampler });
        // One untimed ask lets the sampler build its caches from the history, as it would have done trial by trial.
        var warm = await study.AskAsync();
        await study.TellAsync(warm, f.Evaluate(warm.Suggest(f.Space)));
        var times = new double[10];
        for (var i = 0; i < times.Length; i++)
        {
            var sw = Stopwatch.StartNew();
            var trial = await study.AskAsync();
            var config = trial.Suggest(f.Space);
            times[i] = sw.Elapsed.TotalMilliseconds;
            await study.TellAsync(trial, f.Evaluate(config));
        }
        return QualityBenchmark.Percentile(times, 0.5);
    }
}
