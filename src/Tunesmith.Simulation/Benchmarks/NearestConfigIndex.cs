namespace Tunesmith.Simulation.Benchmarks;

/// <summary>
/// Finds the tabulated configuration nearest to a proposed point (Euclidean distance in the unit cube of the search
/// space, log parameters in log scale): a k-d tree, so a lookup costs about a microsecond instead of a pass over every row.
/// Ties go to the lower row index, so lookups are deterministic.
/// </summary>
internal sealed class NearestConfigIndex
{
    private readonly double[][] _points;
    private readonly int[] _order; // tree layout: node i's point is _points[_order[i]] over a median split
    private readonly int _dims;

    public NearestConfigIndex(double[][] points)
    {
        _points = points;
        _dims = points.Length == 0 ? 0 : points[0].Length;
        _order = Enumerable.Range(0, points.Length).ToArray();
        Build(0, points.Length, 0);
    }

    private void Build(int from, int to, int depth)
    {
        if (to - from <= 1) return;
        var axis = depth % _dims;
        Array.Sort(_order, from, to - from, Comparer<int>.Create((a, b) =>
        {
            var c = _points[a][axis].CompareTo(_points[b][axis]);
            return c != 0 ? c : a.CompareTo(b);
        }));
        var mid = (from + to) / 2;
        Build(from, mid, depth + 1);
        Build(mid + 1, to, depth + 1);
    }

    /// <summary>The row index of the nearest point to <paramref name="query"/>.</summary>
    public int Nearest(ReadOnlySpan<double> query)
    {
        var best = -1;
        var bestDistance = double.PositiveInfinity;
        Search(query, 0, _order.Length, 0, ref best, ref bestDistance);
        return best;
    }

    private void Search(ReadOnlySpan<double> query, int from, int to, int depth, ref int best, ref double bestDistance)
    {
        if (from >= to) return;
        var mid = (from + to) / 2;
        var index = _order[mid];
        var point = _points[index];
        var distance = 0.0;
        for (var j = 0; j < _dims; j++)
        {
            var d = point[j] - query[j];
            distance += d * d;
        }
        if (distance < bestDistance || (distance == bestDistance && index < best))
        {
            best = index;
            bestDistance = distance;
        }
        if (to - from == 1) return;
        var axis = depth % _dims;
        var delta = query[axis] - point[axis];
        var (near, far) = delta < 0 ? ((from, mid), (mid + 1, to)) : ((mid + 1, to), (from, mid));
        Search(query, near.Item1, near.Item2, depth + 1, ref best, ref bestDistance);
        if (delta * delta <= bestDistance) Search(query, far.Item1, far.Item2, depth + 1, ref best, ref bestDistance);
    }
}
