using Tunesmith.Backends.Slurm;

namespace Tunesmith.Reporting.Plots;

/// <summary>Computes a study's <see cref="StudyPlots"/> from its trials: once, for any renderer.</summary>
public static class StudyPlotsBuilder
{
    private static readonly string[] SchedulerAttributeHints = ["rung", "bracket", "pause"];

    /// <summary>Builds every plot of a study.</summary>
    /// <param name="trials">The study's trials (any order).</param>
    /// <param name="direction">The study's direction.</param>
    /// <param name="metric">The objective metric's name.</param>
    /// <param name="studyName">The study's name.</param>
    /// <param name="now">The end of a running trial's timeline bar.</param>
    /// <param name="options">Limits; defaults when null.</param>
    /// <param name="rungs">The study's scheduler rungs (<see cref="SchedulerRungs.From"/> of the stored scheduler), drawn with each trial's
    /// records on the learning curves; when null, rungs are inferred from where Pruned trials stopped.</param>
    public static StudyPlots Build(IReadOnlyList<FrozenTrial> trials, Direction direction, string metric, string studyName,
        DateTimeOffset now, PlotOptions? options = null, SchedulerRungs? rungs = null)
    {
        ArgumentNullException.ThrowIfNull(trials);
        options ??= new PlotOptions();
        options.Validate();
        var byNumber = trials.OrderBy(t => t.Number).ToList();
        var complete = byNumber.Where(t => t.State == TrialState.Complete && t.Value is { } v && double.IsFinite(v)).ToList();
        var better = Comparer<double>.Create((a, b) => direction == Direction.Maximize ? b.CompareTo(a) : a.CompareTo(b));
        var bestFirst = complete.OrderBy(t => t.Value!.Value, better).ThenBy(t => t.Number).ToList();
        var axes = PlotAxes.Infer(byNumber);

        var importanceTrials = complete.Count > options.MaxImportanceTrials ? complete.TakeLast(options.MaxImportanceTrials).ToList() : complete;
        var importance = new PedAnovaImportance().Evaluate(importanceTrials, axes, direction);

        return new StudyPlots
        {
            StudyName = studyName,
            Direction = direction,
            Metric = metric,
            TotalTrials = byNumber.Count,
            Counts = byNumber.GroupBy(t => t.State).ToDictionary(g => g.Key, g => g.Count()),
            Best = bestFirst.Count > 0 ? new TrialPoint(bestFirst[0].Number, bestFirst[0].Value!.Value) : null,
            History = History(complete, bestFirst, direction, options),
            Intermediate = Intermediate(byNumber, bestFirst, options, rungs),
            ParallelCoordinates = Parallel(complete, bestFirst, axes, options),
            Importance = new ImportancePlot("PED-ANOVA", importance, importanceTrials.Count),
            Slices = Slices(complete, bestFirst, axes, options),
            Contours = Contours(complete, bestFirst, axes, importance, options),
            Edf = Edf(complete, options),
            Timeline = Timeline(byNumber, now, options),
        };
    }

    /// <summary>
    /// The optimization history alone (the same as <see cref="StudyPlots.History"/> of <see cref="Build"/>): it needs only
    /// the trials' numbers, states and values, so a first look at a large study can draw it from
    /// <see cref="Storage.IStudyStorage.GetTrialOutlinesAsync"/> before the rest is read.
    /// </summary>
    public static HistoryPlot BuildHistory(IReadOnlyList<FrozenTrial> trials, Direction direction, PlotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(trials);
        options ??= new PlotOptions();
        options.Validate();
        var complete = trials.Where(t => t.State == TrialState.Complete && t.Value is { } v && double.IsFinite(v)).OrderBy(t => t.Number).ToList();
        var better = Comparer<double>.Create((a, b) => direction == Direction.Maximize ? b.CompareTo(a) : a.CompareTo(b));
        var bestFirst = complete.OrderBy(t => t.Value!.Value, better).ThenBy(t => t.Number).ToList();
        return History(complete, bestFirst, direction, options);
    }

    /// <summary>
    /// At most <paramref name="limit"/> trials of <paramref name="byNumber"/>: all when they fit, else the best quarter,
    /// the latest quarter and an even spread of the rest — in trial-number order.
    /// </summary>
    internal static List<FrozenTrial> Pick(IReadOnlyList<FrozenTrial> byNumber, IReadOnlyList<FrozenTrial> bestFirst, int limit)
    {
        if (byNumber.Count <= limit) return byNumber.ToList();
        var chosen = new HashSet<int>();
        foreach (var t in bestFirst.Take(limit / 4)) chosen.Add(t.Number);
        foreach (var t in byNumber.Skip(byNumber.Count - limit / 4)) chosen.Add(t.Number);
        var remaining = limit - chosen.Count;
        if (remaining > 0)
        {
            var stride = (double)byNumber.Count / remaining;
            for (var i = 0; i < remaining; i++) chosen.Add(byNumber[(int)(i * stride)].Number);
        }
        return byNumber.Where(t => chosen.Contains(t.Number)).ToList();
    }

    private static HistoryPlot History(List<FrozenTrial> complete, List<FrozenTrial> bestFirst, Direction direction, PlotOptions o)
    {
        var points = Pick(complete, bestFirst, o.MaxPoints).Select(t => new TrialPoint(t.Number, t.Value!.Value)).ToList();
        var best = new List<TrialPoint>();
        double? current = null;
        foreach (var t in complete)
            if (current is not { } c || direction.IsBetter(t.Value!.Value, c))
            {
                current = t.Value!.Value;
                best.Add(new TrialPoint(t.Number, current.Value));
            }
        if (complete.Count > 0 && best[^1].Number != complete[^1].Number) best.Add(new TrialPoint(complete[^1].Number, current!.Value));
        return new HistoryPlot(points, best, complete.Count);
    }

    private static IntermediatePlot Intermediate(List<FrozenTrial> byNumber, List<FrozenTrial> bestFirst, PlotOptions o, SchedulerRungs? ladder)
    {
        var reported = byNumber.Where(t => t.Intermediate.Count > 0).ToList();
        // Pruned trials are what the scheduler did: keep up to a third of the budget for them.
        var pruned = reported.Where(t => t.State == TrialState.Pruned).ToList();
        var chosen = new HashSet<int>(Pick(pruned, [], Math.Max(1, o.MaxCurves / 3)).Select(t => t.Number));
        foreach (var t in Pick(reported, bestFirst.Where(t => t.Intermediate.Count > 0).ToList(), Math.Max(1, o.MaxCurves - chosen.Count))) chosen.Add(t.Number);
        var rungSteps = new SortedSet<long>();
        var curves = new List<LearningCurve>();
        var metricNames = new List<string>();
        foreach (var t in reported.Where(t => chosen.Contains(t.Number)))
        {
            var steps = Thin(t.Intermediate.Keys.Order().ToList(), o.MaxCurvePoints);
            Dictionary<string, MetricCurve>? metrics = null;
            foreach (var (name, series) in t.IntermediateMetrics.OrderBy(m => m.Key, StringComparer.Ordinal))
            {
                if (series.Count == 0) continue;
                if (!metricNames.Contains(name)) metricNames.Add(name);
                var at = Thin(series.Keys.Order().ToList(), o.MaxCurvePoints);
                (metrics ??= new(StringComparer.Ordinal))[name] = new MetricCurve(at, at.Select(s => series[s]).ToList());
            }
            var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, value) in t.SystemAttributes)
                if (SchedulerAttributeHints.Any(h => key.Contains(h, StringComparison.OrdinalIgnoreCase)))
                {
                    attributes[key] = Spaces.ParamValues.Format(value);
                    if (key.Contains("rung", StringComparison.OrdinalIgnoreCase) && Spaces.ParamValues.TryToLong(value, out var rung)) rungSteps.Add(rung);
                }
            curves.Add(new LearningCurve(t.Number, t.State, steps, steps.Select(s => t.Intermediate[s]).ToList(), attributes,
                ladder?.BracketOf(t.Number), ladder?.Marks(t) ?? [], metrics));
        }
        if (ladder is not null)
        {
            // The scheduler's own rungs, and per rung what it decided over every trial (not only the curves shown).
            var tally = new SortedDictionary<long, int[]>();
            foreach (var milestone in ladder.Milestones.SelectMany(m => m)) tally.TryAdd(milestone, new int[4]);
            foreach (var t in reported)
                foreach (var mark in ladder.Marks(t))
                {
                    var n = tally[mark.Milestone];
                    n[0]++;
                    if (mark.Outcome == RungOutcome.Promoted) n[1]++;
                    else if (mark.Outcome == RungOutcome.Stopped) n[2]++;
                    else if (mark.Outcome == RungOutcome.Paused) n[3]++;
                }
            return new IntermediatePlot(curves, tally.Keys.ToList(), reported.Count, ladder.Description,
                tally.Select(x => new RungSummary(x.Key, x.Value[0], x.Value[1], x.Value[2], x.Value[3])).ToList(), metricNames);
        }
        // Without recorded rungs, the steps at which the scheduler stopped trials are its rungs (ASHA, Hyperband and
        // median stopping decide at a few fixed steps); many distinct stop steps mean no ladder worth drawing.
        if (rungSteps.Count == 0)
        {
            var stops = pruned.Where(t => t.LastIntermediate is not null).Select(t => t.LastIntermediate!.Value.Step).Distinct().ToList();
            if (stops.Count is > 0 and <= 12) foreach (var s in stops) rungSteps.Add(s);
        }
        return new IntermediatePlot(curves, rungSteps.ToList(), reported.Count, rungSteps.Count > 0 ? "inferred" : null, [], metricNames);
    }

    /// <summary>At most <paramref name="max"/> of the steps, evenly spread, the first and the last kept.</summary>
    private static List<long> Thin(List<long> steps, int max)
    {
        if (steps.Count <= max) return steps;
        var stride = (double)(steps.Count - 1) / (max - 1);
        return Enumerable.Range(0, max).Select(i => steps[(int)Math.Round(i * stride)]).Distinct().ToList();
    }

    private static ParallelCoordinatesPlot Parallel(List<FrozenTrial> complete, List<FrozenTrial> bestFirst, IReadOnlyList<PlotAxis> axes, PlotOptions o)
    {
        var lines = Pick(complete, bestFirst, o.MaxLines)
            .Select(t => new ParallelLine(t.Number, t.Value!.Value,
                axes.Select(a => t.Params.TryGetValue(a.Name, out var v) ? PlotAxes.Position(a, v) : null).ToList()))
            .ToList();
        return new ParallelCoordinatesPlot(axes, lines, complete.Count);
    }

    private static List<SlicePlot> Slices(List<FrozenTrial> complete, List<FrozenTrial> bestFirst, IReadOnlyList<PlotAxis> axes, PlotOptions o)
    {
        var shown = Pick(complete, bestFirst, o.MaxPoints);
        return axes.Select(a => new SlicePlot(a, shown
            .Select(t => (t, x: t.Params.TryGetValue(a.Name, out var v) ? PlotAxes.Position(a, v) : null))
            .Where(p => p.x is not null)
            .Select(p => new SlicePoint(p.x!.Value, p.t.Value!.Value, p.t.Number, p.t.Value!.Value))
            .ToList())).ToList();
    }

    private static List<ContourPlot> Contours(List<FrozenTrial> complete, List<FrozenTrial> bestFirst, IReadOnlyList<PlotAxis> axes,
        IReadOnlyList<ParameterImportance> importance, PlotOptions o)
    {
        // Pairs among the most important parameters (axis order when there is no importance yet).
        var ranked = importance.Count > 0 ? importance.Select(i => axes.First(a => a.Name == i.Name)).ToList() : axes.ToList();
        var top = ranked.Take(3).ToList();
        var pairs = new List<(PlotAxis X, PlotAxis Y)>();
        for (var i = 0; i < top.Count; i++)
            for (var j = i + 1; j < top.Count; j++) pairs.Add((top[i], top[j]));
        var shown = Pick(complete, bestFirst, o.MaxPoints);
        var result = new List<ContourPlot>();
        foreach (var (xa, ya) in pairs.Take(o.MaxContours))
        {
            var points = new List<SlicePoint>();
            foreach (var t in shown)
                if (t.Params.TryGetValue(xa.Name, out var xv) && t.Params.TryGetValue(ya.Name, out var yv)
                    && PlotAxes.Position(xa, xv) is { } x && PlotAxes.Position(ya, yv) is { } y)
                    points.Add(new SlicePoint(x, y, t.Number, t.Value!.Value));
            if (points.Count < 3) continue;
            result.Add(Contour(xa, ya, points, o.ContourGrid));
        }
        return result;
    }

    private static ContourPlot Contour(PlotAxis xa, PlotAxis ya, List<SlicePoint> points, int grid)
    {
        int nx = xa.Kind == PlotAxisKind.Categorical ? xa.Categories.Count : grid;
        int ny = ya.Kind == PlotAxisKind.Categorical ? ya.Categories.Count : grid;
        static double Centre(PlotAxis a, int i, int n) => a.Kind == PlotAxisKind.Categorical ? i : PlotAxes.FromUnit(a, n == 1 ? 0.5 : (double)i / (n - 1));
        var xs = Enumerable.Range(0, nx).Select(i => Centre(xa, i, nx)).ToList();
        var ys = Enumerable.Range(0, ny).Select(i => Centre(ya, i, ny)).ToList();
        var px = points.Select(p => Unit(xa, p.X)).ToArray();
        var py = points.Select(p => Unit(ya, p.Y)).ToArray();
        const int Nearest = 8;
        var z = new List<IReadOnlyList<double>>(ny);
        var k = Math.Min(Nearest, points.Count);
        var nearD = new double[k];
        var nearV = new double[k];
        for (var iy = 0; iy < ny; iy++)
        {
            var row = new double[nx];
            var cy = Unit(ya, ys[iy]);
            for (var ix = 0; ix < nx; ix++)
            {
                var cx = Unit(xa, xs[ix]);
                // The k nearest observations by insertion into a short sorted list: linear in the points.
                var filled = 0;
                for (var p = 0; p < points.Count; p++)
                {
                    var dx = px[p] - cx; var dy = py[p] - cy; var d = dx * dx + dy * dy;
                    if (filled == k && d >= nearD[k - 1]) continue;
                    var at = filled < k ? filled++ : k - 1;
                    while (at > 0 && nearD[at - 1] > d) { nearD[at] = nearD[at - 1]; nearV[at] = nearV[at - 1]; at--; }
                    nearD[at] = d; nearV[at] = points[p].Value;
                }
                double num = 0, den = 0;
                for (var j = 0; j < filled; j++) { var w = 1.0 / (nearD[j] + 1e-6); num += w * nearV[j]; den += w; }
                row[ix] = num / den;
            }
            z.Add(row);
        }
        return new ContourPlot(xa, ya, xs, ys, z, points);
    }

    private static double Unit(PlotAxis a, double position) =>
        a.Kind == PlotAxisKind.Categorical ? (a.Categories.Count > 1 ? position / (a.Categories.Count - 1) : 0.5) : PlotAxes.ToUnit(a, position);

    private static EdfPlot Edf(List<FrozenTrial> complete, PlotOptions o)
    {
        var sorted = complete.Select(t => t.Value!.Value).Order().ToList();
        var n = sorted.Count;
        if (n <= o.MaxPoints)
            return new EdfPlot(sorted, Enumerable.Range(1, n).Select(i => (double)i / n).ToList(), n);
        var idx = Enumerable.Range(0, o.MaxPoints).Select(i => (int)Math.Round((double)i * (n - 1) / (o.MaxPoints - 1))).Distinct().ToList();
        return new EdfPlot(idx.Select(i => sorted[i]).ToList(), idx.Select(i => (i + 1.0) / n).ToList(), n);
    }

    private static TimelinePlot Timeline(List<FrozenTrial> byNumber, DateTimeOffset now, PlotOptions o)
    {
        var started = byNumber.Where(t => t.Started is not null).ToList();
        var shown = started.Count > o.MaxPoints ? started.OrderBy(t => t.Started).TakeLast(o.MaxPoints).OrderBy(t => t.Number).ToList() : started;
        var bars = new List<TimelineBar>(shown.Count);
        // Each worker's trials packed into slots by start time: a slot is free again once its trial ended.
        foreach (var group in shown.GroupBy(t => t.Worker ?? "(unknown)"))
        {
            var slotEnds = new List<long>();
            foreach (var t in group.OrderBy(t => t.Started).ThenBy(t => t.Number))
            {
                var start = t.Started!.Value.ToUnixTimeMilliseconds();
                var endTime = t.Finished ?? (t.State == TrialState.Running ? now : t.Heartbeat ?? t.Started!.Value);
                var end = Math.Max(start, endTime.ToUnixTimeMilliseconds());
                var slot = slotEnds.FindIndex(e => e <= start);
                if (slot < 0) { slotEnds.Add(end); slot = slotEnds.Count - 1; }
                else slotEnds[slot] = end;
                bars.Add(new TimelineBar(t.Number, group.Key, HostOf(group.Key), start, end, t.State, $"{group.Key} #{slot + 1}",
                    Text(t, SlurmAttributeKeys.JobId), Text(t, SlurmAttributeKeys.ComputeClass), Text(t, SlurmAttributeKeys.Node)));
            }
        }
        bars.Sort((a, b) => a.Number.CompareTo(b.Number));
        var workers = bars.Select(b => (b.Host, b.Worker)).Distinct().OrderBy(w => w.Host, StringComparer.Ordinal).ThenBy(w => w.Worker, StringComparer.Ordinal)
            .Select(w => w.Worker).ToList();
        var lanes = bars.Select(b => (b.Host, b.Worker, b.Lane)).Distinct()
            .OrderBy(w => w.Host, StringComparer.Ordinal).ThenBy(w => w.Worker, StringComparer.Ordinal).ThenBy(w => w.Lane.Length).ThenBy(w => w.Lane, StringComparer.Ordinal)
            .Select(w => w.Lane).ToList();
        return new TimelinePlot(workers, lanes, bars, started.Count);
    }

    private static string? Text(FrozenTrial t, string key) =>
        t.SystemAttributes.TryGetValue(key, out var v) && v is not null ? Spaces.ParamValues.Format(v) : null;

    /// <summary>The host part of a worker id (<c>host:pid:suffix</c>), or the whole id.</summary>
    public static string HostOf(string worker)
    {
        ArgumentNullException.ThrowIfNull(worker);
        var colon = worker.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 ? worker[..colon] : worker;
    }
}
