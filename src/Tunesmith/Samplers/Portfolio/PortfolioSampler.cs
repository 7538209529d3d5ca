using MathNet.Numerics.Distributions;
using Tunesmith.Spaces;

namespace Tunesmith.Samplers.Portfolio;

/// <summary>
/// A portfolio of samplers that shifts trials to the one that is improving: each trial is proposed by one member,
/// chosen by Thompson sampling over each member's rate of new bests (a member's trial that beats every earlier trial is
/// a success), so on a landscape where one model stalls (a Gaussian process on a rugged function) the other takes over,
/// and where it does not the first keeps most trials. The first <see cref="WarmupTrials"/> trials go to the first member.
/// Every member sees the whole history. Which member proposed a trial is kept in memory, so a process that joins a study
/// later counts only its own proposals.
/// </summary>
public sealed class PortfolioSampler : ISampler
{
    private readonly ISampler[] _members;
    private readonly object _gate = new();
    private readonly Dictionary<int, int> _memberOf = [];

    /// <summary>Creates a portfolio; the first member runs the warm-up trials.</summary>
    public PortfolioSampler(IReadOnlyList<ISampler> members, int warmupTrials = 30)
    {
        ArgumentNullException.ThrowIfNull(members);
        if (members.Count < 2) throw new ArgumentException("a portfolio needs at least two samplers", nameof(members));
        if (warmupTrials < 0) throw new ArgumentException($"warm-up trials must be ≥ 0, got {warmupTrials}", nameof(warmupTrials));
        _members = [.. members];
        WarmupTrials = warmupTrials;
    }

    /// <summary>Trials proposed by the first member before the others get any.</summary>
    public int WarmupTrials { get; }

    /// <summary>The members, first the one that runs the warm-up.</summary>
    public IReadOnlyList<ISampler> Members => _members;

    /// <inheritdoc />
    public int? Seed => _members[0].Seed;

    /// <inheritdoc />
    public string Name => $"portfolio({string.Join(",", _members.Select(m => m.Name))})";

    /// <inheritdoc />
    public IReadOnlyDictionary<string, Distribution> InferRelativeSearchSpace(SamplingContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var member = Choose(context);
        lock (_gate) _memberOf[context.Trial.Number] = member;
        return _members[member].InferRelativeSearchSpace(context);
    }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, object?> SampleRelative(SamplingContext context, IReadOnlyDictionary<string, Distribution> searchSpace)
    {
        ArgumentNullException.ThrowIfNull(context);
        return _members[MemberOf(context.Trial.Number)].SampleRelative(context, searchSpace);
    }

    /// <inheritdoc />
    public object? SampleIndependent(SamplingContext context, string name, Distribution distribution)
    {
        ArgumentNullException.ThrowIfNull(context);
        return _members[MemberOf(context.Trial.Number)].SampleIndependent(context, name, distribution);
    }

    private int MemberOf(int trial)
    {
        lock (_gate) return _memberOf.TryGetValue(trial, out var m) ? m : 0;
    }

    private int Choose(SamplingContext context)
    {
        var sign = context.Direction == Direction.Minimize ? 1.0 : -1.0;
        var successes = new int[_members.Length];
        var tries = new int[_members.Length];
        var best = double.PositiveInfinity;
        var complete = 0;
        lock (_gate)
        {
            foreach (var t in context.History.Trials)
            {
                if (t.State != TrialState.Complete || t.Value is not { } v || !double.IsFinite(v)) continue;
                complete++;
                var cost = sign * v;
                if (_memberOf.TryGetValue(t.Number, out var m) && complete > WarmupTrials / 2)
                {
                    tries[m]++;
                    if (cost < best) successes[m]++;
                }
                best = Math.Min(best, cost);
            }
        }
        if (complete < WarmupTrials) return 0;
        var chosen = 0;
        var top = double.NegativeInfinity;
        for (var m = 0; m < _members.Length; m++)
        {
            var draw = Beta.Sample(context.Random, 1 + successes[m], 1 + tries[m] - successes[m]);
            if (draw > top) { top = draw; chosen = m; }
        }
        return chosen;
    }
}
