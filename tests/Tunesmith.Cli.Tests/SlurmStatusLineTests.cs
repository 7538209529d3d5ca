using Tunesmith.Backends.Slurm;
using Tunesmith.Cli.Commands;

namespace Tunesmith.Cli.Tests;

/// <summary>The per-job line of <c>tunesmith slurm status</c>.</summary>
public sealed class SlurmStatusLineTests
{
    [Fact]
    public void One_task_is_singular_and_several_are_plural()
    {
        Assert.Equal("job 40: 1 task; 1 running", SlurmStatusCommand.JobLine(new SlurmStudyJob("40", null, 1), ["RUNNING"]));
        Assert.Equal("job 41 (class fast): 3 tasks; 2 completed, 1 pending",
            SlurmStatusCommand.JobLine(new SlurmStudyJob("41", "fast", 3), ["COMPLETED", "PENDING", "COMPLETED"]));
        Assert.Equal("job 42: 0 tasks; no longer known to Slurm", SlurmStatusCommand.JobLine(new SlurmStudyJob("42", null, 0), []));
    }
}
