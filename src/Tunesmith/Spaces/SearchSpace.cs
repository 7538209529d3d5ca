namespace Tunesmith.Spaces;

/// <summary>Receives the parameters of a space as it is walked: implemented by a trial (and by grid enumeration).</summary>
public interface IParameterSuggester
{
    /// <summary>Returns a value for <paramref name="name"/> drawn from <paramref name="distribution"/>.</summary>
    object? Suggest(string name, Distribution distribution);

    /// <summary>Records a value derived from other parameters (not sampled).</summary>
    void SetDerived(string name, object? value);
}

/// <summary>A parameter exists only when <paramref name="Parent"/> exists and takes one of <paramref name="Values"/>.</summary>
/// <param name="Parent">The parent parameter's name (inside a repeated block: a name of the same block, or a global one).</param>
/// <param name="Values">The parent values that switch the parameter on.</param>
public sealed record Condition(string Parent, IReadOnlyList<object?> Values)
{
    /// <summary>Creates a condition on one or more parent values.</summary>
    public static Condition When(string parent, params object?[] values) => new(parent, values.Select(ParamValues.Normalize).ToArray());

    /// <inheritdoc />
    public override string ToString() => $"{Parent} in [{string.Join(", ", Values.Select(ParamValues.Format))}]";
}

/// <summary>One node of a declarative space: a sampled parameter, a derived value, or a repeated block.</summary>
public abstract record SpaceNode(string Name, Condition? When);

/// <summary>A sampled parameter.</summary>
public sealed record ParameterNode(string Name, Distribution Distribution, Condition? When) : SpaceNode(Name, When);

/// <summary>A value computed from other parameters, e.g. <c>padding = kernel / 2</c>.</summary>
/// <param name="Name">The derived value's name.</param>
/// <param name="Compute">Computes the value from the parameters drawn so far (inside a block, names resolve within the block first).</param>
/// <param name="When">Optional condition.</param>
/// <param name="Expression">The source text when the value came from a study file's <c>expr</c>, for display.</param>
public sealed record DerivedNode(string Name, Func<Configuration, object?> Compute, Condition? When, string? Expression = null) : SpaceNode(Name, When);

/// <summary>
/// A list of sub-configurations, e.g. conv layers: <c>Name</c> holds the count (fixed or sampled from <see cref="Count"/>),
/// and repetition i holds the block's parameters as <c>Name.i.param</c>, each existing only when the count exceeds i.
/// </summary>
public sealed record RepeatNode(string Name, IntDistribution Count, SearchSpace Block, Condition? When) : SpaceNode(Name, When);

/// <summary>
/// A declarative search space: float, int and categorical parameters, conditional parameters, exclusive branches,
/// derived values and repeated blocks. It is walked in order against a trial, so every shape it declares is
/// also reachable by hand from the define-by-run API.
/// </summary>
public sealed class SearchSpace
{
    private readonly List<SpaceNode> _nodes = [];

    // While a sub-space is being built: the enclosing space whose names a repeated block's conditions may name
    // (block names resolve first, then global ones), or the branch marker for a When/Branch sub-space.
    private SearchSpace? _enclosing;
    private bool _isBranch;

    /// <summary>The nodes in declaration order.</summary>
    public IReadOnlyList<SpaceNode> Nodes => _nodes;

    /// <summary>Adds a float parameter.</summary>
    public SearchSpace Float(string name, double low, double high, bool log = false, double? step = null, Condition? when = null) =>
        Add(name, new FloatDistribution(low, high, log, step), when);

    /// <summary>Adds an int parameter.</summary>
    public SearchSpace Int(string name, long low, long high, bool log = false, long step = 1, Condition? when = null) =>
        Add(name, new IntDistribution(low, high, log, step), when);

    /// <summary>Adds a categorical parameter.</summary>
    public SearchSpace Choice(string name, IEnumerable<object?> choices, Condition? when = null) =>
        Add(name, new CategoricalDistribution(choices), when);

    /// <summary>Adds a parameter with any distribution.</summary>
    public SearchSpace Add(string name, Distribution distribution, Condition? when = null)
    {
        CheckName(name);
        distribution.Validate(name);
        CheckCondition(name, when);
        CheckUnique(name, when);
        _nodes.Add(new ParameterNode(name, distribution, when));
        return this;
    }

    /// <summary>Adds the parameters built by <paramref name="build"/>, each existing only when <paramref name="parent"/> takes one of <paramref name="values"/>.</summary>
    public SearchSpace When(string parent, IReadOnlyList<object?> values, Action<SearchSpace> build)
    {
        var sub = new SearchSpace { _isBranch = true };
        build(sub);
        var condition = new Condition(parent, values.Select(ParamValues.Normalize).ToArray());
        foreach (var node in sub.Nodes)
            AddConditioned(node, condition);
        return this;
    }

    /// <summary>
    /// Adds exclusive branches: a categorical <paramref name="name"/> whose choices are the branch names, and each branch's
    /// own sub-parameters, which exist only when that branch is chosen (e.g. an SVM kernel with per-kernel parameters).
    /// Branches may reuse a parameter name, since at most one of them is active.
    /// </summary>
    public SearchSpace Branch(string name, params (object? Value, Action<SearchSpace> Build)[] branches)
    {
        if (branches.Length == 0) throw new SearchSpaceException(name, "a branch needs at least one case");
        Choice(name, branches.Select(b => b.Value));
        foreach (var (value, build) in branches)
            When(name, [value], build);
        return this;
    }

    /// <summary>
    /// Adds a value derived from other parameters by a function. What the function reads is not known until it runs:
    /// unlike a study file's <c>expr</c>, which is refused at load when it reads a branch's parameter (or a repetition)
    /// some trials lack, a function that reads a parameter its trial does not hold fails that trial, saying which branch
    /// the parameter belongs to. Guard such reads (<c>c.GetString("model") == "svm" ? ... : ...</c>).
    /// </summary>
    public SearchSpace Derived(string name, Func<Configuration, object?> compute, Condition? when = null, string? expression = null)
    {
        CheckName(name);
        CheckCondition(name, when);
        CheckUnique(name, when);
        _nodes.Add(new DerivedNode(name, compute, when, expression));
        return this;
    }

    /// <summary>Adds <paramref name="count"/> repetitions of a block (the count itself may be a range: it becomes parameter <paramref name="name"/>).</summary>
    public SearchSpace Repeat(string name, IntDistribution count, Action<SearchSpace> block, Condition? when = null)
    {
        CheckName(name);
        count.Validate(name);
        if (count.Low < 0) throw new SearchSpaceException(name, $"a repeat count must be ≥ 0, got low = {count.Low}");
        CheckCondition(name, when);
        CheckUnique(name, when);
        var sub = new SearchSpace { _enclosing = this };
        block(sub);
        _nodes.Add(new RepeatNode(name, count, sub, when));
        return this;
    }

    /// <summary>Adds a fixed number of repetitions of a block.</summary>
    public SearchSpace Repeat(string name, int count, Action<SearchSpace> block, Condition? when = null) =>
        Repeat(name, new IntDistribution(count, count), block, when);

    private void AddConditioned(SpaceNode node, Condition condition)
    {
        // A node already conditioned inside the branch keeps its own (narrower) condition: its parent is conditioned on ours.
        var when = node.When ?? condition;
        CheckCondition(node.Name, when);
        CheckUnique(node.Name, when);
        _nodes.Add(node with { When = when });
    }

    private static void CheckName(string name)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new SearchSpaceException("a parameter name must not be empty");
    }

    private void CheckCondition(string name, Condition? when)
    {
        if (when is null) return;
        SpaceNode? parent = null;
        for (var scope = this; scope is not null && parent is null; scope = scope._enclosing)
            parent = scope._nodes.LastOrDefault(n => n.Name == when.Parent);
        if (parent is null && _isBranch)
            // One condition per parameter: inside a branch it can only narrow the branch by one of the branch's own parameters.
            throw new SearchSpaceException(name, $"its condition names parameter '{when.Parent}', which is not defined before it in the same branch");
        if (parent is null)
            throw new SearchSpaceException(name, $"its condition names parameter '{when.Parent}', which is not defined before it{Spec.ClosestName.Suggest(when.Parent, _nodes.Select(n => n.Name))}");
        if (parent is ParameterNode p)
            foreach (var v in when.Values)
                if (!p.Distribution.Contains(v))
                    throw new SearchSpaceException(name, $"its condition value {ParamValues.Format(v)} is not in '{when.Parent}' ({p.Distribution.Describe()})"
                        + (p.Distribution is CategoricalDistribution c ? Spec.ClosestName.Suggest(ParamValues.Format(v), c.Choices.Select(ParamValues.Format)) : ""));
    }

    private void CheckUnique(string name, Condition? when)
    {
        foreach (var existing in _nodes.Where(n => n.Name == name))
        {
            // Two nodes may share a name only on disjoint values of the same parent (exclusive branches).
            var disjoint = when is not null && existing.When is not null && existing.When.Parent == when.Parent
                && !existing.When.Values.Any(v => when.Values.Any(w => ParamValues.AreEqual(v, w)));
            if (!disjoint) throw new SearchSpaceException(name, "is defined twice");
        }
    }

    /// <summary>Walks the space against a suggester (a trial): draws every active parameter and returns the configuration.</summary>
    public Configuration Sample(IParameterSuggester suggester)
    {
        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        Walk(suggester, values, "");
        return new Configuration(values);
    }

    private void Walk(IParameterSuggester suggester, Dictionary<string, object?> values, string prefix)
    {
        foreach (var node in _nodes)
        {
            if (!IsActive(node.When, values, prefix)) continue;
            var full = prefix + node.Name;
            switch (node)
            {
                case ParameterNode p:
                    values[full] = suggester.Suggest(full, p.Distribution);
                    break;
                case DerivedNode d:
                    object? v;
                    try { v = ParamValues.Normalize(d.Compute(new Configuration(values, prefix))); }
                    catch (Exception) when (suggester is Replay { Complete: false })
                    {
                        // Checking a partial combination (the sampler draws the rest): a value derived from one not given
                        // is not known yet, and the check goes on with the values that are.
                        v = null;
                    }
                    catch (Exception e) when (e is not SearchSpaceException)
                    {
                        throw new SearchSpaceException(full, $"computing the derived value failed: {e.Message}{InactiveHint(full, e.Message, values, prefix)}");
                    }
                    values[full] = v;
                    suggester.SetDerived(full, v);
                    break;
                case RepeatNode r:
                    long count;
                    if (r.Count.IsSingle)
                    {
                        count = r.Count.Low;
                        suggester.SetDerived(full, count);
                    }
                    else count = ParamValues.TryToLong(suggester.Suggest(full, r.Count), out var c) ? c : r.Count.Low;
                    values[full] = count;
                    for (var i = 0; i < count; i++)
                        r.Block.Walk(suggester, values, $"{full}.{i}.");
                    break;
            }
        }
    }

    // When a derived value failed on a parameter of a branch this trial did not take: which branch it belongs to.
    private string InactiveHint(string derived, string message, Dictionary<string, object?> values, string prefix)
    {
        foreach (var group in _nodes.Where(n => n.When is not null && message.Contains($"'{n.Name}'", StringComparison.Ordinal)
                     && !values.ContainsKey(prefix + n.Name)).GroupBy(n => n.Name, StringComparer.Ordinal))
        {
            var parent = group.First().When!.Parent;
            if (group.Any(n => n.When!.Parent != parent)) continue;
            var cases = string.Join(" or ", group.SelectMany(n => n.When!.Values).Select(ParamValues.Format));
            var actual = values.TryGetValue(prefix + parent, out var v) || values.TryGetValue(parent, out v) ? $"{parent} = {ParamValues.Format(v)}" : $"no {parent}";
            return $" ('{group.Key}' exists only when {parent} is {cases}, and this trial has {actual}: define '{derived}' in that branch, or read '{group.Key}' only when {parent} is {cases})";
        }
        return "";
    }

    private static bool IsActive(Condition? when, Dictionary<string, object?> values, string prefix)
    {
        if (when is null) return true;
        if (!(prefix.Length > 0 && values.TryGetValue(prefix + when.Parent, out var parent)) && !values.TryGetValue(when.Parent, out parent))
            return false;
        return when.Values.Any(v => ParamValues.AreEqual(v, parent));
    }

    /// <summary>
    /// Checks values given for this space's parameters (a <c>--set name=value</c>, an enqueued combination) and coerces each
    /// onto its parameter's type. The one coercion the run and enqueue commands share.
    /// </summary>
    /// <param name="values">Values by parameter name, as read from a command line, JSON or a CSV.</param>
    /// <returns>The coerced values, by name.</returns>
    /// <exception cref="SearchSpaceException">A name that is not one of the space's parameters (the message lists them), or a value its distribution rejects.</exception>
    public IReadOnlyDictionary<string, object?> CoerceValues(IReadOnlyDictionary<string, object?> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var distributions = new Dictionary<string, Distribution>(StringComparer.Ordinal);
        foreach (var (name, distribution, _) in Flatten()) distributions.TryAdd(name, distribution);
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (name, value) in values)
        {
            if (!distributions.TryGetValue(name, out var distribution))
                throw new SearchSpaceException(name, $"unknown parameter{Spec.ClosestName.Suggest(name, distributions.Keys)} (the parameters: {string.Join(", ", distributions.Keys)})");
            try { result[name] = distribution.Coerce(name, value); }
            catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException or OverflowException)
            {
                throw new SearchSpaceException(name, e.Message);
            }
        }
        return result;
    }

    /// <summary>
    /// Every parameter the space can produce with its distribution, flattened (repeated blocks expanded up to their
    /// largest count). Samplers use it as the joint space; a name shared by exclusive branches appears once per distinct distribution.
    /// </summary>
    public IReadOnlyList<(string Name, Distribution Distribution, Condition? When)> Flatten()
    {
        var list = new List<(string, Distribution, Condition?)>();
        Flatten(list, "");
        return list;
    }

    private void Flatten(List<(string, Distribution, Condition?)> list, string prefix)
    {
        foreach (var node in _nodes)
        {
            var when = node.When is null ? null : node.When with { Parent = ResolveParent(node.When.Parent, prefix) };
            switch (node)
            {
                case ParameterNode p:
                    list.Add((prefix + p.Name, p.Distribution, when));
                    break;
                case RepeatNode r:
                    if (!r.Count.IsSingle) list.Add((prefix + r.Name, r.Count, when));
                    for (var i = 0; i < r.Count.High; i++)
                        r.Block.Flatten(list, $"{prefix}{r.Name}.{i}.");
                    break;
            }
        }
    }

    private string ResolveParent(string parent, string prefix) =>
        prefix.Length > 0 && _nodes.Any(n => n.Name == parent) ? prefix + parent : parent;

    /// <summary>
    /// Why a trial's stored values do not fit this space, or null when they do. The space is walked as a trial would walk
    /// it, taking each value from <paramref name="values"/>, so conditions count: a parameter must be present exactly when
    /// it is active under the trial's own values (a branch's parameters only in that branch), each value inside its
    /// distribution, and no value left over that the walk never reached (a parameter removed, or one that is inactive for
    /// these values).
    /// </summary>
    /// <param name="values">The trial's parameters (sampled and fixed) by full name.</param>
    /// <param name="complete">True for a finished trial, which drew every active parameter: an active one it lacks is a
    /// misfit. False for a trial still waiting or running, which may not have drawn them all yet.</param>
    /// <param name="spaceName">How the messages name this space (checking stored trials against a changed space: "the new space").</param>
    public string? Misfit(IReadOnlyDictionary<string, object?> values, bool complete = true, string spaceName = "the new space")
    {
        ArgumentNullException.ThrowIfNull(values);
        var replay = new Replay(values, complete, spaceName);
        try { Walk(replay, new Dictionary<string, object?>(StringComparer.Ordinal), ""); }
        catch (SearchSpaceException e) { return complete ? e.Message : null; }
        catch (MisfitException e) { return e.Message; }
        var leftover = values.Keys.Where(k => !replay.Reached.Contains(k)).Order(StringComparer.Ordinal).FirstOrDefault();
        if (leftover is null) return null;
        return Flatten().Any(x => x.Name == leftover)
            ? $"it has parameter '{leftover}', which is inactive in {spaceName} for these values{ActiveWhen(leftover)}"
            : $"it has parameter '{leftover}', which {spaceName} lacks";

        // The condition under which the parameter is active (": it is used only when opt in [sgd]"); none to name when a
        // node of that name has no condition of its own (it hangs under a repeat or a nested branch).
        string ActiveWhen(string name)
        {
            var conditions = Flatten().Where(x => x.Name == name).Select(x => x.When?.ToString()).ToList();
            return conditions.Any(c => c is null) ? "" : ": it is used only when " + string.Join(" or ", conditions);
        }
    }

    private sealed class MisfitException(string message) : Exception(message);

    // Hands the walk the trial's own values, checking each against the node's distribution.
    private sealed class Replay(IReadOnlyDictionary<string, object?> values, bool complete, string spaceName) : IParameterSuggester
    {
        public bool Complete => complete;

        public HashSet<string> Reached { get; } = new(StringComparer.Ordinal);

        public object? Suggest(string name, Distribution distribution)
        {
            Reached.Add(name);
            if (!values.TryGetValue(name, out var value))
            {
                if (complete) throw new MisfitException($"it lacks parameter '{name}' ({distribution.Describe()}), which {spaceName} draws for its values");
                return null; // not drawn yet: what hangs on it stays inactive
            }
            if (!distribution.Contains(value))
                throw new MisfitException($"{name} = {ParamValues.Format(value)} is outside {distribution.Describe()}");
            return value;
        }

        public void SetDerived(string name, object? value) => Reached.Add(name);
    }

    /// <summary>True when the space has no conditions, derived values or repeats: every parameter always exists.</summary>
    public bool IsFlat => _nodes.All(n => n is ParameterNode { When: null });
}
