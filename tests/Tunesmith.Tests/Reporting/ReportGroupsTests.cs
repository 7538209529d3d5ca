using System.Text.Json;
using Tunesmith.Reporting;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Tests.Reporting;

public sealed class ReportGroupsTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static FrozenTrial Trial(int number, TrialState state, double? value, string? cls, string? worker = null) => new()
    {
        Id = number,
        Number = number,
        State = state,
        Value = value,
        Worker = worker,
        Params = new Dictionary<string, object?> { ["kernel"] = number % 2 == 0 ? "rbf" : "linear", ["c"] = (long)(number % 3) },
        SystemAttributes = cls is null ? new Dictionary<string, object?>() : new Dictionary<string, object?> { ["compute_class"] = cls },
        Started = T0,
        Finished = state.IsFinished() ? T0.AddSeconds(10) : null,
    };

    private static readonly FrozenTrial[] Trials =
    [
        Trial(0, TrialState.Complete, 0.3, "gpu", "w1"),
        Trial(1, TrialState.Complete, 0.1, "gpu", "w1"),
        Trial(2, TrialState.Pruned, null, "gpu", "w2"),
        Trial(3, TrialState.Complete, 0.5, "cpu", "w2"),
        Trial(4, TrialState.Failed, null, "cpu", "w2"),
        Trial(5, TrialState.Complete, 0.9, "cpu"),
        Trial(6, TrialState.Running, null, null),
    ];

    [Fact]
    public void Groups_count_each_state_and_rank_by_their_best_value_with_keyless_trials_last()
    {
        var minimize = ReportGroups.Build(Trials, Direction.Minimize, "compute_class");
        Assert.Equal(["gpu", "cpu", ReportGroups.None], minimize.Select(g => g.Key));
        var gpu = minimize[0];
        Assert.Equal((3, 2, 1, 0, 0.1, 0.2), (gpu.Trials, gpu.Complete, gpu.Pruned, gpu.Failed, gpu.Best, gpu.Median!.Value));
        Assert.Equal(TimeSpan.FromSeconds(30), gpu.Runtime);
        var cpu = minimize[1];
        Assert.Equal((3, 2, 0, 1, 0.5, 0.7), (cpu.Trials, cpu.Complete, cpu.Pruned, cpu.Failed, cpu.Best, Math.Round(cpu.Median!.Value, 12)));
        Assert.Null(minimize[2].Best);

        var maximize = ReportGroups.Build(Trials, Direction.Maximize, "compute_class");
        Assert.Equal(["cpu", "gpu", ReportGroups.None], maximize.Select(g => g.Key));
        Assert.Equal(0.9, maximize[0].Best);
    }

    [Fact]
    public void Paused_trials_of_a_promotion_based_study_are_counted_in_their_group()
    {
        // A promotion-based ASHA study ends with most trials Paused: `report --by hidden` gave '27  2  1  0  0' (2 trials, of
        // which 1 complete, 0 pruned, 0 failed) with no column for the other one, as if a trial had gone missing.
        FrozenTrial[] trials = [Trial(0, TrialState.Complete, 0.2, "gpu"), Trial(1, TrialState.Paused, null, "gpu"), Trial(2, TrialState.Paused, null, "gpu")];
        using var w = new StringWriter { NewLine = "\n" };
        ReportGroups.Write(ReportGroups.Build(trials, Direction.Minimize, "compute_class"), "compute_class", "loss", "csv", w);
        Assert.Equal(["compute_class,trials,complete,pruned,failed,paused,best loss,median loss,runtime_s", "gpu,3,1,0,0,2,0.2,0.2,10.0"],
            w.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void A_key_no_trial_has_gets_a_note_with_the_keys_they_have_and_the_closest()
    {
        Assert.Equal("no trial has 'compute-class' (did you mean 'compute_class'?), so every trial is in (none) (keys: worker, compute_class, kernel, c)",
            ReportGroups.MissingKeyNote(Trials, "compute-class"));
        Assert.Null(ReportGroups.MissingKeyNote(Trials, "kernel"));
        Assert.Null(ReportGroups.MissingKeyNote(Trials, "worker")); // some trials have one
        Assert.Null(ReportGroups.MissingKeyNote([], "anything"));
    }

    [Theory]
    [InlineData("worker", new[] { "w1", "w2", "(none)" })]
    [InlineData("kernel", new[] { "linear", "rbf" })]
    [InlineData("c", new[] { "1", "0", "2" })]
    [InlineData("no_such_key", new[] { "(none)" })]
    public void The_key_is_the_worker_an_attribute_or_a_parameter(string by, string[] keys) =>
        Assert.Equal(keys, ReportGroups.Build(Trials, Direction.Minimize, by).Select(g => g.Key));

    [Fact]
    public void Every_format_writes_every_group()
    {
        var groups = ReportGroups.Build(Trials, Direction.Minimize, "compute_class");
        string Render(string format)
        {
            using var w = new StringWriter { NewLine = "\n" };
            ReportGroups.Write(groups, "compute_class", "loss", format, w);
            return w.ToString();
        }
        using var json = JsonDocument.Parse(Render("json"));
        Assert.Equal("compute_class", json.RootElement.GetProperty("by").GetString());
        Assert.Equal(["gpu", "cpu", "(none)"], json.RootElement.GetProperty("groups").EnumerateArray().Select(g => g.GetProperty("key").GetString()));
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("groups")[2].GetProperty("best").ValueKind);
        var csv = Render("csv").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("compute_class,trials,complete,pruned,failed,paused,best loss,median loss,runtime_s", csv[0]);
        Assert.Equal("gpu,3,2,1,0,0,0.1,0.2,30.0", csv[1]);
        var table = Render("table").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(5, table.Length);
        Assert.StartsWith("gpu ", table[2]);
        Assert.Equal(5, Render("md").Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Throws<ArgumentException>(() => Render("html"));
    }
}
