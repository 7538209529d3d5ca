using YamlDotNet.RepresentationModel;

namespace Tunesmith.Spaces.Spec;

/// <summary>
/// Builds a <see cref="SearchSpace"/> from the <c>space:</c> mapping of a study file, checking every entry with its
/// line and column: <c>float</c>/<c>int</c> (with <c>log</c>, <c>step</c>), <c>choice</c>, <c>when</c>, <c>branch</c>,
/// <c>repeat</c>, <c>expr</c>, and plain constants.
/// </summary>
internal sealed class SearchSpaceReader
{
    private static readonly string[] Kinds = ["float", "int", "choice", "expr", "branch", "repeat"];
    private static readonly Dictionary<string, string[]> KeysByKind = new()
    {
        ["float"] = ["float", "log", "step", "when"],
        ["int"] = ["int", "log", "step", "when"],
        ["choice"] = ["choice", "when"],
        ["expr"] = ["expr", "when"],
        ["branch"] = ["branch", "when"],
        ["repeat"] = ["repeat", "when"],
    };
    private static readonly string[] AllKeys = ["float", "int", "choice", "expr", "branch", "repeat", "log", "step", "when"];

    /// <summary>Names a command template or an expression may not use for a parameter.</summary>
    public static readonly IReadOnlyList<string> ReservedNames = ["trial_number", "trial_dir"];

    private readonly YamlSource _source;

    // Each expression read, with where it stands in the file, for the check after the whole space is read.
    private readonly Dictionary<SpaceExpression, (YamlNode Body, string Field, Func<int, int> Column)> _expressions = new(ReferenceEqualityComparer.Instance);

    public SearchSpaceReader(YamlSource source)
    {
        _source = source;
    }

    /// <summary>Ray Tune's and Optuna's names for a parameter's shape, and how the shape is written here.</summary>
    private static readonly Dictionary<string, string> ForeignShapes = new(StringComparer.OrdinalIgnoreCase)
    {
        ["uniform"] = "Ray Tune's uniform is { float: [low, high] } here",
        ["quniform"] = "Ray Tune's quniform is { float: [low, high], step: q } here",
        ["loguniform"] = "Ray Tune's loguniform is { float: [low, high], log: true } here",
        ["qloguniform"] = "Ray Tune's qloguniform is { float: [low, high], log: true } here (a log scale takes no step)",
        ["randint"] = "Ray Tune's randint is { int: [low, high] } here, and high is included (randint excludes it)",
        ["qrandint"] = "Ray Tune's qrandint is { int: [low, high], step: q } here",
        ["lograndint"] = "Ray Tune's lograndint is { int: [low, high], log: true } here, and high is included",
        ["grid_search"] = "Ray Tune's grid_search is { choice: [a, b] } here, with sampler: grid",
        ["sample_from"] = "Ray Tune's sample_from is { expr: \"...\" } here, computed from the parameters above it",
        ["categorical"] = "Optuna's categorical is { choice: [a, b] } here",
        ["suggest_categorical"] = "Optuna's suggest_categorical is { choice: [a, b] } here",
        ["suggest_float"] = "Optuna's suggest_float is { float: [low, high] } here (log: true, step: q)",
        ["suggest_int"] = "Optuna's suggest_int is { int: [low, high] } here (log: true, step: q)",
        ["suggest_uniform"] = "Optuna's suggest_uniform is { float: [low, high] } here",
        ["suggest_loguniform"] = "Optuna's suggest_loguniform is { float: [low, high], log: true } here",
        ["parameterType"] = "Katib's parameterType and feasibleSpace are one key here: double is { float: [min, max] }, int is { int: [min, max] }, categorical and discrete are { choice: [...] }, and feasibleSpace's step is step:",
        ["feasibleSpace"] = "Katib's parameterType and feasibleSpace are one key here: double is { float: [min, max] }, int is { int: [min, max] }, categorical and discrete are { choice: [...] }, and feasibleSpace's step is step:",
    };

    /// <summary>A flat namespace: the top level (with every branch's parameters, which share it), or one repeated block.</summary>
    private sealed class Namespace(Namespace? global)
    {
        public HashSet<string> Names { get; } = new(StringComparer.Ordinal);
        public Namespace Global => global ?? this;
    }

    /// <summary>The parameters of the <see cref="SearchSpace"/> object being filled: what a <c>when</c> may name.</summary>
    private sealed class Scope(Namespace ns, string kind)
    {
        public Namespace Namespace { get; } = ns;
        public string Kind { get; } = kind;
        public Dictionary<string, Distribution?> Local { get; } = new(StringComparer.Ordinal);
    }

    public SearchSpace Read(YamlNode? node, string field)
    {
        var space = new SearchSpace();
        if (node is null or YamlScalarNode { Value: null or "" } || (node is YamlScalarNode s && YamlSource.Scalar(s) is null)) return space;
        var global = new Namespace(null);
        ReadInto(space, _source.Mapping(node, field, "{ lr: { float: [1.0e-5, 1.0e-1], log: true } }"), field, new Scope(global, "top"));
        CheckBranchReads(space, null, []);
        return space;
    }

    private void ReadInto(SearchSpace space, YamlMappingNode mapping, string field, Scope scope)
    {
        foreach (var (name, keyNode, value) in _source.Entries(mapping, field))
        {
            var paramField = YamlSource.Join(field, name);
            CheckName(name, keyNode, paramField);
            if (scope.Local.ContainsKey(name) || (scope.Namespace.Names.Contains(name) && scope.Kind != "branch"))
                throw _source.Error(keyNode, paramField, $"parameter '{name}' is defined twice");
            ReadParameter(space, name, value, paramField, scope);
        }
    }

    private void CheckName(string name, YamlNode keyNode, string field)
    {
        if (name.Length == 0 || !(char.IsAsciiLetter(name[0]) || name[0] == '_') || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or '-')))
            throw _source.Error(keyNode, field, $"'{name}' is not a valid parameter name (letters, digits, '_' and '-', starting with a letter or '_')");
        if (ReservedNames.Contains(name))
            throw _source.Error(keyNode, field, $"'{name}' is reserved for the command template; choose another name");
    }

    private void ReadParameter(SearchSpace space, string name, YamlNode value, string field, Scope scope)
    {
        if (value is YamlScalarNode scalar)
        {
            // A plain value is a constant: it reaches the command and the objective like any parameter, and is never sampled.
            var constant = YamlSource.Scalar(scalar);
            Guard(value, field, () => space.Derived(name, _ => constant));
            Declare(scope, name, null);
            return;
        }
        if (value is YamlSequenceNode)
            throw _source.Error(value, field, "expected a mapping such as { choice: [a, b] } (a bare list is ambiguous)");
        var spec = (YamlMappingNode)value;
        var kinds = _source.Entries(spec, field).Where(e => Kinds.Contains(e.Key)).ToList();
        if (kinds.Count == 0)
        {
            foreach (var (key, kn, _) in _source.Entries(spec, field))
                if (!AllKeys.Contains(key))
                    throw _source.Error(kn, YamlSource.Join(field, key), $"unknown key '{key}'{(ForeignShapes.TryGetValue(key, out var ours) ? $" ({ours})" : ClosestName.Suggest(key, AllKeys))} (a parameter is one of: {string.Join(", ", Kinds)})");
            throw _source.Error(spec, field, $"a parameter needs one of: {string.Join(", ", Kinds)}");
        }
        if (kinds.Count > 1)
            throw _source.Error(kinds[1].KeyNode, YamlSource.Join(field, kinds[1].Key), $"a parameter has one kind, found both '{kinds[0].Key}' and '{kinds[1].Key}'");
        var (kind, _, body) = kinds[0];
        _source.CheckKeys(spec, field, KeysByKind[kind]);
        var entries = _source.Entries(spec, field).ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
        var when = entries.TryGetValue("when", out var whenNode) ? ReadCondition(whenNode, YamlSource.Join(field, "when"), scope) : null;

        switch (kind)
        {
            case "float":
            case "int":
            {
                var distribution = ReadNumeric(kind, body, entries, field);
                Guard(body, field, () => space.Add(name, distribution, when));
                Declare(scope, name, distribution);
                break;
            }
            case "choice":
            {
                var distribution = ReadChoice(body, YamlSource.Join(field, "choice"));
                Guard(body, field, () => space.Add(name, distribution, when));
                Declare(scope, name, distribution);
                break;
            }
            case "expr":
            {
                var expression = ReadExpression(body, YamlSource.Join(field, "expr"), scope);
                // The method itself (not a lambda) is the compute function, so the check after reading finds the expression again.
                Guard(body, field, () => space.Derived(name, expression.Evaluate, when, expression.Text));
                Declare(scope, name, null);
                break;
            }
            case "branch":
                ReadBranch(space, name, body, when, YamlSource.Join(field, "branch"), scope);
                break;
            case "repeat":
                ReadRepeat(space, name, body, when, YamlSource.Join(field, "repeat"), scope);
                break;
        }
    }

    private static void Declare(Scope scope, string name, Distribution? distribution)
    {
        scope.Local[name] = distribution;
        scope.Namespace.Names.Add(name);
    }

    /// <summary>Runs a <see cref="SearchSpace"/> call, turning its <see cref="SearchSpaceException"/> into a located error.</summary>
    private void Guard(YamlNode node, string field, Action add)
    {
        try { add(); }
        catch (SearchSpaceException e)
        {
            throw _source.Error(node, field, Problem(e));
        }
    }

    private static string Problem(SearchSpaceException e)
    {
        var prefix = e.Parameter is null ? null : $"parameter '{e.Parameter}': ";
        return prefix is not null && e.Message.StartsWith(prefix, StringComparison.Ordinal) ? e.Message[prefix.Length..] : e.Message;
    }

    private Distribution ReadNumeric(string kind, YamlNode body, Dictionary<string, YamlNode> entries, string field)
    {
        var rangeField = YamlSource.Join(field, kind);
        var range = _source.Sequence(body, rangeField, $"[low, high]");
        if (range.Children.Count != 2)
            throw _source.Error(range, rangeField, $"expected [low, high], got a list of {range.Children.Count}");
        var log = entries.TryGetValue("log", out var logNode) && _source.Boolean(logNode, YamlSource.Join(field, "log"));
        Distribution distribution;
        if (kind == "int")
        {
            var low = _source.Integer(range.Children[0], rangeField);
            var high = _source.Integer(range.Children[1], rangeField);
            var step = entries.TryGetValue("step", out var stepNode) ? _source.Integer(stepNode, YamlSource.Join(field, "step")) : 1;
            distribution = new IntDistribution(low, high, log, step);
        }
        else
        {
            var low = _source.Number(range.Children[0], rangeField);
            var high = _source.Number(range.Children[1], rangeField);
            double? step = entries.TryGetValue("step", out var stepNode) ? _source.Number(stepNode, YamlSource.Join(field, "step")) : null;
            distribution = new FloatDistribution(low, high, log, step);
        }
        // A step problem points at the step; every other one (bounds, log with low ≤ 0) at the range.
        try { distribution.Validate(field); }
        catch (SearchSpaceException e)
        {
            var problem = Problem(e);
            if (problem.StartsWith("step", StringComparison.Ordinal) && entries.TryGetValue("step", out var stepAt))
                throw _source.Error(stepAt, YamlSource.Join(field, "step"), problem);
            throw _source.Error(range, field, problem);
        }
        return distribution;
    }

    private CategoricalDistribution ReadChoice(YamlNode body, string field)
    {
        var list = _source.Sequence(body, field, "[adam, sgd]");
        if (list.Children.Count == 0) throw _source.Error(list, field, "choices must not be empty");
        var values = new List<object?>();
        foreach (var item in list.Children)
        {
            if (item is not YamlScalarNode s)
                throw _source.Error(item, field, $"a choice must be a string, number, boolean or null, got {YamlSource.Describe(item)}");
            var v = YamlSource.Scalar(s);
            if (values.Any(existing => ParamValues.AreEqual(existing, v)))
                throw _source.Error(item, field, $"choice {ParamValues.Format(v)} appears twice");
            values.Add(v);
        }
        return new CategoricalDistribution(values);
    }

    private Condition ReadCondition(YamlNode node, string field, Scope scope)
    {
        var mapping = _source.Mapping(node, field, "{ optimizer: sgd }");
        var entries = _source.Entries(mapping, field).ToList();
        if (entries.Count != 1)
            throw _source.Error(mapping, field, $"a condition names exactly one parameter, e.g. {{ optimizer: sgd }}, got {entries.Count}");
        var (parent, keyNode, valueNode) = entries[0];
        var parentField = YamlSource.Join(field, parent);
        if (!scope.Local.TryGetValue(parent, out var distribution))
        {
            // A repetition's parameter (layers.0.kind) is defined, and an expression may read it, but a when may not name it.
            if (parent.IndexOf('.', StringComparison.Ordinal) is > 0 and var dot && scope.Namespace.Names.Contains(parent))
                throw _source.Error(keyNode, parentField,
                    $"names '{parent}', a parameter of one repetition of repeat '{parent[..dot]}', which a condition cannot name (a `when` names a " +
                    $"parameter of its own level); define this parameter inside the repeated block, where `when` may name the block's " +
                    $"'{parent[(parent.LastIndexOf('.') + 1)..]}', or, for a derived value, read it in a guarded expr: \"... if {parent} == ... else ...\"");
            var where = scope.Kind switch
            {
                "branch" => " in the same branch (a condition inside a branch may name only that branch's parameters)",
                "block" => " in the same repeated block (a condition inside a block may name only that block's parameters)",
                _ => " before it",
            };
            throw _source.Error(keyNode, parentField,
                $"names parameter '{parent}', which is not defined{where}{ClosestName.Suggest(parent, scope.Local.Keys)}");
        }
        var values = valueNode is YamlSequenceNode seq
            ? seq.Children.Select(c => c is YamlScalarNode s ? YamlSource.Scalar(s) : throw _source.Error(c, parentField, $"a condition value must be a single value, got {YamlSource.Describe(c)}")).ToList()
            : [_source.ScalarValue(valueNode, parentField)];
        if (values.Count == 0) throw _source.Error(valueNode, parentField, "a condition needs at least one value");
        if (distribution is not null)
            foreach (var v in values)
                if (!distribution.Contains(v))
                    throw _source.Error(valueNode, parentField, $"value {ParamValues.Format(v)} is not in '{parent}' ({distribution.Describe()}){(distribution is CategoricalDistribution c ? ClosestName.Suggest(ParamValues.Format(v), c.Choices.Select(ParamValues.Format)) : "")}");
        return new Condition(parent, values.Select(ParamValues.Normalize).ToArray());
    }

    private SpaceExpression ReadExpression(YamlNode body, string field, Scope scope)
    {
        var text = _source.String(body, field);
        // Offsets inside the text map to columns only for a one-line scalar; a quoted one starts one column later.
        var scalar = (YamlScalarNode)body;
        var shift = scalar.Style is YamlDotNet.Core.ScalarStyle.SingleQuoted or YamlDotNet.Core.ScalarStyle.DoubleQuoted ? 1 : 0;
        var oneLine = body.Start.Line == body.End.Line;
        int Column(int offset) => oneLine ? shift + offset : 0;
        SpaceExpression expression;
        try { expression = SpaceExpression.Parse(text); }
        catch (ExpressionException e)
        {
            throw _source.Error(body, Column(e.Position), field, $"{e.Message} in \"{text}\"");
        }
        foreach (var (name, position) in expression.NameReferences)
        {
            if (scope.Namespace.Names.Contains(name) || scope.Namespace.Global.Names.Contains(name)) continue;
            var known = scope.Namespace.Names.Concat(scope.Namespace.Global.Names).Distinct();
            throw _source.Error(body, Column(position), field,
                $"names parameter '{name}', which is not defined before it{ClosestName.Suggest(name, known)}");
        }
        _expressions[expression] = (body, field, Column);
        return expression;
    }

    private void ReadBranch(SearchSpace space, string name, YamlNode body, Condition? when, string field, Scope scope)
    {
        var mapping = _source.Mapping(body, field, "{ linear: { C: { float: [0.001, 1000], log: true } }, rbf: { ... } }");
        var cases = _source.Entries(mapping, field).ToList();
        if (cases.Count == 0) throw _source.Error(mapping, field, "a branch needs at least one case");
        var values = cases.Select(c => YamlSource.Scalar(c.KeyNode)).ToArray();
        var choice = new CategoricalDistribution(values);
        Guard(body, field, () => space.Choice(name, values, when));
        Declare(scope, name, choice);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (caseName, caseKey, caseBody) in cases)
        {
            var caseField = YamlSource.Join(field, caseName);
            var sub = new SearchSpace();
            var subScope = new Scope(scope.Namespace, "branch");
            if (caseBody is not YamlScalarNode s || YamlSource.Scalar(s) is not null)
                ReadInto(sub, _source.Mapping(caseBody, caseField, "{ C: { float: [0.001, 1000], log: true } }"), caseField, subScope);
            foreach (var n in subScope.Local.Keys)
            {
                if (scope.Local.ContainsKey(n) && !names.Contains(n))
                    throw _source.Error(caseKey, YamlSource.Join(caseField, n), $"parameter '{n}' is already defined outside the branch");
                names.Add(n);
            }
            var value = YamlSource.Scalar(caseKey);
            Guard(caseKey, caseField, () => space.When(name, [value], b =>
            {
                foreach (var node in sub.Nodes) Copy(b, node);
            }));
        }
        // Branch parameters live in the enclosing space, so a later `when` there may name them.
        foreach (var n in names) scope.Local.TryAdd(n, null);
    }

    private static void Copy(SearchSpace target, SpaceNode node)
    {
        switch (node)
        {
            case ParameterNode p: target.Add(p.Name, p.Distribution, p.When); break;
            case DerivedNode d: target.Derived(d.Name, d.Compute, d.When, d.Expression); break;
            case RepeatNode r: target.Repeat(r.Name, r.Count, b => { foreach (var n in r.Block.Nodes) Copy(b, n); }, r.When); break;
        }
    }

    private void ReadRepeat(SearchSpace space, string name, YamlNode body, Condition? when, string field, Scope scope)
    {
        var mapping = _source.Mapping(body, field, "{ count: { int: [1, 4] }, block: { units: { int: [16, 256] } } }");
        _source.CheckKeys(mapping, field, ["count", "block"]);
        var entries = _source.Entries(mapping, field).ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
        if (!entries.TryGetValue("count", out var countNode)) throw _source.Error(mapping, field, "a repeat needs a count (an integer or { int: [low, high] })");
        if (!entries.TryGetValue("block", out var blockNode)) throw _source.Error(mapping, field, "a repeat needs a block of parameters");
        var countField = YamlSource.Join(field, "count");
        IntDistribution count;
        if (countNode is YamlScalarNode)
        {
            var n = _source.Integer(countNode, countField);
            count = new IntDistribution(n, n);
        }
        else
        {
            var countSpec = _source.Mapping(countNode, countField, "{ int: [1, 4] }");
            _source.CheckKeys(countSpec, countField, ["int", "log", "step"]);
            var countEntries = _source.Entries(countSpec, countField).ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
            if (!countEntries.TryGetValue("int", out var range)) throw _source.Error(countSpec, countField, "a repeat count is an integer or { int: [low, high] }");
            count = (IntDistribution)ReadNumeric("int", range, countEntries, countField);
        }
        if (count.Low < 0) throw _source.Error(countNode, countField, $"a repeat count must be ≥ 0, got {count.Low}");
        var blockField = YamlSource.Join(field, "block");
        var sub = new SearchSpace();
        var blockScope = new Scope(new Namespace(scope.Namespace.Global), "block");
        ReadInto(sub, _source.Mapping(blockNode, blockField, "{ units: { int: [16, 256] } }"), blockField, blockScope);
        Guard(body, field, () => space.Repeat(name, count, b => { foreach (var n in sub.Nodes) Copy(b, n); }, when));
        Declare(scope, name, count.IsSingle ? null : count);
        // An expression after the repeat may read one repetition's values by their dotted names (layers.0.units).
        var blockNames = AllNames(sub);
        for (var i = 0; i < count.High; i++)
            foreach (var n in blockNames) scope.Namespace.Names.Add($"{name}.{i}.{n}");
    }

    /// <summary>
    /// Refuses an expression that reads a parameter of a branch it is not in, where some value of the branch's choice
    /// leaves that parameter without a value while the expression still reads it (every such trial would fail). A guard
    /// that reads it only inside its branch (<c>C * 2 if model == 'svm' else 0</c>) passes. Only what can be decided from
    /// the choices is refused: a guard on a sampled number passes, and the trial reports the failure if it happens.
    /// Repeated blocks are checked too, each as a space of its own whose names resolve to the block first, then to the top
    /// level (<paramref name="top"/>); <paramref name="enclosing"/> holds the conditions the block's repeat exists under.
    /// </summary>
    private void CheckBranchReads(SearchSpace space, Dictionary<string, List<SpaceNode>>? top, List<Condition> enclosing)
    {
        var byName = space.Nodes.GroupBy(n => n.Name, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        // One repetition's values by their dotted names (layers.0.C), with their conditions named the same way
        // (layers.0.kind), so that a read of a branch parameter inside a block is checked as a plain one is.
        AddRepetitions(byName, space, "", null);
        if (top is not null)
            foreach (var (name, nodes) in top) byName.TryAdd(name, nodes);
        foreach (var repeat in space.Nodes.OfType<RepeatNode>())
            CheckBranchReads(repeat.Block, top ?? byName, [.. Chain(repeat, byName), .. enclosing]);
        foreach (var derived in space.Nodes.OfType<DerivedNode>())
        {
            if (derived.Compute.Target is not SpaceExpression expression || !_expressions.TryGetValue(expression, out var at)) continue;
            foreach (var (read, position) in expression.NameReferences.DistinctBy(r => r.Name))
            {
                CheckBlockRead(derived, expression, at, read, position, byName, enclosing);
                if (!byName.TryGetValue(read, out var readNodes) || readNodes.Any(n => n.When is null)) continue;
                // The parameter exists for these values of one choice (one branch case, or several cases that share the name).
                var parent = readNodes[0].When!.Parent;
                if (readNodes.Any(n => n.When!.Parent != parent)) continue;
                var values = readNodes.SelectMany(n => n.When!.Values).ToList();
                var derivedChain = Chain(derived, byName).Concat(enclosing).ToList();
                if (derivedChain.Any(c => c.Parent == parent && c.Values.All(v => values.Any(w => ParamValues.AreEqual(v, w))))) continue;
                if (!byName.TryGetValue(parent, out var parentNodes) || parentNodes is not [ParameterNode { Distribution: CategoricalDistribution choices } parentNode]) continue;
                foreach (var other in choices.Choices.Where(c => !values.Any(v => ParamValues.AreEqual(v, c))))
                {
                    var known = new Dictionary<string, object?>(StringComparer.Ordinal) { [parent] = other };
                    if (!Pin(known, derivedChain) || !Pin(known, Chain(parentNode, byName)) || !expression.SurelyReads(read, known)) continue;
                    var cases = string.Join(" or ", values.Select(ParamValues.Format));
                    var guard = $"{read} if {parent} == {Quote(values[0])} else ...";
                    // A repetition's branch (layers.0.kind) has no place to define the expression in; only a guard helps.
                    var define = read.Contains('.') ? "" : $"define '{derived.Name}' inside that branch, or ";
                    throw _source.Error(at.Body, at.Column(position), at.Field,
                        $"reads '{read}', which exists only when {parent} is {cases}, and has no value when {parent} = {ParamValues.Format(other)} " +
                        $"(every such trial would fail): {define}guard the read, e.g. \"{guard}\"");
                }
            }
        }

        static string Quote(object? v) => v is string s ? $"'{s}'" : ParamValues.Format(v);
    }

    // Adds every repetition's nodes under their dotted names (prefix + name), up to the largest count. A condition on a
    // name of the same block is renamed to that repetition's name (kind → layers.0.kind); a node with no condition of
    // its own exists when its repeat does, so it takes the repeat's condition.
    private static void AddRepetitions(Dictionary<string, List<SpaceNode>> byName, SearchSpace space, string prefix, Condition? inherited)
    {
        foreach (var node in space.Nodes)
        {
            var when = node.When is null ? inherited
                : prefix.Length > 0 && space.Nodes.Any(n => n.Name == node.When.Parent) ? node.When with { Parent = prefix + node.When.Parent } : node.When;
            if (prefix.Length > 0)
            {
                if (!byName.TryGetValue(prefix + node.Name, out var list)) byName[prefix + node.Name] = list = [];
                list.Add(node with { Name = prefix + node.Name, When = when });
            }
            if (node is RepeatNode repeat)
                for (var i = 0; i < repeat.Count.High; i++)
                    AddRepetitions(byName, repeat.Block, $"{prefix}{repeat.Name}.{i}.", when);
        }
    }

    // A read of one repetition's value (layers.2.units) where the repeat's count may stop short of that repetition.
    private void CheckBlockRead(DerivedNode derived, SpaceExpression expression, (YamlNode Body, string Field, Func<int, int> Column) at,
        string read, int position, Dictionary<string, List<SpaceNode>> byName, List<Condition> enclosing)
    {
        var parts = read.Split('.');
        if (parts.Length < 3 || !int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index)) return;
        if (!byName.TryGetValue(parts[0], out var nodes) || nodes is not [RepeatNode repeat] || repeat.Count.IsSingle || index < repeat.Count.Low) return;
        for (var count = repeat.Count.Low; count <= index && count <= repeat.Count.High; count += repeat.Count.Step)
        {
            var known = new Dictionary<string, object?>(StringComparer.Ordinal) { [repeat.Name] = count };
            if (!Pin(known, [.. Chain(derived, byName), .. enclosing]) || !Pin(known, Chain(repeat, byName)) || !expression.SurelyReads(read, known)) continue;
            throw _source.Error(at.Body, at.Column(position), at.Field,
                $"reads '{read}', which exists only when {repeat.Name} is at least {index + 1}, and has no value when {repeat.Name} = {count} " +
                $"(every such trial would fail): guard the read, e.g. \"{read} if {repeat.Name} > {index} else ...\"");
        }
    }

    // The conditions a node's existence rests on: its own, then its parent's, and so on up.
    private static List<Condition> Chain(SpaceNode node, Dictionary<string, List<SpaceNode>> byName)
    {
        var chain = new List<Condition>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var when = node.When; when is not null && seen.Add(when.Parent);)
        {
            chain.Add(when);
            when = byName.TryGetValue(when.Parent, out var parents) && parents.Count == 1 ? parents[0].When : null;
        }
        return chain;
    }

    // Adds the values the conditions force (one value each); false when they contradict the values already there.
    private static bool Pin(Dictionary<string, object?> known, List<Condition> chain)
    {
        foreach (var c in chain)
        {
            if (known.TryGetValue(c.Parent, out var v))
            {
                if (!c.Values.Any(w => ParamValues.AreEqual(v, w))) return false;
            }
            else if (c.Values.Count == 1) known[c.Parent] = c.Values[0];
        }
        return true;
    }

    /// <summary>Every name a configuration drawn from <paramref name="space"/> can hold: parameters, derived values, repeat counts, and block parameters (<c>layers.0.units</c>).</summary>
    public static IReadOnlyList<string> AllNames(SearchSpace space)
    {
        var names = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        Collect(space, "", names, seen);
        return names;
    }

    private static void Collect(SearchSpace space, string prefix, List<string> names, HashSet<string> seen)
    {
        foreach (var node in space.Nodes)
        {
            var full = prefix + node.Name;
            if (seen.Add(full)) names.Add(full);
            if (node is RepeatNode r)
                for (var i = 0; i < r.Count.High; i++)
                    Collect(r.Block, $"{full}.{i}.", names, seen);
        }
    }
}
