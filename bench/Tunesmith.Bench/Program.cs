using System.Globalization;
using Tunesmith.Bench;

// Tunesmith benchmarks. Run in Release from the repository root, e.g.
//   dotnet run -c Release --project bench/Tunesmith.Bench -- overhead
//   dotnet run -c Release --project bench/Tunesmith.Bench -- quality --seeds 10 --jobs 2
//   dotnet run -c Release --project bench/Tunesmith.Bench -- check-functions
//   dotnet run -c Release --project bench/Tunesmith.Bench -- dashboard --postgres "$TUNESMITH_TEST_POSTGRES?search_path=dashbench"
string Opt(string name, string fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}
// Case names contain commas, so --cases takes '|' between names (other lists take ',').
IReadOnlySet<string>? Set(string name) => Opt(name, "") is { Length: > 0 } v ? v.Split(name == "--cases" ? '|' : ',').ToHashSet() : null;
int Int(string name, int fallback) => int.Parse(Opt(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

// A flag its verb does not read, or a stray word (the verbs read flags only), is a typo (in a documented command, or typed):
// one line, exit 2, nothing run.
if (BenchFlags.Check(args) is { } badFlag)
{
    Console.Error.WriteLine("Tunesmith.Bench: " + badFlag);
    return 2;
}

// `overhead` (and its worker processes) measure what `tunesmith` gets: concurrent (background) GC, the runtime default,
// as before 18d67ef. Every other benchmark keeps the blocking GC it has been measured with since then (Batch is what
// ConcurrentGarbageCollection=false gave the whole process). docs/BENCHMARKS.md, issue 19.
if (args.FirstOrDefault() is not ("overhead" or "worker")) System.Runtime.GCSettings.LatencyMode = System.Runtime.GCLatencyMode.Batch;

return args.FirstOrDefault() switch
{
    "overhead" => await OverheadBenchmark.RunAsync(Int("--repeats", 3), Set("--cases"), Opt("--work", Path.Combine(Path.GetTempPath(), "tunesmith-bench"))),
    "worker" => await OverheadBenchmark.WorkerAsync(args[1], args[2], int.Parse(args[3], CultureInfo.InvariantCulture), args[4],
        args.Length > 5 ? int.Parse(args[5], CultureInfo.InvariantCulture) : 0),
    "quality" => await QualityBenchmark.RunAsync(new QualityArgs(
        Int("--seeds", 10),
        Opt("--budgets", "50,100,200").Split(',').Select(b => int.Parse(b, CultureInfo.InvariantCulture)).ToArray(),
        Int("--jobs", 2),
        Opt("--out", "docs/benchmarks"),
        Opt("--reference", "../shared/reference"),
        Set("--functions"),
        Set("--samplers"),
        Int("--seed-offset", 0),
        Opt("--tpe-variants", ""),
        Opt("--optuna-python", "") is { Length: > 0 } python ? python : null) { RunsFrom = Set("--runs-from")?.ToList() ?? [], RenderOnly = args.Contains("--render-only"), Variants = Opt("--variants", ""), Batch = Int("--batch", 1) }),
    "ask-latency" => await AskLatencyBenchmark.RunAsync(Set("--samplers"), Opt("--history", "100,1000,2000").Split(',').Select(int.Parse).ToArray()),
    "gpu-ledger" => await GpuLedgerBenchmark.RunAsync(Int("--cycles", 5000), Int("--repeats", 3)),
    "check-functions" => await FunctionCheck.RunAsync(Opt("--reference", "../shared/reference")),
    "simulator-study" => SimulatorStudy.Run(
        Opt("--benchmarks", "lcbench-blood,nasbench-nlp,yahpo-lcbench:167168,yahpo-lcbench:189873,yahpo-lcbench:189906").Split(','),
        Opt("--strategies", "none+random,asha+random,hyperband+random,asha+tpe,bohb,hypertune,mobster").Split(','),
        Int("--seeds", 20), Int("--first-seed", 0), Int("--workers", 8),
        Opt("--budgets", "lcbench-blood=6h,nasbench-nlp=60d,yahpo-lcbench=48h,default=24h").Split(',').ToDictionary(p => p.Split('=')[0], p => ParseHours(p.Split('=')[1])),
        Int("--parallel", 2), Opt("--out", "docs/benchmarks/simulator"), Opt("--data", "") is { Length: > 0 } dd ? dd : null,
        Opt("--record-proposed", "false") == "true"),
    "simulator-tune" => SimulatorTune.Run(
        Opt("--benchmarks", "yahpo-lcbench:189908,yahpo-lcbench:167185,yahpo-lcbench:168910,yahpo-lcbench:168329,yahpo-lcbench:167152").Split(','),
        Opt("--variants", "asha+random;bohb").Split(';'), Int("--seeds", 10), Int("--first-seed", 100), Int("--workers", 8),
        Opt("--budgets", "lcbench-blood=6h,nasbench-nlp=60d,yahpo-lcbench=24h,default=24h").Split(',').ToDictionary(p => p.Split('=')[0], p => ParseHours(p.Split('=')[1])),
        Int("--parallel", 2), Opt("--data", "") is { Length: > 0 } td ? td : null, Opt("--output", "") is { Length: > 0 } to ? to : null),
    "simulator-ceiling" => SimulatorCeiling.Run(
        Opt("--benchmarks", "yahpo-lcbench:167168,yahpo-lcbench:189906,yahpo-lcbench:189873,nasbench-nlp,lcbench-blood").Split(','),
        Int("--seeds", 20), Int("--first-seed", 0), Int("--workers", 8),
        Opt("--budgets", "lcbench-blood=6h,nasbench-nlp=60d,yahpo-lcbench=24h,default=24h").Split(',').ToDictionary(p => p.Split('=')[0], p => ParseHours(p.Split('=')[1])),
        Int("--parallel", 2), Opt("--data", "") is { Length: > 0 } cd ? cd : null, Opt("--output", "") is { Length: > 0 } co ? co : null, Opt("--asha", "asha+random")),
    "simulator-repeats" => SimulatorRepeats.Run(Opt("--benchmark", "lcbench-blood"), Opt("--variants", "none+random;asha+random;asha+tpe;bohb").Split(';'),
        Int("--seeds", 20), Int("--first-seed", 0), ParseHours(Opt("--budget", "6h")), Opt("--data", "") is { Length: > 0 } rd ? rd : null),
    "simulator-hits" => SimulatorHits.Run(Opt("--benchmark", "yahpo-lcbench:189906"), Opt("--variants", "asha+random;bohb;mobster").Split(';'),
        Int("--seeds", 10), Int("--first-seed", 100), ParseHours(Opt("--budget", "24h")), Opt("--data", "") is { Length: > 0 } hd ? hd : null),
    "simulator-speed" => SimulatorSpeedBenchmark.Run(Opt("--benchmark", "lcbench-blood"), Opt("--scheduler", "asha"), Opt("--sampler", "random"),
        Int("--workers", 8), TimeSpan.FromHours(double.Parse(Opt("--hours", "24"), CultureInfo.InvariantCulture)), Int("--repeats", 5), Opt("--data", "") is { Length: > 0 } d ? d : null, Opt("--repeat-rows", "false") == "true"),
    "scheduler-scaling" => SchedulerScalingBenchmark.Run(Opt("--benchmark", "lcbench-blood"), Opt("--schedulers", "median,asha-promotion").Split(','),
        Opt("--hours", "1,4,16").Split(',').Select(h => double.Parse(h, CultureInfo.InvariantCulture)).ToList(), Int("--workers", 8), Opt("--data", "") is { Length: > 0 } sd ? sd : null),
    "pg-workers" => await PostgresWorkersBenchmark.RunAsync(Opt("--url", Environment.GetEnvironmentVariable("TUNESMITH_TEST_POSTGRES") ?? ""), Int("--workers", 500),
        Int("--processes", 5), double.Parse(Opt("--trial-seconds", "30"), CultureInfo.InvariantCulture), double.Parse(Opt("--heartbeat", "2"), CultureInfo.InvariantCulture),
        Opt("--pool", "pool_idle_lifetime=0&pool_max_size=2"), Opt("--workers-url", "") is { Length: > 0 } wu ? wu : null, Opt("--schema", "") is { Length: > 0 } sn ? sn : null),
    "slurm-overhead" => await SlurmOverheadBenchmark.RunAsync(Opt("--worker-command", "tunesmith"), Opt("--storage", Environment.GetEnvironmentVariable("TUNESMITH_TEST_POSTGRES") ?? ""),
        Int("--tasks", 100), Int("--concurrency", 8), double.Parse(Opt("--trial-seconds", "5"), CultureInfo.InvariantCulture), Opt("--label", "slurm")),
    "compute-classes" => ComputeClassSimulation.Run(Int("--seeds", 20), double.Parse(Opt("--hours", "8"), CultureInfo.InvariantCulture), Opt("--speedup", "linear")),
    "pg-workers-child" => await PostgresWorkersBenchmark.ChildAsync(args[1], long.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture),
        double.Parse(args[4], CultureInfo.InvariantCulture), double.Parse(args[5], CultureInfo.InvariantCulture), int.Parse(args[6], CultureInfo.InvariantCulture)),
    "dashboard" => await DashboardBenchmark.RunAsync(Int("--trials", 100_000), Opt("--work", Path.Combine(Path.GetTempPath(), "tunesmith-bench")),
        Opt("--postgres", "") is { Length: > 0 } pg ? pg : null, Int("--writers", 32), Int("--writer-trials", 100), Int("--live-samples", 20)),
    "dashboard-writer" => await DashboardBenchmark.WriterAsync(args[1], args[2], int.Parse(args[3], CultureInfo.InvariantCulture), int.Parse(args[4], CultureInfo.InvariantCulture)),
    "importance-check" => await ImportanceCheck.RunAsync(Opt("--out", "docs/benchmarks/importance"), Opt("--python", "/usr/bin/python3")),
    "pruner-parity" => await PrunerParity.RunAsync(Opt("--out", "docs/benchmarks/pruners"), Opt("--python", "/usr/bin/python3"), Opt("--data", "/work/shared/benchdata"),
        Opt("--fixture", "") is { Length: > 0 } fx ? fx : null),
    _ => Usage(),
};

static TimeSpan ParseHours(string text) => text[^1] switch
{
    'd' => TimeSpan.FromDays(double.Parse(text[..^1], CultureInfo.InvariantCulture)),
    'h' => TimeSpan.FromHours(double.Parse(text[..^1], CultureInfo.InvariantCulture)),
    'm' => TimeSpan.FromMinutes(double.Parse(text[..^1], CultureInfo.InvariantCulture)),
    _ => TimeSpan.FromSeconds(double.Parse(text, CultureInfo.InvariantCulture)),
};

static int Usage()
{
    Console.Error.WriteLine("usage: Tunesmith.Bench (overhead [--repeats N] [--cases 'a|b'] | quality [--seeds N] [--seed-offset K] [--budgets 50,100,200] [--jobs N] [--out DIR] [--functions a,b] [--samplers a,b] [--tpe-variants 'label=Property:value,...;...'] [--variants 'label=sampler:key=value,...;...'] [--optuna-python /usr/bin/python3] [--batch K] | ask-latency [--samplers tpe,gp] [--history 100,1000,2000] | gpu-ledger [--cycles 5000] [--repeats 3] | check-functions | dashboard [--trials 100000] [--postgres URL] [--writers 32] [--writer-trials 100] [--live-samples 20] | importance-check [--out DIR] | pruner-parity [--out DIR] [--python /usr/bin/python3] [--data DIR] [--fixture FILE] | simulator-study [--benchmarks a,b] [--strategies none+random,asha+random,...] [--seeds 20] [--first-seed 0] [--budgets name=6h,...] [--out DIR] [--record-proposed true] | simulator-tune [--benchmarks a,b] [--variants 'asha+random;bohb:b.RandomFraction=0.33,t.Gamma=0.15;...'] [--seeds 10] [--first-seed 100] [--output FILE] | simulator-ceiling [--benchmarks a,b] [--seeds 20] [--first-seed 0] [--asha 'asha+random:s.ReductionFactor=4'] [--output FILE-STEM] | simulator-speed [--benchmark lcbench-blood] [--scheduler asha] [--sampler random] [--workers 8] [--hours 24] [--repeats 5] | scheduler-scaling [--schedulers median,asha-promotion] [--hours 1,4,16] [--workers 8])");
    return 2;
}
