using System.Globalization;
using Tunesmith.Spaces;

namespace Tunesmith.Samplers.CmaEs;

/// <summary>
/// Covariance matrix adaptation evolution strategy: samples float and integer parameters jointly from a multivariate normal
/// whose mean, step size and full covariance follow the best trials, with IPOP restarts, a margin that keeps integer
/// parameters moving, and a warm start from trials already in the study. Strong on continuous spaces of a few to a few
/// dozen parameters and budgets of hundreds of trials; categorical and conditional parameters are drawn at random.
/// <para>
/// The sampler stores nothing in the study: the state is replayed from the history, so every process of a study that sees
/// the same finished trials holds the same state. Trials are read in number order; each finished trial of the joint space is
/// assigned to the next generation, and a generation is told once λ of its trials have completed (failed and pruned trials
/// are skipped). The replay waits at the first trial still running, so the assignment does not depend on the order in which
/// trials finish; meanwhile workers keep drawing from the latest distribution. A trial still running when λ later trials
/// have finished is set aside and joins the generation open when it finishes, so one slow trial cannot freeze the search
/// (only then may two processes that saw different moments order it differently). Solutions drawn from an older
/// generation are accepted as injected solutions.
/// </para>
/// </summary>
public sealed class CmaEsSampler : ISampler
{
    private static readonly IReadOnlyDictionary<string, Distribution> NoSpace = new Dictionary<string, Distribution>();
    private static readonly IReadOnlyDictionary<string, object?> NoValues = new Dictionary<string, object?>();

    private readonly object _gate = new();
    private readonly IntersectionSearchSpace _intersection = new();
    private Replay? _replay;

    /// <summary>Creates a CMA-ES sampler; throws naming an invalid option.</summary>
    public CmaEsSampler(CmaEsOptions? options = null)
    {
        Options = options ?? new CmaEsOptions();
        Options.Validate();
    }

    /// <summary>Creates a CMA-ES sampler with default options and a seed.</summary>
    public CmaEsSampler(int? seed) : this(new CmaEsOptions { Seed = seed }) { }

    /// <summary>The options.</summary>
    public CmaEsOptions Options { get; }

    /// <inheritdoc />
    public int? Seed => Options.Seed;

    /// <inheritdoc />
    public string Name => "cmaes";

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Distribution> InferRelativeSearchSpace(SamplingContext context)
    {
        lock (_gate)
        {
            var space = _intersection.Calculate(context.History);
            var numeric = space.Where(kv => kv.Value is FloatDistribution or IntDistribution && !kv.Value.IsSingle)
                .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
            return numeric.Count == 0 ? NoSpace : numeric;
        }
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, object?> SampleRelative(SamplingContext context, IReadOnlyDictionary<string, Distribution> searchSpace)
    {
        if (searchSpace.Count == 0) return NoValues;
        lock (_gate)
        {
            var names = searchSpace.Keys.OrderBy(k => k, StringComparer.Ordinal).ToArray();
            var key = string.Join("\n", names.Select(n => $"{n}={searchSpace[n].Describe()}"));
            if (_replay is null || _replay.Key != key) _replay = new Replay(key, names, names.Select(n => searchSpace[n]).ToArray(), Options);
            _replay.Advance(context.History, context.Trial.Number);
            if (_replay.Strategy is not { } strategy) return NoValues; // still collecting the warm-start trials
            var x = strategy.Sample(context.Random);
            var values = new Dictionary<string, object?>(StringComparer.Ordinal);
            for (var i = 0; i < names.Length; i++) values[names[i]] = _replay.FromUnit(i, x[i]);
            return values;
        }
    }

    /// <inheritdoc />
    public object? SampleIndependent(SamplingContext context, string name, Distribution distribution) =>
        RandomSampler.DrawUniform(context.Random, distribution);

    /// <summary>A view of the current run for tests and diagnostics, or null before the first one starts.</summary>
    internal CmaEsRunInfo? CurrentRun
    {
        get
        {
            lock (_gate)
                return _replay?.Strategy is { } s
                    ? new CmaEsRunInfo(_replay.Restarts, s.Lambda, s.Generation, (double[])s.Mean.Clone(), s.Sigma)
                    : null;
        }
    }

    /// <summary>The replayed state of one joint space: which trials have been read, the warm-start set and the current run.</summary>
    private sealed class Replay
    {
        private readonly Distribution[] _distributions;
        private readonly string[] _names;
        private readonly CmaEsOptions _options;
        private readonly DiscreteCell?[] _cells;
        private readonly List<(double[] X, double Value)> _warm = [];
        private readonly List<(double[] X, double Value)> _generation = [];
        private readonly int _baseLambda;
        private readonly SortedSet<int> _deferred = [];
        private int _cursor;

        public Replay(string key, string[] names, Distribution[] distributions, CmaEsOptions options)
        {
            Key = key;
            _names = names;
            _distributions = distributions;
            _options = options;
            _cells = distributions.Select(CellOf).ToArray();
            _baseLambda = options.PopulationSize ?? 4 + (int)Math.Floor(3 * Math.Log(names.Length));
            if (options.NStartupTrials == 0) Strategy = NewStrategy(Center(), options.Sigma0, _baseLambda);
        }

        public string Key { get; }
        public CmaEsStrategy? Strategy { get; private set; }
        public int Restarts { get; private set; }

        /// <summary>
        /// Reads the finished trials from the cursor on, in number order. An unfinished trial (or a number not yet seen) stops
        /// the reading while fewer than λ finished trials follow it; past that, it is set aside and read when it finishes, so
        /// one slow trial cannot freeze the search.
        /// </summary>
        public void Advance(StudyHistory history, int askingNumber)
        {
            var trials = history.Trials;
            foreach (var number in _deferred.ToArray())
            {
                var at = FirstIndexAtOrAfter(trials, number);
                if (at >= trials.Count || trials[at].Number != number || number == askingNumber || !trials[at].State.IsFinished()) continue;
                _deferred.Remove(number);
                Read(trials[at], history.Direction);
            }
            var index = FirstIndexAtOrAfter(trials, _cursor);
            while (index < trials.Count)
            {
                var t = trials[index];
                var seen = t.Number == _cursor;
                if (!seen || t.Number == askingNumber || !t.State.IsFinished())
                {
                    if (!ManyFinishedFrom(trials, seen ? index + 1 : index)) return;
                    _deferred.Add(_cursor);
                    _cursor++;
                    if (seen) index++;
                    continue;
                }
                Read(t, history.Direction);
                _cursor++;
                index++;
            }
        }

        private void Read(FrozenTrial t, Direction direction)
        {
            if (t.State == TrialState.Complete && t.Value is { } value && TryUnit(t, out var x))
                Consume(x, direction == Direction.Maximize ? -value : value);
        }

        private bool ManyFinishedFrom(IReadOnlyList<FrozenTrial> trials, int index)
        {
            var needed = Strategy?.Lambda ?? _baseLambda;
            for (var i = index; i < trials.Count && needed > 0; i++)
                if (trials[i].State.IsFinished()) needed--;
            return needed == 0;
        }

        private void Consume(double[] x, double value)
        {
            if (Strategy is null)
            {
                _warm.Add((x, value));
                if (_warm.Count >= _options.NStartupTrials) StartFromWarm();
                return;
            }
            _generation.Add((x, value));
            if (_generation.Count < Strategy.Lambda) return;
            Strategy.Tell(_generation);
            _generation.Clear();
            if (Strategy.Converged is not null && _options.RestartStrategy == CmaEsRestartStrategy.Ipop)
            {
                Restarts++;
                // A new mean drawn from a seed and the restart index, so every process restarts at the same place.
                var random = TrialRandom.Create(_options.Seed ?? 0x5EED, Restarts, stream: 0xC3A);
                var mean = Enumerable.Range(0, _names.Length).Select(_ => random.NextDouble()).ToArray();
                Strategy = NewStrategy(mean, _options.Sigma0, checked(Strategy.Lambda * 2));
            }
        }

        // The first mean is the log-weighted mean of the best half of the warm-start trials; the step size is their
        // spread around it, capped by sigma0 and floored so the search does not start collapsed onto one point.
        private void StartFromWarm()
        {
            var best = _warm.OrderBy(w => w.Value).Take(Math.Max(1, _warm.Count / 2)).ToArray();
            var weights = best.Select((_, i) => Math.Log(best.Length + 0.5) - Math.Log(i + 1)).ToArray();
            var total = weights.Sum();
            var mean = new double[_names.Length];
            for (var i = 0; i < best.Length; i++)
                for (var j = 0; j < mean.Length; j++) mean[j] += weights[i] / total * best[i].X[j];
            var sigma = _options.Sigma0;
            if (best.Length >= 2)
            {
                var squares = best.Sum(b => b.X.Select((v, j) => (v - mean[j]) * (v - mean[j])).Sum()) / (best.Length * mean.Length);
                sigma = Math.Clamp(Math.Sqrt(squares), _options.Sigma0 / 4, _options.Sigma0);
            }
            Strategy = NewStrategy(mean, sigma, _baseLambda);
        }

        private CmaEsStrategy NewStrategy(double[] mean, double sigma, int lambda) =>
            new(mean, sigma, lambda, _cells, _options.TolX, _options.TolFun);

        private double[] Center() => Enumerable.Repeat(0.5, _names.Length).ToArray();

        private bool TryUnit(FrozenTrial trial, out double[] x)
        {
            x = new double[_names.Length];
            for (var i = 0; i < _names.Length; i++)
            {
                if (!trial.Distributions.TryGetValue(_names[i], out var d) || !d.Equals(_distributions[i])
                    || !trial.Params.TryGetValue(_names[i], out var v) || !ParamValues.TryToDouble(v, out var value))
                    return false;
                x[i] = _distributions[i] switch
                {
                    FloatDistribution f => f.ToUnit(value),
                    IntDistribution n => n.ToUnit(value),
                    _ => double.NaN,
                };
                if (!double.IsFinite(x[i])) return false;
                x[i] = Math.Clamp(x[i], 0, 1);
            }
            return true;
        }

        public object FromUnit(int index, double u) => _distributions[index] switch
        {
            FloatDistribution f => (object)f.FromUnit(u),
            IntDistribution n => (object)n.FromUnit(u),
            var d => throw new InvalidOperationException($"CMA-ES cannot sample {d.Describe()}"),
        };

        private static int FirstIndexAtOrAfter(IReadOnlyList<FrozenTrial> trials, int number)
        {
            // Numbers are dense apart from transient holes, so the index is the number or a little less.
            var i = Math.Min(number, trials.Count);
            while (i > 0 && trials[i - 1].Number >= number) i--;
            return i;
        }

        // The unit-cube cell of a discrete value: integers own [v − step/2, v + step/2]; stepped floats likewise, cut at the bounds.
        private static DiscreteCell? CellOf(Distribution distribution) => distribution switch
        {
            IntDistribution n => u =>
            {
                var v = n.FromUnit(u);
                return (Math.Max(0, n.ToUnit(v - 0.5 * n.Step)), Math.Min(1, n.ToUnit(v + 0.5 * n.Step)));
            },
            FloatDistribution { Step: { } s } f => u =>
            {
                var v = f.FromUnit(u);
                return (Math.Max(0, f.ToUnit(Math.Max(f.Low, v - 0.5 * s))), Math.Min(1, f.ToUnit(Math.Min(f.High, v + 0.5 * s))));
            },
            _ => null,
        };
    }
}

/// <summary>The state of a CMA-ES run, for tests and diagnostics.</summary>
/// <param name="Restarts">How many restarts have happened (0 in the first run).</param>
/// <param name="PopulationSize">The run's population size λ.</param>
/// <param name="Generation">Generations told in this run.</param>
/// <param name="Mean">The mean in the unit cube, parameters in name order.</param>
/// <param name="Sigma">The step size.</param>
internal sealed record CmaEsRunInfo(int Restarts, int PopulationSize, int Generation, double[] Mean, double Sigma)
{
    /// <inheritdoc />
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"restart {Restarts}, λ={PopulationSize}, generation {Generation}, σ={Sigma:G3}");
}
