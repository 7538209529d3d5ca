using FsCheck.Xunit;
using Tunesmith.Schedulers;
using Tunesmith.Schedulers.Pbt;
using Tunesmith.Spaces;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Tests.Schedulers;

/// <summary>
/// PBT on random populations that report, checkpoint and exploit in random interleavings, carried out by the rules the
/// command backend follows (a checkpoint is recorded with the params the trial runs with; an exploit copies the source's
/// checkpoint, takes the decision's params and clears the trial's own checkpoint record): whatever the order, a trial
/// continues with weights written by its source trial, of the step the decision names, and with exactly the params those
/// weights were trained with, perturbed.
/// </summary>
public sealed class PbtPropertyTests
{
    private sealed record Checkpoint(int Writer, long Step, double TrainedWithQ);

    private sealed class Member(int number, double q)
    {
        public int Number { get; } = number;
        public double Q { get; set; } = q;
        public long Step { get; set; }
        public Dictionary<long, double> Curve { get; } = [];
        public Checkpoint? Stored { get; set; }        // what its directory holds
        public long? CheckpointStep { get; set; }      // the system attribute the scheduler reads
        public long? ResumeStep { get; set; }
    }

    private static readonly FloatDistribution QRange = new(1e-3, 1e6, Log: true);

    [Property(MaxTest = 150)]
    public void A_continued_trials_params_and_checkpoint_always_come_from_the_same_source_trial(int seed) => Simulate(seed);

    /// <summary>
    /// The same rule end to end for in-process trials: real studies (in memory, several threads, random population,
    /// interval and seed) whose objectives save checkpoints through <c>trial.Report(step, value, checkpoint: …)</c>; every
    /// call that continues from a checkpoint checks that its weights were written by the trial it was restored from, at the
    /// step it resumes after, and trained with the params it now runs with divided by the perturbation factor.
    /// </summary>
    [Property(MaxTest = 12)]
    public void In_process_trials_continue_with_the_weights_and_params_of_the_same_source_checkpoint(int seed)
    {
        var random = new Random(seed);
        var run = InProcessPbt.RunAsync("memory:", null, seed, population: random.Next(2, 6), interval: random.Next(1, 4),
            trials: random.Next(3, 8), parallelism: random.Next(1, 5), steps: 8).GetAwaiter().GetResult();
        Assert.Empty(run.Violations);
        Assert.All(run.Trials, t => Assert.Equal(TrialState.Complete, t.State));
    }

    [Fact]
    public void The_simulated_populations_do_exploit()
    {
        // Guard against a vacuous property: the random populations exploit often.
        Assert.True(Enumerable.Range(0, 40).Sum(Simulate) > 40);
    }

    /// <summary>One random run; asserts the invariant at every exploit and returns how many there were.</summary>
    private static int Simulate(int seed)
    {
        var random = new Random(seed);
        var pbt = new PbtScheduler(new PbtOptions
        {
            PopulationSize = random.Next(2, 7), PerturbationInterval = random.Next(1, 4), QuantileFraction = 0.5,
            ResampleProbability = 0, PerturbationFactors = [2.0], Seed = seed,
        });
        var members = Enumerable.Range(0, random.Next(2, 7)).Select(n => new Member(n, Math.Round(0.01 + random.NextDouble(), 4))).ToList();
        var direction = random.Next(2) == 0 ? Direction.Minimize : Direction.Maximize;
        var exploits = 0;
        for (var e = 0; e < 120; e++)
        {
            var m = members[random.Next(members.Count)];
            m.Step++;
            m.Curve[m.Step] = Math.Round(random.NextDouble() * m.Q, 6);
            if (random.NextDouble() < 0.4)
            {
                m.Stored = new Checkpoint(m.Number, m.Step, m.Q); // checkpointed before the report, with its current params
                m.CheckpointStep = m.Step;
            }
            var history = StudyHistory.Of("pbt", direction, members.Select(Frozen));
            if (pbt.Decide(history, Frozen(m), m.Step, m.Curve[m.Step]) is not SchedulerDecision.ExploitDecision exploit) continue;

            exploits++;
            var source = members[exploit.FromTrialNumber];
            var copied = source.Stored;
            Assert.NotNull(copied); // never a source without a checkpoint
            Assert.Equal(source.Number, copied!.Writer);          // the weights were written by the source itself...
            Assert.Equal(exploit.FromStep, copied.Step);          // ...at the step the decision names...
            var newQ = (double)exploit.NewParams["q"]!;
            Assert.Equal(Math.Min(copied.TrainedWithQ * 2, QRange.High), newQ, 9); // ...with the params the trial continues with (× 2)
            m.Stored = copied;
            m.Q = newQ;
            m.CheckpointStep = null;
            m.ResumeStep = exploit.FromStep;
            m.Step = exploit.FromStep;
        }
        return exploits;
    }

    private static FrozenTrial Frozen(Member m)
    {
        var system = new Dictionary<string, object?>();
        if (m.CheckpointStep is { } c) system[SystemAttributeKeys.CheckpointStep] = c;
        if (m.ResumeStep is { } r) system[SystemAttributeKeys.ResumeStep] = r;
        return new FrozenTrial
        {
            Id = m.Number + 1, Number = m.Number, State = TrialState.Running,
            Params = new Dictionary<string, object?> { ["q"] = m.Q },
            Distributions = new Dictionary<string, Distribution> { ["q"] = QRange },
            Intermediate = m.Curve.Where(kv => kv.Key <= m.Step).ToDictionary(),
            SystemAttributes = system,
        };
    }

    [Fact]
    public void The_property_exercises_exploits()
    {
        // Guard against a vacuous property: over the seeds FsCheck draws from, exploits do happen.
        var pbt = new PbtScheduler(new PbtOptions { PopulationSize = 4, PerturbationInterval = 1, QuantileFraction = 0.5, ResampleProbability = 0, PerturbationFactors = [2.0] });
        var a = SchedulerTestHistory.Trial(0, TrialState.Running, new Dictionary<long, double> { [1] = 0.9 },
            new Dictionary<string, object?> { [SystemAttributeKeys.CheckpointStep] = 1L },
            new Dictionary<string, object?> { ["q"] = 0.5 }, new Dictionary<string, Distribution> { ["q"] = QRange });
        var b = SchedulerTestHistory.Trial(1, TrialState.Running, new Dictionary<long, double> { [1] = 0.1 },
            parameters: new Dictionary<string, object?> { ["q"] = 0.1 }, distributions: new Dictionary<string, Distribution> { ["q"] = QRange });
        var decision = pbt.Decide(StudyHistory.Of("pbt", Direction.Maximize, [a, b]), b, 1, 0.1);
        Assert.Equal(new SchedulerDecision.ExploitDecision(0, 1, new Dictionary<string, object?> { ["q"] = 1.0 }), decision);
        // Without a checkpoint on the better trial there is nothing to copy.
        var bare = a with { SystemAttributes = new Dictionary<string, object?>() };
        Assert.Equal(SchedulerDecision.Continue, pbt.Decide(StudyHistory.Of("pbt", Direction.Maximize, [bare, b]), b, 1, 0.1));
    }

    [Fact]
    public void A_finished_trial_is_out_of_the_population_neither_ranked_against_nor_copied()
    {
        // As in Ray Tune. Trial 0 finished at step 8 with a checkpoint; trial 1, at step 2, would otherwise take it over
        // and finish at once with a copy of trial 0's result.
        var pbt = new PbtScheduler(new PbtOptions { PopulationSize = 4, PerturbationInterval = 2, QuantileFraction = 0.5, ResampleProbability = 0, PerturbationFactors = [2.0] });
        FrozenTrial Member(int number, TrialState state, long step, double value, long? checkpoint) => SchedulerTestHistory.Trial(number, state,
            Enumerable.Range(1, (int)step).ToDictionary(s => (long)s, s => value * s / step),
            checkpoint is { } c ? new Dictionary<string, object?> { [SystemAttributeKeys.CheckpointStep] = c } : null,
            new Dictionary<string, object?> { ["q"] = value }, new Dictionary<string, Distribution> { ["q"] = QRange });
        var finished = Member(0, TrialState.Complete, 8, 0.9, checkpoint: 8);
        var young = Member(1, TrialState.Running, 2, 0.1, checkpoint: 2);
        Assert.Equal(SchedulerDecision.Continue, pbt.Decide(StudyHistory.Of("pbt", Direction.Maximize, [finished, young]), young, 2, 0.1));
        // The same trial still training (paused, or running) is a member, and copied.
        foreach (var state in new[] { TrialState.Running, TrialState.Paused })
        {
            var decision = pbt.Decide(StudyHistory.Of("pbt", Direction.Maximize, [finished with { State = state }, young]), young, 2, 0.1);
            Assert.Equal(0, Assert.IsType<SchedulerDecision.ExploitDecision>(decision).FromTrialNumber);
        }
        // A running trial is not ranked against a finished one's value either: alone, it has no one to copy.
        var weakFinished = Member(2, TrialState.Complete, 8, 0.05, checkpoint: 8);
        Assert.Equal(SchedulerDecision.Continue, pbt.Decide(StudyHistory.Of("pbt", Direction.Maximize, [finished, weakFinished, young]), young, 2, 0.1));
    }

    /// <summary>
    /// Ray Tune's <c>hyperparam_mutations</c>: with <see cref="PbtOptions.Mutations"/> set, an exploit perturbs or resamples
    /// only the listed parameters and takes every other one from the source unchanged, since the weights it continues from
    /// were trained with it (here a layer width). Before, every sampled parameter was perturbed, and a program's checkpoint
    /// of 4 hidden units was loaded with --hidden 8.
    /// </summary>
    [Property(MaxTest = 200)]
    public void With_mutations_an_exploit_changes_only_the_listed_parameters_and_copies_the_others_from_the_source(int seed, bool resampleAll)
    {
        var lr = new FloatDistribution(1e-3, 0.5, Log: true);
        var hidden = new CategoricalDistribution([4L, 8L, 16L]);
        var depth = new IntDistribution(1, 6);
        var pbt = new PbtScheduler(new PbtOptions
        {
            PopulationSize = 4, PerturbationInterval = 1, QuantileFraction = 0.5, Seed = seed,
            ResampleProbability = resampleAll ? 1 : 0.25, Mutations = ["lr"],
        });
        var random = new Random(seed);
        FrozenTrial Member(int number, double value, bool checkpoint) => SchedulerTestHistory.Trial(number, TrialState.Running,
            new Dictionary<long, double> { [1] = value },
            checkpoint ? new Dictionary<string, object?> { [SystemAttributeKeys.CheckpointStep] = 1L } : null,
            new Dictionary<string, object?> { ["lr"] = lr.FromUnit(random.NextDouble()), ["hidden"] = hidden.Choices[random.Next(3)], ["depth"] = (long)random.Next(1, 7) },
            new Dictionary<string, Distribution> { ["lr"] = lr, ["hidden"] = hidden, ["depth"] = depth });
        var best = Member(0, 0.9, checkpoint: true);
        var worst = Member(1, 0.1, checkpoint: true);
        var decision = Assert.IsType<SchedulerDecision.ExploitDecision>(pbt.Decide(StudyHistory.Of("pbt", Direction.Maximize, [best, worst]), worst, 1, 0.1));
        Assert.Equal(0, decision.FromTrialNumber);
        Assert.Equal(best.Params["hidden"], decision.NewParams["hidden"]);
        Assert.Equal(best.Params["depth"], decision.NewParams["depth"]);
        Assert.True(lr.Contains(decision.NewParams["lr"]), $"lr {decision.NewParams["lr"]} outside {lr}");

        // Without mutations every sampled parameter may change: over the seeds, hidden or depth does.
        var all = new PbtScheduler(pbt.Options with { Mutations = null, ResampleProbability = 1 });
        Assert.Contains(Enumerable.Range(0, 20), s =>
        {
            var d = (SchedulerDecision.ExploitDecision)new PbtScheduler(all.Options with { Seed = s }).Decide(StudyHistory.Of("pbt", Direction.Maximize, [best, worst]), worst, 1, 0.1);
            return !Equals(d.NewParams["hidden"], best.Params["hidden"]) || !Equals(d.NewParams["depth"], best.Params["depth"]);
        });
    }
}
