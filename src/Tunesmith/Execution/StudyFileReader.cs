using System.Globalization;
using System.Text.RegularExpressions;
using Tunesmith.Backends.Processes;
using Tunesmith.Samplers;
using Tunesmith.Schedulers;
using Tunesmith.Schedulers.Asha;
using Tunesmith.Schedulers.Hyperband;
using Tunesmith.Schedulers.Pbt;
using Tunesmith.Spaces;
using Tunesmith.Spaces.Spec;
using YamlDotNet.RepresentationModel;

namespace Tunesmith.Execution;

/// <summary>Reads the top level of a study file into a <see cref="StudyFile"/>, with located errors.</summary>
internal static partial class StudyFileReader
{
    private static readonly string[] TopKeys =
    [
        "name", "description", "direction", "metric", "command", "space", "sampler", "scheduler", "trials", "parallel",
        "timeout", "trial_timeout", "retries", "fail_fast", "max_failed_trials", "goal", "resources", "storage", "env", "workdir", "slurm", "metrics",
    ];

    /// <summary>Top-level keys of Ray Tune's and Optuna's that have another name here, with what they are.</summary>
    private static readonly Dictionary<string, string> ForeignTopKeys = new(StringComparer.Ordinal)
    {
        ["mode"] = "Ray Tune's mode (min or max) is direction: (minimize or maximize)",
        ["num_samples"] = "Ray Tune's num_samples is trials:",
        ["n_trials"] = "Optuna's n_trials is trials:",
        ["n_jobs"] = "Optuna's n_jobs is parallel:",
        ["param_space"] = "Ray Tune's param_space is space:",
        ["pruner"] = "Optuna's pruners are schedulers here: scheduler: { median: ... }",
        ["parallelTrialCount"] = "Katib's parallelTrialCount is parallel:",
        ["maxTrialCount"] = "Katib's maxTrialCount is trials:",
        ["maxFailedTrialCount"] = "Katib's maxFailedTrialCount: N is max_failed_trials: N + 1 (Katib stops when the count exceeds N, here when it reaches it)",
        ["objective"] = "Katib's objective is direction: (type), metric: (objectiveMetricName) and goal:",
        ["objectiveMetricName"] = "Katib's objectiveMetricName is metric:",
        ["additionalMetricNames"] = "every metric a report or result holds is kept; name only the study's metric:",
        ["metricStrategies"] = "Katib's metricStrategies is metrics: { format: key=value, result: last or best }",
        ["algorithm"] = "Katib's algorithm is sampler: (random, grid, tpe, gp for bayesianoptimization, cmaes; hyperband is scheduler: hyperband)",
        ["parameters"] = "Katib's parameters is space:, a mapping of name to shape: lr: { float: [0.01, 0.03] }",
        ["trialTemplate"] = "Katib's trialTemplate is command:, where ${trialParameters.lr} is {lr}",
        ["metricsCollectorSpec"] = "Katib's StdOut metrics collector is metrics: key=value",
        ["earlyStopping"] = "Katib's earlyStopping is scheduler:; medianstop is { median: { min_trials: min_trials_required, warmup_steps: start_step } }",
        ["resumePolicy"] = "a study is always resumable: run the same tunesmith run again",
        ["spec"] = "a Katib Experiment's spec fields are this file's top-level keys (docs/STUDY_FILE.md, Coming from Katib)",
        ["apiVersion"] = "a study file is not a Kubernetes resource: a Katib Experiment's spec fields are this file's top-level keys",
        ["kind"] = "a study file is not a Kubernetes resource: a Katib Experiment's spec fields are this file's top-level keys",
        ["metadata"] = "a study file is not a Kubernetes resource: metadata.name is name:",
    };

    /// <summary>
    /// The study file's text with each <c>env:</c> value replaced by <see cref="StudyFile.RedactedValue"/> and a
    /// <c>storage:</c> URL replaced by its redacted form; everything else (comments, layout) stays as written.
    /// </summary>
    public static string Redact(string text, string sourceName)
    {
        if (YamlSource.LoadRoot(text, sourceName) is not YamlMappingNode top) return text;
        var spans = new List<(int Start, int End, string Replacement)>();
        foreach (var (key, value) in top.Children)
        {
            if (key is not YamlScalarNode { Value: { } name }) continue;
            if (name == "storage" && value is YamlScalarNode { Value: { } url } && Tunesmith.Storage.Sql.PostgresUrl.Redact(url) is var shown && shown != url)
                spans.Add(((int)value.Start.Index, (int)value.End.Index, Quote(shown)));
            else if (name == "env" && value is YamlMappingNode env)
                foreach (var (_, v) in env.Children)
                    if (v is YamlScalarNode)
                        spans.Add(((int)v.Start.Index, (int)v.End.Index, Quote(StudyFile.RedactedValue)));
        }
        var result = new System.Text.StringBuilder(text);
        foreach (var (start, end, replacement) in spans.OrderByDescending(x => x.Start))
            result.Remove(start, end - start).Insert(start, replacement);
        return result.ToString();
    }

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    public static StudyFile Read(string text, string sourceName, string directory)
    {
        var source = new YamlSource(sourceName);
        var root = YamlSource.LoadRoot(text, sourceName)
            ?? throw new StudyFileException(sourceName, 0, 0, null, "the study file is empty");
        var top = source.Mapping(root, "", "name: ..., command: ..., space: { ... }");
        // Independent problems (unknown keys in different sections, a bad value beside them) are all named at once, so a
        // user fixes them in one go; a check that depends on a part already found bad (a command's placeholders on a bad
        // space) is left out.
        var problems = new List<StudyFileException>();
        // Optuna's multi-objective study (directions: [...]) or a list of metrics: said as such, not as an unknown key or
        // 'expected text', and beside the file's other problems.
        var multiObjective = source.Entries(top, "")
            .Where(x => x.Key == "directions" || (x.Key is "direction" or "metric" && x.Value is YamlSequenceNode)).ToList();
        foreach (var (key, keyNode, _) in multiObjective)
            problems.Add(source.Error(keyNode, key, "a study optimizes one metric in one direction (there is no multi-objective study, "
                + "Optuna's directions); give direction: minimize|maximize and metric: NAME, and report the other metrics beside it: they are kept and shown"));
        problems.AddRange(source.UnknownKeys(top, "", TopKeys, ForeignTopKeys).Where(u => u.Field != "directions"));
        T Read<T>(Func<T> read, T fallback)
        {
            try { return read(); }
            catch (StudyFileException x) { problems.Add(x); return fallback; }
        }
        // A key with no value (`trials:`) reads as absent, as YAML users expect.
        var e = source.Entries(top, "").Where(x => !(x.Value is YamlScalarNode s && YamlSource.Scalar(s) is null))
            .Where(x => !multiObjective.Any(m => m.Key == x.Key))
            .ToDictionary(x => x.Key, x => x.Value, StringComparer.Ordinal);

        var space = Read<SearchSpace?>(() => new SearchSpaceReader(source).Read(e.GetValueOrDefault("space"), "space"), null);
        var names = space is null ? [] : SearchSpaceReader.AllNames(space);

        if (!e.TryGetValue("command", out var commandNode))
            problems.Add(source.Error(top, "command", "the study file needs a command, e.g. command: python3 train.py --lr {lr}"));
        var command = commandNode is not null && space is not null ? Read<CommandTemplate?>(() => ReadCommand(source, commandNode, names), null) : null;

        var trials = e.TryGetValue("trials", out var trialsNode) ? Read<int?>(() => Count(source, trialsNode, "trials", 0), null) : null;
        SamplerSpec? sampler = SamplerSpec.Auto;
        if (e.TryGetValue("sampler", out var samplerNode))
            sampler = space is null ? null : Read<SamplerSpec?>(() => ReadSampler(source, samplerNode, space, trials, problems), null);
        SchedulerSpec? scheduler = null;
        var schedulerBad = false;
        if (e.TryGetValue("scheduler", out var schedulerNode))
        {
            try { scheduler = ReadScheduler(source, schedulerNode, space, problems); }
            catch (StudyFileException x) { problems.Add(x); schedulerBad = true; }
        }
        if (samplerNode is not null && sampler is not null && !schedulerBad) sampler = Read<SamplerSpec?>(() => AlignBudgetLevels(source, samplerNode, sampler, scheduler), null);

        var file = new StudyFile
        {
            Name = e.TryGetValue("name", out var nameNode) ? Read(() => ReadName(source, nameNode), "") : DefaultName(sourceName),
            Description = e.TryGetValue("description", out var d) && d is YamlScalarNode { Value.Length: > 0 } ? Read(() => source.String(d, "description"), null) : null,
            Direction = e.TryGetValue("direction", out var dir) ? Read(() => ReadDirection(source, dir), Direction.Minimize) : Direction.Minimize,
            Metric = e.TryGetValue("metric", out var metric) ? Read(() => ReadMetric(source, metric), "value") : "value",
            Command = command!,
            CommandLocation = commandNode is null ? null! : source.Location(commandNode, "command"),
            Space = space!,
            ParameterNames = names,
            Sampler = sampler!,
            Scheduler = scheduler,
            Trials = trials,
            Parallel = e.TryGetValue("parallel", out var par) ? Read(() => Count(source, par, "parallel", 1), 1) : 1,
            Timeout = e.TryGetValue("timeout", out var to) ? Read(() => Duration(source, to, "timeout"), null) : null,
            TrialTimeout = e.TryGetValue("trial_timeout", out var tto) ? Read(() => Duration(source, tto, "trial_timeout"), null) : null,
            Retries = e.TryGetValue("retries", out var r) ? Read(() => Count(source, r, "retries", 0), 0) : 0,
            FailFast = e.TryGetValue("fail_fast", out var ff) && Read(() => source.Boolean(ff, "fail_fast"), false),
            MaxFailedTrials = e.TryGetValue("max_failed_trials", out var mf) ? Read<int?>(() => Count(source, mf, "max_failed_trials", 1), null) : null,
            Goal = e.TryGetValue("goal", out var goalNode) ? Read<double?>(() => ReadGoal(source, goalNode), null) : null,
            Resources = e.TryGetValue("resources", out var res) ? Read(() => ReadResources(source, res, problems), new TrialResources()) : new TrialResources(),
            Storage = e.TryGetValue("storage", out var st) ? Read(() => source.String(st, "storage"), null) : null,
            Env = e.TryGetValue("env", out var env) ? Read(() => ReadEnv(source, env), new Dictionary<string, string>()) : new Dictionary<string, string>(),
            Slurm = e.TryGetValue("slurm", out var slurm) ? Read(() => ReadSlurm(source, slurm, problems), null) : null,
            Metrics = e.TryGetValue("metrics", out var metricsNode) ? Read(() => ReadMetrics(source, metricsNode, problems), null) : null,
            Workdir = e.TryGetValue("workdir", out var wd) ? Read(() => System.IO.Path.GetFullPath(System.IO.Path.Combine(directory, source.String(wd, "workdir"))), null) : null,
            SourceName = sourceName,
            Directory = directory,
            Text = text,
        };
        if (file is { FailFast: true, MaxFailedTrials: { } limit and > 1 } && mf is not null)
            problems.Add(source.Error(mf, "max_failed_trials", $"fail_fast: true stops at the first failed trial, which is max_failed_trials: 1, not {limit}: give one of them"));
        if (file.Metrics?.Step is { } stepName && stepName == file.Metric && metricsNode is not null)
            problems.Add(source.Error(metricsNode, "metrics.step", $"the step's name '{stepName}' is the study's metric: a step is not a metric"));
        if (problems.Count > 0) throw StudyFileException.Of([.. problems.OrderBy(p => p.Line).ThenBy(p => p.Column)]);
        return file;
    }

    // A finite number (YamlSource.Number refuses .nan and .inf).
    private static double ReadGoal(YamlSource source, YamlNode node) => source.Number(node, "goal");

    private static string DefaultName(string sourceName)
    {
        var stem = System.IO.Path.GetFileNameWithoutExtension(sourceName);
        return string.IsNullOrWhiteSpace(stem) ? "study" : stem;
    }

    private static string ReadName(YamlSource source, YamlNode node)
    {
        var name = source.String(node, "name").Trim();
        if (name.Length == 0 || name.Any(char.IsControl))
            throw source.Error(node, "name", "a study name must be non-empty text on one line");
        return name;
    }

    private static string ReadMetric(YamlSource source, YamlNode node)
    {
        var metric = source.String(node, "metric").Trim();
        if (metric.Length == 0) throw source.Error(node, "metric", "the metric name must not be empty");
        return metric;
    }

    private static Direction ReadDirection(YamlSource source, YamlNode node)
    {
        var text = source.String(node, "direction");
        return text.ToLowerInvariant() switch
        {
            "minimize" or "min" => Direction.Minimize,
            "maximize" or "max" => Direction.Maximize,
            _ => throw source.Error(node, "direction", $"expected minimize or maximize, got '{text}'{ClosestName.Suggest(text, ["minimize", "maximize"])}"),
        };
    }

    private static int Count(YamlSource source, YamlNode node, string field, int min)
    {
        var v = source.Integer(node, field);
        if (v < min || v > int.MaxValue) throw source.Error(node, field, $"must be an integer ≥ {min}, got {v}");
        return (int)v;
    }

    private static CommandTemplate ReadCommand(YamlSource source, YamlNode node, IReadOnlyList<string> names)
    {
        CommandTemplate command;
        if (node is YamlSequenceNode list)
        {
            var items = list.Children.Select(c => c is YamlScalarNode s && s.Value is not null
                ? s.Value : throw source.Error(c, "command", $"each argument must be text, got {YamlSource.Describe(c)}")).ToList();
            try { command = CommandTemplate.FromArguments(items); }
            catch (CommandTemplateException x)
            {
                throw source.Error(list.Children.Count > x.Position ? list.Children[x.Position] : list, "command", x.Message);
            }
            foreach (var part in command.Arguments.SelectMany(a => a.Parts).Where(p => p.IsPlaceholder))
                CheckPlaceholder(source, list.Children[part.Offset], 0, part.Text, names);
            return command;
        }
        var text = source.String(node, "command");
        var scalar = (YamlScalarNode)node;
        // Offsets map to columns only on a one-line scalar; a quoted scalar's text starts one column in.
        var shift = scalar.Style is YamlDotNet.Core.ScalarStyle.SingleQuoted or YamlDotNet.Core.ScalarStyle.DoubleQuoted ? 1 : 0;
        var oneLine = node.Start.Line == node.End.Line;
        int Column(int offset) => oneLine ? shift + offset : 0;
        try { command = CommandTemplate.Parse(text); }
        catch (CommandTemplateException x)
        {
            throw source.Error(node, Column(x.Position), "command", x.Message);
        }
        foreach (var part in command.Arguments.SelectMany(a => a.Parts).Where(p => p.IsPlaceholder))
            CheckPlaceholder(source, node, Column(part.Offset), part.Text, names);
        return command;
    }

    private static void CheckPlaceholder(YamlSource source, YamlNode node, int column, string name, IReadOnlyList<string> names)
    {
        if (CommandTemplate.BuiltInPlaceholders.Contains(name) || names.Contains(name)) return;
        var known = names.Concat(CommandTemplate.BuiltInPlaceholders).ToList();
        const string katib = "trialParameters.";
        if (name.StartsWith(katib, StringComparison.Ordinal))
            throw source.Error(node, column, "command",
                $"placeholder {{{name}}}: Katib's ${{trialParameters.{name[katib.Length..]}}} is {{{name[katib.Length..]}}} here, without the $ (a space: parameter's name)");
        // A space with repeated blocks can name hundreds of parameters; list a readable handful.
        var listed = known.Count <= 12 ? string.Join(", ", known) : string.Join(", ", known.Take(12)) + $", ... ({known.Count} in all)";
        throw source.Error(node, column, "command",
            $"placeholder {{{name}}} names no parameter{ClosestName.Suggest(name, known)} (known: {listed})");
    }

    private static SamplerSpec ReadSampler(YamlSource source, YamlNode node, SearchSpace space, int? trials, List<StudyFileException> problems)
    {
        string name;
        YamlNode? optionsNode = null;
        YamlNode nameNode = node;
        if (node is YamlScalarNode)
            name = source.String(node, "sampler");
        else
        {
            var mapping = source.Mapping(node, "sampler", "tpe or { tpe: { seed: 1 } }");
            var entries = source.Entries(mapping, "sampler").ToList();
            if (entries.Count != 1)
                throw source.Error(mapping, "sampler", $"expected one sampler name with its options, e.g. {{ tpe: {{ seed: 1 }} }}, got {entries.Count} keys");
            (name, var keyNode, optionsNode) = entries[0];
            nameNode = keyNode;
        }
        var field = $"sampler";
        var known = SamplerRegistry.Names.Append("auto").Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
        if (!known.Contains(name, StringComparer.OrdinalIgnoreCase))
            throw source.Error(nameNode, field, $"unknown sampler '{name}'{SamplerRegistry.ForeignName(name) ?? ClosestName.Suggest(name, known)} (known: {string.Join(", ", known)})");
        var options = new Dictionary<string, object?>(StringComparer.Ordinal);
        int? seed = null;
        if (optionsNode is not null && !(optionsNode is YamlScalarNode s && YamlSource.Scalar(s) is null))
        {
            var optionsField = $"sampler.{name}";
            var optionsMap = source.Mapping(optionsNode, optionsField, "{ seed: 1 }");
            foreach (var (key, _, value) in source.Entries(optionsMap, optionsField))
            {
                if (key == "seed")
                {
                    var v = source.Integer(value, $"{optionsField}.seed");
                    if (v is < int.MinValue or > int.MaxValue) throw source.Error(value, $"{optionsField}.seed", $"a seed must fit in 32 bits, got {v}");
                    seed = (int)v;
                }
                else options[key] = YamlSource.ToData(value);
            }
        }
        var spec = new SamplerSpec(name.ToLowerInvariant(), options, seed, source.Location(nameNode, field));
        // Build it once now, so that a bad option fails at load with its line rather than when the run starts.
        if (SamplerRegistry.Names.Contains(spec.Name, StringComparer.OrdinalIgnoreCase))
        {
            BuildNamingUnknownOptions(source, rest => SamplerRegistry.Create(spec.Name, new SamplerRequest(rest, seed, space, trials)),
                x => x is ArgumentException or SearchSpaceException or InvalidOperationException,
                options, $"sampler.{spec.Name}", "sampler", optionsNode, nameNode, problems);
        }
        return spec;
    }

    // bohb and mobster model the values an asha or hyperband scheduler's rungs record: their budget levels must be its
    // rungs. Levels left out are taken from the scheduler, so `sampler: bohb` beside any asha section fits it; levels
    // written differently are refused, as is another scheduler (which `tunesmith simulate` refuses too).
    private static SamplerSpec AlignBudgetLevels(YamlSource source, YamlNode samplerNode, SamplerSpec sampler, SchedulerSpec? scheduler)
    {
        if (sampler.Name is not ("bohb" or "mobster")) return sampler;
        var schedulerName = scheduler?.Name;
        if (schedulerName is not ("asha" or "hyperband"))
            throw source.Error(samplerNode, "sampler",
                $"sampler '{sampler.Name}' models the budget levels of an asha or hyperband scheduler, so it needs scheduler: asha or hyperband, not {(scheduler is null ? "no scheduler" : $"'{schedulerName}'")}");
        var rungs = schedulerName == "asha" ? AshaOptions.FromStudyFile(scheduler!.Options) : HyperbandOptions.FromStudyFile(scheduler!.Options).ToAsha();
        var options = new Dictionary<string, object?>(sampler.Options, StringComparer.Ordinal);
        foreach (var (key, value) in new (string Key, object Value)[] { ("min", rungs.MinResource), ("max", rungs.MaxResource), ("reduction", rungs.ReductionFactor) })
        {
            if (!options.TryGetValue(key, out var written) || written is null)
            {
                options[key] = value;
                continue;
            }
            if (ParamValues.TryToDouble(written, out var x) && x == Convert.ToDouble(value, CultureInfo.InvariantCulture)) continue;
            var at = samplerNode is YamlMappingNode { Children.Count: 1 } m && m.Children.Single().Value is YamlMappingNode section
                ? source.Entries(section, $"sampler.{sampler.Name}").FirstOrDefault(e => e.Key == key).Value ?? samplerNode
                : samplerNode;
            throw source.Error(at, $"sampler.{sampler.Name}.{key}",
                $"{ParamValues.Format(written)} differs from the scheduler's {key}, {ParamValues.Format(value)} (scheduler.{schedulerName}.{key}): the sampler's budget levels are the scheduler's rungs, so leave it out or write the same");
        }
        return sampler with { Options = options };
    }

    private static SchedulerSpec? ReadScheduler(YamlSource source, YamlNode node, SearchSpace? space, List<StudyFileException> problems)
    {
        string name;
        YamlNode nameNode = node;
        YamlNode? optionsNode = null;
        if (node is YamlScalarNode s)
        {
            if (YamlSource.Scalar(s) is null) return null;
            name = source.String(node, "scheduler");
        }
        else
        {
            var mapping = source.Mapping(node, "scheduler", "asha or { asha: { resource: epoch, min: 1, max: 27, reduction: 3 } }");
            var entries = source.Entries(mapping, "scheduler").ToList();
            if (entries.Count != 1)
                throw source.Error(mapping, "scheduler", $"expected one scheduler name with its options, e.g. {{ asha: {{ min: 1, max: 27 }} }}, got {entries.Count} keys");
            (name, nameNode, optionsNode) = entries[0];
        }
        var known = SchedulerRegistry.Names;
        if (!known.Contains(name, StringComparer.OrdinalIgnoreCase))
            throw source.Error(nameNode, "scheduler", $"unknown scheduler '{name}'{ClosestName.Suggest(name, known)} (known: {string.Join(", ", known)})");
        name = name.ToLowerInvariant();
        IReadOnlyDictionary<string, object?> options = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (optionsNode is not null && !(optionsNode is YamlScalarNode o && YamlSource.Scalar(o) is null))
        {
            var optionsMap = source.Mapping(optionsNode, $"scheduler.{name}", "{ min: 1, max: 27 }");
            _ = source.Entries(optionsMap, $"scheduler.{name}").ToList();
            options = (IReadOnlyDictionary<string, object?>)YamlSource.ToData(optionsMap)!;
        }
        // Built once now, so that a bad option fails at load with its line rather than when the run starts.
        BuildNamingUnknownOptions(source, rest => SchedulerRegistry.Create(name, rest), x => x is ArgumentException,
            options, $"scheduler.{name}", $"scheduler.{name}", optionsNode, nameNode, problems);
        if (name == "pbt" && space is not null && PbtOptions.FromStudyFile(options).Mutations is { } mutations)
        {
            // PBT's mutations name parameters of the space: a typo would otherwise leave that parameter fixed unnoticed.
            var sampled = space.Flatten().Where(p => !p.Distribution.IsSingle).Select(p => p.Name).Distinct(StringComparer.Ordinal).ToList();
            foreach (var m in mutations.Where(m => !sampled.Contains(m, StringComparer.Ordinal)))
                throw OptionError(source,
                    $"scheduler 'pbt': option 'mutations' names '{m}', which is not a sampled parameter of space:{ClosestName.Suggest(m, sampled)} (sampled: {string.Join(", ", sampled)})",
                    $"scheduler.{name}", $"scheduler.{name}", optionsNode, nameNode);
        }
        return new SchedulerSpec(new Dictionary<string, object?> { [name] = options }, source.Location(nameNode, "scheduler"));
    }

    /// <summary>
    /// Builds a sampler or scheduler from <paramref name="options"/> once, so that a bad option fails at load with its line
    /// rather than when the run starts. Every unknown option is named (each build names the first; it is left out and the
    /// build tried again): the first is thrown and the others added to <paramref name="problems"/>. Another error is thrown
    /// only when no option was unknown, as it may come from one (a misnamed max_t leaves max at its default).
    /// </summary>
    private static void BuildNamingUnknownOptions(YamlSource source, Action<IReadOnlyDictionary<string, object?>> build, Func<Exception, bool> isOptionError,
        IReadOnlyDictionary<string, object?> options, string optionsField, string fallbackField, YamlNode? optionsNode, YamlNode nameNode,
        List<StudyFileException> problems)
    {
        var rest = new Dictionary<string, object?>(options, StringComparer.Ordinal);
        var unknown = new List<StudyFileException>();
        while (true)
        {
            try { build(rest); break; }
            catch (Exception x) when (isOptionError(x))
            {
                var key = rest.Keys.FirstOrDefault(k => x.Message.Contains($"unknown option '{k}'", StringComparison.Ordinal));
                if (key is null && unknown.Count > 0) break;
                var error = OptionError(source, x.Message, optionsField, fallbackField, optionsNode, nameNode);
                if (key is null) throw error;
                unknown.Add(error);
                rest.Remove(key);
            }
        }
        if (unknown.Count == 0) return;
        problems.AddRange(unknown.Skip(1));
        throw unknown[0];
    }

    // A sampler's or scheduler's option error at the line of the option it names ("option 'min'"; an unknown one at its key),
    // else at the options (or the name), as fallbackField.
    private static StudyFileException OptionError(YamlSource source, string message, string optionsField, string fallbackField, YamlNode? optionsNode, YamlNode nameNode)
    {
        YamlNode at = optionsNode ?? nameNode;
        var field = fallbackField;
        if (optionsNode is YamlMappingNode m)
            foreach (var (key, keyNode, value) in source.Entries(m, optionsField))
                if (message.Contains($"option '{key}'", StringComparison.Ordinal))
                {
                    (at, field) = (message.Contains("unknown option", StringComparison.Ordinal) ? keyNode : value, $"{optionsField}.{key}");
                    break;
                }
                else if (value is YamlMappingNode inner && message.Contains($"option '{key}.", StringComparison.Ordinal))
                {
                    // A nested option (grid's 'values.lr'): the error names its whole path and points at its value.
                    (at, field) = (value, $"{optionsField}.{key}");
                    foreach (var (innerKey, _, innerValue) in source.Entries(inner, field))
                        if (message.Contains($"option '{key}.{innerKey}'", StringComparison.Ordinal))
                        {
                            (at, field) = (innerValue, $"{optionsField}.{key}.{innerKey}");
                            break;
                        }
                    break;
                }
        return source.Error(at, field, message);
    }

    // Unknown keys of a section are added to problems and the known ones still read (a switch over known keys skips them).
    private static TrialResources ReadResources(YamlSource source, YamlNode node, List<StudyFileException> problems)
    {
        var mapping = source.Mapping(node, "resources", "{ gpus_per_trial: 1 }");
        problems.AddRange(source.UnknownKeys(mapping, "resources", ["gpus_per_trial", "cpus_per_trial", "max_gpus"]));
        var resources = new TrialResources();
        foreach (var (key, _, value) in source.Entries(mapping, "resources"))
        {
            var field = $"resources.{key}";
            switch (key)
            {
                case "gpus_per_trial":
                    var g = source.Number(value, field);
                    if (g < 0) throw source.Error(value, field, $"must be ≥ 0, got {ParamValues.Format(g)}");
                    if (g > 1 && g != Math.Floor(g))
                        throw source.Error(value, field, $"more than one GPU per trial must be a whole number, got {ParamValues.Format(g)}");
                    resources = resources with { GpusPerTrial = g };
                    break;
                case "cpus_per_trial":
                    resources = resources with { CpusPerTrial = Count(source, value, field, 1) };
                    break;
                case "max_gpus":
                    resources = resources with { MaxGpus = Count(source, value, field, 0) };
                    break;
            }
        }
        if (resources is { MaxGpus: { } max, GpusPerTrial: > 1 } && resources.GpusPerTrial > max)
            throw source.Error(mapping, "resources.gpus_per_trial", $"a trial needs {ParamValues.Format(resources.GpusPerTrial)} GPUs but max_gpus is {max}");
        return resources;
    }

    private static readonly string[] MetricsKeys = ["format", "pattern", "step", "result"];

    // Katib's names for what the metrics: section holds.
    private static readonly Dictionary<string, string> ForeignMetricsKeys = new(StringComparer.Ordinal)
    {
        ["metricsFormat"] = "Katib's metricsFormat is pattern: (one regular expression or a list)",
        ["metrics_format"] = "Katib's metricsFormat is pattern: (one regular expression or a list)",
        ["metricStrategies"] = "Katib's metricStrategies is result: last or best",
        ["metric_strategies"] = "Katib's metricStrategies is result: last or best",
        ["collector"] = "the program's stdout is what is read; format: key=value",
    };

    // metrics: key=value, or { format: key=value, pattern: REGEX or [REGEX, ...], step: NAME, result: last|best }.
    private static StdoutMetrics ReadMetrics(YamlSource source, YamlNode node, List<StudyFileException> problems)
    {
        const string example = "{ format: key=value, step: epoch, result: last }";
        var metrics = new StdoutMetrics();
        if (node is YamlScalarNode)
        {
            CheckMetricsFormat(source, node, "metrics");
            return metrics;
        }
        var mapping = source.Mapping(node, "metrics", example);
        problems.AddRange(source.UnknownKeys(mapping, "metrics", MetricsKeys, ForeignMetricsKeys));
        foreach (var (key, _, value) in source.Entries(mapping, "metrics"))
        {
            var field = $"metrics.{key}";
            switch (key)
            {
                case "format":
                    CheckMetricsFormat(source, value, field);
                    break;
                case "pattern":
                    var nodes = value is YamlSequenceNode list ? list.Children.ToList() : [value];
                    if (nodes.Count == 0) throw source.Error(value, field, "expected a regular expression or a list of them, got an empty list");
                    var patterns = new List<System.Text.RegularExpressions.Regex>();
                    for (var i = 0; i < nodes.Count; i++)
                    {
                        var at = nodes.Count == 1 && value is not YamlSequenceNode ? field : $"{field}[{i}]";
                        var text = source.String(nodes[i], at);
                        try { patterns.Add(StdoutMetrics.Compile(text)); }
                        catch (ArgumentException x) { throw source.Error(nodes[i], at, x.Message.Split(" (Parameter", 2)[0]); }
                    }
                    metrics = metrics with { Patterns = patterns };
                    break;
                case "step":
                    var step = source.String(value, field).Trim();
                    if (step.Length == 0) throw source.Error(value, field, "the step's metric name must not be empty");
                    metrics = metrics with { Step = step };
                    break;
                case "result":
                    var result = source.String(value, field);
                    metrics = metrics with
                    {
                        Result = result.ToLowerInvariant() switch
                        {
                            "last" or "latest" => StdoutMetricsResult.Last,
                            "best" => StdoutMetricsResult.Best,
                            "max" or "min" => throw source.Error(value, field, $"expected last or best, got '{result}' (Katib's {result} is best here: the best for the study's direction:)"),
                            _ => throw source.Error(value, field, $"expected last or best, got '{result}'{ClosestName.Suggest(result, ["last", "best"])}"),
                        },
                    };
                    break;
            }
        }
        return metrics;
    }

    private static void CheckMetricsFormat(YamlSource source, YamlNode node, string field)
    {
        var format = source.String(node, field).Trim();
        if (format is "key=value" or "name=value") return;
        throw source.Error(node, field, $"expected key=value (name=value lines such as accuracy=0.81 loss=0.42 on stdout, as Katib's StdOut collector reads), got '{format}'"
            + (format.Equals("json", StringComparison.OrdinalIgnoreCase) ? ": JSON reports are tunesmith:report {...} lines, read without a metrics: section" : ""));
    }

    private static readonly string[] SlurmJobKeys =
    [
        "concurrency", "max_concurrent", "gpus_per_trial", "cpus_per_trial", "mem", "time", "partition", "account", "qos", "constraint",
        "setup", "extra_sbatch", "signal_lead", "max_requeues", "speed",
    ];

    private static Backends.Slurm.SlurmSettings ReadSlurm(YamlSource source, YamlNode node, List<StudyFileException> problems)
    {
        var mapping = source.Mapping(node, "slurm", "{ partition: gpu, time: 04:00:00, gpus_per_trial: 1, concurrency: 8 }");
        problems.AddRange(source.UnknownKeys(mapping, "slurm", [.. SlurmJobKeys, "classes"]));
        var defaults = ReadSlurmJob(source, mapping, "slurm", new Backends.Slurm.SlurmJobOptions());
        var classes = new List<Backends.Slurm.SlurmComputeClass>();
        foreach (var (key, keyNode, value) in source.Entries(mapping, "slurm"))
        {
            if (key != "classes") continue;
            var classMap = source.Mapping(value, "slurm.classes", "{ a100: { partition: gpu-a100, gpus_per_trial: 1, max_concurrent: 8 } }");
            foreach (var (name, nameNode, classNode) in source.Entries(classMap, "slurm.classes"))
            {
                if (name.Length == 0 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
                    throw source.Error(nameNode, $"slurm.classes.{name}", "a class name uses letters, digits, '-' and '_'");
                var field = $"slurm.classes.{name}";
                var m = source.Mapping(classNode, field, "{ partition: gpu-a100, gpus_per_trial: 1, max_concurrent: 8 }");
                problems.AddRange(source.UnknownKeys(m, field, SlurmJobKeys));
                classes.Add(new Backends.Slurm.SlurmComputeClass(name, ReadSlurmJob(source, m, field, defaults)));
            }
            _ = keyNode;
        }
        return new Backends.Slurm.SlurmSettings(defaults, classes);
    }

    private static Backends.Slurm.SlurmJobOptions ReadSlurmJob(YamlSource source, YamlMappingNode mapping, string where, Backends.Slurm.SlurmJobOptions start)
    {
        var o = start;
        foreach (var (key, _, value) in source.Entries(mapping, where))
        {
            var field = $"{where}.{key}";
            if (value is YamlScalarNode sv && YamlSource.Scalar(sv) is null) continue;
            switch (key)
            {
                case "concurrency" or "max_concurrent": o = o with { Concurrency = Count(source, value, field, 1) }; break;
                case "gpus_per_trial": o = o with { GpusPerTrial = Count(source, value, field, 0) }; break;
                case "cpus_per_trial": o = o with { CpusPerTrial = Count(source, value, field, 1) }; break;
                case "mem": o = o with { Memory = ScalarText(source, value, field) }; break;
                case "time":
                    var text = ScalarText(source, value, field);
                    o = o with { TimeLimit = Backends.Slurm.SlurmJobOptions.ParseTime(text) ?? throw source.Error(value, field, $"'{text}' is not a Slurm time such as 04:00:00, 90 (minutes) or 1-00:00:00") };
                    break;
                case "partition": o = o with { Partition = ScalarText(source, value, field) }; break;
                case "account": o = o with { Account = ScalarText(source, value, field) }; break;
                case "qos": o = o with { Qos = ScalarText(source, value, field) }; break;
                case "constraint": o = o with { Constraint = ScalarText(source, value, field) }; break;
                case "setup": o = o with { Setup = source.String(value, field) }; break;
                case "extra_sbatch":
                    o = o with { ExtraSbatch = value is YamlSequenceNode seq ? seq.Children.Select((c, i) => source.String(c, $"{field}[{i}]")).ToArray() : [source.String(value, field)] };
                    break;
                case "signal_lead": o = o with { SignalLead = Duration(source, value, field) ?? Backends.Slurm.SlurmJobOptions.DefaultSignalLead }; break;
                case "max_requeues": o = o with { MaxRequeues = Count(source, value, field, 0) }; break;
                case "speed":
                    var speed = source.Number(value, field);
                    if (!(speed > 0)) throw source.Error(value, field, $"must be > 0, got {ParamValues.Format(speed)}");
                    o = o with { Speed = speed };
                    break;
            }
        }
        try { o.Validate(where); }
        catch (ArgumentException e)
        {
            // "slurm.time: Slurm's smallest ..." names its own field.
            var colon = e.Message.IndexOf(": ", StringComparison.Ordinal);
            throw colon > 0 && e.Message.StartsWith(where, StringComparison.Ordinal)
                ? source.Error(mapping, e.Message[..colon], e.Message[(colon + 2)..])
                : source.Error(mapping, where, e.Message);
        }
        return o;
    }

    // A scalar as the user wrote it (04:00:00 and 16G stay text; YAML would read 1:30 as a number in some versions).
    private static string ScalarText(YamlSource source, YamlNode node, string field) =>
        node is YamlScalarNode { Value: { Length: > 0 } v } ? v : throw source.Error(node, field, "expected a value");

    private static Dictionary<string, string> ReadEnv(YamlSource source, YamlNode node)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        if (node is YamlScalarNode s && YamlSource.Scalar(s) is null) return env;
        var mapping = source.Mapping(node, "env", "{ OMP_NUM_THREADS: 4 }");
        foreach (var (key, keyNode, value) in source.Entries(mapping, "env"))
        {
            if (key.Length == 0 || key.Contains('=') || key.Contains('\0'))
                throw source.Error(keyNode, $"env.{key}", $"'{key}' is not a valid environment variable name");
            var v = source.ScalarValue(value, $"env.{key}");
            env[key] = v is null ? "" : value is YamlScalarNode vs ? vs.Value ?? "" : ParamValues.Format(v);
        }
        return env;
    }

    /// <summary>Seconds as a number, or text such as <c>2h</c>, <c>30m</c>, <c>45s</c>, <c>1h30m</c>, <c>1.5d</c>, <c>500ms</c>, <c>01:30:00</c>.</summary>
    internal static TimeSpan? Duration(YamlSource source, YamlNode node, string field)
    {
        var v = source.ScalarValue(node, field);
        if (v is null) return null;
        TimeSpan? parsed = v switch
        {
            long l => Seconds(l),
            double d when double.IsFinite(d) => Seconds(d),
            string s => ParseDuration(s),
            _ => null,
        };
        if (parsed is not { } t)
            throw source.Error(node, field, $"expected a duration such as 3600, \"2h\", \"30m\", \"45s\" or \"1h30m\", got {YamlSource.TypeOf(v)}");
        if (t <= TimeSpan.Zero) throw source.Error(node, field, $"must be > 0, got {YamlSource.TypeOf(v)}");
        var most = field == "trial_timeout" ? StudyFile.MaxTrialTimeout : StudyFile.MaxDuration;
        if (t > most) throw source.Error(node, field, $"must be at most {most.TotalDays:0}d, got {YamlSource.TypeOf(v)}");
        return t;
    }

    /// <summary>Parses <c>2h</c>, <c>30m</c>, <c>45s</c>, <c>1h30m</c>, <c>1.5d</c>, <c>500ms</c>, <c>90</c> (seconds) or <c>hh:mm:ss</c>; null when malformed.</summary>
    public static TimeSpan? ParseDuration(string text)
    {
        var t = text.Trim();
        if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
            return double.IsFinite(seconds) ? Seconds(seconds) : null;
        var clock = ClockPattern().Match(t);
        if (clock.Success)
        {
            var parts = t.Split(':').Select(p => double.Parse(p, CultureInfo.InvariantCulture)).ToArray();
            return parts.Length == 3
                ? Seconds(parts[0] * 3600 + parts[1] * 60 + parts[2])
                : Seconds(parts[0] * 60 + parts[1]);
        }
        var matches = UnitPattern().Matches(t);
        if (matches.Count == 0 || matches.Sum(m => m.Length) != t.Replace(" ", "").Length || t.Contains(' ')) return null;
        var total = 0.0;
        foreach (Match m in matches)
        {
            var n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            total += m.Groups[2].Value switch
            {
                "d" => n * 86400,
                "h" => n * 3600,
                "m" or "min" => n * 60,
                "s" => n,
                "ms" => n / 1000,
                _ => double.NaN,
            };
        }
        return double.IsFinite(total) ? Seconds(total) : null;
    }

    // Seconds as a TimeSpan, saturating at TimeSpan.MaxValue (which callers refuse as too long) instead of overflowing.
    private static TimeSpan Seconds(double seconds) =>
        seconds >= TimeSpan.MaxValue.TotalSeconds ? TimeSpan.MaxValue : TimeSpan.FromSeconds(seconds);

    [GeneratedRegex(@"^\d+(\.\d+)?(:\d+(\.\d+)?){1,2}$")]
    private static partial Regex ClockPattern();

    [GeneratedRegex(@"(\d+(?:\.\d+)?)(ms|min|d|h|m|s)")]
    private static partial Regex UnitPattern();
}
