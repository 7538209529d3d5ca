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
}
