using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Samplers;
using Tunesmith.Spaces;

namespace Tunesmith.Bench;

/// <summary>
/// Checks the C# quality functions against the executable reference (functions.py, Debian's python3 with numpy), and
/// Tunesmith's own hierarchical functions against their Python twins in optuna_quality.py (which Optuna's runs use).
/// </summary>
internal static class FunctionCheck
{
    public static async Task<int> RunAsync(string referenceDir)
    {
        var script = Path.Combine(referenceDir, "functions.py");
        var failures = 0;
        foreach (var f in QualityFunctions.All)
        {
            await using var study = await Study.CreateAsync("check-" + f.Name, new StudyOptions { Sampler = new RandomSampler(seed: 11) });
            var configs = new List<Configuration>();
            for (var i = 0; i < 25; i++)
            {
                var t = await study.AskAsync();
                configs.Add(t.Suggest(f.Space));
                await study.TellAsync(t, 0.0);
            }
            var json = "[" + string.Join(",", configs.Select(c => ParamValues.ToJson(c))) + "]";
            var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
            var own = f.Name is "svm" or "blocks" or "catheavy";
            string[] arguments = own
                ? [Path.Combine(AppContext.BaseDirectory, "optuna_quality.py"), "--reference", Path.GetFullPath(referenceDir), "--eval", f.Name]
                : [script, "eval", f.Name];
            foreach (var a in arguments) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            await p.StandardInput.WriteAsync(json);
            p.StandardInput.Close();
            var output = await p.StandardOutput.ReadToEndAsync();
            var error = await p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync();
            if (p.ExitCode != 0) { Console.Error.WriteLine($"{f.Name}: reference failed: {error.Trim()}"); failures++; continue; }
            var expected = JsonSerializer.Deserialize<double[]>(output)!;
            var worst = configs.Select((c, i) => Math.Abs(f.Evaluate(c) - expected[i]) / Math.Max(1, Math.Abs(expected[i]))).Max();
            var ok = worst < 1e-9;
            if (!ok) failures++;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{f.Name,-18} max relative error {worst:E2} {(ok ? "ok" : "MISMATCH")}"));
        }
        return failures == 0 ? 0 : 1;
    }
}
