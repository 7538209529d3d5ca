using System.Globalization;
using Tunesmith.Execution;
using Tunesmith.Samplers;

// Usage: Tunesmith.TestWorker --storage URL --study NAME --trials BUDGET [--parallel N] [--seed S]
// Runs trials of a trivial objective until the study holds BUDGET trials (counted in storage across every process),
// then exits 0. Any error goes to stderr as one line, exit 1.
try
{
    var options = new Dictionary<string, string>(StringComparer.Ordinal);
    for (var i = 0; i + 1 < args.Length; i += 2) options[args[i]] = args[i + 1];
    string Get(string name) => options.TryGetValue(name, out var v) ? v : throw new ArgumentException($"missing {name}");
    var parallel = options.TryGetValue("--parallel", out var p) ? int.Parse(p, CultureInfo.InvariantCulture) : 1;
    var seed = options.TryGetValue("--seed", out var s) ? int.Parse(s, CultureInfo.InvariantCulture) : Environment.ProcessId;

    await using var study = await Study.CreateOrLoadAsync(Get("--study"), new StudyOptions
    {
        Storage = Get("--storage"),
        Sampler = new RandomSampler(seed),
    });
    await study.OptimizeAsync(
        (trial, _) => Task.FromResult(Math.Pow(trial.SuggestFloat("x", -5, 5), 2) + trial.SuggestInt("k", 0, 3)),
        new OptimizeOptions { Trials = int.Parse(Get("--trials"), CultureInfo.InvariantCulture), Parallelism = parallel });
    return 0;
}
catch (Exception e)
{
    Console.Error.WriteLine($"{e.GetType().Name}: {e.Message}");
    return 1;
}
