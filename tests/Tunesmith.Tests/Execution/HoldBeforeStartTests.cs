using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Samplers;
using Xunit;

namespace Tunesmith.Tests.Execution;

/// <summary>
/// <see cref="OptimizeOptions.HoldBeforeStart"/>: a worker waits for what a trial needs (a GPU another process holds)
/// before the trial exists in storage, keeps it for the trial its finish started, and gives it back.
/// </summary>
public sealed class HoldBeforeStartTests
{
    private sealed class Hold(Action released) : IDisposable
    {
        private int _disposed;
        public bool Disposed => Volatile.Read(ref _disposed) == 1;
        public void Dispose() { if (Interlocked.Exchange(ref _disposed, 1) == 0) released(); }
    }

    [Fact]
    public async Task A_worker_holds_before_its_trial_exists_keeps_the_hold_for_the_trials_its_finishes_start_and_gives_it_back()
    {
        await using var study = await Study.CreateAsync("hold-first", new StudyOptions { Sampler = new RandomSampler(seed: 1) });
        int taken = 0, given = 0;
        var trialsWhenTaken = new List<int>();
        await study.OptimizeAsync(async (t, _) =>
        {
            // Each trial runs with a hold its worker has and has not given back.
            var hold = Assert.IsType<Hold>(t.Held);
            Assert.False(hold.Disposed);
            return t.SuggestFloat("x", 0, 1);
        }, new OptimizeOptions
        {
            Trials = 5,
            HoldBeforeStart = async ct =>
            {
                trialsWhenTaken.Add((await study.GetTrialsAsync(ct)).Count);
                Interlocked.Increment(ref taken);
                return new Hold(() => Interlocked.Increment(ref given));
            },
        });
        var trials = await study.GetTrialsAsync();
        Assert.Equal(5, trials.Count(t => t.State == TrialState.Complete));
        // Taken once, before trial 0 was in storage; trials 1-4 started with the finish of the one before and kept it.
        Assert.Equal([0], trialsWhenTaken);
        Assert.Equal((1, 1), (taken, given));
    }

    [Fact]
    public async Task A_run_of_a_study_whose_budget_is_spent_ends_without_waiting_for_the_hold()
    {
        await using var study = await Study.CreateAsync("hold-done", new StudyOptions { Sampler = new RandomSampler(seed: 1) });
        await study.OptimizeAsync((t, _) => Task.FromResult(t.SuggestFloat("x", 0, 1)), new OptimizeOptions { Trials = 2 });
        var asked = false;
        await study.OptimizeAsync((t, _) => Task.FromResult(t.SuggestFloat("x", 0, 1)), new OptimizeOptions
        {
            Trials = 2,
            Parallelism = 2,
            // A GPU that never frees: a run with nothing to start must not wait for it.
            HoldBeforeStart = async ct => { asked = true; await Task.Delay(Timeout.Infinite, ct); return new Hold(() => { }); },
        }).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.False(asked);
        Assert.Equal(2, (await study.GetTrialsAsync()).Count);
    }

    [Fact]
    public async Task A_run_stopped_while_it_waits_for_the_hold_leaves_no_trial()
    {
        await using var study = await Study.CreateAsync("hold-cancel", new StudyOptions { Sampler = new RandomSampler(seed: 1) });
        var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var cancel = new CancellationTokenSource();
        var run = study.OptimizeAsync((t, _) => Task.FromResult(t.SuggestFloat("x", 0, 1)), new OptimizeOptions
        {
            Trials = 3,
            HoldBeforeStart = async ct => { waiting.TrySetResult(); await Task.Delay(Timeout.Infinite, ct); return new Hold(() => { }); },
        }, cancel.Token);
        await waiting.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Empty(await study.GetTrialsAsync()); // nothing Running while it waits
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Empty(await study.GetTrialsAsync());
    }
}
