using FsCheck;
using FsCheck.Xunit;
using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Samplers;
using Tunesmith.Samplers.Sobol;
using Tunesmith.Spaces;

namespace Tunesmith.Tests.Samplers;

/// <summary>
/// Property tests on randomly generated distributions: samplers' proposals stay inside them, unit mappings round-trip,
/// and parameter values and distributions survive JSON.
/// </summary>
public sealed class SamplerPropertyTests
{
    private static readonly object?[] ChoicePool = ["adam", "sgd", 1L, 2.5, true, false, null, "", -3L, 0.0, "null", 1e-9];

    private static int Mod(int x, int n) => ((x % n) + n) % n;

    /// <summary>A valid distribution of any kind, built from arbitrary integers (so FsCheck can generate and shrink it).</summary>
    internal static Distribution MakeDistribution(int kind, int a, int b, int c)
    {
        switch (Mod(kind, 7))
        {
            case 0:
                var low = a / 16.0;
                return new FloatDistribution(low, low + 1e-3 + Mod(b, 10_000) / 8.0);
            case 1:
                var logLow = Math.Pow(10, -Mod(a, 9)) * (1 + Mod(c, 9));
                return new FloatDistribution(logLow, logLow * (1.5 + Mod(b, 100_000)), Log: true);
            case 2:
                var step = (1 + Mod(c, 40)) / 8.0;
                var stepLow = Mod(a, 4000) / 4.0 - 500;
                return new FloatDistribution(stepLow, stepLow + step * (1 + Mod(b, 60)), Step: step);
            case 3:
                var intLow = (long)a;
                return new IntDistribution(intLow, intLow + 1 + Mod(b, 500));
            case 4:
                var intLogLow = 1L + Mod(a, 100);
                return new IntDistribution(intLogLow, intLogLow + 1 + Mod(b, 1_000_000), Log: true);
            case 5:
                var intStep = 1L + Mod(c, 10);
                var intStepLow = (long)Mod(a, 2000) - 1000;
                return new IntDistribution(intStepLow, intStepLow + intStep * (1 + Mod(b, 60)), Step: intStep);
            default:
                var start = Mod(a, ChoicePool.Length);
                var count = 1 + Mod(b, ChoicePool.Length);
                return new CategoricalDistribution(Enumerable.Range(0, count).Select(i => ChoicePool[(start + i) % ChoicePool.Length]));
        }
    }

    /// <summary>Checks a value against a distribution without using its own <c>Contains</c>.</summary>
    internal static bool Respects(Distribution distribution, object? value) => distribution switch
    {
        FloatDistribution f => value is double x && x >= f.Low && x <= f.High
            && (f.Step is not { } s || Math.Abs((x - f.Low) / s - Math.Round((x - f.Low) / s)) < 1e-6),
        IntDistribution i => value is long n && n >= i.Low && n <= i.High && (n - i.Low) % i.Step == 0,
        CategoricalDistribution c => c.Choices.Any(choice => ParamValues.AreEqual(choice, value) && choice?.GetType() == value?.GetType()),
        _ => false,
    };

    private static SamplingContext Context(int trialNumber, int seed) =>
        new(new StudyHistory("property", Direction.Minimize),
            new FrozenTrial { Id = trialNumber, Number = trialNumber, State = TrialState.Running },
            TrialRandom.Create(seed, trialNumber));

    [Property(MaxTest = 300)]
    public bool Random_proposals_respect_bounds_step_log_and_choices(int kind, int a, int b, int c, int seed)
    {
        var distribution = MakeDistribution(kind, a, b, c);
        distribution.Validate("p");
        var sampler = new RandomSampler(seed);
        return Enumerable.Range(0, 20).All(n => Respects(distribution, sampler.SampleIndependent(Context(n, seed), "p", distribution)));
    }

    [Property(MaxTest = 200)]
    public bool Sobol_proposals_respect_bounds_step_log_and_choices(int[] kinds, int a, int b, int c, int seed)
    {
        var space = new SearchSpace();
        for (var i = 0; i < Math.Min(kinds.Length, 6); i++)
            space.Add($"p{i}", MakeDistribution(kinds[i], a + 31 * i, b + 17 * i, c + 7 * i));
        var sampler = new SobolSampler(seed, space);
        var outside = MakeDistribution(a, b, c, seed);
        for (var n = 0; n < 16; n++)
        {
            var context = Context(n, seed);
            var relative = sampler.InferRelativeSearchSpace(context);
            var values = sampler.SampleRelative(context, relative);
            foreach (var (name, value) in values)
                if (!Respects(relative[name], value)) return false;
            // A parameter the space does not declare is drawn at random, also inside its distribution.
            if (!Respects(outside, sampler.SampleIndependent(context, "undeclared", outside))) return false;
        }
        return true;
    }

    [Property(MaxTest = 300)]
    public bool Sobol_unit_mapping_lands_inside_every_distribution(int kind, int a, int b, int c, double u)
    {
        var distribution = MakeDistribution(kind, a, b, c);
        var position = double.IsFinite(u) ? Math.Abs(u) % 1.0 : 0.5;
        return Respects(distribution, SobolSampler.FromUnit(distribution, position))
            && Respects(distribution, SobolSampler.FromUnit(distribution, 0))
            && Respects(distribution, SobolSampler.FromUnit(distribution, Math.BitDecrement(1.0)));
    }

    [Property(MaxTest = 300)]
    public bool Float_unit_round_trip_returns_the_position(int a, int b, int c, bool log, double u)
    {
        var f = (FloatDistribution)MakeDistribution(log ? 1 : 0, a, b, c);
        var position = double.IsFinite(u) ? Math.Abs(u) % 1.0 : 0.5;
        return Math.Abs(f.ToUnit(f.FromUnit(position)) - position) < 1e-9;
    }

    [Property(MaxTest = 300)]
    public bool Int_and_stepped_float_values_round_trip_through_the_unit_interval(int kind, int a, int b, int c, int pick)
    {
        switch (MakeDistribution(new[] { 2, 3, 4, 5 }[Mod(kind, 4)], a, b, c))
        {
            case IntDistribution i:
                var v = i.Low + Mod(pick, (int)Math.Min(i.Count, int.MaxValue)) * i.Step;
                return i.FromUnit(i.ToUnit(v)) == v;
            case FloatDistribution { Step: { } s } f:
                var steps = (int)Math.Round((f.High - f.Low) / s);
                var x = f.Low + Mod(pick, steps + 1) * s;
                return Math.Abs(f.FromUnit(f.ToUnit(x)) - x) < 1e-9 * Math.Max(1, Math.Abs(x));
            default:
                return false;
        }
    }

    [Property(MaxTest = 300)]
    public bool Param_values_json_round_trip_keeps_value_and_type(long l, double d, string? s, bool flag, int integral)
    {
        if (s is not null && HasLoneSurrogate(s)) s = "text";
        var finite = double.IsFinite(d) ? d : 0.25;
        var values = new Dictionary<string, object?>
        {
            ["long"] = l,
            ["double"] = finite,
            ["integral_double"] = (double)integral,
            ["one"] = 1.0,
            ["string"] = s ?? "",
            ["bool"] = flag,
            ["null"] = null,
        };
        var back = ParamValues.FromJsonObject(ParamValues.ToJson(values));
        return values.Keys.SequenceEqual(back.Keys)
            && values.All(kv => Equals(kv.Value, back[kv.Key]) && kv.Value?.GetType() == back[kv.Key]?.GetType());
    }

    [Property(MaxTest = 300)]
    public bool Distribution_json_round_trip_gives_an_equal_distribution(int kind, int a, int b, int c)
    {
        var distribution = MakeDistribution(kind, a, b, c);
        var back = DistributionJson.Deserialize(DistributionJson.Serialize(distribution));
        return back.Equals(distribution) && back.GetHashCode() == distribution.GetHashCode();
    }

    private static bool HasLoneSurrogate(string s)
    {
        for (var i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) { i++; continue; }
            if (char.IsSurrogate(s[i])) return true;
        }
        return false;
    }
}
