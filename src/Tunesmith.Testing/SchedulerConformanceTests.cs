using Tunesmith.Schedulers;
using Tunesmith.Spaces;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Testing;

/// <summary>
/// The scheduler contract (<see cref="IScheduler"/>), proved against an implementation on many generated study
/// histories: derive a test class, make <see cref="CreateScheduler"/> return your scheduler, and it inherits every test.
/// The contract: decisions are a pure, deterministic function of the history, the report and the seed (so several
/// workers agree and the simulator reproduces a run); they do not depend on the direction's sign convention; a trial alone
/// in its study is never stopped; an exploit names a trial of the history that has a checkpoint, never the trial itself,
/// and every parameter of the source within its distribution; only Paused trials are resumed, after their last step.
/// </summary>
public abstract class SchedulerConformanceTests
{
    /// <summary>How many generated histories each test runs on.</summary>
    protected virtual int Histories => 40;

    /// <summary>A fresh scheduler seeded with <paramref name="seed"/> (a scheduler without randomness may ignore it).</summary>
    protected abstract IScheduler CreateScheduler(int seed);

    /// <summary>The steps trials report at in generated histories (1..this); set it to cover your scheduler's decision points.</summary>
    protected virtual int MaxStep => 27;

    private static readonly IReadOnlyDictionary<string, Distribution> Space = new Dictionary<string, Distribution>
    {
        ["x"] = new FloatDistribution(0, 1),
        ["lr"] = new FloatDistribution(1e-4, 1, Log: true),
        ["n"] = new IntDistribution(1, 8),
        ["c"] = new CategoricalDistribution(["a", "b", "c"]),
    };

    /// <summary>A random history: trials in every state with random curves, some with checkpoints, paused ones at their last step.</summary>
    protected StudyHistory GenerateHistory(Random random, Direction direction, out FrozenTrial reporting, out long step, out double value)
    {
        var count = random.Next(0, 30);
        var trials = new List<FrozenTrial>();
        for (var n = 0; n < count; n++)
        {
            var state = (TrialState)random.Next(0, 6);
            trials.Add(Generate(random, n, state == TrialState.Waiting ? TrialState.Running : state));
        }
        step = random.Next(1, MaxStep + 1);
        var mine = Generate(random, count, TrialState.Running, step);
        reporting = mine;
        value = mine.Intermediate[step];
        return StudyHistory.Of("conformance", direction, trials.Append(mine));
    }

    private FrozenTrial Generate(Random random, int number, TrialState state, long? lastStep = null)
    {
        var last = lastStep ?? random.Next(1, MaxStep + 1);
        var level = random.NextDouble();
        var intermediate = new Dictionary<long, double>();
        for (long s = 1; s <= last; s++) intermediate[s] = Math.Round(level * Math.Log(1 + s) + 0.1 * random.NextDouble(), 6);
        var parameters = new Dictionary<string, object?>
        {
            ["x"] = random.NextDouble(), ["lr"] = Math.Exp(Math.Log(1e-4) + random.NextDouble() * Math.Log(1e4)),
            ["n"] = (long)random.Next(1, 9), ["c"] = new[] { "a", "b", "c" }[random.Next(3)],
        };
        var system = new Dictionary<string, object?>();
        if (random.NextDouble() < 0.5) system[SystemAttributeKeys.CheckpointStep] = (long)random.Next(1, (int)last + 1);
        if (state == TrialState.Paused) system[SystemAttributeKeys.PausedStep] = last;
        return new FrozenTrial
        {
            Id = number + 1, Number = number, State = state, Params = parameters, Distributions = Space,
            Intermediate = intermediate, SystemAttributes = system,
            Value = state == TrialState.Complete ? intermediate[last] : null,
        };
    }

    private static StudyHistory Mirror(StudyHistory history)
    {
        var flipped = history.Direction == Direction.Minimize ? Direction.Maximize : Direction.Minimize;
        return StudyHistory.Of(history.StudyName, flipped, history.Trials.Select(Mirror));
    }

    private static FrozenTrial Mirror(FrozenTrial t) => t with
    {
        Intermediate = t.Intermediate.ToDictionary(kv => kv.Key, kv => -kv.Value),
        Value = -t.Value,
    };

    private IEnumerable<(int Seed, StudyHistory History, FrozenTrial Trial, long Step, double Value)> Cases()
    {
        for (var i = 0; i < Histories; i++)
        {
            var random = new Random(1000 + i);
            var history = GenerateHistory(random, i % 2 == 0 ? Direction.Minimize : Direction.Maximize, out var trial, out var step, out var value);
            yield return (i, history, trial, step, value);
        }
    }

    /// <summary>The scheduler has a short name for reports.</summary>
    [Fact]
    public void It_has_a_name()
    {
        var name = CreateScheduler(0).Name;
        Assert.False(string.IsNullOrWhiteSpace(name));
        Assert.DoesNotContain(' ', name);
    }

    /// <summary>Two schedulers with the same seed decide alike, and one scheduler asked twice answers alike: no hidden state.</summary>
    [Fact]
    public void Decisions_are_reproducible_under_a_seed_and_carry_no_state_between_calls()
    {
        var a = CreateScheduler(7);
        var b = CreateScheduler(7);
        var cases = Cases().ToList();
        var first = cases.Select(c => a.Decide(c.History, c.Trial, c.Step, c.Value)).ToList();
        var starts = cases.Select(c => a.SuggestStart(c.History)).ToList();
        var finishes = cases.Select(c => a.SuggestFinish(c.History)).ToList();
        for (var i = cases.Count - 1; i >= 0; i--)
        {
            var c = cases[i];
            Assert.Equal(first[i], b.Decide(c.History, c.Trial, c.Step, c.Value));
            Assert.Equal(first[i], a.Decide(c.History, c.Trial, c.Step, c.Value));
            Assert.Equal(starts[i], b.SuggestStart(c.History));
            Assert.Equal(finishes[i], b.SuggestFinish(c.History));
        }
    }

    /// <summary>Minimizing v and maximizing −v are the same study: the same decisions.</summary>
    [Fact]
    public void Decisions_do_not_depend_on_the_direction_convention()
    {
        var scheduler = CreateScheduler(3);
        foreach (var c in Cases())
        {
            var mirrored = Mirror(c.History);
            Assert.Equal(scheduler.Decide(c.History, c.Trial, c.Step, c.Value), scheduler.Decide(mirrored, Mirror(c.Trial), c.Step, -c.Value));
            Assert.Equal(scheduler.SuggestStart(c.History), scheduler.SuggestStart(mirrored));
            Assert.Equal(scheduler.SuggestFinish(c.History), scheduler.SuggestFinish(mirrored));
        }
    }

    /// <summary>A trial alone in its study is never stopped and has no one to exploit.</summary>
    [Fact]
    public void A_trial_alone_is_never_stopped_or_exploiting()
    {
        var scheduler = CreateScheduler(1);
        for (var i = 0; i < Histories; i++)
        {
            var random = new Random(i);
            var trial = Generate(random, 0, TrialState.Running, random.Next(1, MaxStep + 1));
            var history = StudyHistory.Of("alone", i % 2 == 0 ? Direction.Minimize : Direction.Maximize, [trial]);
            foreach (var (step, value) in trial.Intermediate)
            {
                var decision = scheduler.Decide(history, trial, step, value);
                Assert.IsNotType<SchedulerDecision.StopDecision>(decision);
                Assert.IsNotType<SchedulerDecision.ExploitDecision>(decision);
            }
        }
    }

    /// <summary>An exploit copies a checkpointed trial of the history, not the trial itself, with params inside their distributions.</summary>
    [Fact]
    public void An_exploit_names_a_checkpointed_source_and_valid_params()
    {
        var scheduler = CreateScheduler(5);
        foreach (var c in Cases())
        {
            if (scheduler.Decide(c.History, c.Trial, c.Step, c.Value) is not SchedulerDecision.ExploitDecision exploit) continue;
            Assert.NotEqual(c.Trial.Number, exploit.FromTrialNumber);
            var source = Assert.Single(c.History.Trials, t => t.Number == exploit.FromTrialNumber);
            Assert.True(source.SystemAttributes.TryGetValue(SystemAttributeKeys.CheckpointStep, out var checkpoint) && checkpoint is long at,
                $"trial {source.Number} has no checkpoint to copy");
            Assert.Equal((long)checkpoint!, exploit.FromStep);
            Assert.Equal(source.Params.Keys.Order(), exploit.NewParams.Keys.Order());
            foreach (var (name, v) in exploit.NewParams)
                Assert.True(source.Distributions[name].Contains(v), $"{name} = {ParamValues.Format(v)} is outside {source.Distributions[name].Describe()}");
        }
    }

    /// <summary>Only a Paused trial is resumed, after the last step it reported, to start or to finish a study.</summary>
    [Fact]
    public void Only_paused_trials_are_resumed_after_their_last_step()
    {
        var scheduler = CreateScheduler(2);
        foreach (var c in Cases())
        {
            foreach (var suggestion in new[] { scheduler.SuggestStart(c.History), scheduler.SuggestFinish(c.History) })
            {
                if (suggestion is not StartSuggestion.Resume resume) continue;
                var paused = Assert.Single(c.History.Trials, t => t.Number == resume.TrialNumber);
                Assert.Equal(TrialState.Paused, paused.State);
                Assert.Equal(paused.Intermediate.Keys.Max(), resume.FromStep);
            }
        }
    }
}
