using Tunesmith.Spaces;
using Tunesmith.Spaces.Spec;
using Xunit;

namespace Tunesmith.Tests.Spec;

public sealed class SpaceExpressionTests
{
    private static object? Eval(string text, params (string Name, object? Value)[] parameters) =>
        SpaceExpression.Parse(text).Evaluate(parameters.ToDictionary(p => p.Name, p => ParamValues.Normalize(p.Value)));

    [Theory]
    [InlineData("1 + 2 * 3", 7L)]
    [InlineData("(1 + 2) * 3", 9L)]
    [InlineData("2 ** 3 ** 2", 512L)]
    [InlineData("-2 ** 2", -4L)]
    [InlineData("10 - 4 - 3", 3L)]
    [InlineData("2 * 3 % 4", 2L)]
    [InlineData("7 // 2", 3L)]
    [InlineData("-7 // 2", -4L)]
    [InlineData("7 // -2", -4L)]
    [InlineData("-7 % 3", 2L)]
    [InlineData("7 % -3", -2L)]
    [InlineData("-7 % -3", -1L)]
    [InlineData("1 if 2 > 1 else 0", 1L)]
    [InlineData("1 if 2 < 1 else 0 if 1 > 2 else 5", 5L)]
    [InlineData("not 1 + 1 == 3 and 2 < 3", true)]
    [InlineData("1 < 2 < 3", true)]
    [InlineData("3 > 2 > 2", false)]
    [InlineData("0 or 4", 4L)]
    [InlineData("0 and 4", 0L)]
    [InlineData("min(3, 1, 2) + max(4, 5)", 6L)]
    [InlineData("abs(-3)", 3L)]
    [InlineData("round(2.5) + round(3.5)", 6L)]
    [InlineData("floor(-1.5)", -2L)]
    [InlineData("ceil(1.2)", 2L)]
    [InlineData("int(-2.7)", -2L)]
    [InlineData("int('12')", 12L)]
    public void Integer_and_boolean_results_follow_python(string text, object expected) =>
        Assert.Equal(expected, Eval(text));

    [Theory]
    [InlineData("7 / 2", 3.5)]
    [InlineData("-7.5 // 2", -4.0)]
    [InlineData("-7.5 % 2", 0.5)]
    [InlineData("2 ** -1", 0.5)]
    [InlineData("sqrt(16) + exp(0) + log(1)", 5.0)]
    [InlineData("log(8, 2)", 3.0)]
    [InlineData("float(3)", 3.0)]
    [InlineData("round(2.675, 1)", 2.7)]
    [InlineData("1.5e1 + .5", 15.5)]
    public void Float_results_follow_python(string text, double expected) =>
        Assert.Equal(expected, (double)Eval(text)!, 12);

    [Fact]
    public void Names_read_parameters_including_dotted_block_names()
    {
        Assert.Equal(3L, Eval("kernel_size // 2", ("kernel_size", 7)));
        Assert.Equal(64L, Eval("layers.0.filters * 2", ("layers.0.filters", 32)));
        Assert.Equal("relu-x", Eval("act + '-x'", ("act", "relu")));
        Assert.Equal(true, Eval("opt == 'sgd' and lr < 0.1", ("opt", "sgd"), ("lr", 0.01)));
        Assert.Equal(["a", "b.c"], SpaceExpression.Parse("a + b.c * a").Names);
    }

    [Fact]
    public void Evaluating_without_a_parameter_names_it()
    {
        var e = Assert.Throws<ExpressionException>(() => Eval("kernel_size // 2 + missing", ("kernel_size", 3)));
        Assert.Contains("'missing'", e.Message);
        Assert.Equal(19, e.Position);
    }

    [Theory]
    [InlineData("1 +", "ends too early", 3)]
    [InlineData("(1 + 2", "expected ')'", 6)]
    [InlineData("1 = 2", "use '=='", 2)]
    [InlineData("foo(1)", "unknown function 'foo'", 0)]
    [InlineData("mxa(1, 2)", "did you mean 'max'?", 0)]
    [InlineData("sqrt(1, 2)", "takes 1 argument", 0)]
    [InlineData("'abc", "unterminated string", 0)]
    [InlineData("", "empty", 0)]
    [InlineData("1 2", "unexpected '2'", 2)]
    [InlineData("3x", "malformed number", 0)]
    public void Parse_errors_give_the_offset(string text, string fragment, int position)
    {
        var e = Assert.Throws<ExpressionException>(() => SpaceExpression.Parse(text));
        Assert.Contains(fragment, e.Message);
        Assert.Equal(position, e.Position);
    }

    [Theory]
    [InlineData("1 / 0", "division by zero")]
    [InlineData("1 // 0", "division by zero")]
    [InlineData("5 % 0", "division by zero")]
    [InlineData("'a' - 1", "needs a number")]
    [InlineData("'a' + 1", "cannot join")]
    [InlineData("sqrt(-1)", "negative")]
    [InlineData("log(0)", "non-positive")]
    public void Runtime_errors_are_expression_errors(string text, string fragment)
    {
        var e = Assert.Throws<ExpressionException>(() => Eval(text));
        Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void Integer_overflow_falls_back_to_float()
    {
        Assert.Equal(Math.Pow(2, 70), (double)Eval("2 ** 70")!);
        Assert.IsType<double>(Eval("9223372036854775807 + 1"));
    }
}
