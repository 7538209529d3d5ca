using Tunesmith.Storage;

namespace Tunesmith.Reporting;

/// <summary>
/// A study's trials as a report, computed once and rendered by any <see cref="IReportExporter"/>: one row per trial,
/// best first — Complete trials by objective (descending when maximizing, ascending when minimizing, ties by number),
/// then Running, Pruned, Failed and Waiting trials, each group by number.
/// </summary>
public sealed record ReportTable
{
    /// <summary>The study's name.</summary>
    public required string StudyName { get; init; }

    /// <summary>The study's direction.</summary>
    public required Direction Direction { get; init; }

    /// <summary>The objective metric's name (the header of the objective column).</summary>
    public required string Metric { get; init; }

    /// <summary>The other metrics any row holds, in order of first appearance.</summary>
    public required IReadOnlyList<string> MetricNames { get; init; }

    /// <summary>The union of every row's parameter names, in order of first appearance.</summary>
    public required IReadOnlyList<string> ParameterNames { get; init; }

    /// <summary>
    /// The union of the rows' user attribute names, sorted, when the table was built with them (Optuna's
    /// <c>trials_dataframe()</c> columns <c>user_attrs_*</c>); empty otherwise.
    /// </summary>
    public IReadOnlyList<string> UserAttributeNames { get; init; } = [];

    /// <summary>The rows, best first.</summary>
    public required IReadOnlyList<ReportRow> Rows { get; init; }

    /// <summary>Whether any row reported intermediate values, so that exporters show a <c>step</c> column.</summary>
    public bool HasSteps { get; init; }

    /// <summary>How many trials the study holds (the rows may be fewer under a top-K cut).</summary>
    public required int TotalTrials { get; init; }

    /// <summary>The study's plots, for exporters that draw them (HTML); null when not computed.</summary>
    public Plots.StudyPlots? Plots { get; init; }

    /// <summary>
    /// Builds the report of <paramref name="trials"/>, keeping the first <paramref name="top"/> rows when given; with
    /// <paramref name="userAttributes"/>, each trial's user attributes too (a <c>user_attrs_NAME</c> column each).
    /// </summary>
    public static ReportTable Build(IEnumerable<FrozenTrial> trials, Direction direction, string metric = "value", string studyName = "", int? top = null,
        bool userAttributes = false)
    {
        ArgumentNullException.ThrowIfNull(trials);
        if (top is < 0) throw new ArgumentOutOfRangeException(nameof(top), top, "top must be ≥ 0");
        var all = trials.ToList();
        var sorted = all.OrderBy(t => GroupOf(t))
            .ThenBy(t => GroupOf(t) == 0 ? (direction == Direction.Maximize ? -t.Value!.Value : t.Value!.Value) : 0)
            .ThenBy(t => t.Number)
            .ToList();
        if (top is { } k) sorted = sorted.Take(k).ToList();

        var parameterNames = new List<string>();
        var seenParams = new HashSet<string>(StringComparer.Ordinal);
        var metricNames = new List<string>();
        var seenMetrics = new HashSet<string>(StringComparer.Ordinal) { metric };
        // Column order follows trial numbers, so that it does not change with the ranking.
        foreach (var t in sorted.OrderBy(t => t.Number))
        {
            foreach (var p in t.Params.Keys)
                if (seenParams.Add(p)) parameterNames.Add(p);
        }

        var rows = new List<ReportRow>(sorted.Count);
        var rank = 0;
        foreach (var t in sorted)
        {
            var complete = GroupOf(t) == 0;
            var value = complete ? t.Value : Partial(t);
            // The step goes with the value shown: a Failed trial (no value, as in Optuna) or a Waiting retry that
            // inherited its attempt's reports shows neither, so no row reads as "step 2 scored nothing".
            var step = value is null ? null : t.LastIntermediate?.Step;
            rows.Add(new ReportRow(
                complete ? ++rank : null,
                t.Number,
                t.State,
                value,
                step,
                MetricsOf(t, metric, step),
                t.Params,
                t.Duration,
                t.State == TrialState.Failed ? FailReasonOf(t) : null) { UserAttributes = userAttributes ? t.UserAttributes : Empty });
        }
        // Column order follows trial numbers, so that it does not change with the ranking.
        foreach (var r in rows.OrderBy(r => r.Number))
            foreach (var m in r.Metrics.Keys)
                if (seenMetrics.Add(m)) metricNames.Add(m);
        return new ReportTable
        {
            StudyName = studyName,
            Direction = direction,
            Metric = metric,
            MetricNames = metricNames,
            ParameterNames = parameterNames,
            Rows = rows,
            HasSteps = rows.Any(r => r.Step is not null),
            UserAttributeNames = userAttributes
                ? sorted.SelectMany(t => t.UserAttributes.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList()
                : [],
            TotalTrials = all.Count,
        };
    }

    /// <summary>
    /// Builds the report of a study's trials as <paramref name="storage"/> holds them now. Reports read storage, never a
    /// running study: the CLI, the dashboard and a library user see the same table.
    /// </summary>
    /// <param name="storage">Where the study lives.</param>
    /// <param name="study">The study, as stored.</param>
    /// <param name="metric">The objective's name among each trial's metrics.</param>
    /// <param name="top">Keep only the best <paramref name="top"/> Complete trials; null keeps every trial.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <param name="userAttributes">Add each trial's user attributes (<see cref="UserAttributeNames"/>).</param>
    public static async Task<ReportTable> FromStorageAsync(IStudyStorage storage, StudyRecord study, string metric, int? top = null,
        CancellationToken cancellationToken = default, bool userAttributes = false)
    {
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentNullException.ThrowIfNull(study);
        var trials = (await storage.GetTrialsSinceAsync(study.Id, 0, cancellationToken).ConfigureAwait(false)).Trials;
        return Build(trials, study.Direction, metric, study.Name, top, userAttributes);
    }

    /// <summary>
    /// A failed trial's reason; one that was retried (a crash, <c>retries:</c>) says by which trial after the reason's first
    /// line, as the progress line does, so that its params showing up again in a later row do not read as a duplicate.
    /// </summary>
    private static readonly IReadOnlyDictionary<string, object?> Empty = new Dictionary<string, object?>();

    private static string? FailReasonOf(FrozenTrial t)
    {
        if (!t.SystemAttributes.TryGetValue(SystemAttributeKeys.RetriedBy, out var retry) || retry is null) return t.FailReason;
        var note = $"; retried as trial {Convert.ToString(retry, System.Globalization.CultureInfo.InvariantCulture)}";
        if (t.FailReason is not { } reason) return note[2..];
        var newline = reason.IndexOf('\n');
        return newline < 0 ? reason + note : reason[..newline] + note + reason[newline..];
    }

    // What a stopped, paused or running trial has shown so far, as Ray Tune's table shows it: a Pruned trial's stored value
    // (its last report, docs/DECISIONS.md), a Paused or Running trial's latest report. Unranked: values at different steps
    // do not compare.
    private static double? Partial(FrozenTrial t) => t.State switch
    {
        TrialState.Pruned => t.Value ?? t.LastIntermediate?.Value,
        TrialState.Running or TrialState.Paused => t.LastIntermediate?.Value,
        _ => null,
    };

    // The other metrics that go with the row's value: a Complete (or Failed) trial's stored metrics (a command trial's
    // tunesmith:result); a Pruned, Paused or Running command trial's last tunesmith:report, when that report is the one at
    // the row's step — as Ray Tune's results table shows a stopped trial's last reported metrics. Its metrics from its
    // stored ones otherwise (an in-process trial's trial.SetMetric), so that one row never mixes a report with a result.
    private static IReadOnlyDictionary<string, double> MetricsOf(FrozenTrial t, string metric, long? step) =>
        ShownMetrics(t, step).Where(m => m.Key != metric).ToDictionary(m => m.Key, m => m.Value, StringComparer.Ordinal);

    private static IReadOnlyDictionary<string, double> ShownMetrics(FrozenTrial t, long? step) =>
        t.State is TrialState.Pruned or TrialState.Paused or TrialState.Running && step is { } s
            && LastReport(t) is { Step: var reported, Metrics: var report } && reported == s
            ? report
            : t.Metrics;

    /// <summary>
    /// The metrics a report row shows beside <paramref name="trial"/>'s value (the study metric among them when the trial
    /// has it): a Complete or Failed trial's stored metrics (a command trial's <c>tunesmith:result</c>); a Pruned, Paused or
    /// Running command trial's last <c>tunesmith:report</c> (its <see cref="SystemAttributeKeys.LastReport"/> attribute)
    /// when that report is at the step of the value shown, its stored metrics otherwise. The rule of the report's metric
    /// columns, for live views such as the dashboard.
    /// </summary>
    public static IReadOnlyDictionary<string, double> MetricsShown(FrozenTrial trial)
    {
        ArgumentNullException.ThrowIfNull(trial);
        var value = GroupOf(trial) == 0 ? trial.Value : Partial(trial);
        return ShownMetrics(trial, value is null ? null : trial.LastIntermediate?.Step);
    }

    // A command trial's last_report attribute, {"step": s, "loss": ...}; null when absent or not such an object. A
    // non-finite metric is stored as a string ("NaN"), which reads back as the number.
    private static (long Step, Dictionary<string, double> Metrics)? LastReport(FrozenTrial t)
    {
        if (!t.SystemAttributes.TryGetValue(SystemAttributeKeys.LastReport, out var raw) || raw is not string json) return null;
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("step", out var stepElement) || !stepElement.TryGetInt64(out var step)) return null;
            var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Name == "step") continue;
                if (p.Value.ValueKind == System.Text.Json.JsonValueKind.Number) metrics[p.Name] = p.Value.GetDouble();
                else if (p.Value.ValueKind == System.Text.Json.JsonValueKind.String
                    && double.TryParse(p.Value.GetString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d))
                    metrics[p.Name] = d;
            }
            return (step, metrics);
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    // A Complete trial without a value cannot be ranked; it sorts with the Running ones rather than crash the report.
    private static int GroupOf(FrozenTrial t) => t.State switch
    {
        TrialState.Complete when t.Value is { } v && !double.IsNaN(v) => 0,
        TrialState.Complete or TrialState.Running => 1,
        TrialState.Pruned => 2,
        TrialState.Failed => 3,
        _ => 4,
    };
}

/// <summary>One trial in a <see cref="ReportTable"/>.</summary>
/// <param name="Rank">1-based rank among the Complete trials; null for the others.</param>
/// <param name="Number">The trial's number.</param>
/// <param name="State">The trial's state.</param>
/// <param name="Objective">The objective value of a Complete trial; for a Pruned trial its last reported value, for a
/// Paused or Running one its latest report (all unranked).</param>
/// <param name="Step">The last step the trial reported an intermediate value at; null when it reported none, or when the row
/// shows no value (a Failed or Waiting trial): a step goes with a value.</param>
/// <param name="Metrics">The other metrics that go with <paramref name="Objective"/>: a Complete trial's final result; a Pruned,
/// Paused or Running command trial's last <c>tunesmith:report</c> (the one at <paramref name="Step"/>).</param>
/// <param name="Params">Parameter values (a name absent here was inactive in this trial).</param>
/// <param name="Duration">Wall time from start to finish, when finished.</param>
/// <param name="FailReason">Why a Failed trial failed.</param>
public sealed record ReportRow(
    int? Rank,
    int Number,
    TrialState State,
    double? Objective,
    long? Step,
    IReadOnlyDictionary<string, double> Metrics,
    IReadOnlyDictionary<string, object?> Params,
    TimeSpan? Duration,
    string? FailReason)
{
    /// <summary>The trial's user attributes, when the table was built with them (<see cref="ReportTable.UserAttributeNames"/>); else empty.</summary>
    public IReadOnlyDictionary<string, object?> UserAttributes { get; init; } = new Dictionary<string, object?>();
}
