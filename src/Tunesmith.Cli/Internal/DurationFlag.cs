using Tunesmith.Execution;

namespace Tunesmith.Cli.Internal;

/// <summary>A flag that takes a duration (<c>run --timeout</c>, <c>simulate --time-budget</c>): read as a study file reads one.</summary>
internal static class DurationFlag
{
    /// <summary>
    /// Parses <paramref name="text"/> with the study file's parser (<see cref="StudyFile.ParseDuration"/>: 90, 90s, 30m,
    /// 2h, 1.5d, 1h30m, 500ms, 01:30:00), so <c>--timeout 1h30m</c> reads as <c>timeout: 1h30m</c> does; null for null.
    /// A malformed, non-positive or too long duration is a <see cref="CliUsageException"/>: <c>--timeout soon: expected a
    /// positive duration such as 90s, 30m, 2h, 1h30m or 01:30:00</c>, <c>--time-budget 40000d: too long (at most 36500d)</c>.
    /// </summary>
    public static TimeSpan? Parse(string flag, string? text)
    {
        if (text is null) return null;
        if (StudyFile.ParseDuration(text) is not { } d || d <= TimeSpan.Zero)
            throw new CliUsageException($"{flag} {text}: expected a positive duration such as 90s, 30m, 2h, 1h30m or 01:30:00");
        if (d > StudyFile.MaxDuration) throw new CliUsageException($"{flag} {text}: too long (at most {StudyFile.MaxDuration.TotalDays:0}d)");
        return d;
    }
}
