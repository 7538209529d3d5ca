using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Samplers;
using Tunesmith.Samplers.Tpe;

namespace Tunesmith.Bench;

/// <summary>A sampler configuration under test: its label in the tables and how the registry builds it.</summary>
/// <param name="Factory">Builds the sampler from a seed instead of the registry (TPE option variants under study).</param>
/// <param name="OnRequest">Run only when named in <c>--samplers</c> (the hierarchical-space samplers), so the default table stays the flat suite's.</param>
internal sealed record SamplerUnderTest(string Label, string RegistryName, IReadOnlyDictionary<string, object?> Options, bool BudgetAware = false,
    Func<int, ISampler>? Factory = null, bool OnRequest = false)
{
    /// <summary>
    /// TPE variants from <c>--tpe-variants 'label=Property:value,Property:value;label2=…'</c>: any <see cref="TpeOptions"/>
    /// property (C#-only tuning knobs included) over the defaults, so that a change can be measured before it is made.
    /// </summary>
    public static IReadOnlyList<SamplerUnderTest> ParseTpeVariants(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return [];
        var result = new List<SamplerUnderTest>();
        foreach (var spec in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = spec.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"--tpe-variants: expected label=Property:value,..., got '{spec}'");
            var label = spec[..eq];
            var settings = spec[(eq + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(kv => kv.Split(':', 2)).ToList();
            foreach (var kv in settings)
                if (kv.Length != 2 || typeof(TpeOptions).GetProperty(kv[0]) is null)
                    throw new ArgumentException($"--tpe-variants {label}: unknown TpeOptions setting '{string.Join(":", kv)}'");
            result.Add(new SamplerUnderTest(label, "tpe", new Dictionary<string, object?>(), Factory: seed =>
            {
                var options = new TpeOptions { Seed = seed };
                foreach (var kv in settings)
                {
                    var property = typeof(TpeOptions).GetProperty(kv[0])!;
                    var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
                    property.SetValue(options, Convert.ChangeType(kv[1], type, CultureInfo.InvariantCulture));
                }
                return new TpeSampler(options);
            }));
        }
        return result;
    }

    /// <summary>
    /// Registry samplers with study-file options from <c>--variants 'label=sampler:key=value,key=value;label2=…'</c>
    /// (e.g. <c>gpb8=gp:branch_aware=true,branch_min_trials=8</c>): values read as true/false, integers, numbers or text, so
    /// that a setting can be measured before it becomes a default.
    /// </summary>
    public static IReadOnlyList<SamplerUnderTest> ParseVariants(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return [];
        var result = new List<SamplerUnderTest>();
        foreach (var spec in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = spec.IndexOf('=');
            var colon = spec.IndexOf(':');
            if (eq <= 0 || colon < eq + 2) throw new ArgumentException($"--variants: expected label=sampler:key=value,..., got '{spec}'");
            var options = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var kv in spec[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var parts = kv.Split('=', 2);
                if (parts.Length != 2) throw new ArgumentException($"--variants {spec[..eq]}: expected key=value, got '{kv}'");
                options[parts[0]] = bool.TryParse(parts[1], out var b) ? b
                    : long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) ? l
                    : double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d
                    : parts[1];
            }
            result.Add(new SamplerUnderTest(spec[..eq], spec[(eq + 1)..colon], options));
        }
        return result;
    }
}

/// <summary>
/// Sampler quality on the 11-function suite: for each function × sampler × seed one in-memory study of the largest budget
/// (best-so-far read off at each budget), or one study per budget for samplers whose behaviour depends on the budget
/// (auto). Reports median simple regret with IQR beside Optuna's figures measured on this machine type.
/// </summary>
internal static class QualityBenchmark
{
    public static readonly SamplerUnderTest[] AllSamplers =
    [
        new("random", "random", new Dictionary<string, object?>()),
        new("sobol", "sobol", new Dictionary<string, object?>()),
        new("tpe", "tpe", new Dictionary<string, object?> { ["multivariate"] = false }),
        new("tpe_mv", "tpe", new Dictionary<string, object?> { ["multivariate"] = true, ["group"] = true }),
        new("gp", "gp", new Dictionary<string, object?>()),
        new("cmaes", "cmaes", new Dictionary<string, object?> { ["restart_strategy"] = "ipop" }),
        new("rf", "rf", new Dictionary<string, object?>(), OnRequest: true),
        new("tpe_b", "tpe", new Dictionary<string, object?> { ["multivariate"] = true, ["group"] = true, ["branch_aware"] = true }, OnRequest: true),
        new("gp_b", "gp", new Dictionary<string, object?> { ["branch_aware"] = true }, OnRequest: true),
        new("rf_b", "rf", new Dictionary<string, object?> { ["branch_aware"] = true }, OnRequest: true),
        new("rf_p", "rf", new Dictionary<string, object?> { ["category_pair_rate"] = 0.5 }, OnRequest: true),
        // Grouped TPE with Scott bandwidths and a 10 % good group (at most 25); tpe_catm adds category moves: auto's choice for categorical-heavy spaces.
        new("tpe_cat", "tpe", new Dictionary<string, object?> { ["multivariate"] = true, ["group"] = true, ["scott_bandwidth"] = true, ["gamma"] = 0.1, ["max_good"] = 25L }, OnRequest: true),
        new("tpe_catm", "tpe", new Dictionary<string, object?> { ["multivariate"] = true, ["group"] = true, ["scott_bandwidth"] = true, ["gamma"] = 0.1, ["max_good"] = 25L, ["category_move_rate"] = 0.3 }, OnRequest: true),
        // tpe_catm with moves in half the proposals, untried combinations first, and a GP proposing 15 % of the trials
        // (gp_share): auto's choice for categorical-heavy spaces since 2026-12-07 (issue 23, session 4).
        new("tpe_catg", "tpe", new Dictionary<string, object?> { ["multivariate"] = true, ["group"] = true, ["scott_bandwidth"] = true, ["gamma"] = 0.1, ["max_good"] = 25L, ["category_move_rate"] = 0.5, ["untried_combinations_first"] = true, ["gp_share"] = 0.15 }, OnRequest: true),
        // GP that hands the run to grouped TPE when its fit on the first 50 trials finds a rugged landscape (docs/GP.md).
        new("gp_r", "gp", new Dictionary<string, object?> { ["rugged_fallback"] = true }, OnRequest: true),
        new("auto", "auto", new Dictionary<string, object?>(), BudgetAware: true),
        // A portfolio shifting trials between GP and grouped TPE by their rates of new bests (measured before auto uses it).
        new("gp_tpe", "gp", new Dictionary<string, object?>(), Factory: seed => new Tunesmith.Samplers.Portfolio.PortfolioSampler(
            [new Tunesmith.Samplers.Gp.GpSampler(seed), new TpeSampler(new TpeOptions { Seed = seed, Multivariate = true, Group = true })]), OnRequest: true),
    ];

    /// <param name="BestBranch">For a hierarchical function: the branch of the best trial so far after each trial.</param>
    internal sealed record Run(string Function, string Sampler, int Seed, int Budget, double[] BestSoFar, double WallSeconds, string[]? BestBranch = null, string? Note = null);

    public static async Task<int> RunAsync(QualityArgs args)
    {
        var functions = QualityFunctions.All.Where(f => args.Functions is null || args.Functions.Contains(f.Name)).ToList();
        var samplers = AllSamplers.Where(s => args.Samplers is null ? !s.OnRequest : args.Samplers.Contains(s.Label))
            .Concat(SamplerUnderTest.ParseTpeVariants(args.TpeVariants)).Concat(SamplerUnderTest.ParseVariants(args.Variants)).ToList();
        var missing = samplers.Where(s => !SamplerRegistry.Names.Contains(s.RegistryName)).Select(s => s.Label).ToList();
        if (missing.Count > 0)
        {
            Console.Error.WriteLine($"not registered (skipped): {string.Join(", ", missing)}");
            samplers = samplers.Where(s => !missing.Contains(s.Label)).ToList();
        }
        var maxBudget = args.Budgets.Max();
        // Runs finished earlier (this bench's runs.jsonl, or optuna_quality.py's lines): not run again, shown beside the new ones.
        var loaded = RunLog.Load(args.RunsFrom, maxBudget).Where(r => functions.Any(f => f.Name == r.Function)
            && r.Seed >= args.SeedOffset && r.Seed < args.SeedOffset + args.Seeds).DistinctBy(r => (r.Function, r.Sampler, r.Seed, r.Budget)).ToList();
        foreach (var label in loaded.Select(r => r.Sampler).Distinct().Order(StringComparer.Ordinal))
            if (!samplers.Any(s => s.Label == label)) samplers.Add(new SamplerUnderTest(label, "loaded", new Dictionary<string, object?>()));
        var have = loaded.Select(r => (r.Function, r.Sampler, r.Seed, r.Budget)).ToHashSet();
        var jobs = new List<(QualityFunction F, SamplerUnderTest S, int Seed, int Budget)>();
        // A budget-aware sampler (auto) whose choice is the same at every budget runs once at the largest budget, like
        // the others; when that choice is a sampler already under test with default options, its runs are reused
        // (auto delegates to it with the same seed, so the trials are identical).
        var aliases = new List<(string Function, string Label, string SameAs)>();
        var budgetFree = new HashSet<(string, string)>();
        foreach (var f in functions)
            foreach (var s in samplers.Where(s => s.BudgetAware))
            {
                var choices = args.Budgets.Select(b => SamplerRegistry.Create(s.RegistryName, new SamplerRequest(s.Options, 0, f.Space, b)) switch
                {
                    AutoSampler a => (a.Choice.Sampler, Options: a.Choice.Options ?? new Dictionary<string, object?>()),
                    var other => (other.Name, Options: (IReadOnlyDictionary<string, object?>)new Dictionary<string, object?>()),
                }).ToList();
                if (choices.Any(c => c.Item1 != choices[0].Item1 || !SameOptions(c.Options, choices[0].Options))) continue;
                budgetFree.Add((f.Name, s.Label));
                // The twin must have the chosen options too (auto's per-branch GP is gp_b, not gp).
                var twin = samplers.FirstOrDefault(t => !t.BudgetAware && t.Factory is null && t.RegistryName == choices[0].Item1 && SameOptions(t.Options, choices[0].Options));
                if (twin is not null) aliases.Add((f.Name, s.Label, twin.Label));
            }
        foreach (var f in functions)
            foreach (var s in samplers)
            {
                if (aliases.Any(a => a.Function == f.Name && a.Label == s.Label)) continue;
                if (s.RegistryName == "loaded") continue;
                for (var seed = args.SeedOffset; seed < args.SeedOffset + args.Seeds; seed++)
                    if (s.BudgetAware && !budgetFree.Contains((f.Name, s.Label))) jobs.AddRange(args.Budgets.Select(b => (f, s, seed, b)));
                    else jobs.Add((f, s, seed, maxBudget));
            }
        jobs.RemoveAll(j => args.RenderOnly || have.Contains((j.F.Name, j.S.Label, j.Seed, j.Budget)));

        var runs = new ConcurrentBag<Run>(loaded);
        Directory.CreateDirectory(args.Output);
        // Each run is appended as it finishes, so a run stopped part-way keeps what it did (--runs-from picks it up).
        await using var log = new RunLog(Path.Combine(args.Output, "runs.jsonl"));
        var total = Stopwatch.StartNew();
        var done = 0;
        await Parallel.ForEachAsync(jobs, new ParallelOptions { MaxDegreeOfParallelism = args.Jobs }, async (job, ct) =>
        {
            var run = await RunOneAsync(job.F, job.S, job.Seed, job.Budget, args.Batch, ct);
            runs.Add(run);
            log.Append(run);
            var n = Interlocked.Increment(ref done);
            if (n % 20 == 0 || n == jobs.Count) Console.Error.WriteLine($"  {n}/{jobs.Count} runs, {total.Elapsed.TotalSeconds:F0} s");
        });

        foreach (var (function, label, sameAs) in aliases.Where(a => !loaded.Any(r => r.Function == a.Function && r.Sampler == a.Label)))
            foreach (var r in runs.Where(r => r.Function == function && r.Sampler == sameAs).ToList())
                runs.Add(r with { Sampler = label });
        foreach (var (function, label, sameAs) in aliases)
            Console.Error.WriteLine($"  {function}: {label} chose {sameAs} at every budget; its runs are {sameAs}'s (same seed, same trials)");
        if (args.OptunaPython is { } python && !args.RenderOnly)
            foreach (var label in await OptunaRuns.RunAsync(python, args, functions, r => { runs.Add(r); log.Append(r); }))
                if (!samplers.Any(s => s.Label == label)) samplers.Add(new SamplerUnderTest(label, "optuna", new Dictionary<string, object?>()));

        var reference = OptunaReference.Load(args.ReferenceDir);
        var cells = Summarize(runs, functions, samplers, args.Budgets);
        var md = RenderMarkdown(cells, functions, samplers, args, reference, total.Elapsed, runs.ToList());
        await File.WriteAllTextAsync(Path.Combine(args.Output, "quality.md"), md);
        await File.WriteAllTextAsync(Path.Combine(args.Output, "quality.json"), JsonSerializer.Serialize(cells, new JsonSerializerOptions { WriteIndented = true }));
        // Every run's regret at every budget: for seed-level analysis (bootstrap of 10-seed medians, which basin a run ends in).
        await File.WriteAllLinesAsync(Path.Combine(args.Output, "runs.csv"), ["function,sampler,seed,budget,regret",
            .. runs.OrderBy(r => r.Function).ThenBy(r => r.Sampler).ThenBy(r => r.Seed).SelectMany(r => args.Budgets.Where(b => b == r.Budget || r.Budget == maxBudget)
                .Select(b => string.Create(CultureInfo.InvariantCulture, $"{r.Function},{r.Sampler},{r.Seed},{b},{r.BestSoFar[b - 1]:R}")))]);
        QualityPlots.Render(runs.Select(r => (r.Function, r.Sampler, r.Budget, r.BestSoFar)).ToList(), functions, samplers.Select(s => s.Label).ToList(), maxBudget, args.Output);
        Console.WriteLine(md);
        return 0;
    }

    private static async Task<Run> RunOneAsync(QualityFunction f, SamplerUnderTest s, int seed, int budget, int batch, CancellationToken ct)
    {
        var sampler = s.Factory?.Invoke(seed) ?? SamplerRegistry.Create(s.RegistryName, new SamplerRequest(s.Options, seed, f.Space, budget));
        await using var study = await Study.CreateAsync($"{f.Name}-{s.Label}-{seed}-{budget}",
            new StudyOptions { Sampler = sampler, Direction = Direction.Minimize }, ct);
        var best = new double[budget];
        var branches = f.Branch is null ? null : new string[budget];
        var bestSoFar = double.PositiveInfinity;
        string? bestBranch = null;
        var sw = Stopwatch.StartNew();
        // Sequential ask/tell (batch 1), as Optuna's study.optimize with n_jobs=1 in the reference runs. With --batch K,
        // K workers in lockstep: K asks, each seeing the ones before it as running trials, then the K results told in order.
        for (var i = 0; i < budget; i += batch)
        {
            var asked = new List<(Trial Trial, Tunesmith.Spaces.Configuration Configuration, double Value)>();
            for (var j = 0; j < Math.Min(batch, budget - i); j++)
            {
                var trial = await study.AskAsync(ct);
                var configuration = trial.Suggest(f.Space);
                asked.Add((trial, configuration, f.Evaluate(configuration)));
            }
            for (var j = 0; j < asked.Count; j++)
            {
                var (trial, configuration, value) = asked[j];
                await study.TellAsync(trial, value, ct);
                if (value < bestSoFar) { bestSoFar = value; bestBranch = f.Branch?.Invoke(configuration); }
                best[i + j] = bestSoFar - f.Optimum;
                if (branches is not null) branches[i + j] = bestBranch!;
            }
        }
        var rugged = sampler as Tunesmith.Samplers.Portfolio.RuggedFallbackSampler
            ?? (sampler as AutoSampler)?.Inner as Tunesmith.Samplers.Portfolio.RuggedFallbackSampler;
        var note = rugged?.Report is { } report
            ? string.Create(CultureInfo.InvariantCulture, $"handover={rugged.HandoverAt?.ToString(CultureInfo.InvariantCulture) ?? "none"} noise={report.NoiseShare:G3} ls={report.MeanLengthScale / Tunesmith.Samplers.Gp.GpFitReport.PriorLengthScale(report.Dimensions):G3}")
            : null;
        return new Run(f.Name, s.Label, seed, budget, best, sw.Elapsed.TotalSeconds, branches, note);
    }

    private static bool SameOptions(IReadOnlyDictionary<string, object?> a, IReadOnlyDictionary<string, object?> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && Equals(kv.Value, v));

    /// <summary>P(x &lt; y) for a random x of <paramref name="xs"/> and y of <paramref name="ys"/>, ties counting half.</summary>
    internal static double ProbabilityLower(double[] xs, double[] ys)
    {
        var wins = 0.0;
        foreach (var x in xs)
            foreach (var y in ys)
                wins += x < y ? 1 : x == y ? 0.5 : 0;
        return wins / (xs.Length * ys.Length);
    }

    /// <summary>
    /// The mean, over random draws of 10 of the seeds run, of the number of (function, budget) cells where the lowest
    /// 10-seed median among <paramref name="labels"/> is ≤ the reference; null when a label has no runs.
    /// </summary>
    private static double? ExpectedWins(IReadOnlyList<Run> runs, string[] labels, IReadOnlyList<QualityFunction> functions, IReadOnlyList<int> budgets,
        Func<string, int, double> reference, int draws = 400)
    {
        var maxBudget = budgets.Max();
        var byCell = new Dictionary<(string, string, int), Dictionary<int, double>>();
        foreach (var r in runs.Where(r => labels.Contains(r.Sampler) && r.Budget == maxBudget))
            foreach (var b in budgets)
            {
                if (!byCell.TryGetValue((r.Function, r.Sampler, b), out var seeds)) byCell[(r.Function, r.Sampler, b)] = seeds = [];
                seeds[r.Seed] = r.BestSoFar[b - 1];
            }
        var cells = functions.SelectMany(f => budgets.Select(b => (f.Name, b))).Where(c => double.IsFinite(reference(c.Name, c.b))
            && labels.All(l => byCell.ContainsKey((c.Name, l, c.b)))).ToList();
        if (cells.Count == 0) return null;
        var common = cells.SelectMany(c => labels.Select(l => (IEnumerable<int>)byCell[(c.Name, l, c.b)].Keys)).Aggregate((a, b) => a.Intersect(b)).Order().ToArray();
        if (common.Length < 10) return null;
        var random = new Random(1);
        var total = 0;
        for (var draw = 0; draw < draws; draw++)
        {
            var subset = common.OrderBy(_ => random.Next()).Take(10).ToArray();
            foreach (var (f, b) in cells)
            {
                var best = labels.Min(l => Percentile(subset.Select(s => byCell[(f, l, b)][s]).ToArray(), 0.5));
                if (best <= reference(f, b)) total++;
            }
        }
        return (double)total / draws;
    }

    internal sealed record Cell(string Function, string Sampler, int Budget, double Median, double Q1, double Q3, double MeanWallSeconds);

    private static List<Cell> Summarize(IEnumerable<Run> runs, IReadOnlyList<QualityFunction> functions, IReadOnlyList<SamplerUnderTest> samplers, IReadOnlyList<int> budgets)
    {
        var cells = new List<Cell>();
        var byKey = runs.ToLookup(r => (r.Function, r.Sampler));
        foreach (var f in functions)
            foreach (var s in samplers)
            {
                var rs = byKey[(f.Name, s.Label)].ToList();
                if (rs.Count == 0) continue;
                foreach (var b in budgets)
                {
                    var perBudget = rs.Any(r => r.Budget != budgets.Max());
                    var sample = rs.Where(r => !perBudget || r.Budget == b).Select(r => r.BestSoFar[b - 1]).ToArray();
                    var wall = rs.Where(r => r.Budget == budgets.Max() || !s.BudgetAware).Select(r => r.WallSeconds).DefaultIfEmpty(0).Average();
                    cells.Add(new Cell(f.Name, s.Label, b, Percentile(sample, 0.5), Percentile(sample, 0.25), Percentile(sample, 0.75), wall));
                }
            }
        return cells;
    }

    /// <summary>Linear-interpolated percentile (numpy's default), so IQRs compare with the reference tables.</summary>
    internal static double Percentile(double[] values, double q)
    {
        var v = values.OrderBy(x => x).ToArray();
        if (v.Length == 0) return double.NaN;
        var pos = q * (v.Length - 1);
        var lo = (int)Math.Floor(pos);
        var hi = Math.Min(lo + 1, v.Length - 1);
        return v[lo] + (pos - lo) * (v[hi] - v[lo]);
    }

    internal static string Fmt(double v) => double.IsNaN(v) ? "-" :
        v == 0 ? "0" : Math.Abs(v) >= 1e4 || Math.Abs(v) < 1e-3 ? v.ToString("0.00e+0", CultureInfo.InvariantCulture)
        : Math.Abs(v) >= 100 ? v.ToString("0", CultureInfo.InvariantCulture) : v.ToString("G3", CultureInfo.InvariantCulture);

    /// <summary>
    /// Hierarchical functions: median regret and the share of runs whose best trial lies outside the optimum's branch
    /// (or category combination), per budget, every sampler side by side (Optuna's run here included).
    /// </summary>
    private static void RenderHierarchical(StringBuilder sb, IReadOnlyList<QualityFunction> functions, IReadOnlyList<string> labels, QualityArgs args, IReadOnlyList<Run> runs)
    {
        var hierarchical = functions.Where(f => f.IsHierarchical).ToList();
        if (hierarchical.Count == 0) return;
        sb.AppendLine();
        sb.AppendLine("Hierarchical functions: median regret / share of runs whose best trial is in the wrong branch (or category combination), per budget.");
        sb.AppendLine();
        sb.AppendLine($"| function | budget | {string.Join(" | ", labels)} |");
        sb.AppendLine($"|---|---|{string.Concat(Enumerable.Repeat("---|", labels.Count))}");
        var maxBudget = args.Budgets.Max();
        foreach (var f in hierarchical)
            foreach (var b in args.Budgets)
            {
                var row = new StringBuilder($"| {f.Name} | {b} |");
                foreach (var l in labels)
                {
                    var rs = runs.Where(r => r.Function == f.Name && r.Sampler == l && (r.Budget == b || r.Budget == maxBudget)).ToList();
                    // A budget-aware sampler run once per budget: read each budget from its own run.
                    if (rs.Any(r => r.Budget == b) && rs.Any(r => r.Budget != b)) rs = rs.Where(r => r.Budget == b).ToList();
                    if (rs.Count == 0) { row.Append(" - |"); continue; }
                    var median = Percentile(rs.Select(r => r.BestSoFar[b - 1]).ToArray(), 0.5);
                    var withBranch = rs.Where(r => r.BestBranch is not null).ToList();
                    var wrong = withBranch.Count == 0 ? double.NaN : withBranch.Count(r => r.BestBranch![b - 1] != f.OptimalBranch) / (double)withBranch.Count;
                    // Fewer seeds than asked (a run stopped part-way, loaded with --runs-from): say how many.
                    var seeds = rs.Select(r => r.Seed).Distinct().Count();
                    row.Append(CultureInfo.InvariantCulture, $" {Fmt(median)} / {(double.IsNaN(wrong) ? "-" : $"{100 * wrong:F0} %")}{(seeds < args.Seeds ? $" (n={seeds})" : "")} |");
                }
                sb.AppendLine(row.ToString());
            }
    }

    private static string RenderMarkdown(List<Cell> cells, IReadOnlyList<QualityFunction> functions, IReadOnlyList<SamplerUnderTest> samplers,
        QualityArgs args, OptunaReference reference, TimeSpan wall, IReadOnlyList<Run> runs)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"Seeds: {args.Seeds} ({args.SeedOffset}..{args.SeedOffset + args.Seeds - 1}); budgets {string.Join("/", args.Budgets)}; {args.Jobs} runs in parallel; total wall {wall.TotalSeconds:F0} s.{(args.Batch > 1 ? $" Workers in lockstep: batches of {args.Batch} asks, each seeing the ones before it as running, then {args.Batch} tells (Optuna: TPE with constant_liar=True)." : "")}");
        sb.AppendLine("Cell = median simple regret over seeds [Q1, Q3]. Optuna columns: the better (lower median) of Optuna 3.1 and 5.0-dev for that sampler family, measured on this machine type (../shared/reference).");
        sb.AppendLine();
        var cellMap = cells.ToDictionary(c => (c.Function, c.Sampler, c.Budget));
        var labels = samplers.Select(s => s.Label).ToList();
        sb.AppendLine($"| function | budget | {string.Join(" | ", labels)} | Optuna TPE (best) | Optuna GP | Optuna CMA-ES | Optuna best |");
        sb.AppendLine($"|---|---|{string.Concat(Enumerable.Repeat("---|", labels.Count))}---|---|---|---|");
        int tpeCells = 0, tpeWins = 0, autoCells = 0, autoWins = 0;
        foreach (var f in functions)
            foreach (var b in args.Budgets)
            {
                var row = new StringBuilder($"| {f.Name} | {b} |");
                foreach (var l in labels)
                    row.Append(cellMap.TryGetValue((f.Name, l, b), out var c) ? $" {Fmt(c.Median)} [{Fmt(c.Q1)}, {Fmt(c.Q3)}] |" : " - |");
                var oTpe = reference.Best(f.Name, b, "tpe", "tpe_mv", "tpe_uni");
                var oGp = reference.Best(f.Name, b, "gp");
                var oCma = reference.Best(f.Name, b, "cmaes");
                var oBest = reference.Best(f.Name, b, "tpe", "tpe_mv", "tpe_uni", "gp", "cmaes", "qmc", "random");
                row.Append($" {Fmt(oTpe)} | {Fmt(oGp)} | {Fmt(oCma)} | {Fmt(oBest)} |");
                sb.AppendLine(row.ToString());
                var ourTpe = new[] { "tpe", "tpe_mv" }.Select(l => cellMap.TryGetValue((f.Name, l, b), out var c) ? c.Median : double.NaN).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Min();
                if (double.IsFinite(ourTpe) && double.IsFinite(oTpe)) { tpeCells++; if (ourTpe <= oTpe) tpeWins++; }
                if (cellMap.TryGetValue((f.Name, "auto", b), out var a) && double.IsFinite(oBest)) { autoCells++; if (a.Median <= oBest) autoWins++; }
            }
        sb.AppendLine();
        if (tpeCells > 0) sb.AppendLine($"- Tunesmith TPE (better of univariate/multivariate) ≤ Optuna's best TPE in **{tpeWins}/{tpeCells}** cells ({100.0 * tpeWins / tpeCells:F0} %; target ≥ 80 %).");
        if (autoCells > 0) sb.AppendLine($"- Tunesmith auto ≤ the best Optuna sampler in **{autoWins}/{autoCells}** cells ({100.0 * autoWins / autoCells:F0} %; target ≥ 60 %).");
        var optunaLabels = labels.Where(l => l.StartsWith("optuna", StringComparison.Ordinal)).ToList();
        if (optunaLabels.Count > 0)
        {
            // The anchor run here, on the same seeds: medians against medians, and how often one library's run ends lower
            // than the other's (a steadier comparison than two medians of a few seeds each).
            var optunaDefault = optunaLabels.FirstOrDefault(l => l.EndsWith("_tpe", StringComparison.Ordinal));
            int medianCells = 0, medianWins = 0, probabilityCells = 0, probabilityWins = 0;
            foreach (var f in functions)
                foreach (var b in args.Budgets)
                {
                    var ours = new[] { "tpe", "tpe_mv" }.Where(l => cellMap.ContainsKey((f.Name, l, b))).Select(l => cellMap[(f.Name, l, b)].Median).DefaultIfEmpty(double.NaN).Min();
                    var theirs = optunaLabels.Where(l => cellMap.ContainsKey((f.Name, l, b))).Select(l => cellMap[(f.Name, l, b)].Median).DefaultIfEmpty(double.NaN).Min();
                    if (double.IsFinite(ours) && double.IsFinite(theirs)) { medianCells++; if (ours <= theirs) medianWins++; }
                    if (optunaDefault is null) continue;
                    var x = runs.Where(r => r.Function == f.Name && r.Sampler == "tpe_mv").Select(r => r.BestSoFar[b - 1]).ToArray();
                    var y = runs.Where(r => r.Function == f.Name && r.Sampler == optunaDefault).Select(r => r.BestSoFar[b - 1]).ToArray();
                    if (x.Length == 0 || y.Length == 0) continue;
                    probabilityCells++;
                    if (ProbabilityLower(x, y) > 0.5) probabilityWins++;
                }
            var version = optunaLabels[0]["optuna".Length..optunaLabels[0].LastIndexOf("_tpe", StringComparison.Ordinal)];
            sb.AppendLine($"- Optuna {version} run here on the same seeds: Tunesmith TPE (better median of tpe/tpe_mv) ≤ Optuna's (better median of its tpe/tpe_mv) in **{medianWins}/{medianCells}** cells.");
            if (probabilityCells > 0)
                sb.AppendLine($"- A Tunesmith `tpe_mv` run ends lower than an Optuna {version} `tpe` run (each library's default TPE) with probability > 0.5 in **{probabilityWins}/{probabilityCells}** cells.");
        }
        if (args.Seeds >= 20)
        {
            // Optuna's figures are medians of 10 seeds, and so is the target's count: with more seeds run, the count a random
            // 10 of them would give, averaged over many draws, says what to expect where the count on one set of seeds is luck.
            // The target's bar in each cell: the lowest of Optuna's TPE medians (3.1 and 5.0, univariate and multivariate).
            Func<string, int, double> optunaTpeBar = (f, b) => reference.Best(f, b, "tpe", "tpe_mv", "tpe_uni");
            var tpeExpected = ExpectedWins(runs, ["tpe", "tpe_mv"], functions, args.Budgets, optunaTpeBar);
            if (tpeExpected is { } te) sb.AppendLine($"- Expected over random 10-seed subsets of these {args.Seeds} seeds: TPE {te:F1}/{tpeCells} cells.");
            if (optunaLabels.Count > 0
                && ExpectedWins(runs, [.. optunaLabels], functions, args.Budgets, optunaTpeBar) is { } oe)
                sb.AppendLine($"- Expected the same way for Optuna run here (better of its {string.Join("/", optunaLabels)}): {oe:F1}/{tpeCells} cells: the bar the target sets, met by Optuna itself.");
            foreach (var variant in samplers.Where(s => s.Factory is not null))
                if (ExpectedWins(runs, [variant.Label], functions, args.Budgets, optunaTpeBar) is { } ve)
                    sb.AppendLine($"- Expected over random 10-seed subsets: TPE variant {variant.Label} alone {ve:F1} cells.");
        }
        RenderHierarchical(sb, functions, labels, args, runs);
        sb.AppendLine();
        sb.AppendLine($"Mean wall seconds of one run of the largest budget ({(args.Batch > 1 ? $"batches of {args.Batch} asks" : "sequential ask/tell")}, in memory; 2 runs share 2 cores):");
        sb.AppendLine();
        sb.AppendLine($"| function | {string.Join(" | ", labels)} |");
        sb.AppendLine($"|---|{string.Concat(Enumerable.Repeat("---|", labels.Count))}");
        foreach (var f in functions)
            sb.AppendLine($"| {f.Name} | {string.Join(" | ", labels.Select(l => cellMap.TryGetValue((f.Name, l, args.Budgets.Max()), out var c) ? c.MeanWallSeconds.ToString("F2", CultureInfo.InvariantCulture) : "-"))} |");
        return sb.ToString();
    }
}

/// <summary>Optuna's quality figures (3.1 and 5.0-dev) read from the shared reference summaries.</summary>
internal sealed class OptunaReference
{
    private readonly List<JsonElement> _summaries = [];

    public static OptunaReference Load(string dir)
    {
        var r = new OptunaReference();
        foreach (var file in new[] { "optuna-quality-summary.json", "optuna5-quality-summary.json" })
        {
            var path = Path.Combine(dir, file);
            if (!File.Exists(path)) { Console.Error.WriteLine($"reference not found: {path}"); continue; }
            r._summaries.Add(JsonDocument.Parse(File.ReadAllText(path)).RootElement.GetProperty("summary").Clone());
        }
        return r;
    }

    /// <summary>The lowest median regret among the named Optuna samplers in either version, or NaN.</summary>
    public double Best(string function, int budget, params string[] samplers)
    {
        var best = double.NaN;
        foreach (var s in _summaries)
        {
            if (!s.TryGetProperty(function, out var f)) continue;
            foreach (var name in samplers)
                if (f.TryGetProperty(name, out var sm) && sm.TryGetProperty(budget.ToString(CultureInfo.InvariantCulture), out var cell)
                    && cell.TryGetProperty("median_regret", out var m) && m.ValueKind == JsonValueKind.Number)
                {
                    var v = m.GetDouble();
                    if (double.IsNaN(best) || v < best) best = v;
                }
        }
        return best;
    }
}

/// <param name="OptunaPython">A Python with Optuna installed (Debian's python3-optuna is 3.1): Optuna's TPE runs on the same
/// seeds on this machine, beside Tunesmith's samplers.</param>
/// <param name="SeedOffset">First seed (seeds are SeedOffset..SeedOffset+Seeds−1): a non-zero offset checks a change on
/// seeds it was not tuned on. The Optuna columns stay those of seeds 0..9.</param>
internal sealed record QualityArgs(int Seeds, IReadOnlyList<int> Budgets, int Jobs, string Output, string ReferenceDir,
    IReadOnlySet<string>? Functions, IReadOnlySet<string>? Samplers, int SeedOffset = 0, string? TpeVariants = null, string? OptunaPython = null)
{
    /// <summary>JSON-lines files of runs finished earlier (<c>--runs-from a,b</c>): each run there is shown and not run again.</summary>
    public IReadOnlyList<string> RunsFrom { get; init; } = [];

    /// <summary>Run nothing (<c>--render-only</c>): tables from <see cref="RunsFrom"/> alone; the samplers named still decide auto's aliases.</summary>
    public bool RenderOnly { get; init; }

    /// <summary>Registry samplers with study-file options under test (<c>--variants</c>, <see cref="SamplerUnderTest.ParseVariants"/>).</summary>
    public string? Variants { get; init; }

    /// <summary>
    /// Workers in lockstep (<c>--batch K</c>, default 1): each round asks K trials, each seeing the earlier ones as running,
    /// then tells the K results; Optuna's runs do the same with its TPE's constant liar on.
    /// </summary>
    public int Batch { get; init; } = 1;
}
