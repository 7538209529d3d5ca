using Tunesmith.Execution;
using Tunesmith.Storage;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Tests.Storage;

/// <summary>
/// A study whose PostgreSQL connections are killed on the server (<c>pg_terminate_backend</c>) while it runs: the objective
/// itself kills them and returns, so the trial's finish meets a dead connection. The run must ride it out: the budget
/// completes, every trial's value is stored, nothing is left Running. Only this study's connections are killed (its own
/// <c>application_name</c>); the shared server is never stopped.
/// </summary>
public sealed class StorageFaultEndToEndTests
{
    [SkippableTheory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Connections_killed_on_the_server_mid_study_lose_no_finished_trial_and_the_budget_completes(int parallelism)
    {
        using var schema = PostgresTestServer.NewSchema();
        var application = "tunesmith-victim-" + schema.Name;
        var logs = new ListLoggerFactory();
        await using var study = await Study.CreateOrLoadAsync("faults", new StudyOptions
        {
            Storage = schema.Url + "&application_name=" + application,
            Sampler = new Tunesmith.Samplers.RandomSampler(7),
            LoggerFactory = logs,
        });
        const int budget = 12;
        var killedAt = new HashSet<int> { 2, 5, 9 };
        var kills = 0;
        await study.OptimizeAsync((trial, _) =>
        {
            var x = trial.SuggestFloat("x", 0, 1);
            if (killedAt.Contains(trial.Number))
            {
                // Every connection of this study's pool dies now; the finish that follows this return is the next use.
                schema.Execute($"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{application}'");
                Interlocked.Increment(ref kills);
            }
            return Task.FromResult(x * x);
        }, new OptimizeOptions { Trials = budget, Parallelism = parallelism });

        Assert.Equal(killedAt.Count, kills);
        var trials = (await study.RefreshAsync(CancellationToken.None)).Trials;
        Assert.Equal(budget, trials.Count);
        Assert.All(trials, t =>
        {
            Assert.Equal(TrialState.Complete, t.State);
            Assert.Equal(t.Params["x"] is double x ? x * x : double.NaN, t.Value!.Value, 12);
        });
        // The outages were said, without the password.
        Assert.Contains(logs.Lines, l => l.StartsWith("Warning: ", StringComparison.Ordinal) && l.Contains("transient fault", StringComparison.Ordinal));
        if (PasswordOf(schema.Url) is { } password) Assert.DoesNotContain(logs.Lines, l => l.Contains(password, StringComparison.Ordinal));
    }

    [SkippableFact]
    public async Task A_storage_error_that_is_not_transient_ends_the_run_in_one_line_and_crash_recovery_completes_the_budget_later()
    {
        using var schema = PostgresTestServer.NewSchema();
        const int budget = 8;
        await using (var study = await Study.CreateOrLoadAsync("faults", new StudyOptions { Storage = schema.Url, Sampler = new Tunesmith.Samplers.RandomSampler(3) }))
        {
            var error = await Assert.ThrowsAsync<StudyStorageException>(() => study.OptimizeAsync(async (trial, ct) =>
            {
                var x = trial.SuggestFloat("x", 0, 1);
                // Trials after 3 run until the run stops them (or 30 s: a run that went on would then reach the budget).
                if (trial.Number > 3) await Task.Delay(TimeSpan.FromSeconds(30), ct);
                // The server refuses trial 3's result: a fault no retry can cure (a check violation). The other worker's
                // trials could still be stored, so a run that goes on after the error would reach the budget.
                if (trial.Number == 3) schema.Execute($"ALTER TABLE {schema.Name}.trials ADD CONSTRAINT refuse_finishes CHECK (number <> 3 OR state <> 'complete') NOT VALID");
                return x;
            }, new OptimizeOptions { Trials = budget, Parallelism = 2 }));
            Assert.DoesNotContain('\n', error.Message);
            Assert.Contains("refuse_finishes", error.Message, StringComparison.Ordinal);
            Assert.Contains("stays Running", error.Message, StringComparison.Ordinal);
            var trials = (await study.RefreshAsync(CancellationToken.None)).Trials;
            var third = trials.Single(t => t.Number == 3);
            Assert.True(third.State == TrialState.Running, $"trial 3 is {third.State}: {third.FailReason}");
            Assert.True(trials.Count < budget, $"the run went on after the error: {trials.Count} trials");
            // The other worker's trial was interrupted when the run ended (Failed "interrupted"), not left to run on. On
            // PostgreSQL a trial started in the same round trip as the refused finish stays Running, unrun, for crash
            // recovery too.
            Assert.DoesNotContain(trials, t => t.Number > 3 && t.State == TrialState.Complete);
        }

        schema.Execute($"ALTER TABLE {schema.Name}.trials DROP CONSTRAINT refuse_finishes");
        // The next run (another worker: the first one's process is this test's, still alive) fails the trial left Running
        // once its heartbeat is older than the grace, retries it, and completes the budget.
        await using var next = await Study.LoadAsync("faults", new StudyOptions
        {
            Storage = schema.Url, Sampler = new Tunesmith.Samplers.RandomSampler(4),
            HeartbeatInterval = TimeSpan.FromMilliseconds(50), StaleGracePeriod = TimeSpan.FromMilliseconds(300),
        });
        await next.OptimizeAsync((trial, _) => Task.FromResult(trial.SuggestFloat("x", 0, 1)), new OptimizeOptions { Trials = budget });
        var after = (await next.RefreshAsync(CancellationToken.None)).Trials;
        Assert.DoesNotContain(after, t => t.State == TrialState.Running);
        Assert.StartsWith(Study.StaleReasonPrefix, after.Single(t => t.Number == 3).FailReason);
        // N finished trials, as after any crash (a trial failed and retried stops counting; one interrupted when the
        // first run ended counts, as after Ctrl+C).
        Assert.Equal(budget, after.Count(t => !t.SystemAttributes.ContainsKey(SystemAttributeKeys.RetriedBy)));
        var retryOf3 = after.Single(t => t.SystemAttributes.TryGetValue(SystemAttributeKeys.RetryOf, out var r) && Convert.ToInt64(r, System.Globalization.CultureInfo.InvariantCulture) == 3);
        Assert.Equal(TrialState.Complete, retryOf3.State);
    }

    [SkippableFact]
    public async Task The_waits_between_retries_run_on_the_storage_s_clock()
    {
        using var schema = PostgresTestServer.NewSchema();
        var application = "tunesmith-clock-" + schema.Name;
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var retried = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var logger = new CallbackLogger(line => { if (line.Contains("transient fault", StringComparison.Ordinal)) retried.TrySetResult(); });
        await using var storage = new Tunesmith.Storage.Sql.PostgresStudyStorage(schema.Url + "&application_name=" + application, null, clock, logger);
        var study = await storage.CreateStudyAsync("clock", Direction.Minimize);
        var trial = (await storage.StartTrialAsync(study.Id, "w"))!;
        schema.Execute($"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{application}'");

        var finish = storage.UpdateTrialAsync(trial.Id, "w", new TrialUpdate { FinalState = TrialState.Complete, Value = 1 });
        await retried.Task.WaitAsync(TimeSpan.FromSeconds(30));
        // The first attempt met the dead connection and the retry waits for the clock, which stands still: a second of
        // real time later (a backoff on the system clock would be 10 ms) it is still waiting.
        await Task.WhenAny(finish, Task.Delay(TimeSpan.FromSeconds(1)));
        Assert.False(finish.IsCompleted);
        var real = System.Diagnostics.Stopwatch.StartNew();
        while (!finish.IsCompleted && real.Elapsed < TimeSpan.FromSeconds(30))
        {
            clock.Advance(TimeSpan.FromSeconds(1)); // at least one backoff (10 ms doubling, jittered, at most 1 s)
            await Task.WhenAny(finish, Task.Delay(10));
        }
        Assert.Equal(TrialWriteOutcome.Applied, await finish);
        Assert.Equal(TrialState.Complete, (await storage.GetTrialAsync(trial.Id))!.State);
    }

    private sealed class CallbackLogger(Action<string> onLine) : Microsoft.Extensions.Logging.ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state,
            Exception? exception, Func<TState, Exception?, string> formatter) => onLine(formatter(state, exception));
    }

    private static string? PasswordOf(string url)
    {
        var b = Tunesmith.Storage.Sql.PostgresUrl.Parse(url);
        return string.IsNullOrEmpty(b.Password) ? null : b.Password;
    }
}
