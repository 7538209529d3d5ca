using MathNet.Numerics.Distributions;
using MathNet.Numerics.LinearAlgebra;

namespace Tunesmith.Samplers.CmaEs;

/// <summary>
/// The cell of the unit interval that a discrete coordinate's current value occupies: every position inside it maps to
/// the same integer (or step value). Used by the margin correction.
/// </summary>
internal delegate (double Low, double High) DiscreteCell(double unitPosition);

/// <summary>
/// One run of CMA-ES in the unit cube (equations of Hansen's tutorial, "The CMA Evolution Strategy", 2016): the mean,
/// step size, covariance and evolution paths, updated from one complete generation at a time, with the active
/// (negative-weight) covariance update. Minimizes.
/// Off-distribution solutions (injected trials, or trials drawn from an older generation by a parallel worker) are
/// accepted with their steps clipped in Mahalanobis length, as Hansen's note on injecting solutions prescribes.
/// Discrete coordinates get the mean correction of CMA-ES with margin (Hamano et al., GECCO 2022) so that each keeps a
/// probability of at least α of leaving its current integer.
/// </summary>
internal sealed class CmaEsStrategy
{
    private readonly int _n;
    private readonly double[] _weights;
    private readonly int _mu;
    private readonly double _muEff, _cSigma, _dSigma, _cc, _c1, _cMu, _chiN;
    private readonly DiscreteCell?[] _cells;
    private readonly double _marginQuantile;
    private readonly double _tolX, _tolFun;
    private readonly List<double> _bestPerGeneration = [];
    private Matrix<double> _c, _b, _invSqrtC;
    private Vector<double> _d, _pSigma, _pc;

    public CmaEsStrategy(double[] mean, double sigma, int lambda, DiscreteCell?[] cells, double tolX, double tolFun)
    {
        _n = mean.Length;
        Lambda = lambda;
        Mean = (double[])mean.Clone();
        Sigma = sigma;
        _cells = cells;
        _tolX = tolX;
        _tolFun = tolFun;

        // Weights of Hansen's 2016 tutorial: positive for the better half (recombination), negative for the worse half
        // (active covariance update, which shrinks variance along directions that produced bad solutions).
        var mu = lambda / 2;
        var raw = Enumerable.Range(1, lambda).Select(i => Math.Log((lambda + 1) / 2.0) - Math.Log(i)).ToArray();
        var positive = raw.Take(mu).ToArray();
        var negative = raw.Skip(mu).ToArray();
        _muEff = Math.Pow(positive.Sum(), 2) / positive.Sum(w => w * w);
        var muEffMinus = negative.Length == 0 || negative.Sum() == 0 ? 0 : Math.Pow(negative.Sum(), 2) / negative.Sum(w => w * w);

        double n = _n;
        _cSigma = (_muEff + 2) / (n + _muEff + 5);
        _dSigma = 1 + 2 * Math.Max(0, Math.Sqrt((_muEff - 1) / (n + 1)) - 1) + _cSigma;
        _cc = (4 + _muEff / n) / (n + 4 + 2 * _muEff / n);
        _c1 = 2 / ((n + 1.3) * (n + 1.3) + _muEff);
        _cMu = Math.Min(1 - _c1, 2 * (_muEff - 2 + 1 / _muEff) / ((n + 2) * (n + 2) + _muEff));

        var positiveSum = positive.Sum();
        var negativeSum = -negative.Where(w => w < 0).Sum();
        var alphaMu = 1 + _c1 / _cMu;
        var alphaMuEff = 1 + 2 * muEffMinus / (_muEff + 2);
        var alphaPosDef = (1 - _c1 - _cMu) / (n * _cMu);
        var negativeScale = Math.Min(alphaMu, Math.Min(alphaMuEff, alphaPosDef));
        _weights = raw.Select(w => w >= 0 ? w / positiveSum : negativeSum > 0 ? negativeScale * w / negativeSum : 0).ToArray();
        _mu = mu;
        _chiN = Math.Sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n));

        // α = 1/(nλ) as in the margin paper: the chance that a discrete coordinate changes value in one sample.
        var alpha = 1.0 / (n * lambda);
        _marginQuantile = Normal.InvCDF(0, 1, 1 - alpha);

        _c = Matrix<double>.Build.DenseIdentity(_n);
        _b = Matrix<double>.Build.DenseIdentity(_n);
        _invSqrtC = Matrix<double>.Build.DenseIdentity(_n);
        _d = Vector<double>.Build.Dense(_n, 1.0);
        _pSigma = Vector<double>.Build.Dense(_n);
        _pc = Vector<double>.Build.Dense(_n);
        ApplyMargin();
    }

    /// <summary>The population size λ.</summary>
    public int Lambda { get; }

    /// <summary>The mean, in the unit cube.</summary>
    public double[] Mean { get; }

    /// <summary>The step size.</summary>
    public double Sigma { get; private set; }

    /// <summary>Generations told so far.</summary>
    public int Generation { get; private set; }

    /// <summary>Why the run should restart, or null while it is still making progress.</summary>
    public string? Converged { get; private set; }

    /// <summary>Draws one solution in the unit cube: resampled until it is inside the box, clipped after 100 tries.</summary>
    public double[] Sample(Random random)
    {
        var x = new double[_n];
        var bd = _b * Matrix<double>.Build.DenseOfDiagonalVector(_d);
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var z = Vector<double>.Build.Dense(_n, _ => Gaussian(random));
            var y = bd * z;
            var inside = true;
            for (var i = 0; i < _n; i++)
            {
                x[i] = Mean[i] + Sigma * y[i];
                if (x[i] < 0 || x[i] > 1) inside = false;
            }
            if (inside) return x;
        }
        for (var i = 0; i < _n; i++) x[i] = Math.Clamp(x[i], 0, 1);
        return x;
    }

    /// <summary>Updates the distribution from one generation of (solution, value) pairs, λ of them; lower values are better.</summary>
    public void Tell(IReadOnlyList<(double[] X, double Value)> generation)
    {
        var sorted = generation.OrderBy(s => s.Value).ToArray();
        var count = Math.Min(sorted.Length, _weights.Length);
        var mean = Vector<double>.Build.DenseOfArray(Mean);
        // Steps clipped to the Mahalanobis length a sampled step rarely exceeds, so a stray solution cannot throw the state off.
        var clip = Math.Sqrt(_n) + 2.0 * _n / (_n + 2);
        var steps = new Vector<double>[count];
        var lengths = new double[count];
        for (var i = 0; i < count; i++)
        {
            var y = (Vector<double>.Build.DenseOfArray(sorted[i].X) - mean) / Sigma;
            var length = (_invSqrtC * y).L2Norm();
            if (length > clip)
            {
                y *= clip / length;
                length = clip;
            }
            steps[i] = y;
            lengths[i] = length;
        }
        var yw = Vector<double>.Build.Dense(_n);
        for (var i = 0; i < Math.Min(_mu, count); i++) yw += _weights[i] * steps[i];

        for (var i = 0; i < _n; i++) Mean[i] = Math.Clamp(Mean[i] + Sigma * yw[i], 0, 1);

        _pSigma = (1 - _cSigma) * _pSigma + Math.Sqrt(_cSigma * (2 - _cSigma) * _muEff) * (_invSqrtC * yw);
        var pSigmaNorm = _pSigma.L2Norm();
        var hSigma = pSigmaNorm / Math.Sqrt(1 - Math.Pow(1 - _cSigma, 2 * (Generation + 1))) < (1.4 + 2.0 / (_n + 1)) * _chiN ? 1.0 : 0.0;
        _pc = (1 - _cc) * _pc + hSigma * Math.Sqrt(_cc * (2 - _cc) * _muEff) * yw;

        var rankMu = Matrix<double>.Build.Dense(_n, _n);
        var weightSum = 0.0;
        for (var i = 0; i < count; i++)
        {
            // Negative weights are rescaled by n/‖C^-½ y‖² so a long bad step cannot make the matrix indefinite.
            var w = _weights[i] >= 0 ? _weights[i] : _weights[i] * _n / Math.Max(lengths[i] * lengths[i], 1e-20);
            rankMu += w * steps[i].OuterProduct(steps[i]);
            weightSum += _weights[i];
        }
        var lost = (1 - hSigma) * _cc * (2 - _cc);
        _c = (1 - _c1 - _cMu * weightSum + _c1 * lost) * _c + _c1 * _pc.OuterProduct(_pc) + _cMu * rankMu;

        Sigma *= Math.Exp(_cSigma / _dSigma * (pSigmaNorm / _chiN - 1));
        // Equal values for the best quarter: the landscape looks flat at this scale, so widen the search (Hansen's flat-fitness rule).
        var k = (int)Math.Ceiling(0.1 + Lambda / 4.0) - 1;
        if (sorted[0].Value == sorted[Math.Min(k, sorted.Length - 1)].Value)
            Sigma *= Math.Exp(0.2 + _cSigma / _dSigma);
        // Beyond the unit cube's width a larger step only produces more clipped samples.
        Sigma = Math.Min(Sigma, 1.0);

        Generation++;
        Decompose();
        ApplyMargin();
        CheckConvergence(sorted);
    }

    private void Decompose()
    {
        _c = (_c + _c.Transpose()) / 2;
        var evd = _c.Evd(Symmetricity.Symmetric);
        var eigenvalues = evd.EigenValues.Map(v => v.Real);
        if (eigenvalues.Any(v => !double.IsFinite(v)))
        {
            Converged = "the covariance matrix became invalid";
            return;
        }
        _b = evd.EigenVectors;
        _d = eigenvalues.Map(v => Math.Sqrt(Math.Max(v, 1e-30)));
        _invSqrtC = _b * Matrix<double>.Build.DenseOfDiagonalVector(_d.Map(v => 1 / v)) * _b.Transpose();
    }

    // Margin: keep the mean close enough to the nearest boundary of its discrete cell that a sample crosses it with
    // probability α, so an integer coordinate cannot freeze on one value while its variance shrinks.
    private void ApplyMargin()
    {
        for (var j = 0; j < _n; j++)
        {
            if (_cells[j] is not { } cell) continue;
            var spread = Sigma * Math.Sqrt(_c[j, j]);
            var reach = _marginQuantile * spread;
            var (low, high) = cell(Mean[j]);
            var toLow = low > 0 ? Mean[j] - low : double.PositiveInfinity;
            var toHigh = high < 1 ? high - Mean[j] : double.PositiveInfinity;
            if (Math.Min(toLow, toHigh) <= reach) continue;
            if (toLow <= toHigh) Mean[j] = low + reach;
            else if (!double.IsPositiveInfinity(toHigh)) Mean[j] = high - reach;
        }
    }

    private void CheckConvergence((double[] X, double Value)[] sorted)
    {
        if (Converged is not null) return;
        _bestPerGeneration.Add(sorted[0].Value);
        var maxStd = 0.0;
        for (var i = 0; i < _n; i++) maxStd = Math.Max(maxStd, Sigma * Math.Sqrt(_c[i, i]));
        if (maxStd < _tolX && Sigma * _pc.AbsoluteMaximum() < _tolX)
        {
            Converged = "tolx";
            return;
        }
        var condition = Math.Pow(_d.Maximum() / _d.Minimum(), 2);
        if (condition > 1e14)
        {
            Converged = "condition number";
            return;
        }
        var history = 10 + (int)Math.Ceiling(30.0 * _n / Lambda);
        if (_bestPerGeneration.Count >= history)
        {
            var recent = _bestPerGeneration.Skip(_bestPerGeneration.Count - history).ToArray();
            var span = Math.Max(recent.Max() - recent.Min(), sorted[^1].Value - sorted[0].Value);
            if (span <= _tolFun) Converged = "tolfun";
        }
    }

    private static double Gaussian(Random random)
    {
        // Box–Muller; 1 − u keeps the logarithm's argument in (0, 1].
        var u = 1.0 - random.NextDouble();
        var v = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u)) * Math.Cos(2 * Math.PI * v);
    }
}
