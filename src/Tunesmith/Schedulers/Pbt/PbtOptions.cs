using Tunesmith.Spaces.Spec;

namespace Tunesmith.Schedulers.Pbt;

/// <summary>Options of <see cref="PbtScheduler"/> (population-based training, Jaderberg et al. 2017).</summary>
public sealed record PbtOptions
{
    /// <summary>What a step counts (epochs, batches); a label for reports. Default "step".</summary>
    public string Resource { get; init; } = "step";

    /// <summary>How many of the study's latest trials still training (running or paused) make up the population that is ranked (default 8).</summary>
    public int PopulationSize { get; init; } = 8;

    /// <summary>Every this many steps a trial is ranked, and exploits when it is in the bottom quantile (default 4).</summary>
    public long PerturbationInterval { get; init; } = 4;

    /// <summary>The fraction of the population at the bottom that exploits, and at the top that is copied (default 0.25).</summary>
    public double QuantileFraction { get; init; } = 0.25;

    /// <summary>The chance that a parameter is drawn afresh from its distribution instead of perturbed (default 0.25).</summary>
    public double ResampleProbability { get; init; } = 0.25;

    /// <summary>A perturbed number is multiplied by one of these, chosen at random (default 0.8 and 1.2); a choice moves to a neighbour.</summary>
    public IReadOnlyList<double> PerturbationFactors { get; init; } = [0.8, 1.2];

    /// <summary>Seeds the choice of source trial and the perturbations (default 0), so every worker decides alike.</summary>
    public int Seed { get; init; }

    /// <summary>
    /// The parameters an exploit may perturb or resample, by name (Ray Tune's <c>hyperparam_mutations</c> keys); every
    /// other parameter is copied from the source trial unchanged, as the weights it continues from were trained with it
    /// (a layer width, an architecture). Null (the default): every sampled parameter is perturbed.
    /// </summary>
    public IReadOnlyList<string>? Mutations { get; init; }

    /// <summary>Throws naming the option when the options are invalid.</summary>
    public void Validate() => Validate(new OptionRules("scheduler 'pbt'", nameof(PbtOptions), null));

    private static readonly Dictionary<string, string> KeyOf = new()
    {
        [nameof(Resource)] = "resource", [nameof(PopulationSize)] = "population", [nameof(PerturbationInterval)] = "interval",
        [nameof(QuantileFraction)] = "quantile", [nameof(ResampleProbability)] = "resample_probability", [nameof(PerturbationFactors)] = "perturbation_factors",
        [nameof(Mutations)] = "mutations",
    };

    internal void Validate(OptionRules rules)
    {
        rules.Require(!string.IsNullOrWhiteSpace(Resource), nameof(Resource), Resource, "must not be empty");
        rules.Require(PopulationSize >= 2, nameof(PopulationSize), PopulationSize, "must be ≥ 2");
        rules.Require(PerturbationInterval >= 1, nameof(PerturbationInterval), PerturbationInterval, "must be ≥ 1");
        rules.Require(QuantileFraction is > 0 and <= 0.5, nameof(QuantileFraction), QuantileFraction, "must be in (0, 0.5]");
        rules.Require(ResampleProbability is >= 0 and <= 1, nameof(ResampleProbability), ResampleProbability, "must be in [0, 1]");
        rules.Require(PerturbationFactors is { Count: > 0 } && PerturbationFactors.All(f => f > 0 && double.IsFinite(f)),
            nameof(PerturbationFactors), PerturbationFactors is null ? null : string.Join(", ", PerturbationFactors), "must be a non-empty list of positive numbers");
        rules.Require(Mutations is null || (Mutations.Count > 0 && Mutations.All(m => !string.IsNullOrWhiteSpace(m))),
            nameof(Mutations), Mutations is null ? null : $"[{string.Join(", ", Mutations)}]", "must be a non-empty list of parameter names (leave it out to perturb every sampled parameter)");
    }

    /// <summary>Reads a study file's <c>scheduler: { pbt: {...} }</c> options; throws <see cref="ArgumentException"/> naming a bad one.</summary>
    public static PbtOptions FromStudyFile(IReadOnlyDictionary<string, object?>? options)
    {
        var r = new SchedulerOptionReader("pbt", options, "resource", "population", "interval", "quantile", "resample_probability", "perturbation_factors", "seed", "mutations");
        var o = new PbtOptions();
        if (r.String("resource") is { } resource) o = o with { Resource = resource };
        if (r.Int32("population") is { } p) o = o with { PopulationSize = p };
        if (r.Integer("interval") is { } i) o = o with { PerturbationInterval = i };
        if (r.Number("quantile") is { } q) o = o with { QuantileFraction = q };
        if (r.Number("resample_probability") is { } rp) o = o with { ResampleProbability = rp };
        if (r.Numbers("perturbation_factors") is { } f) o = o with { PerturbationFactors = f };
        if (r.Int32("seed") is { } seed) o = o with { Seed = seed };
        if (r.Strings("mutations") is { } m) o = o with { Mutations = m };
        o.Validate(new OptionRules("scheduler 'pbt'", nameof(PbtOptions), KeyOf));
        return o;
    }
}
