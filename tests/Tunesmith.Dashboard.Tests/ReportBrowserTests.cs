using System.Diagnostics;
using Microsoft.Playwright;
using Tunesmith.Reporting;
using Tunesmith.Storage;
using Xunit;

namespace Tunesmith.Dashboard.Tests;

/// <summary>
/// What an HTML report shows in Chromium (plots read back from ECharts): a report (`tunesmith report --format html`, the
/// same plots.js as the dashboard) opened with the network cut off.
/// </summary>
public sealed class ReportBrowserTests : IDisposable
{
    // A worker id as `tunesmith run` makes them (host:pid:…): longer than the timeline's label column.
    private const string Worker = "build-node-17.example.org:48213:1d2414b2:33c81408";
    private readonly string _dir = Directory.CreateTempSubdirectory("tunesmith-labels-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>Pairs of trials that ran at once on one worker (two timeline lanes), with the fixture's x, lr and opt.</summary>
    private async Task WriteStudyAsync(string db)
    {
        // On the wall clock a pair could start and end within one millisecond, the timeline's unit, and share a lane.
        await using var storage = StudyStorage.Open($"sqlite:///{db}", new SecondPerCallClock(), loggerFactory: null);
        var study = await StudyFixtures.WriteAsync(storage, "labels", 0);
        var opts = new[] { "adam", "sgd" };
        for (var i = 0; i < 24; i += 2)
        {
            var pair = new[] { (await storage.StartTrialAsync(study.Id, Worker))!, (await storage.StartTrialAsync(study.Id, Worker))! };
            for (var j = 0; j < 2; j++)
            {
                var k = i + j;
                var x = -1 + 2.0 * ((k * 37) % 101) / 100;
                var lr = Math.Pow(10, -4 + 3.0 * ((k * 53) % 97) / 96);
                var value = (x - 0.3) * (x - 0.3) + (k % 2 == 1 ? 0.1 : 0);
                var outcome = await storage.UpdateTrialAsync(pair[j].Id, Worker, new TrialUpdate
                {
                    Params = [("x", x, StudyFixtures.Space["x"]), ("lr", lr, StudyFixtures.Space["lr"]), ("opt", opts[k % 2], StudyFixtures.Space["opt"])],
                    FinalState = TrialState.Complete,
                    Value = value,
                });
                Assert.Equal(TrialWriteOutcome.Applied, outcome);
            }
        }
    }

    /// <summary>A clock that moves one second on at every reading, so each stored time is after the one before.</summary>
    private sealed class SecondPerCallClock : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 12, 7, 9, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now = _now.AddSeconds(1);
    }

    private async Task<(IPlaywright Playwright, IBrowser Browser, IPage Page)> OpenReportAsync(string db, string study)
    {
        var report = Path.Combine(_dir, study + ".html");
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = _dir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "Tunesmith.Cli.dll"), "report", "--study", study, "--storage", $"sqlite:///{db}", "--format", "html", "--output", report })
            psi.ArgumentList.Add(a);
        using (var p = Process.Start(psi)!)
        {
            var stderr = p.StandardError.ReadToEndAsync();
            await p.StandardOutput.ReadToEndAsync();
            await p.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
            Assert.True(p.ExitCode == 0, await stderr);
        }
        var (playwright, browser) = await Browser.LaunchAsync();
        var context = await browser.NewContextAsync(new BrowserNewContextOptions { Offline = true, ViewportSize = new ViewportSize { Width = 1400, Height = 900 } });
        var page = await context.NewPageAsync();
        await page.GotoAsync(new Uri(report).AbsoluteUri);
        await page.WaitForFunctionAsync("() => { const p = [...document.querySelectorAll('#plots .plot')]; return p.some(e => e.id === 'plot-timeline') && p.every(e => e.dataset.rendered === 'true'); }",
            null, new PageWaitForFunctionOptions { Timeout = 30_000 });
        return (playwright, browser, page);
    }

    [SkippableFact]
    public async Task Contour_labels_are_round_values_where_they_fall_on_the_cells_and_timeline_lanes_of_one_worker_stay_apart()
    {
        Browser.Require();
        var db = Path.Combine(_dir, "s.db");
        await WriteStudyAsync(db);
        var (playwright, browser, page) = await OpenReportAsync(db, "labels");
        using var playwrightScope = playwright;
        await using var browserScope = browser;

        // Every contour axis: a category's name sits on its band's centre (index i); a numeric axis is labelled with round
        // values (not its grid's cells, -0.931 or 1.27e-4) where they fall on the cells: 1e-3 a third of the way along lr.
        var labels = await page.EvaluateAsync<string[]>("""
            () => {
              const data = JSON.parse(document.getElementById('plot-data').textContent), out = [];
              data.contours.forEach((c, i) => {
                const chart = echarts.getInstanceByDom(document.getElementById('plot-contour-' + i));
                [['xAxis', c.xAxis], ['yAxis', c.yAxis]].forEach(([key, axis]) => {
                  const labels = chart.getModel().getComponent(key, 0).axis.getViewLabels();
                  out.push(axis.name + ': ' + labels.map(l => l.formattedLabel + '@' + Number(l.tick.value.toFixed(3))).join(' '));
                });
              });
              return [...new Set(out)];
            }
            """);
        Assert.Contains("opt: adam@0 sgd@1", labels);
        Assert.Contains("x: -1@0 -0.5@7.25 0@14.5 0.5@21.75 1@29", labels);
        Assert.Contains("lr: 1e-4@0 1e-3@9.667 1e-2@19.333 0.1@29", labels);

        // Two trials at once on one worker are two lanes; their labels must differ (the slot is at the end of the name)
        // and fit the label column (160 px: ECharts would cut a longer one at its end, the slot with it).
        var lanes = await page.EvaluateAsync<string[]>(
            "() => echarts.getInstanceByDom(document.getElementById('plot-timeline')).getModel().getComponent('yAxis', 0).axis.getViewLabels().map(l => l.formattedLabel)");
        Assert.Equal(2, lanes.Length);
        Assert.Equal(2, lanes.Distinct().Count());
        Assert.All(lanes, l => Assert.True(l.StartsWith("build-node", StringComparison.Ordinal) && l.Length <= 22, l));
    }

    /// <summary>Trials 0 and 2 Complete (0 paused once at step 1 and promoted since), trial 1 Paused at step 1.</summary>
    private async Task<string> WritePromotedStudyAsync()
    {
        var db = Path.Combine(_dir, "s.db");
        await using (var storage = StudyStorage.Open($"sqlite:///{db}"))
        {
            var study = await StudyFixtures.WriteAsync(storage, "promoted", 0);
            foreach (var (state, steps) in new[] { (TrialState.Complete, 4), (TrialState.Paused, 1), (TrialState.Complete, 4) })
            {
                var t = (await storage.StartTrialAsync(study.Id, Worker))!;
                Assert.Equal(TrialWriteOutcome.Applied, await storage.UpdateTrialAsync(t.Id, Worker, new TrialUpdate
                {
                    Params = [("x", 0.1 * t.Number, StudyFixtures.Space["x"])],
                    Intermediate = Enumerable.Range(1, steps).Select(s => ((long)s, 1.0 / s + t.Number)).ToList(),
                    // The first trial was paused at step 1 and promoted later: its paused_step stays on it.
                    SystemAttributes = t.Number < 2 ? [new(SystemAttributeKeys.PausedStep, 1L)] : [],
                    FinalState = state,
                    Value = state == TrialState.Complete ? 0.25 + t.Number : null,
                }));
            }
        }
        return db;
    }

    [SkippableFact]
    public async Task The_learning_curves_show_another_reported_metric_picked_from_a_list_and_the_study_metric_by_default()
    {
        Browser.Require();
        var db = Path.Combine(_dir, "s.db");
        await using (var storage = StudyStorage.Open($"sqlite:///{db}"))
        {
            var study = await StudyFixtures.WriteAsync(storage, "curves", 0);
            for (var n = 0; n < 3; n++)
            {
                var t = (await storage.StartTrialAsync(study.Id, Worker))!;
                Assert.Equal(TrialWriteOutcome.Applied, await storage.UpdateTrialAsync(t.Id, Worker, new TrialUpdate
                {
                    Params = [("x", 0.1 * n, StudyFixtures.Space["x"])],
                    Intermediate = Enumerable.Range(1, 4).Select(s => ((long)s, 0.5 + 0.1 * s)).ToList(),
                    IntermediateMetrics = Enumerable.Range(1, 4).Select(s => ((long)s, "train_loss", 10.0 * s + n)).ToList(),
                    FinalState = TrialState.Complete,
                    Value = 0.9,
                }));
            }
        }
        var (playwright, browser, page) = await OpenReportAsync(db, "curves");
        using var playwrightScope = playwright;
        await using var browserScope = browser;
        var plot = "document.getElementById('plot-intermediate')";
        var studyMetric = await page.EvaluateAsync<string>("() => JSON.parse(document.getElementById('plot-data').textContent).metric");
        Assert.Equal(studyMetric, await page.EvaluateAsync<string>($"() => {plot}.dataset.metric"));
        Assert.Equal([studyMetric + " (study metric)", "train_loss"],
            await page.EvaluateAsync<string[]>("() => [...document.querySelectorAll('#plot-intermediate-metric option')].map(o => o.textContent)"));

        await page.SelectOptionAsync("#plot-intermediate-metric", "train_loss");
        await page.WaitForFunctionAsync($"() => {plot}.dataset.metric === 'train_loss'");
        var drawn = await page.EvaluateAsync<string[]>($$"""
            () => {
              const o = echarts.getInstanceByDom({{plot}}).getOption();
              return [o.yAxis[0].name].concat(o.series.map(s => s.data.map(d => d[1]).join(',')));
            }
            """);
        Assert.Equal(["train_loss", "10,20,30,40", "11,21,31,41", "12,22,32,42"], drawn);

        await page.SelectOptionAsync("#plot-intermediate-metric", "");
        await page.WaitForFunctionAsync($"() => {plot}.dataset.metric === '{studyMetric}'");
        Assert.Equal(studyMetric, await page.EvaluateAsync<string>($"() => echarts.getInstanceByDom({plot}).getOption().yAxis[0].name"));
    }

    [SkippableFact]
    public async Task The_timeline_has_a_legend_of_the_states_its_bars_are_in_in_their_colours()
    {
        Browser.Require();
        var db = await WritePromotedStudyAsync();
        var (playwright, browser, page) = await OpenReportAsync(db, "promoted");
        using var playwrightScope = playwright;
        await using var browserScope = browser;
        var legend = await page.EvaluateAsync<string[]>("""
            () => {
              const option = echarts.getInstanceByDom(document.getElementById('plot-timeline')).getOption();
              return option.series.map(s => s.name + ' ' + s.itemStyle.color + ' ' + s.data.map(d => d.value[3]).join(','))
                .concat(['legend ' + option.legend[0].data.join(',')]);
            }
            """);
        Assert.Equal(["Complete #2f6fb3 0,2", "Paused #8e44ad 1", "legend Complete,Paused"], legend);
    }

    [SkippableFact]
    public async Task A_trial_paused_once_and_completed_since_is_drawn_as_complete_on_the_learning_curves()
    {
        Browser.Require();
        var db = await WritePromotedStudyAsync();
        var (playwright, browser, page) = await OpenReportAsync(db, "promoted");
        using var playwrightScope = playwright;
        await using var browserScope = browser;
        var drawnAs = await page.EvaluateAsync<string[]>("""
            () => {
              const curves = JSON.parse(document.getElementById('plot-data').textContent).intermediate.curves;
              const series = echarts.getInstanceByDom(document.getElementById('plot-intermediate')).getOption().series;
              return curves.map((c, i) => c.number + ' ' + c.state + ': ' + series[i].name + ' ' + series[i].lineStyle.type);
            }
            """);
        Assert.Equal(["0 Complete: Complete solid", "1 Paused: Paused dotted", "2 Complete: Complete solid"], drawnAs);
    }

    [SkippableFact]
    public async Task A_wide_trials_table_scrolls_in_its_own_box_and_the_page_keeps_its_width()
    {
        Browser.Require();
        var db = Path.Combine(_dir, "s.db");
        await using (var storage = StudyStorage.Open($"sqlite:///{db}"))
        {
            var study = await StudyFixtures.WriteAsync(storage, "wide", 12);
            // A failed trial's reason holds the tail of its stderr: one long cell.
            var t = (await storage.StartTrialAsync(study.Id, Worker))!;
            await storage.UpdateTrialAsync(t.Id, Worker, new TrialUpdate
            {
                SystemAttributes = [new(SystemAttributeKeys.FailReason, "exit code 3 --- last lines of stderr.log --- " + string.Concat(Enumerable.Repeat("Traceback (most recent call last) ", 12)))],
                FinalState = TrialState.Failed,
            });
        }
        var (playwright, browser, page) = await OpenReportAsync(db, "wide");
        using var playwrightScope = playwright;
        await using var browserScope = browser;
        var widths = await page.EvaluateAsync<int[]>(
            "() => [document.documentElement.scrollWidth, window.innerWidth, document.getElementById('trials').scrollWidth]");
        var (pageWidth, viewport, tableWidth) = (widths[0], widths[1], widths[2]);
        Assert.True(tableWidth > viewport, $"the table ({tableWidth} px) is not wider than the window ({viewport} px): the check proves nothing");
        Assert.True(pageWidth <= viewport, $"the page is {pageWidth} px wide in a {viewport} px window");
    }

    /// <summary>Doubles of every kind: edge cases, every magnitude, random bit patterns and exact ties at the sixth digit.</summary>
    private static List<double> NumbersToSpell()
    {
        var values = new List<double>
        {
            6.5388e-05, 0.0001, 1e-5, 100000.5, 12345.25, 999999.5, 0.1 + 0.2, 1.0 / 3, -2.5e10, 123456, 1234567, double.Epsilon,
            double.MaxValue, -0.0, 0, 0.000123456789, 3, 1e15, 1e16, -1e-300, double.NaN, double.PositiveInfinity, double.NegativeInfinity,
        };
        var random = new Random(20261207);
        for (var i = 0; i < 1500; i++) values.Add((random.NextDouble() * 20 - 10) * Math.Pow(10, random.Next(-320, 309)));
        for (var i = 0; i < 500; i++) values.Add(BitConverter.Int64BitsToDouble(random.NextInt64(long.MinValue, long.MaxValue)));
        for (var i = 0; i < 500; i++) values.Add(random.Next(100_000, 1_000_000) + 0.5);   // 7 digits ending in 5: a tie at 6
        for (var i = 0; i < 500; i++) values.Add((random.Next(10_000, 100_000) + 0.25) * (random.Next(2) == 0 ? 1 : -1)); // 12345.25: a tie too
        return values;
    }

    [SkippableFact]
    public async Task The_report_s_script_spells_numbers_as_every_other_format_does()
    {
        // The HTML report's and the dashboard's script writes a number (a tooltip, an axis label, a dashboard cell) as the
        // table, CSV, JSON and the CLI do (NumberText.Short, Python's %g): 6.5388e-05, not JavaScript's 6.5388e-5.
        var (playwright, browser) = await Browser.LaunchAsync();
        using var playwrightScope = playwright;
        await using var browserScope = browser;
        var page = await browser.NewPageAsync();
        await page.SetContentAsync("<html><body><script>" + Tunesmith.Reporting.Html.ReportAssets.Read("plots.js") + "</script></body></html>");
        var values = NumbersToSpell();
        // Passed as their round-trip text, which JavaScript's Number reads back as exactly the same double.
        var texts = values.Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var spelled = await page.EvaluateAsync<string[][]>("ts => ts.map(t => [TunesmithPlots.short(Number(t)), TunesmithPlots.format(Number(t))])", texts);
        for (var i = 0; i < values.Count; i++)
        {
            var v = values[i];
            var expected = Tunesmith.Spaces.NumberText.Short(v);
            Assert.True(expected == spelled[i][0], $"{texts[i]}: short '{spelled[i][0]}', NumberText.Short '{expected}'");
            var shown = !double.IsFinite(v) ? "" : v == Math.Floor(v) && Math.Abs(v) < 1e15 ? ((long)v).ToString(System.Globalization.CultureInfo.InvariantCulture) : expected;
            Assert.True(shown == spelled[i][1], $"{texts[i]}: format '{spelled[i][1]}', expected '{shown}'");
        }
    }

    [SkippableFact]
    public async Task The_report_s_trials_table_shows_each_number_as_the_text_table_does()
    {
        Browser.Require();
        var values = new[] { 6.5388e-05, 123456.75, 3.0, 0.1 + 0.2, 2.5e7, -1.25e-9 };
        var t0 = new DateTimeOffset(2026, 12, 7, 9, 0, 0, TimeSpan.Zero);
        var trials = values.Select((v, i) => new FrozenTrial
        {
            Id = i + 1, Number = i, State = TrialState.Complete, Value = v, Started = t0, Finished = t0.AddSeconds(i == 2 ? 5 : 1.25 * i),
            Metrics = new Dictionary<string, double> { ["lr"] = v / 7 },
        }).ToList();
        var table = Tunesmith.Reporting.ReportTable.Build(trials, Direction.Minimize, "loss", "numbers");
        var file = Path.Combine(_dir, "numbers.html");
        File.WriteAllText(file, Tunesmith.Reporting.ReportExporters.Get("html").Render(table));
        // The text table's heading and rows (not its rule), cut into cells (no cell of this table holds a space).
        var text = Tunesmith.Reporting.ReportExporters.Get("table").Render(table).TrimEnd('\n').Split('\n')
            .Where(l => !l.All(c => c is '-' or ' ')).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();

        var (playwright, browser) = await Browser.LaunchAsync();
        using var playwrightScope = playwright;
        await using var browserScope = browser;
        var page = await browser.NewPageAsync();
        await page.GotoAsync(new Uri(file).AbsoluteUri);
        var headers = await page.EvaluateAsync<string[]>("() => [...document.querySelectorAll('#trials thead th')].map(th => th.textContent)");
        var rows = await page.EvaluateAsync<string[][]>("() => [...document.querySelectorAll('#trials tbody tr')].map(tr => [...tr.children].map(td => td.textContent))");
        Assert.Equal(text[0], headers);
        Assert.Equal(values.Length, rows.Length);
        for (var i = 0; i < rows.Length; i++) Assert.Equal(text[i + 1], rows[i].Where(c => c.Length > 0));
        Assert.Contains(rows, r => r.Contains("6.5388e-05"));

        // Sorting the objective column orders by the numbers, not by their texts.
        await page.Locator("#trials thead th", new PageLocatorOptions { HasText = "loss" }).First.ClickAsync();
        var sorted = await page.EvaluateAsync<string[]>("() => [...document.querySelectorAll('#trials tbody tr')].map(tr => tr.children[3].textContent)");
        Assert.Equal(values.Order().Select(v => Tunesmith.Spaces.NumberText.Short(v)), sorted);
    }
}
