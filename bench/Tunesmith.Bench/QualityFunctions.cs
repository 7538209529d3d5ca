using Tunesmith.Spaces;

namespace Tunesmith.Bench;

/// <summary>One benchmark function of ../shared/reference/quality-suite.json: its space, its optimum and its value.</summary>
internal sealed record QualityFunction(string Name, double Optimum, SearchSpace Space, Func<Configuration, double> Evaluate);

/// <summary>
/// The 11 functions of the quality suite, re-implemented from the suite's descriptions (checked against the
/// executable reference functions.py by <c>bench check-functions</c>). All are minimized.
/// </summary>
internal static class QualityFunctions
{
    private static readonly double[,] H3A = { { 3.0, 10, 30 }, { 0.1, 10, 35 }, { 3.0, 10, 30 }, { 0.1, 10, 35 } };
    private static readonly double[,] H3P = Scale(1e-4, new double[,] { { 3689, 1170, 2673 }, { 4699, 4387, 7470 }, { 1091, 8732, 5547 }, { 381, 5743, 8828 } });
    private static readonly double[,] H6A =
    {
        { 10, 3, 17, 3.5, 1.7, 8 }, { 0.05, 10, 17, 0.1, 8, 14 }, { 3, 3.5, 1.7, 10, 17, 8 }, { 17, 8, 0.05, 10, 0.1, 14 },
    };
    private static readonly double[,] H6P = Scale(1e-4, new double[,]
    {
        { 1312, 1696, 5569, 124, 8283, 5886 }, { 2329, 4135, 8307, 3736, 1004, 9991 },
        { 2348, 1451, 3522, 2883, 3047, 6650 }, { 4047, 8828, 8732, 5743, 1091, 381 },
    });
    private static readonly double[] HAlpha = [1.0, 1.2, 3.0, 3.2];

    public static IReadOnlyList<QualityFunction> All { get; } = Build();

    private static IReadOnlyList<QualityFunction> Build()
    {
        var stXStar = StyblinskiTangMinimizer();
        var stFStar1 = 0.5 * (Math.Pow(stXStar, 4) - 16 * stXStar * stXStar + 5 * stXStar);
        return
        [
            new("branin", 0.39788735772973816, new SearchSpace().Float("x0", -5, 10).Float("x1", 0, 15),
                c => Branin(c.GetDouble("x0"), c.GetDouble("x1"))),
            Box("hartmann3", 3, 0, 1, -3.862779787332663, x => Hartmann(x, H3A, H3P)),
            Box("hartmann6", 6, 0, 1, -3.322368011415515, x => Hartmann(x, H6A, H6P)),
            Box("rosenbrock5", 5, -5, 10, 0, Rosenbrock),
            Box("rosenbrock10", 10, -5, 10, 0, Rosenbrock),
            Box("ackley10", 10, -16.384, 32.768, 0, Ackley),
            Box("levy10", 10, -10, 10, 0, Levy),
            Box("rastrigin5", 5, -2.56, 5.12, 0, Rastrigin),
            Box("styblinski_tang5", 5, -5, 5, 5 * stFStar1, x => 0.5 * x.Sum(v => Math.Pow(v, 4) - 16 * v * v + 5 * v)),
            new("mixed", 0, new SearchSpace()
                    .Float("x", -5, 5).Float("y", 0, 10).Float("lr", 1e-5, 1, log: true)
                    .Int("n", 1, 20).Int("units", 1, 1024, log: true).Choice("cat", ["A", "B", "C"]),
                Mixed),
            new("conditional", 0, new SearchSpace()
                    .Choice("branch", ["a", "b", "c"])
                    .Float("a_x", -5, 5, when: Condition.When("branch", "a"))
                    .Int("a_n", 0, 10, when: Condition.When("branch", "a"))
                    .Float("b_lr", 1e-4, 1, log: true, when: Condition.When("branch", "b"))
                    .Float("b_y", 0, 1, when: Condition.When("branch", "b"))
                    .Float("c_u", -3, 3, when: Condition.When("branch", "c"))
                    .Float("c_v", -3, 3, when: Condition.When("branch", "c"))
                    .Choice("c_k", ["p", "q"], when: Condition.When("branch", "c")),
                Conditional),
        ];
    }

    private static QualityFunction Box(string name, int d, double low, double high, double optimum, Func<double[], double> f)
    {
        var space = new SearchSpace();
        for (var i = 0; i < d; i++) space.Float($"x{i}", low, high);
        return new QualityFunction(name, optimum, space, c =>
        {
            var x = new double[d];
            for (var i = 0; i < d; i++) x[i] = c.GetDouble($"x{i}");
            return f(x);
        });
    }

    private static double Branin(double x1, double x2)
    {
        double a = 1, b = 5.1 / (4 * Math.PI * Math.PI), c = 5 / Math.PI, r = 6, s = 10, t = 1 / (8 * Math.PI);
        return a * Math.Pow(x2 - b * x1 * x1 + c * x1 - r, 2) + s * (1 - t) * Math.Cos(x1) + s;
    }

    private static double Hartmann(double[] x, double[,] a, double[,] p)
    {
        var sum = 0.0;
        for (var i = 0; i < 4; i++)
        {
            var inner = 0.0;
            for (var j = 0; j < x.Length; j++) inner += a[i, j] * Math.Pow(x[j] - p[i, j], 2);
            sum += HAlpha[i] * Math.Exp(-inner);
        }
        return -sum;
    }

    private static double Rosenbrock(double[] x)
    {
        var s = 0.0;
        for (var i = 0; i < x.Length - 1; i++) s += 100 * Math.Pow(x[i + 1] - x[i] * x[i], 2) + Math.Pow(1 - x[i], 2);
        return s;
    }

    private static double Ackley(double[] x)
    {
        double a = 20, b = 0.2, c = 2 * Math.PI;
        var d = x.Length;
        return -a * Math.Exp(-b * Math.Sqrt(x.Sum(v => v * v) / d)) - Math.Exp(x.Sum(v => Math.Cos(c * v)) / d) + a + Math.E;
    }

    private static double Levy(double[] x)
    {
        var w = x.Select(v => 1 + (v - 1) / 4).ToArray();
        var t1 = Math.Pow(Math.Sin(Math.PI * w[0]), 2);
        var t2 = 0.0;
        for (var i = 0; i < w.Length - 1; i++) t2 += Math.Pow(w[i] - 1, 2) * (1 + 10 * Math.Pow(Math.Sin(Math.PI * w[i] + 1), 2));
        var wl = w[^1];
        var t3 = Math.Pow(wl - 1, 2) * (1 + Math.Pow(Math.Sin(2 * Math.PI * wl), 2));
        return t1 + t2 + t3;
    }

    private static double Rastrigin(double[] x) => 10.0 * x.Length + x.Sum(v => v * v - 10 * Math.Cos(2 * Math.PI * v));

    private static double Mixed(Configuration c)
    {
        var (xs, ns, off) = c.GetString("cat") switch
        {
            "A" => (1.5, 4.0, 0.3),
            "B" => (-2.0, 12.0, 0.0),
            _ => (3.5, 17.0, 0.6),
        };
        double x = c.GetDouble("x"), y = c.GetDouble("y"), lr = c.GetDouble("lr");
        double n = c.GetLong("n"), units = c.GetLong("units");
        return Math.Pow(x - xs, 2) + 0.25 * Math.Pow(y - 3, 2) + Math.Pow(Math.Log10(lr) + 2.5, 2)
            + Math.Pow((n - ns) / 4.0, 2) + Math.Pow(Math.Log2(units) - 6, 2) / 4 + off;
    }

    private static double Conditional(Configuration c) => c.GetString("branch") switch
    {
        "a" => Math.Pow(c.GetDouble("a_x") - 1, 2) + Math.Pow(c.GetLong("a_n") - 3, 2) / 10.0 + 0.5,
        "b" => Math.Pow(Math.Log10(c.GetDouble("b_lr")) + 2, 2) + 4 * Math.Pow(c.GetDouble("b_y") - 0.7, 2),
        _ => c.GetDouble("c_u") * c.GetDouble("c_u") + c.GetDouble("c_v") * c.GetDouble("c_v") + (c.GetString("c_k") == "q" ? 1 : 0) + 0.25,
    };

    // The negative root of 4x³ − 32x + 5 = 0 (the 1-D Styblinski–Tang minimizer), by Newton's method.
    private static double StyblinskiTangMinimizer()
    {
        var x = -2.9;
        for (var i = 0; i < 50; i++) x -= (4 * x * x * x - 32 * x + 5) / (12 * x * x - 32);
        return x;
    }

    private static double[,] Scale(double k, double[,] m)
    {
        var r = (double[,])m.Clone();
        for (var i = 0; i < r.GetLength(0); i++)
            for (var j = 0; j < r.GetLength(1); j++) r[i, j] *= k;
        return r;
    }
}
