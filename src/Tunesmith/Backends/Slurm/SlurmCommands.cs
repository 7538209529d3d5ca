using System.Diagnostics;
using System.Globalization;

namespace Tunesmith.Backends.Slurm;

/// <summary>What one Slurm program printed.</summary>
/// <param name="ExitCode">Its exit code.</param>
/// <param name="Stdout">Its standard output.</param>
/// <param name="Stderr">Its standard error.</param>
public sealed record SlurmCommandResult(int ExitCode, string Stdout, string Stderr);

/// <summary>A Slurm program failed; the message names it and gives its first error line.</summary>
public sealed class SlurmCommandException(string message) : Exception(message);

/// <summary>
/// Runs Slurm's own programs (<c>sbatch</c>, <c>scontrol</c>, <c>squeue</c>, <c>sacct</c>, <c>sacctmgr</c>, <c>scancel</c>)
/// as argv arrays, never through a shell, and parses what they print.
/// </summary>
public sealed class SlurmCommands
{
    private readonly TimeSpan _timeout;
    private readonly IReadOnlyDictionary<string, string> _environment;

    /// <summary>
    /// Creates the runner; each program is killed after <paramref name="timeout"/> (default 60 s) and gets
    /// <paramref name="environment"/> on top of this process's (e.g. <c>SLURM_CONF</c> for a cluster other than the default).
    /// </summary>
    public SlurmCommands(TimeSpan? timeout = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        _timeout = timeout ?? TimeSpan.FromSeconds(60);
        _environment = environment ?? new Dictionary<string, string>();
    }

    /// <summary>Runs <paramref name="program"/> with <paramref name="args"/> (and extra environment variables); returns what it printed.</summary>
    public async Task<SlurmCommandResult> RunAsync(string program, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null,
        CancellationToken cancellationToken = default)
    {
        var psi = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in _environment) psi.Environment[k] = v;
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        Process process;
        try { process = Process.Start(psi)!; }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new SlurmCommandException($"cannot run '{program}': {e.Message} (is Slurm installed and on PATH?)");
        }
        using (process)
        {
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(_timeout);
            try { await process.WaitForExitAsync(limit.Token).ConfigureAwait(false); }
            catch (OperationCanceledException)
            {
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                cancellationToken.ThrowIfCancellationRequested();
                throw new SlurmCommandException($"'{program}' did not answer in {_timeout.TotalSeconds:0} s");
            }
            return new SlurmCommandResult(process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
        }
    }

    /// <summary>Submits a batch script file; returns the job id (<c>sbatch --parsable</c>).</summary>
    public async Task<string> SubmitAsync(string scriptPath, IReadOnlyDictionary<string, string>? environment = null, CancellationToken cancellationToken = default)
    {
        var r = await Checked("sbatch", ["--parsable", scriptPath], environment, cancellationToken).ConfigureAwait(false);
        var id = r.Stdout.Trim().Split(';')[0];
        if (id.Length == 0 || !id.All(char.IsAsciiDigit)) throw new SlurmCommandException($"sbatch printed no job id: '{r.Stdout.Trim()}'");
        return id;
    }

    /// <summary>
    /// The jobs (and every task of the arrays) with these ids as slurmctld knows them: pending, running and recently
    /// finished ones (for <c>MinJobAge</c>, 5 minutes by default). Ids slurmctld has forgotten are left out.
    /// </summary>
    public async Task<IReadOnlyList<SlurmJobInfo>> ShowJobsAsync(IEnumerable<string> jobIds, CancellationToken cancellationToken = default)
    {
        var all = new List<SlurmJobInfo>();
        foreach (var id in jobIds.Distinct(StringComparer.Ordinal))
        {
            var r = await RunAsync("scontrol", ["show", "job", "-o", id], null, cancellationToken).ConfigureAwait(false);
            if (r.ExitCode == 0) all.AddRange(SlurmOutput.ParseScontrolJobs(r.Stdout));
        }
        return all;
    }

    /// <summary>The jobs with these ids from the accounting database (<c>sacct</c>); empty when accounting is off.</summary>
    public async Task<IReadOnlyList<SlurmJobInfo>> AccountingAsync(IEnumerable<string> jobIds, CancellationToken cancellationToken = default)
    {
        var ids = string.Join(',', jobIds.Distinct(StringComparer.Ordinal));
        if (ids.Length == 0) return [];
        var r = await RunAsync("sacct", ["-P", "-n", "-X", "-j", ids, "-o", SlurmOutput.SacctFields], null, cancellationToken).ConfigureAwait(false);
        return r.ExitCode == 0 ? SlurmOutput.ParseSacct(r.Stdout) : [];
    }

    /// <summary>
    /// The state of one job or array task (<c>scontrol show job</c>, else <c>sacct</c>), or null when Slurm does not know it.
    /// Name an array task as <c>ARRAY_TASK</c> (e.g. <c>40_2</c>): an array's own id stands for all of its tasks.
    /// </summary>
    public async Task<SlurmJobInfo?> ShowJobAsync(string jobId, CancellationToken cancellationToken = default) =>
        (await ShowJobsAsync([jobId], cancellationToken).ConfigureAwait(false)).FirstOrDefault(j => j.JobId == jobId || j.Display == jobId)
        ?? (await AccountingAsync([jobId], cancellationToken).ConfigureAwait(false)).FirstOrDefault(j => j.JobId == jobId || j.Display == jobId);

    /// <summary>Sends a running job back to the queue (<c>scontrol requeue</c>).</summary>
    public Task RequeueAsync(string jobId, CancellationToken cancellationToken = default) =>
        Checked("scontrol", ["requeue", jobId], null, cancellationToken);

    /// <summary>Cancels jobs or array tasks (<c>scancel</c>).</summary>
    public Task CancelAsync(IReadOnlyCollection<string> jobIds, CancellationToken cancellationToken = default) =>
        jobIds.Count == 0 ? Task.CompletedTask : Checked("scancel", jobIds, null, cancellationToken);

    /// <summary>The limits that shape a submission: <c>MaxArraySize</c>, the user's <c>MaxSubmitJobs</c> and queued jobs.</summary>
    public async Task<SlurmLimits> LimitsAsync(string user, CancellationToken cancellationToken = default)
    {
        var config = await Checked("scontrol", ["show", "config"], null, cancellationToken).ConfigureAwait(false);
        var maxArray = SlurmOutput.MaxArraySize(SlurmOutput.ParseConfig(config.Stdout));
        // Without an accounting database sacctmgr fails: then no per-user cap is known.
        var assoc = await RunAsync("sacctmgr", ["-n", "-P", "show", "assoc", $"user={user}", "format=MaxSubmitJobs"], null, cancellationToken).ConfigureAwait(false);
        var maxSubmit = assoc.ExitCode == 0 ? SlurmOutput.ParseMaxSubmitJobs(assoc.Stdout) : null;
        var queued = 0;
        if (maxSubmit is not null)
        {
            var q = await RunAsync("squeue", ["-h", "-r", "-u", user, "-o", "%i"], null, cancellationToken).ConfigureAwait(false);
            if (q.ExitCode == 0) queued = q.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        }
        return new SlurmLimits(maxArray, maxSubmit, queued);
    }

    private async Task<SlurmCommandResult> Checked(string program, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment, CancellationToken ct)
    {
        var list = args.ToList();
        var r = await RunAsync(program, list, environment, ct).ConfigureAwait(false);
        if (r.ExitCode != 0)
        {
            var first = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "no message";
            throw new SlurmCommandException(string.Create(CultureInfo.InvariantCulture, $"{program} {string.Join(' ', list)} failed (exit {r.ExitCode}): {first}"));
        }
        return r;
    }
}
