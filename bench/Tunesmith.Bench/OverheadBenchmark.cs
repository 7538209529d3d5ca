using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Text;
using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Samplers;
using Tunesmith.Storage;

namespace Tunesmith.Bench;

/// <summary>
/// Framework overhead: trials per second of ask + tell with a trivial objective (<c>x = suggest_float(−10, 10); x²</c>)
/// and the Random sampler, sequential in one process or with several worker processes on one study — the same
/// objective as Optuna's overhead reference.
/// </summary>
internal static class OverheadBenchmark
{
    private static readonly OptimizeOptions Sequential = new();

    private static Task<double> Objective(Trial t, CancellationToken _)
    {
        var x = t.SuggestFloat("x", -10, 10);
        return Task.FromResult(x * x);
    }

    /// <summary>Runs <paramref name="trials"/> trials on a fresh study and returns the wall seconds.</summary>
    public static async Task<double> TimeSequentialAsync(string storageUrl, int trials)
    {
        await using var study = await Study.CreateAsync("overhead-" + Guid.NewGuid().ToString("N")[..8],
            new StudyOptions { Storage = storageUrl, Sampler = new RandomSampler(seed: 1) });
        var sw = Stopwatch.StartNew();
        await study.OptimizeAsync(Objective, Sequential with { Trials = trials });
        return sw.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Times <paramref name="trials"/> more trials on an existing study (e.g. one holding 100,000), after one history read
    /// that a long-lived worker would have made long before: the per-trial cost, not the first load.
    /// </summary>
    public static async Task<double> TimeOnExistingStudyAsync(string storageUrl, string name, int trials)
    {
        await using var study = await Study.LoadAsync(name, new StudyOptions { Storage = storageUrl, Sampler = new RandomSampler(seed: 1) });
        var before = (await study.RefreshAsync()).Trials.Count;
        var sw = Stopwatch.StartNew();
        await study.OptimizeAsync(Objective, Sequential with { Trials = before + trials });
        return sw.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// A report-heavy workload: <paramref name="trials"/> trials of <paramref name="steps"/> reports each, every report the
    /// study metric plus <paramref name="extraMetrics"/> other metrics (<c>trial.Report(step, value, metrics)</c>; with
    /// none, <c>trial.Report(step, value)</c>). No scheduler, so each report is one storage write and nothing else.
    /// Returns the wall seconds.
    /// </summary>
    public static async Task<double> TimeReportsAsync(string storageUrl, int trials, int steps, int extraMetrics)
    {
        await using var study = await Study.CreateAsync("reports-" + Guid.NewGuid().ToString("N")[..8],
            new StudyOptions { Storage = storageUrl, Sampler = new RandomSampler(seed: 1), Metric = "val_f1" });
        var names = Enumerable.Range(0, extraMetrics).Select(i => "metric" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
        var sw = Stopwatch.StartNew();
        await study.OptimizeAsync(async (t, ct) =>
        {
            var x = t.SuggestFloat("x", -10, 10);
            for (var step = 1; step <= steps; step++)
            {
                if (names.Length == 0)
                {
                    await t.ReportAsync(step, x * x / step, ct);
                    continue;
                }
                var metrics = new Dictionary<string, double>(names.Length, StringComparer.Ordinal);
                for (var i = 0; i < names.Length; i++) metrics[names[i]] = x + step + i;
                await t.ReportAsync(step, x * x / step, metrics, ct);
            }
            return x * x;
        }, Sequential with { Trials = trials });
        return sw.Elapsed.TotalSeconds;
    }

    public static async Task<int> RunAsync(int repeats, IReadOnlySet<string>? cases, string workDir)
    {
        Directory.CreateDirectory(workDir);
        var rows = new List<(string Case, int Trials, double[] Seconds)>();
        async Task Case(string name, int trials, Func<Task<double>> run)
        {
            if (cases is not null && !cases.Any(c => name.Contains(c, StringComparison.OrdinalIgnoreCase))) return;
            var seconds = new double[repeats];
            for (var r = 0; r < repeats; r++) seconds[r] = await run();
            rows.Add((name, trials, seconds));
            Console.Error.WriteLine($"  {name} x{trials}: {string.Join(", ", seconds.Select(s => (trials / s).ToString("F0", CultureInfo.InvariantCulture)))} trials/s");
        }
        string Db() => "sqlite:///" + Path.Combine(workDir, $"overhead-{Guid.NewGuid():N}.db");

        await TimeSequentialAsync("memory:", 2_000); // warm-up: JIT, tiering
        await Case("in-memory, Random", 1_000, () => TimeSequentialAsync("memory:", 1_000));
        await Case("in-memory, Random", 100_000, () => TimeSequentialAsync("memory:", 100_000));
        await Case("SQLite file, Random", 1_000, () => TimeSequentialAsync(Db(), 1_000));
        await Case("SQLite file, Random", 10_000, () => TimeSequentialAsync(Db(), 10_000));
        await Case("SQLite file, Random, 4 processes on one study", 4_000, () => MultiProcessAsync(Db(), 4, 4_000));
        // Per report, not per trial (the "trials" column counts reports): 200 trials × 50 reports.
        await Case("SQLite file, reports of the study metric only (200 trials × 50; per report)", 10_000, () => TimeReportsAsync(Db(), 200, 50, 0));
        await Case("SQLite file, reports of 3 metrics (200 trials × 50; per report)", 10_000, () => TimeReportsAsync(Db(), 200, 50, 2));

        // PostgreSQL: the server named by TUNESMITH_BENCH_POSTGRES (else TUNESMITH_TEST_POSTGRES), e.g. the URL that
        // scripts/postgres-local.sh start prints; every case runs in a fresh schema, dropped at the end.
        var pgServer = Environment.GetEnvironmentVariable("TUNESMITH_BENCH_POSTGRES") is { Length: > 0 } bench ? bench
            : Environment.GetEnvironmentVariable("TUNESMITH_TEST_POSTGRES");
        bool Wanted(string name) => cases is null || cases.Any(c => name.Contains(c, StringComparison.OrdinalIgnoreCase));
        if (pgServer is { Length: > 0 })
        {
            await using var pg = await PostgresBenchSchema.CreateAsync(pgServer);
            await Case("PostgreSQL, Random", 1_000, () => TimeSequentialAsync(pg.Url, 1_000));
            await Case("PostgreSQL, Random, 1 process", 2_000, () => MultiProcessAsync(pg.Url, 1, 2_000));
            await Case("PostgreSQL, Random, 4 processes on one study", 4_000, () => MultiProcessAsync(pg.Url, 4, 4_000));
            await Case("PostgreSQL, Random, 8 processes on one study", 4_000, () => MultiProcessAsync(pg.Url, 8, 4_000));
            await Case("PostgreSQL, Random, 4 long-running processes on one study", 16_000, () => MultiProcessAsync(pg.Url, 4, 16_000));
            foreach (var n in new[] { 1, 4, 8 })
                await Case($"PostgreSQL, Random, {n} warmed worker process{(n > 1 ? "es" : "")} on one study", 4_000, () => MultiProcessAsync(pg.Url, n, 4_000, warmup: 250));
            const string big = "PostgreSQL, Random, 1,000 trials on a study holding 100,000";
            if (Wanted(big))
            {
                var name = await pg.FillStudyAsync(100_000);
                await Case("PostgreSQL, Random, 1,000 trials on a fresh study", 1_000, () => TimeSequentialAsync(pg.Url, 1_000));
                await Case(big, 1_000, () => TimeOnExistingStudyAsync(pg.Url, name, 1_000));
            }
        }
        else if (cases is null || cases.Any(c => "PostgreSQL".Contains(c, StringComparison.OrdinalIgnoreCase)))
            Console.Error.WriteLine("  PostgreSQL cases skipped: set TUNESMITH_BENCH_POSTGRES (e.g. $(scripts/postgres-local.sh start))");

        var sb = new StringBuilder();
        sb.AppendLine($"| case | trials | median wall s [min–max] | trials/s (median) | µs/trial (median) |");
        sb.AppendLine("|---|---:|---|---:|---:|");
        foreach (var (name, trials, s) in rows)
        {
            var med = QualityBenchmark.Percentile(s, 0.5);
            sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {trials:N0} | {med:F3} [{s.Min():F3}–{s.Max():F3}] | {trials / med:N0} | {1e6 * med / trials:F1} |"));
        }
        Console.WriteLine(sb.ToString());
        return 0;
    }

    /// <summary>
    /// Starts <paramref name="processes"/> copies of this program as workers on one study with a study-wide budget of
    /// <paramref name="trials"/>; the wall is from the first worker's start to the last one's end, after all have opened
    /// the storage (process start-up excluded, as in the reference).
    /// </summary>
    public static async Task<double> MultiProcessAsync(string storageUrl, int processes, int trials, int warmup = 0)
    {
        var name = "overhead-mp-" + Guid.NewGuid().ToString("N")[..8];
        await using (var study = await Study.CreateAsync(name, new StudyOptions { Storage = storageUrl })) { }
        var go = Path.Combine(Path.GetTempPath(), $"tunesmith-go-{Guid.NewGuid():N}");
        var exe = Environment.ProcessPath!;
        var dll = typeof(OverheadBenchmark).Assembly.Location;
        var procs = Enumerable.Range(0, processes).Select(_ =>
        {
            var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(exe) == "dotnet") psi.ArgumentList.Add(dll);
            foreach (var a in new[] { "worker", storageUrl, name, trials.ToString(CultureInfo.InvariantCulture), go, warmup.ToString(CultureInfo.InvariantCulture) })
                psi.ArgumentList.Add(a);
            return Process.Start(psi)!;
        }).ToList();
        // Release the workers together once each has opened the storage and said so.
        foreach (var p in procs)
        {
            var line = await p.StandardOutput.ReadLineAsync();
            if (line != "ready") throw new InvalidOperationException($"worker failed to start: {line} {await p.StandardError.ReadToEndAsync()}");
        }
        var serverCpu = ServerCpuSeconds();
        await File.WriteAllTextAsync(go, "go");
        var starts = new List<double>();
        var clientCpu = 0.0;
        var ends = new List<double>();
        foreach (var p in procs)
        {
            var output = await p.StandardOutput.ReadToEndAsync();
            var error = await p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync();
            if (p.ExitCode != 0) throw new InvalidOperationException($"worker exited {p.ExitCode}: {error}");
            Console.Error.Write(error);
            var parts = output.Trim().Split(' ');
            starts.Add(double.Parse(parts[0], CultureInfo.InvariantCulture));
            ends.Add(double.Parse(parts[1], CultureInfo.InvariantCulture));
            clientCpu += double.Parse(parts[2], CultureInfo.InvariantCulture);
        }
        serverCpu = ServerCpuSeconds() - serverCpu;
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"    cpu per trial: workers {1e6 * clientCpu / trials:F0} µs, PostgreSQL server {1e6 * serverCpu / trials:F0} µs"));
        File.Delete(go);
        await using (var storage = StudyStorage.Open(storageUrl))
        {
            var study = await storage.GetStudyAsync(name);
            var counts = await storage.CountTrialsAsync(study!.Id);
            var complete = counts.GetValueOrDefault(TrialState.Complete);
            if (complete != trials) throw new InvalidOperationException($"expected {trials} complete trials, found {complete}");
        }
        return ends.Max() - starts.Min();
    }

    /// <summary>
    /// The worker side of <see cref="MultiProcessAsync"/>. With <paramref name="warmup"/> it first runs trials on a
    /// scratch study of its own, in batches of that size, until three batches in a row compile (next to) no new method:
    /// .NET's tiered JIT recompiles the hot path with optimisations over the first seconds of a process, as Python imports
    /// its modules at start-up, and a worker that runs for hours pays that once. Then it prints "ready", waits for the go
    /// file, runs, and prints start and end (Unix seconds) and the CPU seconds it spent in between; the number of methods
    /// the JIT compiled during the run goes to stderr.
    /// </summary>
    public static async Task<int> WorkerAsync(string storageUrl, string name, int trials, string goFile, int warmup)
    {
        if (warmup > 0)
        {
            var scratch = "warmup-" + Guid.NewGuid().ToString("N")[..8];
            await using (var w = await Study.CreateAsync(scratch, new StudyOptions { Storage = storageUrl, Sampler = new RandomSampler() }))
            {
                // Tier-up comes in waves with pauses between them, so one quiet batch is not enough.
                const int quietMethods = 10, quietBatches = 3, maxBatches = 60;
                for (int batch = 1, quiet = 0; batch <= maxBatches && quiet < quietBatches; batch++)
                {
                    var compiled = JitInfo.GetCompiledMethodCount();
                    await w.OptimizeAsync(Objective, Sequential with { Trials = batch * warmup }); // the budget counts the study's trials
                    quiet = JitInfo.GetCompiledMethodCount() - compiled <= quietMethods ? quiet + 1 : 0;
                }
            }
            await using var storage = StudyStorage.Open(storageUrl);
            await storage.DeleteStudyAsync(scratch);
        }
        await using var study = await Study.LoadAsync(name, new StudyOptions { Storage = storageUrl, Sampler = new RandomSampler() });
        Console.WriteLine("ready");
        Console.Out.Flush();
        while (!File.Exists(goFile)) await Task.Delay(1); // a start barrier across processes, not a test synchronisation
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var jitted = JitInfo.GetCompiledMethodCount();
        var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        await study.OptimizeAsync(Objective, Sequential with { Trials = trials });
        var end = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        Console.Error.WriteLine($"    worker: the JIT compiled {JitInfo.GetCompiledMethodCount() - jitted} methods during the run");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{start:F3} {end:F3} {cpu.TotalSeconds:F3}"));
        return 0;
    }

    /// <summary>
    /// CPU seconds spent so far by the PostgreSQL servers on this machine: every live postgres process plus what the
    /// postmasters collected from backends that have exited (Linux /proc; 0 elsewhere).
    /// </summary>
    private static double ServerCpuSeconds()
    {
        if (!Directory.Exists("/proc")) return 0;
        long ticks = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var close = stat.LastIndexOf(')');
                if (!stat.AsSpan(stat.IndexOf('(') + 1, close - stat.IndexOf('(') - 1).StartsWith("postgres", StringComparison.Ordinal)) continue;
                // Fields after the command: state ppid ... utime(14) stime(15) cutime(16) cstime(17), numbered from 1.
                var f = stat[(close + 2)..].Split(' ');
                ticks += long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture)
                    + long.Parse(f[13], CultureInfo.InvariantCulture) + long.Parse(f[14], CultureInfo.InvariantCulture);
            }
            catch (IOException) { } // the process ended while being read
            catch (UnauthorizedAccessException) { }
        }
        return ticks / 100.0; // USER_HZ
    }
}
