namespace Tunesmith.Simulation.Benchmarks;

/// <summary>
/// Finds the tabulated configuration nearest to a proposed point (Euclidean distance in the unit cube of the search
/// space, log parameters in log scale): a k-d tree over a flat array of coordinates, searched without allocation and
/// with partial distances cut short, so a lookup costs microseconds instead of a pass over every row.
/// Ties go to the lower row index, so lookups are deterministic. Rows can be left out of a lookup (those a simulated
/// run already started): the search skips them and prunes on the nearest admissible row, so it stays exact.
/// </summary>
internal sealed class NearestConfigIndex
{
    private readonly double[] _coordinates; // tree order: node i's coordinates at [i·d, i·d + d)
    private readonly int[] _rows;           // tree order: node i's row index
    private readonly int _dims;
    private readonly int _count;

    public NearestConfigIndex(double[][] points)
    {
        _count = points.Length;
        _dims = points.Length == 0 ? 0 : points[0].Length;
        var order = Enumerable.Range(0, points.Length).ToArray();
        Build(points, order, 0, points.Length, 0);
        _rows = order;
        _coordinates = new double[_count * _dims];
        for (var i = 0; i < _count; i++) Array.Copy(points[order[i]], 0, _coordinates, i * _dims, _dims);
    }

    private void Build(double[][] points, int[] order, int from, int to, int depth)
    {
        if (to - from <= 1) return;
        var axis = depth % _dims;
        Array.Sort(order, from, to - from, Comparer<int>.Create((a, b) =>
        {
            var c = points[a][axis].CompareTo(points[b][axis]);
            return c != 0 ? c : a.CompareTo(b);
        }));
        var mid = (from + to) / 2;
        Build(points, order, from, mid, depth + 1);
        Build(points, order, mid + 1, to, depth + 1);
    }

    /// <summary>The row index of the nearest point to <paramref name="query"/>.</summary>
    public int Nearest(ReadOnlySpan<double> query) => Nearest(query, null);

    /// <summary>
    /// The row index of the nearest point to <paramref name="query"/> among the rows not marked in
    /// <paramref name="excluded"/> (indexed by row; null excludes none); -1 when every row is excluded.
    /// </summary>
    public int Nearest(ReadOnlySpan<double> query, bool[]? excluded)
    {
        var best = -1;
        var bestDistance = double.PositiveInfinity;
        Search(query, excluded, 0, _count, 0, ref best, ref bestDistance);
        return best;
    }

    private void Search(ReadOnlySpan<double> query, bool[]? excluded, int from, int to, int depth, ref int best, ref double bestDistance)
    {
        while (from < to)
        {
            var mid = (from + to) >> 1;
            var row = _rows[mid];
            var point = _coordinates.AsSpan(mid * _dims, _dims);
            if (excluded is null || !excluded[row])
            {
                var distance = 0.0;
                for (var j = 0; j < point.Length && distance <= bestDistance; j++)
                {
                    var d = point[j] - query[j];
                    distance += d * d;
                }
                if (distance < bestDistance || (distance == bestDistance && row < best))
                {
                    best = row;
                    bestDistance = distance;
                }
            }
            if (to - from == 1) return;
            var axis = depth % _dims;
            var delta = query[axis] - point[axis];
            depth++;
            if (delta < 0)
            {
                Search(query, excluded, from, mid, depth, ref best, ref bestDistance);
                if (delta * delta > bestDistance) return;
                from = mid + 1; // then the far side, as a loop
            }
            else
            {
                Search(query, excluded, mid + 1, to, depth, ref best, ref bestDistance);
                if (delta * delta > bestDistance) return;
                to = mid;
            }
        }
    }
}
