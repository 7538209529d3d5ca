using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Tunesmith.Simulation.Benchmarks;

namespace Tunesmith.Simulation.Tests;

public sealed class NearestConfigIndexTests
{
    [Property(MaxTest = 200)]
    public Property The_tree_finds_the_same_row_as_a_scan(int seed, PositiveInt count, PositiveInt dims)
    {
        var random = new Random(seed);
        var n = count.Get % 300 + 1;
        var d = dims.Get % 7 + 1;
        // Coarse coordinates, so exact ties occur and the lower row must win them.
        var points = Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, d).Select(_ => random.Next(5) / 4.0).ToArray()).ToArray();
        var index = new NearestConfigIndex(points);
        var query = Enumerable.Range(0, d).Select(_ => random.NextDouble()).ToArray();
        var expected = Enumerable.Range(0, n).OrderBy(i => points[i].Zip(query, (a, b) => (a - b) * (a - b)).Sum()).ThenBy(i => i).First();
        return (index.Nearest(query) == expected).Label($"n={n} d={d}");
    }

    [Property(MaxTest = 200)]
    public Property With_rows_left_out_the_tree_finds_the_nearest_of_the_others(int seed, PositiveInt count, PositiveInt dims)
    {
        var random = new Random(seed);
        var n = count.Get % 300 + 1;
        var d = dims.Get % 7 + 1;
        var points = Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, d).Select(_ => random.Next(5) / 4.0).ToArray()).ToArray();
        var excluded = Enumerable.Range(0, n).Select(_ => random.Next(3) != 0).ToArray(); // about two thirds left out
        var index = new NearestConfigIndex(points);
        var query = Enumerable.Range(0, d).Select(_ => random.NextDouble()).ToArray();
        var expected = Enumerable.Range(0, n).Where(i => !excluded[i])
            .OrderBy(i => points[i].Zip(query, (a, b) => (a - b) * (a - b)).Sum()).ThenBy(i => i).DefaultIfEmpty(-1).First();
        return (index.Nearest(query, excluded) == expected).Label($"n={n} d={d}");
    }
}
