using System.Globalization;
using System.Reflection;
using System.Text;
using Tunesmith.Samplers;
using Tunesmith.Samplers.Bohb;
using Tunesmith.Samplers.Mobster;
using Tunesmith.Schedulers;
using Tunesmith.Schedulers.Asha;
using Tunesmith.Schedulers.Hyperband;
using Tunesmith.Simulation;
using Tunesmith.Simulation.Benchmarks;

namespace Tunesmith.Bench;

/// <summary>
/// Chooses the settings of the simulated strategies on the development tasks (issue 20): each variant is a strategy with
/// option overrides, e.g. <c>bohb:b.RandomFraction=0.33,t.BandwidthScale=3</c> (<c>s.</c> the scheduler's options record,
/// <c>b.</c> BohbOptions, <c>t.</c> BohbOptions.Tpe, <c>m.</c> MobsterOptions). Prints each variant's median time to target per benchmark and the
/// geometric and arithmetic means of (first variant's median ÷ the variant's median) over the benchmarks.
/// </summary>
internal static class SimulatorTune
{
    public static int Run(IReadOnlyList<string> benchmarks, IReadOnlyList<string> variants, int seeds, int firstSeed, int workers,
        IReadOnlyDictionary<string, TimeSpan> budgets, int parallel, string? data, string? output)
    {
        using var catalog = SimulatorStudy.OpenCatalog(data);
        var seedList = Enumerable.Range(firstSeed, seeds).ToArray();
        var medians = new double[variants.Count, benchmarks.Count];
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"seeds {firstSeed}..{firstSeed + seeds - 1}, {workers} workers; median time to target in seconds (reached/seeds)");
        text.AppendLine("| variant | " + string.Join(" | ", benchmarks) + " | geo-mean speed-up vs first | arith-mean |");
        text.AppendLine("|---|" + string.Concat(Enumerable.Repeat("---|", benchmarks.Count + 2)));
        for (var b = 0; b < benchmarks.Count; b++)
        {
            var benchmark = catalog.Open(benchmarks[b]);
            var name = benchmarks[b];
            var budget = SimulatorStudy.BudgetFor(budgets, name);
            var options = new SimulationOptions { Workers = workers, TimeBudget = budget, Target = SimulationStudy.DefaultTarget(benchmark), StopAtTarget = true };
            for (var v = 0; v < variants.Count; v++)
            {
                var summary = SimulationStudy.Run(benchmark, Variant(variants[v]), options, seedList, parallel);
                medians[v, b] = summary.MedianTimeToTargetSeconds ?? double.PositiveInfinity;
                Console.Error.WriteLine($"{name} {variants[v]}: {medians[v, b]:0} s ({summary.Reached}/{seeds})");
            }
        }
        for (var v = 0; v < variants.Count; v++)
        {
            var ratios = Enumerable.Range(0, benchmarks.Count).Select(b => medians[0, b] / medians[v, b]).ToArray();
            var finite = ratios.Where(r => double.IsFinite(r) && r > 0).ToArray();
            var geo = finite.Length == 0 ? double.NaN : Math.Exp(finite.Average(Math.Log));
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {variants[v]} | {string.Join(" | ", Enumerable.Range(0, benchmarks.Count).Select(b => medians[v, b].ToString("0", CultureInfo.InvariantCulture)))} | {geo:0.00} | {(finite.Length == 0 ? double.NaN : finite.Average()):0.00} |");
        }
        Console.WriteLine(text.ToString());
        if (output is not null) File.AppendAllText(output, text + Environment.NewLine);
        return 0;
    }

    /// <summary>A strategy with option overrides: <c>scheduler+sampler:prefix.Property=value,...</c>.</summary>
    public static SimulationStrategy Variant(string spec)
    {
        var colon = spec.IndexOf(':', StringComparison.Ordinal);
        var names = (colon < 0 ? spec : spec[..colon]).Split('+');
        var overrides = colon < 0 ? [] : spec[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries).Select(o => o.Split('=')).ToArray();
        var scheduler = names[0];
        var sampler = names.Length > 1 ? names[1] : scheduler is "bohb" or "hypertune" or "mobster" ? scheduler : "random";
        var baseline = SimulationStrategies.Create(scheduler, sampler);
        IEnumerable<(string Property, string Value)> With(string prefix) =>
            overrides.Where(o => o[0].StartsWith(prefix, StringComparison.Ordinal)).Select(o => (o[0][prefix.Length..], o[1]));
        return baseline with
        {
            CreateSampler = (benchmark, seed) =>
            {
                if (sampler == "mobster")
                    return new MobsterSampler(Apply(((MobsterSampler)baseline.CreateSampler(benchmark, seed)).Options with { }, With("m.")));
                if (sampler is not ("bohb" or "hypertune")) return baseline.CreateSampler(benchmark, seed);
                var options = ((BohbSampler)baseline.CreateSampler(benchmark, seed)).Options;
                var tpe = Apply(options.Tpe with { }, With("t."));
                return new BohbSampler(Apply(options with { Tpe = tpe }, With("b.")));
            },
            CreateScheduler = (benchmark, seed) =>
            {
                IScheduler? made = baseline.CreateScheduler(benchmark, seed);
                return made switch
                {
                    AshaScheduler asha => new AshaScheduler(Apply(asha.Options with { }, With("s."))),
                    HyperbandScheduler hyperband => new HyperbandScheduler(Apply(hyperband.Options with { }, With("s."))),
                    _ => made,
                };
            },
        };
    }

    private static T Apply<T>(T target, IEnumerable<(string Property, string Value)> overrides) where T : class
    {
        foreach (var (name, text) in overrides)
        {
            var property = typeof(T).GetProperty(name, BindingFlags.Public | BindingFlags.Instance)
                ?? throw new ArgumentException($"{typeof(T).Name} has no property '{name}'");
            var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            object? value = text == "null" ? null : type.IsEnum ? Enum.Parse(type, text) : Convert.ChangeType(text, type, CultureInfo.InvariantCulture);
            property.SetValue(target, value);
        }
        return target;
    }
}

/// <summary>
/// Diagnostic: how many of a run's trials replay a tabulated configuration the run already replayed (a table's curve is
/// the same every time, so a repeat teaches nothing new). Counts distinct curves per run until the target.
/// </summary>
internal static class SimulatorRepeats
{
    public static int Run(string benchmarkName, IReadOnlyList<string> variants, int seeds, int firstSeed, TimeSpan budget, string? data)
    {
        using var catalog = SimulatorStudy.OpenCatalog(data);
        var benchmark = catalog.Open(benchmarkName);
        var options = new SimulationOptions { Workers = 8, TimeBudget = budget, Target = SimulationStudy.DefaultTarget(benchmark), StopAtTarget = true };
        Console.WriteLine("| variant | mean trials started | mean distinct configurations | share of repeats |");
        Console.WriteLine("|---|---|---|---|");
        foreach (var spec in variants)
        {
            var strategy = SimulatorTune.Variant(spec);
            var (started, distinct) = (0.0, 0.0);
            for (var seed = firstSeed; seed < firstSeed + seeds; seed++)
            {
                var counting = new Counting(benchmark);
                var run = new LearningCurveSimulator(counting, strategy.CreateSampler(counting, seed), strategy.CreateScheduler(counting, seed), options).Run();
                started += run.TrialsStarted;
                distinct += counting.Distinct;
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {spec} | {started / seeds:0} | {distinct / seeds:0} | {1 - distinct / started:P0} |"));
        }
        return 0;
    }

    private sealed class Counting(ILearningCurveBenchmark inner) : ILearningCurveBenchmark
    {
        private readonly HashSet<LearningCurve> _seen = new(ReferenceEqualityComparer.Instance);
        public int Distinct => _seen.Count;
        public string Name => inner.Name;
        public string Metric => inner.Metric;
        public Tunesmith.Trials.Direction Direction => inner.Direction;
        public int MaxEpoch => inner.MaxEpoch;
        public IReadOnlyList<KeyValuePair<string, Tunesmith.Spaces.Distribution>> Space => inner.Space;
        public double BestValue => inner.BestValue;
        public LearningCurve Curve(IReadOnlyDictionary<string, object?> parameters)
        {
            var curve = inner.Curve(parameters);
            _seen.Add(curve);
            return curve;
        }
        public LearningCurve NewTrialCurve(IReadOnlyDictionary<string, object?> parameters, StartedConfigurations started)
        {
            var curve = inner.NewTrialCurve(parameters, started);
            _seen.Add(curve);
            return curve;
        }
    }
}

/// <summary>
/// Diagnostic (YAHPO tasks): where the configurations that reach the target lie. For each seed, the trial whose report
/// reached the target; prints its parameters in unit coordinates (log parameters in log space) and counts
/// how many of them sit at an edge of the space (within 2 % of the range) — a sign of a surrogate exploited outside its data.
/// </summary>
internal static class SimulatorHits
{
    public static int Run(string benchmarkName, IReadOnlyList<string> variants, int seeds, int firstSeed, TimeSpan budget, string? data)
    {
        using var catalog = SimulatorStudy.OpenCatalog(data);
        var benchmark = catalog.Open(benchmarkName);
        var target = SimulationStudy.DefaultTarget(benchmark);
        var options = new SimulationOptions { Workers = 8, TimeBudget = budget, Target = target, StopAtTarget = true };
        Console.WriteLine($"{benchmarkName}, target {target:G6}; parameters in unit coordinates: {string.Join(", ", benchmark.Space.Select(p => p.Key))}");
        foreach (var spec in variants)
        {
            var strategy = SimulatorTune.Variant(spec);
            var edges = 0.0;
            var found = 0;
            for (var seed = firstSeed; seed < firstSeed + seeds; seed++)
            {
                var simulator = new LearningCurveSimulator(benchmark, strategy.CreateSampler(benchmark, seed), strategy.CreateScheduler(benchmark, seed), options);
                simulator.Run();
                // The run stops at the report that reaches the target, before it is stored: the trial is one still running
                // whose curve reaches the target within one epoch after its last stored report (the surrogate's curves are
                // the same on every lookup; tables are not, so this is for YAHPO tasks).
                bool Reaches(double v) => benchmark.Direction == Tunesmith.Trials.Direction.Maximize ? v >= target : v <= target;
                var hit = simulator.History.Trials.Where(t => t.State == Tunesmith.Trials.TrialState.Running)
                    .FirstOrDefault(t => benchmark.Curve(t.Params).Values.Take((int)(t.LastIntermediate?.Step ?? 0) + 1).Any(Reaches));
                if (hit is null) continue;
                found++;
                var unit = benchmark.Space.Select(p => p.Value switch
                {
                    Tunesmith.Spaces.FloatDistribution f => f.ToUnit(Tunesmith.Spaces.ParamValues.ToDouble(hit.Params[p.Key])),
                    Tunesmith.Spaces.IntDistribution i => i.ToUnit(Tunesmith.Spaces.ParamValues.ToDouble(hit.Params[p.Key])),
                    _ => double.NaN,
                }).ToArray();
                var atEdge = unit.Count(u => u < 0.02 || u > 0.98);
                edges += atEdge;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{spec} seed {seed}: trial {hit.Number}, [{string.Join(", ", unit.Select(u => u.ToString("0.00", CultureInfo.InvariantCulture)))}], {atEdge} at an edge"));
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{spec}: {found} seeds reached the target; mean parameters at an edge {edges / Math.Max(found, 1):0.0} of {benchmark.Space.Count}"));
        }
        return 0;
    }
}
