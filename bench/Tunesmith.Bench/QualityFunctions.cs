using Tunesmith.Spaces;

namespace Tunesmith.Bench;

/// <summary>One benchmark function: its space, its optimum and its value.</summary>
/// <param name="Branch">For a hierarchical function: the branch (or category combination) a configuration lies in.</param>
/// <param name="OptimalBranch">The branch holding the global optimum; a run whose best trial lies elsewhere ends in the wrong branch.</param>
internal sealed record QualityFunction(string Name, double Optimum, SearchSpace Space, Func<Configuration, double> Evaluate,
    Func<Configuration, string>? Branch = null, string? OptimalBranch = null)
{
    /// <summary>Whether the function reports a wrong-branch share (the hierarchical ones, <c>mixed</c> and <c>conditional</c>).</summary>
    public bool IsHierarchical => Branch is not null;
}

/// <summary>
/// The 11 functions of the quality suite, re-implemented from the suite's descriptions (checked against the
/// executable reference functions.py by <c>bench check-functions</c>), and three hierarchical functions of Tunesmith's
/// own (<c>svm</c>, <c>blocks</c>, <c>catheavy</c>; their Python twins are in optuna_quality.py). All are minimized.
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

    private static readonly Lazy<IReadOnlyList<QualityFunction>> AllFunctions = new(Build);

    public static IReadOnlyList<QualityFunction> All => AllFunctions.Value;

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
                Mixed, c => c.GetString("cat"), "B"),
            new("conditional", 0, new SearchSpace()
                    .Choice("branch", ["a", "b", "c"])
                    .Float("a_x", -5, 5, when: Condition.When("branch", "a"))
                    .Int("a_n", 0, 10, when: Condition.When("branch", "a"))
                    .Float("b_lr", 1e-4, 1, log: true, when: Condition.When("branch", "b"))
                    .Float("b_y", 0, 1, when: Condition.When("branch", "b"))
                    .Float("c_u", -3, 3, when: Condition.When("branch", "c"))
                    .Float("c_v", -3, 3, when: Condition.When("branch", "c"))
                    .Choice("c_k", ["p", "q"], when: Condition.When("branch", "c")),
                Conditional, c => c.GetString("branch"), "b"),
            new("svm", 0, SvmSpace(), Svm, c => c.GetString("kernel"), "poly"),
            new("blocks", 0, new SearchSpace().Repeat("layers", new IntDistribution(1, 4), b => b
                    .Int("width", 16, 512, log: true).Choice("act", ["relu", "tanh", "gelu"])),
                Blocks, c => c.GetLong("layers").ToString(System.Globalization.CultureInfo.InvariantCulture), "3"),
            new("catheavy", CatHeavyOptimum(), new SearchSpace()
                    .Choice("optimizer", ["sgd", "adam", "rmsprop", "adagrad"]).Choice("activation", ["relu", "tanh", "elu", "selu"])
                    .Choice("norm", ["none", "batch", "layer"]).Choice("init", ["he", "xavier", "normal"])
                    .Float("lr", 1e-5, 1, log: true).Float("dropout", 0, 0.5),
                CatHeavy, c => $"{c.GetString("optimizer")}/{c.GetString("activation")}/{c.GetString("norm")}/{c.GetString("init")}", "adam/selu/none/normal"),
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

    // An SVM's kernels as exclusive branches. The simplest (linear, one parameter) has a shallow, broad optimum of 0.30
    // that a greedy search reaches in a few trials; rbf (0.14) and sigmoid (0.20) need two and three parameters right, and
    // the global optimum (0) lies in poly, whose four parameters make most of its random draws worse than linear's best.
    private static SearchSpace SvmSpace() => new SearchSpace()
        .Choice("kernel", ["linear", "rbf", "sigmoid", "poly"])
        .Float("C", 1e-3, 1e3, log: true)
        .Float("gamma", 1e-4, 10, log: true, when: Condition.When("kernel", "rbf", "sigmoid", "poly"))
        .Float("coef0", -1, 1, when: Condition.When("kernel", "sigmoid", "poly"))
        .Int("degree", 2, 5, when: Condition.When("kernel", "poly"));

    private static double Svm(Configuration c)
    {
        var lc = Math.Log10(c.GetDouble("C"));
        switch (c.GetString("kernel"))
        {
            case "linear":
                return 0.30 + 0.04 * Sq(lc - 0.5);
            case "rbf":
                return 0.14 + 0.05 * Sq(lc - 1.5) + 0.12 * Sq(Math.Log10(c.GetDouble("gamma")) + 2.5);
            case "sigmoid":
                return 0.20 + 0.05 * Sq(lc - 1) + 0.12 * Sq(Math.Log10(c.GetDouble("gamma")) + 3) + 0.4 * Sq(c.GetDouble("coef0") + 0.5);
            default:
                return 0.06 * Sq(lc - 2) + 0.15 * Sq(Math.Log10(c.GetDouble("gamma")) + 1.5) + 0.5 * Sq(c.GetDouble("coef0") - 0.6)
                    + 0.1 * Sq(c.GetLong("degree") - 3);
        }
    }

    // A network of 1..4 layer blocks, each with its own width and activation. Three layers (widths 256, 128, 64; gelu
    // first, relu after) reach 0; fewer layers start from a worse base but have fewer parameters to get right, so one
    // layer's optimum (0.45) is the easy one.
    private static double Blocks(Configuration c)
    {
        var blocks = c.Blocks("layers");
        var value = blocks.Count switch { 1 => 0.45, 2 => 0.25, 3 => 0.0, _ => 0.10 };
        for (var i = 0; i < blocks.Count; i++)
        {
            value += 0.05 * Sq(Math.Log2(blocks[i].GetDouble("width")) - (8 - i));
            if (blocks[i].GetString("act") != (i == 0 ? "gelu" : "relu")) value += 0.15;
        }
        return value;
    }

    // Four categorical choices whose best values interact: on their own relu, batch norm and he init are best (a local
    // optimum of 0.05), but selu without normalization and with normal init is better together (−0.15); the learning
    // rate's best value depends on the optimizer.
    private static readonly Dictionary<string, double> CatMain = new()
    {
        ["sgd"] = 0.20, ["adam"] = 0.05, ["rmsprop"] = 0.15, ["adagrad"] = 0.25,
        ["relu"] = 0.05, ["tanh"] = 0.20, ["elu"] = 0.10, ["selu"] = 0.15,
        ["none"] = 0.15, ["batch"] = 0.0, ["layer"] = 0.05,
        ["he"] = 0.0, ["xavier"] = 0.05, ["normal"] = 0.10,
    };

    private static readonly Dictionary<string, double> CatLr = new() { ["sgd"] = -1, ["adam"] = -3, ["rmsprop"] = -3.5, ["adagrad"] = -2 };

    private static double CatCombination(string optimizer, string activation, string norm, string init)
    {
        var value = CatMain[optimizer] + CatMain[activation] + CatMain[norm] + CatMain[init];
        if (activation == "selu" && norm == "none") value -= 0.35;
        if (activation == "selu" && init == "normal") value -= 0.15;
        if (activation == "relu" && norm == "batch") value -= 0.05;
        return value;
    }

    private static double CatHeavy(Configuration c)
    {
        var optimizer = c.GetString("optimizer");
        return CatCombination(optimizer, c.GetString("activation"), c.GetString("norm"), c.GetString("init"))
            + 0.1 * Sq(Math.Log10(c.GetDouble("lr")) - CatLr[optimizer]) + 0.5 * Sq(c.GetDouble("dropout") - 0.2);
    }

    private static double CatHeavyOptimum() =>
        (from o in CatLr.Keys from a in new[] { "relu", "tanh", "elu", "selu" } from n in new[] { "none", "batch", "layer" }
         from i in new[] { "he", "xavier", "normal" } select CatCombination(o, a, n, i)).Min();

    private static double Sq(double x) => x * x;

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
