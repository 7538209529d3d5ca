using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Spaces.Spec;
using Xunit;

namespace Tunesmith.Tests.Spec;

/// <summary>Every class of study-file error names the file, the line and column, and the field, on one line.</summary>
public sealed class StudyFileErrorTests
{
    private static StudyFileException Fail(string yaml)
    {
        var e = Assert.Throws<StudyFileException>(() => StudyFile.Parse(yaml, "study.yaml", "/tmp"));
        Assert.DoesNotContain('\n', e.Message);
        Assert.StartsWith($"study.yaml:{e.Line}:{e.Column}: ", e.Message);
        return e;
    }

    private static void AssertAt(StudyFileException e, int line, int column, string field, string fragment)
    {
        Assert.Equal((line, column, field), (e.Line, e.Column, e.Field));
        Assert.Contains(fragment, e.Problem);
    }

    [Fact]
    public void Low_above_high_names_the_range_line_and_the_parameter()
    {
        var e = Fail("""
            name: s
            command: run {lr}
            space:
              lr: { float: [0.1, 0.01] }
            """);
        AssertAt(e, 4, 16, "space.lr", "low (0.1) must be less than high (0.01)");
        Assert.Equal("study.yaml:4:16: space.lr: low (0.1) must be less than high (0.01)", e.Message);
    }

    [Fact]
    public void Independent_problems_are_all_kept_in_file_order_and_the_message_names_the_first_and_how_many_more()
    {
        // Unknown keys of several sections (every unknown sampler option too) and a bad value beside them.
        var e = Fail("""
            name: s
            command: run {lr}
            trails: 10
            space:
              lr: { float: [0.01, 0.1] }
            sampler: { tpe: { n_startup_trial: 5, seeed: 1 } }
            parallel: 0
            slurm: { partion: gpu }
            """);
        Assert.Equal(
            [(3, 1, "trails"), (6, 19, "sampler.tpe.n_startup_trial"), (6, 39, "sampler.tpe.seeed"), (7, 11, "parallel"), (8, 10, "slurm.partion")],
            e.Problems.Select(p => (p.Line, p.Column, p.Field!)));
        AssertAt(e, 3, 1, "trails", "unknown key 'trails'");
        Assert.EndsWith("(and 4 more problems)", e.Message);
        // A single problem is its own error, as before.
        var one = Fail("name: s\ncommand: run\ntrails: 10\n");
        Assert.Same(one, Assert.Single(one.Problems));
    }

    [Fact]
    public void Unknown_top_level_key_suggests_the_closest_known_key()
    {
        var e = Fail("""
            name: s
            command: run
            trails: 10
            """);
        AssertAt(e, 3, 1, "trails", "unknown key 'trails' (did you mean 'trials'?)");
    }

    [Fact]
    public void A_top_level_key_spelled_as_Ray_Tune_or_Optuna_spell_it_says_what_it_is_here()
    {
        var e = Fail("""
            name: s
            command: run
            mode: min
            num_samples: 20
            n_trials: 20
            pruner: median
            """);
        Assert.Equal(["mode", "num_samples", "n_trials", "pruner"], e.Problems.Select(p => p.Field!));
        AssertAt(e, 3, 1, "mode", "unknown key 'mode' (Ray Tune's mode (min or max) is direction: (minimize or maximize))");
        Assert.Contains("unknown key 'num_samples' (Ray Tune's num_samples is trials:)", e.Problems[1].Message);
        Assert.Contains("unknown key 'n_trials' (Optuna's n_trials is trials:)", e.Problems[2].Message);
        Assert.Contains("(Optuna's pruners are schedulers here: scheduler: { median: ... })", e.Problems[3].Message);
    }

    [Fact]
    public void A_metrics_section_with_a_bad_format_pattern_or_result_names_each_field()
    {
        var e = Fail("""
            command: run
            metrics:
              format: json
              pattern: ['(\w+)', '(a)=(']
              result: max
              metricsFormat: x
            """);
        Assert.Equal(["metrics.format", "metrics.metricsFormat"], e.Problems.Select(p => p.Field!));
        AssertAt(e, 3, 11, "metrics.format", "expected key=value (name=value lines such as accuracy=0.81 loss=0.42 on stdout, as Katib's StdOut collector reads), got 'json': JSON reports are tunesmith:report {...} lines");
        Assert.Contains("unknown key 'metricsFormat' (Katib's metricsFormat is pattern: (one regular expression or a list))", e.Problems[1].Message);

        AssertAt(Fail("command: run\nmetrics: { pattern: ['(\\w+)'] }\n"), 2, 22, "metrics.pattern[0]", "needs two groups, the metric's name and its value");
        AssertAt(Fail("command: run\nmetrics: { pattern: '(a)=(' }\n"), 2, 21, "metrics.pattern", "not a regular expression");
        AssertAt(Fail("command: run\nmetrics: { result: max }\n"), 2, 20, "metrics.result", "expected last or best, got 'max' (Katib's max is best here");
        AssertAt(Fail("command: run\nmetric: acc\nmetrics: { step: acc }\n"), 3, 10, "metrics.step", "the step's name 'acc' is the study's metric");
    }

    [Fact]
    public void Goal_and_max_failed_trials_are_checked_and_read()
    {
        AssertAt(Fail("command: run\nfail_fast: true\nmax_failed_trials: 3\n"), 3, 20, "max_failed_trials", "fail_fast: true stops at the first failed trial, which is max_failed_trials: 1, not 3");
        AssertAt(Fail("command: run\nmax_failed_trials: 0\n"), 2, 20, "max_failed_trials", "must be an integer ≥ 1, got 0");
        AssertAt(Fail("command: run\ngoal: high\n"), 2, 7, "goal", "high");
        AssertAt(Fail("command: run\ngoal: .nan\n"), 2, 7, "goal", "expected a number, got the number NaN");
        var file = StudyFile.Parse("command: run\ngoal: 0.99\nmax_failed_trials: 3\n");
        Assert.Equal((0.99, 3), (file.Goal, file.MaxFailedTrials));
        var both = StudyFile.Parse("command: run\nfail_fast: true\nmax_failed_trials: 1\n");
        Assert.Equal((true, 1), (both.FailFast, both.MaxFailedTrials));
    }

    [Fact]
    public void Katib_spellings_inside_space_sampler_and_scheduler_say_what_they_are_here()
    {
        AssertAt(Fail("command: run\nspace:\n  lr: { parameterType: double, feasibleSpace: { min: 0.01, max: 0.03 } }\n"), 3, 9, "space.lr.parameterType",
            "Katib's parameterType and feasibleSpace are one key here: double is { float: [min, max] }");
        AssertAt(Fail("command: run\nsampler: bayesianoptimization\n"), 2, 10, "sampler", "unknown sampler 'bayesianoptimization' (Katib's bayesianoptimization is gp here");
        AssertAt(Fail("command: run\nsampler: hyperband\n"), 2, 10, "sampler", "so it is a scheduler here: scheduler: hyperband");
        var e = Fail("command: run\nscheduler: { median: { min_trials_required: 3, start_step: 4 } }\n");
        Assert.Equal(["scheduler.median.min_trials_required", "scheduler.median.start_step"], e.Problems.Select(p => p.Field!));
        Assert.Contains("(Katib's medianstop min_trials_required is min_trials here)", e.Problems[0].Problem);
        Assert.Contains("(Katib's medianstop start_step is warmup_steps here)", e.Problems[1].Problem);
    }

    [Fact]
    public void A_metrics_section_reads_as_written()
    {
        var file = StudyFile.Parse("command: run\nmetrics: key=value\n");
        Assert.NotNull(file.Metrics);
        Assert.Equal(Tunesmith.Backends.Processes.StdoutMetricsResult.Last, file.Metrics!.Result);
        Assert.Null(StudyFile.Parse("command: run\n").Metrics);
        var custom = StudyFile.Parse("command: run\nmetrics: { pattern: '(epoch) (\\d+)', step: epoch, result: best }\n").Metrics!;
        Assert.Equal(("epoch", Tunesmith.Backends.Processes.StdoutMetricsResult.Best), (custom.Step, custom.Result));
        Assert.Equal(3.0, custom.Parse("epoch 3: accuracy=0.81")["epoch"]);
        var standard = new Tunesmith.Backends.Processes.StdoutMetrics();
        Assert.Equal(new Dictionary<string, double> { ["Validation-accuracy"] = 0.81, ["loss"] = 4.2e-3, ["val/f1"] = -1 },
            standard.Parse("epoch 3: Validation-accuracy=0.81 loss = 4.2e-3, val/f1=-1."));
        Assert.True(double.IsNaN(standard.Parse("accuracy=nan")["accuracy"]));
    }

    [Fact]
    public void Unknown_key_inside_a_parameter_suggests_the_closest_one()
    {
        var e = Fail("""
            command: run {lr}
            space:
              lr: { float: [0.001, 0.1], lgo: true }
            """);
        AssertAt(e, 3, 30, "space.lr.lgo", "did you mean 'log'?");
    }

    [Fact]
    public void Wrong_type_names_what_was_expected_and_what_was_found()
    {
        var e = Fail("""
            command: run
            parallel: four
            """);
        AssertAt(e, 2, 11, "parallel", "expected an integer, got the string 'four'");
        var f = Fail("""
            command: run {n}
            space:
              n: { int: [1, 2.5] }
            """);
        AssertAt(f, 3, 17, "space.n.int", "expected an integer");
    }

    [Fact]
    public void Log_scale_with_a_non_positive_low_is_rejected()
    {
        var e = Fail("""
            command: run {lr}
            space:
              lr: { float: [0, 1], log: true }
            """);
        AssertAt(e, 3, 16, "space.lr", "log scale needs low > 0");
    }

    [Fact]
    public void Empty_choices_are_rejected()
    {
        var e = Fail("""
            command: run {opt}
            space:
              opt: { choice: [] }
            """);
        AssertAt(e, 3, 18, "space.opt.choice", "choices must not be empty");
    }

    [Fact]
    public void A_step_that_does_not_divide_the_range_points_at_the_step()
    {
        var e = Fail("""
            command: run {units}
            space:
              units: { int: [16, 250], step: 16 }
            """);
        AssertAt(e, 3, 34, "space.units.step", "does not divide the range");
    }

    [Fact]
    public void An_expr_naming_a_missing_parameter_points_at_the_name()
    {
        var e = Fail("""
            command: run {padding}
            space:
              kernel_size: { int: [1, 7], step: 2 }
              padding: { expr: "kernal_size // 2" }
            """);
        // The quoted scalar starts at column 20; the name is its first character, one column in.
        AssertAt(e, 4, 21, "space.padding.expr", "'kernal_size'");
        Assert.Contains("did you mean 'kernel_size'?", e.Problem);
    }

    [Fact]
    public void An_expr_with_a_syntax_error_points_at_the_offending_token()
    {
        var e = Fail("""
            command: run {p}
            space:
              k: { int: [1, 7] }
              p: { expr: k + * 2 }
            """);
        AssertAt(e, 4, 18, "space.p.expr", "unexpected '*'");
    }

    [Fact]
    public void A_when_naming_a_missing_parameter_is_rejected()
    {
        var e = Fail("""
            command: run
            space:
              opt: { choice: [adam, sgd] }
              momentum: { float: [0, 0.99], when: { optimizer: sgd } }
            """);
        AssertAt(e, 4, 41, "space.momentum.when.optimizer", "names parameter 'optimizer', which is not defined before it");
    }

    [Fact]
    public void A_when_naming_a_parameter_of_one_repetition_says_it_cannot_be_named_there_and_what_works()
    {
        var e = Fail("""
            command: run
            space:
              layers: { repeat: { count: 2, block: { kind: { choice: [conv, dense] } } } }
              k: { int: [1, 5], when: { layers.0.kind: conv } }
            """);
        AssertAt(e, 4, 29, "space.k.when.layers.0.kind", "names 'layers.0.kind', a parameter of one repetition of repeat 'layers', which a " +
            "condition cannot name (a `when` names a parameter of its own level); define this parameter inside the repeated block, where " +
            "`when` may name the block's 'kind', or, for a derived value, read it in a guarded expr: \"... if layers.0.kind == ... else ...\"");
    }

    [Fact]
    public void A_when_value_outside_the_parent_choices_is_rejected()
    {
        var e = Fail("""
            command: run
            space:
              opt: { choice: [adam, sgd] }
              momentum: { float: [0, 0.99], when: { opt: sgdd } }
            """);
        AssertAt(e, 4, 46, "space.momentum.when.opt", "value sgdd is not in 'opt' (choice [adam, sgd]) (did you mean 'sgd'?)");
    }

    [Theory]
    [InlineData("directions: [minimize, maximize]", "directions")]
    [InlineData("direction: [minimize, maximize]", "direction")]
    [InlineData("metric: [loss, accuracy]", "metric")]
    public void A_multi_objective_study_is_told_there_is_one_metric_and_one_direction(string line, string field)
    {
        var e = Fail("command: run\n" + line + "\nspace:\n  x: { float: [0, 1] }\n");
        AssertAt(e, 2, 1, field, "a study optimizes one metric in one direction (there is no multi-objective study");
    }

    [Fact]
    public void A_multi_objective_study_does_not_hide_the_files_other_problems()
    {
        // An Optuna multi-objective script ported as is: the directions line stopped the load, so the bad trials value,
        // the n_jobs key and the bad space were each found only after the one before was fixed.
        var e = Fail("""
            command: run {lr}
            directions: [minimize, maximize]
            metric: [loss, accuracy]
            n_jobs: 2
            trials: -1
            space:
              lr: { float: [0.1, 0.01] }
            """);
        Assert.Equal(
            [(2, 1, "directions"), (3, 1, "metric"), (4, 1, "n_jobs"), (5, 9, "trials"), (7, 16, "space.lr")],
            e.Problems.Select(p => (p.Line, p.Column, p.Field!)));
        Assert.All(e.Problems.Take(2), p => Assert.Contains("a study optimizes one metric in one direction", p.Problem));
    }

    [Fact]
    public void A_when_value_misspelling_a_branch_case_suggests_the_case()
    {
        var e = Fail("""
            command: run
            space:
              model: { branch: { svm: { C: { float: [1, 10] } }, mlp: {} } }
              gamma: { float: [0, 1], when: { model: svn } }
            """);
        AssertAt(e, 4, 42, "space.gamma.when.model", "value svn is not in 'model' (choice [svm, mlp]) (did you mean 'svm'?)");
    }

    [Theory]
    [InlineData("layers.2.units * 2", 15, "reads 'layers.2.units', which exists only when layers is at least 3, and has no value when layers = 1")]
    [InlineData("layers.2.units if layers >= 2 else 0", 15, "reads 'layers.2.units', which exists only when layers is at least 3, and has no value when layers = 2")]
    public void An_expression_reading_a_repetition_the_count_may_not_reach_is_refused_at_load(string expr, int column, string problem)
    {
        var e = Fail("command: run\nspace:\n  layers: { repeat: { count: { int: [1, 3] }, block: { units: { int: [8, 64] } } } }\n  x: { expr: \"" + expr + "\" }\n");
        AssertAt(e, 4, column, "space.x.expr", problem);
        Assert.Contains("(every such trial would fail): guard the read, e.g. \"", e.Problem);
    }

    [Theory]
    // A top-level expression reading the svm branch's C: every mlp trial would fail.
    [InlineData("model: { branch: { svm: { C: { float: [1, 10] } }, mlp: {} } }\n  x: { expr: \"C * 2\" }",
        4, 15, "space.x.expr", "reads 'C', which exists only when model is svm, and has no value when model = mlp")]
    // One branch case reading another case's parameter.
    [InlineData("model: { branch: { svm: { C: { float: [1, 10] } }, mlp: { x: { expr: \"C + 1\" } } } }",
        3, 73, "space.model.branch.mlp.x.expr", "reads 'C', which exists only when model is svm, and has no value when model = mlp")]
    // A guard that does not exclude every other case.
    [InlineData("model: { branch: { svm: { C: { float: [1, 10] } }, mlp: {}, tree: {} } }\n  x: { expr: \"0 if model == 'tree' else C\" }",
        4, 41, "space.x.expr", "reads 'C', which exists only when model is svm, and has no value when model = mlp")]
    // A nested branch: gamma exists only for the rbf kernel of the svm branch.
    [InlineData("model: { branch: { svm: { kernel: { branch: { rbf: { gamma: { float: [0, 1] } }, linear: {} } } }, mlp: {} } }\n  x: { expr: \"gamma if model == 'svm' else 0\" }",
        4, 15, "space.x.expr", "reads 'gamma', which exists only when kernel is rbf, and has no value when kernel = linear")]
    // A when on several cases, one of which lacks the parameter.
    [InlineData("model: { branch: { svm: { C: { float: [1, 10] } }, mlp: {} } }\n  x: { expr: \"C * 2\", when: { model: [svm, mlp] } }",
        4, 15, "space.x.expr", "reads 'C', which exists only when model is svm, and has no value when model = mlp")]
    public void An_expression_reading_a_parameter_of_a_branch_it_is_not_in_is_refused_at_load(string space, int line, int column, string field, string problem)
    {
        var e = Fail("command: run\nspace:\n  " + space + "\n");
        AssertAt(e, line, column, field, problem);
        Assert.Contains("(every such trial would fail): define 'x' inside that branch, or guard the read, e.g. \"", e.Problem);
    }

    [Theory]
    // A block's expression reading a parameter of one case of the block's own branch.
    [InlineData("layers: { repeat: { count: 2, block: { kind: { branch: { conv: { k: { int: [1, 5] } }, pool: {} } }, x: { expr: \"k * 2\" } } } }",
        3, 116, "space.layers.repeat.block.x.expr", "reads 'k', which exists only when kind is conv, and has no value when kind = pool")]
    // A block's expression reading a top-level branch's parameter.
    [InlineData("model: { branch: { svm: { C: { float: [1, 10] } }, mlp: {} } }\n  layers: { repeat: { count: 2, block: { x: { expr: \"C * 2\" } } } }",
        4, 54, "space.layers.repeat.block.x.expr", "reads 'C', which exists only when model is svm, and has no value when model = mlp")]
    // A block's expression reading a repetition of an earlier repeat that its count may not reach.
    [InlineData("a: { repeat: { count: { int: [1, 3] }, block: { u: { int: [8, 64] } } } }\n  b: { repeat: { count: 2, block: { x: { expr: \"a.2.u\" } } } }",
        4, 49, "space.b.repeat.block.x.expr", "reads 'a.2.u', which exists only when a is at least 3, and has no value when a = 1")]
    // A repeat nested in a repeat's block, reading a top-level branch's parameter.
    [InlineData("model: { branch: { svm: { C: { float: [1, 10] } }, mlp: {} } }\n  outer: { repeat: { count: 2, block: { inner: { repeat: { count: 2, block: { x: { expr: \"C + 1\" } } } } } } }",
        4, 91, "space.outer.repeat.block.inner.repeat.block.x.expr", "reads 'C', which exists only when model is svm, and has no value when model = mlp")]
    public void An_expression_in_a_repeated_block_reading_a_parameter_the_trial_may_not_have_is_refused_at_load(string space, int line, int column, string field, string problem)
    {
        var e = Fail("command: run\nspace:\n  " + space + "\n");
        AssertAt(e, line, column, field, problem);
        Assert.Contains("(every such trial would fail)", e.Problem);
    }

    [Theory]
    // A top-level expression reading one repetition's branch parameter (layers.0.k exists only when layers.0.kind is conv).
    [InlineData("layers: { repeat: { count: 2, block: { kind: { branch: { conv: { k: { int: [1, 5] } }, pool: {} } } } } }\n  x: { expr: \"layers.0.k * 2\" }",
        4, 15, "space.x.expr", "reads 'layers.0.k', which exists only when layers.0.kind is conv, and has no value when layers.0.kind = pool (every such trial would fail): guard the read, e.g. \"layers.0.k if layers.0.kind == 'conv' else ...\"")]
    // A top-level expression reading a repetition of a repeat that exists only in one case of a top-level branch.
    [InlineData("model: { branch: { svm: { C: { float: [1, 10] } }, mlp: {} } }\n  layers: { repeat: { count: 2, block: { u: { int: [1, 3] } } }, when: { model: svm } }\n  x: { expr: \"layers.1.u + 1\" }",
        5, 15, "space.x.expr", "reads 'layers.1.u', which exists only when model is svm, and has no value when model = mlp")]
    // A block's expression reading a repetition of a repeat nested in the block, where the branch is in the nested block.
    [InlineData("outer: { repeat: { count: 2, block: { inner: { repeat: { count: 2, block: { kind: { branch: { conv: { k: { int: [1, 5] } }, pool: {} } } } } }, x: { expr: \"inner.1.k\" } } } }",
        3, 159, "space.outer.repeat.block.x.expr", "reads 'inner.1.k', which exists only when inner.1.kind is conv, and has no value when inner.1.kind = pool")]
    public void An_expression_reading_a_branch_parameter_of_one_repetition_is_refused_at_load(string space, int line, int column, string field, string problem)
    {
        var e = Fail("command: run\nspace:\n  " + space + "\n");
        AssertAt(e, line, column, field, problem);
    }

    [Theory]
    [InlineData("layers: { repeat: { count: 2, block: { kind: { branch: { conv: { k: { int: [1, 5] } }, pool: {} } } } } }\n  x: { expr: \"layers.0.k if layers.0.kind == 'conv' else 0\" }")]
    [InlineData("layers: { repeat: { count: 2, block: { kind: { branch: { conv: { k: { int: [1, 5] } }, pool: {} } } } } }\n  x: { expr: \"layers.1.kind == 'conv' and layers.1.k > 2\" }")]
    // Every case has k: it is always there.
    [InlineData("layers: { repeat: { count: 2, block: { kind: { branch: { conv: { k: { int: [1, 5] } }, pool: { k: { int: [2, 3] } } } } } } }\n  x: { expr: \"layers.0.k * 2\" }")]
    // The reader is in the case the repeat exists in.
    [InlineData("model: { branch: { svm: { C: { float: [1, 10] } }, mlp: {} } }\n  layers: { repeat: { count: 2, block: { u: { int: [1, 3] } } }, when: { model: svm } }\n  x: { expr: \"layers.1.u + 1\", when: { model: svm } }")]
    public void An_expression_reading_one_repetition_guarded_by_its_branch_loads(string space) =>
        StudyFile.Parse("command: run\nspace:\n  " + space + "\n", "study.yaml");

    [Theory]
    [InlineData("layers: { repeat: { count: 2, block: { kind: { branch: { conv: { k: { int: [1, 5] } }, pool: {} } }, x: { expr: \"k * 2 if kind == 'conv' else 0\" } } } }")]
    [InlineData("layers: { repeat: { count: 2, block: { kind: { branch: { conv: { k: { int: [1, 5] }, x: { expr: \"k * 2\" } }, pool: {} } } } } }")]
    // The repeat exists only in the branch case that has C.
    [InlineData("model: { branch: { svm: { C: { float: [1, 10] } }, mlp: {} } }\n  layers: { repeat: { count: 2, block: { x: { expr: \"C * 2\" } } }, when: { model: svm } }")]
    // A block's own name comes first: its k is always there, though a top-level k is not.
    [InlineData("model: { branch: { svm: { k: { float: [1, 10] } }, mlp: {} } }\n  layers: { repeat: { count: 2, block: { k: { int: [1, 3] }, x: { expr: \"k * 2\" } } } }")]
    [InlineData("a: { repeat: { count: { int: [1, 3] }, block: { u: { int: [8, 64] } } } }\n  b: { repeat: { count: 2, block: { x: { expr: \"a.2.u if a == 3 else 0\" } } } }")]
    public void An_expression_in_a_repeated_block_that_reads_only_what_the_trial_has_loads(string space) =>
        StudyFile.Parse("command: run\nspace:\n  " + space + "\n", "study.yaml");

    [Fact]
    public void A_name_shortened_or_lengthened_by_two_letters_is_suggested()
    {
        var when = Fail("command: run\nspace:\n  opt: { choice: [adam, sgd] }\n  momentum: { float: [0, 1], when: { optim: sgd } }\n");
        AssertAt(when, 4, 38, "space.momentum.when.optim", "names parameter 'optim', which is not defined before it (did you mean 'opt'?)");
        var repeat = Fail("command: run\nspace:\n  layers: { repeat: { cnt: 3, block: { units: { int: [8, 64] } } } }\n");
        AssertAt(repeat, 3, 23, "space.layers.repeat.cnt", "unknown key 'cnt' (did you mean 'count'?)");
    }

    [Theory]
    [InlineData("loguniform: [1.0e-5, 1.0e-1]", "loguniform", "Ray Tune's loguniform is { float: [low, high], log: true } here")]
    [InlineData("uniform: [0, 1]", "uniform", "Ray Tune's uniform is { float: [low, high] } here")]
    [InlineData("randint: [1, 10]", "randint", "Ray Tune's randint is { int: [low, high] } here, and high is included")]
    [InlineData("qrandint: [16, 256, 16]", "qrandint", "Ray Tune's qrandint is { int: [low, high], step: q } here")]
    [InlineData("grid_search: [1, 2]", "grid_search", "Ray Tune's grid_search is { choice: [a, b] } here, with sampler: grid")]
    [InlineData("categorical: [a, b]", "categorical", "Optuna's categorical is { choice: [a, b] } here")]
    public void A_Ray_Tune_or_Optuna_shape_name_is_told_how_it_is_written_here(string shape, string key, string hint)
    {
        var e = Fail("command: run\nspace:\n  lr: { " + shape + " }\n");
        AssertAt(e, 3, 9, $"space.lr.{key}", $"unknown key '{key}' ({hint}");
        Assert.Contains("(a parameter is one of: float, int, choice, expr, branch, repeat)", e.Problem);
    }

    [Fact]
    public void A_command_placeholder_naming_no_parameter_points_at_the_placeholder()
    {
        var e = Fail("""
            command: python3 train.py --lr {lr} --layers {layrs}
            space:
              lr: { float: [0.001, 0.1] }
              layers: { int: [1, 4] }
            """);
        AssertAt(e, 1, 46, "command", "placeholder {layrs} names no parameter (did you mean 'layers'?)");
    }

    [Fact]
    public void A_list_command_placeholder_error_points_at_its_item()
    {
        var e = Fail("""
            command:
              - python3
              - --lr={rate}
            space:
              lr: { float: [0.001, 0.1] }
            """);
        AssertAt(e, 3, 5, "command", "placeholder {rate}");
    }

    [Fact]
    public void Duplicate_keys_are_reported_with_their_line()
    {
        var e = Fail("""
            command: run
            trials: 3
            trials: 4
            """);
        Assert.Equal(3, e.Line);
        Assert.Contains("uplicate", e.Message);
    }

    [Fact]
    public void Malformed_yaml_is_one_line_with_a_position()
    {
        var e = Fail("command: [run\nspace: {");
        Assert.True(e.Line >= 1);
        Assert.Contains("not valid YAML or JSON", e.Problem);
    }

    [Fact]
    public void Missing_command_and_unknown_sampler_and_bad_direction_are_named()
    {
        AssertAt(Fail("name: s\n"), 1, 1, "command", "needs a command");
        AssertAt(Fail("command: run\nsampler: tpee\n"), 2, 10, "sampler", "unknown sampler 'tpee'");
        AssertAt(Fail("command: run\ndirection: maximise\n"), 2, 12, "direction", "did you mean 'maximize'?");
        AssertAt(Fail("command: run\ntimeout: soon\n"), 2, 10, "timeout", "expected a duration");
        // Longer than a date can hold, or than a timer waits: refused when read, not an overflow or a failed trial later.
        AssertAt(Fail("command: run\ntimeout: 1e300\n"), 2, 10, "timeout", "must be at most 36500d");
        AssertAt(Fail("command: run\ntimeout: 40000000d\n"), 2, 10, "timeout", "must be at most 36500d");
        AssertAt(Fail("command: run\ntimeout: 9999999d\n"), 2, 10, "timeout", "must be at most 36500d");
        AssertAt(Fail("command: run\ntrial_timeout: 60d\n"), 2, 16, "trial_timeout", "must be at most 49d");
        AssertAt(Fail("command: run\nresources: { gpus_per_trial: -1 }\n"), 2, 30, "resources.gpus_per_trial", "must be ≥ 0");
    }

    [Fact]
    public void An_unreadable_file_names_the_path()
    {
        var e = Assert.Throws<StudyFileException>(() => StudyFile.Load("/nonexistent/dir/study.yaml"));
        Assert.Equal("/nonexistent/dir/study.yaml: no such file", e.Message);
    }

    [Fact]
    public void A_directory_given_as_the_study_file_is_named_as_a_directory()
    {
        var directory = Directory.CreateTempSubdirectory("tunesmith-studyfile-").FullName;
        try
        {
            var e = Assert.Throws<StudyFileException>(() => StudyFile.Load(directory));
            Assert.Equal($"{directory}: is a directory, not a study file", e.Message);
        }
        finally { Directory.Delete(directory); }
    }

    [Fact]
    public void Shell_operators_in_a_command_are_refused_with_their_column()
    {
        var e = Fail("command: python3 train.py > out.txt\n");
        AssertAt(e, 1, 27, "command", "shell operator");
    }

    [Fact]
    public void Errors_inside_branches_and_repeat_blocks_carry_the_full_field_path()
    {
        var e = Fail("""
            command: run
            space:
              kernel:
                branch:
                  rbf: { gamma: { float: [1, 0.5] } }
            """);
        AssertAt(e, 5, 30, "space.kernel.branch.rbf.gamma", "must be less than high");
        var f = Fail("""
            command: run
            space:
              layers:
                repeat:
                  count: { int: [1, 3] }
                  block: { units: { int: [8, 64], setp: 8 } }
            """);
        AssertAt(f, 6, 39, "space.layers.repeat.block.units.setp", "did you mean 'step'?");
    }
}

public sealed class StudyFileMoreErrorTests
{
    [Fact]
    public void A_bad_sampler_option_is_reported_at_its_key_with_its_line_and_the_close_known_key()
    {
        var e = Assert.Throws<StudyFileException>(() => StudyFile.Parse("""
            command: run {x}
            space: { x: { float: [0, 1] } }
            sampler:
              tpe: { n_startup_trialz: 3 }
            """, "study.yaml", "/tmp"));
        Assert.Equal((4, 10, "sampler.tpe.n_startup_trialz"), (e.Line, e.Column, e.Field));
        Assert.Contains("unknown option 'n_startup_trialz' (did you mean 'n_startup_trials'?)", e.Message);
    }

    [Fact]
    public void Grid_values_that_are_not_a_list_are_reported_at_their_field()
    {
        var e = Assert.Throws<StudyFileException>(() => StudyFile.Parse("""
            command: run {lr}
            space: { lr: { float: [0.01, 1] } }
            sampler: { grid: { values: { lr: 0.1 } } }
            """, "study.yaml", "/tmp"));
        Assert.Equal((3, 34, "sampler.grid.values.lr"), (e.Line, e.Column, e.Field));
        Assert.Contains("option 'values.lr' must be a list of values", e.Message);
    }

    [Fact]
    public void A_misspelt_option_of_random_search_is_reported_not_dropped()
    {
        var e = Assert.Throws<StudyFileException>(() => StudyFile.Parse("""
            command: run {x}
            space: { x: { float: [0, 1] } }
            sampler: { random: { sed: 1 } }
            """, "study.yaml", "/tmp"));
        Assert.Equal((3, 22, "sampler.random.sed"), (e.Line, e.Column, e.Field));
        Assert.Contains("sampler 'random': unknown option 'sed' (did you mean 'seed'?) (known: seed)", e.Message);

        var seeded = StudyFile.Parse("""
            command: run {x}
            space: { x: { float: [0, 1] } }
            sampler: { random: { seed: 3 } }
            """, "study.yaml", "/tmp");
        Assert.Equal(3, seeded.Sampler.Seed);
    }

    [Theory]
    [InlineData("{ lr: [0.5] }", "option 'values.lr': parameter 'lr': value 0.5 is not in float [0.01, 0.1]", 34, "sampler.grid.values.lr")]
    [InlineData("{ layer: [1, 2] }", "option 'values.layer': parameter 'layer': unknown parameter (did you mean 'layers'?) (the parameters: lr, layers)", 37, "sampler.grid.values.layer")]
    public void Grid_values_outside_the_space_are_reported_at_their_field_when_the_file_is_read(string values, string problem, int column, string field)
    {
        var e = Assert.Throws<StudyFileException>(() => StudyFile.Parse($$"""
            command: run {lr} {layers}
            space: { lr: { float: [0.01, 0.1] }, layers: { int: [1, 3] } }
            sampler: { grid: { values: {{values}} } }
            """, "study.yaml", "/tmp"));
        Assert.Equal((3, column, field), (e.Line, e.Column, e.Field)); // at the values of that parameter, named by their whole path
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void A_top_level_that_is_not_a_mapping_has_no_empty_field()
    {
        var e = Assert.Throws<StudyFileException>(() => StudyFile.Parse("- a\n- b\n", "study.yaml", "/tmp"));
        Assert.StartsWith("study.yaml:1:1: expected a mapping", e.Message);
        Assert.Null(e.Field);
    }

    [Fact]
    public void Keys_without_a_value_read_as_absent()
    {
        var f = StudyFile.Parse("command: run\ntrials:\nstorage:\nscheduler:\n", "study.yaml", "/tmp");
        Assert.Null(f.Trials);
        Assert.Null(f.Storage);
        Assert.Null(f.Scheduler);
    }
}
