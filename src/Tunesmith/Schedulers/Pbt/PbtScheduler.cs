using Tunesmith.Spaces;

namespace Tunesmith.Schedulers.Pbt;

/// <summary>
/// Population-based training: every <see cref="PbtOptions.PerturbationInterval"/> steps a trial is ranked among the
/// population (the most recent trials still training: running or paused) by its latest value; one in the bottom quantile exploits a trial of the top quantile — it continues from
/// that trial's latest checkpoint with that trial's params, perturbed or resampled (an
/// <see cref="SchedulerDecision.ExploitDecision"/>). Only a trial whose checkpoint is newer than its last change of params
/// (system attribute <c>checkpoint_step</c>, cleared when it exploits) can be a source, so the weights and the params a
/// trial continues with always come from the same checkpoint.
/// </summary>
public sealed class PbtScheduler : IScheduler
{
    /// <summary>Creates the scheduler; throws naming the option when <paramref name="options"/> are invalid.</summary>
    public PbtScheduler(PbtOptions? options = null)
    {
        Options = options ?? new PbtOptions();
        Options.Validate();
    }

    /// <summary>The options.</summary>
    public PbtOptions Options { get; }

    /// <inheritdoc />
    public string Name => "pbt";

    /// <summary>The step of a trial's latest checkpoint that is valid for its current params, or null.</summary>
    public static long? CheckpointStep(FrozenTrial trial) =>
        trial.SystemAttributes.TryGetValue(SystemAttributeKeys.CheckpointStep, out var c) && ParamValues.TryToLong(c, out var step) ? step : null;

    /// <inheritdoc />
    public SchedulerDecision Decide(StudyHistory history, FrozenTrial trial, long step, double value)
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(trial);
        if (step <= 0 || step % Options.PerturbationInterval != 0) return SchedulerDecision.Continue;
        if (trial.SystemAttributes.TryGetValue(SystemAttributeKeys.ResumeStep, out var r) && ParamValues.TryToLong(r, out var resumed)
            && step - resumed < Options.PerturbationInterval)
            return SchedulerDecision.Continue; // it has not trained long enough since it last exploited

        // The population is the trials still training (running or paused), as in Ray Tune: a finished trial is neither
        // ranked against nor copied, since a trial that took over its last checkpoint would only finish at once with a
        // copy of its result, and one at an early step would be judged against a final value.
        var members = new List<(FrozenTrial Trial, double Value)>();
        foreach (var t in history.Trials)
        {
            if (t.Number == trial.Number || t.State is not (TrialState.Running or TrialState.Paused)) continue;
            if (t.LastIntermediate is { } last && !double.IsNaN(last.Value)) members.Add((t, last.Value));
        }
        if (members.Count > Options.PopulationSize - 1) members = members.OrderByDescending(m => m.Trial.Number).Take(Options.PopulationSize - 1).ToList();
        members.Add((trial, value));
        if (members.Count < 2) return SchedulerDecision.Continue;

        var direction = history.Direction;
        members.Sort((a, b) => direction.IsBetter(a.Value, b.Value) ? -1 : direction.IsBetter(b.Value, a.Value) ? 1 : a.Trial.Number.CompareTo(b.Trial.Number));
        var quantile = Math.Max(1, (int)Math.Floor(members.Count * Options.QuantileFraction));
        var rank = members.FindIndex(m => m.Trial.Number == trial.Number);
        if (rank < members.Count - quantile) return SchedulerDecision.Continue;

        var sources = members.Take(quantile).Where(m => m.Trial.Number != trial.Number && CheckpointStep(m.Trial) is not null).ToList();
        if (sources.Count == 0) return SchedulerDecision.Continue; // never copy a trial that has no checkpoint
        var random = SchedulerRandom.Create(Options.Seed, trial.Number, step, stream: 2);
        var source = sources[random.Next(sources.Count)].Trial;
        return new SchedulerDecision.ExploitDecision(source.Number, CheckpointStep(source)!.Value, Explore(source, random)) { SourceParams = source.Params };
    }

    /// <summary>
    /// The source's params, each sampled parameter resampled or perturbed; derived and fixed values are kept, and so is
    /// every parameter outside <see cref="PbtOptions.Mutations"/> when it is set.
    /// </summary>
    internal IReadOnlyDictionary<string, object?> Explore(FrozenTrial source, Random random)
    {
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in source.Params)
        {
            if (!source.Distributions.TryGetValue(name, out var distribution) || distribution.IsSingle
                || (Options.Mutations is { } mutations && !mutations.Contains(name, StringComparer.Ordinal)))
            {
                result[name] = value;
                continue;
            }
            var resample = random.NextDouble() < Options.ResampleProbability;
            var factor = Options.PerturbationFactors[random.Next(Options.PerturbationFactors.Count)];
            result[name] = distribution switch
            {
                FloatDistribution f => resample ? f.FromUnit(random.NextDouble()) : f.Snap(Math.Clamp(ParamValues.ToDouble(value) * factor, f.Low, f.High)),
                IntDistribution i => resample ? i.FromUnit(random.NextDouble()) : i.Snap(Math.Clamp(Math.Round(ParamValues.ToDouble(value) * factor), i.Low, i.High)),
                CategoricalDistribution c => resample
                    ? c.Choices[random.Next(c.Choices.Count)]
                    : c.Choices[Math.Clamp(c.IndexOf(value) + (factor >= 1 ? 1 : -1), 0, c.Choices.Count - 1)],
                _ => value,
            };
        }
        return result;
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"pbt(population={Options.PopulationSize}, interval={Options.PerturbationInterval}, quantile={ParamValues.Format(Options.QuantileFraction)}, resample={ParamValues.Format(Options.ResampleProbability)})";
}
