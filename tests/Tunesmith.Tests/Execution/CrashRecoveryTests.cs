using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Tunesmith.Backends.Processes;
using Tunesmith.Execution;
using Tunesmith.Samplers;
using Tunesmith.Spaces;
using Tunesmith.Storage;
using Tunesmith.Storage.Sql;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Tests.Execution;

/// <summary>
/// What the optimize loop does about trials whose runner died: one of this machine whose process is gone is failed at
/// once, one elsewhere once its heartbeat is older than the grace period; either is retried once even with no retries;
/// and a worker at the end of the budget waits for other workers' live trials instead of leaving them behind.
/// Trials of "other runners" are started directly in storage under their worker ids.
/// </summary>
public sealed class CrashRecoveryTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "tunesmith-crash-" + Guid.NewGuid().ToString("N")[..10]);

    public CrashRecoveryTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string Url => $"sqlite:///{Path.Combine(_dir, "t.db")}";

    // A worker id of this machine whose process is gone: this process's pid with another start time (a recycled pid).
    private static string DeadLocalWorker() =>
        $"{Environment.MachineName}:{Environment.ProcessId}:{LocalProcesses.SelfStartTime + 1}:{LocalProcesses.BootId}:deadbeef";

    private static string LiveLocalWorker() =>
        $"{Environment.MachineName}:{Environment.ProcessId}:{LocalProcesses.SelfStartTime}:{LocalProcesses.BootId}:0a1b2c3d";

    private const string RemoteWorker = "some-other-node:4242:123456:0badf00d:cafecafe";

    private async Task<(Study Study, IStudyStorage Storage)> OpenAsync(TimeSpan? grace = null, TimeSpan? heartbeat = null)
    {
        var storage = StudyStorage.Open(Url);
        var study = await Study.CreateOrLoadAsync("s", new StudyOptions
        {
            StorageInstance = storage,
            Sampler = new RandomSampler(seed: 1),
            HeartbeatInterval = heartbeat ?? TimeSpan.FromMilliseconds(50),
            StaleGracePeriod = grace ?? TimeSpan.FromMinutes(10),
        });
        return (study, storage);
    }

    private static async Task<FrozenTrial> StartAsAsync(IStudyStorage storage, Study study, string worker, double x)
    {
        var t = (await storage.StartTrialAsync(study.Record.Id, worker))!;
        var outcome = await storage.UpdateTrialAsync(t.Id, worker, new TrialUpdate { Params = [("x", x, new FloatDistribution(0, 1))] });
        Assert.Equal(TrialWriteOutcome.Applied, outcome);
        return t;
    }

    private static Task<double> Objective(Trial t, CancellationToken _) => Task.FromResult(t.SuggestFloat("x", 0, 1));

    [Fact]
    public void A_default_worker_id_names_this_process_and_parses_back()
    {
        Assert.True(LocalProcesses.Available, "these tests need Linux /proc");
        var id = RunnerIdentity.TryParse(RunnerIdentity.NewWorkerId());
        Assert.Equal(RunnerIdentity.Current, id);
        Assert.False(id!.Value.IsGoneFromThisMachine);
        Assert.True(RunnerIdentity.TryParse(DeadLocalWorker())!.Value.IsGoneFromThisMachine);
        Assert.False(RunnerIdentity.TryParse(RemoteWorker)!.Value.IsThisMachine);
        Assert.Null(RunnerIdentity.TryParse("my-own-worker-name"));
    }

    [Fact]
    public async Task A_trial_of_a_dead_runner_of_this_machine_is_failed_at_once_and_retried_with_no_retries_and_the_budget_completes()
    {
        var (study, storage) = await OpenAsync();
        await using var _ = storage;
        await using var __ = study;
        var lost = await StartAsAsync(storage, study, DeadLocalWorker(), 0.25);
        var recovered = new List<TrialRecovery>();
        var clock = Stopwatch.StartNew();
        await study.OptimizeAsync(Objective, new OptimizeOptions { Trials = 4, RecoveryCallbacks = [(_, r) => recovered.Add(r)] });
        var elapsed = clock.Elapsed;

        var trials = await study.GetTrialsAsync();
        Assert.Equal(4, trials.Count(t => t.State == TrialState.Complete));
        var failed = Assert.Single(trials, t => t.State == TrialState.Failed);
        Assert.Equal(lost.Id, failed.Id);
        Assert.StartsWith("crashed: its runner (pid ", failed.FailReason);
        var retry = trials.Single(t => t.SystemAttributes.TryGetValue(SystemAttributeKeys.RetryOf, out var r) && Equals(r, (long)lost.Number));
        Assert.Equal(TrialState.Complete, retry.State);
        Assert.Equal(0.25, retry.Params["x"]);
        var r = Assert.Single(recovered);
        Assert.Equal(retry.Number, r.Retry!.Number);
        // Found at the start of the run, not after a grace period of 10 minutes.
        Assert.True(elapsed < TimeSpan.FromMinutes(1), $"took {elapsed}");
    }

    [Fact]
    public async Task A_trial_of_a_remote_runner_is_failed_only_after_the_grace_period_and_a_worker_at_the_budget_waits_for_it()
    {
        var grace = TimeSpan.FromMilliseconds(600);
        var (study, storage) = await OpenAsync(grace, TimeSpan.FromMilliseconds(100));
        await using var _ = storage;
        await using var __ = study;
        var lost = await StartAsAsync(storage, study, RemoteWorker, 0.75);
        var clock = Stopwatch.StartNew();
        await study.OptimizeAsync(Objective, new OptimizeOptions { Trials = 3 });
        var elapsed = clock.Elapsed;

        var trials = await study.GetTrialsAsync();
        Assert.Equal(3, trials.Count(t => t.State == TrialState.Complete));
        var failed = trials.Single(t => t.Id == lost.Id);
        Assert.Equal(TrialState.Failed, failed.State);
        Assert.StartsWith("stale: no heartbeat since", failed.FailReason);
        Assert.DoesNotContain(trials, t => t.State is TrialState.Running or TrialState.Waiting);
        // It waited for the grace period (the remote trial could have been alive) rather than leaving it Running.
        Assert.True(elapsed >= grace, $"took {elapsed}");
    }


    [Fact]
    public async Task A_worker_at_the_budget_does_not_end_between_another_recoverys_failure_of_the_last_running_trial_and_its_retry()
    {
        // Another worker's recovery fails the remote runner's trial after this worker counted it Running, and enqueues its
        // retry only after this worker read the trials again: that read shows nothing running and nothing waiting. The
        // worker must ask again instead of ending, or the retry is left Waiting, unrun, and the budget one short.
        var inner = StudyStorage.Open(Url);
        await using var _ = inner;
        var storage = DispatchProxy.Create<IStudyStorage, RecoveryBetweenReads>();
        var race = (RecoveryBetweenReads)(object)storage;
        race.Inner = inner;
        await using var study = await Study.CreateOrLoadAsync("s", new StudyOptions
        {
            StorageInstance = storage, Sampler = new RandomSampler(seed: 1), StaleGracePeriod = TimeSpan.FromHours(1),
        });
        var lost = await StartAsAsync(inner, study, RemoteWorker, 0.75);
        race.Lost = lost;
        await study.OptimizeAsync(Objective, new OptimizeOptions { Trials = 3 });

        Assert.True(race.Fired, "the recovery was never interleaved");
        var trials = await study.GetTrialsAsync();
        var retry = trials.Single(t => t.SystemAttributes.TryGetValue(SystemAttributeKeys.RetryOf, out var r) && Equals(r, (long)lost.Number));
        Assert.Equal(TrialState.Complete, retry.State);
        Assert.Equal(0.75, retry.Params["x"]);
        Assert.Equal(3, trials.Count(t => t.State == TrialState.Complete));
    }

    /// <summary>
    /// Storage that plays another worker's recovery around this worker's reads: when the worker, its two own trials done,
    /// counts the study's trials, the lost trial is failed; the retry is enqueued after the next read of the trials.
    /// </summary>
    public class RecoveryBetweenReads : DispatchProxy
    {
        private bool _retryPending;

        public IStudyStorage Inner { get; set; } = null!;
        public FrozenTrial? Lost { get; set; }
        public bool Fired { get; private set; }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            if (Lost is { } lost && targetMethod!.Name == nameof(IStudyStorage.CountTrialsAsync))
                return CountAsync(lost, (long)args![0]!, (CancellationToken)args[1]!);
            if (targetMethod!.Name == nameof(IStudyStorage.GetTrialsSinceAsync))
                return SinceAsync((long)args![0]!, (long)args[1]!, (CancellationToken)args[2]!);
            try { return targetMethod.Invoke(Inner, args); }
            catch (TargetInvocationException e) { System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException!); throw; }
        }

        private async Task<IReadOnlyDictionary<TrialState, int>> CountAsync(FrozenTrial lost, long studyId, CancellationToken ct)
        {
            var counts = await Inner.CountTrialsAsync(studyId, ct);
            if (!Fired && counts.GetValueOrDefault(TrialState.Complete) == 2 && counts.GetValueOrDefault(TrialState.Running) == 1)
            {
                Fired = true;
                await Inner.UpdateTrialAsync(lost.Id, RemoteWorker, new TrialUpdate
                {
                    SystemAttributes = [new(SystemAttributeKeys.FailReason, "stale: failed by another worker")],
                    FinalState = TrialState.Failed,
                }, ct);
                _retryPending = true;
            }
            return counts;
        }

        private async Task<TrialChanges> SinceAsync(long studyId, long cursor, CancellationToken ct)
        {
            var changes = await Inner.GetTrialsSinceAsync(studyId, cursor, ct);
            if (_retryPending)
            {
                _retryPending = false;
                Assert.NotNull(await Inner.RetryTrialAsync(Lost!.Id, ct));
            }
            return changes;
        }
    }

    [Fact]
    public async Task A_worker_at_the_budget_waits_for_another_live_workers_trial_to_finish()
    {
        var (study, storage) = await OpenAsync();
        await using var _ = storage;
        await using var __ = study;
        var other = LiveLocalWorker();
        var theirs = await StartAsAsync(storage, study, other, 0.5);
        var run = study.OptimizeAsync(Objective, new OptimizeOptions { Trials = 3 });
        // The loop has started its two trials and now waits on the live trial it cannot take over.
        await WaitUntilAsync(async () => (await study.GetTrialsAsync()).Count(t => t.State == TrialState.Complete) == 2);
        Assert.False(run.IsCompleted);
        Assert.Equal(TrialState.Running, (await storage.GetTrialAsync(theirs.Id))!.State);

        Assert.Equal(TrialWriteOutcome.Applied, await storage.UpdateTrialAsync(theirs.Id, other, new TrialUpdate { FinalState = TrialState.Complete, Value = 0.5 }));
        await run.WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(3, (await study.GetTrialsAsync()).Count(t => t.State == TrialState.Complete));
    }

    [Theory]
    [InlineData(0, 2)] // the crash is retried once; the retry's crash counts against retries: 0
    [InlineData(1, 3)]
    public async Task A_crash_is_retried_once_for_free_and_a_retry_that_crashes_again_counts_against_retries(int retries, int attempts)
    {
        var (study, storage) = await OpenAsync();
        await using var _ = storage;
        await using var __ = study;
        var first = await StartAsAsync(storage, study, DeadLocalWorker(), 0.5);
        var chain = new List<long> { first.Id };
        while (true)
        {
            var recovered = await study.RecoverAsync(retries);
            var r = Assert.Single(recovered);
            if (r.Retry is null) break;
            // The retry is claimed by another runner that dies too.
            var claimed = (await storage.StartTrialAsync(study.Record.Id, DeadLocalWorker(), waitingOnly: true))!;
            Assert.Equal(r.Retry.Id, claimed.Id);
            chain.Add(claimed.Id);
            Assert.True(chain.Count <= 5, "retried without end");
        }
        Assert.Equal(attempts, chain.Count);
    }

    [Fact]
    public async Task The_retry_of_a_crashed_in_process_trial_continues_from_its_last_checkpoint_with_the_attempts_reports()
    {
        var run = Path.Combine(_dir, "run");
        var storage = StudyStorage.Open(Url);
        await using var _ = storage;
        // A runner of this machine that died after trial 0 reported steps 1..4 and checkpointed at steps 1..3 (its
        // checkpoint at step 4 was not written: the crash came first).
        await using (var dead = await Study.CreateOrLoadAsync("s", new StudyOptions
        {
            StorageInstance = storage, Sampler = new RandomSampler(seed: 1), RunDirectory = run, WorkerId = DeadLocalWorker(),
        }))
        {
            var attempt = await dead.AskAsync();
            var x = attempt.SuggestFloat("x", 0, 1);
            for (var step = 1; step <= 3; step++)
                await attempt.ReportAsync(step, x * step, (directory, ct) => File.WriteAllTextAsync(Path.Combine(directory, "weights"), $"{step}", ct));
            await attempt.ReportAsync(4, x * 4);
        }

        await using var study = await Study.CreateOrLoadAsync("s", new StudyOptions
        {
            StorageInstance = storage, Sampler = new RandomSampler(seed: 1), RunDirectory = run,
        });
        var calls = new List<(int Number, long? ResumeStep, string? Weights)>();
        await study.OptimizeAsync(async (trial, ct) =>
        {
            var x = trial.SuggestFloat("x", 0, 1);
            var weights = trial.Checkpoint is { } c ? await File.ReadAllTextAsync(Path.Combine(c.Directory, "weights"), ct) : null;
            calls.Add((trial.Number, trial.ResumeStep, weights));
            for (var step = (trial.ResumeStep ?? 0) + 1; step <= 6; step++)
                await trial.ReportAsync(step, x * step, (directory, token) => File.WriteAllTextAsync(Path.Combine(directory, "weights"), $"{step}", token), ct);
            return x * 6;
        }, new OptimizeOptions { Trials = 1 });

        var trials = await study.GetTrialsAsync();
        var failed = trials.Single(t => t.Number == 0);
        Assert.StartsWith("crashed: ", failed.FailReason);
        var retry = Assert.Single(trials, t => t.State == TrialState.Complete);
        Assert.Equal(0L, retry.SystemAttributes[SystemAttributeKeys.RetryOf]);
        // The objective was called once, for the retry, which went on after the attempt's last checkpoint (step 3) and
        // loaded it: steps 1..3 were not trained again, and step 4, lost with the crash's weights, was.
        Assert.Equal([(retry.Number, (long?)3, (string?)"3")], calls);
        // Its curve is whole: the attempt's reports up to its checkpoint, its own after it (step 4 made again).
        var x0 = Convert.ToDouble(failed.Params["x"], CultureInfo.InvariantCulture);
        Assert.Equal(Enumerable.Range(1, 6).Select(s => (long)s), retry.Intermediate.Keys.Order());
        Assert.All(retry.Intermediate, kv => Assert.Equal(x0 * kv.Key, kv.Value, 12));
        Assert.Equal(x0 * 6, retry.Value!.Value, 12);
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(1)) throw new TimeoutException("condition did not hold within a minute");
            await Task.Delay(20);
        }
    }
}
