using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Tunesmith.Dashboard;
using Tunesmith.Reporting.Plots;
using Tunesmith.Spaces;
using Tunesmith.Trials;
using Tunesmith.Storage;

namespace Tunesmith.Bench;

/// <summary>
/// The dashboard's performance in a real browser (Debian's Chromium via Playwright): time to the first plot of a
/// 100,000-trial study on SQLite and PostgreSQL (cold: the dashboard's first read of the study; warm: a reload), the
/// delay from a worker's write to the trial showing in an open page, and 32 writer processes on one SQLite study while
/// the dashboard watches it (every "database is locked" counted).
/// </summary>
internal static class DashboardBenchmark
{
    private static readonly Dictionary<string, Distribution> Space = new()
    {
        ["x"] = new FloatDistribution(-1, 1),
        ["lr"] = new FloatDistribution(1e-5, 1e-1, Log: true),
        ["layers"] = new IntDistribution(1, 8),
        ["opt"] = new CategoricalDistribution(["adam", "sgd", "rmsprop"]),
    };

    public static async Task<int> RunAsync(int trials, string work, string? postgresUrl, int writers, int writerTrials, int liveSamples)
    {
        Directory.CreateDirectory(work);
        Console.WriteLine($"# dashboard benchmark: {trials} trials, {Environment.ProcessorCount} cores, {DateTime.UtcNow:u}");
        var sqlite = $"sqlite:///{Path.Combine(work, $"dashboard-{trials}.db")}";
        await MeasureStudyAsync("SQLite", sqlite, trials, liveSamples);
        if (postgresUrl is not null) await MeasureStudyAsync("PostgreSQL", postgresUrl, trials, liveSamples);
        if (writers > 0) await ContentionAsync(work, writers, writerTrials);
        return 0;
    }

    private static async Task EnsureStudyAsync(string url, string name, int trials)
    {
        await using var storage = StudyStorage.Open(url);
        var study = await storage.GetStudyAsync(name) ?? await storage.CreateStudyAsync(name, Direction.Minimize);
        var have = (await storage.CountTrialsAsync(study.Id)).Values.Sum();
        if (have >= trials) return;
        await storage.SetStudyAttributesAsync(study.Id, system: true, [new(SystemAttributeKeys.Metric, "loss")]);
        var sw = Stopwatch.StartNew();
        var next = have;
        // Eight writers, as eight workers would write them.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async w =>
        {
            var rng = new Random(w);
            var worker = $"node{w % 4}:{1000 + w}:bench";
            while (Interlocked.Increment(ref next) <= trials)
                await WriteTrialAsync(storage, study.Id, worker, rng);
        }));
        Console.WriteLine($"  wrote {trials - have} trials to {Shown(url)} in {sw.Elapsed.TotalSeconds:F0} s");
    }

    private static string Shown(string url) => Tunesmith.Storage.Sql.PostgresUrl.Redact(url);

    private static async Task<FrozenTrial> WriteTrialAsync(IStudyStorage storage, long studyId, string worker, Random rng)
    {
        var t = await storage.StartTrialAsync(studyId, worker) ?? throw new InvalidOperationException("no trial");
        var x = rng.NextDouble() * 2 - 1;
        var lr = Math.Exp(Math.Log(1e-5) + rng.NextDouble() * Math.Log(1e4));
        var layers = (long)rng.Next(1, 9);
        var opt = new[] { "adam", "sgd", "rmsprop" }[rng.Next(3)];
        var value = (x - 0.3) * (x - 0.3) + 0.02 * Math.Pow(Math.Log10(lr) + 3, 2) + (opt == "sgd" ? 0.1 : 0) + 0.05 * rng.NextDouble();
        var pruned = rng.NextDouble() < 0.3;
        await storage.UpdateTrialAsync(t.Id, worker, new TrialUpdate
        {
            Params = [("x", x, Space["x"]), ("lr", lr, Space["lr"]), ("layers", layers, Space["layers"]), ("opt", opt, Space["opt"])],
            Intermediate = Enumerable.Range(1, pruned ? 2 : 5).Select(s => ((long)s, value + 1.0 / s)).ToList(),
            Metrics = pruned ? [] : [new("loss", value)],
            FinalState = pruned ? TrialState.Pruned : TrialState.Complete,
            Value = pruned ? null : value,
        });
        return t;
    }

    private static async Task<(WebApplication App, string Address)> StartDashboardAsync(string url)
    {
        var app = DashboardHost.Build(new DashboardOptions { StorageUrl = url, Port = 0 });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, address);
    }

    private static async Task<(IPlaywright, IBrowser)> BrowserAsync()
    {
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        return (playwright, browser);
    }

    private static string Load() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";

    /// <summary>Seconds from navigation to the history chart drawn, and the server's part: the history request's time to first byte.</summary>
    private static async Task<(double Total, double Server)> FirstPlotAsync(IPage page, string studyUrl)
    {
        var sw = Stopwatch.StartNew();
        await page.GotoAsync(studyUrl, new PageGotoOptions { WaitUntil = WaitUntilState.Commit });
        await page.WaitForFunctionAsync("() => { const e = document.getElementById('plot-history'); return e && e.dataset.rendered === 'true' && Number(e.dataset.points) > 0; }",
            null, new PageWaitForFunctionOptions { PollingInterval = 10, Timeout = 120_000 });
        var total = sw.Elapsed.TotalSeconds;
        var server = await page.EvaluateAsync<double>("() => { const r = performance.getEntriesByType('resource').find(e => e.name.includes('/plots/history')); return r ? (r.responseStart - r.requestStart) / 1000 : -1; }");
        return (total, server);
    }

    /// <summary>Seconds since the last navigation until every plot of the page is drawn.</summary>
    private static async Task<double> EveryPlotAsync(IPage page)
    {
        await page.WaitForFunctionAsync("() => { const p = [...document.querySelectorAll('#plots .plot')]; return p.length >= 8 && p.every(e => e.dataset.rendered === 'true'); }",
            null, new PageWaitForFunctionOptions { PollingInterval = 20, Timeout = 120_000 });
        return await page.EvaluateAsync<double>("() => performance.now() / 1000");
    }

    private static async Task MeasureStudyAsync(string label, string url, int trials, int liveSamples)
    {
        Console.WriteLine($"\n## {label}");
        await EnsureStudyAsync(url, "big", trials);

        // What the dashboard's first read costs, without a browser.
        var sw = Stopwatch.StartNew();
        IReadOnlyList<FrozenTrial> all;
        await using (var reader = StudyStorage.OpenReadOnly(url))
        {
            var record = (await reader.GetStudyAsync("big"))!;
            all = (await reader.GetTrialsSinceAsync(record.Id, 0)).Trials;
        }
        var load = sw.Elapsed.TotalSeconds;
        sw.Restart();
        var plots = StudyPlotsBuilder.Build(all, Direction.Minimize, "loss", "big", DateTimeOffset.UtcNow);
        var build = sw.Elapsed.TotalSeconds;
        Console.WriteLine($"  read all {all.Count} trials: {load:F2} s; build every plot: {build:F2} s (importance over {plots.Importance.TrialsUsed} trials); load {Load()}");
        // The quick first read the study page's first plot comes from: the trials' own columns, one query.
        sw.Restart();
        IReadOnlyList<FrozenTrial> outlines;
        await using (var reader = StudyStorage.OpenReadOnly(url))
            outlines = await reader.GetTrialOutlinesAsync((await reader.GetStudyAsync("big"))!.Id);
        var outlineRead = sw.Elapsed.TotalSeconds;
        sw.Restart();
        var historyJson = StudyPlotsJson.SerializeHistory("loss", Direction.Minimize, StudyPlotsBuilder.BuildHistory(outlines, Direction.Minimize));
        var historyBuild = sw.Elapsed.TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  read the {outlines.Count} trials' own columns (outlines): {outlineRead:F2} s; history alone built and serialized: {historyBuild:F2} s, {historyJson.Length / 1024.0:F0} KiB; every plot's JSON: {StudyPlotsJson.Serialize(plots).Length / 1024.0:F0} KiB; load {Load()}"));

        var (app, address) = await StartDashboardAsync(url);
        var (playwright, browser) = await BrowserAsync();
        try
        {
            var page = await browser.NewPageAsync();
            var studyUrl = $"{address}/studies/big";
            var coldLoad = Load();
            var cold = await FirstPlotAsync(page, studyUrl);
            var coldAll = await EveryPlotAsync(page);
            var warmLoad = Load();
            var warm = new List<(double Total, double Server)>();
            for (var i = 0; i < 5; i++) warm.Add(await FirstPlotAsync(page, studyUrl));
            var w = warm.OrderBy(x => x.Total).ElementAt(2);
            await page.WaitForFunctionAsync("() => document.querySelectorAll('#trials tbody tr').length > 0");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  study page of {all.Count} trials, first plot drawn: cold {cold.Total:F2} s (server {cold.Server:F2} s; load {coldLoad}; opened as the dashboard started, its start-up read running; every plot drawn at {coldAll:F2} s), " +
                $"warm {w.Total:F2} s (server {w.Server:F3} s; median of 5 reloads; load {warmLoad})"));

            // A trial stored by a worker appears in the open page.
            await page.WaitForFunctionAsync("() => document.getElementById('live').classList.contains('on')");
            var delays = new List<double>();
            await using var writer = StudyStorage.Open(url);
            var study = (await writer.GetStudyAsync("big"))!;
            var rng = new Random(7);
            for (var i = 0; i < liveSamples; i++)
            {
                var t = await WriteTrialAsync(writer, study.Id, "live:1:bench", rng);
                var stored = Stopwatch.StartNew();
                await page.WaitForFunctionAsync($"() => document.querySelector(\"#recent li[data-number='{t.Number}']\")",
                    null, new PageWaitForFunctionOptions { PollingInterval = 5, Timeout = 30_000 });
                delays.Add(stored.Elapsed.TotalMilliseconds);
                await Task.Delay(150 + rng.Next(100)); // writes spread over the poll cycle
            }
            delays.Sort();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  write → shown in the open page ({delays.Count} trials): median {delays[delays.Count / 2]:F0} ms, p95 {delays[(int)Math.Ceiling(delays.Count * 0.95) - 1]:F0} ms, max {delays[^1]:F0} ms; load {Load()}"));
        }
        finally
        {
            await browser.DisposeAsync();
            playwright.Dispose();
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    private static async Task ContentionAsync(string work, int writers, int writerTrials)
    {
        Console.WriteLine($"\n## {writers} writer processes on one SQLite study, dashboard open");
        var path = Path.Combine(work, $"dashboard-contention-{Guid.NewGuid():N}.db");
        var url = $"sqlite:///{path}";
        await using (var storage = StudyStorage.Open(url)) await storage.CreateStudyAsync("contention", Direction.Minimize);
        var (app, address) = await StartDashboardAsync(url);
        var (playwright, browser) = await BrowserAsync();
        try
        {
            var page = await browser.NewPageAsync();
            await page.GotoAsync($"{address}/studies/contention");
            await page.WaitForFunctionAsync("() => document.getElementById('live').classList.contains('on')");
            var studies = await browser.NewPageAsync();
            await studies.GotoAsync($"{address}/");
            var sw = Stopwatch.StartNew();
            var processes = Enumerable.Range(0, writers).Select(i =>
            {
                var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
                psi.ArgumentList.Add(typeof(DashboardBenchmark).Assembly.Location);
                foreach (var a in new[] { "dashboard-writer", url, "contention", writerTrials.ToString(CultureInfo.InvariantCulture), i.ToString(CultureInfo.InvariantCulture) })
                    psi.ArgumentList.Add(a);
                return Process.Start(psi)!;
            }).ToList();
            var outputs = await Task.WhenAll(processes.Select(async p =>
            {
                var o = p.StandardOutput.ReadToEndAsync();
                var e = p.StandardError.ReadToEndAsync();
                await p.WaitForExitAsync();
                return (p.ExitCode, Out: await o, Err: await e);
            }));
            var seconds = sw.Elapsed.TotalSeconds;
            var locked = outputs.Sum(o => CountOf(o.Out + o.Err, "database is locked"));
            var failedWrites = outputs.Sum(o => o.Out.Split('\n').Where(l => l.StartsWith("failures=", StringComparison.Ordinal)).Sum(l => int.Parse(l[9..], CultureInfo.InvariantCulture)));
            var badExits = outputs.Count(o => o.ExitCode != 0);
            await page.WaitForFunctionAsync($"n => Number(document.querySelector('#card-total .v').textContent) === n", writers * writerTrials,
                new PageWaitForFunctionOptions { Timeout = 30_000 });
            Console.WriteLine($"  {writers} processes × {writerTrials} trials in {seconds:F1} s ({writers * writerTrials / seconds:F0} trials/s); " +
                $"\"database is locked\": {locked}; failed writes: {failedWrites}; non-zero exits: {badExits}; the open page counted all {writers * writerTrials}");
        }
        finally
        {
            await browser.DisposeAsync();
            playwright.Dispose();
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    private static int CountOf(string text, string what)
    {
        var n = 0;
        for (var i = text.IndexOf(what, StringComparison.OrdinalIgnoreCase); i >= 0; i = text.IndexOf(what, i + 1, StringComparison.OrdinalIgnoreCase)) n++;
        return n;
    }

    /// <summary>One writer process: <paramref name="trials"/> trials written as a worker writes them; prints failures=N.</summary>
    public static async Task<int> WriterAsync(string url, string name, int trials, int index)
    {
        await using var storage = StudyStorage.Open(url);
        var study = (await storage.GetStudyAsync(name))!;
        var rng = new Random(index);
        var failures = 0;
        for (var i = 0; i < trials; i++)
        {
            try { await WriteTrialAsync(storage, study.Id, $"writer{index}:{Environment.ProcessId}:bench", rng); }
            catch (Exception e) when (e is StudyStorageException or InvalidOperationException)
            {
                failures++;
                Console.Error.WriteLine(e.Message);
            }
        }
        Console.WriteLine($"failures={failures}");
        return failures == 0 ? 0 : 1;
    }
}
