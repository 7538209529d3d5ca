using System.Diagnostics;
using System.Globalization;
using Tunesmith.Backends.Slurm;
using Tunesmith.Storage;
using Tunesmith.Trials;

namespace Tunesmith.Bench;

/// <summary>
/// The cost of one trial per Slurm job (docs/BENCHMARKS.md, "Slurm"): submits an array of N one-trial tasks of a program
/// that sleeps T seconds, on the cluster at SLURM_CONF, through `tunesmith slurm submit`; measures per task the job's
/// start (a timestamp the --setup line prints) to the trial's start in storage, the trial's own time, and the array's
/// makespan against the ideal ceil(N/K)·T.
/// </summary>
internal static class SlurmOverheadBenchmark
{
    public static async Task<int> RunAsync(string workerCommand, string storage, int tasks, int concurrency, double trialSeconds, string label)
    {
        var dir = Path.Combine(Path.GetTempPath(), "tunesmith-slurm-bench-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var study = "overhead-" + Guid.NewGuid().ToString("N")[..6];
        File.WriteAllText(Path.Combine(dir, "trial.py"), $"import time\ntime.sleep({trialSeconds.ToString(CultureInfo.InvariantCulture)})\nprint('tunesmith:result {{\"loss\": 1.0}}')\n");
        File.WriteAllText(Path.Combine(dir, "study.yaml"),
            $"name: {study}\nmetric: loss\ncommand: python3 trial.py\nspace: {{ x: {{ float: [0, 1] }} }}\nsampler: random\ntrials: {tasks}\nslurm: {{ concurrency: {concurrency} }}\n");
        var cli = workerCommand.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var psi = new ProcessStartInfo(cli[0]) { WorkingDirectory = dir, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in cli.Skip(1)) psi.ArgumentList.Add(a);
        foreach (var a in new[] { "slurm", "submit", "study.yaml", "--storage", storage, "--worker-command", workerCommand, "--setup", "echo \"jobstart $(date +%s.%N)\"" })
            psi.ArgumentList.Add(a);
        var submitted = DateTimeOffset.UtcNow;
        using (var p = Process.Start(psi)!)
        {
            var output = await p.StandardOutput.ReadToEndAsync();
            var error = await p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync();
            if (p.ExitCode != 0) { Console.Error.WriteLine(error); return 1; }
        }
        var commands = new SlurmCommands();
        await using var store = StudyStorage.Open(storage);
        var record = (await store.GetStudyAsync(study))!;
        var jobIds = SlurmSubmitter.Jobs(record.SystemAttributes).Select(j => j.JobId).ToList();
        while ((await commands.ShowJobsAsync(jobIds)).Any(j => j.IsActive)) await Task.Delay(500);
        var trials = (await store.GetTrialsSinceAsync(record.Id, 0)).Trials;

        var jobStarts = new Dictionary<string, double>(StringComparer.Ordinal);
        // The job logs are in the study's run directory, runs/<study>-<hash>/slurm (runs/<study>/slurm before issue 18).
        foreach (var log in Directory.GetDirectories(Path.Combine(dir, "runs"), study + "*").SelectMany(d => Directory.GetFiles(Path.Combine(d, "slurm"), "*.out")))
            foreach (var line in File.ReadLines(log).Where(l => l.StartsWith("jobstart ", StringComparison.Ordinal)))
                jobStarts[Path.GetFileNameWithoutExtension(log)] = double.Parse(line[9..], CultureInfo.InvariantCulture);
        var startup = new List<double>();
        var runtimes = new List<double>();
        foreach (var t in trials.Where(t => t.State == TrialState.Complete))
        {
            if (t.SystemAttributes.GetValueOrDefault(SlurmAttributeKeys.JobId) is string job && jobStarts.TryGetValue(job, out var start) && t.Started is { } s)
                startup.Add(s.ToUnixTimeMilliseconds() / 1000.0 - start);
            if (t.Duration is { } d) runtimes.Add(d.TotalSeconds);
        }
        var complete = trials.Count(t => t.State == TrialState.Complete);
        var last = trials.Max(t => t.Finished) ?? submitted;
        var makespan = (last - submitted).TotalSeconds;
        var ideal = Math.Ceiling(tasks / (double)concurrency) * trialSeconds;
        var perTrial = makespan * concurrency / tasks - trialSeconds;
        static double Q(List<double> xs, double q) => xs.Count == 0 ? double.NaN : xs.Order().ElementAt((int)Math.Min(xs.Count - 1, Math.Round(q * (xs.Count - 1))));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{label}: tasks={tasks} concurrency={concurrency} trial_s={trialSeconds} complete={complete} " +
            $"job_start_to_trial_start_s median={Q(startup, 0.5):0.00} p95={Q(startup, 0.95):0.00} max={Q(startup, 1):0.00} " +
            $"trial_runtime_s median={Q(runtimes, 0.5):0.00} makespan_s={makespan:0.0} ideal_s={ideal:0.0} " +
            $"overhead_per_trial_s={perTrial:0.00} ratio_to_trial={perTrial / trialSeconds:0.000}"));
        Directory.Delete(dir, recursive: true);
        return complete == tasks ? 0 : 1;
    }
}
