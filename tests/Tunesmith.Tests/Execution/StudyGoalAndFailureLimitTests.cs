using Tunesmith.Execution;
using Tunesmith.Samplers;
using Tunesmith.Tests.Storage;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Tests.Execution;

/// <summary>
/// <see cref="OptimizeOptions.Goal"/> (Katib's <c>objective.goal</c>) and <see cref="OptimizeOptions.MaxFailedTrials"/>
/// (Katib's <c>maxFailedTrialCount</c>): both are read from the study's state in storage, so a second worker of the study
/// on the same storage starts nothing once either is reached.
/// </summary>
public sealed class StudyGoalAndFailureLimitTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private StudyOptions Options(Direction direction = Direction.Maximize) =>
        new() { Direction = direction, Sampler = new RandomSampler(seed: 1), Storage = "sqlite:///" + _dir.File("s.db") };

    [Fact]
    public async Task A_complete_trial_that_reaches_the_goal_ends_the_run_and_a_second_worker_starts_nothing()
    {
        await using (var study = await Study.CreateAsync("goal", Options()))
        {
            // Trials 0..2 score 0.5, 0.7, 0.995; the goal is 0.99; the budget would allow ten.
            await study.OptimizeAsync((t, _) =>
            {
                t.SuggestFloat("x", 0, 1);
                return Task.FromResult(new[] { 0.5, 0.7, 0.995 }[Math.Min(t.Number, 2)]);
            }, new OptimizeOptions { Trials = 10, Goal = 0.99 });
            var trials = await study.GetTrialsAsync();
            Assert.Equal([0, 1, 2], trials.Select(t => t.Number));
            Assert.All(trials, t => Assert.Equal(TrialState.Complete, t.State));
            Assert.Equal(2, (await study.GetGoalTrialAsync(0.99))!.Number);
        }

        // Another worker of the same study, later: the goal is in storage, so it starts no trial.
        await using var second = await Study.LoadAsync("goal", Options());
        var ran = 0;
        await second.OptimizeAsync((t, _) => { Interlocked.Increment(ref ran); return Task.FromResult(0.0); },
            new OptimizeOptions { Trials = 10, Goal = 0.99, Parallelism = 3 });
        Assert.Equal(0, ran);
        Assert.Equal(3, (await second.GetTrialsAsync()).Count);
    }

    [Fact]
    public async Task When_minimizing_the_goal_is_reached_at_or_below_it()
    {
        await using var study = await Study.CreateAsync("goal-min", Options(Direction.Minimize));
        await study.OptimizeAsync((t, _) => Task.FromResult(1.0 - t.Number * 0.25), new OptimizeOptions { Trials = 10, Goal = 0.5 });
        Assert.Equal(3, (await study.GetTrialsAsync()).Count); // 1.0, 0.75, 0.5
    }

    [Fact]
    public async Task The_failure_limit_counts_a_retried_chain_once_and_ends_the_run_as_fail_fast_and_a_second_worker_starts_nothing()
    {
        await using (var study = await Study.CreateAsync("failures", Options()))
        {
            // Every trial fails; with one retry each params fail twice before they count once: 0 (retried as 1), 2 (as 3).
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => study.OptimizeAsync((t, _) =>
            {
                t.SuggestFloat("x", 0, 1);
                throw new InvalidOperationException($"bad {t.Number}");
            }, new OptimizeOptions { Trials = 10, Retries = 1, MaxFailedTrials = 2 }));
            Assert.Equal("bad 3", error.Message);
            var trials = await study.GetTrialsAsync();
            Assert.Equal(4, trials.Count);
            Assert.Equal([1, 3], (await study.GetCountedFailuresAsync()).Select(t => t.Number));
        }

        await using var second = await Study.LoadAsync("failures", Options());
        var ran = 0;
        await second.OptimizeAsync((t, _) => { Interlocked.Increment(ref ran); return Task.FromResult(0.0); },
            new OptimizeOptions { Trials = 10, MaxFailedTrials = 2 });
        Assert.Equal(0, ran);
        // A higher limit lets it go on.
        await second.OptimizeAsync((t, _) => { Interlocked.Increment(ref ran); return Task.FromResult(0.0); },
            new OptimizeOptions { Trials = 3, MaxFailedTrials = 3 });
        Assert.Equal(1, ran);
    }

    [Fact]
    public void Invalid_goal_and_limit_are_refused_naming_the_property()
    {
        Assert.Equal("Goal", Assert.Throws<ArgumentOutOfRangeException>(() => new OptimizeOptions { Goal = double.NaN }.Validate()).ParamName);
        Assert.Equal("MaxFailedTrials", Assert.Throws<ArgumentOutOfRangeException>(() => new OptimizeOptions { MaxFailedTrials = 0 }.Validate()).ParamName);
    }
}
