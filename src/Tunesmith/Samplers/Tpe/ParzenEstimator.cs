using System.Runtime.CompilerServices;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Tunesmith.Samplers.Tpe;

/// <summary>
/// A weighted mixture of product kernels over encoded parameters: one kernel per observation plus a broad prior
/// kernel. Numbers get normal kernels truncated to [0, 1] (a discrete value's probability is its cell's mass);
/// categoricals get a kernel that keeps most of its mass on the observed choice and spreads the prior weight evenly.
/// Kernel parameters are stored dimension by dimension so that scoring many candidates is a vectorized sweep.
/// </summary>
internal sealed class ParzenEstimator
{
    private readonly ParamEncoding[] _dims;
    private readonly int _kernels;
    private readonly int _observations;
    private readonly double[] _cumulativeWeight;
    private readonly double[] _constant;       // log weight + normalization terms that do not depend on the point
    private readonly double[] _logWeight;
    private readonly double[][] _mu;
    private readonly double[][] _sigma;
    private readonly double[][] _invSigma;
    private readonly double[][] _logNorm;      // log Z of the truncation to [0, 1]
    private readonly double[][] _logSigma;
    private readonly double[][][] _logChoice;  // [dim][choice][kernel]

    /// <param name="dims">The encoded parameters (the columns of <paramref name="values"/>).</param>
    /// <param name="values">Observations, row-major: n rows of <c>dims.Length</c> encoded values.</param>
    /// <param name="weights">One positive weight per observation.</param>
    /// <param name="options">Prior weight and bandwidth rules.</param>
    /// <param name="joint">Joint kernels (one shared bandwidth per dimension) rather than the univariate neighbour rule.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ParzenEstimator(ParamEncoding[] dims, ReadOnlySpan<double> values, ReadOnlySpan<double> weights, TpeOptions options, bool joint)
    {
        _dims = dims;
        CategoricalCount = dims.Count(x => x.Kind == EncodedKind.Categorical);
        var d = dims.Length;
        var n = weights.Length;
        var prior = options.PriorWeight > 0 || n == 0;
        var priorWeight = options.PriorWeight > 0 ? options.PriorWeight : 1.0;
        _kernels = n + (prior ? 1 : 0);
        _observations = n;

        var logWeight = new double[_kernels];
        var total = 0.0;
        for (var k = 0; k < n; k++) total += weights[k];
        if (prior) total += priorWeight;
        _cumulativeWeight = new double[_kernels];
        var running = 0.0;
        for (var k = 0; k < _kernels; k++)
        {
            var w = k < n ? weights[k] : priorWeight;
            running += w / total;
            _cumulativeWeight[k] = running;
            logWeight[k] = Math.Log(w / total);
        }
        _logWeight = (double[])logWeight.Clone();
        _constant = logWeight;
        _mu = new double[d][];
        _sigma = new double[d][];
        _invSigma = new double[d][];
        _logNorm = new double[d][];
        _logSigma = new double[d][];
        _logChoice = new double[d][][];

        var minSigma = options.ConsiderMagicClip ? 1.0 / Math.Min(100.0, 1.0 + _kernels) : 1e-12;
        var column = new double[n];
        for (var j = 0; j < d; j++)
        {
            for (var k = 0; k < n; k++) column[k] = values[k * d + j];
            if (dims[j].Kind == EncodedKind.Categorical)
            {
                _logChoice[j] = CategoricalKernels(column, dims[j].Cells, options.PriorWeight, options.CategoricalSpread, prior);
                continue;
            }
            var mu = new double[_kernels];
            var sigma = new double[_kernels];
            column.CopyTo(mu, 0);
            if (joint && options.ScottBandwidth)
            {
                var s = options.BandwidthFactor * Math.Pow(Math.Max(n, 1), -1.0 / (d + 4));
                Array.Fill(sigma, Math.Clamp(s, minSigma, 1.0), 0, n);
            }
            else
            {
                NeighbourBandwidths(column, sigma, options.ConsiderEndpoints);
                for (var k = 0; k < n; k++) sigma[k] = Math.Clamp(sigma[k] * options.BandwidthScale, minSigma, 1.0);
            }
            if (dims[j].Kind == EncodedKind.Discrete && options.DiscreteMinBandwidth > 0)
            {
                // A kernel narrower than a fraction of a cell puts all its mass on one value and can never move off it.
                var floor = options.DiscreteMinBandwidth * dims[j].CellWidth;
                for (var k = 0; k < n; k++) sigma[k] = Math.Max(sigma[k], floor);
            }
            if (prior)
            {
                mu[n] = 0.5;
                sigma[n] = 1.0;
            }
            var inv = new double[_kernels];
            var logNorm = new double[_kernels];
            var logSigma = new double[_kernels];
            var continuous = dims[j].Kind == EncodedKind.Continuous;
            for (var k = 0; k < _kernels; k++)
            {
                inv[k] = 1.0 / sigma[k];
                var below = -mu[k] * inv[k];
                var above = (1.0 - mu[k]) * inv[k];
                // Kernels far from both edges lose nothing to the truncation: skip the error functions for them.
                logNorm[k] = below < -8.5 && above > 8.5 ? 0.0 : NormalMath.LogMass(below, above);
                logSigma[k] = Math.Log(sigma[k]);
                _constant[k] -= logNorm[k];
                if (continuous) _constant[k] -= (options.UnnormalizedKernels ? 0 : logSigma[k]) + NormalMath.LogSqrt2Pi;
            }
            _mu[j] = mu;
            _sigma[j] = sigma;
            _invSigma[j] = inv;
            _logNorm[j] = logNorm;
            _logSigma[j] = logSigma;
        }
    }

    // Optuna-style neighbour rule: each kernel is as wide as the larger gap to its sorted neighbours (the box edges
    // count as neighbours), so isolated observations get broad kernels and clusters narrow ones.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NeighbourBandwidths(double[] column, double[] sigma, bool considerEndpoints)
    {
        var n = column.Length;
        if (n == 0) return;
        var sorted = (double[])column.Clone();
        var order = new int[n];
        for (var i = 0; i < n; i++) order[i] = i;
        Array.Sort(sorted, order);
        for (var i = 0; i < n; i++)
        {
            var left = i == 0 ? 0.0 : sorted[i - 1];
            var right = i == n - 1 ? 1.0 : sorted[i + 1];
            var s = Math.Max(sorted[i] - left, right - sorted[i]);
            if (!considerEndpoints && n >= 2)
            {
                if (i == 0) s = sorted[1] - sorted[0];
                else if (i == n - 1) s = sorted[n - 1] - sorted[n - 2];
            }
            sigma[order[i]] = s;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double[][] CategoricalKernels(double[] column, int choices, double priorWeight, double minSpread, bool prior)
    {
        var n = column.Length;
        var kernels = n + (prior ? 1 : 0);
        var spread = Math.Max(priorWeight > 0 ? priorWeight / kernels : 1e-6, minSpread);
        var byChoice = new double[choices][];
        var observedLog = Math.Log((1.0 + spread) / (1.0 + choices * spread));
        var otherLog = Math.Log(spread / (1.0 + choices * spread));
        var uniformLog = -Math.Log(choices);
        for (var c = 0; c < choices; c++)
        {
            var row = new double[kernels];
            for (var k = 0; k < n; k++) row[k] = (int)column[k] == c ? observedLog : otherLog;
            if (prior) row[n] = uniformLog;
            byChoice[c] = row;
        }
        return byChoice;
    }

    /// <summary>
    /// Draws <paramref name="count"/> points (row-major, encoded) from the mixture. With <paramref name="keepRate"/> &gt; 0,
    /// each numeric coordinate of a point drawn around an observation keeps that observation's value with that chance
    /// (one coordinate, chosen at random, always moves); points drawn from the prior move in every coordinate.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public double[] Sample(Random random, int count, int recombined = 0, double keepRate = 0)
    {
        var d = _dims.Length;
        var points = new double[count * d];
        for (var i = 0; i < count; i++)
        {
            var k = NextKernel(random);
            var partial = keepRate > 0 && k < _observations && d > 1;
            var moves = partial ? random.Next(d) : -1;
            for (var j = 0; j < d; j++)
            {
                if (partial && j != moves && k < _observations && _dims[j].Kind != EncodedKind.Categorical && random.NextDouble() < keepRate)
                {
                    points[i * d + j] = _dims[j].Canonical(_mu[j][k]);
                    continue;
                }
                // The last `recombined` candidates take each dimension from its own kernel: a crossover of good
                // trials, which lets a joint model try combinations it has not seen together.
                if (i >= count - recombined && j > 0) k = NextKernel(random);
                double u;
                if (_dims[j].Kind == EncodedKind.Categorical)
                {
                    var r = random.NextDouble();
                    var choices = _logChoice[j];
                    u = choices.Length - 1;
                    for (var c = 0; c < choices.Length; c++)
                    {
                        r -= Math.Exp(choices[c][k]);
                        if (r < 0) { u = c; break; }
                    }
                }
                else
                {
                    u = TruncatedNormal(random, _mu[j][k], _sigma[j][k]);
                }
                points[i * d + j] = _dims[j].Canonical(u);
            }
        }
        return points;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int NextKernel(Random random)
    {
        var k = Array.BinarySearch(_cumulativeWeight, random.NextDouble());
        k = k < 0 ? ~k : k;
        return k >= _kernels ? _kernels - 1 : k;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double TruncatedNormal(Random random, double mu, double sigma)
    {
        // mu lies in [0, 1] and sigma ≤ 1, so at least a third of the draws land inside: rejection is cheap and exact.
        for (var attempt = 0; attempt < 64; attempt++)
        {
            var x = mu + sigma * NormalMath.NextGaussian(random);
            if (x >= 0 && x <= 1) return x;
        }
        return Math.Clamp(mu, 0, 1);
    }

    /// <summary>The log density (log probability for discrete parts) of each point (row-major, encoded).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void LogPdf(ReadOnlySpan<double> points, Span<double> result)
    {
        var d = _dims.Length;
        var count = result.Length;
        var acc = new double[_kernels];
        for (var i = 0; i < count; i++)
        {
            _constant.CopyTo(acc, 0);
            for (var j = 0; j < d; j++)
            {
                var x = points[i * d + j];
                switch (_dims[j].Kind)
                {
                    case EncodedKind.Continuous:
                        AddGaussian(acc, x, _mu[j], _invSigma[j]);
                        break;
                    case EncodedKind.Discrete:
                    {
                        AddCellMass(acc, x, 0.5 * _dims[j].CellWidth, _mu[j], _invSigma[j], _logSigma[j]);
                        break;
                    }
                    default:
                        AddInPlace(acc, _logChoice[j][(int)x]);
                        break;
                }
            }
            result[i] = LogSumExp(acc);
        }
    }

    /// <summary>How many encoded parameters are categorical.</summary>
    public int CategoricalCount { get; }

    /// <summary>
    /// The log probability of each point's categorical values alone (the mixture with its numeric parameters marginalized
    /// out; 0 when there are none): the same kernels and weights, so choices that good trials took together stay together.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void LogPmfCategorical(ReadOnlySpan<double> points, Span<double> result)
    {
        var d = _dims.Length;
        var acc = new double[_kernels];
        for (var i = 0; i < result.Length; i++)
        {
            _logWeight.CopyTo(acc, 0);
            var any = false;
            for (var j = 0; j < d; j++)
            {
                if (_dims[j].Kind != EncodedKind.Categorical) continue;
                AddInPlace(acc, _logChoice[j][(int)points[i * d + j]]);
                any = true;
            }
            result[i] = any ? LogSumExp(acc) : 0.0;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddGaussian(double[] acc, double x, double[] mu, double[] invSigma)
    {
        var n = acc.Length;
        var k = 0;
        if (Vector.IsHardwareAccelerated && n >= Vector<double>.Count)
        {
            var accV = MemoryMarshal.Cast<double, Vector<double>>(acc.AsSpan());
            var muV = MemoryMarshal.Cast<double, Vector<double>>(mu.AsSpan());
            var invV = MemoryMarshal.Cast<double, Vector<double>>(invSigma.AsSpan());
            var xv = new Vector<double>(x);
            var half = new Vector<double>(0.5);
            for (var v = 0; v < accV.Length; v++)
            {
                var z = (xv - muV[v]) * invV[v];
                accV[v] -= half * z * z;
            }
            k = accV.Length * Vector<double>.Count;
        }
        for (; k < n; k++)
        {
            var z = (x - mu[k]) * invSigma[k];
            acc[k] -= 0.5 * z * z;
        }
    }

    // A value's probability under each kernel: the normal mass of its cell. The exact mass needs two error functions;
    // where the cell is narrow against the kernel, or the kernel is far away (its share of the mixture is negligible),
    // the midpoint rule is as good and far cheaper.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddCellMass(double[] acc, double x, double half, double[] mu, double[] invSigma, double[] logSigma)
    {
        var logWidth = Math.Log(2 * half) - NormalMath.LogSqrt2Pi;
        for (var k = 0; k < acc.Length; k++)
        {
            var inv = invSigma[k];
            var z = (x - mu[k]) * inv;
            var h = half * inv;
            if (h < 0.05 || Math.Abs(z) > 9 + h)
                acc[k] += logWidth - logSigma[k] - 0.5 * z * z;
            else
                acc[k] += NormalMath.LogMass(z - h, z + h);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddInPlace(double[] acc, double[] add)
    {
        var n = acc.Length;
        var k = 0;
        if (Vector.IsHardwareAccelerated && n >= Vector<double>.Count)
        {
            var accV = MemoryMarshal.Cast<double, Vector<double>>(acc.AsSpan());
            var addV = MemoryMarshal.Cast<double, Vector<double>>(add.AsSpan());
            for (var v = 0; v < accV.Length; v++) accV[v] += addV[v];
            k = accV.Length * Vector<double>.Count;
        }
        for (; k < n; k++) acc[k] += add[k];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double LogSumExp(double[] values)
    {
        var max = double.NegativeInfinity;
        foreach (var v in values) if (v > max) max = v;
        if (double.IsNegativeInfinity(max)) return max;
        var n = values.Length;
        var k = 0;
        var sum = 0.0;
        if (Vector.IsHardwareAccelerated && n >= Vector<double>.Count)
        {
            var vs = MemoryMarshal.Cast<double, Vector<double>>(values.AsSpan());
            var maxV = new Vector<double>(max);
            // Terms below e^-700 add nothing; clamping keeps every lane on Exp's fast path.
            var floor = new Vector<double>(-700.0);
            var sumV = Vector<double>.Zero;
            foreach (var v in vs) sumV += Vector.Exp(Vector.Max(v - maxV, floor));
            sum = Vector.Sum(sumV);
            k = vs.Length * Vector<double>.Count;
        }
        for (; k < n; k++) sum += Math.Exp(values[k] - max);
        return max + Math.Log(sum);
    }
}
