using System.Diagnostics;
using Tunesmith.Execution;
using Tunesmith.Samplers;

// The loop of `bench overhead`'s in-memory case (Random sampler, x = suggest_float(-10, 10), x²), built against any
// build's Tunesmith.dll so two commits compare with the same harness and runtime settings. Per run it prints the wall
// time, process CPU per trial, bytes allocated per trial (all threads, GC.GetTotalAllocatedBytes(precise: true)), GC
// counts and pause time, methods JIT-compiled, and what a second run at the reached budget costs (the end of a run).
// Usage (docs/BENCHMARKS.md, issue 19):
//   dotnet build -c Release bench/OverheadProbe -p:TsDir=<a build's bench/Tunesmith.Bench/bin/Release/net10.0> -o OUT
//   cp -n <that TsDir>/*.dll OUT/; rm OUT/probe.deps.json; dotnet OUT/probe.dll REPEATS 1000,100000
var repeats = int.Parse(args.Length > 0 ? args[0] : "3");
var sizes = args.Length > 1 ? args[1].Split(',').Select(int.Parse).ToArray() : new[] { 1_000, 100_000 };
static Task<double> Objective(Trial t, CancellationToken _) { var x = t.SuggestFloat("x", -10, 10); return Task.FromResult(x * x); }
async Task<(double Seconds, double Cpu, double BytesPerTrial, int G0, int G1, int G2)> Once(int trials)
{
    await using var study = await Study.CreateAsync("overhead-" + Guid.NewGuid().ToString("N")[..8],
        new StudyOptions { Storage = "memory:", Sampler = new RandomSampler(seed: 1) });
    var (g0, g1, g2) = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
    var bytes = GC.GetTotalAllocatedBytes(precise: true);
    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
    var pause = GC.GetTotalPauseDuration();
    var jm = System.Runtime.JitInfo.GetCompiledMethodCount(); var jt = System.Runtime.JitInfo.GetCompilationTime();
    var sw = Stopwatch.StartNew();
    await study.OptimizeAsync(Objective, new OptimizeOptions { Trials = trials });
    var s = sw.Elapsed.TotalSeconds;
    var c = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
    Console.Write($"gc pause {(GC.GetTotalPauseDuration() - pause).TotalMilliseconds:F0} ms\t");
    Console.Write($"jit {System.Runtime.JitInfo.GetCompiledMethodCount() - jm} methods {(System.Runtime.JitInfo.GetCompilationTime() - jt).TotalMilliseconds:F1} ms\t");
    var b = GC.GetTotalAllocatedBytes(precise: true) - bytes;
    // The same budget again: the run ends at once; what it costs is the end of a run (the check for other workers' trials).
    var tail = Stopwatch.StartNew();
    await study.OptimizeAsync(Objective, new OptimizeOptions { Trials = trials });
    Console.Write($"end {tail.Elapsed.TotalMilliseconds:F2} ms\t");
    return (s, c, (double)b / trials, GC.CollectionCount(0) - g0, GC.CollectionCount(1) - g1, GC.CollectionCount(2) - g2);
}
await Once(2_000);
foreach (var n in sizes)
    for (var r = 0; r < repeats; r++)
    {
        var x = await Once(n);
        Console.WriteLine($"{n}\t{n / x.Seconds:F0} trials/s\tcpu {x.Cpu * 1e6 / n:F2} us/trial\t{x.BytesPerTrial:F0} B/trial\tgc0={x.G0} gc1={x.G1} gc2={x.G2}");
    }
