using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Tunesmith.Cli.Internal;
using Tunesmith.Execution;
using Tunesmith.Storage;
using Tunesmith.Simulation;
using Tunesmith.Simulation.Benchmarks;

namespace Tunesmith.Cli.Commands;

/// <summary>
/// <c>tunesmith simulate --benchmark NAME --scheduler S --sampler S --workers 8 --time-budget 2h --seeds 10</c>: replays a
/// learning-curve benchmark on a virtual clock with the real samplers and schedulers, and prints per strategy the best
/// value and the time to target of each seed.
/// </summary>
internal sealed partial class SimulateCommand : Command
{
    private readonly CliConsole _console;
    private readonly Option<string> _benchmark = new("--benchmark") { Description = "lcbench-blood, nasbench-nlp, yahpo-lcbench:<OpenML task id>, or study:<name or study file> (replay a stored study's trials)", Required = true, HelpName = "NAME" };
    private readonly Option<string> _scheduler = new("--scheduler") { Description = "none, median, asha, hyperband, pbt, bohb, hypertune or mobster (comma-separated for several)", DefaultValueFactory = _ => "none", HelpName = "NAME" };
    private readonly Option<string?> _sampler = new("--sampler") { Description = "random, tpe, gp or auto, or bohb, hypertune or mobster with --scheduler asha or hyperband (comma-separated for several); default random, the model's own with --scheduler bohb, hypertune or mobster", HelpName = "NAME" };
    private readonly Option<string> _workers = new("--workers") { Description = "Simulated workers", DefaultValueFactory = _ => "8", HelpName = "N" };
    private readonly Option<string> _budget = new("--time-budget") { Description = "Simulated time per run, as a study file's timeout: 90s, 30m, 2h, 1d, 1h30m, 01:30:00", DefaultValueFactory = _ => "2h", HelpName = "DURATION" };
    private readonly Option<string> _seeds = new("--seeds") { Description = "How many seeds (runs) per strategy", DefaultValueFactory = _ => "10", HelpName = "N" };
    private readonly Option<string> _firstSeed = new("--first-seed") { Description = "The first seed (seeds are consecutive from it)", DefaultValueFactory = _ => "0", HelpName = "N" };
    private readonly Option<string?> _target = new("--target") { Description = "The value to reach; default: the benchmark's best value within --tolerance", HelpName = "VALUE" };
    private readonly Option<string> _tolerance = new("--tolerance") { Description = "Relative tolerance of the default target (0.01 = within 1 % of the best value)", DefaultValueFactory = _ => "0.01", HelpName = "FRACTION" };
    private readonly Option<string> _format = new("--format") { Description = "table or json (json: one strategy)", DefaultValueFactory = _ => "table", HelpName = "table|json" };
    private readonly Option<string?> _output = new("--output") { Description = "Also write every run's best-so-far trace to this JSON file", HelpName = "FILE" };
    private readonly Option<string?> _data = new("--data") { Description = "The benchmark data folder (default: $TUNESMITH_BENCHDATA, else shared/benchdata beside the current folder or above it)", HelpName = "DIR" };
    private readonly Option<string?> _storage = new("--storage")
    {
        Description = "With --benchmark study:...: the storage URL (sqlite:///path.db, postgresql://...); default: the study file's storage:, then $TUNESMITH_STORAGE, then sqlite:///tunesmith.db",
        HelpName = "URL",
    };
    private readonly TimeProvider _time;
    private readonly Microsoft.Extensions.Logging.ILoggerFactory _loggers;
    private readonly Option<string?> _parallel = new("--parallel") { Description = "Seeds simulated side by side (default: the number of cores)", HelpName = "N" };

    public SimulateCommand(CliConsole console, TimeProvider time, Microsoft.Extensions.Logging.ILoggerFactory loggers) : base("simulate", "Replay a learning-curve benchmark in virtual time with N simulated workers")
    {
        _console = console;
        _time = time;
        _loggers = loggers;
        foreach (var option in new Option[] { _benchmark, _scheduler, _sampler, _workers, _budget, _seeds, _firstSeed, _target, _tolerance, _format, _output, _data, _storage, _parallel })
            Options.Add(option);
        SetAction(Execute);
    }

    private async Task<int> Execute(ParseResult parse, CancellationToken ct)
    {
        var workers = PositiveInt("--workers", parse.GetValue(_workers)!);
        var budget = DurationFlag.Parse("--time-budget", parse.GetValue(_budget)!)!.Value;
        var seeds = PositiveInt("--seeds", parse.GetValue(_seeds)!);
        var firstSeed = Int("--first-seed", parse.GetValue(_firstSeed)!);
        if ((long)firstSeed + seeds - 1 > int.MaxValue)
            throw new CliUsageException($"--first-seed {firstSeed}: with --seeds {seeds} the last seed would be beyond {int.MaxValue}");
        var tolerance = Number("--tolerance", parse.GetValue(_tolerance)!);
        // A fraction of 1 or more would put a maximized metric's target at or below zero, reached by any trial at once.
        if (!(tolerance is >= 0 and < 1))
            throw new CliUsageException($"--tolerance {parse.GetValue(_tolerance)}: must be a fraction from 0 up to, not including, 1 (0.01 = within 1 % of the best value)");
        double? target = parse.GetValue(_target) is { } t ? Number("--target", t) : null;
        var format = parse.GetValue(_format)!;
        if (format is not ("table" or "json")) throw new CliUsageException($"--format {format}: must be table or json");
        var parallel = parse.GetValue(_parallel) is { } p ? PositiveInt("--parallel", p) : Environment.ProcessorCount;
        var strategies = Strategies(parse.GetValue(_scheduler)!, parse.GetValue(_sampler));
        if (format == "json" && strategies.Count != 1)
            throw new CliUsageException($"--format json: prints one strategy, got {strategies.Count} (one --scheduler and one --sampler)");
        var output = parse.GetValue(_output);
        if (output is not null) OutputFile.Check("--output", output); // before the runs, which may take minutes

        var name = parse.GetValue(_benchmark)!;
        var replay = name.StartsWith(StoredStudyBenchmark.Prefix, StringComparison.Ordinal);
        if (!replay && parse.GetValue(_storage) is not null)
            throw new CliUsageException($"--storage: only with --benchmark study:NAME (got --benchmark {name})");
        BenchmarkCatalog? catalog = null;
        try
        {
            ILearningCurveBenchmark benchmark;
            if (replay) benchmark = await StoredStudyAsync(name, parse.GetValue(_storage), ct);
            else
            {
                var explicitData = parse.GetValue(_data);
                var data = BenchmarkCatalog.FindDataDirectory(explicitData, _console.GetEnvironment(BenchmarkCatalog.DataEnvironmentVariable))
                    ?? throw new CliUsageException("--data: no benchmark data folder found (give --data DIR or set TUNESMITH_BENCHDATA)");
                if (!Directory.Exists(data))
                    throw new CliUsageException($"{(string.IsNullOrEmpty(explicitData) ? "$" + BenchmarkCatalog.DataEnvironmentVariable : "--data")} {data}: folder does not exist");
                catalog = new BenchmarkCatalog(data);
                benchmark = Benchmark(catalog, name);
            }
            return await SimulateAsync(benchmark, replay, strategies, workers, budget, seeds, firstSeed, target, tolerance, format, parallel, output, ct);
        }
        finally { catalog?.Dispose(); }
    }

    private async Task<int> SimulateAsync(ILearningCurveBenchmark benchmark, bool replay, List<SimulationStrategy> strategies, int workers, TimeSpan budget,
        int seeds, int firstSeed, double? target, double tolerance, string format, int parallel, string? output, CancellationToken ct)
    {
        target ??= SimulationStudy.DefaultTarget(benchmark, tolerance);
        // A replayed study's table holds only the trials it ran: once every one was started, a run ends when nothing runs.
        var options = new SimulationOptions { Workers = workers, TimeBudget = budget, Target = target, EndWhenEveryRowStarted = replay };
        var seedList = Enumerable.Range(firstSeed, seeds).ToArray();

        var summaries = strategies.Select(s => SimulationStudy.Run(benchmark, s, options, seedList, parallel, ct)).ToList();
        if (format == "json") _console.Out.WriteLine(SummaryJson(summaries[0]));
        else foreach (var summary in summaries) WriteTable(summary);
        if (output is not null) await OutputFile.WriteAsync("--output", output, TracesJson(summaries), ct);
        return ExitCodes.Ok;
    }

    // study:NAME (a study in the storage) or study:FILE (a study file: its name, and its storage: before the environment's).
    private async Task<ILearningCurveBenchmark> StoredStudyAsync(string benchmark, string? storageOption, CancellationToken ct)
    {
        var study = benchmark[StoredStudyBenchmark.Prefix.Length..];
        if (study.Length == 0) throw new CliUsageException($"--benchmark {benchmark}: give the study's name or study file after 'study:'");
        string? fileStorage = null;
        if (File.Exists(study) && Path.GetExtension(study).ToLowerInvariant() is ".yaml" or ".yml" or ".json")
        {
            var file = StudyFile.Load(study);
            fileStorage = file.ResolvedStorage;
            study = file.Name;
        }
        var url = StorageUrl.Resolve(storageOption, fileStorage, _console);
        // Only reads: nothing is created or written, and PostgreSQL is one read-only pool.
        await using var storage = await StorageScope.OpenToReadAsync(url, _time, _loggers, ct) ?? throw StorageScope.NoStudies(url);
        try { return await StoredStudyBenchmark.LoadAsync(storage, study, ct); }
        catch (StudyNotFoundException) { throw new CliUsageException($"--benchmark {benchmark}: study '{study}' does not exist in {StorageUrl.Shown(url)}"); }
        catch (ArgumentException e) { throw new CliUsageException($"--benchmark {benchmark}: {ErrorLine.OneLine(e.Message)}"); }
    }

    private static ILearningCurveBenchmark Benchmark(BenchmarkCatalog catalog, string name)
    {
        try { return catalog.Open(name); }
        catch (ArgumentException e) { throw new CliUsageException($"--benchmark {name}: {e.Message}"); }
    }

    private static List<SimulationStrategy> Strategies(string schedulers, string? samplers)
    {
        var result = new List<SimulationStrategy>();
        var samplerNames = samplers is null ? new string?[] { null } : Split(samplers).Cast<string?>().ToArray();
        foreach (var scheduler in Split(schedulers))
            foreach (var sampler in samplerNames)
            {
                try { result.Add(SimulationStrategies.Create(scheduler, sampler)); }
                catch (ArgumentException e) { throw new CliUsageException(e.Message); }
            }
        if (result.Count == 0) throw new CliUsageException("--scheduler: no scheduler given");
        return result;
    }

    private static string[] Split(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private void WriteTable(SimulationSummary summary)
    {
        var o = summary.Options;
        var b = summary.Benchmark;
        var w = _console.Out;
        w.WriteLine($"{summary.Strategy.Name} on {b.Name}: {b.Metric} ({b.Direction.ToString().ToLowerInvariant()}), target {Formats.Value(o.Target)}, {Formats.Count(o.Workers, "worker")}, {Formats.Duration(o.TimeBudget)} simulated per seed");
        w.WriteLine($"  {"seed",6}  {"best",10}  {"time to target",14}  {"started",8}  {"stopped",8}");
        foreach (var r in summary.Runs)
            w.WriteLine($"  {r.Seed,6}  {Formats.Value(double.IsNaN(r.Best) ? null : r.Best),10}  {Time(r.TimeToTargetSeconds),14}  {r.TrialsStarted,8}  {r.TrialsStopped,8}");
        var (low, high) = summary.MedianTimeToTargetInterval();
        w.WriteLine($"  median time to target {Time(summary.MedianTimeToTargetSeconds)} (95% bootstrap interval {Time(low)} .. {Time(high)}), reached by {summary.Reached}/{summary.Runs.Count} seeds");
        w.WriteLine();
    }

    private static string Time(double? seconds) => seconds is { } s ? Formats.Duration(TimeSpan.FromSeconds(s)) : "never";

    private static string SummaryJson(SimulationSummary summary)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            WriteHeader(w, summary);
            w.WriteStartArray("runs");
            foreach (var r in summary.Runs)
            {
                w.WriteStartObject();
                WriteRun(w, r);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            WriteNumberOrNull(w, "median_time_to_target_s", summary.MedianTimeToTargetSeconds);
            w.WriteNumber("reached", summary.Reached);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private static string TracesJson(IReadOnlyList<SimulationSummary> summaries)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            WriteHeader(w, summaries[0]);
            w.WriteStartArray("strategies");
            foreach (var s in summaries)
            {
                w.WriteStartObject();
                w.WriteString("scheduler", s.Strategy.Scheduler);
                w.WriteString("sampler", s.Strategy.Sampler);
                w.WriteStartArray("runs");
                foreach (var r in s.Runs)
                {
                    w.WriteStartObject();
                    WriteRun(w, r);
                    w.WriteStartArray("trace");
                    foreach (var point in r.Trace)
                    {
                        w.WriteStartArray();
                        w.WriteNumberValue(point.Seconds);
                        w.WriteNumberValue(point.Best);
                        w.WriteEndArray();
                    }
                    w.WriteEndArray();
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                WriteNumberOrNull(w, "median_time_to_target_s", s.MedianTimeToTargetSeconds);
                w.WriteNumber("reached", s.Reached);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteHeader(Utf8JsonWriter w, SimulationSummary summary)
    {
        w.WriteString("benchmark", summary.Benchmark.Name);
        w.WriteString("metric", summary.Benchmark.Metric);
        w.WriteString("direction", summary.Benchmark.Direction.ToString().ToLowerInvariant());
        WriteNumberOrNull(w, "target", summary.Options.Target);
        w.WriteNumber("workers", summary.Options.Workers);
        w.WriteNumber("time_budget_s", summary.Options.TimeBudget.TotalSeconds);
    }

    private static void WriteRun(Utf8JsonWriter w, SimulationRun r)
    {
        w.WriteNumber("seed", r.Seed);
        WriteNumberOrNull(w, "best", double.IsNaN(r.Best) ? null : r.Best);
        WriteNumberOrNull(w, "time_to_target_s", r.TimeToTargetSeconds);
        w.WriteNumber("trials_started", r.TrialsStarted);
        w.WriteNumber("trials_stopped", r.TrialsStopped);
    }

    private static void WriteNumberOrNull(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v) w.WriteNumber(name, v);
        else w.WriteNull(name);
    }

    private static int PositiveInt(string flag, string text)
    {
        var n = Int(flag, text);
        return n >= 1 ? n : throw new CliUsageException($"{flag} {text}: must be a whole number >= 1");
    }

    private static int Int(string flag, string text) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : throw new CliUsageException($"{flag} {text}: not a whole number");

    private static double Number(string flag, string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && double.IsFinite(x) ? x
            : throw new CliUsageException($"{flag} {text}: not a number");
}
