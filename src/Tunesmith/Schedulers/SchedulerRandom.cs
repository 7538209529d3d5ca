namespace Tunesmith.Schedulers;

/// <summary>
/// Seeds the random choices of a scheduler (a Hyperband bracket, a PBT source) from its seed, a trial number and a step,
/// so that every worker that asks about the same trial at the same step gets the same answer.
/// </summary>
internal static class SchedulerRandom
{
    /// <summary>A random source for (<paramref name="seed"/>, <paramref name="trialNumber"/>, <paramref name="step"/>): a SplitMix64 mix.</summary>
    public static Random Create(int seed, int trialNumber, long step = 0, int stream = 0)
    {
        var z = (ulong)(uint)seed * 0x9E3779B97F4A7C15UL + (ulong)(uint)trialNumber * 0xBF58476D1CE4E5B9UL
            + (ulong)step * 0x94D049BB133111EBUL + (ulong)(uint)stream * 0xD6E8FEB86659FD93UL + 0x2545F4914F6CDD1DUL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return new Random((int)(z & 0x7FFFFFFF));
    }
}
