using Tunesmith.Spaces;

namespace Tunesmith.Simulation.Benchmarks;

/// <summary>
/// A multi-fidelity benchmark the simulator replays: a search space, an objective metric with its direction, and for any
/// configuration in the space the learning curve that training it would produce (from a table or a surrogate model).
/// </summary>
public interface ILearningCurveBenchmark
{
    /// <summary>The benchmark's name as <c>tunesmith simulate --benchmark</c> takes it (e.g. <c>lcbench-blood</c>).</summary>
    string Name { get; }

    /// <summary>The objective metric (e.g. <c>val_accuracy</c>).</summary>
    string Metric { get; }

    /// <summary>Whether the metric is minimized or maximized.</summary>
    Direction Direction { get; }

    /// <summary>The largest epoch a curve reaches (the maximum resource of a scheduler).</summary>
    int MaxEpoch { get; }

    /// <summary>The search space samplers draw from, as named parameters in a fixed order.</summary>
    IReadOnlyList<KeyValuePair<string, Distribution>> Space { get; }

    /// <summary>
    /// The best value of <see cref="Metric"/> any configuration reaches at any epoch: exact for a table, over a fixed
    /// reference set of configurations for a surrogate. Default targets are set from it.
    /// </summary>
    double BestValue { get; }

    /// <summary>The learning curve of the configuration <paramref name="parameters"/> (values for every name in <see cref="Space"/>).</summary>
    LearningCurve Curve(IReadOnlyDictionary<string, object?> parameters);

    /// <summary>
    /// The learning curve a new trial of one simulated run replays, given what that run already started
    /// (<paramref name="started"/>, one per run, updated by the call). A table replays the nearest row the run has not
    /// started yet — a row's curve is the same every time, so a second run of it would tell the sampler nothing new, where
    /// a real nearby configuration would train differently — and only when every row was started the nearest row again.
    /// A surrogate has no rows (its configurations are continuous): it returns <see cref="Curve"/>.
    /// </summary>
    LearningCurve NewTrialCurve(IReadOnlyDictionary<string, object?> parameters, StartedConfigurations started);
}

/// <summary>
/// The tabulated configurations one simulated run has started (a benchmark's <see cref="ILearningCurveBenchmark.NewTrialCurve"/>
/// fills it). One per run: runs of different seeds do not share it.
/// </summary>
public sealed class StartedConfigurations
{
    private bool[]? _rows;

    /// <summary>Distinct table rows started.</summary>
    public int Count { get; private set; }

    /// <summary>New trials that had to replay a row already started (every row was started).</summary>
    public int Repeats { get; private set; }

    /// <summary>Whether row <paramref name="row"/> was started.</summary>
    public bool Contains(int row) => _rows is { } rows && row < rows.Length && rows[row];

    internal bool[] Rows(int count) => _rows ??= new bool[count];

    internal void Add(int row, int count)
    {
        var rows = Rows(count);
        if (rows[row]) Repeats++;
        else
        {
            rows[row] = true;
            Count++;
        }
    }
}
