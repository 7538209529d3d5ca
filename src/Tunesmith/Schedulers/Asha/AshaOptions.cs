using Tunesmith.Spaces.Spec;

namespace Tunesmith.Schedulers.Asha;

/// <summary>How ASHA acts on a trial that is not in the top 1/η of its rung.</summary>
public enum AshaMode
{
    /// <summary>Stop it (recorded Pruned): no checkpoints needed. The first trials at a rung always continue.</summary>
    Stop,
    /// <summary>
    /// Pause it at the rung (recorded Paused) and resume it when it is promoted: the top ⌊n/η⌋ of a rung's n trials
    /// go on. Needs programs that checkpoint (command trials: in <c>TUNESMITH_TRIAL_DIR</c>).
    /// </summary>
    Promotion,
}

/// <summary>Options of <see cref="AshaScheduler"/> (asynchronous successive halving, Li et al. 2020).</summary>
public sealed record AshaOptions
{
    /// <summary>What a step counts (epochs, batches); a label for reports. Default "step".</summary>
    public string Resource { get; init; } = "step";

    /// <summary>The first rung's resource r (default 1): rungs sit at r·η^k steps.</summary>
    public long MinResource { get; init; } = 1;

    /// <summary>The resource a trial that is never stopped reaches (R; default 81). Rungs lie below it.</summary>
    public long MaxResource { get; init; } = 81;

    /// <summary>η, the reduction factor (default 3): a rung lets its top 1/η through.</summary>
    public double ReductionFactor { get; init; } = 3;

    /// <summary>No trial is stopped or paused before this step (default: <see cref="MinResource"/>): rungs below it are skipped.</summary>
    public long? GracePeriod { get; init; }

    /// <summary>
    /// Successive-halving brackets (default 1). With more, each new trial joins one bracket, chosen with Hyperband's
    /// weights: bracket b's rungs start at r·η^b.
    /// </summary>
    public int Brackets { get; init; } = 1;

    /// <summary>Stop-based (default) or promotion-based.</summary>
    public AshaMode Mode { get; init; } = AshaMode.Stop;

    /// <summary>Seeds the bracket choice (default 0), so every worker places a trial in the same bracket.</summary>
    public int Seed { get; init; }

    /// <summary>Throws naming the option when the options are invalid.</summary>
    public void Validate() => Validate(new OptionRules("scheduler 'asha'", nameof(AshaOptions), null));

    private static readonly Dictionary<string, string> KeyOf = new()
    {
        [nameof(Resource)] = "resource", [nameof(MinResource)] = "min", [nameof(MaxResource)] = "max", [nameof(ReductionFactor)] = "reduction",
        [nameof(GracePeriod)] = "grace_period", [nameof(Brackets)] = "brackets", [nameof(Mode)] = "mode",
    };

    internal void Validate(OptionRules rules)
    {
        rules.Require(!string.IsNullOrWhiteSpace(Resource), nameof(Resource), Resource, "must not be empty");
        rules.Require(MinResource >= 1, nameof(MinResource), MinResource, "must be ≥ 1");
        rules.Require(MaxResource > MinResource, nameof(MaxResource), MaxResource, $"must be greater than the minimum resource ({MinResource})");
        rules.Require(ReductionFactor > 1 && double.IsFinite(ReductionFactor), nameof(ReductionFactor), ReductionFactor, "must be > 1");
        rules.Require(GracePeriod is null or >= 1, nameof(GracePeriod), GracePeriod, "must be ≥ 1");
        // At or above R no rung is left below the maximum, and ASHA would stop nothing without a word.
        rules.Require(GracePeriod is null || GracePeriod < MaxResource, nameof(GracePeriod), GracePeriod,
            $"must be below the maximum resource ({MaxResource}), or no trial could ever be stopped");
        rules.Require(Brackets >= 1, nameof(Brackets), Brackets, "must be ≥ 1");
        var most = RungLadder.BracketCount(MinResource, MaxResource, ReductionFactor);
        rules.Require(Brackets <= most, nameof(Brackets), Brackets, $"must be ≤ {most} for resources {MinResource}..{MaxResource} and η = {ReductionFactor}");
        rules.Require(Enum.IsDefined(Mode), nameof(Mode), Mode, "must be Stop or Promotion");
    }

    /// <summary>The option keys of a study file's <c>asha:</c> section.</summary>
    internal static readonly string[] StudyFileKeys = ["resource", "min", "max", "reduction", "grace_period", "brackets", "mode", "seed"];

    /// <summary>Reads a study file's <c>scheduler: { asha: {...} }</c> options; throws <see cref="ArgumentException"/> naming a bad one.</summary>
    public static AshaOptions FromStudyFile(IReadOnlyDictionary<string, object?>? options, string name = "asha")
    {
        var r = new SchedulerOptionReader(name, options, StudyFileKeys);
        var o = new AshaOptions();
        if (r.String("resource") is { } resource) o = o with { Resource = resource };
        if (r.Integer("min") is { } min) o = o with { MinResource = min };
        if (r.Integer("max") is { } max) o = o with { MaxResource = max };
        if (r.Number("reduction") is { } eta) o = o with { ReductionFactor = eta };
        if (r.Integer("grace_period") is { } grace) o = o with { GracePeriod = grace };
        if (r.Int32("brackets") is { } brackets) o = o with { Brackets = brackets };
        if (r.Int32("seed") is { } seed) o = o with { Seed = seed };
        if (r.String("mode") is { } mode)
            o = o with
            {
                Mode = mode.ToLowerInvariant() switch
                {
                    "stop" or "stopping" => AshaMode.Stop,
                    "promotion" or "promote" or "pause" => AshaMode.Promotion,
                    // Ray Tune's mode is the metric's direction, which here is the study file's direction:.
                    "max" or "min" => throw new ArgumentException($"scheduler '{name}': option 'mode' must be stop or promotion, got '{mode}' (Ray Tune's mode: {mode} is the study file's direction: {mode}imize)"),
                    _ => throw new ArgumentException($"scheduler '{name}': option 'mode' must be stop or promotion, got '{mode}'"),
                },
            };
        o.Validate(new OptionRules($"scheduler '{name}'", nameof(AshaOptions), KeyOf));
        return o;
    }
}
