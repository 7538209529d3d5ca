namespace Tunesmith.Simulation.Benchmarks;

/// <summary>
/// Opens benchmarks by the names <c>tunesmith simulate --benchmark</c> takes: <c>lcbench-blood</c>, <c>nasbench-nlp</c>
/// and <c>yahpo-lcbench:&lt;OpenML task id&gt;</c>, from the shared benchmark data folder.
/// </summary>
public sealed class BenchmarkCatalog : IDisposable
{
    /// <summary>The environment variable that names the benchmark data folder.</summary>
    public const string DataEnvironmentVariable = "TUNESMITH_BENCHDATA";

    /// <summary>The names (and the pattern) the catalog accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = ["lcbench-blood", "nasbench-nlp", "yahpo-lcbench:<task id>"];

    private readonly Dictionary<string, ILearningCurveBenchmark> _open = new(StringComparer.Ordinal);
    private readonly object _gate = new();
    private YahpoLcbenchSurrogate? _surrogate;
    private IReadOnlyList<double[]>? _lcbenchConfigurations;

    /// <summary>Creates a catalog over the data in <paramref name="dataDirectory"/>.</summary>
    public BenchmarkCatalog(string dataDirectory)
    {
        if (string.IsNullOrEmpty(dataDirectory))
            throw new DirectoryNotFoundException($"no benchmark data folder: pass one, set ${DataEnvironmentVariable}, or put shared/benchdata beside the current folder or one above it");
        if (!Directory.Exists(dataDirectory)) throw new DirectoryNotFoundException($"benchmark data folder '{dataDirectory}' does not exist");
        DataDirectory = dataDirectory;
    }

    /// <summary>The benchmark data folder.</summary>
    public string DataDirectory { get; }

    /// <summary>
    /// The benchmark data folder as <c>tunesmith simulate</c> finds it without <c>--data</c>: <c>$TUNESMITH_BENCHDATA</c>,
    /// else <c>shared/benchdata</c> beside the current directory or any folder above it, else beside the running program;
    /// null when none exists.
    /// </summary>
    public static string? FindDataDirectory() => FindDataDirectory(null, Environment.GetEnvironmentVariable(DataEnvironmentVariable));

    /// <summary>
    /// The benchmark data folder: <paramref name="explicitPath"/> when given, else <paramref name="environmentValue"/> (the
    /// caller's reading of <c>$TUNESMITH_BENCHDATA</c>), else the first
    /// <c>shared/benchdata</c> found beside the current directory or any folder above it (a clone next to the shared
    /// material), else beside the running program; null when none exists.
    /// </summary>
    public static string? FindDataDirectory(string? explicitPath, string? environmentValue = null)
    {
        if (!string.IsNullOrEmpty(explicitPath)) return explicitPath;
        if (!string.IsNullOrEmpty(environmentValue)) return environmentValue;
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "shared", "benchdata");
                if (Directory.Exists(candidate)) return candidate;
            }
        return null;
    }

    /// <summary>Opens (once; later calls share it) the benchmark called <paramref name="name"/>; throws <see cref="ArgumentException"/> for an unknown name.</summary>
    public ILearningCurveBenchmark Open(string name)
    {
        lock (_gate)
        {
            if (_open.TryGetValue(name, out var known)) return known;
            ILearningCurveBenchmark benchmark = name switch
            {
                "lcbench-blood" => TabularBenchmarks.LoadLcbenchBlood(DataDirectory),
                "nasbench-nlp" => TabularBenchmarks.LoadNasBenchNlp(DataDirectory),
                _ when name.StartsWith("yahpo-lcbench:", StringComparison.Ordinal) =>
                    new YahpoLcbenchBenchmark(_surrogate ??= new YahpoLcbenchSurrogate(DataDirectory), name["yahpo-lcbench:".Length..], LcbenchConfigurations()),
                _ => throw new ArgumentException($"unknown benchmark '{name}'{Tunesmith.Spaces.Spec.ClosestName.Suggest(name, SuggestionsFor(name))} (known: {string.Join(", ", Names)})"),
            };
            _open[name] = benchmark;
            return benchmark;
        }
    }

    // The names a misspelt one may have meant: a YAHPO name keeps its task id ("yahpo-lcbnch:189908" → "yahpo-lcbench:189908").
    private static IEnumerable<string> SuggestionsFor(string name) =>
        ["lcbench-blood", "nasbench-nlp", "yahpo-lcbench:" + (name.IndexOf(':') is >= 0 and var colon ? name[(colon + 1)..] : "")];

    /// <summary>LCBench's 2000 configurations (the same on every task), in the surrogate's input order without the epoch.</summary>
    private IReadOnlyList<double[]> LcbenchConfigurations()
    {
        if (_lcbenchConfigurations is { } known) return known;
        var csv = GzipCsv.Read(Path.Combine(DataDirectory, TabularBenchmarks.LcbenchBloodFile));
        var columns = YahpoLcbenchSurrogate.InputNames.Skip(1).Select(csv.Column).ToArray();
        int epoch = csv.Column("epoch"), id = csv.Column("config_id");
        return _lcbenchConfigurations = csv.Rows.Where(r => r[epoch] == "1")
            .OrderBy(r => int.Parse(r[id], System.Globalization.CultureInfo.InvariantCulture))
            .Select(r => columns.Select(c => GzipCsv.Number(r[c])).ToArray()).ToArray();
    }

    /// <inheritdoc />
    public void Dispose() => _surrogate?.Dispose();
}
