using System.Globalization;

namespace Tunesmith.Cli.Internal;

/// <summary>How numbers and durations are shown to people (invariant culture, compact).</summary>
internal static class Formats
{
    /// <summary>A metric or objective value: up to 6 significant digits.</summary>
    public static string Value(double? value) => value is { } v ? Tunesmith.Spaces.NumberText.Short(v) : "-";

    /// <summary>A duration as 1h02m, 3m05s or 4.2s.</summary>
    public static string Duration(TimeSpan? duration)
    {
        if (duration is not { } d) return "-";
        if (d < TimeSpan.Zero) d = TimeSpan.Zero;
        if (d.TotalHours >= 1) return $"{(int)d.TotalHours}h{d.Minutes:00}m";
        if (d.TotalMinutes >= 1) return $"{(int)d.TotalMinutes}m{d.Seconds:00}s";
        return d.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + "s";
    }

    /// <summary>A count and its noun, singular for 1: "1 trial", "2 trials", "1 waiting trial" (<paramref name="plural"/> when not the noun plus s).</summary>
    public static string Count(long count, string noun, string? plural = null) =>
        string.Create(CultureInfo.InvariantCulture, $"{count} {(count == 1 ? noun : plural ?? noun + "s")}");
}
