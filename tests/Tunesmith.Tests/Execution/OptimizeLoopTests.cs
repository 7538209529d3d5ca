using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Samplers;
using System.Reflection;
using Tunesmith.Storage;
using Xunit;

namespace Tunesmith.Tests.Execution;

/// <summary>
/// The optimize loop finishes each trial together with the start of the next one (one storage call between two trials):
/// what it starts that way must be run, or given back to the queue, never left Running.
/// </summary>
public sealed class OptimizeLoopTests
{
    [Fact]
    public async Task A_throwing_callback_ends_the_run_with_its_exception_and_leaves_no_trial_running()
    {
        await using var study = await Study.CreateAsync("callback-throws", new StudyOptions { Sampler = new RandomSampler(seed: 1) });
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => study.OptimizeAsync(
            (t, _) => Task.FromResult(t.SuggestFloat("x", 0, 1)),
            new OptimizeOptions { Trials = 10, Callbacks = [(_, ft) => { if (ft.Number == 2) throw new InvalidOperationException("callback failed"); }] }));
        Assert.Equal("callback failed", error.Message);

        var trials = await study.GetTrialsAsync();
        Assert.DoesNotContain(trials, t => t.State == TrialState.Running);
        Assert.Equal(3, trials.Count(t => t.State == TrialState.Complete));
        // The trial started with trial 2's finish never ran: it is back in the queue, without params, for the next run.
        var unrun = Assert.Single(trials, t => t.State != TrialState.Complete);
        Assert.Equal((3, TrialState.Waiting, 0), (unrun.Number, unrun.State, unrun.Params.Count));
    }

    [Fact]
    public async Task Stop_from_a_callback_ends_the_run_normally_once_the_target_is_reached()
    {
        await using var study = await Study.CreateAsync("stop-callback", new StudyOptions { Sampler = new RandomSampler(seed: 1) });
        // Optuna: def cb(study, trial): if trial.number == 3: study.stop()
        await study.OptimizeAsync((t, _) => Task.FromResult(t.SuggestFloat("x", 0, 1)),
            new OptimizeOptions { Trials = 100, Callbacks = [(s, ft) => { if (ft.Number == 3) s.Stop(); }] });

        var trials = await study.GetTrialsAsync();
        Assert.Equal([0, 1, 2, 3], trials.Where(t => t.State == TrialState.Complete).Select(t => t.Number));
        // The trial started with trial 3's finish, before the callback ran, is back in the queue without params (Optuna
        // records no trial after the stop; the number stays taken, and the next run starts with it).
        Assert.All(trials.Where(t => t.State != TrialState.Complete), t => Assert.Equal((4, TrialState.Waiting, 0),
            (t.Number, t.State, t.Params.Count)));
    }

    [Fact]
    public async Task Stop_lets_the_trials_already_running_finish()
    {
        await using var study = await Study.CreateAsync("stop-running", new StudyOptions { Sampler = new RandomSampler(seed: 1) });
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Trial 0 runs until trial 1 (on the other worker) has stopped the run.
        await study.OptimizeAsync(async (t, _) =>
        {
            var x = t.SuggestFloat("x", 0, 1);
            if (t.Number == 0) await release.Task;
            return x;
        }, new OptimizeOptions { Trials = 100, Parallelism = 2, Callbacks = [(s, ft) => { if (ft.Number == 1) { s.Stop(); release.SetResult(); } }] });

        var trials = await study.GetTrialsAsync();
        Assert.Equal([0, 1], trials.Where(t => t.State == TrialState.Complete).Select(t => t.Number).Order());
        // The trial started with trial 1's finish (when the finish came first) waits again, unrun; nothing failed.
        Assert.All(trials.Where(t => t.State != TrialState.Complete), t => Assert.Equal((2, TrialState.Waiting), (t.Number, t.State)));
        Assert.InRange(trials.Count, 2, 3);
    }

    [Fact]
    public async Task Cancelling_the_run_leaves_no_trial_running()
    {
        await using var study = await Study.CreateAsync("cancel", new StudyOptions { Sampler = new RandomSampler(seed: 1) });
        using var cts = new CancellationTokenSource();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => study.OptimizeAsync((t, _) =>
        {
            // The objective itself ignores the token and completes. ">=": on a loaded machine the worker holding trial 5
            // may be descheduled before calling it while the other worker runs on (the full suite once saw all 100 run).
            if (t.Number >= 5) cts.Cancel();
            return Task.FromResult(t.SuggestFloat("x", 0, 1));
        }, new OptimizeOptions { Trials = 100, Parallelism = 2 }, cts.Token));

        var trials = await study.GetTrialsAsync();
        Assert.DoesNotContain(trials, t => t.State == TrialState.Running);
        // A trial started with a finish as the run was being cancelled never ran: it waits again, not Failed.
        Assert.All(trials.Where(t => t.State == TrialState.Waiting), t => Assert.Empty(t.Params));
        Assert.InRange(trials.Count, 6, 10);
    }

    [Fact]
    public async Task A_trial_started_while_the_run_is_cancelled_goes_back_to_the_queue_unrun()
    {
        // Ctrl+C while a worker's start of a trial is in storage: the start returns a trial the run will not run.
        using var cts = new CancellationTokenSource();
        var storage = DispatchProxy.Create<IStudyStorage, CancelOnStart>();
        var proxy = (CancelOnStart)(object)storage;
        proxy.Inner = new InMemoryStudyStorage();
        proxy.Cancel = cts;
        await using var study = await Study.CreateAsync("cancel-on-start", new StudyOptions { StorageInstance = storage, Sampler = new RandomSampler(seed: 1) });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => study.OptimizeAsync((t, ct) =>
        {
            ct.ThrowIfCancellationRequested(); // an objective that honours the token
            return Task.FromResult(t.SuggestFloat("x", 0, 1));
        }, new OptimizeOptions { Trials = 3 }, cts.Token));

        var trial = Assert.Single(await study.GetTrialsAsync());
        Assert.Equal((0, TrialState.Waiting, 0), (trial.Number, trial.State, trial.Params.Count));
    }

    /// <summary>Storage whose first trial start cancels the run's token once the trial is started.</summary>
    public class CancelOnStart : DispatchProxy
    {
        public IStudyStorage Inner { get; set; } = null!;
        public CancellationTokenSource Cancel { get; set; } = null!;

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            object? result;
            try { result = targetMethod!.Invoke(Inner, args); }
            catch (TargetInvocationException e) { System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException!); throw; }
            if (targetMethod.Name is nameof(IStudyStorage.StartTrialAsync) or nameof(IStudyStorage.StartTrialAndReadChangesAsync))
            {
                ((Task)result!).GetAwaiter().GetResult(); // in memory: already done
                Cancel.Cancel();
            }
            return result;
        }
    }
}
