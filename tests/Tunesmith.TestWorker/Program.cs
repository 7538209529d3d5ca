using System.Globalization;
using Microsoft.Extensions.Logging;
using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Samplers;

// Usage: Tunesmith.TestWorker --storage URL --study NAME --trials BUDGET [--parallel N] [--seed S]
//          [--sampler random|grid] [--sleep-ms MS] [--heartbeat-ms MS] [--grace-ms MS] [--retries N]
//          [--barrier DIR --barrier-count N]
// Runs trials of a trivial objective until the study holds BUDGET trials (counted in storage across every process),
// then exits 0. With --sleep-ms each trial takes that long (so a test can kill the worker mid-trial); --sampler grid runs
// a 6 x 5 grid over (a, b). Warnings (a late write refused, a trial failed as stale) go to stderr as "warn: ..." lines;
// any error goes to stderr as one line, exit 1.
try
{
    var options = new Dictionary<string, string>(StringComparer.Ordinal);
    for (var i = 0; i + 1 < args.Length; i += 2) options[args[i]] = args[i + 1];
    string Get(string name) => options.TryGetValue(name, out var v) ? v : throw new ArgumentException($"missing {name}");
    int GetInt(string name, int fallback) => options.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
    var parallel = GetInt("--parallel", 1);
    var seed = GetInt("--seed", Environment.ProcessId);
    var sleep = TimeSpan.FromMilliseconds(GetInt("--sleep-ms", 0));
    var grid = options.TryGetValue("--sampler", out var samplerName) && samplerName == "grid";
    ISampler sampler = grid
        ? new GridSampler(new Dictionary<string, IReadOnlyList<object?>>
        {
            ["a"] = [0L, 1L, 2L, 3L, 4L, 5L],
            ["b"] = ["p", "q", "r", "s", "t"],
        })
        : new RandomSampler(seed);

    // A start barrier: N workers each leave a file in DIR and wait until all N are there, so a test that needs several
    // processes to share the study does not depend on how fast each one starts.
    if (options.TryGetValue("--barrier", out var barrier))
    {
        Directory.CreateDirectory(barrier);
        File.WriteAllText(Path.Combine(barrier, Environment.ProcessId.ToString(CultureInfo.InvariantCulture)), "");
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (Directory.GetFiles(barrier).Length < GetInt("--barrier-count", 1))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"start barrier {barrier}: not every worker arrived");
            Thread.Sleep(5);
        }
    }

    using var logging = new StderrLoggerFactory();
    await using var study = await Study.CreateOrLoadAsync(Get("--study"), new StudyOptions
    {
        Storage = Get("--storage"),
        Sampler = sampler,
        HeartbeatInterval = TimeSpan.FromMilliseconds(GetInt("--heartbeat-ms", 10_000)),
        StaleGracePeriod = options.ContainsKey("--grace-ms") ? TimeSpan.FromMilliseconds(GetInt("--grace-ms", 0)) : null,
        LoggerFactory = logging,
    });
    await study.OptimizeAsync(
        async (trial, ct) =>
        {
            double value = grid
                ? trial.SuggestInt("a", 0, 5) + (trial.SuggestCategorical("b", ["p", "q", "r", "s", "t"]) is string b ? b[0] - 'p' : 0)
                : Math.Pow(trial.SuggestFloat("x", -5, 5), 2) + trial.SuggestInt("k", 0, 3);
            if (sleep > TimeSpan.Zero)
            {
                // A long trial stores its params before it works (as a command trial does), so a retry after a crash re-runs them.
                await trial.FlushAsync(ct);
                await Task.Delay(sleep, ct);
            }
            return value;
        },
        new OptimizeOptions { Trials = int.Parse(Get("--trials"), CultureInfo.InvariantCulture), Parallelism = parallel, Retries = GetInt("--retries", 0) });
    return 0;
}
catch (Exception e)
{
    Console.Error.WriteLine($"{e.GetType().Name}: {e.Message}");
    return 1;
}

/// <summary>Writes warnings as one line each to stderr, where the tests read them.</summary>
internal sealed class StderrLoggerFactory : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName) => new StderrLogger();

    public void AddProvider(ILoggerProvider provider) { }

    public void Dispose() { }

    private sealed class StderrLogger : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) Console.Error.WriteLine($"{(logLevel == LogLevel.Warning ? "warn" : "error")}: {formatter(state, exception)}");
        }
    }
}
