using System.Numerics;

namespace Tunesmith.Samplers.Sobol;

/// <summary>
/// A scrambled Sobol sequence in base 2: Joe &amp; Kuo direction numbers, a random linear matrix scramble and a random
/// digital shift drawn from a seed. Any point is computed directly from its index, so workers that own different
/// indices (trial numbers) get distinct points of one sequence without sharing state.
/// Use it for quasi-random designs and for well-spread starting points of an optimizer.
/// </summary>
public sealed class SobolSequence
{
    private const int Digits = 64;      // output digits per coordinate (53 survive the conversion to double)
    private const int IndexBits = 63;   // point indices are non-negative longs

    private readonly ulong[][] _columns; // [dimension][bit of the index] → generator column, top digit in bit 63
    private readonly ulong[] _shift;

    /// <summary>The largest number of dimensions this table supports.</summary>
    public static int MaxDimensions => JoeKuoDirectionNumbers.Dimensions;

    /// <summary>Creates the sequence for <paramref name="dimensions"/> coordinates.</summary>
    /// <param name="dimensions">Number of coordinates, 1..<see cref="MaxDimensions"/>.</param>
    /// <param name="seed">Seed of the scramble; null draws a random one.</param>
    /// <param name="scramble">False gives the plain (unscrambled, unshifted) Sobol sequence.</param>
    public SobolSequence(int dimensions, int? seed = null, bool scramble = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimensions, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(dimensions, MaxDimensions);
        Dimensions = dimensions;
        var random = new Random(seed ?? Random.Shared.Next());
        _columns = new ulong[dimensions][];
        _shift = new ulong[dimensions];
        for (var d = 0; d < dimensions; d++)
        {
            var columns = DirectionNumbers(d);
            if (scramble)
            {
                var rows = RandomLowerTriangular(random);
                for (var j = 0; j < columns.Length; j++) columns[j] = Multiply(rows, columns[j]);
                _shift[d] = NextUInt64(random);
            }
            _columns[d] = columns;
        }
    }

    /// <summary>The number of coordinates.</summary>
    public int Dimensions { get; }

    /// <summary>Coordinate <paramref name="dimension"/> of point <paramref name="index"/>, in [0, 1).</summary>
    public double Coordinate(long index, int dimension)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        var columns = _columns[dimension];
        var x = _shift[dimension];
        var n = (ulong)index;
        for (var j = 0; n != 0; j++, n >>= 1)
            if ((n & 1) != 0) x ^= columns[j];
        return (x >> 11) * (1.0 / (1UL << 53));
    }

    /// <summary>Point <paramref name="index"/>: every coordinate, in [0, 1).</summary>
    public double[] Point(long index)
    {
        var point = new double[Dimensions];
        for (var d = 0; d < Dimensions; d++) point[d] = Coordinate(index, d);
        return point;
    }

    // v_j = m_j / 2^j as a 64-digit binary fraction; beyond the initial numbers, the recurrence of the primitive polynomial.
    private static ulong[] DirectionNumbers(int dimension)
    {
        var v = new ulong[IndexBits];
        if (dimension == 0)
        {
            for (var j = 0; j < IndexBits; j++) v[j] = 1UL << (Digits - 1 - j);
            return v;
        }
        var (degree, coefficients, initial) = JoeKuoDirectionNumbers.Rows[dimension - 1];
        for (var j = 0; j < IndexBits; j++)
        {
            if (j < degree)
            {
                v[j] = (ulong)initial[j] << (Digits - 1 - j);
                continue;
            }
            var next = v[j - degree] ^ (v[j - degree] >> degree);
            for (var k = 1; k < degree; k++)
                if (((coefficients >> (degree - 1 - k)) & 1) != 0) next ^= v[j - k];
            v[j] = next;
        }
        return v;
    }

    // Row p of a random lower-triangular matrix with unit diagonal, acting on digits ordered from the most significant:
    // output digit p depends on itself and on every more significant input digit.
    private static ulong[] RandomLowerTriangular(Random random)
    {
        var rows = new ulong[Digits];
        for (var p = 0; p < Digits; p++)
        {
            var moreSignificant = p == Digits - 1 ? 0UL : ~((1UL << (p + 1)) - 1);
            rows[p] = (1UL << p) | (NextUInt64(random) & moreSignificant);
        }
        return rows;
    }

    private static ulong Multiply(ulong[] rows, ulong column)
    {
        var result = 0UL;
        for (var p = 0; p < Digits; p++)
            result |= (ulong)(BitOperations.PopCount(rows[p] & column) & 1) << p;
        return result;
    }

    private static ulong NextUInt64(Random random)
    {
        Span<byte> bytes = stackalloc byte[8];
        random.NextBytes(bytes);
        return BitConverter.ToUInt64(bytes);
    }
}
