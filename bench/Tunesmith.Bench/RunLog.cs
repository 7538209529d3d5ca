using System.Globalization;
using System.Text.Json;

namespace Tunesmith.Bench;

/// <summary>
/// The quality bench's runs as JSON lines, one per finished run: <c>{"function", "sampler", "seed", "budget", "best", "wall", "branch"}</c>,
/// the format <c>optuna_quality.py</c> prints too (its lines carry Optuna's sampler name and version instead of a label). Appended as
/// runs finish, so a long run stopped part-way keeps what it did, and read back by <c>quality --runs-from</c>.
/// </summary>
internal sealed class RunLog : IAsyncDisposable
{
    private readonly StreamWriter _writer;
    private readonly Lock _gate = new();

    public RunLog(string path) => _writer = new StreamWriter(path, append: true) { AutoFlush = true };

    public void Append(QualityBenchmark.Run run)
    {
        var line = JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["function"] = run.Function, ["label"] = run.Sampler, ["seed"] = run.Seed, ["budget"] = run.Budget,
            ["best"] = run.BestSoFar, ["wall"] = run.WallSeconds, ["branch"] = run.BestBranch, ["note"] = run.Note,
        });
        lock (_gate) _writer.WriteLine(line);
    }

    public ValueTask DisposeAsync() => _writer.DisposeAsync();

    /// <summary>
    /// Every run in the files. A line without a label is Optuna's (<c>optuna_quality.py</c>): labelled
    /// <c>optuna{version}_{sampler}</c> as when the bench runs it. A line without a budget ran <paramref name="maxBudget"/> trials.
    /// </summary>
    public static List<QualityBenchmark.Run> Load(IReadOnlyList<string> files, int maxBudget)
    {
        var runs = new List<QualityBenchmark.Run>();
        foreach (var file in files)
        {
            var number = 0;
            foreach (var line in File.ReadLines(file))
            {
                number++;
                if (!line.StartsWith('{')) continue;
                try
                {
                    using var json = JsonDocument.Parse(line);
                    var root = json.RootElement;
                    var label = root.TryGetProperty("label", out var l) ? l.GetString()!
                        : $"optuna{root.GetProperty("version").GetString()}_{root.GetProperty("sampler").GetString()}";
                    var best = root.GetProperty("best").EnumerateArray().Select(v => v.GetDouble()).ToArray();
                    var budget = root.TryGetProperty("budget", out var b) ? b.GetInt32() : best.Length;
                    if (best.Length < budget) throw new FormatException($"{best.Length} values for a budget of {budget}");
                    var branch = root.TryGetProperty("branch", out var br) && br.ValueKind == JsonValueKind.Array
                        ? br.EnumerateArray().Select(v => v.GetString()!).ToArray() : null;
                    runs.Add(new QualityBenchmark.Run(root.GetProperty("function").GetString()!, label, root.GetProperty("seed").GetInt32(),
                        Math.Min(budget, maxBudget), best, root.GetProperty("wall").GetDouble(), branch));
                }
                catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
                {
                    throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"{file}:{number}: not a run line ({e.Message})"));
                }
            }
        }
        return runs;
    }
}
