using FsCheck.Xunit;
using Tunesmith.Spaces.Spec;
using Xunit;

namespace Tunesmith.Tests.Spec;

public sealed class ClosestNameTests
{
    [Theory]
    [InlineData("optim", "opt,lr,momentum", "opt")] // a longer name for opt
    [InlineData("cnt", "count,block", "count")] // an abbreviation
    [InlineData("lyrs", "layers,lr", "layers")]
    [InlineData("momentun", "momentum,opt", "momentum")] // one edit, as before
    [InlineData("seed", "step,low", null)] // two edits that are not a shortening: a different word
    [InlineData("lar", "layer,lamar", null)] // two shortenings as close: no guess
    [InlineData("unt", "count", null)] // the first letter dropped
    [InlineData("ab", "abcd", null)] // too short to say
    public void A_name_one_edit_in_three_away_or_shortened_by_up_to_two_letters_is_suggested(string input, string candidates, string? expected) =>
        Assert.Equal(expected, ClosestName.Find(input, candidates.Split(',')));

    [Property(MaxTest = 300)]
    public bool Dropping_two_letters_after_the_first_finds_the_name_among_unrelated_ones(int seed, byte a, byte b)
    {
        // A random lower-case name of 5 to 12 letters, starting with a letter no other candidate starts with.
        var rng = new Random(seed);
        var name = "q" + new string(Enumerable.Range(0, rng.Next(4, 12)).Select(_ => (char)('a' + rng.Next(26))).ToArray());
        var shortened = name.Remove(1 + a % (name.Length - 1), 1);
        shortened = shortened.Remove(1 + b % (shortened.Length - 1), 1);
        var candidates = new[] { name, "lr", "momentum", "batch_size", "dropout" };
        return ClosestName.Find(shortened, candidates) == name && ClosestName.Find(name, [shortened, "lr", "dropout"]) == shortened;
    }
}
