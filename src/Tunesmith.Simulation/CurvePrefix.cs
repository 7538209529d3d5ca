using System.Diagnostics.CodeAnalysis;

namespace Tunesmith.Simulation;

/// <summary>
/// A trial's intermediate values in the simulator: epochs 1..<see cref="Count"/> of its curve, as a read-only view of
/// the curve's array, so reporting an epoch costs no copy of the values reported before.
/// </summary>
internal sealed class CurvePrefix(double[] values, int count) : IReadOnlyDictionary<long, double>
{
    public double this[long key] => TryGetValue(key, out var v) ? v : throw new KeyNotFoundException($"no value at step {key}");

    private static readonly long[] Steps = Enumerable.Range(1, 4096).Select(e => (long)e).ToArray();

    public IEnumerable<long> Keys => count <= Steps.Length ? new ArraySegment<long>(Steps, 0, count) : Enumerable.Range(1, count).Select(e => (long)e);

    public IEnumerable<double> Values => new ArraySegment<double>(values, 0, count);

    public int Count => count;

    public bool ContainsKey(long key) => key >= 1 && key <= count;

    public bool TryGetValue(long key, [MaybeNullWhen(false)] out double value)
    {
        if (key >= 1 && key <= count)
        {
            value = values[key - 1];
            return true;
        }
        value = 0;
        return false;
    }

    public IEnumerator<KeyValuePair<long, double>> GetEnumerator()
    {
        for (var e = 1; e <= count; e++) yield return new(e, values[e - 1]);
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
