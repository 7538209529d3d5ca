using System.Collections;
using System.Globalization;
using Tunesmith.Spaces;
using Tunesmith.Spaces.Spec;

namespace Tunesmith.Schedulers;

/// <summary>
/// Reads a scheduler's options from a study file's mapping (snake_case keys, already parsed from YAML or JSON): each
/// value is checked for its type, and an unknown key is an error naming it and the known ones.
/// </summary>
internal sealed class SchedulerOptionReader
{
    private readonly string _scheduler;
    private readonly IReadOnlyDictionary<string, object?> _options;

    public SchedulerOptionReader(string scheduler, IReadOnlyDictionary<string, object?>? options, params string[] known)
    {
        _scheduler = scheduler;
        _options = options ?? new Dictionary<string, object?>();
        OptionErrors.CheckKnown($"scheduler '{scheduler}'", _options.Keys, known, RayTuneNames);
    }

    /// <summary>
    /// The options of Ray Tune's schedulers that have another name here (a value with a space is the whole hint): a Ray Tune
    /// user's study file is told the name to write rather than a spelling guess.
    /// </summary>
    internal static readonly IReadOnlyDictionary<string, string> RayTuneNames = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["max_t"] = "max",
        ["reduction_factor"] = "reduction",
        ["time_attr"] = "resource",
        ["perturbation_interval"] = "interval",
        ["quantile_fraction"] = "quantile",
        ["min_samples_required"] = "min_trials",
        ["grace_period"] = "warmup_steps",
        ["metric"] = "Ray Tune's scheduler metric is the study file's top-level metric:",
        ["mode"] = "Ray Tune's mode (max or min) is the study file's direction: (maximize or minimize)",
        ["min_trials_required"] = "Katib's medianstop min_trials_required is min_trials here",
        ["start_step"] = "Katib's medianstop start_step is warmup_steps here",
        ["hyperparam_mutations"] = "Ray Tune's hyperparam_mutations is mutations: [names] here, the parameters an exploit may change; their ranges are the space:'s",
    };

    private string Field(string key) => $"scheduler '{_scheduler}': option '{key}'";

    public bool Has(string key) => _options.TryGetValue(key, out var v) && v is not null;

    public string? String(string key) => _options.TryGetValue(key, out var v) && v is not null ? Convert.ToString(ParamValues.Normalize(v), CultureInfo.InvariantCulture) : null;

    public double? Number(string key)
    {
        if (!_options.TryGetValue(key, out var raw) || raw is null) return null;
        return ParamValues.Normalize(raw) switch
        {
            long l => l,
            double d => d,
            string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
            var other => throw new ArgumentException($"{Field(key)} must be a number, got {ParamValues.Format(other)}"),
        };
    }

    public long? Integer(string key)
    {
        if (Number(key) is not { } d) return null;
        if (d != Math.Floor(d) || Math.Abs(d) > 1e15) throw new ArgumentException($"{Field(key)} must be a whole number, got {ParamValues.Format(d)}");
        return (long)d;
    }

    public int? Int32(string key) => Integer(key) is { } l
        ? l is >= int.MinValue and <= int.MaxValue ? (int)l : throw new ArgumentException($"{Field(key)} must fit in 32 bits, got {l}")
        : null;

    public IReadOnlyList<double>? Numbers(string key)
    {
        if (!_options.TryGetValue(key, out var raw) || raw is null) return null;
        if (raw is string or not IEnumerable) throw new ArgumentException($"{Field(key)} must be a list of numbers, e.g. [0.8, 1.2], got {ParamValues.Format(ParamValues.Normalize(raw))}");
        var list = new List<double>();
        foreach (var item in (IEnumerable)raw)
            list.Add(ParamValues.Normalize(item) switch
            {
                long l => l,
                double d => d,
                var other => throw new ArgumentException($"{Field(key)} must be a list of numbers, got an item {ParamValues.Format(other)}"),
            });
        return list;
    }

    public IReadOnlyList<string>? Strings(string key)
    {
        if (!_options.TryGetValue(key, out var raw) || raw is null) return null;
        if (raw is string or not IEnumerable)
            throw new ArgumentException($"{Field(key)} must be a list of parameter names, e.g. [lr, momentum], got {ParamValues.Format(ParamValues.Normalize(raw))}");
        var list = new List<string>();
        foreach (var item in (IEnumerable)raw)
            list.Add(ParamValues.Normalize(item) is string s && s.Length > 0
                ? s
                : throw new ArgumentException($"{Field(key)} must be a list of parameter names, got an item {ParamValues.Format(ParamValues.Normalize(item))}"));
        return list;
    }
}
