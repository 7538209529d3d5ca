using Tunesmith.Samplers;
using Tunesmith.Samplers.Bohb;
using Tunesmith.Samplers.Mobster;
using Tunesmith.Schedulers;
using Tunesmith.Schedulers.Asha;
using Tunesmith.Spaces.Spec;
using Tunesmith.Schedulers.Hyperband;
using Tunesmith.Schedulers.MedianStopping;
using Tunesmith.Schedulers.Pbt;
using Tunesmith.Simulation.Benchmarks;
using Tunesmith.Spaces;

namespace Tunesmith.Simulation;

/// <summary>Builds the strategies <c>tunesmith simulate</c> names: a scheduler and a sampler, each built per seed and fitted to the benchmark's resources.</summary>
public static class SimulationStrategies
{
    /// <summary>
    /// The scheduler names accepted; <c>bohb</c> is a model-based multi-fidelity method: the BOHB sampler (TPE per budget
    /// level) proposing the trials that enter ASHA's rungs (asynchronous, one bracket, as Syne Tune's asynchronous BOHB;
    /// <c>--scheduler hyperband --sampler bohb</c> puts them in Hyperband's brackets instead).
    /// </summary>
    /// <remarks>
    /// <c>hypertune</c> is the same BOHB sampler and ASHA rungs, with the level whose model proposes a trial chosen by
    /// Hyper-Tune's ranking-loss weights (<see cref="BohbLevelChoice.BestRanked"/>) instead of BOHB's largest level.
    /// <c>mobster</c> is the MOBSTER sampler (a GP over parameters and resource, expected improvement at BOHB's level) on
    /// the same ASHA rungs.
    /// </remarks>
    public static IReadOnlyList<string> SchedulerNames { get; } = ["none", "median", "asha", "hyperband", "pbt", "bohb", "hypertune", "mobster"];

    /// <summary>The sampler names accepted (<c>bohb</c> only with a scheduler that has rungs; the bohb scheduler uses it by default).</summary>
    public static IReadOnlyList<string> SamplerNames { get; } = ["random", "tpe", "gp", "auto", "bohb", "hypertune", "mobster"];

    /// <summary>
    /// The strategy <paramref name="scheduler"/> + <paramref name="sampler"/>; a null sampler takes the scheduler's default
    /// (<c>bohb</c> for the bohb scheduler, <c>random</c> otherwise). Throws <see cref="ArgumentException"/> naming an unknown name.
    /// </summary>
    public static SimulationStrategy Create(string scheduler, string? sampler)
    {
        scheduler = scheduler.ToLowerInvariant();
        if (!SchedulerNames.Contains(scheduler))
            throw new ArgumentException($"--scheduler: unknown scheduler '{scheduler}'{ClosestName.Suggest(scheduler, SchedulerNames)} (known: {string.Join(", ", SchedulerNames)})");
        sampler = (sampler ?? (scheduler is "bohb" or "hypertune" or "mobster" ? scheduler : "random")).ToLowerInvariant();
        if (!SamplerNames.Contains(sampler))
            throw new ArgumentException($"--sampler: unknown sampler '{sampler}'{ClosestName.Suggest(sampler, SamplerNames)} (known: {string.Join(", ", SamplerNames)})");
        if (sampler is "bohb" or "hypertune" or "mobster" && scheduler is not ("bohb" or "hypertune" or "mobster" or "asha" or "hyperband"))
            throw new ArgumentException($"--sampler: '{sampler}' models budget levels, so it needs --scheduler {sampler}, asha or hyperband, not '{scheduler}'");
        var schedulerFactory = SchedulerFactory(scheduler);
        return new SimulationStrategy(scheduler, sampler, (benchmark, seed) => CreateSampler(sampler, benchmark, seed), schedulerFactory);
    }

    /// <summary>
    /// The sampler called <paramref name="name"/> for one seed, fitted to the benchmark (BOHB's levels are the benchmark's
    /// epochs 1, 3, 9, … and its last; its models rank trials by the best value up to a level, as the simulator scores runs).
    /// </summary>
    public static ISampler CreateSampler(string name, ILearningCurveBenchmark benchmark, int seed)
    {
        // The simulator scores a run by the best value reported at any epoch, so each level's model ranks trials by the
        // best value they reported up to the level (chosen on the development tasks, docs/BENCHMARKS.md).
        // hypertune: the same, with the proposing level the one whose model ranks the top level's configurations best
        // (Hyper-Tune's ranking-loss weights; chosen over drawing a level by weight on the development tasks, docs/BENCHMARKS.md).
        if (name is "bohb" or "hypertune")
            return new BohbSampler(new BohbOptions
            {
                Seed = seed, MinResource = 1, MaxResource = benchmark.MaxEpoch, ReductionFactor = 3, LevelValue = BohbLevelValue.BestSoFar,
                LevelChoice = name == "hypertune" ? BohbLevelChoice.BestRanked : BohbLevelChoice.Largest,
            });
        // mobster: the GP over (params, resource) on the same levels, fitted to the best value up to each level as bohb's models.
        if (name == "mobster")
            return new MobsterSampler(new MobsterOptions { Seed = seed, MinResource = 1, MaxResource = benchmark.MaxEpoch, ReductionFactor = 3, LevelValue = BohbLevelValue.BestSoFar });
        var space = new SearchSpace();
        foreach (var (parameter, distribution) in benchmark.Space) space.Add(parameter, distribution);
        return SamplerRegistry.Create(name, new SamplerRequest(new Dictionary<string, object?>(), seed, space));
    }

    /// <summary>
    /// The scheduler called <paramref name="name"/> for one seed, fitted to the benchmark: ASHA and Hyperband with rungs at
    /// epochs 1, 3, 9, … below the benchmark's last epoch (η = 3, stop-based); median stopping with its defaults (5 trials
    /// before it stops any); PBT with a population of 8 and a perturbation every 4 epochs; bohb is ASHA's rungs (one
    /// bracket: on the development tasks it reached the target sooner than with Hyperband's brackets, docs/BENCHMARKS.md).
    /// </summary>
    public static IScheduler? CreateScheduler(string name, ILearningCurveBenchmark benchmark, int seed) => name switch
    {
        "none" => null,
        "median" => new MedianStoppingScheduler(new MedianStoppingOptions()),
        "asha" or "bohb" or "hypertune" or "mobster" => new AshaScheduler(new AshaOptions { Resource = "epoch", MinResource = 1, MaxResource = benchmark.MaxEpoch, ReductionFactor = 3, Seed = seed }),
        "hyperband" => new HyperbandScheduler(new HyperbandOptions { Resource = "epoch", MinResource = 1, MaxResource = benchmark.MaxEpoch, ReductionFactor = 3, Seed = seed }),
        "pbt" => new PbtScheduler(new PbtOptions { Resource = "epoch", PopulationSize = 8, PerturbationInterval = 4, Seed = seed }),
        _ => throw new ArgumentException($"--scheduler: unknown scheduler '{name}' (known: {string.Join(", ", SchedulerNames)})"),
    };

    private static Func<ILearningCurveBenchmark, int, IScheduler?> SchedulerFactory(string name) =>
        (benchmark, seed) => CreateScheduler(name, benchmark, seed);
}
