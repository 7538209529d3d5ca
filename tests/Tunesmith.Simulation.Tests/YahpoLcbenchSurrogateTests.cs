using System.Globalization;
using Tunesmith.Simulation.Benchmarks;

namespace Tunesmith.Simulation.Tests;

public sealed class YahpoLcbenchSurrogateTests
{
    [Fact]
    public void Surrogate_reproduces_the_golden_predictions_within_1e5_relative()
    {
        using var surrogate = new YahpoLcbenchSurrogate(BenchData.Directory);
        var lines = File.ReadAllLines(Path.Combine(BenchData.Directory, YahpoLcbenchSurrogate.Folder, "golden_predictions.csv"));
        var header = lines[0].Split(',');
        var inputs = YahpoLcbenchSurrogate.InputNames.Select(n => Array.IndexOf(header, "x_cont_" + n)).ToArray();
        var outputs = YahpoLcbenchSurrogate.OutputNames.Select(n => Array.IndexOf(header, n)).ToArray();
        int task = Array.IndexOf(header, "openml_task_id"), code = Array.IndexOf(header, "x_cat");
        Assert.DoesNotContain(-1, inputs.Concat(outputs));
        var rows = lines.Skip(1).Where(l => l.Length > 0).Select(l => l.Split(',')).ToArray();
        Assert.Equal(120, rows.Length);
        var worst = 0.0;
        foreach (var row in rows)
        {
            Assert.Equal(int.Parse(row[code], CultureInfo.InvariantCulture), surrogate.TaskCode(row[task]));
            var x = inputs.Select(i => float.Parse(row[i], CultureInfo.InvariantCulture)).ToArray();
            var y = surrogate.Predict(surrogate.TaskCode(row[task]), x);
            for (var j = 0; j < outputs.Length; j++)
            {
                var expected = double.Parse(row[outputs[j]], CultureInfo.InvariantCulture);
                var relative = Math.Abs(y[j] - expected) / Math.Max(Math.Abs(expected), 1e-12);
                worst = Math.Max(worst, relative);
                Assert.True(relative <= 1e-5, $"task {row[task]}, {YahpoLcbenchSurrogate.OutputNames[j]}: {y[j]} vs golden {expected} (relative {relative:E2})");
            }
        }
        Assert.True(worst > 0 || rows.Length > 0);
    }

    [Fact]
    public void A_whole_curve_in_one_batch_equals_row_by_row_predictions()
    {
        var benchmark = (YahpoLcbenchBenchmark)BenchData.Catalog.Open("yahpo-lcbench:189908");
        double[] config = [71, 0.001824330027, 0.2132519317, 0.02047281692, 3, 293, 0.02592623183];
        var curve = benchmark.Curves([config])[0];
        Assert.Equal(50, curve.Epochs);
        using var surrogate = new YahpoLcbenchSurrogate(BenchData.Directory);
        // Epoch e is YAHPO epoch e + 1; golden row: 189908, config 0, YAHPO epoch 11 → val_accuracy 81.95325.
        var single = surrogate.Predict(surrogate.TaskCode("189908"), [11f, .. config.Select(v => (float)v)]);
        Assert.Equal(single[1], curve.Values[9], 4);
        Assert.Equal(81.95325, curve.Values[9], 3);
        Assert.All(curve.EpochSeconds, s => Assert.True(s > 0));
    }

    [Fact]
    public void An_unknown_task_is_named_in_the_error()
    {
        var e = Assert.Throws<ArgumentException>(() => BenchData.Catalog.Open("yahpo-lcbench:12345"));
        Assert.Contains("'12345'", e.Message);
    }
}
