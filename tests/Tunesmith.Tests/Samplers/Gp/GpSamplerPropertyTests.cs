using FsCheck.Xunit;
using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Samplers;
using Tunesmith.Samplers.Gp;
using Tunesmith.Spaces;

namespace Tunesmith.Tests.Samplers.Gp;

public sealed class GpSamplerPropertyTests
{
    [Property(MaxTest = 25)]
    public bool Gp_proposals_respect_bounds_step_log_and_choices_on_random_spaces(int[] kinds, int a, int b, int c, int seed)
    {
        var space = new List<(string Name, Distribution Distribution)>();
        for (var i = 0; i < Math.Clamp(kinds.Length, 1, 5); i++)
            space.Add(($"p{i}", SamplerPropertyTests.MakeDistribution(kinds.Length == 0 ? a : kinds[i], a + 31 * i, b + 17 * i, c + 7 * i)));
        var sampler = new GpSampler(seed, new GpOptions { NStartupTrials = 4, CandidateCount = 64, RefinementStarts = 2 });
        var study = Study.Create($"gp-property-{Guid.NewGuid():N}", sampler: sampler);
        // An arbitrary but deterministic objective of the values, so the model has something to fit.
        study.Optimize(t => space.Sum(p => (ParamValues.Format(t.Suggest(p.Name, p.Distribution)).GetHashCode(StringComparison.Ordinal) & 1023) / 1024.0), trials: 8);

        var history = new StudyHistory(study.Name, Direction.Minimize);
        history.Apply(new Tunesmith.Trials.TrialChanges(study.Trials, 0));
        for (var n = 0; n < 3; n++)
        {
            var context = new SamplingContext(history, new FrozenTrial { Id = 1000 + n, Number = 1000 + n, State = TrialState.Running }, TrialRandom.Create(seed, 1000 + n));
            var relative = sampler.InferRelativeSearchSpace(context);
            foreach (var (name, value) in sampler.SampleRelative(context, relative))
                if (!SamplerPropertyTests.Respects(relative[name], value)) return false;
        }
        return true;
    }
}
