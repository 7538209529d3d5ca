using Tunesmith.Spaces;

namespace Tunesmith.Samplers;

/// <summary>
/// Proposes parameter values for new trials from the study's history. Samplers are pure: no I/O, and every random
/// draw comes from <see cref="SamplingContext.Random"/>, which the study seeds from the sampler's seed and the trial
/// number, so the same seed and the same results give the same trials, and concurrent asks share no state.
/// <para>
/// Like Optuna's BaseSampler, a sampler draws jointly over a relative search space it infers once per trial
/// (<see cref="InferRelativeSearchSpace"/>, <see cref="SampleRelative"/>), and independently for any parameter that
/// appears outside it (<see cref="SampleIndependent"/>), as define-by-run objectives do.
/// </para>
/// </summary>
public interface ISampler
{
    /// <summary>The seed, or null for a random one. Recorded on the study so a run can be reproduced.</summary>
    int? Seed { get; }

    /// <summary>A short name for reports and the study record (e.g. "random", "tpe").</summary>
    string Name { get; }

    /// <summary>The parameters to sample jointly for the trial in <paramref name="context"/>; empty when the sampler draws each parameter on its own.</summary>
    IReadOnlyDictionary<string, Distribution> InferRelativeSearchSpace(SamplingContext context);

    /// <summary>Draws values for the relative search space at once (called once per trial, when that space is not empty).</summary>
    IReadOnlyDictionary<string, object?> SampleRelative(SamplingContext context, IReadOnlyDictionary<string, Distribution> searchSpace);

    /// <summary>Draws a value for one parameter outside the relative sample.</summary>
    object? SampleIndependent(SamplingContext context, string name, Distribution distribution);

    /// <summary>
    /// False for a sampler whose proposals never look at the study's other trials (random search, a grid): a worker then
    /// skips reading the history before each trial, a round trip to a shared database.
    /// </summary>
    bool UsesHistory => true;
}

/// <summary>
/// A sampler that knows its whole set of configurations in advance (grid search, an explicit list). The study enqueues
/// them once, atomically, so that with any number of workers in any number of processes each runs exactly once.
/// </summary>
public interface IFiniteSampler : ISampler
{
    /// <summary>A key that identifies this set of configurations within a study (the same grid gives the same key).</summary>
    string EnumerationKey { get; }

    /// <summary>Every configuration, in the order to run them.</summary>
    IReadOnlyList<IReadOnlyDictionary<string, object?>> EnumerateConfigurations();
}

/// <summary>What a sampler sees when it proposes values for one trial.</summary>
public sealed class SamplingContext
{
    /// <summary>Creates a context.</summary>
    public SamplingContext(StudyHistory history, FrozenTrial trial, Random random)
    {
        History = history;
        Trial = trial;
        Random = random;
    }

    /// <summary>The study's trials (every state; running trials included so that samplers can avoid them).</summary>
    public StudyHistory History { get; }

    /// <summary>The trial being sampled, as it stands (number, params drawn so far).</summary>
    public FrozenTrial Trial { get; internal set; }

    /// <summary>This trial's random source, seeded from the sampler's seed and the trial number.</summary>
    public Random Random { get; }

    /// <summary>The study's direction.</summary>
    public Direction Direction => History.Direction;
}

/// <summary>Seeds a per-trial random source from a sampler seed and a trial number.</summary>
public static class TrialRandom
{
    /// <summary>
    /// A random source for trial <paramref name="trialNumber"/>: deterministic for a given seed, independent between
    /// trials (a SplitMix64 mix of the seed and number), random when <paramref name="seed"/> is null.
    /// </summary>
    public static Random Create(int? seed, int trialNumber, int stream = 0)
    {
        if (seed is null) return new Random(Random.Shared.Next());
        var z = (ulong)(uint)seed.Value * 0x9E3779B97F4A7C15UL + (ulong)(uint)trialNumber * 0xBF58476D1CE4E5B9UL + (ulong)(uint)stream * 0x94D049BB133111EBUL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return new Random((int)(z & 0x7FFFFFFF));
    }
}
