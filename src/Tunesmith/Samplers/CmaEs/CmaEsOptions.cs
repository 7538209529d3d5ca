using Tunesmith.Spaces.Spec;

namespace Tunesmith.Samplers.CmaEs;

/// <summary>How a run of CMA-ES restarts once it has converged or stagnated.</summary>
public enum CmaEsRestartStrategy
{
    /// <summary>Never restart: keep sampling around the converged mean.</summary>
    None,
    /// <summary>IPOP: restart from a new random mean with twice the population, so later runs search more globally.</summary>
    Ipop,
}

/// <summary>
/// Options of <see cref="CmaEsSampler"/>. Every option has a default that suits hyperparameter searches of a few dozen to a
/// few thousand trials; invalid values fail at construction, naming the property.
/// </summary>
public sealed record CmaEsOptions
{
    /// <summary>Seed for reproducible runs; null for a random one.</summary>
    public int? Seed { get; init; }

    /// <summary>
    /// Initial step size in the unit cube (every parameter mapped to [0, 1], log parameters in log space).
    /// Default 1/6: the initial distribution covers the box about ±3σ around its centre.
    /// </summary>
    public double Sigma0 { get; init; } = 1.0 / 6.0;

    /// <summary>Population size λ of the first run; null: 4 + ⌊3 ln n⌋ for n parameters (Hansen's default).</summary>
    public int? PopulationSize { get; init; }

    /// <summary>What to do when a run converges or stagnates (default <see cref="CmaEsRestartStrategy.Ipop"/>).</summary>
    public CmaEsRestartStrategy RestartStrategy { get; init; } = CmaEsRestartStrategy.Ipop;

    /// <summary>
    /// How many completed trials (the first ones of the joint space, by trial number) warm-start the search: until they exist
    /// new trials are drawn at random; then the first mean is the weighted mean of their best ones and the step size follows
    /// their spread. Trials already in the study (enqueued, or from an earlier sampler) count, so setting this to their number
    /// starts CMA-ES where they point. Default 0: start at the centre of the box.
    /// </summary>
    public int NStartupTrials { get; init; }

    /// <summary>Convergence threshold on the step size in the unit cube: a run whose every coordinate's spread falls below it restarts (default 1e-5).</summary>
    public double TolX { get; init; } = 1e-5;

    /// <summary>Convergence threshold on objective values: a run whose recent best values all lie within it restarts (default 1e-12).</summary>
    public double TolFun { get; init; } = 1e-12;

    /// <summary>Validates the options; throws <see cref="ArgumentOutOfRangeException"/> naming the property (<c>CmaEsOptions.Sigma0 must be in (0, 1]</c>).</summary>
    public void Validate() => Validate(new OptionRules("sampler 'cmaes'", nameof(CmaEsOptions), null));

    // The study-file key of each property Validate checks.
    internal static readonly Dictionary<string, string> KeyOf = new()
    {
        [nameof(Sigma0)] = "sigma0", [nameof(PopulationSize)] = "popsize", [nameof(NStartupTrials)] = "n_startup_trials",
        [nameof(TolX)] = "tolx", [nameof(TolFun)] = "tolfun",
    };

    internal void Validate(OptionRules rules)
    {
        rules.Require(Sigma0 > 0 && double.IsFinite(Sigma0) && Sigma0 <= 1, nameof(Sigma0), Sigma0, "must be in (0, 1] (the unit cube)");
        rules.Require(PopulationSize is null or >= 2, nameof(PopulationSize), PopulationSize, "must be ≥ 2");
        rules.Require(NStartupTrials >= 0, nameof(NStartupTrials), NStartupTrials, "must be ≥ 0");
        rules.Require(TolX >= 0, nameof(TolX), TolX, "must be ≥ 0");
        rules.Require(TolFun >= 0, nameof(TolFun), TolFun, "must be ≥ 0");
    }
}

/// <summary>Reads <see cref="CmaEsOptions"/> from a study file's sampler options (snake_case keys).</summary>
internal static class CmaEsOptionsReader
{
    /// <summary>The option names a study file may use.</summary>
    public static readonly IReadOnlyList<string> Keys = ["sigma0", "popsize", "restart_strategy", "n_startup_trials", "seed", "tolx", "tolfun"];

    /// <summary>Builds options from <paramref name="options"/>; throws <see cref="ArgumentException"/> naming a bad key or value.</summary>
    public static CmaEsOptions Read(IReadOnlyDictionary<string, object?> options, int? seed)
    {
        var result = new CmaEsOptions { Seed = seed };
        foreach (var (key, raw) in options)
        {
            var value = Spaces.ParamValues.Normalize(raw);
            result = key switch
            {
                "sigma0" => result with { Sigma0 = Number(key, value) },
                "popsize" => result with { PopulationSize = value is null ? null : Integer(key, value) },
                "restart_strategy" => result with { RestartStrategy = Restart(value) },
                "n_startup_trials" => result with { NStartupTrials = Integer(key, value) },
                "seed" => result with { Seed = value is null ? null : Integer(key, value) },
                "tolx" => result with { TolX = Number(key, value) },
                "tolfun" => result with { TolFun = Number(key, value) },
                _ => throw OptionErrors.Unknown("sampler 'cmaes'", key, Keys),
            };
        }
        result.Validate(new OptionRules("sampler 'cmaes'", nameof(CmaEsOptions), CmaEsOptions.KeyOf));
        return result;
    }

    private static double Number(string key, object? value) =>
        Spaces.ParamValues.TryToDouble(value, out var d) ? d : throw new ArgumentException($"sampler 'cmaes': option '{key}' must be a number, got {Spaces.ParamValues.Format(value)}");

    private static int Integer(string key, object? value) => OptionValues.Int("sampler 'cmaes'", key, value);

    private static CmaEsRestartStrategy Restart(object? value) => value switch
    {
        "ipop" => CmaEsRestartStrategy.Ipop,
        "none" or null => CmaEsRestartStrategy.None,
        _ => throw new ArgumentException($"sampler 'cmaes': option 'restart_strategy' must be ipop or none, got {Spaces.ParamValues.Format(value)}"),
    };
}
