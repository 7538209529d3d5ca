using Tunesmith.Samplers;
using Tunesmith.Schedulers;
using Tunesmith.Simulation.Benchmarks;
using Tunesmith.Spaces;

namespace Tunesmith.Simulation;

/// <summary>
/// Replays a learning-curve benchmark with N simulated workers on a virtual clock, Syne Tune style: an event queue holds
/// the instant each worker's current epoch ends; the earliest event advances the <see cref="VirtualTimeProvider"/>, the
/// epoch's value is reported to the real <see cref="IScheduler"/> (continue, stop, or exploit), and a free worker asks
/// the real <see cref="ISampler"/> for a new trial — the same calls, on the same <see cref="StudyHistory"/> model, that a
/// worker makes in a real run. Everything is a pure function of the benchmark, the strategy and the seed: ties between
/// events at one instant go to the lower worker index, and every random draw comes from the sampler's seeded streams.
/// </summary>
public sealed class LearningCurveSimulator
{
    private static readonly DateTimeOffset Epoch0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly ILearningCurveBenchmark _benchmark;
    private readonly ISampler _sampler;
    private readonly IScheduler? _scheduler;
    private readonly SimulationOptions _options;
    private readonly VirtualTimeProvider _clock = new(Epoch0);
    private readonly StudyHistory _history;
    private readonly KeyValuePair<string, Distribution>[] _space;
    private readonly bool _recordsCheckpoints;
    private readonly Dictionary<int, RunningTrial> _paused = [];
    private readonly StartedConfigurations _started = new();
    private long _version;

    /// <summary>Sets up one run; <see cref="Run"/> performs it.</summary>
    public LearningCurveSimulator(ILearningCurveBenchmark benchmark, ISampler sampler, IScheduler? scheduler, SimulationOptions options)
    {
        options.Validate();
        _benchmark = benchmark;
        _sampler = sampler;
        _scheduler = scheduler;
        _options = options;
        _history = new StudyHistory("simulate:" + benchmark.Name, benchmark.Direction);
        _space = benchmark.Space.ToArray();
        // PBT copies only trials that say they checkpointed: a simulated trial checkpoints after every epoch.
        _recordsCheckpoints = scheduler is Schedulers.Pbt.PbtScheduler;
    }

    /// <summary>The virtual clock the run advances (trial timestamps read it).</summary>
    public TimeProvider Clock => _clock;

    /// <summary>
    /// The tabulated configurations (rows) the run's new trials started, unless
    /// <see cref="SimulationOptions.RepeatTabulatedConfigurations"/> is set (then it stays empty).
    /// </summary>
    public StartedConfigurations Started => _started;

    /// <summary>The trials as the run left them.</summary>
    public StudyHistory History => _history;

    private sealed class RunningTrial
    {
        public required FrozenTrial Trial;
        public required double[] Values;
        public required double[] Seconds;
        public int Epoch;
    }

    /// <summary>Runs the simulation to the end of the time budget (or to the target, with <see cref="SimulationOptions.StopAtTarget"/>).</summary>
    public SimulationRun Run()
    {
        var budget = _options.TimeBudget.TotalSeconds;
        var direction = _benchmark.Direction;
        var target = _options.Target;
        var workers = new RunningTrial[_options.Workers];
        var queue = new PriorityQueue<int, (double Time, int Worker)>(_options.Workers);
        var trace = new List<TracePoint>();
        var best = double.NaN;
        double? timeToTarget = null;
        int started = 0, stopped = 0, completed = 0, failed = 0;
        long epochs = 0;
        var now = 0.0;

        // Workers with nothing to run (only with SimulationOptions.EndWhenEveryRowStarted, once every row was started).
        var idle = new List<int>();
        for (var w = 0; w < workers.Length; w++)
        {
            if (NextTrial(ref started) is not { } first)
            {
                idle.Add(w);
                continue;
            }
            workers[w] = first;
            queue.Enqueue(w, (workers[w].Seconds[workers[w].Epoch], w));
        }

        while (queue.TryPeek(out var worker, out var at) && at.Time <= budget)
        {
            // An idle worker takes a paused trial the last event let the scheduler promote.
            for (var i = 0; i < idle.Count && _paused.Count > 0;)
            {
                if (NextTrial(ref started) is not { } resumed)
                {
                    i++;
                    continue;
                }
                var w = idle[i];
                idle.RemoveAt(i);
                workers[w] = resumed;
                queue.Enqueue(w, (now + resumed.Seconds[resumed.Epoch], w));
            }
            if (!queue.TryPeek(out worker, out at) || at.Time > budget) break;
            queue.Dequeue();
            now = at.Time;
            _clock.AdvanceTo(TimeSpan.FromSeconds(now));
            var run = workers[worker];
            var value = run.Values[run.Epoch];
            epochs++;
            if (double.IsNaN(value))
            {
                Finish(run, TrialState.Failed, null);
                failed++;
            }
            else
            {
                run.Epoch++;
                if (double.IsNaN(best) || direction.IsBetter(value, best))
                {
                    best = value;
                    if (_options.KeepTrace) trace.Add(new TracePoint(now, best));
                    if (timeToTarget is null && target is { } t && !direction.IsBetter(t, best)) timeToTarget = now;
                }
                if (timeToTarget is not null && _options.StopAtTarget) break;
                if (run.Epoch == run.Values.Length)
                {
                    Finish(run, TrialState.Complete, value);
                    completed++;
                }
                else
                {
                    switch (Decide(run, value))
                    {
                        case SchedulerDecision.StopDecision:
                            Finish(run, TrialState.Pruned, value);
                            stopped++;
                            break;
                        case SchedulerDecision.PauseDecision:
                            Pause(run);
                            break;
                        default:
                            queue.Enqueue(worker, (now + run.Seconds[run.Epoch], worker));
                            continue;
                    }
                }
            }
            if (NextTrial(ref started) is not { } next)
            {
                idle.Add(worker);
                continue;
            }
            workers[worker] = next;
            queue.Enqueue(worker, (now + workers[worker].Seconds[workers[worker].Epoch], worker));
        }

        var elapsed = timeToTarget is { } reached && _options.StopAtTarget ? reached
            : queue.Count == 0 && idle.Count > 0 ? now // every row started and nothing left to run
            : budget;
        // A trial still paused at the end was never promoted: for the count it was stopped at its rung.
        return new SimulationRun(_sampler.Seed ?? 0, best, timeToTarget, started, stopped + _paused.Count, completed, failed, epochs, elapsed, trace);
    }

    // Continue, Stop or Pause (an exploit is carried out here and continues). Without a scheduler nothing is decided,
    // and the history is not touched until the trial ends.
    private SchedulerDecision Decide(RunningTrial run, double value)
    {
        if (_scheduler is null) return SchedulerDecision.Continue;
        var snapshot = run.Trial with { Intermediate = new CurvePrefix(run.Values, run.Epoch), Version = ++_version };
        if (_recordsCheckpoints)
            snapshot = snapshot with { SystemAttributes = new Dictionary<string, object?>(snapshot.SystemAttributes) { [SystemAttributeKeys.CheckpointStep] = (long)run.Epoch } };
        run.Trial = snapshot;
        _history.Upsert(snapshot);
        var decision = _scheduler.Decide(_history, snapshot, run.Epoch, value);
        if (decision is SchedulerDecision.ExploitDecision exploit)
        {
            Exploit(run, exploit);
            return SchedulerDecision.Continue;
        }
        return decision;
    }

    // PBT: the trial continues after the source's checkpoint step with the new parameters. A table has no curve for
    // "those weights, then these parameters", so the new configuration's own curve after that step stands for it (as
    // Syne Tune's simulator does for PBT on tabulated benchmarks); the values it reported up to that step stay. An exploit
    // continues a trial rather than starting a configuration, so it takes the plain nearest row (it may be one started before);
    // the trial then records that row's parameters, as a new trial does.
    private void Exploit(RunningTrial run, SchedulerDecision.ExploitDecision exploit)
    {
        var parameters = new Dictionary<string, object?>(run.Trial.Params, StringComparer.Ordinal);
        foreach (var (k, v) in exploit.NewParams) parameters[k] = ParamValues.Normalize(v);
        var curve = _benchmark.Curve(parameters);
        parameters = Trained(parameters, curve);
        var from = (int)Math.Clamp(exploit.FromStep, 0, curve.Epochs - 1);
        var values = new double[curve.Epochs];
        var seconds = new double[curve.Epochs];
        Array.Copy(run.Values, values, Math.Min(from, run.Values.Length));
        Array.Copy(run.Seconds, seconds, Math.Min(from, run.Seconds.Length));
        Array.Copy(curve.Values, from, values, from, curve.Epochs - from);
        Array.Copy(curve.EpochSeconds, from, seconds, from, curve.Epochs - from);
        run.Values = values;
        run.Seconds = seconds;
        run.Epoch = from;
        var attributes = new Dictionary<string, object?>(run.Trial.SystemAttributes)
        {
            [SystemAttributeKeys.RestoredFrom] = $"{{\"trial\": {exploit.FromTrialNumber}, \"step\": {exploit.FromStep}}}",
            [SystemAttributeKeys.ResumeStep] = (long)from,
        };
        attributes.Remove(SystemAttributeKeys.CheckpointStep);
        run.Trial = run.Trial with { Params = parameters, Intermediate = new CurvePrefix(values, from), SystemAttributes = attributes, Version = ++_version };
        _history.Upsert(run.Trial);
    }

    // Promotion-based schedulers: the trial ends its run here (its worker is free) and waits to be resumed.
    private void Pause(RunningTrial run)
    {
        run.Trial = run.Trial with
        {
            State = TrialState.Paused,
            SystemAttributes = new Dictionary<string, object?>(run.Trial.SystemAttributes) { [SystemAttributeKeys.PausedStep] = (long)run.Epoch },
            Version = ++_version,
        };
        _history.Upsert(run.Trial);
        _paused[run.Trial.Number] = run;
    }

    // A free worker first asks the scheduler whether to resume a paused trial (it continues after the step it paused at,
    // at no extra cost: the simulated checkpoint is free to load); otherwise the sampler proposes a new trial.
    // Null only with SimulationOptions.EndWhenEveryRowStarted, once every row of the table was started and nothing resumes.
    private RunningTrial? NextTrial(ref int started)
    {
        if (_scheduler is not null && _paused.Count > 0
            && _scheduler.SuggestStart(_history) is StartSuggestion.Resume resume && _paused.Remove(resume.TrialNumber, out var run))
        {
            run.Epoch = (int)Math.Min(resume.FromStep, run.Values.Length - 1);
            run.Trial = run.Trial with
            {
                State = TrialState.Running,
                SystemAttributes = new Dictionary<string, object?>(run.Trial.SystemAttributes) { [SystemAttributeKeys.ResumeStep] = (long)run.Epoch },
                Version = ++_version,
            };
            _history.Upsert(run.Trial);
            return run;
        }
        if (_options.EndWhenEveryRowStarted && _benchmark is TabularBenchmark table && _started.Count >= table.Count) return null;
        return StartTrial(started++);
    }

    private void Finish(RunningTrial run, TrialState state, double? value)
    {
        var final = run.Trial with
        {
            State = state,
            Value = value,
            Metrics = value is { } v ? new Dictionary<string, double> { [_benchmark.Metric] = v } : run.Trial.Metrics,
            // A Pruned trial keeps its last value, as a real stopped trial does.
            Intermediate = new CurvePrefix(run.Values, run.Epoch),
            Finished = _clock.GetUtcNow(),
            SystemAttributes = state == TrialState.Failed
                ? new Dictionary<string, object?>(run.Trial.SystemAttributes) { [SystemAttributeKeys.FailReason] = "the learning curve diverged (NaN)" }
                : run.Trial.SystemAttributes,
            Version = ++_version,
        };
        _history.Upsert(final);
    }

    // The parameters a trial records: the configuration whose curve it replays (a table row), unless the options ask for
    // the proposed point; a surrogate's curve is the proposed point's own.
    private Dictionary<string, object?> Trained(Dictionary<string, object?> proposed, LearningCurve curve) =>
        !_options.RecordProposedConfigurations && curve.Configuration is { } row ? new Dictionary<string, object?>(row, StringComparer.Ordinal) : proposed;

    // The same ask as a real worker's: a relative (joint) sample over the sampler's inferred space, then an independent
    // draw for each parameter it did not cover, in the space's order, with the trial's own seeded random stream.
    private RunningTrial StartTrial(int number)
    {
        var now = _clock.GetUtcNow();
        var trial = new FrozenTrial { Id = number, Number = number, State = TrialState.Running, Created = now, Started = now, Version = ++_version };
        var random = TrialRandom.Create(_sampler.Seed, number);
        var context = new SamplingContext(_history, trial, random);
        var relativeSpace = _sampler.InferRelativeSearchSpace(context);
        var relative = relativeSpace.Count == 0 ? null : _sampler.SampleRelative(context, relativeSpace);
        var parameters = new Dictionary<string, object?>(_space.Length, StringComparer.Ordinal);
        var distributions = new Dictionary<string, Distribution>(_space.Length, StringComparer.Ordinal);
        // One snapshot for the independent draws: it shows the parameters drawn so far (the dictionaries fill as we go).
        SamplingContext? independent = null;
        foreach (var (name, distribution) in _space)
        {
            object? value;
            if (relative is not null && relative.TryGetValue(name, out var r) && relativeSpace.TryGetValue(name, out var rd) && rd.Equals(distribution) && distribution.Contains(r))
                value = ParamValues.Normalize(r);
            else
            {
                independent ??= new SamplingContext(_history, trial with { Params = parameters, Distributions = distributions }, random);
                value = ParamValues.Normalize(_sampler.SampleIndependent(independent, name, distribution));
                if (!distribution.Contains(value))
                    throw new InvalidOperationException($"sampler '{_sampler.Name}' proposed {ParamValues.Format(value)} for '{name}', outside {distribution.Describe()}");
            }
            parameters[name] = value;
            distributions[name] = distribution;
        }
        // A new trial takes a row the run has not started yet (see SimulationOptions.RepeatTabulatedConfigurations), and
        // the history records that row's configuration, the one trained (see SimulationOptions.RecordProposedConfigurations).
        var curve = _options.RepeatTabulatedConfigurations ? _benchmark.Curve(parameters) : _benchmark.NewTrialCurve(parameters, _started);
        trial = trial with { Params = Trained(parameters, curve), Distributions = distributions };
        _history.Upsert(trial);
        return new RunningTrial { Trial = trial, Values = curve.Values, Seconds = curve.EpochSeconds };
    }
}
