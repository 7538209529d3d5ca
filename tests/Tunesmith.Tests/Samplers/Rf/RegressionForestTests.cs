using Tunesmith.Samplers.Rf;
using Xunit;

namespace Tunesmith.Tests.Samplers.Rf;

public sealed class RegressionForestTests
{
    private static readonly RegressionForestSettings Settings = new(Trees: 20, MinSamplesSplit: 3, MinSamplesLeaf: 1, MaxDepth: 20, FeatureFraction: 1, Bootstrap: true);

    [Fact]
    public void Forest_predicts_a_known_function_and_is_surer_where_it_has_data()
    {
        // f(x) = (x − 0.3)² on [0, 1], observed only on [0, 0.6].
        var random = new Random(1);
        var x = Enumerable.Range(0, 120).Select(_ => new[] { 0.6 * random.NextDouble() }).ToList();
        var y = x.Select(r => Math.Pow(r[0] - 0.3, 2)).ToList();
        var forest = RegressionForest.Grow(x, y, [0], Settings, new Random(2));

        foreach (var probe in new[] { 0.05, 0.2, 0.3, 0.45, 0.55 })
        {
            var (mean, _) = forest.Predict([probe]);
            Assert.True(Math.Abs(mean - Math.Pow(probe - 0.3, 2)) < 0.01, $"prediction at {probe}: {mean}");
        }
        // Inside the data the trees agree; across a wide gap (between the two clusters below) they disagree.
        var gapX = Enumerable.Range(0, 60).Select(i => new[] { i < 30 ? 0.2 * random.NextDouble() : 0.8 + 0.2 * random.NextDouble() }).ToList();
        var gapY = gapX.Select(r => r[0] < 0.5 ? 0.0 : 1.0).ToList();
        var gapForest = RegressionForest.Grow(gapX, gapY, [0], Settings, new Random(3));
        var inside = gapForest.Predict([0.1]).Variance;
        var between = gapForest.Predict([0.5]).Variance;
        Assert.True(inside < 1e-6, $"variance inside a constant cluster: {inside}");
        Assert.True(between > 0.05, $"variance in the gap between clusters 0 and 1: {between}");
    }

    [Fact]
    public void Categorical_features_split_one_category_from_the_rest_and_inactive_values_separate()
    {
        // Feature 0: category 0..2 (2 is best); feature 1: numeric, inactive (−1) in a third of the rows.
        var random = new Random(4);
        var x = new List<double[]>();
        var y = new List<double>();
        for (var i = 0; i < 150; i++)
        {
            var category = random.Next(3);
            var active = i % 3 != 0;
            var v = active ? random.NextDouble() : -1;
            x.Add([category, v]);
            y.Add((category == 2 ? 0 : 1) + (active ? v : 5));
        }
        var forest = RegressionForest.Grow(x, y, [3, 0], Settings, new Random(5));
        Assert.InRange(forest.Predict([2, 0.1]).Mean, -0.1, 0.3);
        Assert.InRange(forest.Predict([0, 0.1]).Mean, 0.9, 1.3);
        Assert.InRange(forest.Predict([2, -1]).Mean, 4.7, 5.3);
    }

    [Fact]
    public void Log_transform_applies_only_to_heavy_tailed_values()
    {
        Assert.Equal([1.0, 2, 3, 4], RandomForestSampler.Targets([1.0, 2, 3, 4], logTransform: true));
        var heavy = RandomForestSampler.Targets([0.0, 1, 1, 2, 1000], logTransform: true);
        Assert.Equal(0, heavy[0]);
        Assert.True(heavy[4] < 10, $"the outlier is compressed: {heavy[4]}");
        Assert.Equal([0.0, 1, 1, 2, 1000], RandomForestSampler.Targets([0.0, 1, 1, 2, 1000], logTransform: false));
    }
}
