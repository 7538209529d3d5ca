using Tunesmith.Execution;
using Tunesmith.Execution.Commands;
using Tunesmith.Storage;
using Xunit;

namespace Tunesmith.Tests.Execution;

/// <summary>A study file's sampler is built for the run's effective trial budget.</summary>
public sealed class StudyFileBudgetTests
{
    private static readonly StudyFile File = StudyFile.Parse("""
        name: budget
        command: python3 train.py --x {x} --y {y}
        space:
          x: { float: [0, 1] }
          y: { float: [0, 1] }
        trials: 100
        """);

    [Fact]
    public async Task Auto_chooses_for_the_files_trials_when_no_budget_overrides_it()
    {
        await using var storage = new InMemoryStudyStorage();
        await using var study = await StudyFileRun.OpenAsync(File, storage, new StudyFileOpenOptions());
        Assert.Equal("auto(gp+tpe_if_rugged)", study.Sampler.Name);
    }

    [Fact]
    public async Task Auto_chooses_for_the_overriding_trial_budget()
    {
        await using var storage = new InMemoryStudyStorage();
        await using var study = await StudyFileRun.OpenAsync(File, storage, new StudyFileOpenOptions { TrialBudget = 1000 });
        Assert.Equal("auto(cmaes)", study.Sampler.Name);
    }
}
