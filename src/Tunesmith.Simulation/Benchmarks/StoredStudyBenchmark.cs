using Tunesmith.Spaces;
using Tunesmith.Storage;

namespace Tunesmith.Simulation.Benchmarks;

/// <summary>
/// <c>study:NAME</c>: a study already run and stored (SQLite, PostgreSQL), replayed as a tabular benchmark. Each Complete,
/// Pruned or Paused trial with intermediate values is a row: its sampled parameters (in the study's own distributions),
/// its reported values in step order as the curve (the k-th report is epoch k), and per epoch its stored run time
/// (finished − started) spread evenly over its reports. Failed, Running and Waiting trials are left out: a failure is
/// mostly about the machine (a crash, a timeout), not the configuration, and a running trial's curve is not final.
/// </summary>
public static class StoredStudyBenchmark
{
    /// <summary>The prefix of the benchmark name: <c>study:NAME</c>.</summary>
    public const string Prefix = "study:";

    /// <summary>The per-report seconds of a row whose trial holds no usable start and finish time, when no other row does either.</summary>
    public const double FallbackEpochSeconds = 1.0;

    /// <summary>
    /// Reads study <paramref name="studyName"/> from <paramref name="storage"/> into a table. Throws
    /// <see cref="StudyNotFoundException"/> when the study does not exist and <see cref="ArgumentException"/> (one line)
    /// when it holds no finished trial with reported values.
    /// </summary>
    public static async Task<TabularBenchmark> LoadAsync(IStudyStorage storage, string studyName, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(storage);
        var study = await storage.GetStudyAsync(studyName, cancellationToken).ConfigureAwait(false) ?? throw new StudyNotFoundException(studyName);
        var trials = (await storage.GetTrialsSinceAsync(study.Id, 0, cancellationToken).ConfigureAwait(false)).Trials;
        var metric = study.SystemAttributes.TryGetValue(SystemAttributeKeys.Metric, out var m) && m is string ms ? ms : "value";
        return Build(Prefix + studyName, metric, study.Direction, trials);
    }

    /// <summary>The table built from <paramref name="trials"/> (see the class summary for which trials become rows and how).</summary>
    public static TabularBenchmark Build(string name, string metric, Direction direction, IReadOnlyList<FrozenTrial> trials)
    {
        ArgumentNullException.ThrowIfNull(trials);
        var shown = name.StartsWith(Prefix, StringComparison.Ordinal) ? name[Prefix.Length..] : name;
        var used = trials.Where(t => t.State is TrialState.Complete or TrialState.Pruned or TrialState.Paused
                                     && t.Intermediate.Values.Any(double.IsFinite))
            .OrderBy(t => t.Number).ToList();
        if (used.Count == 0)
            throw new ArgumentException($"study '{shown}' has no Complete, Pruned or Paused trial with reported values (trial.Report or tunesmith:report) to replay");

        // The space: the parameters every used trial sampled, with the distribution of the latest trial that sampled it
        // (a study whose space was updated keeps its newest ranges); rows whose value lies outside it are left out.
        var names = used[0].Distributions.Keys.Where(k => used.All(t => t.Distributions.ContainsKey(k))).OrderBy(k => k, StringComparer.Ordinal).ToArray();
        if (names.Length == 0)
            throw new ArgumentException($"study '{shown}': its trials with reported values share no sampled parameter to replay");
        var space = names.Select(n => new KeyValuePair<string, Distribution>(n, used[^1].Distributions[n])).ToArray();
        var rows = used.Where(t => space.All(p => t.Params.TryGetValue(p.Key, out var v) && p.Value.Contains(v))).ToList();
        if (rows.Count == 0)
            throw new ArgumentException($"study '{shown}': no trial with reported values fits the study's latest space");

        var perEpoch = rows.Select(EpochSeconds).ToArray();
        var known = perEpoch.Where(s => s is not null).Select(s => s!.Value).OrderBy(s => s).ToArray();
        var fallback = known.Length > 0 ? known[known.Length / 2] : FallbackEpochSeconds;
        var configurations = new List<double[]>(rows.Count);
        var curves = new List<LearningCurve>(rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            var t = rows[i];
            var values = t.Intermediate.OrderBy(p => p.Key).Select(p => p.Value).Where(double.IsFinite).ToArray();
            var seconds = Math.Max(perEpoch[i] ?? fallback, 1e-3);
            curves.Add(new LearningCurve(i, values, Enumerable.Repeat(seconds, values.Length).ToArray()));
            configurations.Add(space.Select(p => p.Value switch
            {
                CategoricalDistribution c => c.IndexOf(t.Params[p.Key]),
                _ => ParamValues.ToDouble(t.Params[p.Key]),
            }).ToArray());
        }
        return new TabularBenchmark(name, metric, direction, space, configurations, curves);
    }

    // A trial's stored run time (finished − started; a trial resumed after a pause counts its wait too) over its reports;
    // null when the storage holds no start or finish time, or the time is not positive.
    private static double? EpochSeconds(FrozenTrial trial)
    {
        var reports = trial.Intermediate.Values.Count(double.IsFinite);
        return trial.Duration is { } d && d > TimeSpan.Zero && reports > 0 ? d.TotalSeconds / reports : null;
    }
}
