namespace Tunesmith.Reporting.Plots;

/// <summary>How a parameter is drawn on an axis.</summary>
public enum PlotAxisKind
{
    /// <summary>A linear numeric axis.</summary>
    Linear,
    /// <summary>A logarithmic numeric axis (a log-scaled distribution).</summary>
    Log,
    /// <summary>Categories, drawn by index into <see cref="PlotAxis.Categories"/>.</summary>
    Categorical,
}

/// <summary>One parameter as an axis: numeric (with its range) or categorical (with its categories, by index).</summary>
/// <param name="Name">The parameter's name.</param>
/// <param name="Kind">Linear, log or categorical.</param>
/// <param name="Low">Lowest value of a numeric axis (the distribution's bound, else the lowest seen).</param>
/// <param name="High">Highest value of a numeric axis.</param>
/// <param name="Categories">The categories' texts of a categorical axis, in order (empty otherwise).</param>
public sealed record PlotAxis(string Name, PlotAxisKind Kind, double Low, double High, IReadOnlyList<string> Categories)
{
    /// <summary>Whether the parameter takes whole numbers only (an integer distribution): its ticks are whole too.</summary>
    public bool Whole { get; init; }
}

/// <summary>One trial as a point: its number and objective value, and its state.</summary>
/// <param name="Number">The trial's number.</param>
/// <param name="Value">Its objective value.</param>
public sealed record TrialPoint(int Number, double Value);

/// <summary>Objective value per trial number, and the best value so far.</summary>
/// <param name="Points">Complete trials (downsampled beyond the limit: the best, the latest and an even spread kept).</param>
/// <param name="BestSoFar">The best value after each trial that improved it (a step line), ending at the last trial.</param>
/// <param name="Total">How many Complete trials there are (Points may hold fewer).</param>
public sealed record HistoryPlot(IReadOnlyList<TrialPoint> Points, IReadOnlyList<TrialPoint> BestSoFar, int Total);

/// <summary>One trial's intermediate values (its learning curve).</summary>
/// <param name="Number">The trial's number.</param>
/// <param name="State">Its state (Pruned trials are drawn apart: the scheduler stopped them).</param>
/// <param name="Steps">The reported steps, ascending.</param>
/// <param name="Values">The values at those steps.</param>
/// <param name="Attributes">The trial's scheduler attributes (system attribute keys holding "rung", "bracket", "pause" or "paused"), as text.</param>
/// <param name="Bracket">The scheduler's bracket the trial joined, when the study's scheduler has rungs (ASHA, Hyperband).</param>
/// <param name="Rungs">The trial's records at its bracket's rungs and what came of each; empty without such a scheduler.</param>
/// <param name="Metrics">The curves of the other metrics the trial reported (<see cref="FrozenTrial.IntermediateMetrics"/>), by name; null when none.</param>
public sealed record LearningCurve(int Number, TrialState State, IReadOnlyList<long> Steps, IReadOnlyList<double> Values, IReadOnlyDictionary<string, string> Attributes,
    int? Bracket = null, IReadOnlyList<RungMark>? Rungs = null, IReadOnlyDictionary<string, MetricCurve>? Metrics = null);

/// <summary>One trial's curve of another reported metric (the training loss beside the study metric).</summary>
/// <param name="Steps">The reported steps, ascending.</param>
/// <param name="Values">The values at those steps.</param>
public sealed record MetricCurve(IReadOnlyList<long> Steps, IReadOnlyList<double> Values);

/// <summary>What came of a trial's record at a rung.</summary>
public enum RungOutcome
{
    /// <summary>The trial went on past the rung (it reported a later step).</summary>
    Promoted,
    /// <summary>The scheduler stopped it there (the trial is Pruned).</summary>
    Stopped,
    /// <summary>The scheduler paused it there, waiting for a promotion (the trial is Paused).</summary>
    Paused,
    /// <summary>It reached the rung and has not gone on yet (running, or it ended there).</summary>
    Reached,
}

/// <summary>A trial's record at one rung: the first step it reported at or after the rung's milestone, as the scheduler reads it.</summary>
/// <param name="Milestone">The rung's milestone (step).</param>
/// <param name="Step">The step of the record.</param>
/// <param name="Value">The value reported there.</param>
/// <param name="Outcome">What came of it.</param>
public sealed record RungMark(long Milestone, long Step, double Value, RungOutcome Outcome);

/// <summary>One rung over every trial that reported intermediate values (not only the curves shown).</summary>
/// <param name="Milestone">The rung's milestone (step).</param>
/// <param name="Records">Trials with a record at the rung.</param>
/// <param name="Promoted">Of those, how many went on.</param>
/// <param name="Stopped">How many were stopped there.</param>
/// <param name="Paused">How many are paused there.</param>
public sealed record RungSummary(long Milestone, int Records, int Promoted, int Stopped, int Paused);

/// <summary>Learning curves of trials that reported intermediate values.</summary>
/// <param name="Curves">The curves shown (the best, the pruned, the latest and an even spread beyond the limit).</param>
/// <param name="RungSteps">The scheduler's rungs, drawn as vertical marks: the milestones of the study's stored scheduler (ASHA, Hyperband) when known, else steps recorded in a trial's "rung" attribute, else the few distinct steps at which Pruned trials were stopped; empty when none.</param>
/// <param name="Total">How many trials reported intermediate values.</param>
/// <param name="RungSource">Where the rungs come from: the scheduler (<c>asha(min=1, max=27, …)</c>), <c>inferred</c> from trials, or null when there are none.</param>
/// <param name="Rungs">Per rung (milestones of every bracket), its records, promotions, stops and pauses; empty unless the scheduler is known.</param>
/// <param name="Metrics">The other metrics the shown trials reported, by first appearance, which a renderer offers instead of the study metric; empty when none.</param>
public sealed record IntermediatePlot(IReadOnlyList<LearningCurve> Curves, IReadOnlyList<long> RungSteps, int Total,
    string? RungSource = null, IReadOnlyList<RungSummary>? Rungs = null, IReadOnlyList<string>? Metrics = null);

/// <summary>One Complete trial across every axis of a parallel-coordinates plot.</summary>
/// <param name="Number">The trial's number.</param>
/// <param name="Value">Its objective value (the last axis and the colour).</param>
/// <param name="Coordinates">One value per axis (a category's index on a categorical axis; null when the parameter was inactive).</param>
public sealed record ParallelLine(int Number, double Value, IReadOnlyList<double?> Coordinates);

/// <summary>Complete trials across all parameters and the objective.</summary>
/// <param name="Axes">One axis per parameter.</param>
/// <param name="Lines">The trials shown.</param>
/// <param name="Total">How many Complete trials there are.</param>
public sealed record ParallelCoordinatesPlot(IReadOnlyList<PlotAxis> Axes, IReadOnlyList<ParallelLine> Lines, int Total);

/// <summary>One parameter's importance.</summary>
/// <param name="Name">The parameter.</param>
/// <param name="Importance">Its share in [0, 1]; the shares add up to 1.</param>
public sealed record ParameterImportance(string Name, double Importance);

/// <summary>Parameter importances, most important first.</summary>
/// <param name="Method">The method's name (<c>PED-ANOVA</c>).</param>
/// <param name="Parameters">The parameters, most important first; empty when too few trials are Complete.</param>
/// <param name="TrialsUsed">How many Complete trials the estimate used.</param>
public sealed record ImportancePlot(string Method, IReadOnlyList<ParameterImportance> Parameters, int TrialsUsed);

/// <summary>One parameter's value against the objective.</summary>
/// <param name="Axis">The parameter's axis.</param>
/// <param name="Points">(value on the axis, objective, trial number) per Complete trial holding the parameter.</param>
public sealed record SlicePlot(PlotAxis Axis, IReadOnlyList<SlicePoint> Points);

/// <summary>A point of a <see cref="SlicePlot"/> or a <see cref="ContourPlot"/>.</summary>
/// <param name="X">The value on the x axis (a category's index on a categorical axis).</param>
/// <param name="Y">The objective (slice) or the y parameter (contour).</param>
/// <param name="Number">The trial's number.</param>
/// <param name="Value">The objective value.</param>
public sealed record SlicePoint(double X, double Y, int Number, double Value);

/// <summary>The objective over two parameters: an interpolated grid and the observed points.</summary>
/// <param name="XAxis">The first parameter.</param>
/// <param name="YAxis">The second parameter.</param>
/// <param name="XGrid">Cell centres along x (axis units).</param>
/// <param name="YGrid">Cell centres along y.</param>
/// <param name="Z">Interpolated objective, Z[iy][ix] (inverse-distance weighted over the nearest observations, in unit space).</param>
/// <param name="Points">The observed trials.</param>
public sealed record ContourPlot(PlotAxis XAxis, PlotAxis YAxis, IReadOnlyList<double> XGrid, IReadOnlyList<double> YGrid,
    IReadOnlyList<IReadOnlyList<double>> Z, IReadOnlyList<SlicePoint> Points)
{
    /// <summary>Round ticks along x (<see cref="PlotAxes.Ticks"/>), the same in the PNG, the HTML report and the dashboard.</summary>
    public IReadOnlyList<PlotTick> XTicks => PlotAxes.Ticks(XAxis);

    /// <summary>Round ticks along y (<see cref="PlotAxes.Ticks"/>).</summary>
    public IReadOnlyList<PlotTick> YTicks => PlotAxes.Ticks(YAxis);
}

/// <summary>A labelled tick of an axis a renderer draws itself.</summary>
/// <param name="Value">Where it sits, in axis units (a category's index on a categorical axis).</param>
/// <param name="Label">Its text: a round number or the category.</param>
public sealed record PlotTick(double Value, string Label);

/// <summary>The empirical distribution of the objective: the share of Complete trials at or below each value.</summary>
/// <param name="Values">Objective values, ascending (downsampled to evenly spaced quantiles beyond the limit).</param>
/// <param name="Fractions">The cumulative share at each value, in (0, 1].</param>
/// <param name="Total">How many Complete trials there are.</param>
public sealed record EdfPlot(IReadOnlyList<double> Values, IReadOnlyList<double> Fractions, int Total);

/// <summary>One trial's span on a worker.</summary>
/// <param name="Number">The trial's number.</param>
/// <param name="Worker">The worker that ran it.</param>
/// <param name="Host">The worker's host (the worker id's first part).</param>
/// <param name="Start">Start, in milliseconds since the Unix epoch.</param>
/// <param name="End">Finish (now for a running trial), in milliseconds since the Unix epoch.</param>
/// <param name="State">Its state.</param>
/// <param name="Lane">The lane it is drawn in: the worker, and the slot (#1, #2, ...) among the worker's trials that ran at once.</param>
/// <param name="Job">The Slurm job that ran it (system attribute <c>slurm_job_id</c>), when it ran in one.</param>
/// <param name="ComputeClass">The compute class that ran it (system attribute <c>compute_class</c>), when known.</param>
/// <param name="Node">The node that ran it (system attribute <c>node</c>), when known.</param>
public sealed record TimelineBar(int Number, string Worker, string Host, long Start, long End, TrialState State, string Lane,
    string? Job = null, string? ComputeClass = null, string? Node = null);

/// <summary>Trials per worker over time, so idle capacity shows as gaps.</summary>
/// <param name="Workers">The workers, grouped by host.</param>
/// <param name="Lanes">The lanes (a worker's parallel slots), grouped by host and worker.</param>
/// <param name="Bars">The bars shown (the latest beyond the limit).</param>
/// <param name="Total">How many trials have started.</param>
public sealed record TimelinePlot(IReadOnlyList<string> Workers, IReadOnlyList<string> Lanes, IReadOnlyList<TimelineBar> Bars, int Total);

/// <summary>
/// Every plot of a study, computed once from its trials and drawn by any renderer (the dashboard and the HTML report
/// with ECharts, PNG files with ScottPlot).
/// </summary>
public sealed record StudyPlots
{
    /// <summary>The study's name.</summary>
    public required string StudyName { get; init; }
    /// <summary>The study's direction.</summary>
    public required Direction Direction { get; init; }
    /// <summary>The objective metric's name.</summary>
    public required string Metric { get; init; }
    /// <summary>Trials in the study.</summary>
    public required int TotalTrials { get; init; }
    /// <summary>Trials per state.</summary>
    public required IReadOnlyDictionary<TrialState, int> Counts { get; init; }
    /// <summary>The best Complete trial, if any.</summary>
    public TrialPoint? Best { get; init; }
    /// <summary>Optimization history.</summary>
    public required HistoryPlot History { get; init; }
    /// <summary>Learning curves.</summary>
    public required IntermediatePlot Intermediate { get; init; }
    /// <summary>Parallel coordinates.</summary>
    public required ParallelCoordinatesPlot ParallelCoordinates { get; init; }
    /// <summary>Parameter importance.</summary>
    public required ImportancePlot Importance { get; init; }
    /// <summary>One slice plot per parameter.</summary>
    public required IReadOnlyList<SlicePlot> Slices { get; init; }
    /// <summary>Contour plots over the most important pairs of parameters.</summary>
    public required IReadOnlyList<ContourPlot> Contours { get; init; }
    /// <summary>Empirical distribution of the objective.</summary>
    public required EdfPlot Edf { get; init; }
    /// <summary>Trials per worker over time.</summary>
    public required TimelinePlot Timeline { get; init; }
}
