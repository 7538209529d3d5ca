using Tunesmith.Spaces;

namespace Tunesmith.Cli.Internal;

/// <summary>Parses repeated <c>--set name=value</c> flags into typed parameter values, in the order given.</summary>
internal static class Assignments
{
    /// <summary>Parses the flags; throws <see cref="CliUsageException"/> naming the bad flag.</summary>
    public static IReadOnlyDictionary<string, object?> Parse(IEnumerable<string>? flags)
    {
        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var flag in flags ?? [])
        {
            var eq = flag.IndexOf('=');
            if (eq <= 0)
                throw new CliUsageException($"--set '{flag}': expected name=value");
            var name = flag[..eq].Trim();
            if (name.Length == 0)
                throw new CliUsageException($"--set '{flag}': the parameter name is empty");
            if (values.ContainsKey(name))
                throw new CliUsageException($"--set '{flag}': parameter '{name}' is set twice");
            values[name] = ParamValues.ParseText(flag[(eq + 1)..]);
        }
        return values;
    }

    /// <summary>Formats parameters as <c>--set</c> flags a POSIX shell reads back unchanged (values quoted when needed).</summary>
    public static string Format(IEnumerable<KeyValuePair<string, object?>> parameters) =>
        string.Join(" ", parameters.Select(p => "--set " + ShellQuote($"{p.Key}={ParamValues.Format(p.Value)}")));

    private static string ShellQuote(string word) =>
        word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || c is '=' or '.' or '_' or '-' or '+' or ':' or '/' or ',')
            ? word
            : "'" + word.Replace("'", "'\\''") + "'";
}
