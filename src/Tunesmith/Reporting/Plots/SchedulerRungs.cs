using Tunesmith.Schedulers;
using Tunesmith.Schedulers.Asha;
using Tunesmith.Schedulers.Hyperband;

namespace Tunesmith.Reporting.Plots;

/// <summary>
/// The rungs of a study's rung-based scheduler (ASHA, Hyperband) as the learning-curves plot draws them: each bracket's
/// milestones and the bracket of each trial. A trial's record at a rung is read from its stored intermediate values,
/// exactly as the scheduler reads it, so the plot shows the decisions the scheduler made.
/// </summary>
public sealed class SchedulerRungs
{
    private readonly Func<int, int> _bracketOf;

    /// <summary>Rungs from explicit milestones per bracket and a trial-number → bracket map.</summary>
    /// <param name="description">The scheduler as text (shown with the plot).</param>
    /// <param name="milestones">Each bracket's milestones, ascending.</param>
    /// <param name="bracketOf">The bracket a trial (by number) joined.</param>
    public SchedulerRungs(string description, IReadOnlyList<IReadOnlyList<long>> milestones, Func<int, int> bracketOf)
    {
        ArgumentNullException.ThrowIfNull(description);
        ArgumentNullException.ThrowIfNull(milestones);
        ArgumentNullException.ThrowIfNull(bracketOf);
        if (milestones.Count == 0) throw new ArgumentException("needs at least one bracket", nameof(milestones));
        Description = description;
        Milestones = milestones;
        _bracketOf = bracketOf;
    }

    /// <summary>The scheduler as text, e.g. <c>asha(min=1, max=27, η=3, brackets=1, mode=stop)</c>.</summary>
    public string Description { get; }

    /// <summary>Each bracket's milestones, ascending.</summary>
    public IReadOnlyList<IReadOnlyList<long>> Milestones { get; }

    /// <summary>The bracket trial <paramref name="trialNumber"/> joined (clamped to the known brackets).</summary>
    public int BracketOf(int trialNumber) => Math.Clamp(_bracketOf(trialNumber), 0, Milestones.Count - 1);

    /// <summary>
    /// The rungs of an ASHA or Hyperband scheduler; null for any other (or none). For a stored study's scheduler, pass
    /// <c>StudyFileRun.StoredScheduler(study)</c> (Execution reads the stored study file; Reporting does not).
    /// </summary>
    public static SchedulerRungs? From(IScheduler? scheduler) => scheduler switch
    {
        AshaScheduler a => new SchedulerRungs(a.ToString(), Enumerable.Range(0, a.Options.Brackets).Select(b => a.Rungs(b)).ToList(), a.BracketOf),
        HyperbandScheduler h => new SchedulerRungs(h.ToString(), Enumerable.Range(0, Math.Max(1, h.Brackets.Count)).Select(b => h.Rungs(b)).ToList(), h.BracketOf),
        _ => null,
    };

    /// <summary>A trial's records at its bracket's rungs and what came of each (nothing for a trial without intermediate values).</summary>
    public IReadOnlyList<RungMark> Marks(FrozenTrial trial)
    {
        ArgumentNullException.ThrowIfNull(trial);
        if (trial.Intermediate.Count == 0) return [];
        var last = RungLadder.LastStep(trial)!.Value;
        var marks = new List<RungMark>();
        foreach (var milestone in Milestones[BracketOf(trial.Number)])
        {
            if (RungLadder.RungRecord(trial, milestone) is not { } record) break;
            var outcome = RungLadder.WentOn(trial, record.Step) ? RungOutcome.Promoted
                : trial.State == TrialState.Pruned ? RungOutcome.Stopped
                : trial.State == TrialState.Paused ? RungOutcome.Paused
                : RungOutcome.Reached;
            marks.Add(new RungMark(milestone, record.Step, record.Value, outcome));
        }
        return marks;
    }
}
