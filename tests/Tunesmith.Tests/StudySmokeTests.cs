using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Samplers;
using Tunesmith.Spaces;
using Xunit;

namespace Tunesmith.Tests;

public sealed class StudySmokeTests
{
    [Fact]
    public void Optimize_finds_a_minimum_and_numbers_trials_densely()
    {
        var study = Study.Create("smoke", sampler: new RandomSampler(seed: 1));
        study.Optimize(t => Math.Pow(t.SuggestFloat("x", -10, 10) - 2, 2), trials: 200, parallelism: 4);
        var trials = study.Trials;
        Assert.Equal(Enumerable.Range(0, 200), trials.Select(t => t.Number));
        Assert.All(trials, t => Assert.Equal(TrialState.Complete, t.State));
        Assert.True(study.BestTrial!.Value < 0.5);
    }

    [Fact]
    public void Conditional_space_draws_only_the_active_branch()
    {
        var space = new SearchSpace()
            .Branch("kernel",
                ("linear", s => s.Float("C", 1e-3, 1e3, log: true)),
                ("rbf", s => s.Float("C", 1e-3, 1e3, log: true).Float("gamma", 1e-4, 1, log: true)),
                ("poly", s => s.Float("C", 1e-3, 1e3, log: true).Float("gamma", 1e-4, 1, log: true).Float("coef0", 0, 1).Int("degree", 2, 5)))
            .Int("kernel_size", 1, 7, step: 2)
            .Derived("padding", c => c.GetInt("kernel_size") / 2);
        var study = Study.Create("svm", sampler: new RandomSampler(seed: 3));
        study.Optimize(t =>
        {
            var c = t.Suggest(space);
            Assert.Equal(c.GetInt("kernel_size") / 2, c.GetInt("padding"));
            var kernel = c.GetString("kernel");
            Assert.Equal(kernel != "linear", c.ContainsKey("gamma"));
            Assert.Equal(kernel == "poly", c.ContainsKey("degree"));
            return c.GetDouble("C");
        }, trials: 60);
        Assert.Equal(60, study.Trials.Count(t => t.State == TrialState.Complete));
        Assert.All(study.Trials, t => Assert.False(t.Distributions.ContainsKey("padding")));
    }
}

/// <summary>An integer told to a study is an objective value; a <see cref="TrialState"/> is a state; both compile unambiguously.</summary>
public sealed class StudyTellOverloadTests
{
    [Fact]
    public async Task Tell_with_an_integer_literal_0_completes_the_trial_with_value_0_and_a_state_still_finishes_it_in_that_state()
    {
        var study = Study.Create("tell-ints", sampler: new RandomSampler(seed: 1));
        const int zero = 0;

        var a = study.Tell(study.Ask(), 0);
        var b = await study.TellAsync(study.Ask(), 0);
        var c = study.Tell(study.Ask(), 0L);
        var d = study.Tell(study.Ask(), zero);
        var e = study.Tell(study.Ask(), 7);
        var f = await study.TellAsync(study.Ask(), 7L);
        var g = study.Tell(study.Ask(), 2.5);
        foreach (var (told, value) in new[] { (a, 0.0), (b, 0.0), (c, 0.0), (d, 0.0), (e, 7.0), (f, 7.0), (g, 2.5) })
        {
            Assert.Equal(TrialState.Complete, told.State);
            Assert.Equal(value, told.Value);
        }

        var pruned = study.Tell(study.Ask(), TrialState.Pruned);
        var failed = await study.TellAsync(study.Ask(), TrialState.Failed, "diverged");
        Assert.Equal(TrialState.Pruned, pruned.State);
        Assert.Null(pruned.Value);
        Assert.Equal(TrialState.Failed, failed.State);
        Assert.Equal("diverged", failed.FailReason);
        Assert.Equal(0.0, study.BestTrial!.Value); // the zeros are values the study ranks
    }

    [Fact]
    public void A_trial_told_Pruned_keeps_its_last_reported_value_as_optimize_records_it()
    {
        var study = Study.Create("tell-pruned", sampler: new RandomSampler(seed: 1));
        var trial = study.Ask();
        trial.Report(1, 0.9);
        trial.Report(2, 0.7);
        var pruned = study.Tell(trial, TrialState.Pruned);
        Assert.Equal((TrialState.Pruned, 0.7), (pruned.State, pruned.Value));
        Assert.Equal(0.7, study.Trials.Single().Value);

        var failed = study.Ask();
        failed.Report(1, 0.5);
        Assert.Null(study.Tell(failed, TrialState.Failed, "diverged").Value);
    }
}

/// <summary>A trial that has finished takes no more writes: each says so instead of being dropped unstored.</summary>
public sealed class TrialAfterFinishTests
{
    [Fact]
    public void Suggesting_a_new_parameter_or_setting_an_attribute_metric_or_report_after_the_trial_finished_throws()
    {
        var study = Study.Create("after-finish", sampler: new RandomSampler(seed: 1));
        Trial? kept = null;
        study.Optimize(t => { kept = t; return t.SuggestFloat("x", 0, 1); }, trials: 1);
        var trial = kept!;
        var x = study.Trials[0].Params["x"];

        Assert.Equal(x, trial.SuggestFloat("x", 0, 1)); // reading a parameter it already has is still fine
        foreach (var write in new Action[]
        {
            () => trial.SuggestFloat("y", 0, 1),
            () => trial.SuggestCategorical("c", ["a", "b"]),
            () => trial.SetUserAttribute("note", "late"),
            () => trial.SetMetric("loss", 0.5),
            () => trial.SetDerived("z", 1),
            () => trial.Report(1, 0.5),
        })
        {
            var e = Assert.Throws<InvalidOperationException>(write);
            Assert.Contains("trial 0 has already finished", e.Message, StringComparison.Ordinal);
        }

        var stored = study.Trials.Single();
        Assert.Equal(["x"], stored.Params.Keys);
        Assert.Empty(stored.UserAttributes);
    }

    [Fact]
    public void A_negative_step_is_refused_naming_it_and_stores_nothing()
    {
        var study = Study.Create("negative-step", sampler: new RandomSampler(seed: 1));
        var trial = study.Ask();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => trial.Report(-1, 0.5));
        Assert.Contains("a step cannot be negative (got -1)", e.Message, StringComparison.Ordinal);
        trial.Report(0, 0.25); // step 0 is a step
        study.Tell(trial, 0.25);
        Assert.Equal([0L], study.Trials.Single().Intermediate.Keys);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    public void An_empty_parameter_name_is_refused_as_a_declarative_space_refuses_it(string name)
    {
        var study = Study.Create("empty-name", sampler: new RandomSampler(seed: 1));
        var trial = study.Ask();
        Assert.Equal("a parameter name must not be empty", Assert.Throws<SearchSpaceException>(() => trial.SuggestFloat(name, 0, 1)).Message);
        Assert.Throws<SearchSpaceException>(() => trial.SetDerived(name, 1));
        Assert.Throws<SearchSpaceException>(() => new SearchSpace().Float(name, 0, 1));
    }

    [Fact]
    public void An_attribute_set_after_tell_throws()
    {
        var study = Study.Create("after-tell", sampler: new RandomSampler(seed: 1));
        var trial = study.Ask();
        study.Tell(trial, 1.0);
        Assert.Throws<InvalidOperationException>(() => trial.SetUserAttribute("k", 1));
    }
}

/// <summary>Opening an existing study to create-or-load it with the other direction is refused, not optimized the wrong way.</summary>
public sealed class StudyDirectionTests
{
    [Fact]
    public async Task Create_or_load_with_the_other_direction_throws_naming_both_and_load_keeps_the_stored_one()
    {
        await using var storage = new Tunesmith.Storage.InMemoryStudyStorage();
        await using (var first = await Study.CreateAsync("acc", new StudyOptions { StorageInstance = storage, Direction = Direction.Maximize })) { }

        var e = await Assert.ThrowsAsync<StudyDirectionMismatchException>(() =>
            Study.CreateOrLoadAsync("acc", new StudyOptions { StorageInstance = storage }));
        Assert.Equal((Direction.Maximize, Direction.Minimize), (e.Stored, e.Requested));
        Assert.Contains("study 'acc' is stored with direction maximize, the options say minimize", e.Message, StringComparison.Ordinal);

        await using var same = await Study.CreateOrLoadAsync("acc", new StudyOptions { StorageInstance = storage, Direction = Direction.Maximize });
        Assert.Equal(Direction.Maximize, same.Direction);
        await using var loaded = await Study.LoadAsync("acc", new StudyOptions { StorageInstance = storage });
        Assert.Equal(Direction.Maximize, loaded.Direction);
    }
}

/// <summary>The synchronous API disposes a study with <c>using</c>: its memory: checkpoints go with it.</summary>
public sealed class StudyDisposeTests
{
    [Fact]
    public void A_using_block_around_a_synchronous_memory_study_removes_its_checkpoint_directory()
    {
        string? checkpointDirectory = null;
        using (var study = Study.Create("sync-dispose", sampler: new RandomSampler(seed: 1)))
        {
            study.Optimize(t =>
            {
                t.Report(1, t.SuggestFloat("x", 0, 1), checkpoint: directory => File.WriteAllText(Path.Combine(directory, "w"), "1"));
                checkpointDirectory = t.Checkpoint!.Directory;
                return 0;
            }, trials: 1);
            Assert.True(Directory.Exists(checkpointDirectory));
        }
        Assert.False(Directory.Exists(checkpointDirectory));
    }
}

/// <summary>Enqueued values are checked when enqueued: one no distribution can hold is refused naming its parameter.</summary>
public sealed class StudyEnqueueTests
{
    [Fact]
    public void Enqueuing_NaN_infinity_or_an_object_throws_naming_the_parameter_and_stores_nothing()
    {
        var study = Study.Create("enqueue-values", sampler: new RandomSampler(seed: 1));
        foreach (var bad in new object[] { double.NaN, double.PositiveInfinity, float.NegativeInfinity, new object() })
        {
            var e = Assert.Throws<ArgumentException>(() => study.Enqueue(new Dictionary<string, object?> { ["lr"] = bad }));
            Assert.Contains("parameter 'lr': an enqueued value must be a string, a finite number, a boolean or null", e.Message, StringComparison.Ordinal);
        }
        Assert.Empty(study.Trials);

        var ok = study.Enqueue(new Dictionary<string, object?> { ["lr"] = 0.1, ["layers"] = 3, ["opt"] = "adam", ["bn"] = true, ["none"] = null });
        Assert.Equal(3L, ok.Params["layers"]);
        Assert.Equal(TrialState.Waiting, Assert.Single(study.Trials).State);
    }
}

/// <summary>A user attribute storage cannot hold is refused where it is set, naming the key, on every storage.</summary>
public sealed class UserAttributeValueTests
{
    [Theory]
    [InlineData("memory:")]
    [InlineData("sqlite")]
    public async Task An_array_or_object_as_a_user_attribute_fails_its_trial_naming_the_key_and_the_run_goes_on(string storage)
    {
        using var dir = new Tunesmith.Tests.Storage.TempDirectory();
        var url = storage == "sqlite" ? $"sqlite:///{dir.File("a.db")}" : storage;
        await using var study = await Study.CreateAsync("attr-values", new StudyOptions { Storage = url, Sampler = new RandomSampler(seed: 1) });
        study.Optimize(t =>
        {
            if (t.Number == 0) t.SetUserAttribute("layers", new[] { 64, 32 });
            if (t.Number == 1) t.SetUserAttribute("model", new object());
            t.SetUserAttribute("note", "fine");
            return 1;
        }, trials: 3);

        var trials = study.Trials;
        Assert.Equal([TrialState.Failed, TrialState.Failed, TrialState.Complete], trials.Select(t => t.State));
        Assert.Contains("user attribute 'layers': a value must be a string, a number, a boolean or null, got Int32[]", trials[0].FailReason, StringComparison.Ordinal);
        Assert.Contains("user attribute 'model'", trials[1].FailReason, StringComparison.Ordinal);
        Assert.Equal("fine", trials[2].UserAttributes["note"]);
        await Assert.ThrowsAsync<ArgumentException>(() => study.SetUserAttributeAsync("owner", new object()));
    }

    [Theory]
    [InlineData("memory:")]
    [InlineData("sqlite")]
    public async Task A_derived_value_that_is_an_array_fails_its_trial_naming_it_and_the_run_goes_on(string storage)
    {
        using var dir = new Tunesmith.Tests.Storage.TempDirectory();
        var url = storage == "sqlite" ? $"sqlite:///{dir.File("d.db")}" : storage;
        var space = new SearchSpace().Int("k", 1, 3).Derived("sizes", c => c.GetInt("k") == 1 ? new[] { 64, 32 } : "wide");
        await using var study = await Study.CreateAsync("derived-values", new StudyOptions { Storage = url, Sampler = new RandomSampler(seed: 1) });
        study.Enqueue(new Dictionary<string, object?> { ["k"] = 1 });
        study.Enqueue(new Dictionary<string, object?> { ["k"] = 2 });
        study.Optimize(t => { t.Suggest(space); return 1; }, trials: 2);

        var trials = study.Trials;
        Assert.Equal([TrialState.Failed, TrialState.Complete], trials.Select(t => t.State));
        Assert.Contains("parameter 'sizes': a derived value must be a string, a number, a boolean or null, got Int32[]", trials[0].FailReason, StringComparison.Ordinal);
        Assert.Equal("wide", trials[1].Params["sizes"]);
    }
}

/// <summary>Opening a study that is not there, or creating one that is, says where it looked and what to call instead.</summary>
public sealed class StudyOpenErrorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tunesmith-open-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Loading_a_missing_study_names_the_storage_its_studies_and_the_call_that_creates_it()
    {
        var url = $"sqlite:///{_dir}/s.db";
        await using (await Study.CreateAsync("digits-mlp", new StudyOptions { Storage = url })) { }
        await using (await Study.CreateAsync("wine", new StudyOptions { Storage = url })) { }

        var e = await Assert.ThrowsAsync<Tunesmith.Storage.StudyNotFoundException>(() => Study.LoadAsync("digits_mlp", new StudyOptions { Storage = url }));
        Assert.Equal($"study 'digits_mlp' does not exist in {url} (its studies: digits-mlp, wine) (did you mean 'digits-mlp'?): " +
            "Study.CreateAsync or Study.CreateOrLoadAsync creates it", e.Message);
        Assert.Equal("digits_mlp", e.StudyName);

        var empty = await Assert.ThrowsAsync<Tunesmith.Storage.StudyNotFoundException>(() => Study.LoadAsync("x", new StudyOptions()));
        Assert.Equal("study 'x' does not exist in memory: (it holds no study): Study.CreateAsync or Study.CreateOrLoadAsync creates it", empty.Message);
    }

    [Fact]
    public async Task Creating_a_study_that_exists_points_to_load_and_create_or_load()
    {
        var url = $"sqlite:///{_dir}/s.db";
        await using (await Study.CreateAsync("wine", new StudyOptions { Storage = url })) { }

        var e = await Assert.ThrowsAsync<Tunesmith.Storage.StudyExistsException>(() => Study.CreateAsync("wine", new StudyOptions { Storage = url }));
        Assert.Equal($"study 'wine' already exists in {url}: open it with Study.LoadAsync, or Study.CreateOrLoadAsync (Optuna's load_if_exists), " +
            "or choose another name", e.Message);
        Assert.Equal("wine", e.StudyName);
    }
}
