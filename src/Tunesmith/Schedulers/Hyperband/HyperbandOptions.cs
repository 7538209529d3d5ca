using Tunesmith.Schedulers.Asha;
using Tunesmith.Spaces.Spec;

namespace Tunesmith.Schedulers.Hyperband;

/// <summary>Options of <see cref="HyperbandScheduler"/> (asynchronous Hyperband: ASHA in several brackets).</summary>
public sealed record HyperbandOptions
{
    /// <summary>What a step counts (epochs, batches); a label for reports. Default "step".</summary>
    public string Resource { get; init; } = "step";

    /// <summary>The most aggressive bracket's first rung, r (default 1).</summary>
    public long MinResource { get; init; } = 1;

    /// <summary>The resource a trial that is never stopped reaches, R (default 81).</summary>
    public long MaxResource { get; init; } = 81;

    /// <summary>η, the reduction factor (default 3).</summary>
    public double ReductionFactor { get; init; } = 3;

    /// <summary>How many brackets, most aggressive first (default null: all ⌊log_η(R/r)⌋ + 1).</summary>
    public int? Brackets { get; init; }

    /// <summary>Stop-based (default) or promotion-based, as in <see cref="AshaMode"/>.</summary>
    public AshaMode Mode { get; init; } = AshaMode.Stop;

    /// <summary>Seeds the per-trial bracket draw (default 0): every worker places a trial in the same bracket.</summary>
    public int Seed { get; init; }

    /// <summary>Throws naming the option when the options are invalid.</summary>
    public void Validate() => ToAsha().Validate(new OptionRules("scheduler 'hyperband'", nameof(HyperbandOptions), null));

    /// <summary>The ASHA options with this many brackets.</summary>
    internal AshaOptions ToAsha() => new()
    {
        Resource = Resource, MinResource = MinResource, MaxResource = MaxResource, ReductionFactor = ReductionFactor, Mode = Mode, Seed = Seed,
        Brackets = Brackets ?? (MinResource >= 1 && MaxResource > MinResource && ReductionFactor > 1 ? RungLadder.BracketCount(MinResource, MaxResource, ReductionFactor) : 1),
    };

    /// <summary>Reads a study file's <c>scheduler: { hyperband: {...} }</c> options; throws <see cref="ArgumentException"/> naming a bad one.</summary>
    public static HyperbandOptions FromStudyFile(IReadOnlyDictionary<string, object?>? options)
    {
        var keys = AshaOptions.StudyFileKeys.Where(k => k != "grace_period").ToArray();
        _ = new SchedulerOptionReader("hyperband", options, keys);
        var asha = AshaOptions.FromStudyFile(options, "hyperband");
        var r = new SchedulerOptionReader("hyperband", options, keys);
        return new HyperbandOptions
        {
            Resource = asha.Resource, MinResource = asha.MinResource, MaxResource = asha.MaxResource, ReductionFactor = asha.ReductionFactor,
            Mode = asha.Mode, Seed = asha.Seed, Brackets = r.Int32("brackets"),
        };
    }
}
