using System.Runtime.CompilerServices;
using Tunesmith.Reporting;

namespace Tunesmith.Dashboard.Internal;

/// <summary>
/// The metrics the dashboard shows for a trial, by the report's rule (<see cref="ReportTable.MetricsShown"/>): a Pruned,
/// Paused or Running command trial's last <c>tunesmith:report</c>, a Complete one's result. Kept per trial object, so a
/// snapshot's unchanged trials (shared with the next snapshot) parse their last report once, not on every page or sort.
/// </summary>
internal static class ShownMetrics
{
    private static readonly ConditionalWeakTable<FrozenTrial, IReadOnlyDictionary<string, double>> Cache = new();

    public static IReadOnlyDictionary<string, double> Of(FrozenTrial trial) => Cache.GetValue(trial, ReportTable.MetricsShown);
}
