using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Samplers;
using Tunesmith.Spaces;
using Tunesmith.Storage;
using Xunit;

namespace Tunesmith.Testing;

/// <summary>A clock that moves only when told, for heartbeat and timestamp tests.</summary>
public sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private readonly object _gate = new();
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow() { lock (_gate) return _now; }

    public void Advance(TimeSpan by) { lock (_gate) _now += by; }
}

/// <summary>
/// The storage contract (<see cref="IStudyStorage"/>), proved against every implementation: a new storage subclasses this
/// with a factory for a fresh, empty storage and inherits every test.
/// </summary>
public abstract class StorageConformanceTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private readonly List<IStudyStorage> _opened = [];

    protected ManualTimeProvider Clock { get; } = new(Start);

    /// <summary>A fresh, empty storage reading time from <paramref name="time"/>.</summary>
    protected abstract IStudyStorage CreateStorage(TimeProvider time);

    protected IStudyStorage NewStorage()
    {
        var s = CreateStorage(Clock);
        _opened.Add(s);
        return s;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (var s in _opened) await s.DisposeAsync();
    }

    private static Dictionary<string, object?> P(params (string Key, object? Value)[] items) =>
        items.ToDictionary(i => i.Key, i => i.Value, StringComparer.Ordinal);

    private static async Task<FrozenTrial> FinishAsync(IStudyStorage s, FrozenTrial t, double value, string worker = "w")
    {
        Assert.Equal(TrialWriteOutcome.Applied, await s.UpdateTrialAsync(t.Id, worker, new TrialUpdate { FinalState = TrialState.Complete, Value = value }));
        return (await s.GetTrialAsync(t.Id))!;
    }

    // ---------------------------------------------------------------- studies

    [SkippableFact]
    public async Task Created_study_is_found_by_name_with_its_direction()
    {
        var s = NewStorage();
        var created = await s.CreateStudyAsync("a", Direction.Maximize);
        var loaded = await s.GetStudyAsync("a");
        Assert.NotNull(loaded);
        Assert.Equal(created.Id, loaded.Id);
        Assert.Equal("a", loaded.Name);
        Assert.Equal(Direction.Maximize, loaded.Direction);
        Assert.Equal(Start, loaded.Created);
        Assert.Null(await s.GetStudyAsync("b"));
    }

    [SkippableFact]
    public async Task Creating_a_taken_name_throws_StudyExistsException()
    {
        var s = NewStorage();
        await s.CreateStudyAsync("dup", Direction.Minimize);
        var e = await Assert.ThrowsAsync<StudyExistsException>(() => s.CreateStudyAsync("dup", Direction.Maximize));
        Assert.Equal("dup", e.StudyName);
        Assert.Equal(Direction.Minimize, (await s.GetStudyAsync("dup"))!.Direction);
    }

    [SkippableFact]
    public async Task Concurrent_creates_of_one_name_succeed_exactly_once()
    {
        var s = NewStorage();
        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
        {
            try { await s.CreateStudyAsync("race", Direction.Minimize); return true; }
            catch (StudyExistsException) { return false; }
        })));
        Assert.Single(results, r => r);
    }

    [SkippableFact]
    public async Task Listing_reports_counts_by_state_and_the_best_value_in_each_direction()
    {
        var s = NewStorage();
        var min = await s.CreateStudyAsync("min", Direction.Minimize);
        var max = await s.CreateStudyAsync("max", Direction.Maximize);
        await s.CreateStudyAsync("empty", Direction.Minimize);
        foreach (var (study, values) in new[] { (min, new[] { 3.0, 1.0, 2.0 }), (max, new[] { 3.0, 1.0, 2.0 }) })
            foreach (var v in values) await FinishAsync(s, (await s.StartTrialAsync(study.Id, "w"))!, v);
        await s.StartTrialAsync(min.Id, "w");
        await s.EnqueueTrialAsync(min.Id, P(("x", 1L)));

        var list = await s.ListStudiesAsync();
        Assert.Equal(["min", "max", "empty"], list.Select(l => l.Study.Name));
        Assert.Equal(1.0, list[0].BestValue);
        Assert.Equal(3.0, list[1].BestValue);
        Assert.Null(list[2].BestValue);
        Assert.Equal(3, list[0].Count(TrialState.Complete));
        Assert.Equal(1, list[0].Count(TrialState.Running));
        Assert.Equal(1, list[0].Count(TrialState.Waiting));
        Assert.Equal(0, list[2].Count(TrialState.Complete));
    }

    [SkippableFact]
    public async Task Deleting_a_study_removes_its_trials_and_frees_its_name()
    {
        var s = NewStorage();
        var a = await s.CreateStudyAsync("gone", Direction.Minimize);
        var keep = await s.CreateStudyAsync("kept", Direction.Minimize);
        var t = await s.StartTrialAsync(a.Id, "w");
        await s.UpdateTrialAsync(t!.Id, "w", new TrialUpdate { Params = [("x", 1.5, new FloatDistribution(0, 2))], FinalState = TrialState.Complete, Value = 1 });
        var kept = await s.StartTrialAsync(keep.Id, "w");

        Assert.True(await s.DeleteStudyAsync("gone"));
        Assert.False(await s.DeleteStudyAsync("gone"));
        Assert.Null(await s.GetStudyAsync("gone"));
        Assert.Null(await s.GetTrialAsync(t.Id));
        Assert.NotNull(await s.GetTrialAsync(kept!.Id));
        var again = await s.CreateStudyAsync("gone", Direction.Maximize);
        Assert.Equal(0, (await s.StartTrialAsync(again.Id, "w"))!.Number);
    }

    [SkippableFact]
    public async Task Study_attributes_keep_their_value_types()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("attrs", Direction.Minimize);
        KeyValuePair<string, object?>[] values =
        [
            new("s", "text"), new("l", 42L), new("i", 7), new("d", 1.0), new("f", 0.25), new("b", true), new("n", null), new("neg", -3L),
        ];
        await s.SetStudyAttributesAsync(st.Id, system: false, values);
        await s.SetStudyAttributesAsync(st.Id, system: true, [new("sampler", "random")]);
        await s.SetStudyAttributesAsync(st.Id, system: false, [new("s", "replaced")]);

        var loaded = (await s.GetStudyAsync("attrs"))!;
        var u = loaded.UserAttributes;
        Assert.Equal("replaced", u["s"]);
        Assert.IsType<long>(u["l"]);
        Assert.Equal(42L, u["l"]);
        Assert.Equal(7L, u["i"]);
        Assert.IsType<double>(u["d"]);
        Assert.Equal(1.0, u["d"]);
        Assert.Equal(0.25, u["f"]);
        Assert.Equal(true, u["b"]);
        Assert.True(u.ContainsKey("n"));
        Assert.Null(u["n"]);
        Assert.Equal(-3L, u["neg"]);
        Assert.Equal("random", loaded.SystemAttributes["sampler"]);
        Assert.False(loaded.SystemAttributes.ContainsKey("s"));
        Assert.Equal("random", (await s.ListStudiesAsync()).Single().Study.SystemAttributes["sampler"]);
    }

    [SkippableFact]
    public async Task System_attribute_if_absent_keeps_the_first_value()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("once", Direction.Minimize);
        Assert.Equal("first", await s.SetStudySystemAttributeIfAbsentAsync(st.Id, "deadline", "first"));
        Assert.Equal("first", await s.SetStudySystemAttributeIfAbsentAsync(st.Id, "deadline", "second"));
        Assert.Equal("first", (await s.GetStudyAsync("once"))!.SystemAttributes["deadline"]);
    }

    [SkippableFact]
    public async Task Operations_on_an_unknown_study_throw_StudyNotFoundException()
    {
        var s = NewStorage();
        await Assert.ThrowsAsync<StudyNotFoundException>(() => s.StartTrialAsync(999, "w"));
        await Assert.ThrowsAsync<StudyNotFoundException>(() => s.EnqueueTrialAsync(999, P()));
        await Assert.ThrowsAsync<StudyNotFoundException>(() => s.GetTrialsSinceAsync(999, 0));
        await Assert.ThrowsAsync<StudyNotFoundException>(() => s.CountTrialsAsync(999));
        await Assert.ThrowsAsync<StudyNotFoundException>(() => s.SetStudyAttributesAsync(999, false, [new("a", 1L)]));
    }

    // ---------------------------------------------------------------- enqueue and start

    [SkippableFact]
    public async Task Enqueued_trials_are_claimed_first_in_fifo_order_with_their_params()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("fifo", Direction.Minimize);
        var e0 = await s.EnqueueTrialAsync(st.Id, P(("x", 1L), ("opt", "adam")));
        var e1 = await s.EnqueueTrialAsync(st.Id, P(("x", 2.5)), new Dictionary<string, object?> { ["source"] = "csv" });
        Assert.Equal(TrialState.Waiting, e0.State);
        Assert.Equal([0, 1], new[] { e0.Number, e1.Number });

        var a = (await s.StartTrialAsync(st.Id, "w1"))!;
        var b = (await s.StartTrialAsync(st.Id, "w2"))!;
        var c = (await s.StartTrialAsync(st.Id, "w3"))!;
        Assert.Equal(e0.Id, a.Id);
        Assert.Equal(TrialState.Running, a.State);
        Assert.Equal("w1", a.Worker);
        Assert.Equal(1L, a.Params["x"]);
        Assert.Equal("adam", a.Params["opt"]);
        Assert.Equal(["x", "opt"], a.Params.Keys);
        Assert.Empty(a.Distributions);
        Assert.Equal(e1.Id, b.Id);
        Assert.Equal(2.5, b.Params["x"]);
        Assert.Equal("csv", b.SystemAttributes["source"]);
        Assert.Equal(2, c.Number);
        Assert.Empty(c.Params);
    }

    [SkippableFact]
    public async Task A_finish_removes_the_params_it_names_and_only_for_the_trial_s_owner()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("removed", Direction.Minimize);
        await s.EnqueueTrialAsync(st.Id, P(("x", 1L), ("y", 2.5), ("z", "keep")));
        var t = (await s.StartTrialAsync(st.Id, "w1"))!;
        var since = (await s.GetTrialsSinceAsync(st.Id, 0)).Cursor;
        Assert.Equal(TrialWriteOutcome.NotOwner, await s.UpdateTrialAsync(t.Id, "w2", new TrialUpdate { RemovedParams = ["y"] }));
        Assert.Equal(["x", "y", "z"], (await s.GetTrialAsync(t.Id))!.Params.Keys);

        var x = new IntDistribution(0, 5);
        Assert.Equal(TrialWriteOutcome.Applied, await s.UpdateTrialAsync(t.Id, "w1", new TrialUpdate
        {
            Params = [("x", 1L, x)], RemovedParams = ["y", "absent"], FinalState = TrialState.Complete, Value = 0.5,
        }));
        var stored = (await s.GetTrialAsync(t.Id))!;
        Assert.Equal(["x", "z"], stored.Params.Keys);
        Assert.Equal(x, stored.Distributions["x"]);
        Assert.Equal(["x", "z"], Assert.Single((await s.GetTrialsSinceAsync(st.Id, since)).Trials, c => c.Id == t.Id).Params.Keys);
    }

    [SkippableFact]
    public async Task Enqueue_once_inserts_for_the_first_caller_only()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("grid", Direction.Minimize);
        IReadOnlyList<IReadOnlyDictionary<string, object?>> grid = [P(("x", 1L)), P(("x", 2L)), P(("x", 3L))];
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => s.EnqueueTrialsOnceAsync(st.Id, "grid:v1", grid))));
        Assert.Single(results, r => r);
        Assert.False(await s.EnqueueTrialsOnceAsync(st.Id, "grid:v1", grid));
        Assert.Equal(3, (await s.CountTrialsAsync(st.Id))[TrialState.Waiting]);
        Assert.True(await s.EnqueueTrialsOnceAsync(st.Id, "grid:v2", [grid[0]]));

        var claimed = new List<object?>();
        while (await s.StartTrialAsync(st.Id, "w", waitingOnly: true) is { } t) claimed.Add(t.Params["x"]);
        Assert.Equal([1L, 2L, 3L, 1L], claimed);
    }

    [SkippableFact]
    public async Task Enqueue_if_new_skips_what_a_trial_holds_and_a_failed_trial_only_when_asked()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("if-new", Direction.Minimize);
        var first = await s.EnqueueTrialsIfNewAsync(st.Id, [P(("x", 1L), ("o", "a")), P(("x", 2L)), P(("x", 1.0), ("o", "a"))]);
        Assert.Equal([true, true, false], first.Select(r => r.Enqueued));
        Assert.Equal([0, 1, 0], first.Select(r => r.Trial.Number));
        Assert.Equal(2, (await s.CountTrialsAsync(st.Id))[TrialState.Waiting]);

        var t0 = (await s.StartTrialAsync(st.Id, "w"))!;
        Assert.Equal(TrialWriteOutcome.Applied, await s.UpdateTrialAsync(t0.Id, "w", new TrialUpdate { FinalState = TrialState.Failed }));
        var again = await s.EnqueueTrialsIfNewAsync(st.Id, [P(("x", 1L), ("o", "a")), P(("x", 2L))], failedHolds: true);
        Assert.Equal([false, false], again.Select(r => r.Enqueued));
        Assert.Equal(TrialState.Failed, again[0].Trial.State);
        Assert.Equal(0, again[0].Trial.Number);
        var retried = await s.EnqueueTrialsIfNewAsync(st.Id, [P(("x", 1L), ("o", "a"))]);
        Assert.True(Assert.Single(retried).Enqueued);
        Assert.Equal(2, retried[0].Trial.Number);
        Assert.Equal(0, retried[0].FailedBefore?.Number);
        // Now the waiting retry holds it, failed or not.
        Assert.Equal(2, (await s.EnqueueTrialsIfNewAsync(st.Id, [P(("x", 1L), ("o", "a"))], failedHolds: true))[0].Trial.Number);
    }

    /// <summary>
    /// The check and the enqueue are one transaction: callers let go together by a barrier, round after round, with the
    /// same list (a combinations file enqueued by several <c>tunesmith enqueue</c> at once) add each combination once.
    /// </summary>
    [SkippableFact]
    public async Task Concurrent_enqueues_if_new_of_the_same_list_add_each_combination_once()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("if-new-race", Direction.Minimize);
        const int callers = 4, rounds = 20, size = 5;
        using var barrier = new Barrier(callers);
        var results = await Task.WhenAll(Enumerable.Range(0, callers).Select(_ => Task.Run(async () =>
        {
            var enqueued = new List<long>();
            for (var round = 0; round < rounds; round++)
            {
                IReadOnlyList<IReadOnlyDictionary<string, object?>> list = Enumerable.Range(0, size).Select(i => (IReadOnlyDictionary<string, object?>)P(("x", (long)(round * size + i)))).ToList();
                barrier.SignalAndWait();
                foreach (var r in await s.EnqueueTrialsIfNewAsync(st.Id, list))
                    if (r.Enqueued) enqueued.Add((long)r.Trial.Params["x"]!);
            }
            return enqueued;
        })));
        var all = Enumerable.Range(0, rounds * size).Select(i => (long)i);
        Assert.Equal(all, results.SelectMany(r => r).Order());
        var trials = (await s.GetTrialsSinceAsync(st.Id, 0)).Trials;
        Assert.Equal(all, trials.Select(t => (long)t.Params["x"]!).Order());
    }

    [SkippableFact]
    public async Task Waiting_only_claims_an_enqueued_trial_and_never_creates_one()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("wo", Direction.Minimize);
        Assert.Null(await s.StartTrialAsync(st.Id, "w", waitingOnly: true));
        Assert.Empty(await s.CountTrialsAsync(st.Id));
        await s.EnqueueTrialAsync(st.Id, P(("x", 1L)));
        Assert.Equal(0, (await s.StartTrialAsync(st.Id, "w", waitingOnly: true))!.Number);
        Assert.Null(await s.StartTrialAsync(st.Id, "w", waitingOnly: true));
    }

    [SkippableFact]
    public async Task Budget_counts_running_and_finished_trials_but_not_waiting_ones()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("budget", Direction.Minimize);
        await s.EnqueueTrialAsync(st.Id, P(("x", 1L)));
        await s.EnqueueTrialAsync(st.Id, P(("x", 2L)));
        var first = (await s.StartTrialAsync(st.Id, "w", maxTrials: 3))!;
        await FinishAsync(s, first, 1);
        Assert.NotNull(await s.StartTrialAsync(st.Id, "w", maxTrials: 3));
        Assert.NotNull(await s.StartTrialAsync(st.Id, "w", maxTrials: 3));
        Assert.Null(await s.StartTrialAsync(st.Id, "w", maxTrials: 3));
        Assert.NotNull(await s.StartTrialAsync(st.Id, "w", maxTrials: 4));
        Assert.Null(await s.StartTrialAsync(st.Id, "w", maxTrials: 4));
    }

    [SkippableFact]
    public async Task Budget_does_not_count_a_failed_trial_that_was_retried()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("retry-budget", Direction.Minimize);
        var a = (await s.StartTrialAsync(st.Id, "w", maxTrials: 2))!;
        var b = (await s.StartTrialAsync(st.Id, "w", maxTrials: 2))!;
        await s.UpdateTrialAsync(a.Id, "w", new TrialUpdate { FinalState = TrialState.Failed });
        await s.UpdateTrialAsync(b.Id, "w", new TrialUpdate { FinalState = TrialState.Failed });
        Assert.Null(await s.StartTrialAsync(st.Id, "w", maxTrials: 2)); // failures count until retried
        Assert.NotNull(await s.RetryTrialAsync(a.Id));
        var retry = (await s.StartTrialAsync(st.Id, "w", maxTrials: 2))!;
        Assert.Equal((long)a.Number, retry.SystemAttributes[SystemAttributeKeys.RetryOf]);
        Assert.Null(await s.StartTrialAsync(st.Id, "w", maxTrials: 2));
    }

    [SkippableFact]
    public async Task Sixty_four_parallel_starts_get_numbers_0_to_63_once_each()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("parallel", Direction.Minimize);
        var trials = await Task.WhenAll(Enumerable.Range(0, 64).Select(i => Task.Run(() => s.StartTrialAsync(st.Id, $"w{i}"))));
        Assert.Equal(Enumerable.Range(0, 64), trials.Select(t => t!.Number).Order());
        Assert.Equal(64, trials.Select(t => t!.Id).Distinct().Count());
        Assert.Equal(64, (await s.CountTrialsAsync(st.Id))[TrialState.Running]);
    }

    [SkippableFact]
    public async Task Parallel_starts_under_a_budget_stop_exactly_at_the_budget_and_claim_each_waiting_trial_once()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("parallel-budget", Direction.Minimize);
        for (var i = 0; i < 10; i++) await s.EnqueueTrialAsync(st.Id, P(("i", (long)i)));
        var trials = await Task.WhenAll(Enumerable.Range(0, 48).Select(i => Task.Run(() => s.StartTrialAsync(st.Id, $"w{i}", maxTrials: 30))));
        var started = trials.Where(t => t is not null).Select(t => t!).ToList();
        Assert.Equal(30, started.Count);
        Assert.Equal(Enumerable.Range(0, 30), started.Select(t => t.Number).Order());
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (object?)(long)i), started.Where(t => t.Params.ContainsKey("i")).OrderBy(t => t.Number).Select(t => t.Params["i"]));
    }

    // ---------------------------------------------------------------- updates

    [SkippableFact]
    public async Task Update_outcomes_refuse_unknown_foreign_and_finished_trials()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("outcomes", Direction.Minimize);
        var t = (await s.StartTrialAsync(st.Id, "owner"))!;
        Assert.Equal(TrialWriteOutcome.NotFound, await s.UpdateTrialAsync(987654, "owner", new TrialUpdate { FinalState = TrialState.Complete, Value = 1 }));
        Assert.Equal(TrialWriteOutcome.NotOwner, await s.UpdateTrialAsync(t.Id, "intruder", new TrialUpdate { FinalState = TrialState.Complete, Value = 1 }));
        Assert.Equal(TrialState.Running, (await s.GetTrialAsync(t.Id))!.State);
        Assert.Equal(TrialWriteOutcome.Applied, await s.UpdateTrialAsync(t.Id, "owner", new TrialUpdate { FinalState = TrialState.Complete, Value = 1 }));
        Assert.Equal(TrialWriteOutcome.AlreadyFinished, await s.UpdateTrialAsync(t.Id, "owner", new TrialUpdate { Metrics = [new("m", 1)] }));
    }

    [SkippableFact]
    public async Task A_second_finish_is_refused_and_never_applied()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("idem", Direction.Minimize);
        var t = (await s.StartTrialAsync(st.Id, "w"))!;
        var first = await FinishAsync(s, t, 5);
        Clock.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(TrialWriteOutcome.AlreadyFinished, await s.UpdateTrialAsync(t.Id, "w",
            new TrialUpdate { FinalState = TrialState.Failed, Value = 9, Metrics = [new("late", 1)] }));
        var after = (await s.GetTrialAsync(t.Id))!;
        Assert.Equal(TrialState.Complete, after.State);
        Assert.Equal(5, after.Value);
        Assert.Equal(first.Finished, after.Finished);
        Assert.Equal(first.Version, after.Version);
        Assert.False(after.Metrics.ContainsKey("late"));
    }

    [SkippableFact]
    public async Task Concurrent_finishes_of_one_trial_apply_exactly_once()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("race-tell", Direction.Minimize);
        var t = (await s.StartTrialAsync(st.Id, "w"))!;
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() =>
            s.UpdateTrialAsync(t.Id, "w", new TrialUpdate { FinalState = TrialState.Complete, Value = i }))));
        Assert.Single(outcomes, o => o == TrialWriteOutcome.Applied);
        Assert.All(outcomes.Where(o => o != TrialWriteOutcome.Applied), o => Assert.Equal(TrialWriteOutcome.AlreadyFinished, o));
    }

    [SkippableFact]
    public async Task Finishing_a_trial_and_starting_the_next_in_one_call_does_both_whatever_the_finish_outcome()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("finish-and-start", Direction.Minimize);
        var first = (await s.StartTrialAsync(st.Id, "w"))!;
        var finish = new TrialUpdate { Params = [("x", 0.5, null)], FinalState = TrialState.Complete, Value = 0.25 };
        var (outcome, second, changes) = await s.UpdateTrialAndStartNextAsync(first.Id, finish, st.Id, "w", cursor: 0);
        Assert.Equal(TrialWriteOutcome.Applied, outcome);
        Assert.Equal((1, TrialState.Running, "w"), (second!.Number, second.State, second.Worker));
        Assert.NotNull(changes);
        var done = (await s.GetTrialAsync(first.Id))!;
        Assert.Equal((TrialState.Complete, (double?)0.25, (object?)0.5), (done.State, done.Value, done.Params["x"]));

        // A refused finish (the trial was told already) still starts the next trial; with no cursor nothing is read.
        var (refused, third, none) = await s.UpdateTrialAndStartNextAsync(first.Id, finish, st.Id, "w", cursor: null);
        Assert.Equal(TrialWriteOutcome.AlreadyFinished, refused);
        Assert.Equal(2, third!.Number);
        Assert.Null(none);

        // At the budget the finish applies and nothing starts.
        var (last, nothing, _) = await s.UpdateTrialAndStartNextAsync(second.Id, new TrialUpdate { FinalState = TrialState.Pruned }, st.Id, "w", cursor: null, maxTrials: 3);
        Assert.Equal(TrialWriteOutcome.Applied, last);
        Assert.Null(nothing);
        var counts = await s.CountTrialsAsync(st.Id);
        Assert.Equal((1, 1, 1), (counts[TrialState.Complete], counts[TrialState.Pruned], counts[TrialState.Running]));
    }

    [SkippableFact]
    public async Task One_update_naming_a_key_twice_applies_and_keeps_the_last_value()
    {
        // A command trial keeps its result's metrics, then the study's tell sets the objective's metric again: one update
        // may name a metric (or an attribute, param or step) twice, and the storage must take the last, not refuse it.
        var s = NewStorage();
        var st = await s.CreateStudyAsync("twice", Direction.Minimize);
        var t = (await s.StartTrialAsync(st.Id, "w"))!;
        var x = new FloatDistribution(0, 1);
        Assert.Equal(TrialWriteOutcome.Applied, await s.UpdateTrialAsync(t.Id, "w", new TrialUpdate
        {
            Params = [("x", 0.25, x), ("y", 1L, null), ("x", 0.5, x)],
            Intermediate = [(1, 0.9), (1, 0.8)],
            UserAttributes = [new("note", "first"), new("note", "last")],
            SystemAttributes = [new("exit_code", 1L), new("exit_code", 0L)],
            Metrics = [new("value", 0.3), new("loss", 2.0), new("value", 0.4)],
            FinalState = TrialState.Complete,
            Value = 0.4,
        }));
        var r = (await s.GetTrialAsync(t.Id))!;
        Assert.Equal(TrialState.Complete, r.State);
        Assert.Equal(["x", "y"], r.Params.Keys);
        Assert.Equal(0.5, r.Params["x"]);
        Assert.Equal(new Dictionary<long, double> { [1] = 0.8 }, r.Intermediate);
        Assert.Equal("last", r.UserAttributes["note"]);
        Assert.Equal(0L, r.SystemAttributes["exit_code"]);
        Assert.Equal(0.4, r.Metrics["value"]);
        Assert.Equal(2.0, r.Metrics["loss"]);
    }

    [SkippableFact]
    public async Task Params_distributions_intermediate_values_attributes_and_metrics_round_trip()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("roundtrip", Direction.Minimize);
        var t = (await s.StartTrialAsync(st.Id, "w"))!;
        var lr = new FloatDistribution(1e-5, 1e-1, Log: true);
        var layers = new IntDistribution(2, 10, Step: 2);
        var opt = new CategoricalDistribution(["adam", 3L, 0.5, true, null]);
        Assert.Equal(TrialWriteOutcome.Applied, await s.UpdateTrialAsync(t.Id, "w", new TrialUpdate
        {
            Params = [("lr", 0.001, lr), ("layers", 4L, layers), ("opt", null, opt), ("padding", 2L, null)],
            Intermediate = [(1, 0.5), (2, 0.25)],
            UserAttributes = [new("note", "hello"), new("count", 3L), new("ratio", 2.0), new("flag", false), new("none", null)],
            SystemAttributes = [new("host", "node1")],
        }));
        Clock.Advance(TimeSpan.FromMilliseconds(1500));
        Assert.Equal(TrialWriteOutcome.Applied, await s.UpdateTrialAsync(t.Id, "w", new TrialUpdate
        {
            Params = [("zeta", "last", new CategoricalDistribution(["first", "last"]))],
            Intermediate = [(2, 0.2), (3, double.NaN)],
            Metrics = [new("val_f1", 0.84), new("loss", 0.4), new("nan", double.NaN), new("inf", double.PositiveInfinity)],
            FinalState = TrialState.Complete,
            Value = 0.84,
        }));

        var r = (await s.GetTrialAsync(t.Id))!;
        Assert.Equal(TrialState.Complete, r.State);
        Assert.Equal(0.84, r.Value);
        Assert.Equal(["lr", "layers", "opt", "padding", "zeta"], r.Params.Keys);
        Assert.Equal(0.001, r.Params["lr"]);
        Assert.Equal(4L, r.Params["layers"]);
        Assert.Null(r.Params["opt"]);
        Assert.Equal(2L, r.Params["padding"]);
        Assert.Equal(lr, r.Distributions["lr"]);
        Assert.Equal(layers, r.Distributions["layers"]);
        var optBack = Assert.IsType<CategoricalDistribution>(r.Distributions["opt"]);
        Assert.Equal(opt.Choices.Select(c => c?.GetType().Name + ":" + c), optBack.Choices.Select(c => c?.GetType().Name + ":" + c));
        Assert.False(r.Distributions.ContainsKey("padding"));
        Assert.Equal(new Dictionary<long, double> { [1] = 0.5, [2] = 0.2, [3] = double.NaN }, r.Intermediate);
        Assert.Equal((3L, double.NaN), r.LastIntermediate);
        Assert.Equal("hello", r.UserAttributes["note"]);
        Assert.Equal(3L, r.UserAttributes["count"]);
        Assert.IsType<double>(r.UserAttributes["ratio"]);
        Assert.Equal(false, r.UserAttributes["flag"]);
        Assert.Null(r.UserAttributes["none"]);
        Assert.Equal("node1", r.SystemAttributes["host"]);
        Assert.Equal(0.84, r.Metrics["val_f1"]);
        Assert.Equal(0.4, r.Metrics["loss"]);
        Assert.True(double.IsNaN(r.Metrics["nan"]));
        Assert.Equal(double.PositiveInfinity, r.Metrics["inf"]);
        Assert.Equal(Start, r.Created);
        Assert.Equal(Start, r.Started);
        Assert.Equal(Start + TimeSpan.FromMilliseconds(1500), r.Finished);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), r.Duration);
        Assert.Equal("w", r.Worker);
    }

    [SkippableFact]
    public async Task A_param_written_again_without_a_distribution_keeps_its_distribution()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("redist", Direction.Minimize);
        var t = (await s.StartTrialAsync(st.Id, "w"))!;
        var d = new FloatDistribution(0, 1);
        await s.UpdateTrialAsync(t.Id, "w", new TrialUpdate { Params = [("x", 0.5, d)] });
        await s.UpdateTrialAsync(t.Id, "w", new TrialUpdate { Params = [("x", 0.75, null)] });
        var r = (await s.GetTrialAsync(t.Id))!;
        Assert.Equal(0.75, r.Params["x"]);
        Assert.Equal(d, r.Distributions["x"]);
    }

    // ---------------------------------------------------------------- intermediate metrics

    private static IEnumerable<(string, long, double)> Flat(FrozenTrial t) =>
        t.IntermediateMetrics.OrderBy(m => m.Key, StringComparer.Ordinal).SelectMany(m => m.Value.OrderBy(v => v.Key).Select(v => (m.Key, v.Key, v.Value)));

    [SkippableFact]
    public async Task Intermediate_metrics_round_trip_by_name_and_step_beside_the_intermediate_values()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("step-metrics", Direction.Maximize);
        var t = (await s.StartTrialAsync(st.Id, "w"))!;
        Assert.Empty(t.IntermediateMetrics);
        Assert.Equal(TrialWriteOutcome.Applied, await s.UpdateTrialAsync(t.Id, "w", new TrialUpdate
        {
            Intermediate = [(1, 0.7)],
            // A step and name given twice keeps the last, as for every other part of an update.
            IntermediateMetrics = [(1, "loss", 0.9), (1, "acc", 0.6), (1, "loss", 0.5)],
        }));
        Assert.Equal(TrialWriteOutcome.Applied, await s.UpdateTrialAsync(t.Id, "w", new TrialUpdate
        {
            Intermediate = [(2, 0.8)],
            IntermediateMetrics = [(2, "loss", 0.25), (2, "nan", double.NaN), (1, "acc", 0.65)],
        }));
        var r = (await s.GetTrialAsync(t.Id))!;
        Assert.Equal([("acc", 1L, 0.65), ("loss", 1L, 0.5), ("loss", 2L, 0.25), ("nan", 2L, double.NaN)], Flat(r));
        Assert.Equal(new Dictionary<long, double> { [1] = 0.7, [2] = 0.8 }, r.Intermediate);
        var read = Assert.Single((await s.GetTrialsSinceAsync(st.Id, 0)).Trials);
        Assert.Equal(Flat(r), Flat(read));

        // A refused write stores none of them.
        Assert.Equal(TrialWriteOutcome.NotOwner, await s.UpdateTrialAsync(t.Id, "other", new TrialUpdate { IntermediateMetrics = [(3, "loss", 0.1)] }));
        await FinishAsync(s, t, 0.8);
        Assert.Equal(TrialWriteOutcome.AlreadyFinished, await s.UpdateTrialAsync(t.Id, "w", new TrialUpdate { IntermediateMetrics = [(3, "loss", 0.1)] }));
        Assert.Equal(Flat(r), Flat((await s.GetTrialAsync(t.Id))!));
    }

    [SkippableFact]
    public async Task Hundreds_of_intermediate_metrics_in_one_update_are_all_stored()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("many-step-metrics", Direction.Minimize);
        var t = (await s.StartTrialAsync(st.Id, "w"))!;
        var values = Enumerable.Range(0, 250).Select(i => ((long)(i / 5), $"m{i % 5}", i + 0.5)).ToArray();
        Assert.Equal(TrialWriteOutcome.Applied, await s.UpdateTrialAsync(t.Id, "w", new TrialUpdate { IntermediateMetrics = values }));
        var r = (await s.GetTrialAsync(t.Id))!;
        Assert.Equal(5, r.IntermediateMetrics.Count);
        Assert.All(r.IntermediateMetrics.Values, series => Assert.Equal(50, series.Count));
        Assert.Equal(249.5, r.IntermediateMetrics["m4"][49]);
    }

    [SkippableFact]
    public async Task A_report_of_intermediate_metrics_alone_is_a_change_a_poller_sees()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("step-metrics-poll", Direction.Minimize);
        var t = (await s.StartTrialAsync(st.Id, "w"))!;
        var before = await s.GetTrialsSinceAsync(st.Id, 0);
        var version = Assert.Single(before.Trials).Version;
        Assert.Equal(TrialWriteOutcome.Applied, await s.UpdateTrialAsync(t.Id, "w", new TrialUpdate { IntermediateMetrics = [(1, "loss", 0.5)] }));
        var after = await s.GetTrialsSinceAsync(st.Id, before.Cursor);
        var changed = Assert.Single(after.Trials, x => x.Version != version);
        Assert.True(changed.Version > version);
        Assert.Equal(0.5, changed.IntermediateMetrics["loss"][1]);
        Assert.True(after.Cursor >= before.Cursor);
    }

    [SkippableFact]
    public async Task A_retry_inherits_the_failed_attempts_intermediate_metrics()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("retry-step-metrics", Direction.Maximize);
        var t = (await s.StartTrialAsync(st.Id, "w"))!;
        await s.UpdateTrialAsync(t.Id, "w", new TrialUpdate
        {
            Intermediate = [(1, 0.1), (2, 0.2)],
            IntermediateMetrics = [(1, "loss", 0.9), (2, "loss", 0.8)],
            FinalState = TrialState.Failed,
        });
        var retry = (await s.RetryTrialAsync(t.Id))!;
        Assert.Equal([("loss", 1L, 0.9), ("loss", 2L, 0.8)], Flat(retry));
        var claimed = (await s.StartTrialAsync(st.Id, "w2"))!;
        Assert.Equal(retry.Id, claimed.Id);
        Assert.Equal(Flat(retry), Flat(claimed));
        await s.UpdateTrialAsync(claimed.Id, "w2", new TrialUpdate { IntermediateMetrics = [(3, "loss", 0.7)] });
        Assert.Equal([("loss", 1L, 0.9), ("loss", 2L, 0.8), ("loss", 3L, 0.7)], Flat((await s.GetTrialAsync(retry.Id))!));
        Assert.Equal([("loss", 1L, 0.9), ("loss", 2L, 0.8)], Flat((await s.GetTrialAsync(t.Id))!));
    }

    // ---------------------------------------------------------------- heartbeats, stale trials, retries

    [SkippableFact]
    public async Task Heartbeats_keep_a_trial_alive_and_a_silent_one_is_failed_as_stale()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("stale", Direction.Minimize);
        var alive = (await s.StartTrialAsync(st.Id, "w1"))!;
        var silent = (await s.StartTrialAsync(st.Id, "w2"))!;
        var done = (await s.StartTrialAsync(st.Id, "w3"))!;
        await FinishAsync(s, done, 1, "w3");
        Clock.Advance(TimeSpan.FromSeconds(60));
        await s.HeartbeatAsync([alive.Id, silent.Id], "w1"); // w1 does not own the silent trial: no effect on it
        Clock.Advance(TimeSpan.FromSeconds(30));

        var failed = await s.FailStaleTrialsAsync(st.Id, Clock.GetUtcNow() - TimeSpan.FromSeconds(45));
        var f = Assert.Single(failed);
        Assert.Equal(silent.Id, f.Id);
        Assert.Equal(TrialState.Failed, f.State);
        Assert.StartsWith("stale", f.FailReason);
        Assert.Equal(Clock.GetUtcNow(), f.Finished);
        Assert.Equal(TrialState.Running, (await s.GetTrialAsync(alive.Id))!.State);
        Assert.Equal(TrialState.Complete, (await s.GetTrialAsync(done.Id))!.State);
        Assert.Equal(TrialWriteOutcome.AlreadyFinished, await s.UpdateTrialAsync(silent.Id, "w2", new TrialUpdate { FinalState = TrialState.Complete, Value = 1 }));
        Assert.Empty(await s.FailStaleTrialsAsync(st.Id, Clock.GetUtcNow() - TimeSpan.FromSeconds(45)));
    }

    [SkippableFact]
    public async Task An_update_counts_as_a_heartbeat()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("update-beat", Direction.Minimize);
        var t = (await s.StartTrialAsync(st.Id, "w"))!;
        Clock.Advance(TimeSpan.FromSeconds(60));
        await s.UpdateTrialAsync(t.Id, "w", new TrialUpdate { Intermediate = [(1, 0.5)] });
        Assert.Equal(Clock.GetUtcNow(), (await s.GetTrialAsync(t.Id))!.Heartbeat);
        Assert.Empty(await s.FailStaleTrialsAsync(st.Id, Clock.GetUtcNow() - TimeSpan.FromSeconds(10)));
    }

    [SkippableFact]
    public async Task A_paused_trial_is_never_claimed_counts_once_toward_the_budget_and_resumes_for_one_worker()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("pause", Direction.Maximize);
        var t = (await s.StartTrialAsync(st.Id, "w1", maxTrials: 2))!;
        Assert.Equal(TrialWriteOutcome.Applied, await s.UpdateTrialAsync(t.Id, "w1", new TrialUpdate
        {
            Params = [("x", 0.5, new FloatDistribution(0, 1))],
            Intermediate = [(1, 0.4), (2, 0.6)],
            SystemAttributes = [new(SystemAttributeKeys.PausedStep, 2L)],
            FinalState = TrialState.Paused,
        }));
        var paused = (await s.GetTrialAsync(t.Id))!;
        Assert.Equal(TrialState.Paused, paused.State);
        Assert.False(paused.State.IsFinished());
        Assert.Equal(TrialWriteOutcome.AlreadyFinished, await s.UpdateTrialAsync(t.Id, "w1", new TrialUpdate { Intermediate = [(3, 0.7)] }));
        Assert.Empty(await s.FailStaleTrialsAsync(st.Id, Clock.GetUtcNow() + TimeSpan.FromDays(1))); // not running: never stale

        // Not claimed as work; it counts toward the budget of 2, so one more trial may start, then none.
        var other = (await s.StartTrialAsync(st.Id, "w2", maxTrials: 2))!;
        Assert.NotEqual(t.Id, other.Id);
        Assert.Null(await s.StartTrialAsync(st.Id, "w2", maxTrials: 2));
        Assert.Equal(1, (await s.CountTrialsAsync(st.Id))[TrialState.Paused]);

        // Two workers resume it: one gets it, Running and its own, with its params and values; the budget is unchanged.
        var since = (await s.GetTrialsSinceAsync(st.Id, 0)).Cursor;
        var first = await s.ResumeTrialAsync(t.Id, "w3");
        Assert.Null(await s.ResumeTrialAsync(t.Id, "w4"));
        Assert.NotNull(first);
        Assert.Equal((TrialState.Running, "w3"), (first!.State, first.Worker));
        Assert.Equal(0.5, first.Params["x"]);
        Assert.Equal(0.6, first.Intermediate[2]);
        Assert.Equal(2L, first.SystemAttributes[SystemAttributeKeys.PausedStep]);
        Assert.Contains((await s.GetTrialsSinceAsync(st.Id, since)).Trials, c => c.Id == t.Id); // pollers see it change
        Assert.Equal(TrialWriteOutcome.NotOwner, await s.UpdateTrialAsync(t.Id, "w1", new TrialUpdate { Intermediate = [(3, 0.7)] }));
        Assert.Equal(TrialWriteOutcome.Applied, await s.UpdateTrialAsync(t.Id, "w3", new TrialUpdate { Intermediate = [(3, 0.7)], FinalState = TrialState.Complete, Value = 0.7 }));
        Assert.Null(await s.ResumeTrialAsync(t.Id, "w4")); // only a paused trial resumes
        Assert.Null(await s.StartTrialAsync(st.Id, "w2", maxTrials: 2));
    }

    [SkippableFact]
    public async Task A_released_trial_waits_again_with_what_it_held_frees_its_budget_place_and_is_claimed_first()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("release", Direction.Minimize);
        await s.EnqueueTrialAsync(st.Id, P(("x", 0.25), ("opt", "adam")), new Dictionary<string, object?> { ["source"] = "csv" });
        var enqueued = (await s.StartTrialAsync(st.Id, "w", maxTrials: 2))!;
        var fresh = (await s.StartTrialAsync(st.Id, "w", maxTrials: 2))!;
        Assert.Equal((0, 1), (enqueued.Number, fresh.Number));
        Assert.Null(await s.StartTrialAsync(st.Id, "w", maxTrials: 2));
        var since = (await s.GetTrialsSinceAsync(st.Id, 0)).Cursor;

        Assert.Equal(TrialWriteOutcome.NotOwner, await s.ReleaseTrialAsync(fresh.Id, "other"));
        Assert.Equal(TrialWriteOutcome.NotFound, await s.ReleaseTrialAsync(123456, "w"));
        Assert.Equal(TrialWriteOutcome.Applied, await s.ReleaseTrialAsync(fresh.Id, "w"));
        Assert.Equal(TrialWriteOutcome.AlreadyFinished, await s.ReleaseTrialAsync(fresh.Id, "w")); // Waiting now: not the worker's
        Assert.Equal(TrialWriteOutcome.AlreadyFinished, await s.UpdateTrialAsync(fresh.Id, "w", new TrialUpdate { FinalState = TrialState.Complete, Value = 1 }));
        Assert.Equal(TrialWriteOutcome.Applied, await s.ReleaseTrialAsync(enqueued.Id, "w"));

        // Waiting as if never started: no worker, start or heartbeat; the enqueued trial keeps its params and attributes.
        var waiting = (await s.GetTrialsSinceAsync(st.Id, since)).Trials;
        Assert.Equal([0, 1], waiting.Select(t => t.Number)); // pollers see both change
        Assert.All(waiting, t => Assert.Equal((TrialState.Waiting, (string?)null, (DateTimeOffset?)null, (DateTimeOffset?)null), (t.State, t.Worker, t.Started, t.Heartbeat)));
        Assert.Equal(P(("x", 0.25), ("opt", "adam")), waiting[0].Params);
        Assert.Equal("csv", waiting[0].SystemAttributes["source"]);
        Assert.Empty(waiting[1].Params);
        Assert.Equal(2, (await s.CountTrialsAsync(st.Id))[TrialState.Waiting]);
        Assert.Empty(await s.FailStaleTrialsAsync(st.Id, Clock.GetUtcNow() + TimeSpan.FromDays(1))); // not running: never stale

        // Their budget places are free again, and they are claimed first, lowest number first, before any new trial.
        var again = (await s.StartTrialAsync(st.Id, "w2", maxTrials: 2))!;
        var next = (await s.StartTrialAsync(st.Id, "w2", maxTrials: 2))!;
        Assert.Equal((enqueued.Id, fresh.Id), (again.Id, next.Id));
        Assert.Equal(("w2", 0.25), (again.Worker, again.Params["x"]));
        Assert.Null(await s.StartTrialAsync(st.Id, "w2", maxTrials: 2));
        Assert.Equal(TrialWriteOutcome.Applied, await s.UpdateTrialAsync(next.Id, "w2", new TrialUpdate { FinalState = TrialState.Complete, Value = 1 }));
        Assert.Equal(TrialWriteOutcome.AlreadyFinished, await s.ReleaseTrialAsync(next.Id, "w2")); // a finished trial stays finished
        Assert.Equal(2, (await s.StartTrialAsync(st.Id, "w2"))!.Number); // numbers are never reused
    }

    [SkippableFact]
    public async Task A_released_retry_keeps_the_reports_it_inherited()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("release-retry", Direction.Maximize);
        var t = (await s.StartTrialAsync(st.Id, "w"))!;
        await s.UpdateTrialAsync(t.Id, "w", new TrialUpdate
        {
            Params = [("x", 0.5, new FloatDistribution(0, 1))], Intermediate = [(1, 0.1), (2, 0.2)], FinalState = TrialState.Failed,
        });
        var retry = (await s.RetryTrialAsync(t.Id))!;
        Assert.Equal(retry.Id, (await s.StartTrialAsync(st.Id, "w", maxTrials: 1))!.Id);
        Assert.Equal(TrialWriteOutcome.Applied, await s.ReleaseTrialAsync(retry.Id, "w"));
        var released = (await s.GetTrialAsync(retry.Id))!;
        Assert.Equal(TrialState.Waiting, released.State);
        Assert.Equal(0.5, released.Params["x"]);
        Assert.Equal([(1L, 0.1), (2L, 0.2)], released.Intermediate.OrderBy(kv => kv.Key).Select(kv => (kv.Key, kv.Value)));
        Assert.Equal((long)t.Number, released.SystemAttributes[SystemAttributeKeys.RetryOf]);
        Assert.Equal(retry.Id, (await s.StartTrialAsync(st.Id, "w", maxTrials: 1))!.Id); // the failed attempt does not count
    }

    [SkippableFact]
    public async Task Retry_reenqueues_the_same_params_once_and_links_both_ways()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("retry", Direction.Minimize);
        var t = (await s.StartTrialAsync(st.Id, "w"))!;
        await s.UpdateTrialAsync(t.Id, "w", new TrialUpdate
        {
            Params = [("lr", 0.01, new FloatDistribution(1e-4, 1, Log: true)), ("opt", "sgd", new CategoricalDistribution(["adam", "sgd"]))],
            FinalState = TrialState.Failed,
        });
        var running = (await s.StartTrialAsync(st.Id, "w"))!;
        Assert.Null(await s.RetryTrialAsync(running.Id)); // not failed

        var retry = (await s.RetryTrialAsync(t.Id))!;
        Assert.Equal(TrialState.Waiting, retry.State);
        Assert.Equal(2, retry.Number);
        Assert.Equal(0.01, retry.Params["lr"]);
        Assert.Equal("sgd", retry.Params["opt"]);
        Assert.Equal((long)t.Number, retry.SystemAttributes[SystemAttributeKeys.RetryOf]);
        Assert.Equal(1L, retry.SystemAttributes[SystemAttributeKeys.RetryCount]);
        Assert.Equal((long)retry.Number, (await s.GetTrialAsync(t.Id))!.SystemAttributes[SystemAttributeKeys.RetriedBy]);
        Assert.Null(await s.RetryTrialAsync(t.Id)); // only once
        Assert.Null(await s.RetryTrialAsync(123456));

        var claimed = (await s.StartTrialAsync(st.Id, "w2"))!;
        Assert.Equal(retry.Id, claimed.Id);
        Assert.Equal(0.01, claimed.Params["lr"]);
        await s.UpdateTrialAsync(claimed.Id, "w2", new TrialUpdate { FinalState = TrialState.Failed });
        var second = (await s.RetryTrialAsync(claimed.Id))!;
        Assert.Equal((long)t.Number, second.SystemAttributes[SystemAttributeKeys.RetryOf]); // the root, not the previous retry
        Assert.Equal(2L, second.SystemAttributes[SystemAttributeKeys.RetryCount]);
    }

    [SkippableFact]
    public async Task A_retry_inherits_the_failed_attempts_reports_and_checkpoint_but_not_its_other_attributes()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("retry-curve", Direction.Maximize);
        var t = (await s.StartTrialAsync(st.Id, "w"))!;
        const string checkpoint = "{\"dir\":\"trials/0/checkpoint-2-abc\",\"step\":2,\"trial\":0}";
        await s.UpdateTrialAsync(t.Id, "w", new TrialUpdate
        {
            Params = [("x", 0.5, new FloatDistribution(0, 1))],
            Intermediate = [(1, 0.1), (2, 0.2), (3, 0.3)],
            SystemAttributes = [new(SystemAttributeKeys.Checkpoint, checkpoint), new(SystemAttributeKeys.CheckpointStep, 2L), new(SystemAttributeKeys.PausedStep, 3L)],
            UserAttributes = [new("note", "first attempt")],
            FinalState = TrialState.Failed,
        });

        var retry = (await s.RetryTrialAsync(t.Id))!;
        Assert.Equal([(1L, 0.1), (2L, 0.2), (3L, 0.3)], retry.Intermediate.OrderBy(kv => kv.Key).Select(kv => (kv.Key, kv.Value)));
        Assert.Equal(checkpoint, retry.SystemAttributes[SystemAttributeKeys.Checkpoint]);
        Assert.Equal(2L, retry.SystemAttributes[SystemAttributeKeys.CheckpointStep]);
        Assert.Equal(3L, retry.SystemAttributes[SystemAttributeKeys.InheritedStep]);
        Assert.False(retry.SystemAttributes.ContainsKey(SystemAttributeKeys.PausedStep));
        Assert.Empty(retry.UserAttributes);
        Assert.Null(retry.Value);

        // As storage holds it, and once a worker claims it: its reports go on from there.
        var stored = (await s.GetTrialAsync(retry.Id))!;
        Assert.Equal(retry.Intermediate.OrderBy(kv => kv.Key), stored.Intermediate.OrderBy(kv => kv.Key));
        var claimed = (await s.StartTrialAsync(st.Id, "w2"))!;
        Assert.Equal(retry.Id, claimed.Id);
        Assert.Equal(3, claimed.Intermediate.Count);
        await s.UpdateTrialAsync(claimed.Id, "w2", new TrialUpdate { Intermediate = [(3, 0.35), (4, 0.4)] });
        var after = (await s.GetTrialAsync(retry.Id))!;
        Assert.Equal([(1L, 0.1), (2L, 0.2), (3L, 0.35), (4L, 0.4)], after.Intermediate.OrderBy(kv => kv.Key).Select(kv => (kv.Key, kv.Value)));
        Assert.Equal([(1L, 0.1), (2L, 0.2), (3L, 0.3)], (await s.GetTrialAsync(t.Id))!.Intermediate.OrderBy(kv => kv.Key).Select(kv => (kv.Key, kv.Value)));
    }

    [SkippableFact]
    public async Task Concurrent_retries_of_one_failed_trial_create_one_retry()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("retry-race", Direction.Minimize);
        var t = (await s.StartTrialAsync(st.Id, "w"))!;
        await s.UpdateTrialAsync(t.Id, "w", new TrialUpdate { FinalState = TrialState.Failed });
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => s.RetryTrialAsync(t.Id))));
        Assert.Single(results, r => r is not null);
        Assert.Equal(1, (await s.CountTrialsAsync(st.Id))[TrialState.Waiting]);
    }

    // ---------------------------------------------------------------- incremental reads and counts

    /// <summary>
    /// True where a read after a cursor may also return trials already read and unchanged since (PostgreSQL, while some
    /// transaction that started before the last read is still running); such repeats carry the version already seen.
    /// </summary>
    protected virtual bool ReadsMayRepeatUnchangedTrials => false;

    /// <summary>The trials of <paramref name="changes"/> not already in <paramref name="seen"/> with the same version; records them.</summary>
    private List<FrozenTrial> News(Dictionary<long, FrozenTrial> seen, TrialChanges changes)
    {
        var news = new List<FrozenTrial>();
        foreach (var t in changes.Trials)
        {
            var repeat = seen.TryGetValue(t.Id, out var old) && old.Version == t.Version;
            if (repeat)
            {
                Assert.True(ReadsMayRepeatUnchangedTrials, $"trial {t.Number} came again unchanged");
                Assert.Equal(old!.State, t.State);
                continue;
            }
            if (old is not null) Assert.True(t.Version > old.Version, $"trial {t.Number}: version went from {old.Version} to {t.Version}");
            seen[t.Id] = t;
            news.Add(t);
        }
        return news;
    }

    [SkippableFact]
    public async Task Trials_since_a_cursor_returns_only_what_changed_and_advances_the_cursor()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("since", Direction.Minimize);
        var other = await s.CreateStudyAsync("other", Direction.Minimize);
        var a = (await s.StartTrialAsync(st.Id, "w"))!;
        var b = (await s.StartTrialAsync(st.Id, "w"))!;
        await s.EnqueueTrialAsync(st.Id, P(("x", 1L)));
        await s.StartTrialAsync(other.Id, "w");
        var seen = new Dictionary<long, FrozenTrial>();

        var all = await s.GetTrialsSinceAsync(st.Id, 0);
        Assert.Equal([0, 1, 2], News(seen, all).Select(t => t.Number));

        var none = await s.GetTrialsSinceAsync(st.Id, all.Cursor);
        Assert.Empty(News(seen, none));
        Assert.True(none.Cursor >= all.Cursor);

        await s.HeartbeatAsync([a.Id], "w"); // not a change pollers need
        Assert.Empty(News(seen, await s.GetTrialsSinceAsync(st.Id, none.Cursor)));

        await FinishAsync(s, b, 2);
        await s.UpdateTrialAsync(b.Id, "w", new TrialUpdate { Metrics = [new("refused", 1)] });
        var changed = await s.GetTrialsSinceAsync(st.Id, none.Cursor);
        var only = Assert.Single(News(seen, changed));
        Assert.Equal(b.Id, only.Id);
        Assert.Equal(TrialState.Complete, only.State);
        Assert.True(only.Version > none.Cursor);
        Assert.True(changed.Cursor >= none.Cursor);

        var c = (await s.StartTrialAsync(st.Id, "w"))!; // claims the enqueued trial
        await s.UpdateTrialAsync(a.Id, "w", new TrialUpdate { Intermediate = [(1, 0.1)] });
        var next = News(seen, await s.GetTrialsSinceAsync(st.Id, changed.Cursor));
        Assert.Equal([a.Number, c.Number], next.Select(t => t.Number));
        Assert.Equal(0.1, next[0].Intermediate[1]);
        Assert.Equal(TrialState.Running, next[1].State);
    }

    [SkippableFact]
    public async Task A_poller_following_the_cursor_during_concurrent_writes_misses_no_change()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("poll", Direction.Minimize);
        var seen = new Dictionary<long, FrozenTrial>();
        long cursor = 0;
        async Task PollAsync()
        {
            var changes = await s.GetTrialsSinceAsync(st.Id, cursor);
            foreach (var t in changes.Trials) Assert.True(t.Version > cursor);
            News(seen, changes);
            Assert.True(changes.Cursor >= cursor);
            cursor = changes.Cursor;
        }
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < 25; i++)
            {
                var t = (await s.StartTrialAsync(st.Id, $"w{w}"))!;
                await s.UpdateTrialAsync(t.Id, $"w{w}", new TrialUpdate { Intermediate = [(1, i)] });
                await s.UpdateTrialAsync(t.Id, $"w{w}", new TrialUpdate { FinalState = TrialState.Complete, Value = i });
            }
        })).ToArray();
        var all = Task.WhenAll(writers);
        while (!all.IsCompleted) await PollAsync();
        await all;
        await PollAsync();

        Assert.Equal(Enumerable.Range(0, 100), seen.Values.Select(t => t.Number).Order());
        Assert.All(seen.Values, t => Assert.Equal(TrialState.Complete, t.State));
        Assert.Empty(News(seen, await s.GetTrialsSinceAsync(st.Id, cursor)));
    }

    [SkippableFact]
    public async Task Versions_grow_with_every_change_of_a_trial()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("versions", Direction.Minimize);
        var t = (await s.EnqueueTrialAsync(st.Id, P(("x", 1L))));
        var started = (await s.StartTrialAsync(st.Id, "w"))!;
        await s.UpdateTrialAsync(t.Id, "w", new TrialUpdate { Intermediate = [(1, 1)] });
        var reported = (await s.GetTrialAsync(t.Id))!;
        var finished = await FinishAsync(s, t, 1);
        Assert.True(t.Version < started.Version);
        Assert.True(started.Version < reported.Version);
        Assert.True(reported.Version < finished.Version);
    }

    [SkippableFact]
    public async Task Counts_report_every_state()
    {
        var s = NewStorage();
        var st = await s.CreateStudyAsync("counts", Direction.Minimize);
        await s.EnqueueTrialAsync(st.Id, P(("x", 1L)));
        await s.EnqueueTrialAsync(st.Id, P(("x", 2L)));
        var r = (await s.StartTrialAsync(st.Id, "w"))!;
        await FinishAsync(s, (await s.StartTrialAsync(st.Id, "w"))!, 1);
        await s.UpdateTrialAsync((await s.StartTrialAsync(st.Id, "w"))!.Id, "w", new TrialUpdate { FinalState = TrialState.Pruned });
        await s.UpdateTrialAsync((await s.StartTrialAsync(st.Id, "w"))!.Id, "w", new TrialUpdate { FinalState = TrialState.Failed });
        await s.EnqueueTrialAsync(st.Id, P(("x", 3L)));
        var counts = await s.CountTrialsAsync(st.Id);
        Assert.Equal(1, counts[TrialState.Waiting]);
        Assert.Equal(1, counts[TrialState.Running]);
        Assert.Equal(1, counts[TrialState.Complete]);
        Assert.Equal(1, counts[TrialState.Pruned]);
        Assert.Equal(1, counts[TrialState.Failed]);
        Assert.Equal(TrialState.Running, (await s.GetTrialAsync(r.Id))!.State);
    }

    // ---------------------------------------------------------------- through the Study API

    /// <summary>Records, for each trial it proposes, the numbers of the Complete trials in its history and their values.</summary>
    private sealed class HistoryRecordingSampler : ISampler
    {
        public List<(int Trial, int[] Completed, double[] Values)> Seen { get; } = [];
        public int? Seed => 1;
        public string Name => "recording";

        public IReadOnlyDictionary<string, Distribution> InferRelativeSearchSpace(SamplingContext context)
        {
            var done = context.History.Completed.ToArray();
            lock (Seen) Seen.Add((context.Trial.Number, done.Select(t => t.Number).ToArray(), done.Select(t => t.Value!.Value).ToArray()));
            return new Dictionary<string, Distribution>();
        }

        public IReadOnlyDictionary<string, object?> SampleRelative(SamplingContext context, IReadOnlyDictionary<string, Distribution> searchSpace) =>
            new Dictionary<string, object?>();

        public object? SampleIndependent(SamplingContext context, string name, Distribution distribution) => context.Random.NextDouble();
    }

    [SkippableFact]
    public async Task Optimize_proposes_each_trial_from_a_history_holding_every_earlier_result()
    {
        var s = NewStorage();
        var sampler = new HistoryRecordingSampler();
        await using var study = await Study.CreateOrLoadAsync("history", new StudyOptions { StorageInstance = s, Sampler = sampler, TimeProvider = TimeProvider.System });
        await study.OptimizeAsync((t, _) => Task.FromResult(t.SuggestFloat("x", 0, 1) + t.Number), new OptimizeOptions { Trials = 12 });
        Assert.Equal(Enumerable.Range(0, 12), sampler.Seen.Select(x => x.Trial));
        foreach (var (trial, completed, values) in sampler.Seen)
        {
            Assert.Equal(Enumerable.Range(0, trial), completed);
            Assert.All(values.Select((v, i) => (v, i)), p => Assert.InRange(p.v, p.i, p.i + 1)); // the told values, not placeholders
        }
    }

    [SkippableFact]
    public async Task Stop_from_a_callback_gives_the_trial_started_with_the_last_finish_back_to_the_queue_and_a_rerun_reaches_the_budget()
    {
        // Optuna's pattern: def cb(study, trial): if trial.number == k: study.stop(). The loop started trial k + 1 with trial
        // k's finish, before the callback ran: it must not stay Running, nor be recorded Failed, nor lose its enqueued params.
        var s = NewStorage();
        var options = new StudyOptions { StorageInstance = s, Sampler = new RandomSampler(seed: 3), TimeProvider = TimeProvider.System };
        await using var study = await Study.CreateOrLoadAsync("stop", options);
        await study.EnqueueAsync(P(("x", 0.25)));
        await study.EnqueueAsync(P(("x", 0.75)));
        OptimizeOptions StopAfter(int k) => new() { Trials = 8, Callbacks = [(st, ft) => { if (ft.Number == k) st.Stop(); }] };
        static Task<double> Objective(Trial t, CancellationToken _) => Task.FromResult(t.SuggestFloat("x", 0, 1));

        // Stopped after trial 0: trial 1, enqueued, waits again with its value.
        await study.OptimizeAsync(Objective, StopAfter(0));
        var trials = await study.GetTrialsAsync();
        Assert.Equal([(0, TrialState.Complete), (1, TrialState.Waiting)], trials.Select(t => (t.Number, t.State)));
        Assert.Equal((0.75, (string?)null, (DateTimeOffset?)null), (trials[1].Params["x"], trials[1].Worker, trials[1].Started));

        // Stopped after trial 3: trial 4, sampled, waits again with no params; 4 trials finished, none failed.
        await study.OptimizeAsync(Objective, StopAfter(3));
        trials = await study.GetTrialsAsync();
        Assert.Equal([0, 1, 2, 3], trials.Where(t => t.State == TrialState.Complete).Select(t => t.Number));
        Assert.Equal([0.25, 0.75], trials.Take(2).Select(t => (double)t.Params["x"]!));
        var waiting = Assert.Single(trials, t => t.State != TrialState.Complete);
        Assert.Equal((4, TrialState.Waiting, 0), (waiting.Number, waiting.State, waiting.Params.Count));

        // A rerun, another process's study object, reaches the budget of 8: trial 4 runs first, none is lost or counted twice.
        await using var rerun = await Study.CreateOrLoadAsync("stop", options with { Sampler = new RandomSampler(seed: 4) });
        await rerun.OptimizeAsync(Objective, new OptimizeOptions { Trials = 8 });
        trials = await rerun.GetTrialsAsync();
        Assert.Equal(Enumerable.Range(0, 8), trials.Select(t => t.Number));
        Assert.All(trials, t => Assert.Equal(TrialState.Complete, t.State));
        Assert.All(trials, t => Assert.IsType<FloatDistribution>(t.Distributions["x"]));
    }

    [SkippableFact]
    public async Task Cancelling_a_run_right_after_a_finish_started_the_next_trial_gives_that_trial_back_to_the_queue()
    {
        // As Ctrl+C between a trial's finish (which started the next one) and the next objective call.
        var s = NewStorage();
        var options = new StudyOptions { StorageInstance = s, Sampler = new RandomSampler(seed: 5), TimeProvider = TimeProvider.System };
        await using var study = await Study.CreateOrLoadAsync("cancel-after-finish", options);
        using var cts = new CancellationTokenSource();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => study.OptimizeAsync((t, _) => Task.FromResult(t.SuggestFloat("x", 0, 1)),
            new OptimizeOptions { Trials = 5, Callbacks = [(_, ft) => { if (ft.Number == 1) cts.Cancel(); }] }, cts.Token));
        var trials = await study.GetTrialsAsync();
        Assert.Equal([(0, TrialState.Complete), (1, TrialState.Complete), (2, TrialState.Waiting)], trials.Select(t => (t.Number, t.State)));
        Assert.Empty(trials[2].Params);

        await study.OptimizeAsync((t, _) => Task.FromResult(t.SuggestFloat("x", 0, 1)), new OptimizeOptions { Trials = 5 });
        trials = await study.GetTrialsAsync();
        Assert.Equal(Enumerable.Range(0, 5), trials.Select(t => t.Number));
        Assert.All(trials, t => Assert.Equal(TrialState.Complete, t.State));
    }

    [SkippableFact]
    public async Task Optimize_with_parallel_workers_holds_the_study_budget()
    {
        var s = NewStorage();
        await using var study = await Study.CreateOrLoadAsync("optimize", new StudyOptions
        {
            StorageInstance = s, Sampler = new RandomSampler(seed: 7), TimeProvider = TimeProvider.System,
        });
        await study.OptimizeAsync((t, _) => Task.FromResult(Math.Abs(t.SuggestFloat("x", -1, 1))), new OptimizeOptions { Trials = 40, Parallelism = 4 });
        var trials = await study.GetTrialsAsync();
        Assert.Equal(Enumerable.Range(0, 40), trials.Select(t => t.Number));
        Assert.All(trials, t => Assert.Equal(TrialState.Complete, t.State));
        Assert.All(trials, t => Assert.IsType<FloatDistribution>(t.Distributions["x"]));
        await using var again = await Study.CreateOrLoadAsync("optimize", new StudyOptions { StorageInstance = s });
        Assert.Equal(40, (await again.GetTrialsAsync()).Count);
    }
}
