using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Samplers;
using Tunesmith.Spaces;
using Xunit;

namespace Tunesmith.Tests.Spec;

/// <summary>Every space shape of the study file parses into a SearchSpace whose sampled configurations obey it.</summary>
public sealed class SpaceShapeTests
{
    private static List<Configuration> Sample(string spaceYaml, int trials = 200)
    {
        var file = StudyFile.Parse("command: run\nspace:\n" + spaceYaml, "study.yaml", "/tmp");
        var study = Study.Create("shape", sampler: new RandomSampler(seed: 7));
        var configurations = new List<Configuration>();
        study.Optimize(t =>
        {
            var c = t.Suggest(file.Space);
            lock (configurations) configurations.Add(c);
            return 0;
        }, trials: trials);
        return configurations;
    }

    [Fact]
    public void Float_int_and_choice_respect_bounds_log_step_and_choices()
    {
        var cs = Sample("""
              lr:    { float: [1.0e-5, 1.0e-1], log: true }
              units: { int: [16, 256], step: 16 }
              drop:  { float: [0, 0.5], step: 0.1 }
              opt:   { choice: [adam, sgd, 3, 2.5, true, null] }
            """);
        Assert.All(cs, c =>
        {
            Assert.InRange(c.GetDouble("lr"), 1e-5, 1e-1);
            Assert.Equal(0, c.GetLong("units") % 16);
            Assert.InRange(c.GetLong("units"), 16, 256);
            var k = c.GetDouble("drop") / 0.1;
            Assert.True(Math.Abs(k - Math.Round(k)) < 1e-9);
        });
        // Log scale: about half the draws fall below the geometric midpoint 1e-3, far more than a uniform scale would give.
        Assert.InRange(cs.Count(c => c.GetDouble("lr") < 1e-3), 60, 140);
        var seen = cs.Select(c => c["opt"]).Distinct().ToList();
        Assert.Equal(6, seen.Count);
        Assert.Contains(seen, v => v is null);
        Assert.Contains(seen, v => v is true);
        Assert.Contains(seen, v => v is long l && l == 3);
        Assert.Contains(seen, v => v is double d && d == 2.5);
    }

    [Fact]
    public void When_makes_a_parameter_exist_only_for_the_listed_parent_values()
    {
        var cs = Sample("""
              opt:      { choice: [adam, sgd, rmsprop] }
              momentum: { float: [0, 0.99], when: { opt: [sgd, rmsprop] } }
              nesterov: { choice: [true, false], when: { opt: sgd } }
            """);
        Assert.All(cs, c =>
        {
            var opt = c.GetString("opt");
            Assert.Equal(opt != "adam", c.ContainsKey("momentum"));
            Assert.Equal(opt == "sgd", c.ContainsKey("nesterov"));
        });
    }

    [Fact]
    public void Branch_draws_only_the_chosen_cases_parameters()
    {
        var file = StudyFile.Parse("""
            command: run
            space:
              kernel:
                branch:
                  linear: { C: { float: [0.001, 1000], log: true } }
                  rbf:    { C: { float: [0.001, 1000], log: true }, gamma: { float: [0.0001, 1], log: true } }
                  poly:
                    C: { float: [0.001, 1000], log: true }
                    gamma: { float: [0.0001, 1], log: true }
                    coef0: { float: [0, 1] }
                    degree: { int: [2, 5] }
              shrink: { choice: [true, false], when: { kernel: [rbf, poly] } }
            """, "study.yaml", "/tmp");
        Assert.Equal(["linear", "rbf", "poly"], ((CategoricalDistribution)((ParameterNode)file.Space.Nodes[0]).Distribution).Choices);
        var cs = Sample(string.Join("\n", file.Text.Split('\n').Skip(2)));
        Assert.Equal(3, cs.Select(c => c.GetString("kernel")).Distinct().Count());
        Assert.All(cs, c =>
        {
            var kernel = c.GetString("kernel");
            Assert.True(c.ContainsKey("C"));
            Assert.Equal(kernel != "linear", c.ContainsKey("gamma"));
            Assert.Equal(kernel == "poly", c.ContainsKey("degree") && c.ContainsKey("coef0"));
            Assert.Equal(kernel != "linear", c.ContainsKey("shrink"));
        });
    }

    [Fact]
    public void Repeat_with_a_sampled_count_draws_that_many_named_blocks()
    {
        var cs = Sample("""
              layers:
                repeat:
                  count: { int: [1, 4] }
                  block:
                    filters: { int: [16, 128], log: true }
                    act: { choice: [relu, gelu] }
                    half: { expr: "filters // 2" }
            """);
        Assert.Equal([1L, 2L, 3L, 4L], cs.Select(c => c.GetLong("layers")).Distinct().Order());
        Assert.All(cs, c =>
        {
            var n = c.GetInt("layers");
            var blocks = c.Blocks("layers");
            Assert.Equal(n, blocks.Count);
            for (var i = 0; i < 4; i++) Assert.Equal(i < n, c.ContainsKey($"layers.{i}.filters"));
            Assert.All(blocks, b =>
            {
                Assert.InRange(b.GetLong("filters"), 16, 128);
                Assert.Equal(b.GetLong("filters") / 2, b.GetLong("half"));
            });
        });
    }

    [Fact]
    public void An_expression_after_a_repeat_reads_its_blocks_by_dotted_name()
    {
        // As docs/STUDY_FILE.md says: names in an expression include dotted ones such as layers.0.filters.
        var cs = Sample("""
              layers:
                repeat:
                  count: { int: [1, 3] }
                  block:
                    units: { int: [8, 64] }
              first: { expr: "layers.0.units * 2" }
              last: { expr: "layers.2.units if layers == 3 else layers.1.units if layers == 2 else layers.0.units" }
            """, trials: 60);
        Assert.All(cs, c =>
        {
            var blocks = c.Blocks("layers");
            Assert.Equal(blocks[0].GetLong("units") * 2, c.GetLong("first"));
            Assert.Equal(blocks[^1].GetLong("units"), c.GetLong("last"));
        });
    }

    [Theory]
    [InlineData("C * 2 if model == 'svm' else 0")]
    [InlineData("model == 'svm' and C > 5")]
    [InlineData("0 if model != 'svm' else C")]
    [InlineData("C if model == 'svm' and lr > 0.5 else lr")]
    public void An_expression_that_reads_a_branch_parameter_only_inside_its_branch_loads_and_every_trial_completes(string expr)
    {
        var cs = Sample($$"""
              lr: { float: [0, 1] }
              model: { branch: { svm: { C: { float: [1, 10] }, twice: { expr: "C * 2" } }, mlp: {} } }
              x: { expr: "{{expr}}" }
            """, trials: 40);
        Assert.Equal(40, cs.Count);
        Assert.Contains(cs, c => c.GetString("model") == "mlp");
        Assert.All(cs.Where(c => c.GetString("model") == "svm"), c => Assert.Equal(c.GetDouble("C") * 2, c.GetDouble("twice")));
    }

    [Fact]
    public void Repeat_with_a_fixed_count_always_draws_that_many_blocks()
    {
        var cs = Sample("""
              layers: { repeat: { count: 3, block: { units: { int: [8, 64] } } } }
            """, trials: 20);
        Assert.All(cs, c => Assert.Equal(3, c.Blocks("layers").Count));
    }

    [Fact]
    public void Derived_values_and_constants_are_computed_per_trial()
    {
        var cs = Sample("""
              kernel_size: { int: [1, 7], step: 2 }
              padding: { expr: "kernel_size // 2" }
              lr: { float: [0.001, 0.1], log: true }
              warmup: { expr: "max(1, round(10 * lr / 0.01)) if kernel_size > 3 else 0" }
              epochs: 10
              tag: "v1"
            """, trials: 100);
        Assert.All(cs, c =>
        {
            Assert.Equal(c.GetLong("kernel_size") / 2, c.GetLong("padding"));
            var expected = c.GetLong("kernel_size") > 3 ? Math.Max(1, (long)Math.Round(10 * c.GetDouble("lr") / 0.01, MidpointRounding.ToEven)) : 0;
            Assert.Equal(expected, c.GetLong("warmup"));
            Assert.Equal(10, c.GetLong("epochs"));
            Assert.Equal("v1", c.GetString("tag"));
        });
    }

    [Fact]
    public void Json_study_files_parse_like_yaml()
    {
        var file = StudyFile.Parse("""
            {"name": "j", "direction": "maximize", "command": ["python3", "t.py", "--lr={lr}"],
             "space": {"lr": {"float": [0.001, 0.1], "log": true}, "opt": {"choice": ["adam", "sgd", null]}},
             "trials": 5}
            """, "study.json", "/tmp");
        Assert.Equal("j", file.Name);
        Assert.Equal(Direction.Maximize, file.Direction);
        Assert.Equal(["lr", "opt"], file.ParameterNames);
        Assert.Equal(new FloatDistribution(0.001, 0.1, Log: true), ((ParameterNode)file.Space.Nodes[0]).Distribution);
        Assert.Equal(["python3", "t.py", "--lr=0.01"], file.RenderCommand(new Dictionary<string, object?> { ["lr"] = 0.01, ["opt"] = null }, 0, "/t"));
    }
}
