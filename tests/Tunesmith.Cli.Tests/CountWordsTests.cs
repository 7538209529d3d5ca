using Tunesmith.Cli.Internal;

namespace Tunesmith.Cli.Tests;

/// <summary>Messages that count something say "1 trial", not "1 trials".</summary>
public sealed class CountWordsTests
{
    [Fact]
    public void One_is_singular_and_any_other_count_plural()
    {
        Assert.Equal(" (1 interrupted trial resumed)", CommandRunSession.ResumedNote(1));
        Assert.Equal(" (2 interrupted trials resumed)", CommandRunSession.ResumedNote(2));
        Assert.Equal("", CommandRunSession.ResumedNote(0));
        Assert.Equal("1 waiting trial", Formats.Count(1, "waiting trial"));
        Assert.Equal("0 waiting trials", Formats.Count(0, "waiting trial"));
        Assert.Equal("3 more problems", Formats.Count(3, "more problem"));
    }
}
