using System.Runtime.CompilerServices;
using Tunesmith.Spaces;

namespace Tunesmith.Samplers.Tpe;

/// <summary>How a parameter lives inside the Parzen estimators.</summary>
internal enum EncodedKind
{
    /// <summary>A real position in [0, 1] (floats, and log integers, whose cells are unequal in log space).</summary>
    Continuous,
    /// <summary>A position in [0, 1] split into equal cells, one per value (integers and stepped floats).</summary>
    Discrete,
    /// <summary>A choice index.</summary>
    Categorical,
}

/// <summary>
/// Maps a distribution onto the estimators' space: [0, 1] for numbers (in log space for log parameters, widened by
/// half a step on each side for grids so that every value owns an equal cell), a choice index for categoricals.
/// Working on one unit scale lets every dimension share the same bandwidth rules.
/// </summary>
internal sealed class ParamEncoding
{
    private readonly double _lo;
    private readonly double _width;
    private readonly bool _log;

    private ParamEncoding(Distribution distribution, EncodedKind kind, double lo, double hi, bool log, int cells)
    {
        Distribution = distribution;
        Kind = kind;
        _lo = lo;
        _width = hi - lo;
        _log = log;
        Cells = cells;
        CellWidth = kind == EncodedKind.Discrete ? 1.0 / cells : 0;
    }

    public Distribution Distribution { get; }

    public EncodedKind Kind { get; }

    /// <summary>Number of values of a discrete or categorical parameter.</summary>
    public int Cells { get; }

    /// <summary>Width of one value's cell in unit space (discrete parameters).</summary>
    public double CellWidth { get; }

    public static ParamEncoding For(Distribution distribution) => distribution switch
    {
        FloatDistribution { Step: { } s } f => new(f, EncodedKind.Discrete, f.Low - s / 2, f.High + s / 2, false,
            checked((int)Math.Round((f.High - f.Low) / s) + 1)),
        FloatDistribution f => f.Log
            ? new(f, EncodedKind.Continuous, Math.Log(f.Low), Math.Log(f.High), true, 0)
            : new(f, EncodedKind.Continuous, f.Low, f.High, false, 0),
        IntDistribution i when i.Log => new(i, EncodedKind.Continuous, Math.Log(i.Low - 0.5), Math.Log(i.High + 0.5), true, 0),
        IntDistribution i => new(i, EncodedKind.Discrete, i.Low - i.Step / 2.0, i.High + i.Step / 2.0, false,
            (int)Math.Min(i.Count, int.MaxValue / 2)),
        CategoricalDistribution c => new(c, EncodedKind.Categorical, 0, 0, false, c.Choices.Count),
        _ => throw new ArgumentException($"unknown distribution {distribution.GetType().Name}"),
    };

    /// <summary>The encoded value, or NaN when <paramref name="value"/> is not a value of the distribution.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public double Encode(object? value)
    {
        if (Kind == EncodedKind.Categorical)
        {
            var index = ((CategoricalDistribution)Distribution).IndexOf(value);
            return index < 0 ? double.NaN : index;
        }
        if (!ParamValues.TryToDouble(value, out var x) || !Distribution.Contains(value)) return double.NaN;
        var t = _log ? Math.Log(x) : x;
        return Math.Clamp((t - _lo) / _width, 0, 1);
    }

    /// <summary>The parameter value at an encoded position (snapped onto the grid or choice).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public object? Decode(double u)
    {
        switch (Distribution)
        {
            case CategoricalDistribution c:
                return c.Choices[(int)Math.Clamp(Math.Round(u), 0, c.Choices.Count - 1)];
            case FloatDistribution f:
            {
                var t = _lo + Math.Clamp(u, 0, 1) * _width;
                return f.Snap(_log ? Math.Exp(t) : t);
            }
            case IntDistribution i:
            {
                var t = _lo + Math.Clamp(u, 0, 1) * _width;
                return i.Snap(_log ? Math.Exp(t) : t);
            }
            default:
                throw new InvalidOperationException("unknown distribution");
        }
    }

    /// <summary>The encoded position of the value a position decodes to (the centre of a discrete cell, a snapped log integer).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public double Canonical(double u)
    {
        if (Kind == EncodedKind.Categorical) return Math.Clamp(Math.Round(u), 0, Cells - 1);
        if (Kind == EncodedKind.Discrete)
        {
            var cell = Math.Clamp(Math.Floor(u * Cells), 0, Cells - 1);
            return (cell + 0.5) * CellWidth;
        }
        return _log && Distribution is IntDistribution ? Encode(Decode(u)) : Math.Clamp(u, 0, 1);
    }
}
