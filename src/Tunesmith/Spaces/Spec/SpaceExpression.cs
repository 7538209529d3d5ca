using System.Globalization;

namespace Tunesmith.Spaces.Spec;

/// <summary>
/// A derived-value expression from a study file (<c>padding: { expr: "kernel_size // 2" }</c>), parsed once and
/// evaluated per trial over the trial's parameters. The language is a small, Python-like arithmetic one: numbers,
/// strings, parameter names (dotted names such as <c>layers.0.filters</c> allowed), <c>+ - * / // % **</c>, unary minus,
/// parentheses, comparisons, <c>and</c>/<c>or</c>/<c>not</c>, <c>x if cond else y</c>, and the functions
/// min, max, abs, round, floor, ceil, log, log2, log10, exp, sqrt, int and float.
/// Integer arithmetic stays integral; <c>//</c> and <c>%</c> floor like Python's (−7 // 2 = −4, −7 % 2 = 1).
/// </summary>
public sealed class SpaceExpression
{
    private readonly ExpressionNode _root;

    private SpaceExpression(string text, ExpressionNode root, IReadOnlyList<(string Name, int Position)> names)
    {
        Text = text;
        _root = root;
        NameReferences = names;
    }

    /// <summary>The source text.</summary>
    public string Text { get; }

    /// <summary>Every parameter name the expression reads, with its character offset in <see cref="Text"/>, in order of appearance.</summary>
    public IReadOnlyList<(string Name, int Position)> NameReferences { get; }

    /// <summary>The distinct parameter names the expression reads.</summary>
    public IReadOnlyList<string> Names => NameReferences.Select(n => n.Name).Distinct(StringComparer.Ordinal).ToArray();

    /// <summary>The function names the language knows.</summary>
    public static IReadOnlyList<string> Functions => ExpressionFunctions.Names;

    /// <summary>Parses <paramref name="text"/>; throws <see cref="ExpressionException"/> with the offset of the first error.</summary>
    public static SpaceExpression Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parser = new ExpressionParser(text);
        var root = parser.ParseAll();
        return new SpaceExpression(text, root, parser.Names);
    }

    /// <summary>
    /// Evaluates the expression over <paramref name="parameters"/> (a <see cref="Configuration"/> works, and resolves names
    /// inside a repeated block first). Throws <see cref="ExpressionException"/> for a name without a value, a type mismatch
    /// or an arithmetic error such as division by zero.
    /// </summary>
    public object? Evaluate(IReadOnlyDictionary<string, object?> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return _root.Evaluate(parameters);
    }

    /// <summary>
    /// True when evaluating the expression surely reads <paramref name="name"/> given the values in
    /// <paramref name="known"/>, whatever the other names hold: a guard such as <c>C if model == 'svm' else 0</c> reads
    /// <c>C</c> only when its condition can be decided from <paramref name="known"/> and picks that side (or when both
    /// sides read it). Used at load to refuse an expression that reads a parameter of a branch it is not in.
    /// </summary>
    public bool SurelyReads(string name, IReadOnlyDictionary<string, object?> known)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(known);
        return _root.SurelyReads(name, known);
    }

    /// <inheritdoc />
    public override string ToString() => Text;
}

/// <summary>An expression could not be parsed or evaluated; <see cref="Position"/> is the offset in the expression text.</summary>
public sealed class ExpressionException : Exception
{
    /// <summary>Creates an error at <paramref name="position"/> (a 0-based character offset).</summary>
    public ExpressionException(string message, int position) : base(message)
    {
        Position = position;
    }

    /// <summary>The 0-based character offset in the expression text where the problem is.</summary>
    public int Position { get; }
}

internal enum TokenKind { Number, String, Name, Operator, LeftParen, RightParen, Comma, End }

internal readonly record struct Token(TokenKind Kind, string Text, int Position, object? Value = null);

internal static class ExpressionTokenizer
{
    private static readonly string[] Operators = ["**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "<", ">"];

    public static List<Token> Tokenize(string text)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (char.IsWhiteSpace(c)) { i++; continue; }
            var start = i;
            if (char.IsAsciiDigit(c) || (c == '.' && i + 1 < text.Length && char.IsAsciiDigit(text[i + 1])))
            {
                tokens.Add(ReadNumber(text, ref i));
                continue;
            }
            if (char.IsAsciiLetter(c) || c == '_')
            {
                i++;
                while (i < text.Length && (char.IsAsciiLetterOrDigit(text[i]) || text[i] == '_'
                       || (text[i] == '.' && i + 1 < text.Length && (char.IsAsciiLetterOrDigit(text[i + 1]) || text[i + 1] == '_'))))
                    i++;
                tokens.Add(new Token(TokenKind.Name, text[start..i], start));
                continue;
            }
            if (c is '"' or '\'')
            {
                tokens.Add(ReadString(text, ref i));
                continue;
            }
            switch (c)
            {
                case '(': tokens.Add(new Token(TokenKind.LeftParen, "(", i++)); continue;
                case ')': tokens.Add(new Token(TokenKind.RightParen, ")", i++)); continue;
                case ',': tokens.Add(new Token(TokenKind.Comma, ",", i++)); continue;
            }
            var op = Operators.FirstOrDefault(o => string.CompareOrdinal(text, i, o, 0, o.Length) == 0);
            if (op is null)
                throw new ExpressionException(c == '='
                    ? "unexpected '=' (use '==' to compare)"
                    : $"unexpected character '{c}'", i);
            tokens.Add(new Token(TokenKind.Operator, op, i));
            i += op.Length;
        }
        tokens.Add(new Token(TokenKind.End, "", text.Length));
        return tokens;
    }

    private static Token ReadNumber(string text, ref int i)
    {
        var start = i;
        var isFloat = false;
        while (i < text.Length && char.IsAsciiDigit(text[i])) i++;
        if (i < text.Length && text[i] == '.')
        {
            isFloat = true;
            i++;
            while (i < text.Length && char.IsAsciiDigit(text[i])) i++;
        }
        if (i < text.Length && text[i] is 'e' or 'E')
        {
            var j = i + 1;
            if (j < text.Length && text[j] is '+' or '-') j++;
            if (j < text.Length && char.IsAsciiDigit(text[j]))
            {
                isFloat = true;
                i = j;
                while (i < text.Length && char.IsAsciiDigit(text[i])) i++;
            }
        }
        if (i < text.Length && (char.IsAsciiLetter(text[i]) || text[i] == '_'))
            throw new ExpressionException($"malformed number '{text[start..(i + 1)]}'", start);
        var literal = text[start..i];
        if (!isFloat && long.TryParse(literal, NumberStyles.None, CultureInfo.InvariantCulture, out var l))
            return new Token(TokenKind.Number, literal, start, l);
        if (double.TryParse(literal, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
            return new Token(TokenKind.Number, literal, start, d);
        throw new ExpressionException($"malformed number '{literal}'", start);
    }

    private static Token ReadString(string text, ref int i)
    {
        var start = i;
        var quote = text[i++];
        var sb = new System.Text.StringBuilder();
        while (i < text.Length && text[i] != quote)
        {
            if (text[i] == '\\' && i + 1 < text.Length)
            {
                i++;
                sb.Append(text[i] switch { 'n' => '\n', 't' => '\t', var other => other });
                i++;
                continue;
            }
            sb.Append(text[i++]);
        }
        if (i >= text.Length) throw new ExpressionException("unterminated string", start);
        i++;
        return new Token(TokenKind.String, text[start..i], start, sb.ToString());
    }
}

internal sealed class ExpressionParser
{
    private static readonly HashSet<string> Keywords = ["and", "or", "not", "if", "else", "true", "false", "null", "True", "False", "None"];
    private readonly List<Token> _tokens;
    private int _next;

    public ExpressionParser(string text)
    {
        _tokens = ExpressionTokenizer.Tokenize(text);
    }

    public List<(string Name, int Position)> Names { get; } = [];

    private Token Peek => _tokens[_next];

    private Token Take() => _tokens[_next++];

    private bool IsKeyword(string word) => Peek.Kind == TokenKind.Name && Peek.Text == word;

    private bool IsOperator(string op) => Peek.Kind == TokenKind.Operator && Peek.Text == op;

    public ExpressionNode ParseAll()
    {
        if (Peek.Kind == TokenKind.End) throw new ExpressionException("the expression is empty", 0);
        var node = ParseConditional();
        if (Peek.Kind != TokenKind.End) throw Unexpected(Peek);
        return node;
    }

    private static ExpressionException Unexpected(Token t) => t.Kind == TokenKind.End
        ? new ExpressionException("the expression ends too early", t.Position)
        : new ExpressionException($"unexpected '{t.Text}'", t.Position);

    private ExpressionNode ParseConditional()
    {
        var then = ParseOr();
        if (!IsKeyword("if")) return then;
        var position = Take().Position;
        var condition = ParseOr();
        if (!IsKeyword("else")) throw new ExpressionException("expected 'else' after 'x if condition'", Peek.Position);
        Take();
        var otherwise = ParseConditional();
        return new ConditionalNode(condition, then, otherwise, position);
    }

    private ExpressionNode ParseOr()
    {
        var left = ParseAnd();
        while (IsKeyword("or"))
        {
            var position = Take().Position;
            left = new LogicalNode(true, left, ParseAnd(), position);
        }
        return left;
    }

    private ExpressionNode ParseAnd()
    {
        var left = ParseNot();
        while (IsKeyword("and"))
        {
            var position = Take().Position;
            left = new LogicalNode(false, left, ParseNot(), position);
        }
        return left;
    }

    private ExpressionNode ParseNot()
    {
        if (!IsKeyword("not")) return ParseComparison();
        var position = Take().Position;
        return new NotNode(ParseNot(), position);
    }

    private ExpressionNode ParseComparison()
    {
        var first = ParseAdditive();
        var operands = new List<ExpressionNode> { first };
        var operators = new List<Token>();
        while (Peek.Kind == TokenKind.Operator && Peek.Text is "==" or "!=" or "<" or "<=" or ">" or ">=")
        {
            operators.Add(Take());
            operands.Add(ParseAdditive());
        }
        return operators.Count == 0 ? first : new ComparisonNode(operands, operators.Select(o => o.Text).ToArray(), operators[0].Position);
    }

    private ExpressionNode ParseAdditive()
    {
        var left = ParseMultiplicative();
        while (IsOperator("+") || IsOperator("-"))
        {
            var op = Take();
            left = new BinaryNode(op.Text, left, ParseMultiplicative(), op.Position);
        }
        return left;
    }

    private ExpressionNode ParseMultiplicative()
    {
        var left = ParseUnary();
        while (IsOperator("*") || IsOperator("/") || IsOperator("//") || IsOperator("%"))
        {
            var op = Take();
            left = new BinaryNode(op.Text, left, ParseUnary(), op.Position);
        }
        return left;
    }

    private ExpressionNode ParseUnary()
    {
        if (IsOperator("-") || IsOperator("+"))
        {
            var op = Take();
            return new NegateNode(op.Text == "-", ParseUnary(), op.Position);
        }
        return ParsePower();
    }

    private ExpressionNode ParsePower()
    {
        var left = ParsePrimary();
        if (!IsOperator("**")) return left;
        var op = Take();
        // Right-associative and binding tighter than a unary minus on its left, as in Python: -2 ** 2 == -4, 2 ** -1 == 0.5.
        return new BinaryNode("**", left, ParseUnary(), op.Position);
    }

    private ExpressionNode ParsePrimary()
    {
        var t = Take();
        switch (t.Kind)
        {
            case TokenKind.Number:
            case TokenKind.String:
                return new ConstantNode(t.Value, t.Position);
            case TokenKind.LeftParen:
                var inner = ParseConditional();
                if (Peek.Kind != TokenKind.RightParen) throw new ExpressionException("expected ')'", Peek.Position);
                Take();
                return inner;
            case TokenKind.Name:
                switch (t.Text)
                {
                    case "true" or "True": return new ConstantNode(true, t.Position);
                    case "false" or "False": return new ConstantNode(false, t.Position);
                    case "null" or "None": return new ConstantNode(null, t.Position);
                }
                if (Keywords.Contains(t.Text)) throw Unexpected(t);
                if (Peek.Kind == TokenKind.LeftParen) return ParseCall(t);
                Names.Add((t.Text, t.Position));
                return new NameNode(t.Text, t.Position);
            default:
                throw Unexpected(t);
        }
    }

    private ExpressionNode ParseCall(Token name)
    {
        if (!ExpressionFunctions.TryGet(name.Text, out var function))
        {
            var hint = ClosestName.Suggest(name.Text, ExpressionFunctions.Names);
            throw new ExpressionException($"unknown function '{name.Text}'{hint} (known: {string.Join(", ", ExpressionFunctions.Names)})", name.Position);
        }
        Take(); // (
        var args = new List<ExpressionNode>();
        if (Peek.Kind != TokenKind.RightParen)
        {
            while (true)
            {
                args.Add(ParseConditional());
                if (Peek.Kind == TokenKind.Comma) { Take(); continue; }
                break;
            }
        }
        if (Peek.Kind != TokenKind.RightParen) throw new ExpressionException("expected ',' or ')' in the argument list", Peek.Position);
        Take();
        if (args.Count < function.MinArgs || args.Count > function.MaxArgs)
        {
            var expected = function.MinArgs == function.MaxArgs ? $"{function.MinArgs}"
                : function.MaxArgs == int.MaxValue ? $"at least {function.MinArgs}" : $"{function.MinArgs} or {function.MaxArgs}";
            throw new ExpressionException($"{name.Text}() takes {expected} argument{(expected == "1" ? "" : "s")}, got {args.Count}", name.Position);
        }
        return new CallNode(function, args, name.Position);
    }
}

internal abstract class ExpressionNode(int position)
{
    public int Position { get; } = position;

    public abstract object? Evaluate(IReadOnlyDictionary<string, object?> parameters);

    /// <summary>Whether evaluating over <paramref name="known"/> plus any other values reads <paramref name="name"/> (see <see cref="SpaceExpression.SurelyReads"/>).</summary>
    public abstract bool SurelyReads(string name, IReadOnlyDictionary<string, object?> known);

    /// <summary>The value when <paramref name="known"/> alone decides it, else false (a name without a value, or an error).</summary>
    public bool TryFold(IReadOnlyDictionary<string, object?> known, out object? value)
    {
        try { value = Evaluate(known); return true; }
        catch (ExpressionException) { value = null; return false; }
    }
}

internal sealed class ConstantNode(object? value, int position) : ExpressionNode(position)
{
    public override object? Evaluate(IReadOnlyDictionary<string, object?> parameters) => value;

    public override bool SurelyReads(string name, IReadOnlyDictionary<string, object?> known) => false;
}

internal sealed class NameNode(string name, int position) : ExpressionNode(position)
{
    public override object? Evaluate(IReadOnlyDictionary<string, object?> parameters) =>
        parameters.TryGetValue(name, out var v) ? ParamValues.Normalize(v)
            : throw new ExpressionException($"parameter '{name}' has no value in this trial (inactive or unknown)", Position);

    public override bool SurelyReads(string read, IReadOnlyDictionary<string, object?> known) => read == name;
}

internal sealed class ConditionalNode(ExpressionNode condition, ExpressionNode then, ExpressionNode otherwise, int position) : ExpressionNode(position)
{
    public override object? Evaluate(IReadOnlyDictionary<string, object?> parameters) =>
        ExpressionValues.IsTruthy(condition.Evaluate(parameters)) ? then.Evaluate(parameters) : otherwise.Evaluate(parameters);

    public override bool SurelyReads(string name, IReadOnlyDictionary<string, object?> known) =>
        condition.SurelyReads(name, known) || (condition.TryFold(known, out var c)
            ? (ExpressionValues.IsTruthy(c) ? then : otherwise).SurelyReads(name, known)
            : then.SurelyReads(name, known) && otherwise.SurelyReads(name, known));
}

internal sealed class LogicalNode(bool isOr, ExpressionNode left, ExpressionNode right, int position) : ExpressionNode(position)
{
    // Python semantics: the result is an operand, and the right side is evaluated only when needed.
    public override object? Evaluate(IReadOnlyDictionary<string, object?> parameters)
    {
        var l = left.Evaluate(parameters);
        return ExpressionValues.IsTruthy(l) == isOr ? l : right.Evaluate(parameters);
    }

    // The right side is read for sure only when the left side is known and does not decide the result.
    public override bool SurelyReads(string name, IReadOnlyDictionary<string, object?> known) =>
        left.SurelyReads(name, known)
        || (left.TryFold(known, out var l) && ExpressionValues.IsTruthy(l) != isOr && right.SurelyReads(name, known));
}

internal sealed class NotNode(ExpressionNode operand, int position) : ExpressionNode(position)
{
    public override object? Evaluate(IReadOnlyDictionary<string, object?> parameters) => !ExpressionValues.IsTruthy(operand.Evaluate(parameters));

    public override bool SurelyReads(string name, IReadOnlyDictionary<string, object?> known) => operand.SurelyReads(name, known);
}

internal sealed class NegateNode(bool negate, ExpressionNode operand, int position) : ExpressionNode(position)
{
    public override object? Evaluate(IReadOnlyDictionary<string, object?> parameters)
    {
        var v = ExpressionValues.AsNumber(operand.Evaluate(parameters), negate ? "-" : "+", Position);
        if (!negate) return v;
        if (v is long l) return l == long.MinValue ? -(double)l : (object)(-l);
        return -(double)v;
    }

    public override bool SurelyReads(string name, IReadOnlyDictionary<string, object?> known) => operand.SurelyReads(name, known);
}

internal sealed class ComparisonNode(List<ExpressionNode> operands, string[] operators, int position) : ExpressionNode(position)
{
    // Chained like Python: a < b <= c means a < b and b <= c.
    public override object? Evaluate(IReadOnlyDictionary<string, object?> parameters)
    {
        var left = operands[0].Evaluate(parameters);
        for (var i = 0; i < operators.Length; i++)
        {
            var right = operands[i + 1].Evaluate(parameters);
            if (!ExpressionValues.Compare(operators[i], left, right, Position)) return false;
            left = right;
        }
        return true;
    }

    // The first comparison's two operands are always evaluated; later ones only while the chain holds.
    public override bool SurelyReads(string name, IReadOnlyDictionary<string, object?> known) =>
        operands[0].SurelyReads(name, known) || operands[1].SurelyReads(name, known);
}

internal sealed class BinaryNode(string op, ExpressionNode left, ExpressionNode right, int position) : ExpressionNode(position)
{
    public override object? Evaluate(IReadOnlyDictionary<string, object?> parameters) =>
        ExpressionValues.Binary(op, left.Evaluate(parameters), right.Evaluate(parameters), Position);

    public override bool SurelyReads(string name, IReadOnlyDictionary<string, object?> known) =>
        left.SurelyReads(name, known) || right.SurelyReads(name, known);
}

internal sealed class CallNode(ExpressionFunction function, List<ExpressionNode> args, int position) : ExpressionNode(position)
{
    public override object? Evaluate(IReadOnlyDictionary<string, object?> parameters)
    {
        var values = new object?[args.Count];
        for (var i = 0; i < values.Length; i++) values[i] = args[i].Evaluate(parameters);
        return function.Invoke(values, Position);
    }

    public override bool SurelyReads(string name, IReadOnlyDictionary<string, object?> known) => args.Any(a => a.SurelyReads(name, known));
}

internal static class ExpressionValues
{
    public static bool IsTruthy(object? v) => v switch
    {
        null => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        _ => true,
    };

    public static string TypeName(object? v) => v switch
    {
        null => "null",
        bool => "boolean",
        long => "integer",
        double => "float",
        string => "string",
        _ => v.GetType().Name,
    };

    /// <summary>A number operand: long or double (booleans count as 0/1, as in Python).</summary>
    public static object AsNumber(object? v, string op, int position) => v switch
    {
        long or double => v,
        bool b => b ? 1L : 0L,
        _ => throw new ExpressionException($"'{op}' needs a number, got {TypeName(v)} {ParamValues.Format(v)}", position),
    };

    public static double ToDouble(object number) => number is long l ? l : (double)number;

    public static bool Compare(string op, object? a, object? b, int position)
    {
        if (op is "==" or "!=")
        {
            var equal = (a is bool || b is bool) && a is not null && b is not null && a.GetType() != b.GetType()
                ? ParamValues.AreEqual(a is bool ba ? (ba ? 1L : 0L) : a, b is bool bb ? (bb ? 1L : 0L) : b)
                : ParamValues.AreEqual(a, b);
            return op == "==" ? equal : !equal;
        }
        int c;
        if (a is string sa && b is string sb) c = string.CompareOrdinal(sa, sb);
        else if (a is long la && b is long lb) c = la.CompareTo(lb);
        else
        {
            var x = ToDouble(AsNumber(a, op, position));
            var y = ToDouble(AsNumber(b, op, position));
            if (double.IsNaN(x) || double.IsNaN(y)) return false;
            c = x.CompareTo(y);
        }
        return op switch { "<" => c < 0, "<=" => c <= 0, ">" => c > 0, _ => c >= 0 };
    }

    public static object? Binary(string op, object? a, object? b, int position)
    {
        if (op == "+" && a is string sa && b is string sb) return sa + sb;
        if (op == "+" && (a is string || b is string))
            throw new ExpressionException($"'+' cannot join {TypeName(a)} and {TypeName(b)} (use the same type on both sides)", position);
        var x = AsNumber(a, op, position);
        var y = AsNumber(b, op, position);
        if (x is long lx && y is long ly)
        {
            switch (op)
            {
                case "+": return Checked(() => checked(lx + ly), () => (double)lx + ly);
                case "-": return Checked(() => checked(lx - ly), () => (double)lx - ly);
                case "*": return Checked(() => checked(lx * ly), () => (double)lx * ly);
                case "/": return ly == 0 ? throw DivisionByZero(position) : (double)lx / ly;
                case "//": return ly == 0 ? throw DivisionByZero(position) : FloorDiv(lx, ly);
                case "%": return ly == 0 ? throw DivisionByZero(position) : FloorMod(lx, ly);
                case "**": return ly >= 0 ? IntPower(lx, ly) : Math.Pow(lx, ly);
            }
        }
        var dx = ToDouble(x);
        var dy = ToDouble(y);
        switch (op)
        {
            case "+": return dx + dy;
            case "-": return dx - dy;
            case "*": return dx * dy;
            case "/": return dy == 0 ? throw DivisionByZero(position) : dx / dy;
            case "//": return dy == 0 ? throw DivisionByZero(position) : Math.Floor(dx / dy);
            case "%":
                if (dy == 0) throw DivisionByZero(position);
                var m = dx - dy * Math.Floor(dx / dy);
                return m;
            case "**":
                var p = Math.Pow(dx, dy);
                return double.IsNaN(p) && !double.IsNaN(dx) && !double.IsNaN(dy)
                    ? throw new ExpressionException($"{ParamValues.Format(dx)} ** {ParamValues.Format(dy)} is not a real number", position)
                    : p;
        }
        throw new ExpressionException($"unknown operator '{op}'", position);
    }

    private static object Checked(Func<long> exact, Func<double> fallback)
    {
        try { return exact(); }
        catch (OverflowException) { return fallback(); }
    }

    private static object IntPower(long b, long e)
    {
        long result = 1;
        try
        {
            for (var i = 0L; i < e; i++)
            {
                result = checked(result * b);
                if (result is 0 or 1 && b is 0 or 1) break;
            }
            return result;
        }
        catch (OverflowException) { return Math.Pow(b, e); }
    }

    public static long FloorDiv(long a, long b)
    {
        var q = a / b;
        if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
        return q;
    }

    public static long FloorMod(long a, long b)
    {
        var m = a % b;
        if (m != 0 && ((m < 0) != (b < 0))) m += b;
        return m;
    }

    private static ExpressionException DivisionByZero(int position) => new("division by zero", position);
}

internal sealed record ExpressionFunction(string Name, int MinArgs, int MaxArgs, Func<object?[], int, object?> Body)
{
    public object? Invoke(object?[] args, int position) => Body(args, position);
}

internal static class ExpressionFunctions
{
    private static readonly Dictionary<string, ExpressionFunction> ByName = new ExpressionFunction[]
    {
        new("min", 1, int.MaxValue, (a, p) => Extreme(a, p, "min", c => c < 0)),
        new("max", 1, int.MaxValue, (a, p) => Extreme(a, p, "max", c => c > 0)),
        new("abs", 1, 1, (a, p) => Num(a[0], "abs", p) is long l ? (l == long.MinValue ? -(double)l : (object)Math.Abs(l)) : Math.Abs(D(a[0], "abs", p))),
        new("round", 1, 2, Round),
        new("floor", 1, 1, (a, p) => ToLong(Math.Floor(D(a[0], "floor", p)), "floor", p)),
        new("ceil", 1, 1, (a, p) => ToLong(Math.Ceiling(D(a[0], "ceil", p)), "ceil", p)),
        new("log", 1, 2, Log),
        new("log2", 1, 1, (a, p) => Math.Log2(Positive(a[0], "log2", p))),
        new("log10", 1, 1, (a, p) => Math.Log10(Positive(a[0], "log10", p))),
        new("exp", 1, 1, (a, p) => Math.Exp(D(a[0], "exp", p))),
        new("sqrt", 1, 1, (a, p) => D(a[0], "sqrt", p) is var x && x >= 0 ? Math.Sqrt(x)
            : throw new ExpressionException($"sqrt() of a negative number ({ParamValues.Format(x)})", p)),
        new("int", 1, 1, ToInt),
        new("float", 1, 1, ToFloat),
    }.ToDictionary(f => f.Name, StringComparer.Ordinal);

    public static IReadOnlyList<string> Names { get; } = ByName.Keys.ToArray();

    public static bool TryGet(string name, out ExpressionFunction function) => ByName.TryGetValue(name, out function!);

    private static object Num(object? v, string name, int p) => ExpressionValues.AsNumber(v, $"{name}()", p);

    private static double D(object? v, string name, int p) => ExpressionValues.ToDouble(Num(v, name, p));

    private static double Positive(object? v, string name, int p)
    {
        var x = D(v, name, p);
        return x > 0 ? x : throw new ExpressionException($"{name}() of a non-positive number ({ParamValues.Format(x)})", p);
    }

    private static object ToLong(double x, string name, int p) =>
        double.IsFinite(x) && Math.Abs(x) < 9.2e18 ? (long)x : throw new ExpressionException($"{name}() of {ParamValues.Format(x)} is not a finite integer", p);

    private static object? Extreme(object?[] args, int p, string name, Func<int, bool> better)
    {
        object? best = null;
        foreach (var raw in args)
        {
            var v = Num(raw, name, p);
            if (best is null) { best = v; continue; }
            var c = v is long a && best is long b ? a.CompareTo(b) : ExpressionValues.ToDouble(v).CompareTo(ExpressionValues.ToDouble(best));
            if (better(c)) best = v;
        }
        return best;
    }

    private static object? Round(object?[] a, int p)
    {
        var x = Num(a[0], "round", p);
        if (a.Length == 1)
            // Python rounds half to even.
            return x is long l ? l : ToLong(Math.Round((double)x, MidpointRounding.ToEven), "round", p);
        if (Num(a[1], "round", p) is not long digits)
            throw new ExpressionException("round()'s second argument must be an integer", p);
        if (x is long lx && digits >= 0) return lx;
        var d = ExpressionValues.ToDouble(x);
        if (digits is >= 0 and <= 15) return Math.Round(d, (int)digits, MidpointRounding.ToEven);
        var scale = Math.Pow(10, digits);
        return Math.Round(d * scale, MidpointRounding.ToEven) / scale;
    }

    private static object? Log(object?[] a, int p)
    {
        var x = Positive(a[0], "log", p);
        if (a.Length == 1) return Math.Log(x);
        var b = Positive(a[1], "log", p);
        return b == 1 ? throw new ExpressionException("log() base must not be 1", p) : Math.Log(x) / Math.Log(b);
    }

    private static object? ToInt(object?[] a, int p) => a[0] switch
    {
        long l => l,
        bool b => b ? 1L : 0L,
        double d => ToLong(Math.Truncate(d), "int", p),
        string s when long.TryParse(s.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) => l,
        var v => throw new ExpressionException($"int() cannot convert {ExpressionValues.TypeName(v)} {ParamValues.Format(v)}", p),
    };

    private static object? ToFloat(object?[] a, int p) => a[0] switch
    {
        long l => (double)l,
        double d => d,
        bool b => b ? 1.0 : 0.0,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
        var v => throw new ExpressionException($"float() cannot convert {ExpressionValues.TypeName(v)} {ParamValues.Format(v)}", p),
    };
}
