namespace Tunesmith.Storage;

/// <summary>
/// The rule of <see cref="IStudyStorage.EnqueueTrialsIfNewAsync"/>, shared by every storage: each runs it inside its own
/// atomic section (a lock, a write transaction), with its own way of adding a Waiting trial.
/// </summary>
internal static class EnqueueIfNew
{
    /// <summary>
    /// Enqueues each combination that no trial of <paramref name="trials"/> (nor an earlier one of the list) holds; a
    /// failed trial holds its combination only with <paramref name="failedHolds"/>.
    /// </summary>
    public static async ValueTask<IReadOnlyList<EnqueueIfNewResult>> RunAsync(IEnumerable<FrozenTrial> trials,
        IReadOnlyList<IReadOnlyDictionary<string, object?>> combinations, bool failedHolds,
        Func<IReadOnlyDictionary<string, object?>, ValueTask<FrozenTrial>> enqueue)
    {
        var held = new HeldCombinations(trials, failedHold: true);
        var results = new List<EnqueueIfNewResult>(combinations.Count);
        foreach (var combination in combinations)
        {
            var holder = held.Find(combination);
            if (holder is not null && (failedHolds || holder.State != TrialState.Failed))
            {
                results.Add(new EnqueueIfNewResult(holder, Enqueued: false));
                continue;
            }
            var trial = await enqueue(combination).ConfigureAwait(false);
            held.Add(trial);
            results.Add(new EnqueueIfNewResult(trial, Enqueued: true, FailedBefore: holder));
        }
        return results;
    }
}
