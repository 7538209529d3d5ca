using System.Collections;
using Tunesmith.Samplers.Sobol;
using Tunesmith.Samplers.Branches;
using Tunesmith.Samplers.CmaEs;
using Tunesmith.Spaces;
using Tunesmith.Spaces.Spec;

namespace Tunesmith.Samplers;

/// <summary>What a sampler named in a study file (or on the command line) is built from.</summary>
/// <param name="Options">The sampler's options from the study file (e.g. <c>{ n_startup_trials: 10 }</c>); keys in snake_case. A <c>seed</c> key, for any sampler, is the seed (it takes the place of <paramref name="Seed"/>).</param>
/// <param name="Seed">Seed, or null.</param>
/// <param name="Space">The study's declarative search space, when known (grid search and <c>auto</c> need it).</param>
/// <param name="TrialBudget">The study's trial budget, when known (<c>auto</c> uses it).</param>
public sealed record SamplerRequest(
    IReadOnlyDictionary<string, object?> Options,
    int? Seed = null,
    SearchSpace? Space = null,
    int? TrialBudget = null);

/// <summary>Builds samplers by name, as study files and the CLI name them.</summary>
public static class SamplerRegistry
{
    /// <summary>The names <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = ["random", "grid", "sobol", "tpe", "cmaes", "gp", "rf", "bohb", "mobster", "auto"];

    /// <summary>
    /// Builds the sampler called <paramref name="name"/>; throws <see cref="ArgumentException"/> naming an unknown sampler or option.
    /// The model-based samplers <c>tpe</c>, <c>gp</c> and <c>rf</c> also take <c>branch_aware: true</c> (and the other
    /// <see cref="BranchAwareOptions.StudyFileKeys"/>): one model per branch of a conditional space, wrapped in a <see cref="BranchAwareSampler"/>.
    /// </summary>
    public static ISampler Create(string name, SamplerRequest request)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(request);
        // A seed among the options is the seed, for every sampler alike (some read it there, some only from Seed).
        if (request.Options.TryGetValue("seed", out var rawSeed))
            request = request with
            {
                Seed = rawSeed is null ? request.Seed
                    : ParamValues.TryToLong(rawSeed, out var seed) && seed is >= int.MinValue and <= int.MaxValue ? (int)seed
                    : throw new ArgumentException($"sampler '{name}': option 'seed' must be a 32-bit integer, got {ParamValues.Format(rawSeed)}"),
                Options = request.Options.Where(kv => kv.Key != "seed").ToDictionary(StringComparer.Ordinal),
            };
        ISampler sampler = name.ToLowerInvariant() switch
        {
            "random" => CreateRandom(request),
            "grid" => CreateGrid(request),
            "sobol" => CreateSobol(request),
            "tpe" => WithBranches("tpe", request, o => CreateTpe(o, request.Seed)),
            "cmaes" => new CmaEsSampler(CmaEsOptionsReader.Read(request.Options, request.Seed)),
            "gp" => WithBranches("gp", request, o => CreateGp(o, request.Seed)),
            "rf" => WithBranches("rf", request, o => new Rf.RandomForestSampler(Rf.RandomForestOptions.FromStudyFile(o, request.Seed))),
            "bohb" => CreateBohb(request),
            "mobster" => CreateMobster(request),
            "auto" => AutoSampler.Create(request),
            _ => throw new ArgumentException($"unknown sampler '{name}'{ForeignName(name) ?? ClosestName.Suggest(name, Names)} (known: {string.Join(", ", Names)})"),
        };
        return sampler;
    }

    /// <summary>
    /// What another tool's algorithm name is here, as " (...)" to append to an unknown-sampler error, or null: Katib's
    /// <c>bayesianoptimization</c> is <c>gp</c>, its <c>hyperband</c> a scheduler.
    /// </summary>
    internal static string? ForeignName(string name) => name.ToLowerInvariant() switch
    {
        "bayesianoptimization" or "bayesian_optimization" or "skopt" => " (Katib's bayesianoptimization is gp here: a Gaussian-process sampler)",
        "hyperband" => " (Hyperband stops trials early, so it is a scheduler here: scheduler: hyperband, beside sampler: random or bohb)",
        "cma-es" or "cma" => " (CMA-ES is cmaes here)",
        "enas" or "darts" => " (neural architecture search is not built here)",
        _ => null,
    };

    // The branch keys are read here; the rest goes to the sampler, which is built once to check its options.
    private static ISampler WithBranches(string sampler, SamplerRequest request, Func<IReadOnlyDictionary<string, object?>, ISampler> create)
    {
        var branches = BranchAwareOptions.FromStudyFile(request.Options, sampler, defaultOn: false, out var rest);
        var first = create(rest);
        if (branches is null) return first;
        var made = false;
        return new BranchAwareSampler(() =>
        {
            if (made) return create(rest);
            made = true;
            return first;
        }, branches);
    }

    // tpe: options.gp_share (default 0) lets a Gaussian process propose that share of the trials after the first ten
    // (Portfolio.ModelShareSampler); the other options are TPE's.
    private static ISampler CreateTpe(IReadOnlyDictionary<string, object?> options, int? seed)
    {
        var share = 0.0;
        if (options.TryGetValue("gp_share", out var raw))
            share = raw is not bool && ParamValues.TryToDouble(raw, out var x) && x is >= 0 and < 1 ? x
                : throw new ArgumentException($"sampler 'tpe': option 'gp_share' must be a number in [0, 1), got {ParamValues.Format(raw)}");
        var tpe = new Tpe.TpeSampler(Tpe.TpeOptions.FromStudyFile(options.Where(kv => kv.Key != "gp_share").ToDictionary(), seed));
        return share > 0 ? new Portfolio.ModelShareSampler(tpe, new Gp.GpSampler(seed), share) : tpe;
    }

    // gp: options.rugged_fallback (default false) hands the run to grouped multivariate TPE when the GP's own fit finds the
    // landscape rugged (Portfolio.RuggedFallbackSampler), tuned by the rugged_* options (RuggedFallbackOptions.FromDictionary);
    // the other options are the GP's.
    private static ISampler CreateGp(IReadOnlyDictionary<string, object?> options, int? seed)
    {
        var rugged = false;
        if (options.TryGetValue("rugged_fallback", out var raw))
            rugged = raw switch
            {
                bool b => b,
                string s when bool.TryParse(s, out var p) => p,
                _ => throw new ArgumentException($"sampler 'gp': option 'rugged_fallback' must be true or false, got '{raw}'"),
            };
        var ruggedOptions = Portfolio.RuggedFallbackOptions.FromDictionary(options);
        if (!rugged && options.Keys.FirstOrDefault(k => k.StartsWith("rugged_", StringComparison.Ordinal) && k != "rugged_fallback") is { } stray)
            throw new ArgumentException($"sampler 'gp': option '{stray}' needs rugged_fallback: true");
        var gp = new Gp.GpSampler(seed, Gp.GpOptions.FromDictionary(options.Where(kv => !kv.Key.StartsWith("rugged_", StringComparison.Ordinal)).ToDictionary()));
        return rugged
            ? new Portfolio.RuggedFallbackSampler(gp, new Tpe.TpeSampler(new Tpe.TpeOptions { Seed = seed, Multivariate = true, Group = true }), ruggedOptions)
            : gp;
    }

    // sobol: jointly over the study's declarative space when known; options.scramble (default true).
    private static SobolSampler CreateSobol(SamplerRequest request)
    {
        CheckOptions(request, "sobol", "scramble");
        return new SobolSampler(request.Seed, request.Space, OptionBool(request, "sobol", "scramble", true));
    }

    // grid: options.values ({ name: [v1, v2, ...] }) when given, else the study's declarative space; options.shuffle.
    private static GridSampler CreateGrid(SamplerRequest request)
    {
        CheckOptions(request, "grid", "values", "shuffle");
        var shuffle = OptionBool(request, "grid", "shuffle", false);
        if (request.Options.TryGetValue("values", out var raw) && raw is not null)
        {
            var values = new Dictionary<string, IReadOnlyList<object?>>(StringComparer.Ordinal);
            foreach (var (name, list) in AsMap(raw) ?? throw new ArgumentException("sampler 'grid': option 'values' must map each parameter to a list of values"))
                values[name] = AsList(list) ?? throw new ArgumentException($"sampler 'grid': option 'values.{name}' must be a list of values");
            // Checked against the study's space when it is known: a misspelt name or a value outside its distribution
            // would otherwise fail every trial that takes it, at run time.
            if (request.Space is { } space)
                foreach (var (name, list) in values)
                    foreach (var value in list)
                    {
                        try { space.CoerceValues(new Dictionary<string, object?> { [name] = value }); }
                        catch (SearchSpaceException e) { throw new ArgumentException($"sampler 'grid': option 'values.{name}': {e.Message}"); }
                    }
            return new GridSampler(values, request.Seed, shuffle);
        }
        return new GridSampler(request.Space ?? throw new ArgumentException("sampler 'grid' needs the study's space or option 'values'"), request.Seed, shuffle);
    }

    // bohb: TPE per budget level; pair it with an asha or hyperband scheduler over the same resources (min, max, reduction).
    private static Bohb.BohbSampler CreateBohb(SamplerRequest request)
    {
        CheckOptions(request, "bohb", "min", "max", "reduction", "random_fraction", "min_points", "bandwidth_factor", "level_value", "level_choice", "weight_samples", "dilution_guard");
        double? Number(string key) => OptionNumber(request, "bohb", key);
        var o = new Bohb.BohbOptions { Seed = request.Seed };
        if (Number("min") is { } min) o = o with { MinResource = (long)min };
        if (Number("max") is { } max) o = o with { MaxResource = (long)max };
        if (Number("reduction") is { } eta) o = o with { ReductionFactor = eta };
        if (Number("random_fraction") is { } fraction) o = o with { RandomFraction = fraction };
        if (Number("min_points") is { } points) o = o with { MinPointsInModel = (int)points };
        if (Number("bandwidth_factor") is { } bandwidth) o = o with { BandwidthFactor = bandwidth };
        if (Number("weight_samples") is { } samples) o = o with { WeightSamples = samples >= 1 && samples <= int.MaxValue && samples == Math.Floor(samples) ? (int)samples
            : throw new ArgumentException($"sampler 'bohb': option 'weight_samples' must be a whole number ≥ 1, got {ParamValues.Format(request.Options["weight_samples"])}") };
        o = o with { DilutionGuard = OptionBool(request, "bohb", "dilution_guard", o.DilutionGuard) };
        if (request.Options.TryGetValue("level_choice", out var levelChoice) && levelChoice is not null)
            o = o with
            {
                LevelChoice = ParamValues.Normalize(levelChoice) switch
                {
                    "largest" => Bohb.BohbLevelChoice.Largest,
                    "rank_weighted" => Bohb.BohbLevelChoice.RankWeighted,
                    "best_ranked" => Bohb.BohbLevelChoice.BestRanked,
                    _ => throw new ArgumentException($"sampler 'bohb': option 'level_choice' must be largest, rank_weighted or best_ranked, got {ParamValues.Format(levelChoice)}"),
                },
            };
        if (OptionLevelValue(request, "bohb") is { } levelValue) o = o with { LevelValue = levelValue };
        o.Validate(new OptionRules("sampler 'bohb'", nameof(Bohb.BohbOptions), Bohb.BohbOptions.KeyOf));
        return new Bohb.BohbSampler(o);
    }

    // mobster: a GP over (params, resource) on the rung values; pair it with an asha or hyperband scheduler over the same resources.
    private static Mobster.MobsterSampler CreateMobster(SamplerRequest request)
    {
        const string name = "mobster";
        CheckOptions(request, name, "min", "max", "reduction", "random_fraction", "min_points", "level_value", "max_training_points", "max_fit_points", "refit_interval", "candidate_count", "refinement_starts", "pending_level", "cost_exponent");
        double? Number(string key) => OptionNumber(request, name, key);
        int? Whole(string key) => Number(key) is not { } v ? null
            : v == Math.Floor(v) && v >= int.MinValue && v <= int.MaxValue ? (int)v
            : throw new ArgumentException($"sampler '{name}': option '{key}' must be a whole number, got {ParamValues.Format(request.Options[key])}");
        var o = new Mobster.MobsterOptions { Seed = request.Seed };
        if (Number("min") is { } min) o = o with { MinResource = (long)min };
        if (Number("max") is { } max) o = o with { MaxResource = (long)max };
        if (Number("reduction") is { } eta) o = o with { ReductionFactor = eta };
        if (Number("random_fraction") is { } fraction) o = o with { RandomFraction = fraction };
        if (Number("cost_exponent") is { } exponent) o = o with { CostExponent = exponent };
        if (request.Options.TryGetValue("pending_level", out var pendingLevel) && pendingLevel is not null)
            o = o with
            {
                PendingLevel = ParamValues.Normalize(pendingLevel) switch
                {
                    "next_level" => Mobster.MobsterPendingLevel.NextLevel,
                    "acquisition_level" => Mobster.MobsterPendingLevel.AcquisitionLevel,
                    _ => throw new ArgumentException($"sampler '{name}': option 'pending_level' must be next_level or acquisition_level, got {ParamValues.Format(pendingLevel)}"),
                },
            };
        if (Whole("min_points") is { } points) o = o with { MinPointsInModel = points };
        if (Whole("max_training_points") is { } training) o = o with { MaxTrainingPoints = training };
        if (Whole("max_fit_points") is { } fit) o = o with { MaxFitPoints = fit };
        if (Whole("refit_interval") is { } refit) o = o with { RefitInterval = refit };
        if (Whole("candidate_count") is { } candidates) o = o with { CandidateCount = candidates };
        if (Whole("refinement_starts") is { } starts) o = o with { RefinementStarts = starts };
        if (OptionLevelValue(request, name) is { } levelValue) o = o with { LevelValue = levelValue };
        o.Validate(new OptionRules($"sampler '{name}'", nameof(Mobster.MobsterOptions), Mobster.MobsterOptions.KeyOf));
        return new Mobster.MobsterSampler(o);
    }

    // Random search has no options but its seed (taken out above); a misspelt seed must not leave the run silently unseeded.
    private static RandomSampler CreateRandom(SamplerRequest request)
    {
        CheckOptions(request, "random", "seed");
        return new RandomSampler(request.Seed);
    }

    private static void CheckOptions(SamplerRequest request, string sampler, params string[] known)
    {
        OptionErrors.CheckKnown($"sampler '{sampler}'", request.Options.Keys, known);
    }

    // A finite number, or null when the key is absent or null; bohb and mobster read their resource levels with it.
    private static double? OptionNumber(SamplerRequest request, string sampler, string key)
    {
        if (!request.Options.TryGetValue(key, out var raw) || raw is null) return null;
        return ParamValues.TryToDouble(raw, out var x) && double.IsFinite(x) ? x
            : throw new ArgumentException($"sampler '{sampler}': option '{key}' must be a number, got {ParamValues.Format(raw)}");
    }

    // Which value a budget-level sampler (bohb, mobster) fits at a level; null when the key is absent or null.
    private static Bohb.BohbLevelValue? OptionLevelValue(SamplerRequest request, string sampler)
    {
        if (!request.Options.TryGetValue("level_value", out var raw) || raw is null) return null;
        return ParamValues.Normalize(raw) switch
        {
            "at_level" => Bohb.BohbLevelValue.AtLevel,
            "best_so_far" => Bohb.BohbLevelValue.BestSoFar,
            _ => throw new ArgumentException($"sampler '{sampler}': option 'level_value' must be at_level or best_so_far, got {ParamValues.Format(raw)}"),
        };
    }

    private static bool OptionBool(SamplerRequest request, string sampler, string key, bool fallback)
    {
        if (!request.Options.TryGetValue(key, out var raw) || raw is null) return fallback;
        return ParamValues.Normalize(raw) switch
        {
            bool b => b,
            string s when bool.TryParse(s, out var b) => b,
            _ => throw new ArgumentException($"sampler '{sampler}': option '{key}' must be true or false, got {ParamValues.Format(raw)}"),
        };
    }

    private static IEnumerable<(string, object?)>? AsMap(object raw) => raw switch
    {
        IEnumerable<KeyValuePair<string, object?>> typed => typed.Select(kv => (kv.Key, kv.Value)),
        IDictionary untyped => untyped.Cast<DictionaryEntry>().Select(e => (Convert.ToString(e.Key, System.Globalization.CultureInfo.InvariantCulture) ?? "", e.Value)),
        System.Text.Json.JsonElement { ValueKind: System.Text.Json.JsonValueKind.Object } e => e.EnumerateObject().Select(p => (p.Name, (object?)p.Value)),
        _ => null,
    };

    private static IReadOnlyList<object?>? AsList(object? raw) => raw switch
    {
        System.Text.Json.JsonElement { ValueKind: System.Text.Json.JsonValueKind.Array } e => e.EnumerateArray().Select(v => ParamValues.Normalize(v)).ToArray(),
        string or null => null,
        IEnumerable items => items.Cast<object?>().Select(ParamValues.Normalize).ToArray(),
        _ => null,
    };
}
