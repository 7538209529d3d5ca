namespace Tunesmith.Schedulers.Asha;

/// <summary>
/// The rungs of asynchronous successive halving, in one or more brackets, and the decisions at a rung. Everything is
/// computed from the study's history: a trial's value at a rung is the value it reported at the first step at or after
/// the rung's milestone (its rung record, stored as an intermediate value), so any worker reading the same history makes
/// the same decision.
/// </summary>
internal sealed class RungLadder
{
    private readonly long[][] _milestones;
    private readonly double[] _cumulativeWeights;
    private readonly int _seed;

    public RungLadder(long minResource, long maxResource, double eta, long gracePeriod, int brackets, int seed)
    {
        Eta = eta;
        MaxResource = maxResource;
        _seed = seed;
        var table = Hyperband.HyperbandBracket.Table(minResource, maxResource, eta);
        _milestones = new long[brackets][];
        var weights = new double[brackets];
        for (var b = 0; b < brackets; b++)
        {
            var rungs = new List<long>();
            for (var k = b; ; k++)
            {
                var m = (long)Math.Round(minResource * Math.Pow(eta, k));
                if (m >= maxResource) break;
                if (m >= gracePeriod && (rungs.Count == 0 || m > rungs[^1])) rungs.Add(m);
            }
            _milestones[b] = rungs.ToArray();
            weights[b] = table[b].Configurations;
        }
        _cumulativeWeights = new double[brackets];
        var total = weights.Sum();
        var sum = 0.0;
        for (var b = 0; b < brackets; b++) _cumulativeWeights[b] = (sum += weights[b]) / total;
    }

    public double Eta { get; }
    public long MaxResource { get; }
    public int Brackets => _milestones.Length;

    /// <summary>The milestones (steps) of bracket <paramref name="bracket"/>, ascending.</summary>
    public IReadOnlyList<long> Milestones(int bracket) => _milestones[bracket];

    /// <summary>How many successive-halving brackets fit between the resources: ⌊log_η(max/min)⌋ + 1.</summary>
    public static int BracketCount(long minResource, long maxResource, double eta) =>
        (int)Math.Floor(Math.Log((double)maxResource / minResource) / Math.Log(eta) + 1e-9) + 1;

    /// <summary>The bracket of a trial: a weighted draw seeded by the trial's number, the same in every worker.</summary>
    public int BracketOf(int trialNumber)
    {
        if (_milestones.Length == 1) return 0;
        var u = SchedulerRandom.Create(_seed, trialNumber, stream: 1).NextDouble();
        for (var b = 0; b < _cumulativeWeights.Length; b++) if (u < _cumulativeWeights[b]) return b;
        return _cumulativeWeights.Length - 1;
    }

    /// <summary>
    /// The bracket of a stored trial: its first attempt's (<c>retry_of</c>), so that a retry, which inherits the failed
    /// attempt's reports (<see cref="Storage.IStudyStorage.RetryTrialAsync"/>), keeps the attempt's rungs.
    /// </summary>
    public int BracketOf(FrozenTrial trial) =>
        BracketOf(trial.SystemAttributes.TryGetValue(SystemAttributeKeys.RetryOf, out var r) && Spaces.ParamValues.TryToLong(r, out var root) ? (int)root : trial.Number);

    /// <summary>
    /// Whether a trial's reports are rung records: it started and reported. A failed attempt that was retried is not: its
    /// retry inherited its reports and holds its records, so the one configuration is counted once.
    /// </summary>
    public static bool HoldsRecords(FrozenTrial trial) =>
        trial.State != TrialState.Waiting && trial.Intermediate.Count > 0
        && !(trial.State == TrialState.Failed && trial.SystemAttributes.ContainsKey(SystemAttributeKeys.RetriedBy));

    /// <summary>
    /// The step after which a report at <paramref name="step"/> is judged: the trial's previous report, or, at a retry's
    /// first report after the reports it inherited (<see cref="SystemAttributeKeys.InheritedStep"/>), the one before the
    /// inherited last, whose decision the failed attempt's runner may not have lived to carry out.
    /// </summary>
    public static long? JudgedAfter(FrozenTrial trial, long step)
    {
        var previous = PreviousStep(trial, step);
        if (previous is { } p && step > p && trial.SystemAttributes.TryGetValue(SystemAttributeKeys.InheritedStep, out var i)
            && Spaces.ParamValues.TryToLong(i, out var inherited) && p == inherited)
            previous = PreviousStep(trial, inherited);
        return previous;
    }

    private static long? PreviousStep(FrozenTrial trial, long step)
    {
        long? previous = null;
        foreach (var s in trial.Intermediate.Keys) if (s < step && (previous is null || s > previous)) previous = s;
        return previous;
    }

    /// <summary>The highest milestone in (<paramref name="previousStep"/>, <paramref name="step"/>], or null: the rung this report reaches.</summary>
    public long? RungReached(int bracket, long? previousStep, long step)
    {
        long? reached = null;
        foreach (var m in _milestones[bracket])
            if (m <= step && (previousStep is not { } p || m > p)) reached = m;
        return reached;
    }

    /// <summary>The highest milestone at or below <paramref name="step"/>, or null.</summary>
    public long? RungAtOrBelow(int bracket, long step)
    {
        long? rung = null;
        foreach (var m in _milestones[bracket]) if (m <= step) rung = m;
        return rung;
    }

    /// <summary>A trial's rung record at <paramref name="milestone"/>: its value at the first reported step at or after it.</summary>
    public static double? RungValue(FrozenTrial trial, long milestone) => RungRecord(trial, milestone)?.Value;

    /// <summary>A trial's rung record at <paramref name="milestone"/>: the first reported step at or after it, and its value.</summary>
    public static (long Step, double Value)? RungRecord(FrozenTrial trial, long milestone)
    {
        if (trial.Intermediate.TryGetValue(milestone, out var exact)) return (milestone, exact);
        long? first = null;
        double value = 0;
        foreach (var (step, v) in trial.Intermediate)
            if (step >= milestone && (first is null || step < first)) (first, value) = (step, v);
        return first is { } f ? (f, value) : null;
    }

    /// <summary>
    /// Whether a trial with a record at <paramref name="recordStep"/> has gone on past that rung: it reported a later step,
    /// or it was resumed from a pause there and runs again.
    /// </summary>
    public static bool WentOn(FrozenTrial trial, long recordStep)
    {
        var last = LastStep(trial);
        if (last > recordStep) return true;
        return trial.State == TrialState.Running
            && trial.SystemAttributes.TryGetValue(SystemAttributeKeys.PausedStep, out var p) && Spaces.ParamValues.TryToLong(p, out var paused) && paused == last;
    }

    /// <summary>The trial's largest reported step, or null.</summary>
    public static long? LastStep(FrozenTrial trial)
    {
        long? last = null;
        foreach (var step in trial.Intermediate.Keys) if (last is null || step > last) last = step;
        return last;
    }

    /// <summary>
    /// The records of rung <paramref name="milestone"/> of <paramref name="bracket"/> from every trial but
    /// <paramref name="except"/>, with whether each has already gone past the rung (promoted).
    /// </summary>
    public List<(FrozenTrial Trial, double Value, bool Promoted)> Records(StudyHistory history, int bracket, long milestone, int except)
    {
        var records = new List<(FrozenTrial, double, bool)>();
        foreach (var t in history.Trials)
        {
            if (t.Number == except || !HoldsRecords(t)) continue;
            if (_milestones.Length > 1 && BracketOf(t) != bracket) continue;
            if (RungRecord(t, milestone) is not { } record) continue;
            records.Add((t, record.Value, WentOn(t, record.Step)));
        }
        return records;
    }

    /// <summary>How many of a rung's <paramref name="count"/> records may go on: ⌊count/η⌋.</summary>
    public int Quota(int count) => (int)Math.Floor(count / Eta + 1e-9);
}
