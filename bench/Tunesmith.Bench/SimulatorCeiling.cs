using System.Globalization;
using System.Text;
using System.Text.Json;
using Tunesmith.Schedulers;
using Tunesmith.Simulation;
using Tunesmith.Simulation.Benchmarks;
using Tunesmith.Trials;

namespace Tunesmith.Bench;

/// <summary>
/// The ceiling of early stopping (issue 20, item 4): the best time to target that any early-stopping scheduler could
/// reach on top of random search, given random search's own sequence of configurations. Random search proposes the same
/// configurations in the same order whatever the scheduler does (each trial's draws come from its own seeded stream, and
/// the table row a proposal replays depends only on the rows started before it), so for one seed the sequence is fixed.
/// An oracle scheduler that knows every curve stops each configuration after its first epoch (the least a scheduler can
/// run: it decides on reported values) unless it is the one that will reach the target, which it runs until it does.
/// With W workers taking configurations in order, configuration j then starts at s_j (list scheduling with every earlier
/// configuration costing its first epoch) and reaches the target at T_j = s_j + the time its own curve needs to get
/// there; the oracle's time is min_j T_j. Nothing that stops, pauses or promotes trials can do better with these
/// configurations. Random alone and ASHA + random are run by the simulator itself, and random alone's time is recomputed
/// from the recorded sequence as a check (the two must agree).
/// </summary>
internal static class SimulatorCeiling
{
    public static int Run(IReadOnlyList<string> benchmarks, int seeds, int firstSeed, int workers,
        IReadOnlyDictionary<string, TimeSpan> budgets, int parallel, string? data, string? output, string ashaVariant)
    {
        using var catalog = SimulatorStudy.OpenCatalog(data);
        var asha = SimulatorTune.Variant(ashaVariant);
        var random = SimulationStrategies.Create("none", "random");
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Seeds {firstSeed}..{firstSeed + seeds - 1}, {workers} workers; median simulated time to target (reached/seeds); speed-ups are ratios of medians over random alone; '{ashaVariant}' is the ASHA column.");
        text.AppendLine();
        text.AppendLine("| benchmark | random alone | ASHA + random | oracle stopper (ceiling) | ceiling speed-up | median per-seed ceiling | ASHA speed-up | ASHA's share of the ceiling | trials random alone starts (median) | first target config's own time to target (median) | first target config's position (median) | oracle's config's position (median) | trials ASHA starts (median) | seeds where ASHA stopped the first target config |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        var json = new List<object>();
        var summary = new List<(double Ceiling, double Asha)>();
        foreach (var name in benchmarks)
        {
            var benchmark = catalog.Open(name);
            var budget = SimulatorStudy.BudgetFor(budgets, name);
            var target = SimulationStudy.DefaultTarget(benchmark);
            var options = new SimulationOptions { Workers = workers, TimeBudget = budget, Target = target, StopAtTarget = true, KeepTrace = false };
            var rows = new SeedCeiling[seeds];
            Parallel.For(0, seeds, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, parallel) }, i =>
                rows[i] = OneSeed(benchmark, random, asha, options, firstSeed + i, target, workers, budget.TotalSeconds));
            double Med(Func<SeedCeiling, double> pick) => Statistics.Median(rows.Select(pick).ToArray());
            var (randomMedian, ashaMedian, oracleMedian) = (Med(r => r.Random), Med(r => r.Asha), Med(r => r.Oracle));
            // Per seed: random alone's time ÷ the oracle's; a seed where random alone never reached the target counts with
            // the budget instead (a lower bound, marked "> ").
            var perSeed = Med(r => (double.IsFinite(r.Random) ? r.Random : budget.TotalSeconds) / r.Oracle);
            var perSeedBound = rows.Any(r => !double.IsFinite(r.Random)) ? "> " : "";
            string Ratio(double slow, double fast) =>
                !double.IsFinite(fast) ? "-" : double.IsPositiveInfinity(slow) ? $"> {budget.TotalSeconds / fast:0.#}×" : $"{slow / fast:0.#}×";
            int Reached(Func<SeedCeiling, double> pick) => rows.Count(r => double.IsFinite(pick(r)));
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {name} | {Time(randomMedian)} ({Reached(r => r.Random)}/{seeds}) | {Time(ashaMedian)} ({Reached(r => r.Asha)}/{seeds}) | {Time(oracleMedian)} ({Reached(r => r.Oracle)}/{seeds}) " +
                $"| {Ratio(randomMedian, oracleMedian)} | {(double.IsFinite(perSeed) ? $"{perSeedBound}{perSeed:0.#}×" : "-")} | {Ratio(randomMedian, ashaMedian)} " +
                $"| {(double.IsFinite(ashaMedian) && double.IsFinite(oracleMedian) ? $"{oracleMedian / ashaMedian:P0}" : "-")} | {Med(r => r.ConfigsNeeded):0} | {Time(Med(r => r.FirstTargetLatency))} | {Med(r => r.FirstTargetIndex + 1):0} | {Med(r => r.OracleIndex + 1):0} | {Med(r => r.AshaStarted):0} | {rows.Count(r => r.AshaStoppedFirstTarget)}/{seeds} |");
            Console.Error.WriteLine($"{name}: random {Time(randomMedian)}, asha {Time(ashaMedian)}, oracle {Time(oracleMedian)}");
            // Speed-ups for the summary; random alone's "never" counts as the budget (a lower bound).
            var randomOrBudget = double.IsFinite(randomMedian) ? randomMedian : budget.TotalSeconds;
            summary.Add((randomOrBudget / oracleMedian, randomOrBudget / ashaMedian));
            json.Add(new
            {
                benchmark = name, target, workers, time_budget_s = budget.TotalSeconds, asha = ashaVariant,
                runs = rows.Select(r => new
                {
                    seed = r.Seed, random_s = Finite(r.Random), asha_s = Finite(r.Asha), oracle_s = Finite(r.Oracle),
                    oracle_config = r.OracleIndex, configs_needed = r.ConfigsNeeded, first_target_latency_s = Finite(r.FirstTargetLatency),
                    first_target_config = r.FirstTargetIndex, asha_trials_started = r.AshaStarted, asha_stopped_first_target = r.AshaStoppedFirstTarget,
                }),
            });
        }
        if (summary.Count > 1)
        {
            text.AppendLine();
            var (ceilings, ashas) = (summary.Select(x => x.Ceiling).ToArray(), summary.Select(x => x.Asha).ToArray());
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"{summary.Count} benchmarks: ceiling ≥ 10× on {ceilings.Count(x => x >= 10)}, ASHA ≥ 10× on {ashas.Count(x => x >= 10)}; median ceiling speed-up {Statistics.Median(ceilings):0.0}×, median ASHA speed-up {Statistics.Median(ashas):0.0}× (random alone's \"never\" counted as the budget)."));
        }
        Console.WriteLine(text.ToString());
        if (output is not null)
        {
            File.WriteAllText(output + ".md", text.ToString());
            File.WriteAllText(output + ".json", JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }));
        }
        return 0;
    }

    private sealed record SeedCeiling(int Seed, double Random, double Asha, double Oracle, int OracleIndex, int ConfigsNeeded, double FirstTargetLatency,
        int FirstTargetIndex, int AshaStarted, bool AshaStoppedFirstTarget);

    private static double? Finite(double value) => double.IsFinite(value) ? value : null;

    private static SeedCeiling OneSeed(ILearningCurveBenchmark benchmark, SimulationStrategy random, SimulationStrategy asha, SimulationOptions options,
        int seed, double target, int workers, double budget)
    {
        var randomRun = new LearningCurveSimulator(benchmark, random.CreateSampler(benchmark, seed), null, options).Run();
        var randomTime = randomRun.TimeToTargetSeconds ?? double.PositiveInfinity;
        var ashaRecorder = new RecordingBenchmark(benchmark);
        var ashaSimulator = new LearningCurveSimulator(ashaRecorder, asha.CreateSampler(ashaRecorder, seed), asha.CreateScheduler(ashaRecorder, seed), options);
        var ashaRun = ashaSimulator.Run();

        // Random search's sequence of configurations, as far as the oracle could get before random alone or ASHA reached
        // the target (the oracle is never later than either: it runs the configuration they reached the target with no
        // later than they do, since it cuts every earlier one at its first epoch): run random search with a scheduler that
        // stops every trial after its first epoch, which is exactly the oracle's schedule of starts.
        var recorder = new RecordingBenchmark(benchmark);
        var ashaTime = ashaRun.TimeToTargetSeconds ?? double.PositiveInfinity;
        var horizon = Math.Min(Math.Min(randomTime, ashaTime), budget);
        new LearningCurveSimulator(recorder, random.CreateSampler(recorder, seed), new StopAfterFirstEpoch(),
            options with { Target = null, StopAtTarget = false, TimeBudget = TimeSpan.FromSeconds(horizon) }).Run();
        var curves = recorder.Curves;

        // ASHA + random must have proposed the same configurations in the same order (the premise of the ceiling).
        for (var i = 0; i < Math.Min(curves.Count, ashaRecorder.Curves.Count); i++)
            if (!curves[i].Values.AsSpan().SequenceEqual(ashaRecorder.Curves[i].Values))
                throw new InvalidOperationException($"{benchmark.Name} seed {seed}: ASHA's configuration {i} differs from random search's");

        var direction = benchmark.Direction;
        bool Reaches(double v) => !double.IsNaN(v) && !direction.IsBetter(target, v);
        // Seconds from a configuration's start until its own curve first reaches the target (∞ if never), summed in the
        // simulator's order so that the times compare exactly.
        double OwnTime(LearningCurve c)
        {
            var t = 0.0;
            for (var e = 0; e < c.Epochs; e++)
            {
                t += c.EpochSeconds[e];
                if (double.IsNaN(c.Values[e])) return double.PositiveInfinity;
                if (Reaches(c.Values[e])) return t;
            }
            return double.PositiveInfinity;
        }

        var (oracle, oracleIndex, firstTarget) = (double.PositiveInfinity, -1, -1);
        var free = new PriorityQueue<int, double>();
        for (var w = 0; w < workers; w++) free.Enqueue(w, 0.0);
        for (var j = 0; j < curves.Count; j++)
        {
            free.TryDequeue(out var w, out var start);
            var own = OwnTime(curves[j]);
            if (double.IsFinite(own) && firstTarget < 0) firstTarget = j;
            if (start + own < oracle && start + own <= budget) (oracle, oracleIndex) = (start + own, j);
            free.Enqueue(w, start + curves[j].EpochSeconds[0]);
        }

        // Check: random alone recomputed from the same sequence (every configuration runs to its end).
        var check = double.PositiveInfinity;
        var full = new PriorityQueue<int, double>();
        for (var w = 0; w < workers; w++) full.Enqueue(w, 0.0);
        for (var j = 0; j < curves.Count; j++)
        {
            full.TryDequeue(out var w, out var start);
            if (start > Math.Min(check, budget)) break;
            var t = start;
            foreach (var s in curves[j].EpochSeconds) t += s;
            var own = OwnTime(curves[j]);
            if (start + own <= budget) check = Math.Min(check, start + own);
            full.Enqueue(w, t);
        }
        // (Only when the recorded sequence reaches as far as random alone got: the horizon may stop short of it.)
        if (double.IsFinite(randomTime) && curves.Count >= randomRun.TrialsStarted && Math.Abs(check - randomTime) > 1e-6 * Math.Max(1, randomTime))
            throw new InvalidOperationException($"{benchmark.Name} seed {seed}: random alone recomputed from its sequence gives {check} s, the simulator {randomTime} s");

        // Did ASHA stop the first configuration that could reach the target before it did? (A Pruned trial never reached
        // it: the run ends at the target.)
        var stoppedFirst = firstTarget >= 0 && ashaSimulator.History.Trials.FirstOrDefault(t => t.Number == firstTarget) is { State: TrialState.Pruned };
        return new SeedCeiling(seed, randomTime, ashaTime, oracle, oracleIndex,
            randomRun.TrialsStarted, firstTarget >= 0 ? OwnTime(curves[firstTarget]) : double.PositiveInfinity, firstTarget, ashaRun.TrialsStarted, stoppedFirst);
    }

    private static string Time(double seconds) => !double.IsFinite(seconds) ? "never"
        : seconds < 60 ? string.Create(CultureInfo.InvariantCulture, $"{seconds:0} s")
        : seconds < 3600 ? string.Create(CultureInfo.InvariantCulture, $"{seconds / 60:0.0} min")
        : seconds < 86400 * 2 ? string.Create(CultureInfo.InvariantCulture, $"{seconds / 3600:0.00} h")
        : string.Create(CultureInfo.InvariantCulture, $"{seconds / 86400:0.0} d");

    /// <summary>Stops every trial at its first report: the oracle's schedule for every configuration but the one it lets run.</summary>
    private sealed class StopAfterFirstEpoch : IScheduler
    {
        public string Name => "stop-after-first-epoch";
        public SchedulerDecision Decide(StudyHistory history, FrozenTrial trial, long step, double value) => SchedulerDecision.Stop;
    }

    /// <summary>Records the curves new trials replay, in the order they start (trial number order).</summary>
    private sealed class RecordingBenchmark(ILearningCurveBenchmark inner) : ILearningCurveBenchmark
    {
        public List<LearningCurve> Curves { get; } = [];
        public string Name => inner.Name;
        public string Metric => inner.Metric;
        public Direction Direction => inner.Direction;
        public int MaxEpoch => inner.MaxEpoch;
        public IReadOnlyList<KeyValuePair<string, Tunesmith.Spaces.Distribution>> Space => inner.Space;
        public double BestValue => inner.BestValue;
        public LearningCurve Curve(IReadOnlyDictionary<string, object?> parameters) => inner.Curve(parameters);
        public LearningCurve NewTrialCurve(IReadOnlyDictionary<string, object?> parameters, StartedConfigurations started)
        {
            var curve = inner.NewTrialCurve(parameters, started);
            Curves.Add(curve);
            return curve;
        }
    }
}
