using FsCheck.Xunit;
using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Samplers.CmaEs;
using Tunesmith.Spaces;

namespace Tunesmith.Tests.Samplers.CmaEs;

public sealed class CmaEsPropertyTests
{
    [Property(MaxTest = 40)]
    public bool CmaEs_proposals_respect_bounds_step_log_and_choices_on_random_spaces(int[] kinds, int a, int b, int c, int seed, bool maximize)
    {
        var space = new List<(string Name, Distribution Distribution)>();
        for (var i = 0; i < Math.Clamp(kinds.Length, 1, 6); i++)
            space.Add(($"p{i}", SamplerPropertyTests.MakeDistribution(kinds.Length == 0 ? 0 : kinds[i], a + 31 * i, b + 17 * i, c + 7 * i)));
        var study = Study.Create("cma-property", maximize ? Direction.Maximize : Direction.Minimize,
            new CmaEsSampler(new CmaEsOptions { Seed = seed, PopulationSize = 4 }));
        // A linear objective drives the search against the bounds, where repair matters most.
        study.Optimize(t => space.Sum(p => t.Suggest(p.Name, p.Distribution) switch
        {
            double d => d,
            long l => l,
            _ => 0.0,
        }), trials: 30);
        return study.Trials.All(t => t.State == TrialState.Complete
            && space.All(p => SamplerPropertyTests.Respects(p.Distribution, t.Params[p.Name])));
    }
}
