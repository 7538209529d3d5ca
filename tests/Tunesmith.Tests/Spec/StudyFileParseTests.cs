using Tunesmith.Execution;
using Tunesmith.Trials;
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

public sealed class StudyFileEdgeTests
{
    [Fact]
    public void Json_with_tabs_and_nested_branches_parses()
    {
        var f = StudyFile.Parse("{\n\t\"command\": \"run {inner} {C}\",\n\t\"space\": {\"outer\": {\"branch\": {\"a\": {\"inner\": {\"branch\": {\"x\": {\"C\": {\"float\": [1, 2]}}, \"y\": {}}}}, \"b\": null}}}\n}", "s.json", "/tmp");
        Assert.Equal(["outer", "inner", "C"], f.ParameterNames);
        var study = Study.Create("nest", sampler: new RandomSampler(seed: 2));
        var seen = new List<Configuration>();
        study.Optimize(t => { var c = t.Suggest(f.Space); lock (seen) seen.Add(c); return 0; }, trials: 60);
        Assert.All(seen, c =>
        {
            Assert.Equal(c.GetString("outer") == "a", c.ContainsKey("inner"));
            Assert.Equal(c.ContainsKey("inner") && c.GetString("inner") == "x", c.ContainsKey("C"));
        });
        Assert.Contains(seen, c => c.ContainsKey("C"));
    }

    [Fact]
    public void Literal_braces_and_sampler_options_and_durations_read_as_documented()
    {
        var f = StudyFile.Parse("""
            command: [run, --cfg, '{{"lr": {lr}}}']
            space: { lr: { float: [0.1, 0.2] } }
            sampler: { random: { seed: 42 } }
            timeout: 1h30m
            trial_timeout: 90
            """, "s.yaml", "/tmp");
        Assert.Equal(["run", "--cfg", "{\"lr\": 0.15}"], f.RenderCommand(new Dictionary<string, object?> { ["lr"] = 0.15 }, 0, "/t"));
        Assert.Equal(42, f.Sampler.Seed);
        Assert.Equal(TimeSpan.FromMinutes(90), f.Timeout);
        Assert.Equal(TimeSpan.FromSeconds(90), f.TrialTimeout);
        Assert.IsType<RandomSampler>(f.CreateSampler());
    }

    [Fact]
    public void Defaults_apply_when_keys_are_absent()
    {
        var f = StudyFile.Parse("command: run\n", "my-study.yaml", "/tmp");
        Assert.Equal("my-study", f.Name);
        Assert.Equal(Direction.Minimize, f.Direction);
        Assert.Equal("value", f.Metric);
        Assert.Equal("auto", f.Sampler.Name);
        Assert.Null(f.Scheduler);
        Assert.Equal(1, f.Parallel);
        Assert.Null(f.Trials);
        Assert.Null(f.Storage);
        Assert.Empty(f.Space.Nodes);
    }

    [Fact]
    public void Load_reads_a_file_and_resolves_paths_against_its_directory()
    {
        var dir = Directory.CreateTempSubdirectory("tunesmith-spec-");
        try
        {
            var path = Path.Combine(dir.FullName, "s.yaml");
            File.WriteAllText(path, "command: run\nstorage: sqlite:///db/t.db\nworkdir: out\n");
            var f = StudyFile.Load(path);
            Assert.Equal($"sqlite:///{dir.FullName}/db/t.db", f.ResolvedStorage);
            Assert.Equal(Path.Combine(dir.FullName, "out"), f.Workdir);
            Assert.Equal(path, f.Path);
        }
        finally { dir.Delete(recursive: true); }
    }
}
