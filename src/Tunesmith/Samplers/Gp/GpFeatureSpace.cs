using Tunesmith.Spaces;

namespace Tunesmith.Samplers.Gp;

/// <summary>
/// Maps parameters to the process's feature vector: numeric parameters to [0, 1] (log ones in log space, integers at
/// the centre of their cell), categorical ones to their choice index, compared by the kernel as equal or not.
/// </summary>
internal sealed class GpFeatureSpace
{
    public GpFeatureSpace(IReadOnlyDictionary<string, Distribution> space)
    {
        var names = new List<string>();
        var dists = new List<Distribution>();
        foreach (var (name, d) in space)
        {
            if (d.IsSingle) continue; // a single value carries no information for the model
            names.Add(name);
            dists.Add(d);
        }
        Names = names.ToArray();
        Distributions = dists.ToArray();
        IsCategorical = Distributions.Select(d => d is CategoricalDistribution).ToArray();
        IsDiscrete = Distributions.Select(d => d is CategoricalDistribution or IntDistribution || d is FloatDistribution { Step: not null }).ToArray();
        CategoryCount = Distributions.Select(d => d is CategoricalDistribution c ? c.Choices.Count : 0).ToArray();
        Key = string.Join("|", Names.Zip(Distributions, (n, d) => n + ":" + d.Describe()));
    }

    public string[] Names { get; }
    public Distribution[] Distributions { get; }
    public bool[] IsCategorical { get; }
    public bool[] IsDiscrete { get; }
    public int[] CategoryCount { get; }
    public int Dimensions => Names.Length;

    /// <summary>The space without coordinate <paramref name="j"/> (the others in the same order).</summary>
    public GpFeatureSpace Without(int j)
    {
        var rest = new Dictionary<string, Distribution>(StringComparer.Ordinal);
        for (var m = 0; m < Dimensions; m++)
            if (m != j) rest[Names[m]] = Distributions[m];
        return new GpFeatureSpace(rest);
    }

    /// <summary>Identifies the space, so that cached hyperparameters are reused only for the same space.</summary>
    public string Key { get; }

    /// <summary>The feature vector of a trial's params, or null when one is missing or outside its distribution.</summary>
    public double[]? TryEncode(IReadOnlyDictionary<string, object?> parameters)
    {
        var x = new double[Dimensions];
        for (var j = 0; j < Dimensions; j++)
        {
            if (!parameters.TryGetValue(Names[j], out var v) || !Distributions[j].Contains(v)) return null;
            x[j] = Distributions[j] switch
            {
                FloatDistribution f => Math.Clamp(f.ToUnit(ParamValues.ToDouble(v)), 0, 1),
                IntDistribution i => Math.Clamp(i.ToUnit(ParamValues.ToDouble(v)), 0, 1),
                CategoricalDistribution c => c.IndexOf(v),
                _ => throw new InvalidOperationException("unknown distribution"),
            };
        }
        return x;
    }

    /// <summary>Moves every discrete coordinate onto the value the parameter would take, so the model scores real points.</summary>
    public void Snap(Span<double> x)
    {
        for (var j = 0; j < Dimensions; j++)
        {
            switch (Distributions[j])
            {
                case IntDistribution i:
                    x[j] = Math.Clamp(i.ToUnit(i.FromUnit(x[j])), 0, 1);
                    break;
                case FloatDistribution { Step: not null } f:
                    x[j] = Math.Clamp(f.ToUnit(f.FromUnit(x[j])), 0, 1);
                    break;
                case CategoricalDistribution c:
                    x[j] = Math.Clamp(Math.Round(x[j]), 0, c.Choices.Count - 1);
                    break;
                default:
                    x[j] = Math.Clamp(x[j], 0, 1);
                    break;
            }
        }
    }

    /// <summary>The neighbouring values of discrete coordinate <paramref name="j"/> (one step either way, or every other choice).</summary>
    public IEnumerable<double> Neighbours(ReadOnlySpan<double> x, int j)
    {
        var result = new List<double>();
        switch (Distributions[j])
        {
            case IntDistribution i:
            {
                var v = i.FromUnit(x[j]);
                if (v - i.Step >= i.Low) result.Add(i.ToUnit(v - i.Step));
                if (v + i.Step <= i.High) result.Add(i.ToUnit(v + i.Step));
                break;
            }
            case FloatDistribution { Step: { } s } f:
            {
                var v = f.FromUnit(x[j]);
                if (v - s >= f.Low - 1e-12) result.Add(f.ToUnit(f.Snap(v - s)));
                if (v + s <= f.High + 1e-12) result.Add(f.ToUnit(f.Snap(v + s)));
                break;
            }
            case CategoricalDistribution c:
                for (var k = 0; k < c.Choices.Count; k++)
                    if (k != (int)x[j]) result.Add(k);
                break;
        }
        return result;
    }

    /// <summary>The parameter values of a feature vector.</summary>
    public Dictionary<string, object?> Decode(ReadOnlySpan<double> x)
    {
        var result = new Dictionary<string, object?>(StringComparer.Ordinal);
        for (var j = 0; j < Dimensions; j++)
        {
            result[Names[j]] = Distributions[j] switch
            {
                FloatDistribution f => f.FromUnit(x[j]),
                IntDistribution i => i.FromUnit(x[j]),
                CategoricalDistribution c => c.Choices[(int)Math.Clamp(Math.Round(x[j]), 0, c.Choices.Count - 1)],
                _ => throw new InvalidOperationException("unknown distribution"),
            };
        }
        return result;
    }
}
