using Tunesmith.Spaces;

namespace Tunesmith.Samplers.Branches;

/// <summary>
/// Branch-aware search over a conditional space (exclusive branches such as an SVM's kernels, each with its own
/// parameters) or a space with one root categorical parameter: the branch is chosen by an explicit exploration rule, and
/// the numeric values by a model fitted on that branch's trials alone, one model per branch.
/// <para>
/// The branch choice is the parameter, present in every trial, whose value decides which other parameters a trial has
/// (<see cref="BranchStructure"/>), or else the space's only categorical parameter. Every branch first gets
/// <see cref="BranchAwareOptions.MinTrialsPerBranch"/> trials; then each branch is valued by a Thompson draw of what it
/// could reach — its best value so far minus an optimistic margin: the gap between its median and best trial (what its
/// own search has gained), growing with its parameter count and shrinking with its trials — and the lowest draw wins. A proposal for a branch uses
/// only that branch's trials: an under-explored branch gets its own start-up draws, never numeric values borrowed from
/// another branch.
/// </para>
/// </summary>
public sealed class BranchAwareSampler : ISampler
{
    private readonly Func<ISampler> _createInner;
    private readonly ISampler _flat;
    private readonly object _gate = new();
    private readonly Dictionary<string, ISampler> _byBranch = new(StringComparer.Ordinal);
    private readonly Dictionary<int, Decision> _decisions = [];

    /// <summary>Wraps samplers made by <paramref name="createInner"/>: one for the flat space and one per branch.</summary>
    /// <param name="createInner">Makes a fresh inner sampler (TPE, GP, a forest); called once per branch seen.</param>
    /// <param name="options">Branch settings; null for the defaults.</param>
    public BranchAwareSampler(Func<ISampler> createInner, BranchAwareOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(createInner);
        _createInner = createInner;
        Options = options ?? new BranchAwareOptions();
        Options.Validate();
        _flat = createInner();
    }

    /// <summary>The branch settings.</summary>
    public BranchAwareOptions Options { get; }

    /// <summary>The sampler used before any branch structure is seen (and the template of the per-branch ones).</summary>
    public ISampler Inner => _flat;

    /// <inheritdoc />
    public int? Seed => _flat.Seed;

    /// <inheritdoc />
    public string Name => $"{_flat.Name}+branches";

    /// <summary>The choice made for one trial: the branch parameter and value, and the history of that branch's trials.</summary>
    private sealed record Decision(string? Variable, object? Value, ISampler Sampler, StudyHistory? Branch);

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Distribution> InferRelativeSearchSpace(SamplingContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var trials = context.History.Trials;
        var structure = BranchStructure.Find(trials, Options);
        Decision decision;
        if (structure is null)
            decision = new Decision(null, null, _flat, null);
        else
        {
            var value = BranchChooser.Choose(structure, trials, context.Direction, Options, context.Random);
            decision = new Decision(structure.Variable, value, InnerFor(structure.Variable, value), BranchHistory(context.History, structure.Variable, value, context.Trial.Number));
        }
        lock (_gate)
        {
            if (_decisions.Count > 64)
                foreach (var t in trials)
                    if (t.State.IsFinished()) _decisions.Remove(t.Number);
            _decisions[context.Trial.Number] = decision;
        }
        if (decision.Variable is null) return decision.Sampler.InferRelativeSearchSpace(context);
        var inner = decision.Sampler.InferRelativeSearchSpace(Sub(context, decision));
        var space = new Dictionary<string, Distribution>(StringComparer.Ordinal) { [structure!.Variable] = structure.Distribution };
        foreach (var (name, distribution) in inner)
            if (name != structure.Variable) space[name] = distribution;
        return space;
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, object?> SampleRelative(SamplingContext context, IReadOnlyDictionary<string, Distribution> searchSpace)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(searchSpace);
        var decision = DecisionFor(context);
        if (decision.Variable is null) return decision.Sampler.SampleRelative(context, searchSpace);
        var values = new Dictionary<string, object?>(StringComparer.Ordinal) { [decision.Variable] = decision.Value };
        var rest = searchSpace.Where(kv => kv.Key != decision.Variable).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        if (rest.Count > 0)
            foreach (var (name, value) in decision.Sampler.SampleRelative(Sub(context, decision), rest))
                if (name != decision.Variable) values[name] = value;
        return values;
    }

    /// <inheritdoc />
    public object? SampleIndependent(SamplingContext context, string name, Distribution distribution)
    {
        ArgumentNullException.ThrowIfNull(context);
        var decision = DecisionFor(context);
        // A parameter outside the branch's joint space (a branch never tried yet, a nested condition) is drawn by the
        // branch's own sampler from the branch's own trials.
        if (decision.Variable is not null && context.Trial.Params.TryGetValue(decision.Variable, out var value) && ParamValues.AreEqual(value, decision.Value))
            return decision.Sampler.SampleIndependent(Sub(context, decision), name, distribution);
        return _flat.SampleIndependent(context, name, distribution);
    }

    private Decision DecisionFor(SamplingContext context)
    {
        lock (_gate)
            return _decisions.TryGetValue(context.Trial.Number, out var d) ? d : new Decision(null, null, _flat, null);
    }

    private static SamplingContext Sub(SamplingContext context, Decision decision) =>
        new(decision.Branch ?? context.History, context.Trial, context.Random);

    private ISampler InnerFor(string variable, object? value)
    {
        var key = variable + "=" + ParamValues.ToJson(new Dictionary<string, object?> { ["v"] = value });
        lock (_gate)
        {
            if (!_byBranch.TryGetValue(key, out var sampler)) _byBranch[key] = sampler = _createInner();
            return sampler;
        }
    }

    /// <summary>
    /// The trials of one branch (every state), as a history of their own. A running trial whose params are not stored yet
    /// (its objective flushes them at its first report) belongs to the branch this sampler chose for it, so that the
    /// branch's own sampler sees it running and spreads parallel workers (the GP's believer, TPE's liar) instead of
    /// proposing the same point to each of them.
    /// </summary>
    private StudyHistory BranchHistory(StudyHistory history, string variable, object? value, int current)
    {
        var branch = new StudyHistory(history.StudyName, history.Direction);
        List<FrozenTrial> trials;
        lock (_gate)
            trials = history.Trials.Where(t => t.Params.TryGetValue(variable, out var v)
                ? ParamValues.AreEqual(v, value)
                : t.State == TrialState.Running && t.Number != current && _decisions.TryGetValue(t.Number, out var d)
                    && d.Variable == variable && ParamValues.AreEqual(d.Value, value)).ToList();
        if (trials.Count > 0) branch.Apply(new TrialChanges(trials, 0));
        return branch;
    }
}

/// <summary>The branch choice of a space as read from its trials: which parameter, its distribution and its values.</summary>
/// <param name="Variable">The parameter whose value selects the branch.</param>
/// <param name="Distribution">Its distribution.</param>
/// <param name="Values">Every value it can take (branches never tried included).</param>
public sealed record BranchStructure(string Variable, Distribution Distribution, IReadOnlyList<object?> Values)
{
    /// <summary>
    /// The branch parameter of the finished trials: a categorical (or small int) parameter every Complete trial has, whose
    /// value decides which other parameters a trial has (the one separating the most parameter sets); else, when
    /// <see cref="BranchAwareOptions.RootCategorical"/> holds, the only categorical parameter of a space that also has
    /// numeric ones. Null when there is none (or fewer than two Complete trials).
    /// </summary>
    public static BranchStructure? Find(IReadOnlyList<FrozenTrial> trials, BranchAwareOptions options)
    {
        ArgumentNullException.ThrowIfNull(trials);
        ArgumentNullException.ThrowIfNull(options);
        var complete = trials.Where(t => t.State == TrialState.Complete && t.Value is { } v && double.IsFinite(v)).ToList();
        if (complete.Count < 2) return null;
        var shared = new Dictionary<string, Distribution>(complete[^1].Distributions, StringComparer.Ordinal);
        foreach (var t in complete)
            foreach (var name in shared.Keys.ToList())
                if (!t.Distributions.TryGetValue(name, out var d) || !d.Equals(shared[name])) shared.Remove(name);

        BranchStructure? best = null;
        var bestSets = 1;
        foreach (var (name, distribution) in shared.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (BranchValues(distribution, options.MaxBranches) is not { } values) continue;
            var setsByValue = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
            foreach (var t in complete)
            {
                var key = ParamValues.Format(t.Params[name]);
                if (!setsByValue.TryGetValue(key, out var set)) setsByValue[key] = set = new HashSet<string>(StringComparer.Ordinal);
                set.UnionWith(t.Params.Keys.Where(k => k != name && t.Distributions.ContainsKey(k)));
            }
            var distinct = setsByValue.Values.Select(s => string.Join('\n', s.Order(StringComparer.Ordinal))).Distinct(StringComparer.Ordinal).Count();
            if (distinct > bestSets) { best = new BranchStructure(name, distribution, values); bestSets = distinct; }
        }
        if (best is not null || !options.RootCategorical) return best;
        var categorical = shared.Where(kv => kv.Value is CategoricalDistribution && !kv.Value.IsSingle).ToList();
        var numeric = shared.Count(kv => kv.Value is not CategoricalDistribution && !kv.Value.IsSingle);
        if (categorical.Count == 1 && numeric > 0 && BranchValues(categorical[0].Value, options.MaxBranches) is { } choices)
            return new BranchStructure(categorical[0].Key, categorical[0].Value, choices);
        return null;
    }

    private static IReadOnlyList<object?>? BranchValues(Distribution distribution, int max) => distribution switch
    {
        CategoricalDistribution c when c.Choices.Count >= 2 && c.Choices.Count <= max => c.Choices,
        IntDistribution i when i.Count >= 2 && i.Count <= max && !i.Log => Enumerable.Range(0, (int)i.Count).Select(k => (object?)(i.Low + k * i.Step)).ToArray(),
        _ => null,
    };
}

/// <summary>The exploration rule that picks a branch for the next trial (<see cref="BranchAwareSampler"/>).</summary>
public static class BranchChooser
{
    /// <summary>
    /// The branch value for the next trial: the least-tried branch while some branch has fewer than
    /// <see cref="BranchAwareOptions.MinTrialsPerBranch"/> trials (Complete, or Running with its branch value stored);
    /// else the lowest Thompson draw of each branch's reach (see <see cref="BranchAwareSampler"/>). Deterministic for a
    /// given random source.
    /// </summary>
    public static object? Choose(BranchStructure structure, IReadOnlyList<FrozenTrial> trials, Direction direction, BranchAwareOptions options, Random random)
    {
        ArgumentNullException.ThrowIfNull(structure);
        ArgumentNullException.ThrowIfNull(trials);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(random);
        var k = structure.Values.Count;
        var tried = new int[k];
        var costs = new List<double>[k];
        var dims = new double[k];
        for (var b = 0; b < k; b++) costs[b] = [];
        var all = new List<double>();
        var sign = direction == Direction.Minimize ? 1.0 : -1.0;
        foreach (var t in trials)
        {
            if (!t.Params.TryGetValue(structure.Variable, out var v)) continue;
            var b = IndexOf(structure.Values, v);
            if (b < 0) continue;
            if (t.State == TrialState.Running) tried[b]++;
            else if (t.State == TrialState.Complete && t.Value is { } value && double.IsFinite(value))
            {
                tried[b]++;
                costs[b].Add(sign * value);
                all.Add(sign * value);
                dims[b] += t.Distributions.Count(d => d.Key != structure.Variable && !d.Value.IsSingle);
            }
        }
        var least = tried.Min();
        if (least < options.MinTrialsPerBranch)
        {
            var starved = Enumerable.Range(0, k).Where(b => tried[b] == least).ToArray();
            return structure.Values[starved[random.Next(starved.Length)]];
        }

        // A branch's reach: its best value minus an optimistic margin, its spread (median minus best) times
        // √((its parameters + 1) · ln(all trials) / its trials): growing with its parameter count and, as in UCB, with the
        // log of all trials (so a starved branch is revisited), shrinking with its own trials. The spread is the branch's
        // own, shrunk toward the study's (median minus best of all trials) with the weight of `MinTrialsPerBranch` trials:
        // a handful of trials that happen to lie close together gives an own spread near zero, and the branch was never
        // tried again; with many trials the branch's own spread, what its own search has shown it can gain, decides.
        var pooled = all.Order().ToArray();
        var studySpread = pooled.Length > 0 ? pooled[pooled.Length / 2] - pooled[0] : 0;
        var prior = (double)options.MinTrialsPerBranch;
        var total = Math.Max(tried.Sum(), 3);
        var bestDraw = double.PositiveInfinity;
        var chosen = 0;
        for (var b = 0; b < k; b++)
        {
            double draw;
            if (costs[b].Count > 0)
            {
                var sorted = costs[b].Order().ToArray();
                var best = sorted[0];
                var n = sorted.Length;
                var spread = (n * (sorted[n / 2] - best) + prior * studySpread) / (n + prior);
                var parameters = dims[b] / n;
                var margin = options.Optimism * spread * Math.Sqrt((parameters + 1) * Math.Log(total) / tried[b]);
                draw = best - Math.Abs(Tpe.NormalMath.NextGaussian(random)) * margin;
            }
            else draw = double.NegativeInfinity; // running only: no value yet, so nothing speaks against it
            if (draw < bestDraw) { bestDraw = draw; chosen = b; }
        }
        return structure.Values[chosen];
    }

    private static int IndexOf(IReadOnlyList<object?> values, object? value)
    {
        for (var i = 0; i < values.Count; i++) if (ParamValues.AreEqual(values[i], value)) return i;
        return -1;
    }

}
