using System.Globalization;
using System.Text.RegularExpressions;

namespace Tunesmith.Backends.Processes;

/// <summary>Which of a trial's <c>name=value</c> lines becomes its result when it prints no <c>tunesmith:result</c> line.</summary>
public enum StdoutMetricsResult
{
    /// <summary>The last line that held the study's metric (Ray Tune's default, and what the program ended with).</summary>
    Last,
    /// <summary>The line whose study metric was best for the study's direction (Katib's default metric strategy).</summary>
    Best,
}

/// <summary>
/// Reads metrics from a program's ordinary stdout lines, as Katib's StdOut metrics collector does: each match of a
/// pattern (a regular expression whose first two groups, or groups named <c>name</c> and <c>value</c>, are a metric's
/// name and its number) is a metric; <c>accuracy=0.81 loss=0.42</c> with the default pattern. A line that holds the
/// study's metric is a report; <see cref="Step"/> names a metric that is the report's step instead. Pure parsing, no I/O.
/// </summary>
public sealed record StdoutMetrics
{
    /// <summary>
    /// The default pattern: <c>name=value</c>, a name of letters, digits, <c>_</c>, <c>-</c>, <c>.</c> and <c>/</c> that starts
    /// with a letter or <c>_</c>, spaces allowed around <c>=</c>, a decimal number (exponent allowed) or nan/inf.
    /// </summary>
    public const string DefaultPattern = @"(?<name>[A-Za-z_][\w.\-/]*)\s*=\s*(?<value>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:[Nn][Aa][Nn]|[Ii][Nn][Ff](?:[Ii][Nn][Ii][Tt][Yy])?))";

    private static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(200);

    /// <summary>The patterns, tried in order on each line (every match of each); default <see cref="DefaultPattern"/>.</summary>
    public IReadOnlyList<Regex> Patterns { get; init; } = [Compile(DefaultPattern)];

    /// <summary>A metric name whose value is the line's step (a non-negative integer) rather than a metric; null: none.</summary>
    public string? Step { get; init; }

    /// <summary>Which line is the result when the program prints no <c>tunesmith:result</c> (default <see cref="StdoutMetricsResult.Last"/>).</summary>
    public StdoutMetricsResult Result { get; init; } = StdoutMetricsResult.Last;

    /// <summary>
    /// Compiles a pattern; throws <see cref="ArgumentException"/> saying why when it is not a regular expression or has
    /// fewer than two groups.
    /// </summary>
    public static Regex Compile(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        Regex regex;
        try { regex = new Regex(pattern, RegexOptions.CultureInvariant, MatchTimeout); }
        catch (ArgumentException e) { throw new ArgumentException($"not a regular expression: {e.Message}", nameof(pattern), e); }
        var names = regex.GetGroupNames();
        var named = names.Contains("name") && names.Contains("value");
        if (!named && regex.GetGroupNumbers().Length < 3)
            throw new ArgumentException("needs two groups, the metric's name and its value, e.g. ([\\w-]+)=([-+.\\deE]+) or (?<name>...)(?<value>...)", nameof(pattern));
        return regex;
    }

    /// <summary>
    /// The metrics one line holds, in order of appearance (a later match of a name wins); values that are not numbers
    /// are left out. Empty when no pattern matches. The step metric, if any, is among them.
    /// </summary>
    public IReadOnlyDictionary<string, double> Parse(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var regex in Patterns)
        {
            try
            {
                var named = regex.GroupNumberFromName("name") >= 0 && regex.GroupNumberFromName("value") >= 0;
                for (var m = regex.Match(line); m.Success; m = m.NextMatch())
                {
                    var name = (named ? m.Groups["name"] : m.Groups[1]).Value.Trim();
                    var text = (named ? m.Groups["value"] : m.Groups[2]).Value;
                    if (name.Length == 0 || !TrialProtocol.TryParseBareNumber(text, out var value)) continue;
                    metrics[name] = value;
                }
            }
            catch (RegexMatchTimeoutException) { } // a pathological line is ordinary output
        }
        return metrics;
    }

    /// <summary>Reads <paramref name="value"/> as a step: a non-negative integer; false otherwise.</summary>
    public static bool TryReadStep(double value, out long step)
    {
        step = 0;
        if (!double.IsFinite(value) || value < 0 || value != Math.Floor(value) || value > long.MaxValue) return false;
        step = (long)value;
        return true;
    }

    /// <summary>What the study file writes for <paramref name="result"/>.</summary>
    public static string Describe(StdoutMetricsResult result) => result.ToString().ToLower(CultureInfo.InvariantCulture);
}
