using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tunesmith.Execution;
using Tunesmith.Samplers;
using Tunesmith.Schedulers;
using Tunesmith.Schedulers.Asha;
using Tunesmith.Schedulers.Hyperband;
using Tunesmith.Schedulers.MedianStopping;
using Tunesmith.Trials;

namespace Tunesmith.Bench;

/// <summary>
/// Decision parity with Optuna's pruners: the same learning curves, reported in the same order by one worker, into
/// Optuna's MedianPruner, PercentilePruner, SuccessiveHalvingPruner and HyperbandPruner (<c>optuna_pruners.py</c>) and
/// into Tunesmith's median and percentile stopping, stop-based ASHA and async Hyperband with the equivalent options,
/// through <c>study.OptimizeAsync</c> and <c>trial.Report</c>. A trial is decided the same when both prune it at the same
/// step or both let it complete. Writes a Markdown table; <c>--fixture</c> also writes the small median set the test suite
/// pins (MedianParityTests).
/// </summary>
internal static class PrunerParity
{
    internal sealed record CurveSet(string Name, string Direction, List<List<(long Step, double Value)>> Curves, string About);

    internal sealed record Case(string Name, string Set, JsonObject Optuna, Func<IScheduler> Tunesmith, string TunesmithText, bool ByOptunaBracket = false);

    internal sealed record Outcome(bool Pruned, long LastStep, int Bracket = -1);

    public static async Task<int> RunAsync(string outDir, string python, string data, string? fixture)
    {
        foreach (var file in new[] { "lcbench_blood_transfusion_curves.csv.gz", "nasbench_nlp_wikitext2_curves.csv.gz" })
            if (!File.Exists(Path.Combine(data, file)))
            {
                Console.Error.WriteLine($"pruner-parity: --data {data}: no {file} there (the benchdata folder, e.g. ../shared/benchdata)");
                return 2;
            }
        var total = Stopwatch.StartNew();
        var sets = new[] { Synthetic("synthetic", 300, 50, 1, seed: 20261207), Synthetic("synthetic-sparse", 150, 50, 3, seed: 7), Synthetic("synthetic-every-10", 150, 50, 10, seed: 8), LcBench(data, 300), NasBenchNlp(data) }
            .ToDictionary(s => s.Name);
        var cases = new List<Case>();
        foreach (var set in sets.Values)
        {
            var maxStep = set.Curves.Max(c => c[^1].Step);
            cases.Add(Median(set.Name, 5, 0, 1));
            cases.Add(Median(set.Name, 10, 5, 3));
            cases.Add(Percentile(set.Name, 25, 5, 2, 1));
            cases.Add(Percentile(set.Name, 75, 3, 0, 2));
            cases.Add(SuccessiveHalving(set.Name, 1, 3, 0, maxStep));
            cases.Add(SuccessiveHalving(set.Name, 2, 4, 1, maxStep));
            cases.Add(new Case(set.Name + " sh-auto", set.Name, new JsonObject { ["kind"] = "sh", ["min_resource"] = "auto", ["reduction_factor"] = 4, ["min_early_stopping_rate"] = 0 },
                () => new AshaScheduler(new AshaOptions { MinResource = 1, MaxResource = FirstRungAbove(1, 4, maxStep), ReductionFactor = 4 }),
                $"asha min 1, reduction 4 (no 'auto')"));
            cases.Add(new Case(set.Name + " hyperband", set.Name, new JsonObject { ["kind"] = "hyperband", ["min_resource"] = 1, ["max_resource"] = 81, ["reduction_factor"] = 3 },
                () => new HyperbandScheduler(new HyperbandOptions { MinResource = 1, MaxResource = 81, ReductionFactor = 3 }), "hyperband min 1, max 81, reduction 3"));
            cases.Add(new Case(set.Name + " hyperband|optuna-brackets", set.Name, new JsonObject { ["kind"] = "hyperband", ["min_resource"] = 1, ["max_resource"] = 81, ["reduction_factor"] = 3 },
                () => throw new InvalidOperationException(), "per Optuna bracket b: asha min 1, max 81, reduction 3, grace_period 3^b", ByOptunaBracket: true));
        }
        var fixtureSets = new Dictionary<string, CurveSet>
        {
            ["fixture-dense"] = Synthetic("fixture-dense", 40, 12, 1, seed: 11),
            ["fixture-sparse"] = Synthetic("fixture-sparse", 40, 12, 3, seed: 12),
            ["fixture-lcbench"] = LcBenchFixture(data),
        };
        var fixtureCases = new List<Case> { Median("fixture-dense", 5, 2, 1), Median("fixture-sparse", 3, 0, 2), Percentile("fixture-lcbench", 25, 3, 1, 1) };

        var work = Directory.CreateTempSubdirectory("tunesmith-pruner-parity-");
        try
        {
            var optuna = await RunOptunaAsync(python, work.FullName, sets.Values.Concat(fixtureSets.Values).ToList(), cases.Concat(fixtureCases).ToList());
            var md = new StringBuilder();
            md.AppendLine("| curves | Optuna 3.1 pruner | Tunesmith scheduler | trials | decided the same | pruned by Optuna | pruned by Tunesmith | first difference (trial: Optuna / Tunesmith) |");
            md.AppendLine("| --- | --- | --- | --- | --- | --- | --- | --- |");
            var brackets = new List<string>();
            var allSets = sets.Concat(fixtureSets).ToDictionary(p => p.Key, p => p.Value);
            foreach (var c in cases)
            {
                var set = allSets[c.Set];
                var theirs = optuna[c.Name];
                var ours = c.ByOptunaBracket ? await RunByBracketAsync(set, theirs) : await RunTunesmithAsync(set, c.Tunesmith());
                md.AppendLine(Row(c, set, theirs, ours));
                if (c.Optuna["kind"]!.GetValue<string>() == "hyperband" && !c.ByOptunaBracket)
                {
                    var hb = new HyperbandScheduler(new HyperbandOptions { MinResource = 1, MaxResource = 81, ReductionFactor = 3 });
                    brackets.Add($"`{set.Name}`: {Enumerable.Range(0, theirs.Count).Count(i => hb.BracketOf(i) == theirs[i].Bracket)} of {theirs.Count}");
                }
                Console.Error.WriteLine($"  {c.Name}: {Same(theirs, ours)}/{ours.Count}, {total.Elapsed.TotalSeconds:F0} s");
            }
            md.AppendLine();
            md.AppendLine($"Trials Optuna's HyperbandPruner (study name 'parity') and Tunesmith's Hyperband (seed 0) put in the same bracket: {string.Join(", ", brackets)}.");
            md.AppendLine();
            md.AppendLine("Curve sets:");
            foreach (var s in sets.Values) md.AppendLine($"- `{s.Name}`: {s.Curves.Count} curves, {s.Direction}; {s.About}");
            md.AppendLine();
            md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"Optuna {optuna.Version}; {total.Elapsed.TotalSeconds:F0} s in all."));
            Directory.CreateDirectory(outDir);
            await File.WriteAllTextAsync(Path.Combine(outDir, "pruner-parity.md"), md.ToString());
            Console.WriteLine(md.ToString());

            if (fixture is not null)
            {
                var cases2 = new JsonArray();
                foreach (var c in fixtureCases)
                {
                    var set = fixtureSets[c.Set];
                    var theirs = optuna[c.Name];
                    var ours = await RunTunesmithAsync(set, c.Tunesmith());
                    Console.Error.WriteLine($"  fixture {c.Name}: {Same(theirs, ours)}/{ours.Count}");
                    cases2.Add(new JsonObject
                    {
                        ["name"] = c.Name, ["direction"] = set.Direction, ["optuna_pruner"] = c.Optuna.DeepClone(),
                        ["curves"] = new JsonArray(set.Curves.Select(curve => (JsonNode)new JsonArray(curve.Select(p => (JsonNode)new JsonArray(p.Step, p.Value)).ToArray())).ToArray()),
                        ["optuna_pruned_at"] = new JsonArray(theirs.Select(o => (JsonNode?)(o.Pruned ? JsonValue.Create(o.LastStep) : null)).ToArray()),
                    });
                }
                var root = new JsonObject { ["about"] = $"Written by `Tunesmith.Bench pruner-parity --fixture`: Optuna {optuna.Version}'s decisions (optuna_pruned_at: the step a trial was pruned at, null when it completed) on seeded synthetic curves, one worker, trials in order.", ["cases"] = cases2 };
                await File.WriteAllTextAsync(fixture, root.ToJsonString(new JsonSerializerOptions { WriteIndented = false }) + "\n");
            }
        }
        finally { work.Delete(recursive: true); }
        return 0;
    }

    private static Case Median(string set, int startup, int warmup, int interval) =>
        new($"{set} median({startup},{warmup},{interval})", set,
            new JsonObject { ["kind"] = "median", ["n_startup_trials"] = startup, ["n_warmup_steps"] = warmup, ["interval_steps"] = interval },
            () => new MedianStoppingScheduler(new MedianStoppingOptions { MinimumTrials = startup, WarmupSteps = warmup, EvaluationInterval = interval }),
            $"median min_trials {startup}, warmup_steps {warmup}, interval {interval}");

    private static Case Percentile(string set, double p, int startup, int warmup, int interval) =>
        new($"{set} percentile({p},{startup},{warmup},{interval})", set,
            new JsonObject { ["kind"] = "percentile", ["percentile"] = p, ["n_startup_trials"] = startup, ["n_warmup_steps"] = warmup, ["interval_steps"] = interval },
            () => new MedianStoppingScheduler(new MedianStoppingOptions { Percentile = p, MinimumTrials = startup, WarmupSteps = warmup, EvaluationInterval = interval }),
            $"percentile {p}, min_trials {startup}, warmup_steps {warmup}, interval {interval}");

    private static Case SuccessiveHalving(string set, int min, int eta, int rate, long maxStep)
    {
        var grace = (long)(min * Math.Pow(eta, rate));
        var max = FirstRungAbove(min, eta, maxStep);
        return new($"{set} sh({min},{eta},{rate})", set,
            new JsonObject { ["kind"] = "sh", ["min_resource"] = min, ["reduction_factor"] = eta, ["min_early_stopping_rate"] = rate },
            () => new AshaScheduler(new AshaOptions { MinResource = min, MaxResource = max, ReductionFactor = eta, GracePeriod = grace }),
            $"asha min {min}, max {max}, reduction {eta}, grace_period {grace}");
    }

    /// <summary>The first min·η^k above the longest curve: ASHA's rungs lie below max, so every rung a curve reaches is one.</summary>
    private static long FirstRungAbove(long min, int eta, long maxStep)
    {
        var m = min;
        while (m <= maxStep) m *= eta;
        return m;
    }

    private static string Row(Case c, CurveSet set, IReadOnlyList<Outcome> theirs, IReadOnlyList<Outcome> ours)
    {
        var diff = Enumerable.Range(0, ours.Count).FirstOrDefault(i => !SameOutcome(theirs[i], ours[i]), -1);
        var first = diff < 0 ? "—" : $"{diff}: {Show(theirs[diff])} / {Show(ours[diff])}";
        var pruner = c.Optuna["kind"]!.GetValue<string>() switch
        {
            "median" => $"MedianPruner({c.Optuna["n_startup_trials"]}, {c.Optuna["n_warmup_steps"]}, {c.Optuna["interval_steps"]})",
            "percentile" => $"PercentilePruner({c.Optuna["percentile"]}, {c.Optuna["n_startup_trials"]}, {c.Optuna["n_warmup_steps"]}, {c.Optuna["interval_steps"]})",
            "sh" => $"SuccessiveHalvingPruner({c.Optuna["min_resource"]}, {c.Optuna["reduction_factor"]}, {c.Optuna["min_early_stopping_rate"]})",
            _ => $"HyperbandPruner({c.Optuna["min_resource"]}, {c.Optuna["max_resource"]}, {c.Optuna["reduction_factor"]})",
        };
        return $"| {set.Name} | {pruner} | {c.TunesmithText} | {ours.Count} | {Same(theirs, ours)} | {theirs.Count(o => o.Pruned)} | {ours.Count(o => o.Pruned)} | {first} |";
    }

    private static string Show(Outcome o) => o.Pruned ? $"pruned at {o.LastStep}" : "complete";
    private static bool SameOutcome(Outcome a, Outcome b) => a.Pruned == b.Pruned && (!a.Pruned || a.LastStep == b.LastStep);
    private static int Same(IReadOnlyList<Outcome> a, IReadOnlyList<Outcome> b) => Enumerable.Range(0, a.Count).Count(i => SameOutcome(a[i], b[i]));

    /// <summary>Trial i reports curve i, in order, one trial at a time, and returns its last value.</summary>
    internal static async Task<List<Outcome>> RunTunesmithAsync(CurveSet set, IScheduler scheduler)
    {
        await using var study = await Study.CreateAsync("parity", new StudyOptions
        {
            Direction = set.Direction == "maximize" ? Direction.Maximize : Direction.Minimize, Sampler = new RandomSampler(seed: 0), Scheduler = scheduler,
        });
        await study.OptimizeAsync((trial, _) =>
        {
            var curve = set.Curves[trial.Number];
            foreach (var (step, value) in curve) trial.Report(step, value);
            return Task.FromResult(curve[^1].Value);
        }, new OptimizeOptions { Trials = set.Curves.Count });
        var trials = await study.GetTrialsAsync();
        return trials.OrderBy(t => t.Number).Select(t => t.State switch
        {
            TrialState.Pruned => new Outcome(true, t.LastIntermediate!.Value.Step),
            TrialState.Complete => new Outcome(false, t.LastIntermediate!.Value.Step),
            _ => throw new InvalidOperationException($"trial {t.Number} ended {t.State}"),
        }).ToList();
    }

    /// <summary>
    /// Hyperband with Optuna's bracket of each trial: bracket b's trials, in order, into stop-based ASHA whose rungs start
    /// at min·η^b (grace_period), as Optuna's bracket b runs SuccessiveHalvingPruner with min_early_stopping_rate b.
    /// </summary>
    private static async Task<List<Outcome>> RunByBracketAsync(CurveSet set, IReadOnlyList<Outcome> theirs)
    {
        var result = new Outcome[theirs.Count];
        foreach (var group in Enumerable.Range(0, theirs.Count).GroupBy(i => theirs[i].Bracket))
        {
            var members = group.ToList();
            var subset = set with { Curves = members.Select(i => set.Curves[i]).ToList() };
            var grace = (long)Math.Pow(3, group.Key);
            List<Outcome> outcomes;
            if (grace >= 81) outcomes = subset.Curves.Select(c => new Outcome(false, c[^1].Step)).ToList(); // no rung below max
            else outcomes = await RunTunesmithAsync(subset, new AshaScheduler(new AshaOptions { MinResource = 1, MaxResource = 81, ReductionFactor = 3, GracePeriod = grace }));
            for (var k = 0; k < members.Count; k++) result[members[k]] = outcomes[k];
        }
        return result.ToList();
    }

    private sealed class OptunaResults : Dictionary<string, List<Outcome>>
    {
        public string Version { get; set; } = "";
    }

    private static async Task<OptunaResults> RunOptunaAsync(string python, string work, IReadOnlyList<CurveSet> sets, IReadOnlyList<Case> cases)
    {
        var spec = new JsonObject
        {
            ["sets"] = new JsonObject(sets.Select(s => KeyValuePair.Create(s.Name, (JsonNode?)new JsonObject
            {
                ["direction"] = s.Direction,
                ["curves"] = new JsonArray(s.Curves.Select(c => (JsonNode)new JsonArray(c.Select(p => (JsonNode)new JsonArray(p.Step, p.Value)).ToArray())).ToArray()),
            }))),
            ["cases"] = new JsonArray(cases.Select(c => (JsonNode)new JsonObject { ["name"] = c.Name, ["set"] = c.Set, ["pruner"] = c.Optuna.DeepClone() }).ToArray()),
        };
        var path = Path.Combine(work, "spec.json");
        await File.WriteAllTextAsync(path, spec.ToJsonString());
        var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "optuna_pruners.py"));
        psi.ArgumentList.Add(path);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {python}");
        var stderr = p.StandardError.ReadToEndAsync();
        var results = new OptunaResults();
        while (await p.StandardOutput.ReadLineAsync() is { } line)
        {
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            results.Version = root.GetProperty("optuna").GetString()!;
            results[root.GetProperty("case").GetString()!] = root.GetProperty("trials").EnumerateArray().Select(t => new Outcome(
                t.GetProperty("state").GetString() == "PRUNED", t.GetProperty("last_step").GetInt64(),
                t.TryGetProperty("bracket", out var b) ? b.GetInt32() : -1)).ToList();
            Console.Error.WriteLine($"  optuna {root.GetProperty("case").GetString()}: {root.GetProperty("seconds").GetDouble():F1} s");
        }
        await p.WaitForExitAsync();
        if (p.ExitCode != 0) throw new InvalidOperationException($"optuna_pruners.py failed: {await stderr}");
        return results;
    }

    /// <summary>
    /// Seeded loss curves: a start, a floor and a rate drawn per curve, Gaussian noise per step, some curves that cross
    /// (slow starters with low floors); reported every <paramref name="every"/> steps from step 1.
    /// </summary>
    internal static CurveSet Synthetic(string name, int count, int steps, int every, int seed)
    {
        var rng = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        var curves = new List<List<(long, double)>>();
        for (var i = 0; i < count; i++)
        {
            var floor = 0.1 + rng.NextDouble();
            var start = floor + 0.5 + 2 * rng.NextDouble();
            var rate = Math.Exp(Math.Log(0.02) + rng.NextDouble() * Math.Log(0.6 / 0.02));
            var noise = 0.05 * rng.NextDouble();
            var curve = new List<(long, double)>();
            for (long s = 1; s <= steps; s += every)
                curve.Add((s, Math.Round(floor + (start - floor) * Math.Exp(-rate * s) + noise * Normal(), 6)));
            curves.Add(curve);
        }
        return new CurveSet(name, "minimize", curves,
            $"seeded synthetic loss curves (seed {seed}), steps 1..{steps}{(every > 1 ? $" every {every}" : "")}, floor + (start − floor)·e^(−rate·step) + noise");
    }

    private static IEnumerable<string[]> Csv(string path)
    {
        using var reader = new StreamReader(new GZipStream(File.OpenRead(path), CompressionMode.Decompress));
        var header = reader.ReadLine();
        while (reader.ReadLine() is { } line) yield return line.Split(',');
    }

    /// <summary>LCBench blood-transfusion: the first <paramref name="count"/> configurations' val_accuracy, maximized (many ties).</summary>
    internal static CurveSet LcBench(string data, int count)
    {
        var curves = Enumerable.Range(0, count).Select(_ => new List<(long, double)>()).ToList();
        foreach (var f in Csv(Path.Combine(data, "lcbench_blood_transfusion_curves.csv.gz")))
        {
            var id = int.Parse(f[0], CultureInfo.InvariantCulture);
            if (id < count) curves[id].Add((long.Parse(f[1], CultureInfo.InvariantCulture), double.Parse(f[9], CultureInfo.InvariantCulture)));
        }
        return new CurveSet("lcbench-blood", "maximize", curves, $"LCBench blood-transfusion configs 0..{count - 1}, val_accuracy by epoch 1..50 (/work/shared/benchdata)");
    }

    /// <summary>LCBench blood-transfusion configs 1000..1039, val_accuracy epochs 1..12, maximized: the mirrored percentile and ties.</summary>
    private static CurveSet LcBenchFixture(string data)
    {
        var all = LcBench(data, 1040);
        return new CurveSet("fixture-lcbench", "maximize", all.Curves.Skip(1000).Select(c => c.Take(12).ToList()).ToList(), "LCBench configs 1000..1039, epochs 1..12");
    }

    /// <summary>
    /// NAS-Bench-NLP WikiText-2: every run's val_loss, minimized; a diverged run's curve ends before its first nan
    /// (Tunesmith's trial.Report refuses NaN), and the two runs whose first epoch is nan are left out.
    /// </summary>
    internal static CurveSet NasBenchNlp(string data)
    {
        var byId = new SortedDictionary<int, List<(long, double)>>();
        var diverged = new HashSet<int>();
        foreach (var f in Csv(Path.Combine(data, "nasbench_nlp_wikitext2_curves.csv.gz")))
        {
            if (!int.TryParse(f[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var id) || f.Length < 8) continue; // a recipe's quoted commas
            var v = f[7] == "nan" ? double.NaN : double.Parse(f[7], CultureInfo.InvariantCulture);
            if (double.IsNaN(v)) diverged.Add(id);
            if (diverged.Contains(id)) continue;
            (byId.TryGetValue(id, out var c) ? c : byId[id] = []).Add((long.Parse(f[5], CultureInfo.InvariantCulture), v));
        }
        var curves = byId.Values.Where(c => c.Count > 0).ToList();
        return new CurveSet("nasbench-nlp", "minimize", curves,
            $"NAS-Bench-NLP WikiText-2, all {curves.Count} runs with a first finite epoch, val_loss by epoch (a diverged run ends before its first nan) (/work/shared/benchdata)");
    }
}
