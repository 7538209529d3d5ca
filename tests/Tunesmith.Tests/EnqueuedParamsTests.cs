using Tunesmith.Execution;
using Tunesmith.Spaces;
using Tunesmith.Tests.Storage;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Tests;

/// <summary>
/// An enqueued value the objective never suggests is no param of the finished trial (Optuna keeps such values out of
/// <c>trial.params</c>); it stays in <c>fixed_params</c>, and a failed trial keeps it for its retry.
/// </summary>
public sealed class EnqueuedParamsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tunesmith-enqueued-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void An_enqueued_value_outside_the_suggested_range_fails_the_trial_saying_it_was_enqueued()
    {
        using var study = Study.Create("enqueued-outside");
        study.Enqueue(new Dictionary<string, object?> { ["lr"] = 5.0 });
        study.Optimize(t => t.SuggestFloat("lr", 1e-5, 1e-1, log: true), trials: 1);

        var trial = Assert.Single(study.Trials);
        Assert.Equal(TrialState.Failed, trial.State);
        Assert.StartsWith("parameter 'lr': value 5.0 is not in float [1e-05, 0.1] log; it was enqueued (Study.Enqueue, tunesmith enqueue) " +
            "for trial 0: enqueue a value that float [1e-05, 0.1] log holds, or leave 'lr' out to have it drawn", trial.FailReason);
    }

    [Theory]
    [InlineData("memory")]
    [InlineData("sqlite")]
    public void A_completed_trial_holds_only_the_params_its_objective_suggested(string storage)
    {
        using var study = Study.Create("enqueued", storage: storage == "memory" ? "memory:" : $"sqlite:///{_dir}/s.db");
        study.Enqueue(new Dictionary<string, object?> { ["x"] = 0.25, ["y"] = 0.5 });
        var told = new List<FrozenTrial>();
        study.Optimize(t =>
        {
            var x = t.SuggestFloat("x", 0, 1);
            t.SetDerived("half_x", x / 2);
            return x;
        }, trials: 1, callbacks: [(_, ft) => told.Add(ft)]);

        var trial = Assert.Single(study.Trials);
        Assert.Equal(TrialState.Complete, trial.State);
        Assert.Equal(["x", "half_x"], trial.Params.Keys);
        Assert.Equal(0.25, trial.Params["x"]);
        Assert.Equal(["x", "half_x"], Assert.Single(told).Params.Keys);
        Assert.Equal(ParamValues.ToJson([new("x", 0.25), new("y", 0.5)]), trial.SystemAttributes[SystemAttributeKeys.FixedParams]);
    }

    [Fact]
    public async Task A_failed_trial_keeps_its_enqueued_values_so_that_its_retry_runs_with_them()
    {
        await using var study = await Study.CreateAsync("retried");
        await study.EnqueueAsync(new Dictionary<string, object?> { ["x"] = 0.25, ["y"] = 0.5 });
        var ys = new List<double>();
        var calls = 0;
        await study.OptimizeAsync((t, _) =>
        {
            var x = t.SuggestFloat("x", 0, 1);
            if (calls++ == 0) throw new InvalidOperationException("the first attempt fails before it asks for y");
            ys.Add(t.SuggestFloat("y", 0, 1));
            return Task.FromResult(x);
        }, new OptimizeOptions { Trials = 1, Retries = 1 });
        var failed = study.Trials[0];
        Assert.Equal(TrialState.Failed, failed.State);
        Assert.Equal(0.5, failed.Params["y"]);
        Assert.Equal([0.5], ys);
        Assert.Equal(["x", "y"], study.Trials[1].Params.Keys);
    }

    [Fact]
    public void An_ask_and_tell_trial_drops_the_unused_value_too()
    {
        using var study = Study.Create("ask-tell");
        study.Enqueue(new Dictionary<string, object?> { ["x"] = 1, ["unused"] = "a" });
        var trial = study.Ask();
        study.Tell(trial, trial.SuggestInt("x", 0, 3));
        Assert.Equal(["x"], study.Trials[0].Params.Keys);
        Assert.Equal(1L, study.Trials[0].Params["x"]);
    }

    [Theory]
    [InlineData("memory")]
    [InlineData("sqlite")]
    public async Task EnqueueIfNew_adds_a_combination_once_and_again_after_it_failed_only_when_asked(string storage)
    {
        await using var study = await Study.CreateAsync("once", new StudyOptions { Storage = storage == "memory" ? "memory:" : $"sqlite:///{_dir}/s.db" });
        var combo = new Dictionary<string, object?> { ["x"] = 0.25, ["n"] = 3L, ["opt"] = "adam" };
        Assert.NotNull(await study.EnqueueIfNewAsync(combo));
        // The same values, written as another numeric type: still the same combination.
        Assert.Null(await study.EnqueueIfNewAsync(new Dictionary<string, object?> { ["x"] = 0.25, ["n"] = 3.0, ["opt"] = "adam" }));
        // Another kind (the text "3") or fewer names is another combination for a waiting trial.
        Assert.NotNull(await study.EnqueueIfNewAsync(new Dictionary<string, object?> { ["x"] = 0.25, ["n"] = "3", ["opt"] = "adam" }));
        Assert.NotNull(await study.EnqueueIfNewAsync(new Dictionary<string, object?> { ["x"] = 0.25 }));
        Assert.Equal(3, study.Trials.Count);

        // Run the first (it fails) and the rest; a failed combination may be enqueued again, a finished one may not.
        var first = true;
        await study.OptimizeAsync((t, _) =>
        {
            var x = t.SuggestFloat("x", 0, 1);
            t.SuggestFloat("unused", 0, 1);
            if (first) { first = false; throw new InvalidOperationException("fails"); }
            return Task.FromResult(x);
        }, new OptimizeOptions { Trials = 4 });
        Assert.Equal(TrialState.Failed, study.Trials[0].State);
        // A failed trial holds its combination too (as Optuna's skip_if_exists), unless the caller asks to retry it.
        Assert.Null(await study.EnqueueIfNewAsync(combo));
        Assert.NotNull(await study.EnqueueIfNewAsync(combo, retryFailed: true));
        Assert.Null(await study.EnqueueIfNewAsync(combo, retryFailed: true));
        // Trials 1 and 2 completed with x = 0.25 (and what they sampled): {x: 0.25} is held.
        Assert.Null(await study.EnqueueIfNewAsync(new Dictionary<string, object?> { ["x"] = 0.25 }));
    }

    [Fact]
    public async Task A_finished_trial_still_holds_the_enqueued_values_its_objective_never_suggested()
    {
        await using var study = await Study.CreateAsync("unused");
        var combo = new Dictionary<string, object?> { ["x"] = 0.25, ["y"] = 0.5 };
        await study.EnqueueAsync(combo);
        await study.OptimizeAsync((t, _) => Task.FromResult(t.SuggestFloat("x", 0, 1)), new OptimizeOptions { Trials = 1 });
        Assert.DoesNotContain("y", study.Trials[0].Params.Keys);
        Assert.Null(await study.EnqueueIfNewAsync(combo));
        Assert.Equal(0, new HeldCombinations(study.Trials).Find(combo)?.Number);
    }

    /// <summary>
    /// Optuna's skip_if_exists reads, then enqueues, and says two processes may both add the values. Here four callers,
    /// each with its own study object (its own storage instance, as four <c>tunesmith enqueue</c> processes), are let go
    /// at once by a barrier, 30 rounds of a new combination each: every combination must end up enqueued exactly once.
    /// </summary>
    [SkippableTheory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Concurrent_EnqueueIfNew_of_the_same_combination_from_separate_storages_adds_it_once(string storage)
    {
        using var schema = storage == "postgres" ? PostgresTestServer.NewSchema() : null;
        var url = schema?.Url ?? $"sqlite:///{_dir}/race.db";
        const int callers = 4, rounds = 30;
        await using (await Study.CreateAsync("race", new StudyOptions { Storage = url })) { }
        var studies = new List<Study>();
        try
        {
            for (var i = 0; i < callers; i++) studies.Add(await Study.LoadAsync("race", new StudyOptions { Storage = url }));
            using var barrier = new Barrier(callers);
            var added = await Task.WhenAll(studies.Select(study => Task.Run(async () =>
            {
                var mine = new List<int>();
                for (var round = 0; round < rounds; round++)
                {
                    barrier.SignalAndWait();
                    if (await study.EnqueueIfNewAsync(new Dictionary<string, object?> { ["x"] = (long)round, ["opt"] = "adam" }) is not null) mine.Add(round);
                }
                return mine;
            })));
            var trials = await studies[0].GetTrialsAsync();
            Assert.Equal(Enumerable.Range(0, rounds).Select(r => (object?)(long)r), trials.Select(t => t.Params["x"]).OrderBy(x => (long)x!));
            Assert.Equal(Enumerable.Range(0, rounds), added.SelectMany(a => a).Order());
        }
        finally
        {
            foreach (var s in studies) await s.DisposeAsync();
        }
    }
}
