using System.Reflection;

namespace Tunesmith.Reporting.Html;

/// <summary>
/// The browser files embedded in the library: Apache ECharts (vendored from npm, pinned; see Html/vendor/echarts) and
/// the plot renderer that draws <see cref="Plots.StudyPlots"/> with it. The HTML report inlines them; the dashboard
/// serves them, so both draw the same plots from the same data.
/// </summary>
public static class ReportAssets
{
    /// <summary>The asset names: <c>echarts.min.js</c>, <c>plots.js</c>, <c>report.css</c>, <c>ECHARTS-LICENSE</c>, <c>ECHARTS-NOTICE</c>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["echarts.min.js", "plots.js", "report.css", "ECHARTS-LICENSE", "ECHARTS-NOTICE"];

    /// <summary>The pinned ECharts version.</summary>
    public const string EChartsVersion = "6.1.0";

    private static readonly Dictionary<string, string> Cache = new(StringComparer.Ordinal);

    /// <summary>An asset's text; throws <see cref="ArgumentException"/> for an unknown name.</summary>
    public static string Read(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (Cache)
        {
            if (Cache.TryGetValue(name, out var text)) return text;
            if (!Names.Contains(name)) throw new ArgumentException($"unknown report asset '{name}'", nameof(name));
            using var stream = typeof(ReportAssets).Assembly.GetManifestResourceStream("Tunesmith.Reporting.Html." + name)
                ?? throw new InvalidOperationException($"report asset '{name}' is not embedded in {typeof(ReportAssets).Assembly.GetName().Name}");
            using var reader = new StreamReader(stream);
            return Cache[name] = reader.ReadToEnd();
        }
    }
}
