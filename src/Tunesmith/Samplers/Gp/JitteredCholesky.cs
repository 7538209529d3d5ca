using MathNet.Numerics.LinearAlgebra;
using SimdVector = System.Numerics.Vector;
using Lane = System.Numerics.Vector<double>;

namespace Tunesmith.Samplers.Gp;

/// <summary>
/// A Cholesky factor of a covariance matrix that may be singular in floating point (duplicate points, tiny noise):
/// on failure, jitter grows tenfold on the diagonal until the factorization succeeds.
/// </summary>
internal sealed class JitteredCholesky
{
    private JitteredCholesky(Matrix<double> factor, double jitter)
    {
        Order = factor.RowCount;
        Factor = factor.AsColumnMajorArray() ?? factor.ToColumnMajorArray();
        Jitter = jitter;
    }

    /// <summary>The matrix order.</summary>
    public int Order { get; }

    /// <summary>The lower factor L (K + jitter·I = L·Lᵀ), column-major.</summary>
    public double[] Factor { get; }

    /// <summary>The jitter that was added to the diagonal (0 when none was needed).</summary>
    public double Jitter { get; }

    /// <summary>Factors a symmetric column-major matrix; throws <see cref="InvalidOperationException"/> when even large jitter fails.</summary>
    public static JitteredCholesky Create(double[] matrix, int n)
    {
        var meanDiagonal = 0.0;
        for (var i = 0; i < n; i++) meanDiagonal += matrix[i * n + i];
        meanDiagonal = n == 0 ? 1 : Math.Max(meanDiagonal / n, 1e-300);
        var jitter = 0.0;
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var m = Matrix<double>.Build.Dense(n, n, (double[])matrix.Clone());
            if (jitter > 0)
                for (var i = 0; i < n; i++) m[i, i] += jitter;
            try
            {
                var factor = m.Cholesky().Factor;
                var ok = true;
                for (var i = 0; i < n && ok; i++) ok = double.IsFinite(factor[i, i]) && factor[i, i] > 0;
                if (ok) return new JitteredCholesky(factor, jitter);
            }
            catch (ArgumentException)
            {
                // not positive definite in floating point: retry with more jitter
            }
            jitter = jitter == 0 ? 1e-10 * meanDiagonal : jitter * 10;
        }
        throw new InvalidOperationException($"covariance matrix of order {n} is not positive definite even with jitter {jitter:g3}");
    }

    /// <summary>Solves L·v = b in place (forward substitution).</summary>
    public void SolveLower(Span<double> b)
    {
        var n = Order;
        var l = Factor;
        for (var j = 0; j < n; j++)
        {
            var vj = b[j] / l[j * n + j];
            b[j] = vj;
            if (vj != 0) Axpy(b[(j + 1)..n], -vj, new ReadOnlySpan<double>(l, j * n + j + 1, n - j - 1));
        }
    }

    /// <summary>Solves Lᵀ·w = b in place (back substitution).</summary>
    public void SolveUpper(Span<double> b)
    {
        var n = Order;
        var l = Factor;
        for (var j = n - 1; j >= 0; j--)
        {
            var s = Dot(new ReadOnlySpan<double>(l, j * n + j + 1, n - j - 1), b[(j + 1)..n]);
            b[j] = (b[j] - s) / l[j * n + j];
        }
    }

    /// <summary>Solves (L·Lᵀ)·x = b in place.</summary>
    public void Solve(Span<double> b)
    {
        SolveLower(b);
        SolveUpper(b);
    }

    /// <summary>log det(L·Lᵀ).</summary>
    public double LogDeterminant()
    {
        var s = 0.0;
        for (var i = 0; i < Order; i++) s += Math.Log(Factor[i * Order + i]);
        return 2 * s;
    }

    /// <summary>The inverse (L·Lᵀ)⁻¹ = L⁻ᵀ·L⁻¹, column-major (symmetric); about n³/3 multiply-adds.</summary>
    public double[] Inverse()
    {
        var n = Order;
        // Column c of L⁻¹ solves L·x = e_c and is zero above row c.
        var inverseFactor = new double[n * n];
        for (var c = 0; c < n; c++)
        {
            var column = inverseFactor.AsSpan(c * n, n);
            column[c] = 1;
            var l = Factor;
            for (var j = c; j < n; j++)
            {
                var vj = column[j] / l[j * n + j];
                column[j] = vj;
                if (vj != 0) Axpy(column[(j + 1)..n], -vj, new ReadOnlySpan<double>(l, j * n + j + 1, n - j - 1));
            }
        }
        // (L⁻ᵀL⁻¹)[a, b] is the dot product of columns a and b of L⁻¹, both zero above row max(a, b).
        var inverse = new double[n * n];
        for (var a = 0; a < n; a++)
        {
            var columnA = new ReadOnlySpan<double>(inverseFactor, a * n, n);
            for (var b = a; b < n; b++)
            {
                var v = Dot(columnA[b..], new ReadOnlySpan<double>(inverseFactor, b * n + b, n - b));
                inverse[a * n + b] = v;
                inverse[b * n + a] = v;
            }
        }
        return inverse;
    }

    /// <summary>y += a·x.</summary>
    public static void Axpy(Span<double> y, double a, ReadOnlySpan<double> x)
    {
        var i = 0;
        if (SimdVector.IsHardwareAccelerated && x.Length >= Lane.Count)
        {
            var va = new Lane(a);
            for (; i <= x.Length - Lane.Count; i += Lane.Count)
            {
                var vy = new Lane(y[i..]);
                (vy + va * new Lane(x[i..])).CopyTo(y[i..]);
            }
        }
        for (; i < x.Length; i++) y[i] += a * x[i];
    }

    /// <summary>x·y.</summary>
    public static double Dot(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        var i = 0;
        var s = 0.0;
        if (SimdVector.IsHardwareAccelerated && x.Length >= Lane.Count)
        {
            var acc = Lane.Zero;
            for (; i <= x.Length - Lane.Count; i += Lane.Count)
                acc += new Lane(x[i..]) * new Lane(y[i..]);
            s = SimdVector.Sum(acc);
        }
        for (; i < x.Length; i++) s += x[i] * y[i];
        return s;
    }
}
