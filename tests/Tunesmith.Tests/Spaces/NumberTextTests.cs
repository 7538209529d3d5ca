using System.Globalization;
using System.Text.Json;
using FsCheck.Xunit;
using Tunesmith.Spaces;
using Xunit;

namespace Tunesmith.Tests.Spaces;

/// <summary>Doubles as Python writes them (repr and %g), round-tripping exactly.</summary>
public sealed class NumberTextTests
{
    [Theory]
    [InlineData(6.5388e-05, "6.5388e-05")]
    [InlineData(1e-05, "1e-05")]
    [InlineData(0.0001, "0.0001")]
    [InlineData(0.1, "0.1")]
    [InlineData(0.30000000000000004, "0.30000000000000004")]
    [InlineData(3.0, "3.0")]
    [InlineData(-0.0, "-0.0")]
    [InlineData(0.0, "0.0")]
    [InlineData(-2.5e-07, "-2.5e-07")]
    [InlineData(123456789.125, "123456789.125")]
    [InlineData(1e15, "1000000000000000.0")]
    [InlineData(1e16, "1e+16")]
    [InlineData(1.5e300, "1.5e+300")]
    [InlineData(5e-324, "5e-324")]
    [InlineData(double.MaxValue, "1.7976931348623157e+308")]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.NegativeInfinity, "-Infinity")]
    public void Double_is_written_as_python_repr_writes_it(double value, string expected) =>
        Assert.Equal(expected, NumberText.Double(value));

    [Theory]
    [InlineData(6.5388e-05, "6.5388e-05")]
    [InlineData(0.000123456789, "0.000123457")]
    [InlineData(15000000.0, "1.5e+07")]
    [InlineData(1234567.0, "1.23457e+06")]
    [InlineData(123456.7, "123457")]
    [InlineData(0.5, "0.5")]
    [InlineData(1.0, "1")]
    [InlineData(-1e-100, "-1e-100")]
    public void Short_is_written_as_python_percent_g_writes_it(double value, string expected) =>
        Assert.Equal(expected, NumberText.Short(value));

    /// <summary>Any finite double (drawn from all 64 bits: subnormals, huge, negative zero) reads back exactly.</summary>
    [Property(MaxTest = 500)]
    public bool Double_round_trips_any_finite_double_through_invariant_parse_and_json(int seed)
    {
        var rng = new Random(seed);
        for (var i = 0; i < 20; i++)
        {
            var value = BitConverter.Int64BitsToDouble(rng.NextInt64(long.MinValue, long.MaxValue));
            if (!double.IsFinite(value)) continue;
            var text = NumberText.Double(value);
            var parsed = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
            using var json = JsonDocument.Parse(text);
            if (BitConverter.DoubleToInt64Bits(parsed) != BitConverter.DoubleToInt64Bits(value)
                || json.RootElement.ValueKind != JsonValueKind.Number || json.RootElement.GetDouble() != value
                || text.Contains('E') || text.IndexOfAny(['.', 'e']) < 0
                || ParamValues.ParseText(text) is not double typed || typed != value)
                return false;
        }
        return true;
    }
}
