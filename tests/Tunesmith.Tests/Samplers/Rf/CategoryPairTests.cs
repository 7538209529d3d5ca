using FsCheck;
using FsCheck.Xunit;
using Tunesmith.Execution;
using Tunesmith.Samplers;
using Tunesmith.Samplers.Rf;
using Xunit;

namespace Tunesmith.Tests.Samplers.Rf;

/// <summary>The forest's pair exploration (<see cref="RandomForestOptions.CategoryPairRate"/>) and its choice rule.</summary>
public sealed class CategoryPairTests
{
    /// <summary>
    /// Whatever the encoded history, the chosen pair names two different categorical features and a valid value of each;
    /// when some value pair of two categorical features has no row yet, the choice is such a pair.
    /// </summary>
    [Property(MaxTest = 100)]
    public bool The_choice_is_a_valid_pair_and_an_untried_one_while_any_is_untried(PositiveInt seed, NonNegativeInt rowCount, PositiveInt shape)
    {
        var random = new Random(seed.Get);
        // Two to four categorical features of 2..4 choices, one numeric feature, in a shuffled order.
        var categories = Enumerable.Range(0, 2 + shape.Get % 3).Select(_ => 2 + random.Next(3)).Append(0).OrderBy(_ => random.Next()).ToArray();
        var rows = Enumerable.Range(0, rowCount.Get % 40).Select(_ => categories.Select(c => c == 0 ? random.NextDouble() : random.Next(c)).ToArray()).ToList();
        var values = rows.Select(_ => random.NextDouble()).ToList();
        var pair = CategoryPairs.Choose(categories, rows, values, new Random(seed.Get));
        if (rows.Count == 0) return pair is null;
        if (pair is not { } p) return false;
        if (p.First == p.Second || categories[p.First] < 2 || categories[p.Second] < 2) return false;
        if (p.FirstValue < 0 || p.FirstValue >= categories[p.First] || p.SecondValue < 0 || p.SecondValue >= categories[p.Second]) return false;
        var cats = Enumerable.Range(0, categories.Length).Where(j => categories[j] > 0).ToArray();
        var anyUntried = cats.SelectMany(a => cats.Where(b => b > a).SelectMany(b => Enumerable.Range(0, categories[a])
            .SelectMany(va => Enumerable.Range(0, categories[b]).Select(vb => (a, va, b, vb)))))
            .Any(c => !rows.Any(r => (int)r[c.a] == c.va && (int)r[c.b] == c.vb));
        var chosenTried = rows.Any(r => (int)r[p.First] == p.FirstValue && (int)r[p.Second] == p.SecondValue);
        return !anyUntried || !chosenTried;
    }

    [Fact]
    public void The_choice_is_reproducible_under_a_seed()
    {
        var random = new Random(5);
        int[] categories = [3, 0, 4, 3];
        var rows = Enumerable.Range(0, 60).Select(_ => categories.Select(c => c == 0 ? random.NextDouble() : random.Next(c)).ToArray()).ToList();
        var values = rows.Select(r => r[1]).ToList();
        Assert.Equal(CategoryPairs.Choose(categories, rows, values, new Random(9)), CategoryPairs.Choose(categories, rows, values, new Random(9)));
    }

    /// <summary>
    /// With every proposal exploring a pair, a forest over two categorical parameters tries every value pair before any
    /// pair is tried twice by the model: the minimum share of one trial per pair.
    /// </summary>
    [Fact]
    public void Pair_exploration_tries_every_value_pair_of_two_categoricals()
    {
        var sampler = new RandomForestSampler(new RandomForestOptions { Seed = 4, StartupTrials = 4, RandomCandidates = 50, RandomProposalRate = 0, CategoryPairRate = 1 });
        var study = Study.Create($"rf-pairs-{Guid.NewGuid():N}", sampler: sampler);
        string[] a = ["a0", "a1", "a2", "a3"], b = ["b0", "b1", "b2", "b3"];
        // One-at-a-time best is a0/b0; nothing draws the forest towards the other pairs.
        study.Optimize(t => (t.SuggestCategorical("a", a) == "a0" ? 0 : 1) + (t.SuggestCategorical("b", b) == "b0" ? 0 : 1) + t.SuggestFloat("x", 0, 1), trials: 4 + 16);
        var pairs = study.Trials.Select(t => $"{t.Params["a"]}/{t.Params["b"]}").Distinct().Count();
        Assert.Equal(16, pairs);
    }

    [Fact]
    public void The_rate_is_validated_and_read_from_a_study_file()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RandomForestSampler(new RandomForestOptions { CategoryPairRate = 1.5 }));
        var e = Assert.Throws<ArgumentException>(() => RandomForestOptions.FromStudyFile(new Dictionary<string, object?> { ["category_pair_rate"] = -0.1 }));
        Assert.Contains("category_pair_rate", e.Message, StringComparison.Ordinal);
        var rf = Assert.IsType<RandomForestSampler>(SamplerRegistry.Create("rf", new SamplerRequest(new Dictionary<string, object?> { ["category_pair_rate"] = 0.25 })));
        Assert.Equal(0.25, rf.Options.CategoryPairRate);

    }
}
