using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Tunesmith.Bench;

/// <summary>
/// Optuna's TPE (univariate, its default, and multivariate) on the quality suite, run by <c>optuna_quality.py</c> in a
/// Python that has Optuna: the anchor measured in the same run, on the same seeds and machine, instead of only the
/// reference's 10-seed medians.
/// </summary>
internal static class OptunaRuns
{
    private static readonly string[] Samplers = ["tpe", "tpe_mv"];
    private const int SeedsPerProcess = 5;

    /// <summary>Runs every function × sampler × seed, passes each run to <paramref name="add"/>, and returns the labels used.</summary>
    public static async Task<IReadOnlyList<string>> RunAsync(string python, QualityArgs args, IReadOnlyList<QualityFunction> functions, Action<QualityBenchmark.Run> add)
    {
        var version = (await RunPythonAsync(python, ["-c", "import optuna; print(optuna.__version__)"], _ => { })).Trim();
        var script = Path.Combine(AppContext.BaseDirectory, "optuna_quality.py");
        var seeds = Enumerable.Range(args.SeedOffset, args.Seeds).ToArray();
        var batches = functions.SelectMany(f => Samplers.SelectMany(s => seeds.Chunk(SeedsPerProcess).Select(chunk => (f.Name, Sampler: s, Seeds: chunk)))).ToList();
        var labels = new ConcurrentDictionary<string, bool>();
        var done = 0;
        var total = Stopwatch.StartNew();
        await Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = args.Jobs }, async (batch, _) =>
        {
            await RunPythonAsync(python, [script, "--reference", Path.GetFullPath(args.ReferenceDir), "--functions", batch.Name,
                "--samplers", batch.Sampler, "--seeds", string.Join(",", batch.Seeds), "--trials", args.Budgets.Max().ToString(CultureInfo.InvariantCulture),
                "--batch", args.Batch.ToString(CultureInfo.InvariantCulture)],
                line =>
                {
                    using var json = JsonDocument.Parse(line);
                    var root = json.RootElement;
                    var label = $"optuna{version}_{root.GetProperty("sampler").GetString()}";
                    labels[label] = true;
                    add(new QualityBenchmark.Run(root.GetProperty("function").GetString()!, label, root.GetProperty("seed").GetInt32(), args.Budgets.Max(),
                        root.GetProperty("best").EnumerateArray().Select(v => v.GetDouble()).ToArray(), root.GetProperty("wall").GetDouble(),
                        root.TryGetProperty("branch", out var branch) ? branch.EnumerateArray().Select(v => v.GetString()!).ToArray() : null));
                });
            var n = Interlocked.Increment(ref done);
            Console.Error.WriteLine($"  optuna {n}/{batches.Count} batches of {SeedsPerProcess} runs, {total.Elapsed.TotalSeconds:F0} s");
        });
        return Samplers.Select(s => $"optuna{version}_{s}").Where(labels.ContainsKey).ToList();
    }

    private static async Task<string> RunPythonAsync(string python, IReadOnlyList<string> arguments, Action<string> onLine)
    {
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {python}");
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = new System.Text.StringBuilder();
        while (await process.StandardOutput.ReadLineAsync() is { } line)
        {
            stdout.AppendLine(line);
            if (line.StartsWith('{')) onLine(line);
        }
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{python} {string.Join(' ', arguments)} exited with {process.ExitCode}: {(await stderr).Trim()}");
        return stdout.ToString();
    }
}
