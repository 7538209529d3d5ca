using System.Globalization;

namespace Tunesmith.Spaces;

/// <summary>
/// The distribution of one parameter: the whole wire format of a parameter (float, int or categorical).
/// Samplers see every distribution through its internal representation: a real number for float and
/// int parameters, a choice index for categorical ones, and a position in [0, 1] for any numeric one.
/// </summary>
public abstract record Distribution
{
    private protected Distribution() { }

    /// <summary>Throws <see cref="SearchSpaceException"/> naming <paramref name="parameter"/> when the distribution is invalid.</summary>
    public abstract void Validate(string parameter);

    /// <summary>The internal (sampler-facing) number of an external value: the value itself for numbers, the index for a choice.</summary>
    public abstract double ToInternal(object? value);

    /// <summary>The external value of an internal number (rounded onto the step or choice grid).</summary>
    public abstract object? ToExternal(double internalValue);

    /// <summary>True when <paramref name="value"/> is a value this distribution can produce.</summary>
    public abstract bool Contains(object? value);

    /// <summary>True when the distribution has exactly one possible value.</summary>
    public abstract bool IsSingle { get; }

    /// <summary>Coerces a value read from JSON, a CSV or a command line onto this distribution's type, or throws naming the parameter.</summary>
    public abstract object? Coerce(string parameter, object? value);

    /// <summary>A short human-readable form, used in error messages and reports.</summary>
    public abstract string Describe();

    /// <summary>Formats an error message for a value that does not belong to this distribution.</summary>
    private protected string NotInMessage(string parameter, object? value) =>
        $"parameter '{parameter}': value {ParamValues.Format(value)} is not in {Describe()}";
}

/// <summary>A real-valued parameter in [Low, High], optionally on a log scale or a step grid.</summary>
/// <param name="Low">Lower bound (inclusive).</param>
/// <param name="High">Upper bound (inclusive).</param>
/// <param name="Log">Sample uniformly in log space; requires Low &gt; 0.</param>
/// <param name="Step">Values lie on Low + k·Step; must divide High − Low.</param>
public sealed record FloatDistribution(double Low, double High, bool Log = false, double? Step = null) : Distribution
{
    /// <inheritdoc />
    public override void Validate(string parameter)
    {
        if (double.IsNaN(Low) || double.IsNaN(High) || double.IsInfinity(Low) || double.IsInfinity(High))
            throw new SearchSpaceException(parameter, $"bounds must be finite, got [{Fmt(Low)}, {Fmt(High)}]");
        if (Low > High)
            throw new SearchSpaceException(parameter, $"low ({Fmt(Low)}) must be less than high ({Fmt(High)})");
        if (Low == High && Step is null && !Log)
            return;
        if (Low >= High)
            throw new SearchSpaceException(parameter, $"low ({Fmt(Low)}) must be less than high ({Fmt(High)})");
        if (Log && Low <= 0)
            throw new SearchSpaceException(parameter, $"a log scale needs low > 0, got low = {Fmt(Low)}");
        if (Log && Step is not null)
            throw new SearchSpaceException(parameter, "step and log cannot be combined");
        if (Step is { } s)
        {
            if (!(s > 0) || double.IsInfinity(s))
                throw new SearchSpaceException(parameter, $"step must be > 0, got {Fmt(s)}");
            var k = (High - Low) / s;
            if (Math.Abs(k - Math.Round(k)) > 1e-8 * Math.Max(1, Math.Abs(k)))
                throw new SearchSpaceException(parameter, $"step {Fmt(s)} does not divide the range [{Fmt(Low)}, {Fmt(High)}]");
        }
    }

    /// <inheritdoc />
    public override bool IsSingle => Low == High || (Step is { } s && High - Low < s);

    /// <inheritdoc />
    public override double ToInternal(object? value) => ParamValues.ToDouble(value);

    /// <inheritdoc />
    public override object? ToExternal(double internalValue) => Snap(internalValue);

    /// <summary>Clamps a real number into [Low, High] and rounds it onto the step grid.</summary>
    public double Snap(double x)
    {
        if (double.IsNaN(x)) return Low;
        if (Step is { } s)
        {
            var k = Math.Round((x - Low) / s);
            var maxK = Math.Round((High - Low) / s);
            k = Math.Clamp(k, 0, maxK);
            return Math.Clamp(Low + k * s, Low, High);
        }
        return Math.Clamp(x, Low, High);
    }

    /// <summary>Maps a value to [0, 1] (in log space when <see cref="Log"/>).</summary>
    public double ToUnit(double x) => High == Low ? 0.5 : Log
        ? (Math.Log(x) - Math.Log(Low)) / (Math.Log(High) - Math.Log(Low))
        : (x - Low) / (High - Low);

    /// <summary>Maps a position in [0, 1] to a value (snapped onto the step grid).</summary>
    public double FromUnit(double u)
    {
        u = Math.Clamp(u, 0, 1);
        var x = Log ? Math.Exp(Math.Log(Low) + u * (Math.Log(High) - Math.Log(Low))) : Low + u * (High - Low);
        return Snap(x);
    }

    /// <inheritdoc />
    public override bool Contains(object? value)
    {
        // Written so that NaN (every comparison false) is outside, as are infinities.
        if (!ParamValues.TryToDouble(value, out var x) || !(x >= Low && x <= High)) return false;
        if (Step is { } s)
        {
            var k = (x - Low) / s;
            return Math.Abs(k - Math.Round(k)) <= 1e-8 * Math.Max(1, Math.Abs(k));
        }
        return true;
    }

    /// <inheritdoc />
    public override object? Coerce(string parameter, object? value)
    {
        if (!ParamValues.TryToDouble(value, out var x) || !Contains(x))
            throw new SearchSpaceException(NotInMessage(parameter, value));
        return x;
    }

    /// <inheritdoc />
    public override string Describe() =>
        $"float [{Fmt(Low)}, {Fmt(High)}]{(Log ? " log" : "")}{(Step is { } s ? $" step {Fmt(s)}" : "")}";

    private static string Fmt(double v) => NumberText.Double(v);
}

/// <summary>An integer parameter in [Low, High], optionally on a log scale or a step grid.</summary>
/// <param name="Low">Lower bound (inclusive).</param>
/// <param name="High">Upper bound (inclusive).</param>
/// <param name="Log">Sample uniformly in log space; requires Low ≥ 1.</param>
/// <param name="Step">Values lie on Low + k·Step; must divide High − Low.</param>
public sealed record IntDistribution(long Low, long High, bool Log = false, long Step = 1) : Distribution
{
    /// <inheritdoc />
    public override void Validate(string parameter)
    {
        if (Low > High)
            throw new SearchSpaceException(parameter, $"low ({Low}) must be less than high ({High})");
        if (Step < 1)
            throw new SearchSpaceException(parameter, $"step must be ≥ 1, got {Step}");
        if (Log && Low <= 0)
            throw new SearchSpaceException(parameter, $"a log scale needs low > 0, got low = {Low}");
        if (Log && Step != 1)
            throw new SearchSpaceException(parameter, "step and log cannot be combined");
        if ((High - Low) % Step != 0)
            throw new SearchSpaceException(parameter, $"step {Step} does not divide the range [{Low}, {High}]");
    }

    /// <inheritdoc />
    public override bool IsSingle => Low == High;

    /// <summary>How many values the distribution has.</summary>
    public long Count => (High - Low) / Step + 1;

    /// <inheritdoc />
    public override double ToInternal(object? value) => ParamValues.ToDouble(value);

    /// <inheritdoc />
    public override object? ToExternal(double internalValue) => Snap(internalValue);

    /// <summary>Rounds a real number to the nearest value of the distribution.</summary>
    public long Snap(double x)
    {
        if (double.IsNaN(x)) return Low;
        var k = Math.Round((x - Low) / Step);
        k = Math.Clamp(k, 0, (High - Low) / Step);
        return Low + (long)k * Step;
    }

    /// <summary>Maps a value to [0, 1]. Integers own the cell [v − ½·step, v + ½·step] so that each is equally likely under a uniform position.</summary>
    public double ToUnit(double x)
    {
        var (lo, hi) = UnitBounds();
        if (Log) return (Math.Log(x) - lo) / (hi - lo);
        return (x - lo) / (hi - lo);
    }

    /// <summary>Maps a position in [0, 1] to the integer whose cell holds it.</summary>
    public long FromUnit(double u)
    {
        u = Math.Clamp(u, 0, 1);
        var (lo, hi) = UnitBounds();
        var x = lo + u * (hi - lo);
        return Snap(Log ? Math.Exp(x) : x);
    }

    private (double Lo, double Hi) UnitBounds() => Log
        ? (Math.Log(Low - 0.5 < 0.5 ? 0.5 : Low - 0.5), Math.Log(High + 0.5))
        : (Low - 0.5 * Step, High + 0.5 * Step);

    /// <inheritdoc />
    public override bool Contains(object? value) =>
        ParamValues.TryToLong(value, out var v) && v >= Low && v <= High && (v - Low) % Step == 0;

    /// <inheritdoc />
    public override object? Coerce(string parameter, object? value)
    {
        if (!ParamValues.TryToLong(value, out var v) || !Contains(v))
            throw new SearchSpaceException(NotInMessage(parameter, value));
        return v;
    }

    /// <inheritdoc />
    public override string Describe() => $"int [{Low}, {High}]{(Log ? " log" : "")}{(Step != 1 ? $" step {Step}" : "")}";
}

/// <summary>A choice among values: strings, numbers (long or double), booleans or null.</summary>
public sealed record CategoricalDistribution : Distribution
{
    /// <summary>Creates a choice among <paramref name="choices"/>, in the given order.</summary>
    public CategoricalDistribution(IEnumerable<object?> choices)
    {
        Choices = choices.Select(ParamValues.Normalize).ToArray();
    }

    /// <summary>The choices, normalized (ints as long, floats as double).</summary>
    public IReadOnlyList<object?> Choices { get; }

    /// <inheritdoc />
    public override void Validate(string parameter)
    {
        if (Choices.Count == 0)
            throw new SearchSpaceException(parameter, "choices must not be empty");
        for (var i = 0; i < Choices.Count; i++)
        {
            var c = Choices[i];
            if (c is not (null or string or long or double or bool))
                throw new SearchSpaceException(parameter, $"choice {ParamValues.Format(c)} must be a string, number, boolean or null");
            for (var j = 0; j < i; j++)
                if (ParamValues.AreEqual(Choices[j], c))
                    throw new SearchSpaceException(parameter, $"choice {ParamValues.Format(c)} appears twice");
        }
    }

    /// <inheritdoc />
    public override bool IsSingle => Choices.Count == 1;

    /// <summary>The index of a value among the choices, or −1.</summary>
    public int IndexOf(object? value)
    {
        var v = ParamValues.Normalize(value);
        for (var i = 0; i < Choices.Count; i++)
            if (ParamValues.AreEqual(Choices[i], v)) return i;
        return -1;
    }

    /// <inheritdoc />
    public override double ToInternal(object? value)
    {
        var i = IndexOf(value);
        if (i < 0) throw new ArgumentException($"value {ParamValues.Format(value)} is not one of the choices", nameof(value));
        return i;
    }

    /// <inheritdoc />
    public override object? ToExternal(double internalValue) =>
        Choices[(int)Math.Clamp(Math.Round(internalValue), 0, Choices.Count - 1)];

    /// <inheritdoc />
    public override bool Contains(object? value) => IndexOf(value) >= 0;

    /// <inheritdoc />
    public override object? Coerce(string parameter, object? value)
    {
        var i = IndexOf(value);
        if (i >= 0) return Choices[i];
        // Text from a CSV or the command line: match the choice's printed form.
        if (value is string s)
            for (var k = 0; k < Choices.Count; k++)
                if (string.Equals(ParamValues.Format(Choices[k]), s, StringComparison.Ordinal)
                    || (Choices[k] is bool && string.Equals(ParamValues.Format(Choices[k]), s, StringComparison.OrdinalIgnoreCase)))
                    return Choices[k];
        throw new SearchSpaceException(NotInMessage(parameter, value) + Spec.ClosestName.Suggest(ParamValues.Format(value), Choices.Select(ParamValues.Format)));
    }

    /// <inheritdoc />
    public override string Describe() => $"choice [{string.Join(", ", Choices.Select(ParamValues.Format))}]";

    /// <inheritdoc />
    public bool Equals(CategoricalDistribution? other) =>
        other is not null && other.Choices.Count == Choices.Count
        && Choices.Zip(other.Choices).All(p => ParamValues.AreEqual(p.First, p.Second));

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var c in Choices) h.Add(ParamValues.Format(c));
        return h.ToHashCode();
    }
}
