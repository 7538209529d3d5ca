using System.Text.Json;
using Tunesmith.Spaces;

namespace Tunesmith.Simulation.Benchmarks;

/// <summary>Loads the tabulated learning-curve benchmarks of the shared benchmark data (see its README for every column).</summary>
public static class TabularBenchmarks
{
    /// <summary>The LCBench file with real curves (blood-transfusion, OpenML task 167184).</summary>
    public const string LcbenchBloodFile = "lcbench_blood_transfusion_curves.csv.gz";

    /// <summary>The NAS-Bench-NLP WikiText-2 curves.</summary>
    public const string NasBenchNlpFile = "nasbench_nlp_wikitext2_curves.csv.gz";

    /// <summary>
    /// <c>lcbench-blood</c>: 2000 MLP configurations × 50 epochs of real LCBench curves; objective <c>val_accuracy</c>
    /// (percent, maximize; LCBench's and Syne Tune's default metric), each epoch costing its recorded <c>epoch_time_s</c>.
    /// The space is LCBench's seven hyperparameters (num_layers 1..4: 5 never occurs in the data).
    /// </summary>
    public static TabularBenchmark LoadLcbenchBlood(string dataDirectory, string metric = "val_accuracy")
    {
        var csv = GzipCsv.Read(System.IO.Path.Combine(dataDirectory, LcbenchBloodFile));
        KeyValuePair<string, Distribution>[] space =
        [
            new("batch_size", new IntDistribution(16, 512, Log: true)),
            new("learning_rate", new FloatDistribution(1e-4, 1e-1, Log: true)),
            new("momentum", new FloatDistribution(0.1, 0.99)),
            new("weight_decay", new FloatDistribution(1e-5, 1e-1)),
            new("num_layers", new IntDistribution(1, 4)),
            new("max_units", new IntDistribution(64, 1024, Log: true)),
            new("max_dropout", new FloatDistribution(0.0, 1.0)),
        ];
        var direction = metric switch
        {
            "val_accuracy" or "val_balanced_accuracy" or "test_accuracy" or "test_balanced_accuracy" => Direction.Maximize,
            "val_cross_entropy" or "test_cross_entropy" => Direction.Minimize,
            _ => throw new ArgumentException($"benchmark 'lcbench-blood': unknown metric '{metric}' (known: val_accuracy, val_balanced_accuracy, val_cross_entropy, test_accuracy, test_balanced_accuracy, test_cross_entropy)"),
        };
        int id = csv.Column("config_id"), epoch = csv.Column("epoch"), value = csv.Column(metric), seconds = csv.Column("epoch_time_s");
        var hp = space.Select(p => csv.Column(p.Key)).ToArray();
        return Build("lcbench-blood", metric, direction, space, csv, id, epoch, value, seconds, row => hp.Select(c => GzipCsv.Number(row[c])).ToArray());
    }

    /// <summary>
    /// <c>nasbench-nlp</c>: 345 recurrent-cell architectures × up to 50 epochs of real NAS-Bench-NLP curves on WikiText-2;
    /// objective <c>val_loss</c> (log-perplexity, minimize), each epoch costing its recorded GPU seconds. An architecture is
    /// described to samplers by numbers taken from its recipe graph — log parameter count and how many nodes of each
    /// operation it has — so model-based samplers have something to generalise over; the nearest tabulated architecture
    /// is replayed. The four diverged runs fail at their last (NaN) epoch.
    /// </summary>
    public static TabularBenchmark LoadNasBenchNlp(string dataDirectory)
    {
        var csv = GzipCsv.Read(System.IO.Path.Combine(dataDirectory, NasBenchNlpFile));
        string[] ops = ["linear", "activation_sigm", "activation_tanh", "activation_leaky_relu", "elementwise_sum", "elementwise_prod", "blend"];
        int id = csv.Column("config_id"), epoch = csv.Column("epoch"), value = csv.Column("val_loss"), seconds = csv.Column("epoch_time_s");
        int recipe = csv.Column("recipe"), parameters = csv.Column("num_params");
        var features = new Dictionary<int, double[]>();
        foreach (var row in csv.Rows)
        {
            if (row[epoch] != "1") continue;
            var f = new double[ops.Length + 1];
            f[0] = GzipCsv.Number(row[parameters]);
            using var graph = JsonDocument.Parse(row[recipe]);
            foreach (var node in graph.RootElement.EnumerateObject())
            {
                var op = Array.IndexOf(ops, node.Value.GetProperty("op").GetString());
                if (op >= 0) f[op + 1]++;
            }
            features[int.Parse(row[id], System.Globalization.CultureInfo.InvariantCulture)] = f;
        }
        var max = Enumerable.Range(0, ops.Length).Select(j => (long)features.Values.Max(f => f[j + 1])).ToArray();
        var space = new List<KeyValuePair<string, Distribution>>
        {
            new("num_params", new FloatDistribution(features.Values.Min(f => f[0]), features.Values.Max(f => f[0]), Log: true)),
        };
        for (var j = 0; j < ops.Length; j++) space.Add(new("n_" + ops[j].Replace("activation_", "", StringComparison.Ordinal), new IntDistribution(0, max[j])));
        return Build("nasbench-nlp", "val_loss", Direction.Minimize, space, csv, id, epoch, value, seconds,
            row => features[int.Parse(row[id], System.Globalization.CultureInfo.InvariantCulture)]);
    }

    private static TabularBenchmark Build(string name, string metric, Direction direction, IReadOnlyList<KeyValuePair<string, Distribution>> space,
        GzipCsv csv, int idColumn, int epochColumn, int valueColumn, int secondsColumn, Func<string[], double[]> featuresOf)
    {
        var byConfig = new SortedDictionary<int, List<(int Epoch, double Value, double Seconds, string[] Row)>>();
        foreach (var row in csv.Rows)
        {
            var id = int.Parse(row[idColumn], System.Globalization.CultureInfo.InvariantCulture);
            if (!byConfig.TryGetValue(id, out var list)) byConfig[id] = list = [];
            list.Add((int.Parse(row[epochColumn], System.Globalization.CultureInfo.InvariantCulture), GzipCsv.Number(row[valueColumn]), GzipCsv.Number(row[secondsColumn]), row));
        }
        var configurations = new List<double[]>();
        var curves = new List<LearningCurve>();
        foreach (var (id, rows) in byConfig)
        {
            if (id != curves.Count) throw new InvalidDataException($"{csv.Path}: config ids are not dense at {id}");
            rows.Sort((a, b) => a.Epoch.CompareTo(b.Epoch));
            for (var e = 0; e < rows.Count; e++)
                if (rows[e].Epoch != e + 1) throw new InvalidDataException($"{csv.Path}: config {id} is missing epoch {e + 1}");
            // An epoch's time is never zero or negative on the virtual clock (events at one instant would be ambiguous).
            curves.Add(new LearningCurve(id, rows.Select(r => r.Value).ToArray(), rows.Select(r => Math.Max(r.Seconds, 1e-3)).ToArray()));
            configurations.Add(featuresOf(rows[0].Row));
        }
        return new TabularBenchmark(name, metric, direction, space, configurations, curves);
    }
}
