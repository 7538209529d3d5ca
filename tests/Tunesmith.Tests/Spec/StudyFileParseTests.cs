using Tunesmith.Execution;
using Tunesmith.Samplers;
using Tunesmith.Spaces;
using Tunesmith.Spaces.Spec;
using Xunit;

namespace Tunesmith.Tests.Spec;

public sealed class StudyFileParseTests
{
    private const string Full = """
        name: digits-cnn
        direction: maximize
        metric: val_f1
        command: python3 train.py --lr {lr} --opt {opt} --momentum {momentum} --kernel {kernel} --dir {trial_dir}
        space:
          lr:        { float: [1.0e-5, 1.0e-1], log: true }
          units:     { int: [16, 256], step: 16 }
          opt:       { choice: [adam, sgd] }
          momentum:  { float: [0.0, 0.99], when: { opt: sgd } }
          kernel:
            branch:
              linear: { C: { float: [0.001, 1000], log: true } }
              rbf:    { C: { float: [0.001, 1000], log: true }, gamma: { float: [0.0001, 1], log: true } }
          layers:
            repeat:
              count: { int: [1, 4] }
              block:
                filters: { int: [16, 128], log: true }
                act: { choice: [relu, gelu] }
          kernel_size: { int: [1, 7], step: 2 }
          padding: { expr: "kernel_size // 2" }
          epochs: 10
        sampler: random
        scheduler: { asha: { resource: epoch, min: 1, max: 27, reduction: 3 } }
        trials: 100
        parallel: 4
        timeout: 2h
        trial_timeout: 30m
        retries: 2
        fail_fast: true
        resources: { gpus_per_trial: 0.5, cpus_per_trial: 2, max_gpus: 4 }
        storage: sqlite:///tunesmith.db
        env: { OMP_NUM_THREADS: 4 }
        workdir: runs
        """;

    [Fact]
    public void Full_file_reads_every_field()
    {
        var f = StudyFile.Parse(Full, "study.yaml", "/tmp/x");
        Assert.Equal("digits-cnn", f.Name);
        Assert.Equal(Direction.Maximize, f.Direction);
        Assert.Equal("val_f1", f.Metric);
        Assert.Equal(100, f.Trials);
        Assert.Equal(4, f.Parallel);
        Assert.Equal(TimeSpan.FromHours(2), f.Timeout);
        Assert.Equal(TimeSpan.FromMinutes(30), f.TrialTimeout);
        Assert.Equal(2, f.Retries);
        Assert.True(f.FailFast);
        Assert.Equal(new TrialResources(0.5, 2, 4), f.Resources);
        Assert.Equal("sqlite:////tmp/x/tunesmith.db", f.ResolvedStorage);
        Assert.Equal("4", f.Env["OMP_NUM_THREADS"]);
        Assert.Equal("/tmp/x/runs", f.Workdir);
        Assert.Equal("random", f.Sampler.Name);
        Assert.Equal("asha", f.Scheduler!.Name);
        Assert.Equal(27L, f.Scheduler.Options["max"]);
        Assert.Contains("layers.3.filters", f.ParameterNames);
        Assert.Contains("padding", f.ParameterNames);
    }
}
