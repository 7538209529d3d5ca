using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Xunit;

namespace Tunesmith.Dashboard.Tests;

/// <summary>
/// End to end in a real browser: a real study runs (`tunesmith run`, a Python training script reporting per epoch), the
/// dashboard serves it (`tunesmith dashboard --token`), and Chromium opens the pages; then the HTML report is opened
/// with the network cut off.
/// </summary>
public sealed class DashboardBrowserTests : IDisposable
{
    private const string Token = "browser-test-token-7f3a";
    private readonly string _dir = Directory.CreateTempSubdirectory("tunesmith-browser-").FullName;
    // Which step of the browser walk is under way, named in a failure (a 30 s timeout does not say which wait it was).
    private string _stage = "start";
    private readonly List<Process> _processes = [];

    public void Dispose()
    {
        foreach (var p in _processes)
        {
            try { if (!p.HasExited) p.Kill(entireProcessTree: true); p.WaitForExit(10_000); } catch (InvalidOperationException) { }
            p.Dispose();
        }
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static readonly string TrainScript = """
        import json, math, os, sys, time
        p = json.loads(os.environ["TUNESMITH_PARAMS"])
        value = (p["x"] - 0.3) ** 2 + 0.05 * math.log10(p["lr"]) ** 2 + (0.2 if p["opt"] == "sgd" else 0.0)
        for step in range(1, 5):
            print("tunesmith:report " + json.dumps({"step": step, "loss": value + 1.0 / step, "accuracy": 1 - value - 0.5 / step}), flush=True)
            print(f"epoch {step} loss {value + 1.0 / step:.4f}", flush=True)
            time.sleep(float(os.environ.get("EPOCH_SECONDS", "0.15")))
        print("training done", file=sys.stderr)
        print("tunesmith:result " + json.dumps({"loss": value, "accuracy": 1 - value}))
        """;

    private string StudyFile(int trials) => $"""
        name: browser-demo
        direction: minimize
        metric: loss
        command: /usr/bin/python3 train.py
        space:
          x: {"{"} float: [-1.0, 1.0] {"}"}
          lr: {"{"} float: [1.0e-4, 1.0e-1], log: true {"}"}
          opt: {"{"} choice: [adam, sgd] {"}"}
        sampler: random
        scheduler: {"{"} asha: {"{"} min: 1, max: 4, reduction: 2 {"}"} {"}"}
        trials: {trials}
        parallel: 2
        storage: sqlite:///{Path.Combine(_dir, "studies.db")}
        """;

    private Process Start(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = _dir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Tunesmith.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment.Remove("TUNESMITH_STORAGE");
        psi.Environment.Remove("TUNESMITH_DASHBOARD_TOKEN");
        var p = Process.Start(psi)!;
        _processes.Add(p);
        return p;
    }

    private async Task<string> StartDashboardAsync()
    {
        var p = Start("dashboard", "--storage", $"sqlite:///{Path.Combine(_dir, "studies.db")}", "--port", "0", "--token", Token);
        _ = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await p.StandardOutput.ReadLineAsync(cts.Token) is { } line)
        {
            var m = Regex.Match(line, @"^dashboard: (http://\S+?)/(\?token=.*)?$");
            if (m.Success) { _ = p.StandardOutput.ReadToEndAsync(); return m.Groups[1].Value; }
        }
        throw new InvalidOperationException("the dashboard printed no address");
    }

    private static readonly string[] EveryPlot = ["plot-history", "plot-intermediate", "plot-importance", "plot-parallel", "plot-slice-0", "plot-contour-0", "plot-edf", "plot-timeline"];

    private static async Task AssertEveryPlotRendersWithDataAsync(IPage page, string scope)
    {
        // Every chart element is drawn with data (ECharts leaves a canvas and plots.js counts the drawn items), every kind
        // among them. A live page may first show plots built a moment earlier (they are rebuilt at most once a second) from
        // too few complete trials for a contour (3): it waits for the pushed update rather than judge that snapshot.
        try
        {
            await page.WaitForFunctionAsync(
                "([s, ids]) => { const p = [...document.querySelectorAll(s + ' .plot')]; return p.length >= 8 && ids.every(id => p.some(e => e.id === id)) && p.every(e => e.dataset.rendered === 'true' && Number(e.dataset.points) > 0 && e.querySelector('canvas')); }",
                new object[] { scope, EveryPlot }, new PageWaitForFunctionOptions { Timeout = 30_000 });
        }
        catch (TimeoutException) { } // the assertions below say what is missing
        var ids = await page.EvalOnSelectorAllAsync<string[]>(scope + " .plot", "els => els.map(e => e.id)");
        foreach (var expected in EveryPlot) Assert.Contains(expected, ids);
        Assert.True(await page.EvalOnSelectorAllAsync<bool>(scope + " .plot", "p => p.every(e => e.dataset.rendered === 'true' && Number(e.dataset.points) > 0 && e.querySelector('canvas'))"),
            "a plot is not drawn with data");
    }

    private static async Task<string[]> LanesAsync(IPage page) =>
        await page.EvaluateAsync<string[]>("() => echarts.getInstanceByDom(document.getElementById('plot-timeline')).getOption().yAxis[0].data");

    /// <summary>
    /// A study as a Slurm run records it: trials on nodes n1..n4 in jobs 40_1, 40_2, 41_1, 42_1 of compute classes gpu
    /// and cpu. Trials 0-2 run at once (two on gpu, one on cpu); then trial 3 on job 40_1 (gpu) and trial 4 on job 42_1 (cpu).
    /// </summary>
    private static async Task WriteSlurmStudyAsync(string db)
    {
        await using var storage = Tunesmith.Storage.StudyStorage.Open($"sqlite:///{db}");
        var study = await storage.CreateStudyAsync("slurm-demo", Tunesmith.Trials.Direction.Minimize);
        var jobs = new[] { ("n1", "40_1", "gpu"), ("n2", "40_2", "gpu"), ("n3", "41_1", "cpu"), ("n1", "40_1", "gpu"), ("n4", "42_1", "cpu") };
        async Task<Tunesmith.Trials.FrozenTrial> StartAsync(int i) =>
            (await storage.StartTrialAsync(study.Id, $"{jobs[i].Item1}:{100 + i % 3}:w"))!;
        async Task FinishAsync(Tunesmith.Trials.FrozenTrial t, int i)
        {
            var (node, job, computeClass) = jobs[i];
            var outcome = await storage.UpdateTrialAsync(t.Id, t.Worker!, new Tunesmith.Storage.TrialUpdate
            {
                Params = [("x", 0.1 * i, new Tunesmith.Spaces.FloatDistribution(0, 1))],
                SystemAttributes = [new("slurm_job_id", job), new("compute_class", computeClass), new("node", node)],
                FinalState = Tunesmith.Trials.TrialState.Complete,
                Value = 1.0 - 0.1 * i,
            });
            Assert.Equal(Tunesmith.Storage.TrialWriteOutcome.Applied, outcome);
        }
        var running = new List<Tunesmith.Trials.FrozenTrial>();
        for (var i = 0; i < 3; i++) running.Add(await StartAsync(i));
        for (var i = 0; i < 3; i++) await FinishAsync(running[i], i);
        for (var i = 3; i < 5; i++) await FinishAsync(await StartAsync(i), i);
    }

    [SkippableFact]
    public async Task A_failure_reason_shows_in_the_table_a_single_report_sits_inside_its_axis_and_no_page_requests_a_missing_file()
    {
        Browser.Require();
        var db = Path.Combine(_dir, "studies.db");
        await using (var storage = Tunesmith.Storage.StudyStorage.Open($"sqlite:///{db}"))
        {
            var study = await storage.CreateStudyAsync("small-things", Tunesmith.Trials.Direction.Minimize);
            var x = new Tunesmith.Spaces.FloatDistribution(0, 1);
            async Task AddAsync(double value, Tunesmith.Trials.TrialState state, string? reason, params (long, double)[] reports)
            {
                var t = (await storage.StartTrialAsync(study.Id, "host:1:w"))!;
                await storage.UpdateTrialAsync(t.Id, t.Worker!, new Tunesmith.Storage.TrialUpdate
                {
                    Params = [("x", value, x)], Intermediate = reports,
                    SystemAttributes = reason is null ? [] : [new(Tunesmith.Trials.SystemAttributeKeys.FailReason, reason)],
                    FinalState = state, Value = state == Tunesmith.Trials.TrialState.Complete ? value : null,
                });
            }
            await AddAsync(0.2, Tunesmith.Trials.TrialState.Complete, null, (1, 0.5), (2, 0.2));
            await AddAsync(0.7, Tunesmith.Trials.TrialState.Pruned, null, (1, 0.9));
            await AddAsync(0.4, Tunesmith.Trials.TrialState.Failed, "exit code 137: out of memory (killed by the kernel)");
        }
        var baseUrl = await StartDashboardAsync();
        var (playwright, browser) = await Browser.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await browser.NewPageAsync();
        var missing = new List<string>();
        page.Response += (_, r) => { if (r.Status >= 400) lock (missing) missing.Add($"{r.Status} {r.Url}"); };
        page.Console += (_, m) => { if (m.Type == "error") lock (missing) missing.Add($"console: {m.Text} {m.Location}"); };

        _stage = "study page: the fail reason column";
        await page.GotoAsync($"{baseUrl}/?token={Token}");
        await page.GotoAsync($"{baseUrl}/studies/small-things");
        await page.Locator("#trials tbody tr[data-number='2']").WaitForAsync();
        Assert.Contains("fail reason", await page.Locator("#trials thead").TextContentAsync(), StringComparison.Ordinal);
        var reason = page.Locator("#trials tbody tr[data-number='2'] td.reason");
        Assert.Equal("exit code 137: out of memory (killed by the kernel)", await reason.TextContentAsync());
        Assert.Equal("exit code 137: out of memory (killed by the kernel)", await reason.GetAttributeAsync("title"));

        _stage = "trial page: one report";
        await page.GotoAsync($"{baseUrl}/studies/small-things/trials/1");
        await page.WaitForFunctionAsync("() => Number(document.getElementById('plot-trial-curve').dataset.points) === 1");
        var extent = await page.EvaluateAsync<double[]>("() => echarts.getInstanceByDom(document.getElementById('plot-trial-curve')).getModel().getComponent('xAxis').axis.scale.getExtent()");
        Assert.True(extent[0] < 1 && 1 < extent[1], $"the x axis runs {extent[0]}..{extent[1]}: the step-1 point sits on its edge");

        await page.WaitForLoadStateAsync(LoadState.NetworkIdle);
        lock (missing) Assert.Empty(missing);
    }

    [SkippableFact]
    public async Task A_running_study_in_the_dashboard_then_its_html_report_offline()
    {
        Browser.Require();
        await File.WriteAllTextAsync(Path.Combine(_dir, "train.py"), TrainScript);
        await File.WriteAllTextAsync(Path.Combine(_dir, "study.yaml"), StudyFile(trials: 400));
        var run = Start("run", "study.yaml", "--quiet");
        var runOutput = run.StandardOutput.ReadToEndAsync();
        var runErrors = run.StandardError.ReadToEndAsync();
        var (playwright, browser) = await Browser.LaunchAsync();
        using var playwrightScope = playwright;
        await using var browserScope = browser;
        // The dashboard needs the study file's database: wait for the study to exist (the run creates it).
        var db = Path.Combine(_dir, "studies.db");
        var sw = Stopwatch.StartNew();
        while (!File.Exists(db) && sw.Elapsed < TimeSpan.FromSeconds(60))
        {
            Assert.False(run.HasExited, $"the study stopped early: {await runErrors}");
            await Task.Delay(100);
        }
        var baseUrl = await StartDashboardAsync();
        var context = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });
        var page = await context.NewPageAsync();
        // What the page said and what it asked for, to explain a failure (a script error, a request that never ended).
        var diagnostics = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var pending = new System.Collections.Concurrent.ConcurrentDictionary<IRequest, DateTime>();
        page.Console += (_, m) => { if (m.Type is "error" or "warning") diagnostics.Enqueue($"console {m.Type}: {m.Text}"); };
        page.PageError += (_, e) => diagnostics.Enqueue($"page error: {e}");
        page.Request += (_, r) => pending[r] = DateTime.UtcNow;
        page.RequestFinished += (_, r) => pending.TryRemove(r, out DateTime _);
        page.RequestFailed += (_, r) => { pending.TryRemove(r, out DateTime _); if (!r.Url.Contains("/api/events", StringComparison.Ordinal)) diagnostics.Enqueue($"request failed: {r.Url} {r.Failure}"); };
        try
        {
            await StudyPagesAsync(page, baseUrl, run, runErrors, db, browser);
        }
        catch (Exception e) when (e is TimeoutException or Xunit.Sdk.XunitException)
        {
            var open = pending.Where(p => !p.Key.Url.Contains("/api/events", StringComparison.Ordinal)).Select(p => $"unfinished request since {p.Value:HH:mm:ss.fff}: {p.Key.Method} {p.Key.Url}");
            throw new Xunit.Sdk.XunitException($"{e.Message}\nat step: {_stage}\n{string.Join("\n", diagnostics.Concat(open))}");
        }
        Assert.DoesNotContain(diagnostics, d => d.StartsWith("page error", StringComparison.Ordinal));
    }

    private async Task StudyPagesAsync(IPage page, string baseUrl, Process run, Task<string> runErrors, string db, IBrowser browser)
    {

        // A missing or wrong token is refused: pages, API and events.
        Assert.Equal(401, (await page.GotoAsync(baseUrl + "/"))!.Status);
        Assert.Equal(401, (await page.GotoAsync(baseUrl + "/?token=wrong-token-000"))!.Status);
        Assert.Equal(401, (await page.GotoAsync(baseUrl + "/api/studies"))!.Status);
        Assert.Equal(401, (await page.GotoAsync(baseUrl + "/api/events"))!.Status);

        _stage = "studies list: four complete trials";
        // Studies list.
        await page.GotoAsync($"{baseUrl}/?token={Token}");
        var row = page.Locator("tr[data-study='browser-demo']");
        await row.WaitForAsync();
        // Wait until a few trials are complete, so every plot has data.
        await page.WaitForFunctionAsync("() => { const r = document.querySelector(\"tr[data-study='browser-demo']\"); return r && Number(r.children[4].textContent) >= 4; }",
            null, new PageWaitForFunctionOptions { Timeout = 60_000, PollingInterval = 200 });
        if (Browser.ScreenshotPath("studies.png") is { } s1) await page.ScreenshotAsync(new PageScreenshotOptions { Path = s1 });

        _stage = "study page: rows and plots";
        // Study page: table rows and every plot.
        await row.Locator("a").ClickAsync();
        await page.WaitForURLAsync("**/studies/browser-demo");
        await page.Locator("#trials tbody tr").First.WaitForAsync();
        Assert.True(await page.Locator("#trials tbody tr").CountAsync() >= 4);
        await AssertEveryPlotRendersWithDataAsync(page, "#plots");

        _stage = "study page: ASHA rung marks";
        // Learning curves show the study's real ASHA rungs (from its stored study file) with each trial's records there.
        await page.WaitForFunctionAsync("() => { const e = document.getElementById('plot-intermediate'); return (e.dataset.rungSource || '').startsWith('asha(min=1, max=4') && Number(e.dataset.rungMarks) > 0; }",
            null, new PageWaitForFunctionOptions { Timeout = 30_000 });

        _stage = "study page: curves of another reported metric";
        // The learning curves show the study metric by default; the picker draws the reported accuracy instead, and back.
        var curves = "document.getElementById('plot-intermediate')";
        Assert.Equal("loss", await page.EvaluateAsync<string>($"() => {curves}.dataset.metric"));
        await page.SelectOptionAsync("#plot-intermediate-metric", "accuracy");
        await page.WaitForFunctionAsync($"() => {curves}.dataset.metric === 'accuracy' && Number({curves}.dataset.points) >= 16");
        Assert.Equal("accuracy", await page.EvaluateAsync<string>($"() => echarts.getInstanceByDom({curves}).getOption().yAxis[0].name"));
        await page.SelectOptionAsync("#plot-intermediate-metric", "");
        await page.WaitForFunctionAsync($"() => {curves}.dataset.metric === 'loss' && Number({curves}.dataset.rungMarks) > 0");

        _stage = "study page: a new trial appears live";
        // A new trial appears while the study runs: sort by number (newest first) and wait for a higher number.
        await page.Locator("#trials th[data-sort='number']").ClickAsync();
        await page.WaitForFunctionAsync("() => document.querySelector('#trials th.sorted-desc[data-sort=number]')");
        var newest = int.Parse(await page.Locator("#trials tbody tr").First.GetAttributeAsync("data-number") ?? "-1", System.Globalization.CultureInfo.InvariantCulture);
        await page.WaitForFunctionAsync("n => Number(document.querySelector('#trials tbody tr').dataset.number) > n", newest,
            new PageWaitForFunctionOptions { Timeout = 30_000, PollingInterval = 100 });
        await page.Locator($"#recent li").First.WaitForAsync();
        Assert.False(run.HasExited, "the study finished before the new trial was seen: the live check proves nothing");
        if (Browser.ScreenshotPath("study.png") is { } s2)
        {
            await page.Locator("#trials th[data-sort='value']").ClickAsync();
            await page.WaitForFunctionAsync("() => document.querySelector('#trials th.sorted-asc[data-sort=value]')");
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = s2, FullPage = true });
        }

        _stage = "trial page";
        // Trial page: params, metrics and the log tail of a finished trial.
        // The table re-renders as live trials arrive, so the row is found again by its number before the click
        // (".First" could point at another trial by the time it is clicked).
        var number = await page.Locator("#trials tbody tr[data-state='Complete']").First.GetAttributeAsync("data-number");
        await page.Locator($"#trials tbody tr[data-number='{number}'] a").First.ClickAsync();
        await page.WaitForURLAsync($"**/studies/browser-demo/trials/{number}");
        await page.WaitForFunctionAsync("() => document.getElementById('stdout').textContent.includes('epoch 4')", null, new PageWaitForFunctionOptions { Timeout = 15_000 });
        Assert.Contains("training done", await page.Locator("#stderr").TextContentAsync(), StringComparison.Ordinal);
        Assert.Contains("opt", await page.Locator("#params").TextContentAsync(), StringComparison.Ordinal);
        Assert.Contains("accuracy", await page.Locator("#metrics").TextContentAsync(), StringComparison.Ordinal);
        await page.WaitForFunctionAsync("() => Number(document.getElementById('plot-trial-curve').dataset.points) === 4");
        // Its curve of another reported metric, picked above the curve.
        await page.SelectOptionAsync("#trial-curve-metric", "accuracy");
        await page.WaitForFunctionAsync("() => { const e = document.getElementById('plot-trial-curve'); return e.dataset.metric === 'accuracy' && Number(e.dataset.points) === 4; }");
        Assert.Equal("accuracy", await page.EvaluateAsync<string>("() => echarts.getInstanceByDom(document.getElementById('plot-trial-curve')).getOption().yAxis[0].name"));
        if (Browser.ScreenshotPath("trial.png") is { } s3) await page.ScreenshotAsync(new PageScreenshotOptions { Path = s3, FullPage = true });

        _stage = "timeline lanes";
        // The timeline groups lanes per worker, per Slurm job or per compute class (a study whose trials carry the
        // attributes a Slurm run records, written through the storage API).
        await WriteSlurmStudyAsync(db);
        await page.GotoAsync($"{baseUrl}/studies/slurm-demo");
        var timeline = "document.getElementById('plot-timeline')";
        await page.WaitForFunctionAsync($"() => {timeline} && {timeline}.dataset.group === 'worker' && Number({timeline}.dataset.lanes) === 4", null, new PageWaitForFunctionOptions { Timeout = 30_000 });
        await page.SelectOptionAsync("#plot-timeline-group", "job");
        await page.WaitForFunctionAsync($"() => {timeline}.dataset.group === 'job' && Number({timeline}.dataset.lanes) === 4");
        Assert.Equal(["40_1 #1", "40_2 #1", "41_1 #1", "42_1 #1"], await LanesAsync(page));
        await page.SelectOptionAsync("#plot-timeline-group", "computeClass");
        await page.WaitForFunctionAsync($"() => {timeline}.dataset.group === 'computeClass' && Number({timeline}.dataset.lanes) === 3");
        // Two gpu trials ran at once (two lanes); the cpu trials ran one after the other (one lane): idle capacity shows.
        Assert.Equal(["cpu #1", "gpu #1", "gpu #2"], await LanesAsync(page));
        if (Browser.ScreenshotPath("timeline.png") is { } s5) await page.Locator("#plot-timeline").ScreenshotAsync(new LocatorScreenshotOptions { Path = s5 });

        _stage = "offline HTML report";
        // The HTML report, opened with the network off: every plot still renders.
        run.Kill(entireProcessTree: true);
        await run.WaitForExitAsync();
        var report = Path.Combine(_dir, "report.html");
        var reporter = Start("report", "--study", "browser-demo", "--storage", $"sqlite:///{db}", "--format", "html", "--output", report);
        await reporter.WaitForExitAsync();
        Assert.True(reporter.ExitCode == 0, await reporter.StandardError.ReadToEndAsync());
        var offline = await browser.NewContextAsync(new BrowserNewContextOptions { Offline = true, ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });
        var requests = new List<string>();
        await offline.RouteAsync("**/*", async route =>
        {
            if (route.Request.Url.StartsWith("file:", StringComparison.Ordinal)) await route.ContinueAsync();
            else { requests.Add(route.Request.Url); await route.AbortAsync(); }
        });
        var reportPage = await offline.NewPageAsync();
        await reportPage.GotoAsync(new Uri(report).AbsoluteUri);
        await AssertEveryPlotRendersWithDataAsync(reportPage, "#plots");
        Assert.True(await reportPage.Locator("#trials tbody tr").CountAsync() > 0);
        Assert.Empty(requests);
        if (Browser.ScreenshotPath("report.png") is { } s4) await reportPage.ScreenshotAsync(new PageScreenshotOptions { Path = s4, FullPage = true });
    }
}
