using System.Text.Json;
using Tunesmith.Execution;
using Tunesmith.Reporting;
using Tunesmith.Reporting.Plots;
using Tunesmith.Spaces;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Tests.Reporting;

public sealed class StudyPlotsTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly Dictionary<string, Distribution> Space = new()
    {
        ["x"] = new FloatDistribution(-1, 1),
        ["lr"] = new FloatDistribution(1e-4, 1e-1, Log: true),
        ["noise"] = new FloatDistribution(0, 1),
        ["opt"] = new CategoricalDistribution(["adam", "sgd"]),
    };

    // The objective depends strongly on x, weakly on opt, not at all on lr and noise.
    internal static List<FrozenTrial> RandomTrials(int n, int seed = 1, int workers = 2)
    {
        var rng = new Random(seed);
        var trials = new List<FrozenTrial>(n);
        for (var i = 0; i < n; i++)
        {
            var x = rng.NextDouble() * 2 - 1;
            var lr = Math.Exp(Math.Log(1e-4) + rng.NextDouble() * (Math.Log(1e-1) - Math.Log(1e-4)));
            var noise = rng.NextDouble();
            var opt = rng.Next(2) == 0 ? "adam" : "sgd";
            var value = 10 * (x - 0.3) * (x - 0.3) + (opt == "sgd" ? 0.5 : 0);
            var state = i % 10 == 9 ? TrialState.Pruned : TrialState.Complete;
            trials.Add(new FrozenTrial
            {
                Id = i + 1,
                Number = i,
                State = state,
                Value = state == TrialState.Complete ? value : null,
                Params = new Dictionary<string, object?> { ["x"] = x, ["lr"] = lr, ["noise"] = noise, ["opt"] = opt },
                Distributions = Space,
                Intermediate = Enumerable.Range(1, state == TrialState.Pruned ? 2 : 5).ToDictionary(s => (long)s, s => value + 1.0 / s),
                Started = T0.AddSeconds(i),
                Finished = T0.AddSeconds(i + 1.5),
                Worker = $"node{i % workers}:100:abc",
            });
        }
        return trials;
    }

    // A study whose truth is known: opt decides a step (sgd is worse by 0.3), lr a bowl around 0.3, and momentum (only with
    // sgd) adds momentumWeight · (momentum − 0.8)² inside the sgd branch; noise never matters. One failed trial holds a
    // block parameter no complete trial holds.
    private static List<FrozenTrial> ConditionalTrials(int n, int seed, double momentumWeight)
    {
        var space = new Dictionary<string, Distribution>
        {
            ["opt"] = new CategoricalDistribution(["adam", "sgd"]),
            ["lr"] = new FloatDistribution(0, 1),
            ["noise"] = new FloatDistribution(0, 1),
            ["momentum"] = new FloatDistribution(0, 1),
        };
        var rng = new Random(seed);
        var trials = new List<FrozenTrial>(n + 1);
        for (var i = 0; i < n; i++)
        {
            var opt = rng.Next(2) == 0 ? "adam" : "sgd";
            var lr = rng.NextDouble();
            var noise = rng.NextDouble();
            var momentum = rng.NextDouble();
            var ps = new Dictionary<string, object?> { ["opt"] = opt, ["lr"] = lr, ["noise"] = noise };
            if (opt == "sgd") ps["momentum"] = momentum;
            var value = 10 * (lr - 0.3) * (lr - 0.3) + (opt == "sgd" ? 0.3 + momentumWeight * (momentum - 0.8) * (momentum - 0.8) : 0);
            trials.Add(new FrozenTrial
            {
                Id = i + 1, Number = i, State = TrialState.Complete, Value = value, Params = ps,
                Distributions = space.Where(d => ps.ContainsKey(d.Key)).ToDictionary(),
                Started = T0.AddSeconds(i), Finished = T0.AddSeconds(i + 1),
            });
        }
        var blockSpace = new Dictionary<string, Distribution> { ["opt"] = space["opt"], ["layers.2.units"] = new IntDistribution(8, 64) };
        trials.Add(new FrozenTrial
        {
            Id = n + 1, Number = n, State = TrialState.Failed, Params = new Dictionary<string, object?> { ["opt"] = "adam", ["layers.2.units"] = 16L },
            Distributions = blockSpace, Started = T0.AddSeconds(n), Finished = T0.AddSeconds(n + 1),
        });
        return trials;
    }

    [Fact]
    public void PedAnova_does_not_credit_a_conditional_parameter_with_its_branchs_effect_nor_list_one_no_complete_trial_holds()
    {
        // Over 20 small random-search studies (40 trials, about 20 with momentum), momentum, which never matters, stays near
        // the noise parameter and far below lr and opt; the failed trial's layers.2.units is not listed.
        var shares = new List<(double Momentum, double Noise, double Lr, double Opt)>();
        for (var seed = 1; seed <= 20; seed++)
        {
            var trials = ConditionalTrials(40, seed, momentumWeight: 0);
            var importance = new PedAnovaImportance().Evaluate(trials, PlotAxes.Infer(trials), Direction.Minimize);
            Assert.DoesNotContain(importance, i => i.Name == "layers.2.units");
            double Share(string name) => importance.Single(i => i.Name == name).Importance;
            shares.Add((Share("momentum"), Share("noise"), Share("lr"), Share("opt")));
        }
        var mean = (Momentum: shares.Average(s => s.Momentum), Noise: shares.Average(s => s.Noise), Lr: shares.Average(s => s.Lr), Opt: shares.Average(s => s.Opt));
        output.WriteLine($"mean shares over 20 studies: momentum {mean.Momentum:P1}, noise {mean.Noise:P1}, lr {mean.Lr:P1}, opt {mean.Opt:P1}; momentum first in {shares.Count(s => s.Momentum > Math.Max(s.Lr, s.Opt))}");
        Assert.True(mean.Momentum < 0.15, $"momentum {mean.Momentum:P1}");
        Assert.True(mean.Momentum < mean.Lr / 2 && mean.Momentum < mean.Opt / 2, $"momentum {mean.Momentum:P1}, lr {mean.Lr:P1}, opt {mean.Opt:P1}");
        // At the noise parameter's level: a top of 2 among about 20 trials is a noisy estimate (momentum came first in 1 of
        // the 20 studies), and the weighting by share keeps it there rather than above.
        Assert.True(mean.Momentum < 1.5 * mean.Noise, $"momentum {mean.Momentum:P1}, noise {mean.Noise:P1}");
    }

    [Fact]
    public void PedAnova_still_finds_a_conditional_parameter_that_matters_inside_its_branch()
    {
        // The same study where momentum decides the sgd branch's value (weight 20): it ranks above noise in most studies.
        var above = 0;
        for (var seed = 1; seed <= 20; seed++)
        {
            var trials = ConditionalTrials(40, seed, momentumWeight: 20);
            var importance = new PedAnovaImportance().Evaluate(trials, PlotAxes.Infer(trials), Direction.Minimize);
            if (importance.Single(i => i.Name == "momentum").Importance > importance.Single(i => i.Name == "noise").Importance) above++;
        }
        output.WriteLine($"momentum above noise in {above} of 20 studies");
        Assert.True(above >= 15, $"momentum above noise in {above} of 20");
    }

    [Fact]
    public void PedAnova_ranks_the_parameter_that_decides_the_objective_first_and_a_noise_parameter_low()
    {
        var trials = RandomTrials(400);
        var importance = new PedAnovaImportance().Evaluate(trials, PlotAxes.Infer(trials), Direction.Minimize);
        Assert.Equal("x", importance[0].Name);
        Assert.True(importance[0].Importance > 0.5, $"x: {importance[0].Importance}");
        Assert.True(importance.Single(i => i.Name == "noise").Importance < 0.1);
        Assert.Equal(1.0, importance.Sum(i => i.Importance), 6);
    }

    [Fact]
    public void PedAnova_reads_maximize_as_the_mirror_of_minimize()
    {
        var trials = RandomTrials(300);
        var flipped = trials.Select(t => t with { Value = -t.Value }).ToList();
        var a = new PedAnovaImportance().Evaluate(trials, PlotAxes.Infer(trials), Direction.Minimize);
        var b = new PedAnovaImportance().Evaluate(flipped, PlotAxes.Infer(flipped), Direction.Maximize);
        Assert.Equal(a.Select(i => i.Name), b.Select(i => i.Name));
        Assert.Equal(a[0].Importance, b[0].Importance, 9);
    }

    [Fact]
    public void Every_plot_holds_data_and_pruned_curves_keep_their_state()
    {
        var trials = RandomTrials(60);
        var plots = StudyPlotsBuilder.Build(trials, Direction.Minimize, "loss", "s", T0.AddHours(1));
        Assert.Equal(54, plots.History.Points.Count);
        Assert.Equal(54, plots.Edf.Values.Count);
        Assert.Equal(4, plots.ParallelCoordinates.Axes.Count);
        Assert.Equal(PlotAxisKind.Log, plots.ParallelCoordinates.Axes.Single(a => a.Name == "lr").Kind);
        Assert.Equal(["adam", "sgd"], plots.ParallelCoordinates.Axes.Single(a => a.Name == "opt").Categories);
        Assert.Equal(4, plots.Slices.Count);
        Assert.Equal(3, plots.Contours.Count);
        Assert.Contains(plots.Intermediate.Curves, c => c.State == TrialState.Pruned);
        Assert.Equal([2L], plots.Intermediate.RungSteps); // every pruned trial stopped at step 2
        Assert.Equal(60, plots.Timeline.Bars.Count);
        Assert.Equal(2, plots.Timeline.Workers.Count);
        // Best-so-far never gets worse and ends at the best value.
        var best = plots.History.BestSoFar.Select(p => p.Value).ToList();
        Assert.True(best.Zip(best.Skip(1)).All(p => p.Second <= p.First));
        Assert.Equal(plots.Best!.Value, best[^1]);
    }

    [Fact]
    public void Trials_that_ran_at_once_on_one_worker_get_separate_lanes()
    {
        var trials = RandomTrials(10, workers: 1).Select(t => t with { Started = T0, Finished = T0.AddSeconds(t.Number % 2 == 0 ? 5 : 10) }).ToList();
        var plots = StudyPlotsBuilder.Build(trials, Direction.Minimize, "loss", "s", T0);
        Assert.Equal(10, plots.Timeline.Lanes.Count);
        Assert.Single(plots.Timeline.Workers);
    }

    private static FrozenTrial Curve(int number, TrialState state, int lastStep, double start, IReadOnlyDictionary<string, object?>? system = null) => new()
    {
        Id = number + 1,
        Number = number,
        State = state,
        Value = state == TrialState.Complete ? start / lastStep : null,
        Intermediate = Enumerable.Range(1, lastStep).ToDictionary(s => (long)s, s => start / s),
        SystemAttributes = system ?? new Dictionary<string, object?>(),
        Started = T0.AddSeconds(number),
        Finished = state is TrialState.Complete or TrialState.Pruned ? T0.AddSeconds(number + 1) : null,
        Worker = "w:1:a",
    };

    [Fact]
    public void Rungs_come_from_the_scheduler_with_each_trials_records_promoted_stopped_or_paused()
    {
        // ASHA min 1, max 8, η 2: rungs at steps 1, 2 and 4.
        var rungs = SchedulerRungs.From(new Tunesmith.Schedulers.Asha.AshaScheduler(1, 8, 2))!;
        Assert.Equal([1L, 2L, 4L], rungs.Milestones[0]);
        var trials = new List<FrozenTrial>
        {
            Curve(0, TrialState.Complete, 8, 1.0),  // went past every rung
            Curve(1, TrialState.Pruned, 2, 3.0),    // promoted at 1, stopped at 2
            Curve(2, TrialState.Paused, 4, 2.0, new Dictionary<string, object?> { [SystemAttributeKeys.PausedStep] = 4L }), // paused at rung 4
            Curve(3, TrialState.Running, 1, 2.5),   // at rung 1, no decision yet
        };
        var plots = StudyPlotsBuilder.Build(trials, Direction.Minimize, "loss", "s", T0.AddHours(1), rungs: rungs);
        var c = plots.Intermediate;
        Assert.StartsWith("asha(min=1, max=8", c.RungSource, StringComparison.Ordinal);
        Assert.Equal([1L, 2L, 4L], c.RungSteps);
        Assert.Equal([RungOutcome.Promoted, RungOutcome.Promoted, RungOutcome.Promoted], c.Curves.Single(x => x.Number == 0).Rungs!.Select(m => m.Outcome));
        Assert.Equal([RungOutcome.Promoted, RungOutcome.Stopped], c.Curves.Single(x => x.Number == 1).Rungs!.Select(m => m.Outcome));
        Assert.Equal([RungOutcome.Promoted, RungOutcome.Promoted, RungOutcome.Paused], c.Curves.Single(x => x.Number == 2).Rungs!.Select(m => m.Outcome));
        Assert.Equal([RungOutcome.Reached], c.Curves.Single(x => x.Number == 3).Rungs!.Select(m => m.Outcome));
        Assert.Equal(1.5, c.Curves.Single(x => x.Number == 1).Rungs![1].Value); // its value at step 2: 3.0 / 2
        Assert.Equal(
            [new RungSummary(1, 4, 3, 0, 0), new RungSummary(2, 3, 2, 1, 0), new RungSummary(4, 2, 1, 0, 1)],
            c.Rungs);
        // The same study without the scheduler: rungs inferred from where Pruned trials stopped.
        var inferred = StudyPlotsBuilder.Build(trials, Direction.Minimize, "loss", "s", T0.AddHours(1)).Intermediate;
        Assert.Equal("inferred", inferred.RungSource);
        Assert.Equal([2L], inferred.RungSteps);
        Assert.Empty(inferred.Curves[0].Rungs!);
    }

    [Fact]
    public void Rungs_are_read_from_the_study_file_stored_with_a_study()
    {
        var file = "name: s\ndirection: minimize\ncommand: /bin/true\nspace:\n  x: { float: [0, 1] }\nscheduler: { hyperband: { min: 1, max: 9, reduction: 3 } }\n";
        var record = new Tunesmith.Storage.StudyRecord(1, "s", Direction.Minimize, T0, new Dictionary<string, object?>(),
            new Dictionary<string, object?> { [Tunesmith.Execution.Commands.StudyFileRun.StudyFileTextKey] = file });
        var rungs = SchedulerRungs.From(Tunesmith.Execution.Commands.StudyFileRun.StoredScheduler(record));
        Assert.NotNull(rungs);
        Assert.StartsWith("hyperband", rungs.Description, StringComparison.Ordinal);
        Assert.Equal([1L, 3L], rungs.Milestones[0]);
        Assert.Null(SchedulerRungs.From(Tunesmith.Execution.Commands.StudyFileRun.StoredScheduler(record with { SystemAttributes = new Dictionary<string, object?>() })));
    }

    [Fact]
    public void Timeline_bars_carry_the_slurm_job_compute_class_and_node_of_their_trial()
    {
        var trials = RandomTrials(3).Select(t => t with
        {
            SystemAttributes = t.Number == 2 ? new Dictionary<string, object?>() : new Dictionary<string, object?>
            {
                [Tunesmith.Backends.Slurm.SlurmAttributeKeys.JobId] = $"40_{t.Number}",
                [Tunesmith.Backends.Slurm.SlurmAttributeKeys.ComputeClass] = "gpu",
                [Tunesmith.Backends.Slurm.SlurmAttributeKeys.Node] = $"n{t.Number}",
            },
        }).ToList();
        var bars = StudyPlotsBuilder.Build(trials, Direction.Minimize, "loss", "s", T0).Timeline.Bars;
        Assert.Equal(("40_0", "gpu", "n0"), (bars[0].Job, bars[0].ComputeClass, bars[0].Node));
        Assert.Equal(("40_1", "gpu", "n1"), (bars[1].Job, bars[1].ComputeClass, bars[1].Node));
        Assert.Equal((null, null, null), (bars[2].Job, bars[2].ComputeClass, bars[2].Node));
        var json = StudyPlotsJson.Serialize(StudyPlotsBuilder.Build(trials, Direction.Minimize, "loss", "s", T0));
        Assert.Contains("\"job\":\"40_0\",\"computeClass\":\"gpu\",\"node\":\"n0\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void The_history_alone_equals_the_full_builds_history_and_needs_only_the_trials_own_columns()
    {
        var trials = RandomTrials(3_000);
        var full = StudyPlotsBuilder.Build(trials, Direction.Minimize, "loss", "s", T0);
        var outlines = trials.Select(t => t with { Params = new Dictionary<string, object?>(), Intermediate = new Dictionary<long, double>() }).ToList();
        var alone = StudyPlotsBuilder.BuildHistory(outlines, Direction.Minimize);
        Assert.Equal(full.History.Points, alone.Points);
        Assert.Equal(full.History.BestSoFar, alone.BestSoFar);
        Assert.Equal(full.History.Total, alone.Total);
        using var doc = JsonDocument.Parse(StudyPlotsJson.SerializeHistory("loss", Direction.Minimize, alone));
        Assert.Equal("loss", doc.RootElement.GetProperty("metric").GetString());
        Assert.Equal(alone.Points.Count, doc.RootElement.GetProperty("history").GetProperty("points").GetArrayLength());
    }

    [Fact]
    public void A_large_study_is_downsampled_within_the_limits_keeping_the_best_and_the_latest()
    {
        var trials = RandomTrials(30_000);
        var options = new PlotOptions { MaxPoints = 1_000, MaxLines = 300, MaxCurves = 50 };
        var plots = StudyPlotsBuilder.Build(trials, Direction.Minimize, "loss", "s", T0, options);
        Assert.InRange(plots.History.Points.Count, 900, 1_000);
        Assert.Contains(plots.History.Points, p => p.Number == plots.Best!.Number);
        Assert.Contains(plots.History.Points, p => p.Number == trials.Last(t => t.State == TrialState.Complete).Number);
        Assert.True(plots.ParallelCoordinates.Lines.Count <= 300);
        Assert.True(plots.Intermediate.Curves.Count <= 50);
        Assert.True(plots.Timeline.Bars.Count <= 1_000);
        Assert.True(plots.Edf.Values.Count <= 1_000);
        Assert.Equal(27_000, plots.History.Total);
    }

    [Fact]
    public void Html_report_of_10000_trials_is_one_self_contained_file_under_5_MB()
    {
        var trials = RandomTrials(10_000);
        var table = ReportTable.Build(trials, Direction.Minimize, "loss", "big") with
        {
            Plots = StudyPlotsBuilder.Build(trials, Direction.Minimize, "loss", "big", T0, PlotOptions.ForReportFile),
        };
        var html = new HtmlReportExporter().Render(table);
        var bytes = System.Text.Encoding.UTF8.GetByteCount(html);
        output.WriteLine($"HTML report of 10,000 trials: {bytes:N0} bytes");
        Assert.True(bytes < 5_000_000, $"{bytes} bytes");
        Assert.DoesNotContain("src=\"http", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<link", html, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("echarts", html, StringComparison.Ordinal);
        var start = html.IndexOf("<script type=\"application/json\" id=\"plot-data\">", StringComparison.Ordinal);
        Assert.True(start > 0);
        var json = html[(html.IndexOf('>', start) + 1)..html.IndexOf("</script>", start, StringComparison.Ordinal)];
        using var doc = JsonDocument.Parse(json);
        Assert.Equal("big", doc.RootElement.GetProperty("studyName").GetString());
        Assert.True(doc.RootElement.GetProperty("history").GetProperty("points").GetArrayLength() > 0);
    }

    [Fact]
    public void Html_report_escapes_a_study_name_and_parameter_values_that_hold_markup()
    {
        var trials = RandomTrials(5).Select(t => t with { Params = new Dictionary<string, object?> { ["x"] = "</script><b>" } }).ToList();
        var table = ReportTable.Build(trials, Direction.Minimize, "loss", "<i>name</i>") with
        {
            Plots = StudyPlotsBuilder.Build(trials, Direction.Minimize, "loss", "<i>name</i>", T0),
        };
        var html = new HtmlReportExporter().Render(table);
        Assert.DoesNotContain("<i>name</i>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("</script><b>", html, StringComparison.Ordinal);
    }
}
