using Tunesmith.Cli.Internal;
using Xunit;

namespace Tunesmith.Cli.Tests;

/// <summary>Every duration flag reads its text with the study file's parser and refuses it in one format.</summary>
public sealed class DurationFlagTests
{
    [Theory]
    [InlineData("90", 90)]
    [InlineData("90s", 90)]
    [InlineData("30m", 1800)]
    [InlineData("30min", 1800)]
    [InlineData("2h", 7200)]
    [InlineData("1d", 86400)]
    [InlineData("1.5d", 129600)]
    [InlineData("1h30m", 5400)]
    [InlineData("2d12h", 216000)]
    [InlineData("500ms", 0.5)]
    [InlineData("01:30:00", 5400)]
    [InlineData("1e3", 1000)]
    public void Accepted_forms(string text, double seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), DurationFlag.Parse("--time-budget", text));

    [Theory]
    [InlineData("2x", "--time-budget 2x: expected a positive duration such as 90s, 30m, 2h, 1h30m or 01:30:00")]
    [InlineData("soon", "--time-budget soon: expected a positive duration such as 90s, 30m, 2h, 1h30m or 01:30:00")]
    [InlineData("0h", "--time-budget 0h: expected a positive duration such as 90s, 30m, 2h, 1h30m or 01:30:00")]
    [InlineData("-5", "--time-budget -5: expected a positive duration such as 90s, 30m, 2h, 1h30m or 01:30:00")]
    [InlineData("1h 30m", "--time-budget 1h 30m: expected a positive duration such as 90s, 30m, 2h, 1h30m or 01:30:00")]
    [InlineData("", "--time-budget : expected a positive duration such as 90s, 30m, 2h, 1h30m or 01:30:00")]
    [InlineData("40000d", "--time-budget 40000d: too long (at most 36500d)")]
    [InlineData("1e300", "--time-budget 1e300: too long (at most 36500d)")]
    public void Refused_forms_get_one_line_naming_the_flag_and_the_text(string text, string message) =>
        Assert.Equal(message, Assert.Throws<CliUsageException>(() => DurationFlag.Parse("--time-budget", text)).Message);

    [Fact]
    public void No_text_is_no_duration() => Assert.Null(DurationFlag.Parse("--timeout", null));
}
