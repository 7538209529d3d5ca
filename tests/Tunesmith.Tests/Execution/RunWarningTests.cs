using Tunesmith.Execution;
using Tunesmith.Samplers;
using Tunesmith.Tests.Storage;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Tests.Execution;

/// <summary>
/// What a run says through the study's logger when it leaves work undone without an error: a rerun after the study's
/// budget is spent (OptimizeOptions.Trials is the study's total, not Optuna's per-call n_trials), enqueued trials past the
/// budget, enqueued params the objective never suggests.
/// </summary>
public sealed class RunWarningTests
{
    private static string[] Warnings(ListLoggerFactory logs) =>
        logs.Lines.Where(l => l.StartsWith("Warning: ", StringComparison.Ordinal)).Select(l => l["Warning: ".Length..]).ToArray();

    private static Task Run(Study study, int trials) =>
        study.OptimizeAsync((t, _) => Task.FromResult(t.SuggestFloat("x", 0, 1)), new OptimizeOptions { Trials = trials });

    [Fact]
    public async Task A_rerun_after_the_budget_is_spent_says_it_ran_nothing_and_what_to_do()
    {
        var logs = new ListLoggerFactory();
        await using var study = await Study.CreateAsync("rerun", new StudyOptions { Sampler = new RandomSampler(seed: 1), LoggerFactory = logs });
        await Run(study, 3);
        Assert.Empty(Warnings(logs)); // a run that used its budget says nothing

        await Run(study, 3);
        Assert.Equal(3, (await study.GetTrialsAsync()).Count);
        Assert.Equal(["study 'rerun' already has 3 of its 3 trials; nothing to run. Raise OptimizeOptions.Trials, " +
            "or set MaxTrialsThisRun for a per-call count as Optuna's n_trials"], Warnings(logs));
    }

    [Fact]
    public async Task A_run_that_leaves_enqueued_trials_past_the_budget_says_how_many()
    {
        var logs = new ListLoggerFactory();
        await using var study = await Study.CreateAsync("beyond", new StudyOptions { Sampler = new RandomSampler(seed: 1), LoggerFactory = logs });
        for (var i = 0; i < 3; i++) await study.EnqueueAsync(new Dictionary<string, object?> { ["x"] = i / 10.0 });
        await Run(study, 2);

        var trials = await study.GetTrialsAsync();
        Assert.Equal(1, trials.Count(t => t.State == TrialState.Waiting));
        Assert.Equal(["study 'beyond': 1 enqueued trials wait beyond its budget of 2 trials and will not run; OptimizeOptions.Trials = 3 runs them"],
            Warnings(logs));

        // A rerun then starts nothing: one warning says both.
        await Run(study, 2);
        Assert.Equal("study 'beyond' already has 2 of its 2 trials; nothing to run (1 enqueued trials wait beyond the budget; OptimizeOptions.Trials = 3 runs them). " +
            "Raise OptimizeOptions.Trials, or set MaxTrialsThisRun for a per-call count as Optuna's n_trials", Warnings(logs)[^1]);
        Assert.Equal(2, Warnings(logs).Length);
    }

    [Fact]
    public async Task An_enqueued_name_the_objective_never_suggests_is_said_once_per_run_and_kept_in_fixed_params()
    {
        var logs = new ListLoggerFactory();
        await using var study = await Study.CreateAsync("typo", new StudyOptions { Sampler = new RandomSampler(seed: 1), LoggerFactory = logs });
        await study.EnqueueAsync(new Dictionary<string, object?> { ["x"] = 0.5 });
        for (var i = 0; i < 2; i++) await study.EnqueueAsync(new Dictionary<string, object?> { ["lrr"] = 0.1 * (i + 1) });
        await Run(study, 3);

        Assert.Equal(["Trial 1: enqueued parameter 'lrr' was never suggested by the objective; its value was not used (kept in fixed_params)"],
            Warnings(logs));
        var trials = await study.GetTrialsAsync();
        Assert.All(trials, t => Assert.Equal(TrialState.Complete, t.State));
        Assert.Equal("{\"lrr\":0.2}", trials[2].SystemAttributes[SystemAttributeKeys.FixedParams]);

        // The next run says it again, naming the suggested name it is closest to.
        await study.EnqueueAsync(new Dictionary<string, object?> { ["xx"] = 0.3 });
        await Run(study, 4);
        Assert.Equal("Trial 3: enqueued parameter 'xx' was never suggested by the objective; its value was not used (kept in fixed_params) (did you mean 'x'?)",
            Warnings(logs)[^1]);
    }
}
