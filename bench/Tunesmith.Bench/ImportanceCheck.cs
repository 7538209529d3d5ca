using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Tunesmith.Reporting.Plots;
using Tunesmith.Spaces;
using Tunesmith.Trials;

namespace Tunesmith.Bench;

/// <summary>
/// Tunesmith's PED-ANOVA importance beside Optuna 3.1's (fANOVA, its default, and mean decrease in impurity) on the same
/// trials: random-search studies of functions whose important parameters are known. Writes a Markdown table.
/// </summary>
internal static class ImportanceCheck
{
    private sealed record Case(string Name, Dictionary<string, Distribution> Space, Func<Dictionary<string, object?>, double> F, string Truth);

    private static readonly Case[] Cases =
    [
        new("dominant", new()
        {
            ["x"] = new FloatDistribution(-1, 1), ["y"] = new FloatDistribution(-1, 1), ["z"] = new FloatDistribution(-1, 1),
            ["noise"] = new FloatDistribution(0, 1), ["opt"] = new CategoricalDistribution(["adam", "sgd"]),
        }, p => 10 * Sq(D(p, "x") - 0.3) + 2 * Sq(D(p, "y") - 0.5) + 0.2 * D(p, "z") + ((string)p["opt"]! == "sgd" ? 0.5 : 0), "x > y > opt > z > noise"),
        new("log-lr", new()
        {
            ["lr"] = new FloatDistribution(1e-5, 1e-1, Log: true), ["dropout"] = new FloatDistribution(0, 0.5),
            ["layers"] = new IntDistribution(1, 8), ["batch"] = new CategoricalDistribution([(long)32, (long)64, (long)128]),
        }, p => Sq(Math.Log10(D(p, "lr")) + 3) + 0.5 * Sq(D(p, "dropout") - 0.2) * 8 + 0.05 * Math.Abs(D(p, "layers") - 4), "lr > dropout > layers > batch"),
        new("interaction", new()
        {
            ["a"] = new FloatDistribution(0, 1), ["b"] = new FloatDistribution(0, 1), ["c"] = new FloatDistribution(0, 1), ["d"] = new FloatDistribution(0, 1),
        }, p => -4 * D(p, "a") * D(p, "b") + Sq(D(p, "c") - 0.5), "a ≈ b > c > d"),
    ];

    private static double Sq(double v) => v * v;
    private static double D(Dictionary<string, object?> p, string n) => ParamValues.ToDouble(p[n]);

    public static async Task<int> RunAsync(string outDir, string python)
    {
        Directory.CreateDirectory(outDir);
        var md = new StringBuilder();
        md.AppendLine("| function | trials | seed | truth | PED-ANOVA (Tunesmith) | fANOVA (Optuna 3.1 default) | MDI (Optuna 3.1) | Spearman PED vs fANOVA | same top-1 |");
        md.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        var rhos = new List<double>();
        var top1 = 0;
        var runs = 0;
        string? version = null;
        foreach (var c in Cases)
            foreach (var n in new[] { 100, 400 })
                for (var seed = 0; seed < 5; seed++)
                {
                    var trials = Sample(c, n, seed);
                    var ped = new PedAnovaImportance().Evaluate(trials, PlotAxes.Infer(trials), Direction.Minimize);
                    var (fanova, mdi, v) = await OptunaAsync(python, c, trials);
                    version = v;
                    var pedRank = ped.Select(i => i.Name).ToList();
                    var fanovaRank = fanova.OrderByDescending(x => x.Value).Select(x => x.Key).ToList();
                    var rho = Spearman(pedRank, fanovaRank);
                    rhos.Add(rho);
                    if (pedRank[0] == fanovaRank[0]) top1++;
                    runs++;
                    md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                        $"| {c.Name} | {n} | {seed} | {c.Truth} | {Show(ped.Select(i => (i.Name, i.Importance)))} | {Show(fanova.OrderByDescending(x => x.Value).Select(x => (x.Key, x.Value)))} | {Show(mdi.OrderByDescending(x => x.Value).Select(x => (x.Key, x.Value)))} | {rho:F2} | {(pedRank[0] == fanovaRank[0] ? "yes" : "no")} |"));
                }
        var summary = string.Create(CultureInfo.InvariantCulture,
            $"{runs} studies: same most important parameter in {top1}/{runs}; Spearman rank correlation PED-ANOVA vs fANOVA median {rhos.Order().ElementAt(rhos.Count / 2):F2}, mean {rhos.Average():F2}, min {rhos.Min():F2} (Optuna {version}).");
        md.AppendLine().AppendLine(summary);
        await File.WriteAllTextAsync(Path.Combine(outDir, "importance-check.md"), md.ToString());
        Console.WriteLine(md.ToString());
        return 0;
    }

    private static string Show(IEnumerable<(string Name, double Share)> xs) =>
        string.Join(" ", xs.Select(x => string.Create(CultureInfo.InvariantCulture, $"{x.Name} {x.Share:F2}")));

    private static List<FrozenTrial> Sample(Case c, int n, int seed)
    {
        var rng = new Random(seed);
        var trials = new List<FrozenTrial>(n);
        for (var i = 0; i < n; i++)
        {
            var p = new Dictionary<string, object?>();
            foreach (var (name, d) in c.Space)
                p[name] = d switch
                {
                    FloatDistribution f => f.FromUnit(rng.NextDouble()),
                    IntDistribution k => k.FromUnit(rng.NextDouble()),
                    CategoricalDistribution cat => cat.Choices[rng.Next(cat.Choices.Count)],
                    _ => throw new InvalidOperationException(),
                };
            trials.Add(new FrozenTrial { Id = i + 1, Number = i, State = TrialState.Complete, Value = c.F(p), Params = p, Distributions = c.Space });
        }
        return trials;
    }

    private static async Task<(Dictionary<string, double> Fanova, Dictionary<string, double> Mdi, string Version)> OptunaAsync(string python, Case c, List<FrozenTrial> trials)
    {
        var space = c.Space.ToDictionary(kv => kv.Key, kv => (object)(kv.Value switch
        {
            FloatDistribution f => new { type = "float", low = f.Low, high = f.High, log = f.Log },
            IntDistribution k => new { type = "int", low = (double)k.Low, high = (double)k.High, log = k.Log },
            CategoricalDistribution cat => (object)new { type = "categorical", choices = cat.Choices },
            _ => throw new InvalidOperationException(),
        }));
        var input = JsonSerializer.Serialize(new { direction = "minimize", space, trials = trials.Select(t => new { @params = t.Params, value = t.Value }) });
        var psi = new ProcessStartInfo(python) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "optuna_importance.py"));
        using var p = Process.Start(psi)!;
        await p.StandardInput.WriteAsync(input);
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0) throw new InvalidOperationException($"optuna_importance.py failed: {await stderr}");
        using var doc = JsonDocument.Parse(await stdout);
        Dictionary<string, double> Read(string key) => doc.RootElement.GetProperty(key).EnumerateObject().ToDictionary(x => x.Name, x => x.Value.GetDouble());
        return (Read("fanova"), Read("mdi"), doc.RootElement.GetProperty("optuna").GetString()!);
    }

    // Spearman's rho between two rankings of the same names.
    private static double Spearman(List<string> a, List<string> b)
    {
        var n = a.Count;
        if (n < 2) return 1;
        double d2 = a.Select((name, i) => Sq(i - b.IndexOf(name))).Sum();
        return 1 - 6 * d2 / (n * ((double)n * n - 1));
    }
}
