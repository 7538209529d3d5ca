using Tunesmith.Backends.Processes;
using Tunesmith.Execution.Commands;
using Xunit;

namespace Tunesmith.Tests.Execution;

public sealed class TrialProtocolTests
{
    [Fact]
    public void Report_line_gives_its_step_and_every_other_numeric_field_as_a_metric()
    {
        var m = TrialProtocol.ParseLine("tunesmith:report {\"step\": 3, \"val_f1\": 0.81, \"loss\": 0.42, \"phase\": \"train\"}")!;
        Assert.Equal(ProtocolMessageKind.Report, m.Kind);
        Assert.Equal(3L, m.Step);
        Assert.Equal(new Dictionary<string, double> { ["val_f1"] = 0.81, ["loss"] = 0.42 }, m.Metrics);
    }

    [Fact]
    public void Result_line_keeps_all_metrics_and_tolerates_surrounding_whitespace()
    {
        var m = TrialProtocol.ParseLine("   tunesmith:result   {\"val_f1\": 0.84, \"loss\": 0.40}  ")!;
        Assert.Equal(ProtocolMessageKind.Result, m.Kind);
        Assert.Null(m.Step);
        Assert.Equal(0.84, m.Metrics["val_f1"]);
        Assert.Equal(0.40, m.Metrics["loss"]);
    }

    [Theory]
    [InlineData("epoch 3 done")]
    [InlineData("loss tunesmith:report {\"step\": 1}")]
    [InlineData("tunesmith:reporter {\"a\": 1}")]
    [InlineData("")]
    public void Ordinary_output_is_not_a_protocol_line(string line) => Assert.Null(TrialProtocol.ParseLine(line));

    [Fact]
    public void Python_bare_NaN_and_Infinity_parse_as_non_finite_values()
    {
        var m = TrialProtocol.ParseLine("tunesmith:result {\"val_f1\": NaN, \"loss\": Infinity, \"x\": -Infinity, \"s\": \"NaN inside\"}")!;
        Assert.True(double.IsNaN(m.Metrics["val_f1"]));
        Assert.Equal(double.PositiveInfinity, m.Metrics["loss"]);
        Assert.Equal(double.NegativeInfinity, m.Metrics["x"]);
        Assert.False(m.Metrics.ContainsKey("s"));
    }

    [Theory]
    [InlineData("tunesmith:result {\"val_f1\": 0.8")]
    [InlineData("tunesmith:result [1, 2]")]
    [InlineData("tunesmith:result")]
    [InlineData("tunesmith:report {\"step\": 1.5, \"val_f1\": 0.8}")]
    [InlineData("tunesmith:report {\"step\": -1, \"val_f1\": 0.8}")]
    [InlineData("tunesmith:report {\"step\": \"x\", \"val_f1\": 0.8}")]
    [InlineData("tunesmith:report {\"step\": true, \"val_f1\": 0.8}")]
    [InlineData("tunesmith:report {\"step\": [1], \"val_f1\": 0.8}")]
    public void Malformed_protocol_payload_is_a_format_error_naming_the_line_kind(string line)
    {
        var e = Assert.Throws<FormatException>(() => TrialProtocol.ParseLine(line));
        Assert.Contains("tunesmith:re", e.Message);
    }

    [Fact]
    public void Result_file_may_hold_metrics_flat_or_under_a_metrics_object()
    {
        Assert.Equal(0.5, TrialProtocol.ParseMetrics("{\"val_f1\": 0.5}")["val_f1"]);
        Assert.Equal(0.7, TrialProtocol.ParseMetrics("{\"state\": \"Complete\", \"metrics\": {\"val_f1\": 0.7}}")["val_f1"]);
    }

    [Theory]
    [InlineData("0.84", 0.84)]
    [InlineData("  -3e-2 ", -0.03)]
    [InlineData("12", 12.0)]
    public void Bare_number_lines_parse_invariantly(string line, double expected)
    {
        Assert.True(TrialProtocol.TryParseBareNumber(line, out var v));
        Assert.Equal(expected, v, 12);
    }

    [Theory]
    [InlineData("nan")]
    [InlineData("NaN")]
    public void Bare_nan_parses_as_NaN(string line)
    {
        Assert.True(TrialProtocol.TryParseBareNumber(line, out var v));
        Assert.True(double.IsNaN(v));
    }

    [Theory]
    [InlineData("done")]
    [InlineData("0,84")]
    [InlineData("1 2")]
    public void Words_are_not_bare_numbers(string line) => Assert.False(TrialProtocol.TryParseBareNumber(line, out _));

    [Fact]
    public void Param_variable_names_are_upper_cased_with_non_alphanumerics_as_underscores()
    {
        Assert.Equal("TUNESMITH_PARAM_LR", CommandObjective.ParamVariableName("lr"));
        Assert.Equal("TUNESMITH_PARAM_LAYERS_0_FILTERS", CommandObjective.ParamVariableName("layers.0.filters"));
        Assert.Equal("TUNESMITH_PARAM_WEIGHT_DECAY", CommandObjective.ParamVariableName("weight-decay"));
    }
}
