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
}
