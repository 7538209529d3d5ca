using System.Diagnostics;
using System.Text.Json;
using Tunesmith.Simulation.Benchmarks;
using Tunesmith.Spaces;

namespace Tunesmith.Simulation.Tests;

/// <summary>
/// bench/Tunesmith.Bench/optuna_simulate.py (Optuna's pruners on lcbench-blood, docs/BENCHMARKS.md) maps proposals to
/// table rows with its own Python code: it must replay the same rows as the simulator, or the two libraries' figures
/// are not comparable. Runs the real script (Debian's python3 with numpy; it fails, not skips, without them).
/// </summary>
public sealed class OptunaScriptLookupTests
{
    [Fact]
    public void The_optuna_script_replays_the_same_table_rows_as_the_simulator_for_the_same_proposals()
    {
        var benchmark = BenchData.Catalog.Open("lcbench-blood");
        var random = new Random(20);
        var proposals = new List<Dictionary<string, object?>>();
        for (var i = 0; i < 300; i++)
        {
            var proposal = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var (name, distribution) in benchmark.Space)
                proposal[name] = distribution switch
                {
                    FloatDistribution f => f.FromUnit(random.NextDouble()),
                    IntDistribution n => n.FromUnit(random.NextDouble()),
                    _ => throw new InvalidOperationException($"unexpected {distribution.Describe()}"),
                };
            proposals.Add(proposal);
            // The same point again, as a concentrating sampler proposes it: the run must move it to another row.
            if (i % 3 == 0) proposals.Add(proposal);
        }

        var started = new StartedConfigurations();
        var noRepeat = proposals.Select(p => benchmark.NewTrialCurve(p, started).ConfigId).ToArray();
        var plain = proposals.Select(p => benchmark.Curve(p).ConfigId).ToArray();
        Assert.Equal(noRepeat.Length, noRepeat.Distinct().Count());
        Assert.True(plain.Distinct().Count() < plain.Length, "the proposals should make the plain lookup repeat rows");

        Assert.Equal(noRepeat, ScriptRows(proposals, repeatRows: false));
        Assert.Equal(plain, ScriptRows(proposals, repeatRows: true));
    }

    private static int[] ScriptRows(List<Dictionary<string, object?>> proposals, bool repeatRows)
    {
        var file = Path.Combine(Path.GetTempPath(), $"tunesmith-proposals-{Guid.NewGuid():N}.json");
        File.WriteAllText(file, JsonSerializer.Serialize(proposals));
        try
        {
            var start = new ProcessStartInfo(File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var a in new[] { Script(), BenchData.Directory, "--rows-for", file }) start.ArgumentList.Add(a);
            if (repeatRows) start.ArgumentList.Add("--repeat-rows");
            using var process = Process.Start(start)!;
            var error = process.StandardError.ReadToEndAsync();
            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"optuna_simulate.py --rows-for exited {process.ExitCode}: {error.Result}");
            return JsonSerializer.Deserialize<int[]>(output)!;
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string Script()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "bench", "Tunesmith.Bench", "optuna_simulate.py");
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException("bench/Tunesmith.Bench/optuna_simulate.py not found above " + AppContext.BaseDirectory);
    }
}
