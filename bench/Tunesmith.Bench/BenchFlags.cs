namespace Tunesmith.Bench;

/// <summary>
/// The flags each benchmark verb reads (Program.cs), so that a misspelt flag — in a command of docs/BENCHMARKS.md or typed
/// by hand — stops the run with one line instead of being ignored. The verbs the benchmarks start as their own child
/// processes (worker, pg-workers-child, dashboard-writer) take positional arguments and are not checked.
/// Tests: DocumentationTests (every Program.cs flag is listed here for its verb; every bench command in the docs passes).
/// </summary>
public static class BenchFlags
{
    /// <summary>Flags without a value.</summary>
    public static readonly IReadOnlySet<string> Switches = new HashSet<string>(StringComparer.Ordinal) { "--render-only" };

    /// <summary>Each user-facing verb and its flags.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> Known = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        ["overhead"] = ["--cases", "--repeats", "--work"],
        ["quality"] = ["--batch", "--budgets", "--functions", "--jobs", "--optuna-python", "--out", "--reference", "--render-only", "--runs-from", "--samplers",
            "--seed-offset", "--seeds", "--tpe-variants", "--variants"],
        ["ask-latency"] = ["--history", "--samplers"],
        ["gpu-ledger"] = ["--cycles", "--repeats"],
        ["check-functions"] = ["--reference"],
        ["simulator-study"] = ["--benchmarks", "--budgets", "--data", "--first-seed", "--out", "--parallel", "--record-proposed", "--seeds", "--strategies", "--workers"],
        ["simulator-tune"] = ["--benchmarks", "--budgets", "--data", "--first-seed", "--output", "--parallel", "--seeds", "--variants", "--workers"],
        ["simulator-ceiling"] = ["--asha", "--benchmarks", "--budgets", "--data", "--first-seed", "--output", "--parallel", "--seeds", "--workers"],
        ["simulator-repeats"] = ["--benchmark", "--budget", "--data", "--first-seed", "--seeds", "--variants"],
        ["simulator-hits"] = ["--benchmark", "--budget", "--data", "--first-seed", "--seeds", "--variants"],
        ["simulator-speed"] = ["--benchmark", "--data", "--hours", "--repeat-rows", "--repeats", "--sampler", "--scheduler", "--workers"],
        ["scheduler-scaling"] = ["--benchmark", "--data", "--hours", "--schedulers", "--workers"],
        ["pg-workers"] = ["--heartbeat", "--pool", "--processes", "--schema", "--trial-seconds", "--url", "--workers", "--workers-url"],
        ["slurm-overhead"] = ["--concurrency", "--label", "--storage", "--tasks", "--trial-seconds", "--worker-command"],
        ["compute-classes"] = ["--hours", "--seeds", "--speedup"],
        ["dashboard"] = ["--live-samples", "--postgres", "--trials", "--work", "--writer-trials", "--writers"],
        ["importance-check"] = ["--out", "--python"],
        ["pruner-parity"] = ["--data", "--fixture", "--out", "--python"],
    };

    /// <summary>The verbs started by the benchmarks themselves, with positional arguments.</summary>
    public static readonly IReadOnlySet<string> Internal = new HashSet<string>(StringComparer.Ordinal) { "worker", "pg-workers-child", "dashboard-writer" };

    /// <summary>
    /// One line naming the first flag of <paramref name="args"/> (verb first) that its verb does not read, a flag given
    /// no value, or a word that is neither a flag nor a flag's value (the verbs read flags only, so it would be ignored);
    /// null when every argument is a known flag or its value (or the verb is internal or unknown: the usage covers that).
    /// </summary>
    public static string? Check(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Count == 0 || !Known.TryGetValue(args[0], out var flags)) return null;
        for (var i = 1; i < args.Count; i++)
        {
            var a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal))
                return $"unexpected word '{a}' after '{args[0]}', which takes only flags (its flags: {string.Join(" ", flags)})";
            if (!flags.Contains(a, StringComparer.Ordinal))
                return $"unknown flag '{a}' for '{args[0]}' (its flags: {string.Join(" ", flags)})";
            if (Switches.Contains(a)) continue;
            if (i + 1 >= args.Count) return $"flag '{a}' of '{args[0]}' needs a value";
            i++;
        }
        return null;
    }
}
