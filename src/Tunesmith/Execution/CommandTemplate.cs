using System.Text;
using Tunesmith.Spaces;

namespace Tunesmith.Execution;

/// <summary>
/// A trial's command line as an argv template: a list of arguments, each made of literal text and <c>{name}</c>
/// placeholders. It is never run through a shell: a placeholder's value becomes part of exactly one argument, whatever
/// characters it holds, so a parameter value cannot inject commands.
/// </summary>
/// <remarks>
/// Rendering rule for conditional parameters: an argument that holds a placeholder whose parameter is not part of
/// the trial's configuration (an inactive branch or condition) is dropped, together with the argument right before it
/// when that one is a literal flag (starts with <c>-</c>, holds no <c>=</c> and no placeholder). So
/// <c>--momentum {momentum}</c> disappears as a pair and <c>--momentum={momentum}</c> as one argument.
/// </remarks>
public sealed class CommandTemplate
{
    /// <summary>Placeholders every command may use besides the space's parameters.</summary>
    public static IReadOnlyList<string> BuiltInPlaceholders { get; } = ["trial_number", "trial_dir"];

    private CommandTemplate(IReadOnlyList<CommandArgument> arguments)
    {
        Arguments = arguments;
    }

    /// <summary>The arguments, in order.</summary>
    public IReadOnlyList<CommandArgument> Arguments { get; }

    /// <summary>Every placeholder name used, in order of first appearance.</summary>
    public IReadOnlyList<string> Placeholders =>
        Arguments.SelectMany(a => a.Parts).Where(p => p.IsPlaceholder).Select(p => p.Text).Distinct(StringComparer.Ordinal).ToArray();

    /// <summary>
    /// Splits <paramref name="commandLine"/> into arguments the way a POSIX shell would — whitespace separates,
    /// <c>'single quotes'</c> keep everything literally, <c>"double quotes"</c> keep spaces and honour <c>\"</c>, <c>\\</c>,
    /// <c>\$</c> and <c>\`</c>, and a backslash outside quotes escapes the next character — but expands nothing
    /// (no variables, globs or operators). <c>{{</c> and <c>}}</c> stand for literal braces.
    /// Throws <see cref="CommandTemplateException"/> with the offset of the problem.
    /// </summary>
    public static CommandTemplate Parse(string commandLine)
    {
        ArgumentNullException.ThrowIfNull(commandLine);
        var words = Split(commandLine);
        if (words.Count == 0) throw new CommandTemplateException("the command is empty", 0);
        var arguments = new List<CommandArgument>();
        foreach (var (text, offsets, quoted) in words)
        {
            if (!quoted && ShellOperators.Contains(text))
                throw new CommandTemplateException(
                    $"'{text}' is a shell operator, but commands run without a shell; quote it to pass it literally, or run a script", offsets[0]);
            arguments.Add(ParseArgument(text, i => offsets[Math.Min(i, offsets.Length - 1)]));
        }
        return new CommandTemplate(arguments);
    }

    /// <summary>
    /// Builds a template from ready-made arguments (a YAML list): no splitting or quote handling, only placeholders and
    /// <c>{{</c>/<c>}}</c>. A <see cref="CommandTemplateException"/>'s position is then the argument's index.
    /// </summary>
    public static CommandTemplate FromArguments(IEnumerable<string> arguments)
    {
        var list = new List<CommandArgument>();
        var index = 0;
        foreach (var a in arguments)
        {
            var i = index++;
            list.Add(ParseArgument(a, _ => i));
        }
        if (list.Count == 0) throw new CommandTemplateException("the command is empty", 0);
        return new CommandTemplate(list);
    }

    private static readonly HashSet<string> ShellOperators = ["|", "||", "&", "&&", ";", ";;", ">", ">>", "<", "<<", "2>", "2>&1", "&>", "|&"];

    /// <summary>Renders the argv of one trial; see the class remarks for arguments naming inactive parameters.</summary>
    /// <param name="parameters">The trial's parameter values (a <see cref="Configuration"/> or <see cref="FrozenTrial.Params"/>).</param>
    /// <param name="trialNumber">Fills <c>{trial_number}</c>.</param>
    /// <param name="trialDirectory">Fills <c>{trial_dir}</c>.</param>
    public IReadOnlyList<string> Render(IReadOnlyDictionary<string, object?> parameters, int trialNumber, string trialDirectory)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var argv = new List<string>(Arguments.Count);
        var lastWasFlag = false;
        var sb = new StringBuilder();
        foreach (var argument in Arguments)
        {
            sb.Clear();
            var active = true;
            foreach (var part in argument.Parts)
            {
                if (!part.IsPlaceholder) { sb.Append(part.Text); continue; }
                switch (part.Text)
                {
                    case "trial_number": sb.Append(trialNumber.ToString(System.Globalization.CultureInfo.InvariantCulture)); break;
                    case "trial_dir": sb.Append(trialDirectory); break;
                    default:
                        if (parameters.TryGetValue(part.Text, out var value)) sb.Append(ParamValues.Format(value));
                        else active = false;
                        break;
                }
            }
            if (!active)
            {
                if (lastWasFlag) argv.RemoveAt(argv.Count - 1);
                lastWasFlag = false;
                continue;
            }
            argv.Add(sb.ToString());
            lastWasFlag = argument.IsFlag;
        }
        return argv;
    }

    /// <inheritdoc />
    public override string ToString() => string.Join(" ", Arguments.Select(a => a.ToString()));

    private static List<(string Text, int[] Offsets, bool Quoted)> Split(string s)
    {
        var words = new List<(string, int[], bool)>();
        var sb = new StringBuilder();
        var offsets = new List<int>();
        var inWord = false;
        var quoted = false;
        var wordStart = 0;
        void Append(char c, int at) { sb.Append(c); offsets.Add(at); }
        void Finish()
        {
            if (!inWord) return;
            // An empty word ('' or "") has no characters; point its offsets at where it began.
            words.Add((sb.ToString(), offsets.Count == 0 ? [wordStart] : offsets.ToArray(), quoted));
            sb.Clear();
            offsets.Clear();
            inWord = false;
            quoted = false;
        }
        var i = 0;
        while (i < s.Length)
        {
            var c = s[i];
            if (c is ' ' or '\t' or '\n' or '\r') { Finish(); i++; continue; }
            if (!inWord) { inWord = true; wordStart = i; }
            switch (c)
            {
                case '\'':
                {
                    quoted = true;
                    var close = s.IndexOf('\'', i + 1);
                    if (close < 0) throw new CommandTemplateException("unterminated single quote", i);
                    for (var k = i + 1; k < close; k++) Append(s[k], k);
                    i = close + 1;
                    break;
                }
                case '"':
                {
                    quoted = true;
                    var start = i;
                    i++;
                    while (true)
                    {
                        if (i >= s.Length) throw new CommandTemplateException("unterminated double quote", start);
                        var d = s[i];
                        if (d == '"') { i++; break; }
                        if (d == '\\' && i + 1 < s.Length && s[i + 1] is '"' or '\\' or '$' or '`' or '\n')
                        {
                            if (s[i + 1] != '\n') Append(s[i + 1], i + 1);
                            i += 2;
                            continue;
                        }
                        Append(d, i);
                        i++;
                    }
                    break;
                }
                case '\\':
                    if (i + 1 >= s.Length) throw new CommandTemplateException("a backslash at the end escapes nothing", i);
                    quoted = true;
                    // A backslash-newline continues the line, as in a shell.
                    if (s[i + 1] != '\n') Append(s[i + 1], i + 1);
                    else if (sb.Length == 0) { inWord = false; quoted = false; }
                    i += 2;
                    break;
                default:
                    Append(c, i);
                    i++;
                    break;
            }
        }
        Finish();
        return words;
    }

    private static CommandArgument ParseArgument(string text, Func<int, int> offsetOf)
    {
        var parts = new List<CommandPart>();
        var literal = new StringBuilder();
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (c == '{' && i + 1 < text.Length && text[i + 1] == '{') { literal.Append('{'); i += 2; continue; }
            if (c == '}' && i + 1 < text.Length && text[i + 1] == '}') { literal.Append('}'); i += 2; continue; }
            if (c == '}') throw new CommandTemplateException("a lone '}' (write '}}' for a literal brace)", offsetOf(i));
            if (c != '{') { literal.Append(c); i++; continue; }
            var close = text.IndexOf('}', i + 1);
            if (close < 0) throw new CommandTemplateException("'{' opens a placeholder that is never closed (write '{{' for a literal brace)", offsetOf(i));
            var name = text[(i + 1)..close].Trim();
            if (!IsPlaceholderName(name))
                throw new CommandTemplateException($"'{{{text[(i + 1)..close]}}}' is not a placeholder name (write '{{{{' for a literal brace)", offsetOf(i));
            if (literal.Length > 0) { parts.Add(new CommandPart(literal.ToString(), false, offsetOf(i - 1))); literal.Clear(); }
            parts.Add(new CommandPart(name, true, offsetOf(i)));
            i = close + 1;
        }
        if (literal.Length > 0 || parts.Count == 0) parts.Add(new CommandPart(literal.ToString(), false, offsetOf(Math.Max(0, text.Length - 1))));
        return new CommandArgument(parts);
    }

    private static bool IsPlaceholderName(string name) =>
        name.Length > 0 && (char.IsAsciiLetter(name[0]) || name[0] == '_')
        && name.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '.' or '-');
}

/// <summary>One argument of a <see cref="CommandTemplate"/>: literal text and placeholders, rendered into one argv element.</summary>
/// <param name="Parts">The pieces, in order.</param>
public sealed record CommandArgument(IReadOnlyList<CommandPart> Parts)
{
    /// <summary>True for a literal flag such as <c>--lr</c>: dropped with the argument after it when that one names an inactive parameter.</summary>
    public bool IsFlag => Parts.Count == 1 && !Parts[0].IsPlaceholder && Parts[0].Text.Length > 1 && Parts[0].Text[0] == '-'
        && !Parts[0].Text.Contains('=') && !double.TryParse(Parts[0].Text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _);

    /// <inheritdoc />
    public override string ToString() =>
        string.Concat(Parts.Select(p => p.IsPlaceholder ? $"{{{p.Text}}}" : p.Text.Replace("{", "{{").Replace("}", "}}")));
}

/// <summary>A piece of a command argument: literal text, or a placeholder naming a parameter.</summary>
/// <param name="Text">The literal text, or the placeholder's parameter name.</param>
/// <param name="IsPlaceholder">True for a <c>{name}</c> placeholder.</param>
/// <param name="Offset">Where it starts in the command line (or, for a list command, the argument's index).</param>
public sealed record CommandPart(string Text, bool IsPlaceholder, int Offset);

/// <summary>A command line could not be split or holds a malformed placeholder; <see cref="Position"/> says where.</summary>
public sealed class CommandTemplateException : Exception
{
    /// <summary>Creates an error at <paramref name="position"/>.</summary>
    public CommandTemplateException(string message, int position) : base(message)
    {
        Position = position;
    }

    /// <summary>0-based offset in the command line, or the argument index for a list command.</summary>
    public int Position { get; }
}
