using Tunesmith.Execution;

namespace Tunesmith.Tests.Samplers.Gp;

/// <summary>
/// The quality suite's <c>mixed</c> as an in-process objective: five numeric parameters and a category; 0 in B, A's own
/// optimum 0.3 and C's 0.6 at other x and n. The learning rate's term is 6.25 at both ends of its range and 0 in the middle.
/// </summary>
internal static class MixedObjective
{
    public static double Evaluate(Trial t, out double learningRate)
    {
        var x = t.SuggestFloat("x", -5, 5);
        var y = t.SuggestFloat("y", 0, 10);
        var lr = learningRate = t.SuggestFloat("lr", 1e-5, 1, log: true);
        var n = t.SuggestInt("n", 1, 20);
        var units = t.SuggestInt("units", 1, 1024, log: true);
        var (xs, ns, offset) = t.SuggestCategorical("cat", new[] { "A", "B", "C" }) switch
        {
            "A" => (1.5, 4.0, 0.3),
            "B" => (-2.0, 12.0, 0.0),
            _ => (3.5, 17.0, 0.6),
        };
        return Math.Pow(x - xs, 2) + 0.25 * Math.Pow(y - 3, 2) + Math.Pow(Math.Log10(lr) + 2.5, 2)
            + Math.Pow((n - ns) / 4.0, 2) + Math.Pow(Math.Log2(units) - 6, 2) / 4 + offset;
    }
}
