using Tunesmith.Spaces;
using Tunesmith.Trials;

namespace Tunesmith.Samplers.Portfolio;

/// <summary>
/// A main sampler that lets a second model propose a fixed share of the trials: once <see cref="WarmupTrials"/> trials
/// have finished, each trial is proposed by the second sampler with chance <see cref="Share"/>, drawn from the trial's own
/// random stream (so a seeded run is reproducible and every process decides the same for a trial). Both see the whole
/// history, so each model learns from the other's trials.
/// <para>
/// Why: two models fail in different places. On a space of several interacting categorical parameters plus numbers,
/// grouped TPE with category moves leaves a one-choice-at-a-time optimum but keeps a learning rate suited to the
/// optimizer it settled on (its good density never holds another optimizer at its own learning rate), while a Gaussian
/// process, whose one kernel over categories and numbers learns the learning rate per optimizer, rarely changes two
/// categories at once. A share of GP proposals gives TPE's history the other optimizer at a suitable learning rate
/// (docs/TPE.md, "A share of GP proposals"). Unlike <see cref="PortfolioSampler"/> the share does not follow which model
/// found the last new best: the GP refines numbers, so it finds most new bests and would take the run over.
/// </para>
/// </summary>
public sealed class ModelShareSampler : ISampler
{
    /// <summary>The random stream of a trial (<see cref="TrialRandom.Create"/>) that decides which model proposes it.</summary>
    private const int ChoiceStream = 0x5A4E;

    private readonly object _gate = new();
    private readonly Dictionary<int, bool> _secondFor = [];

    /// <summary>Creates the pair.</summary>
    /// <param name="main">Proposes every trial the second does not.</param>
    /// <param name="second">Proposes a share of the trials after the warm-up.</param>
    /// <param name="share">The chance, per trial after the warm-up, that the second model proposes it; in (0, 1).</param>
    /// <param name="warmupTrials">Finished trials before the second model gets any; at least 0.</param>
    public ModelShareSampler(ISampler main, ISampler second, double share, int warmupTrials = 10)
    {
        ArgumentNullException.ThrowIfNull(main);
        ArgumentNullException.ThrowIfNull(second);
        if (!(share is > 0 and < 1)) throw new ArgumentException($"the second model's share must be in (0, 1), got {share}", nameof(share));
        if (warmupTrials < 0) throw new ArgumentException($"warm-up trials must be ≥ 0, got {warmupTrials}", nameof(warmupTrials));
        Main = main;
        Second = second;
        Share = share;
        WarmupTrials = warmupTrials;
    }

    /// <summary>The sampler that proposes most trials.</summary>
    public ISampler Main { get; }

    /// <summary>The sampler that proposes a share of them.</summary>
    public ISampler Second { get; }

    /// <summary>The chance that the second model proposes a trial after the warm-up.</summary>
    public double Share { get; }

    /// <summary>Finished trials before the second model proposes any.</summary>
    public int WarmupTrials { get; }

    /// <inheritdoc />
    public int? Seed => Main.Seed;

    /// <inheritdoc />
    public string Name => $"{Main.Name}+{Second.Name}_share";

    /// <summary>Whether the second model proposes trial <paramref name="trialNumber"/>, given how many trials have finished.</summary>
    public bool SecondProposes(int trialNumber, int finishedTrials) =>
        finishedTrials >= WarmupTrials && TrialRandom.Create(Seed, trialNumber, ChoiceStream).NextDouble() < Share;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Distribution> InferRelativeSearchSpace(SamplingContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var finished = 0;
        foreach (var t in context.History.Trials)
            if (t.State.IsFinished()) finished++;
        var second = SecondProposes(context.Trial.Number, finished);
        lock (_gate) _secondFor[context.Trial.Number] = second;
        return (second ? Second : Main).InferRelativeSearchSpace(context);
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, object?> SampleRelative(SamplingContext context, IReadOnlyDictionary<string, Distribution> searchSpace)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Of(context.Trial.Number).SampleRelative(context, searchSpace);
    }

    /// <inheritdoc />
    public object? SampleIndependent(SamplingContext context, string name, Distribution distribution)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Of(context.Trial.Number).SampleIndependent(context, name, distribution);
    }

    private ISampler Of(int trial)
    {
        lock (_gate) return _secondFor.TryGetValue(trial, out var second) && second ? Second : Main;
    }
}
