namespace Tunesmith.Simulation.Benchmarks;

/// <summary>
/// What training one configuration would report, epoch by epoch: the objective after each epoch and the seconds each
/// epoch took. A curve that ends in a NaN value diverged: the trial fails at that epoch.
/// </summary>
/// <param name="ConfigId">The benchmark's identifier of the configuration looked up (a table row, or −1 for a surrogate).</param>
/// <param name="Values">Objective after epoch 1, 2, …; index i is epoch i + 1.</param>
/// <param name="EpochSeconds">Seconds of epoch 1, 2, …; the same length as <paramref name="Values"/>, every entry positive.</param>
public sealed record LearningCurve(int ConfigId, double[] Values, double[] EpochSeconds)
{
    /// <summary>How many epochs the curve holds.</summary>
    public int Epochs => Values.Length;

    /// <summary>
    /// The configuration this curve was recorded for, in the benchmark space's names and types (integers as
    /// <see cref="long"/>, every value inside its distribution): a table row's own parameter values. Null for a surrogate,
    /// whose curve belongs to exactly the configuration asked for. The simulator records it as the trial's parameters,
    /// since it is what the replayed curve trained.
    /// </summary>
    public IReadOnlyDictionary<string, object?>? Configuration { get; init; }
}
