using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Execution.Commands;
using Tunesmith.Spaces;

namespace Tunesmith.Cli.Internal.Progress;

/// <summary>A running trial as the progress view knows it.</summary>
internal sealed record RunningTrial(int Number, IReadOnlyDictionary<string, object?> Params, DateTimeOffset Started, long? Step, IReadOnlyDictionary<string, double> LastMetrics);

/// <summary>
/// The counts as they stood right after an event was applied, handed to its listeners: another trial's event may be applied
/// before they run, so a listener that read the live counts could print the same count for two trials.
/// </summary>
internal sealed record ProgressSnapshot(int Done, FrozenTrial? Best);

/// <summary>
/// What a run has done so far, collected from the command trials' events (which arrive on the trials' threads):
/// counts, the best trial, and each running trial's elapsed time and last reported metrics. Views read snapshots of it.
/// </summary>
internal sealed class RunProgress : IProgress<CommandTrialEvent>
{
    private readonly object _gate = new();
    private readonly Dictionary<int, RunningTrial> _running = [];
    // The trials beyond FinishedBefore that count toward the budget: finished, or paused (a paused trial counts once, and
    // again not when it is promoted and finishes); a failed trial that was retried stops counting, as in storage.
    private readonly HashSet<int> _counted = [];
    private readonly HashSet<int> _paused = [];
    // The study's count of done trials, every worker's, as the last finished trial's event carried it (0: none yet).
    private int _studyDone;
    private readonly int _doneAtStart;
    private readonly TimeProvider _time;
    private readonly List<Action<CommandTrialEvent, ProgressSnapshot>> _listeners = [];

    /// <param name="pausedBefore">The study's trials paused before this run: they count toward the budget already, and
    /// again not when this run promotes them.</param>
    public RunProgress(string study, Direction direction, string metric, int? budget, int finishedBefore, FrozenTrial? bestBefore, TimeProvider time,
        IEnumerable<int>? pausedBefore = null)
    {
        foreach (var number in pausedBefore ?? [])
        {
            _counted.Add(number);
            _paused.Add(number);
        }
        Study = study;
        Direction = direction;
        Metric = metric;
        Budget = budget;
        FinishedBefore = finishedBefore;
        Best = bestBefore;
        _time = time;
        StartedAt = time.GetUtcNow();
        _doneAtStart = FinishedBefore + _counted.Count;
    }

    public string Study { get; }
    public Direction Direction { get; }
    public string Metric { get; }
    public int? Budget { get; }
    public int FinishedBefore { get; }
    public DateTimeOffset StartedAt { get; }
    public int Complete { get; private set; }
    public int Pruned { get; private set; }
    public int Failed { get; private set; }
    /// <summary>Failed trials of this run that were retried (included in <see cref="Failed"/>).</summary>
    public int Retried { get; private set; }
    /// <summary>The study's trials that are paused now, as far as this run knows (paused before it or by it).</summary>
    public int Paused { get { lock (_gate) return _paused.Count; } }
    public FrozenTrial? Best { get; private set; }
    public DateTimeOffset Now => _time.GetUtcNow();

    /// <summary>Trials finished by this run.</summary>
    public int FinishedThisRun { get { lock (_gate) return Complete + Pruned + Failed; } }

    /// <summary>
    /// Trials of the study that count toward the budget and are done: finished or paused, retried failures left out;
    /// other workers' too, as far as this run's finishes read them (each reads what changed in the same storage call).
    /// </summary>
    public int Done { get { lock (_gate) return DoneLocked; } }

    private int DoneLocked => Math.Max(FinishedBefore + _counted.Count, _studyDone);

    /// <summary>Called (on the trial's thread, outside the lock) for every event after it is applied, with the counts it left.</summary>
    public void Subscribe(Action<CommandTrialEvent, ProgressSnapshot> listener) => _listeners.Add(listener);

    public void Report(CommandTrialEvent value)
    {
        ProgressSnapshot snapshot;
        lock (_gate)
        {
            switch (value)
            {
                case CommandTrialStarted s:
                    _running[s.TrialNumber] = new RunningTrial(s.TrialNumber, s.Params, s.StartedAt, null, new Dictionary<string, double>());
                    break;
                case CommandTrialReported r when _running.TryGetValue(r.TrialNumber, out var t):
                    _running[r.TrialNumber] = t with { Step = r.Step, LastMetrics = r.Metrics };
                    break;
                case CommandTrialFinished f:
                    if (f.StudyDone is { } studyDone) _studyDone = studyDone;
                    // Another worker's better trial, read with this finish.
                    if (f.StudyBest is { Value: { } sb } studyBest && (Best?.Value is not { } cb || Direction.IsBetter(sb, cb))) Best = studyBest;
                    _running.Remove(f.TrialNumber);
                    if (f.Trial.State == TrialState.Paused) _paused.Add(f.TrialNumber); // not finished: it may be promoted later
                    else _paused.Remove(f.TrialNumber);
                    _counted.Add(f.TrialNumber);
                    switch (f.Trial.State)
                    {
                        case TrialState.Complete:
                            Complete++;
                            if (f.Trial.Value is { } v && (Best?.Value is not { } b || Direction.IsBetter(v, b))) Best = f.Trial;
                            break;
                        case TrialState.Pruned: Pruned++; break;
                        case TrialState.Paused: break;
                        default:
                            Failed++;
                            if (f.Trial.SystemAttributes.ContainsKey(SystemAttributeKeys.RetriedBy))
                            {
                                Retried++;
                                _counted.Remove(f.TrialNumber);
                            }
                            break;
                    }
                    break;
            }
            snapshot = new ProgressSnapshot(DoneLocked, Best);
        }
        foreach (var l in _listeners) l(value, snapshot);
    }

    /// <summary>The running trials, by number.</summary>
    public IReadOnlyList<RunningTrial> Running { get { lock (_gate) return _running.Values.OrderBy(r => r.Number).ToList(); } }

    /// <summary>Estimated time to the trial budget from this run's pace (null without a budget or before the first finish).</summary>
    public TimeSpan? Eta
    {
        get
        {
            lock (_gate)
            {
                // The study's pace since this run started (every worker's trials), or this run's own if that is more.
                var done = Math.Max(Complete + Pruned + Failed, DoneLocked - _doneAtStart);
                if (Budget is not { } budget || done <= 0) return null;
                var remaining = budget - DoneLocked;
                if (remaining <= 0) return TimeSpan.Zero;
                var perTrial = (Now - StartedAt) / done;
                return perTrial * remaining;
            }
        }
    }

    /// <summary>Formats a trial's parameters compactly.</summary>
    public static string FormatParams(IReadOnlyDictionary<string, object?> parameters) =>
        string.Join(" ", parameters.Select(p => $"{p.Key}={FormatValue(p.Value)}"));

    private static string FormatValue(object? v) => v is double d ? NumberText.Short(d, 4) : ParamValues.Format(v);
}
