using FsCheck.Xunit;
using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Spaces.Spec;

namespace Tunesmith.Tests.Spec;

public sealed class SpaceExpressionPropertyTests
{
    [Property(MaxTest = 300)]
    public bool Floor_division_and_modulo_satisfy_pythons_identity(int a, int b)
    {
        if (b == 0) return true;
        var values = new Dictionary<string, object?> { ["a"] = (long)a, ["b"] = (long)b };
        var q = (long)SpaceExpression.Parse("a // b").Evaluate(values)!;
        var m = (long)SpaceExpression.Parse("a % b").Evaluate(values)!;
        // a == q·b + m, and the remainder takes the divisor's sign (or is 0) and is smaller than it.
        return (long)a == q * b + m && (m == 0 || Math.Sign(m) == Math.Sign(b)) && Math.Abs(m) < Math.Abs((long)b)
               && q == (long)Math.Floor((double)a / b);
    }

    [Property(MaxTest = 200)]
    public bool Any_value_renders_as_exactly_one_argument(string value)
    {
        if (value is null) return true;
        var argv = CommandTemplate.Parse("prog --x {x} tail").Render(new Dictionary<string, object?> { ["x"] = value }, 0, "/t");
        return argv.Count == 4 && argv[2] == value && argv[0] == "prog" && argv[3] == "tail";
    }
}
