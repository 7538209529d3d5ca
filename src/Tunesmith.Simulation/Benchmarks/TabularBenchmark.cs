using Tunesmith.Spaces;

namespace Tunesmith.Simulation.Benchmarks;

/// <summary>
/// A benchmark whose configurations and learning curves are a table (LCBench, NAS-Bench-NLP). The search space spans
/// the table's configurations; a proposed point is replaced by the tabulated configuration nearest to it in the unit
/// cube of the space (log parameters in log scale), whose recorded curve and epoch times are then replayed. A new trial
/// of a simulated run takes the nearest row that run has not started yet (<see cref="NewTrialCurve"/>). Every curve
/// carries its row's configuration (<see cref="LearningCurve.Configuration"/>), so the simulator can record what was trained.
/// </summary>
public sealed class TabularBenchmark : ILearningCurveBenchmark
{
    private readonly double[][] _features;
    private readonly LearningCurve[] _curves;
    private readonly NearestConfigIndex _index;
    private readonly Distribution[] _distributions;
    private readonly string[] _names;

    /// <summary>Creates a benchmark from configurations (one feature vector in <paramref name="space"/>'s order each) and their curves.</summary>
    public TabularBenchmark(string name, string metric, Direction direction, IReadOnlyList<KeyValuePair<string, Distribution>> space,
        IReadOnlyList<double[]> configurations, IReadOnlyList<LearningCurve> curves)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (configurations.Count != curves.Count || configurations.Count == 0)
            throw new ArgumentException($"benchmark '{name}': {configurations.Count} configurations and {curves.Count} curves");
        Name = name;
        Metric = metric;
        Direction = direction;
        Space = space;
        _names = space.Select(p => p.Key).ToArray();
        _distributions = space.Select(p => p.Value).ToArray();
        _curves = curves.Select((curve, row) => curve with { Configuration = RowConfiguration(row, configurations[row]) }).ToArray();
        _features = configurations.Select(RowUnit).ToArray();
        _index = new NearestConfigIndex(_features);
        MaxEpoch = _curves.Max(c => c.Epochs);
        var best = double.NaN;
        foreach (var curve in _curves)
            foreach (var v in curve.Values)
                if (!double.IsNaN(v) && (double.IsNaN(best) || direction.IsBetter(v, best))) best = v;
        BestValue = best;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public string Metric { get; }

    /// <inheritdoc />
    public Direction Direction { get; }

    /// <inheritdoc />
    public int MaxEpoch { get; }

    /// <inheritdoc />
    public IReadOnlyList<KeyValuePair<string, Distribution>> Space { get; }

    /// <inheritdoc />
    public double BestValue { get; }

    /// <summary>How many configurations the table holds.</summary>
    public int Count => _curves.Length;

    /// <summary>The curve of table row <paramref name="configId"/>.</summary>
    public LearningCurve CurveOf(int configId) => _curves[configId];

    /// <inheritdoc />
    public LearningCurve Curve(IReadOnlyDictionary<string, object?> parameters)
    {
        Span<double> query = stackalloc double[_names.Length];
        Query(parameters, query);
        return _curves[_index.Nearest(query)];
    }

    /// <inheritdoc />
    public LearningCurve NewTrialCurve(IReadOnlyDictionary<string, object?> parameters, StartedConfigurations started)
    {
        ArgumentNullException.ThrowIfNull(started);
        Span<double> query = stackalloc double[_names.Length];
        Query(parameters, query);
        var row = NearestRow(query, started);
        started.Add(row, _curves.Length);
        return _curves[row];
    }

    private int NearestRow(ReadOnlySpan<double> query, StartedConfigurations started)
    {
        // Every row started: repeats are all that is left (checked first, so long runs do not search an all-excluded tree).
        if (started.Count >= _curves.Length) return _index.Nearest(query);
        var row = _index.Nearest(query, started.Rows(_curves.Length));
        return row >= 0 ? row : _index.Nearest(query);
    }

    // A row's values as parameter values of the space: integers as long, each checked to lie inside its distribution.
    private Dictionary<string, object?> RowConfiguration(int row, double[] values)
    {
        if (values.Length != _names.Length)
            throw new ArgumentException($"benchmark '{Name}': row {row} has {values.Length} values for {_names.Length} parameters");
        var configuration = new Dictionary<string, object?>(_names.Length, StringComparer.Ordinal);
        for (var j = 0; j < _names.Length; j++)
        {
            // A categorical parameter's row value is the index of its choice (a replayed study's categorical parameters).
            object? value = _distributions[j] is CategoricalDistribution c
                ? values[j] == Math.Round(values[j]) && values[j] >= 0 && values[j] < c.Choices.Count ? c.Choices[(int)values[j]] : values[j]
                : _distributions[j] is IntDistribution && values[j] == Math.Round(values[j]) && Math.Abs(values[j]) < long.MaxValue
                ? (object)(long)values[j] : values[j];
            if (!_distributions[j].Contains(value))
                throw new ArgumentException($"benchmark '{Name}': row {row} has {_names[j]} = {ParamValues.Format(value)}, outside {_distributions[j].Describe()}");
            configuration[_names[j]] = value;
        }
        return configuration;
    }

    private void Query(IReadOnlyDictionary<string, object?> parameters, Span<double> query)
    {
        for (var j = 0; j < _names.Length; j++)
        {
            if (!parameters.TryGetValue(_names[j], out var value))
                throw new ArgumentException($"benchmark '{Name}': no value for parameter '{_names[j]}'");
            query[j] = Unit(_distributions[j], value);
        }
    }

    // A row's feature vector in the unit cube; a categorical parameter's row value is already its choice's index.
    private double[] RowUnit(double[] values)
    {
        var unit = new double[values.Length];
        for (var j = 0; j < values.Length; j++)
            unit[j] = _distributions[j] is CategoricalDistribution c ? IndexUnit(c, values[j]) : Unit(_distributions[j], values[j]);
        return unit;
    }

    // A choice's index spread over [0, 1] (an ordinal embedding: choices next to each other in the list are nearest).
    private static double IndexUnit(CategoricalDistribution c, double index) => c.Choices.Count == 1 ? 0.5 : index / (c.Choices.Count - 1);

    private static double Unit(Distribution distribution, object? value)
    {
        if (distribution is CategoricalDistribution c)
            return c.IndexOf(value) is >= 0 and var i ? IndexUnit(c, i) : throw new ArgumentException($"{ParamValues.Format(value)} is not one of {c.Describe()}");
        var x = ParamValues.ToDouble(value);
        return distribution switch
        {
            FloatDistribution f => f.ToUnit(Math.Clamp(x, f.Low, f.High)),
            IntDistribution i => i.ToUnit(Math.Clamp(x, i.Low, i.High)),
            _ => throw new ArgumentException($"tabular benchmarks take numeric or categorical parameters, not {distribution.Describe()}"),
        };
    }
}
