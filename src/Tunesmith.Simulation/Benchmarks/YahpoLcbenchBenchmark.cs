using Tunesmith.Spaces;

namespace Tunesmith.Simulation.Benchmarks;

/// <summary>
/// <c>yahpo-lcbench:&lt;OpenML task id&gt;</c>: LCBench on any of its 34 tasks through the YAHPO Gym surrogate, so any
/// configuration in LCBench's continuous space has a curve (no nearest-row lookup). A trial's whole curve is predicted in
/// one batch when it starts: epochs 1..50 are YAHPO epochs 2..51 (YAHPO epoch k is LCBench's raw index k − 1, index 0
/// being the untrained model), the objective is <c>val_accuracy</c> (percent, maximize), and epoch e costs the
/// predicted cumulative time at YAHPO epoch e + 1 minus that at epoch e. The surrogate's time is not always increasing,
/// so the cumulative time is first made non-decreasing (a running maximum) and every epoch costs at least 1 ms.
/// </summary>
public sealed class YahpoLcbenchBenchmark : ILearningCurveBenchmark
{
    /// <summary>Epochs per curve (LCBench's 50).</summary>
    public const int Epochs = 50;

    private readonly YahpoLcbenchSurrogate _surrogate;
    private readonly int _taskCode;
    private readonly int _metricIndex;
    private readonly Lazy<double> _best;
    private readonly IReadOnlyList<double[]> _referenceConfigurations;

    /// <summary>
    /// Opens task <paramref name="openmlTaskId"/>. <paramref name="referenceConfigurations"/> (values in
    /// <see cref="YahpoLcbenchSurrogate.InputNames"/> order without the epoch) set <see cref="BestValue"/>; the 2000
    /// LCBench configurations are the usual choice.
    /// </summary>
    public YahpoLcbenchBenchmark(YahpoLcbenchSurrogate surrogate, string openmlTaskId, IReadOnlyList<double[]> referenceConfigurations, string metric = "val_accuracy")
    {
        _surrogate = surrogate;
        _taskCode = surrogate.TaskCode(openmlTaskId);
        _metricIndex = metric switch
        {
            "val_accuracy" or "val_balanced_accuracy" or "val_cross_entropy" => YahpoLcbenchSurrogate.OutputNames.ToList().IndexOf(metric),
            _ => throw new ArgumentException($"benchmark 'yahpo-lcbench': unknown metric '{metric}' (known: val_accuracy, val_balanced_accuracy, val_cross_entropy)"),
        };
        TaskId = openmlTaskId;
        Metric = metric;
        Direction = metric == "val_cross_entropy" ? Direction.Minimize : Direction.Maximize;
        Name = "yahpo-lcbench:" + openmlTaskId;
        _referenceConfigurations = referenceConfigurations;
        _best = new Lazy<double>(ComputeBest);
    }

    /// <summary>The OpenML task id.</summary>
    public string TaskId { get; }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public string Metric { get; }

    /// <inheritdoc />
    public Direction Direction { get; }

    /// <inheritdoc />
    public int MaxEpoch => Epochs;

    /// <summary>LCBench's space as YAHPO's config space gives it.</summary>
    public IReadOnlyList<KeyValuePair<string, Distribution>> Space { get; } =
    [
        new("batch_size", new IntDistribution(16, 512, Log: true)),
        new("learning_rate", new FloatDistribution(1e-4, 1e-1, Log: true)),
        new("momentum", new FloatDistribution(0.1, 0.99)),
        new("weight_decay", new FloatDistribution(1e-5, 1e-1)),
        new("num_layers", new IntDistribution(1, 5)),
        new("max_units", new IntDistribution(64, 1024, Log: true)),
        new("max_dropout", new FloatDistribution(0.0, 1.0)),
    ];

    /// <summary>The best value of the metric over the reference configurations at any epoch 1..50 (computed once, on first use).</summary>
    public double BestValue => _best.Value;

    /// <inheritdoc />
    public LearningCurve Curve(IReadOnlyDictionary<string, object?> parameters)
    {
        var config = new double[Space.Count];
        for (var j = 0; j < Space.Count; j++)
            config[j] = parameters.TryGetValue(Space[j].Key, out var v) ? ParamValues.ToDouble(v)
                : throw new ArgumentException($"benchmark '{Name}': no value for parameter '{Space[j].Key}'");
        return Curves([config])[0];
    }

    /// <summary>
    /// The surrogate's curve of <paramref name="parameters"/>: its configurations are continuous, there are no rows to
    /// start twice, so <paramref name="started"/> is left as it is.
    /// </summary>
    public LearningCurve NewTrialCurve(IReadOnlyDictionary<string, object?> parameters, StartedConfigurations started) => Curve(parameters);

    /// <summary>The curves of several configurations (values in <see cref="Space"/> order) in one surrogate call.</summary>
    public LearningCurve[] Curves(IReadOnlyList<double[]> configurations)
    {
        const int rowsPerConfig = Epochs + 1; // YAHPO epochs 1..51
        var width = YahpoLcbenchSurrogate.InputNames.Count;
        var inputs = new float[configurations.Count * rowsPerConfig * width];
        for (var c = 0; c < configurations.Count; c++)
            for (var k = 0; k < rowsPerConfig; k++)
            {
                var row = (c * rowsPerConfig + k) * width;
                inputs[row] = k + 1;
                for (var j = 0; j < configurations[c].Length; j++) inputs[row + 1 + j] = (float)configurations[c][j];
            }
        var outputs = _surrogate.Predict(_taskCode, inputs);
        var outWidth = YahpoLcbenchSurrogate.OutputNames.Count;
        var curves = new LearningCurve[configurations.Count];
        for (var c = 0; c < configurations.Count; c++)
        {
            var values = new double[Epochs];
            var seconds = new double[Epochs];
            var start = c * rowsPerConfig * outWidth;
            double previous = outputs[start];
            for (var e = 1; e <= Epochs; e++)
            {
                var row = start + e * outWidth;
                var cumulative = Math.Max(previous, outputs[row]);
                seconds[e - 1] = Math.Max(cumulative - previous, 1e-3);
                previous = cumulative;
                values[e - 1] = outputs[row + _metricIndex];
            }
            curves[c] = new LearningCurve(-1, values, seconds);
        }
        return curves;
    }

    private double ComputeBest()
    {
        var best = double.NaN;
        for (var from = 0; from < _referenceConfigurations.Count; from += 200)
            foreach (var curve in Curves(_referenceConfigurations.Skip(from).Take(200).ToArray()))
                foreach (var v in curve.Values)
                    if (double.IsNaN(best) || Direction.IsBetter(v, best)) best = v;
        return best;
    }
}
