using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Samplers;
using Xunit;

namespace Tunesmith.Tests.Execution;

public sealed class OptimizeRetryTests
{
    [Fact]
    public async Task Failed_params_are_retried_up_to_the_limit_with_retry_links_and_the_budget_holds()
    {
        await using var study = await Study.CreateAsync("retry", new StudyOptions { Sampler = new RandomSampler(seed: 1) });
        var seen = new List<double>();
        await study.OptimizeAsync((t, _) =>
        {
            var x = t.SuggestFloat("x", 0, 1);
            lock (seen) seen.Add(x);
            return t.Number < 3 ? throw new InvalidOperationException("flaky") : Task.FromResult(x);
        }, new OptimizeOptions { Trials = 2, Retries = 2 });

        var trials = await study.GetTrialsAsync();
        // Trial 0 fails three times (0, 1, 2 with 2 retries), trial 3 is the budget's second trial.
        Assert.Equal(4, trials.Count);
        Assert.Equal([TrialState.Failed, TrialState.Failed, TrialState.Failed, TrialState.Complete], trials.Select(t => t.State));
        Assert.Equal([1L, 2L], trials.Skip(1).Take(2).Select(t => (long)t.SystemAttributes[SystemAttributeKeys.RetryCount]!));
        Assert.All(trials.Skip(1).Take(2), t => Assert.Equal(0L, t.SystemAttributes[SystemAttributeKeys.RetryOf]));
        Assert.Equal(seen[0], seen[1]);
        Assert.Equal(seen[0], seen[2]);
        Assert.False(trials[2].SystemAttributes.ContainsKey(SystemAttributeKeys.RetriedBy));
    }

    [Fact]
    public async Task A_callback_sees_a_retried_failure_with_the_number_of_its_retry_as_storage_holds_it()
    {
        await using var study = await Study.CreateAsync("retry-callback", new StudyOptions { Sampler = new RandomSampler(seed: 1) });
        var called = new List<FrozenTrial>();
        await study.OptimizeAsync((t, _) =>
        {
            t.SuggestFloat("x", 0, 1);
            return t.Number < 2 ? throw new InvalidOperationException("flaky") : Task.FromResult(1.0);
        }, new OptimizeOptions { Trials = 1, Retries = 1, Callbacks = [(_, ft) => called.Add(ft)] });

        // Trial 0 fails and is retried as trial 1, which fails with no retry left: the study ends with its one trial done.
        Assert.Equal([0, 1], called.Select(t => t.Number));
        Assert.Equal(1L, called[0].SystemAttributes[SystemAttributeKeys.RetriedBy]);
        Assert.False(called[1].SystemAttributes.ContainsKey(SystemAttributeKeys.RetriedBy));
        var stored = await study.GetTrialsAsync();
        Assert.Equal(stored.Select(t => t.SystemAttributes.GetValueOrDefault(SystemAttributeKeys.RetriedBy)),
            called.Select(t => t.SystemAttributes.GetValueOrDefault(SystemAttributeKeys.RetriedBy)));
    }

    [Fact]
    public async Task Fail_fast_cancels_the_objectives_still_running_and_records_them_interrupted()
    {
        await using var study = await Study.CreateAsync("ff", new StudyOptions());
        var slowStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => study.OptimizeAsync(async (t, ct) =>
        {
            if (t.Number == 0)
            {
                slowStarted.SetResult();
                await Task.Delay(Timeout.Infinite, ct);
                return 0;
            }
            await slowStarted.Task;
            throw new InvalidOperationException("boom");
        }, new OptimizeOptions { Trials = 10, Parallelism = 2, FailFast = true }));

        Assert.Equal("boom", error.Message);
        var trials = await study.GetTrialsAsync();
        Assert.Equal(2, trials.Count);
        Assert.Equal(Study.InterruptedReason, trials[0].FailReason);
        Assert.Contains("boom", trials[1].FailReason);
    }

    [Fact]
    public async Task A_TrialFailedException_reason_is_stored_verbatim()
    {
        await using var study = await Study.CreateAsync("tfe", new StudyOptions());
        await study.OptimizeAsync((_, _) => throw new TrialFailedException("exit code 2\nstderr tail"), new OptimizeOptions { Trials = 1 });
        Assert.Equal("exit code 2\nstderr tail", (await study.GetTrialsAsync()).Single().FailReason);
    }
}
