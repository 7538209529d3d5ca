using System.Globalization;
using System.Text;

namespace Tunesmith.Backends.Slurm;

/// <summary>One job array to submit: which study, how many tasks, with which options, started how.</summary>
/// <param name="Study">The study's name.</param>
/// <param name="Tasks">Array tasks (one trial each): <c>--array=0-(Tasks-1)</c>.</param>
/// <param name="Options">The job options (resources, limits, setup line).</param>
/// <param name="WorkerCommand">The argv that starts Tunesmith on a compute node (e.g. the published <c>tunesmith</c>, or <c>dotnet tunesmith.dll</c>).</param>
/// <param name="LogDirectory">Where each task's output goes (<c>%A_%a.out</c>); it must be visible on the compute nodes.</param>
/// <param name="ComputeClass">The compute class the array runs, or null for a single-class study.</param>
/// <param name="DependsOn">A job id this array waits for (<c>afterany</c>), when a big array is split into a chain; or null.</param>
public sealed record SbatchRequest(string Study, int Tasks, SlurmJobOptions Options, IReadOnlyList<string> WorkerCommand, string LogDirectory,
    string? ComputeClass = null, string? DependsOn = null);

/// <summary>
/// Writes the sbatch script of a study's job array: every array task runs <c>tunesmith worker --one-trial</c>, which claims
/// one trial (a waiting one first), runs it and exits. Slurm sends <c>SIGUSR1</c> to the batch shell <c>SignalLead</c>
/// before the time limit; the script hands it to the worker, which checkpoints the trial, returns it to the queue and
/// requeues the job. The storage URL is not written into the script (it may hold a password): <c>sbatch</c> passes the
/// submitting environment's <c>TUNESMITH_STORAGE</c> to the job.
/// </summary>
public static class SbatchScript
{
    /// <summary>The script's text.</summary>
    public static string Render(SbatchRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Tasks < 1) throw new ArgumentOutOfRangeException(nameof(request), request.Tasks, "an array needs at least one task");
        if (request.WorkerCommand.Count == 0) throw new ArgumentException("the worker command is empty", nameof(request));
        var o = request.Options;
        var sb = new StringBuilder();
        sb.Append("#!/bin/bash\n");
        void Directive(string text) => sb.Append("#SBATCH ").Append(text).Append('\n');
        Directive("--job-name=" + JobName(request.Study, request.ComputeClass));
        var array = request.Tasks == 1 ? "0" : string.Create(CultureInfo.InvariantCulture, $"0-{request.Tasks - 1}");
        if (o.Concurrency is { } k && k < request.Tasks) array += string.Create(CultureInfo.InvariantCulture, $"%{k}");
        Directive("--array=" + array);
        Directive("--output=" + Path.Combine(request.LogDirectory, "%A_%a.out"));
        Directive("--open-mode=append");
        Directive("--requeue");
        Directive(string.Create(CultureInfo.InvariantCulture, $"--signal=B:USR1@{(long)o.SignalLead.TotalSeconds}"));
        if (o.TimeLimit is { } t) Directive("--time=" + SlurmJobOptions.FormatTime(t));
        if (o.Partition is { } p) Directive("--partition=" + p);
        if (o.Account is { } a) Directive("--account=" + a);
        if (o.Qos is { } q) Directive("--qos=" + q);
        if (o.Constraint is { } c) Directive("--constraint=" + c);
        Directive("--ntasks=1");
        if (o.CpusPerTrial is { } cpus) Directive(string.Create(CultureInfo.InvariantCulture, $"--cpus-per-task={cpus}"));
        if (o.GpusPerTrial > 0) Directive(string.Create(CultureInfo.InvariantCulture, $"--gres=gpu:{o.GpusPerTrial}"));
        if (o.Memory is { } m) Directive("--mem=" + m);
        if (request.DependsOn is { } d) Directive("--dependency=afterany:" + d);
        foreach (var extra in o.ExtraSbatch) Directive(extra);
        sb.Append('\n');
        sb.Append("# Written by 'tunesmith slurm submit': each array task runs one trial of study ").Append(Quote(request.Study)).Append(".\n");
        sb.Append("# The storage comes from TUNESMITH_STORAGE in the environment sbatch passes on (never written here).\n");
        if (o.Setup is { Length: > 0 } setup)
        {
            sb.Append("# setup:\n");
            foreach (var line in setup.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n')) sb.Append(line).Append('\n');
        }
        var argv = new List<string>(request.WorkerCommand) { "worker", "--study", request.Study, "--one-trial", "--quiet",
            "--max-requeues", o.MaxRequeues.ToString(CultureInfo.InvariantCulture),
            "--signal-lead", ((long)o.SignalLead.TotalSeconds).ToString(CultureInfo.InvariantCulture) };
        if (request.ComputeClass is { } cls) { argv.Add("--compute-class"); argv.Add(cls); }
        sb.Append('\n');
        // Slurm sends the pre-walltime signal at its periodic time-limit check: up to a minute early, possibly as the job
        // starts. So the trap is set first, and passes the signal on only once the worker catches it (SigCgt bit 10 in
        // /proc): before that it would kill the worker. Nothing is lost: the worker reads the job's time left as it starts.
        sb.Append("worker=\n");
        sb.Append("forward_usr1() {\n");
        sb.Append("  local caught\n");
        sb.Append("  [ -n \"$worker\" ] || return 0\n");
        sb.Append("  caught=$(sed -n 's/^SigCgt:[[:space:]]*//p' \"/proc/$worker/status\" 2>/dev/null)\n");
        sb.Append("  if [ -n \"$caught\" ] && (( 0x$caught & 0x200 )); then kill -USR1 \"$worker\" 2>/dev/null; fi\n");
        sb.Append("  return 0\n");
        sb.Append("}\n");
        sb.Append("trap forward_usr1 USR1\n");
        // The worker runs in the background so that bash handles SIGUSR1 at once (a trap waits for a foreground child).
        // SIGTERM is not forwarded: Slurm sends it to every process of the job itself.
        sb.Append(string.Join(' ', argv.Select(Quote))).Append(" &\n");
        sb.Append("worker=$!\n");
        sb.Append("while :; do\n  wait \"$worker\"; status=$?\n  kill -0 \"$worker\" 2>/dev/null || break\ndone\n");
        sb.Append("exit \"$status\"\n");
        return sb.ToString();
    }

    /// <summary>The job name: <c>tunesmith-STUDY[-CLASS]</c> with characters other than letters, digits, <c>-_.</c> as <c>_</c>.</summary>
    public static string JobName(string study, string? computeClass) =>
        "tunesmith-" + Safe(study) + (computeClass is null ? "" : "-" + Safe(computeClass));

    /// <summary>A word quoted for bash: as is when it is plain, else in single quotes.</summary>
    public static string Quote(string word)
    {
        ArgumentNullException.ThrowIfNull(word);
        return word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=@+,%".Contains(c))
            ? word
            : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
    }

    private static string Safe(string text) => string.Concat(text.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_'));
}
