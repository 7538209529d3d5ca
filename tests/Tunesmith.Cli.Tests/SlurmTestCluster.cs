using System.Diagnostics;
using Tunesmith.Backends.Slurm;
using Tunesmith.Storage;
using Tunesmith.Tests.Storage;
using Tunesmith.Trials;

namespace Tunesmith.Cli.Tests;

/// <summary>
/// The real single-machine Slurm the Slurm tests use: the one at <c>TUNESMITH_TEST_SLURM_CONF</c> (.ci/run starts it with
/// scripts/slurm-local.sh), else one this fixture starts with that script (as root). Under <c>CI=true</c> a cluster that
/// cannot be started fails the test; without CI the test is skipped, saying why. The cluster runs with
/// <c>MaxArraySize=6</c> so that an 8-task array must be split.
/// </summary>
public static class SlurmTestCluster
{
    public const string Variable = "TUNESMITH_TEST_SLURM_CONF";
    public const int MaxArraySize = 6;
    private static readonly Lazy<(string? Conf, string? Problem)> Cluster = new(Start);

    /// <summary>The cluster's slurm.conf; skips (CI unset) or fails (CI=true) the calling test when there is none.</summary>
    public static string Conf
    {
        get
        {
            var (conf, problem) = Cluster.Value;
            if (problem is null) return conf!;
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
                throw new InvalidOperationException($"Slurm tests need a cluster under CI=true: {problem}");
            Skip.If(true, $"{problem}; skipped because CI is unset (under CI=true this fails). Start one with: TUNESMITH_SLURM_MAX_ARRAY={MaxArraySize} scripts/slurm-local.sh start");
            return conf!;
        }
    }

    private static (string?, string?) Start()
    {
        var conf = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrWhiteSpace(conf))
        {
            var script = Path.Combine(StudyKit.RepoRoot(), "scripts", "slurm-local.sh");
            var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(script);
            psi.ArgumentList.Add("start");
            psi.Environment["TUNESMITH_SLURM_MAX_ARRAY"] = MaxArraySize.ToString(System.Globalization.CultureInfo.InvariantCulture);
            try
            {
                using var p = Process.Start(psi)!;
                var stdout = p.StandardOutput.ReadToEndAsync();
                var stderr = p.StandardError.ReadToEndAsync();
                if (!p.WaitForExit(300_000)) { p.Kill(true); return (null, "scripts/slurm-local.sh start took over 5 minutes"); }
                if (p.ExitCode != 0) return (null, $"scripts/slurm-local.sh start failed (exit {p.ExitCode}): {stderr.Result.Trim().Split('\n').LastOrDefault()}");
                conf = stdout.Result.Trim();
            }
            catch (System.ComponentModel.Win32Exception e) { return (null, $"cannot run bash: {e.Message}"); }
        }
        var commands = new SlurmCommands(environment: new Dictionary<string, string> { ["SLURM_CONF"] = conf });
        try
        {
            var ping = commands.RunAsync("scontrol", ["ping"]).GetAwaiter().GetResult();
            if (!ping.Stdout.Contains("is UP", StringComparison.Ordinal)) return (null, $"slurmctld at {conf} does not answer: {ping.Stdout.Trim()} {ping.Stderr.Trim()}");
            var max = commands.LimitsAsync(Environment.UserName).GetAwaiter().GetResult().MaxArraySize;
            if (max > MaxArraySize)
                return (null, $"the cluster at {conf} has MaxArraySize={max}; the tests need {MaxArraySize} (start it with TUNESMITH_SLURM_MAX_ARRAY={MaxArraySize})");
        }
        catch (SlurmCommandException e) { return (null, e.Message); }
        return (conf, null);
    }
}

/// <summary>One Slurm test's world: a temporary study folder, its own PostgreSQL schema, and the test cluster.</summary>
public sealed class SlurmKit : IAsyncDisposable
{
    private readonly StudyKit _kit = new();
    private readonly PostgresTestSchema _schema;

    public SlurmKit()
    {
        Conf = SlurmTestCluster.Conf;
        _schema = PostgresTestServer.NewSchema();
        Env = new Dictionary<string, string?> { ["SLURM_CONF"] = Conf };
        Commands = new SlurmCommands(environment: new Dictionary<string, string> { ["SLURM_CONF"] = Conf });
    }

    public string Conf { get; }
    public string Dir => _kit.Dir;
    public string Storage => _schema.Url;
    public Dictionary<string, string?> Env { get; }
    public SlurmCommands Commands { get; }
    public List<string> JobIds { get; } = [];

    public string Write(string name, string text) => _kit.Write(name, text);

    /// <summary>Runs the CLI with the cluster's SLURM_CONF (and --storage appended when asked).</summary>
    public Task<CliResult> Cli(IEnumerable<string> args, bool storage = true, IReadOnlyDictionary<string, string?>? env = null)
    {
        var all = new Dictionary<string, string?>(Env);
        foreach (var (k, v) in env ?? new Dictionary<string, string?>()) all[k] = v;
        return CliProcess.RunAsync(Dir, storage ? [.. args, "--storage", Storage] : args, all, TimeSpan.FromMinutes(4));
    }

    /// <summary><c>tunesmith slurm submit study.yaml ARGS</c>: returns the job ids it printed.</summary>
    public async Task<IReadOnlyList<string>> SubmitAsync(params string[] args)
    {
        var r = await Cli(["slurm", "submit", "study.yaml", .. args]);
        Assert.True(r.ExitCode == 0, r.ToString());
        var ids = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        Assert.NotEmpty(ids);
        JobIds.AddRange(ids);
        return ids;
    }

    /// <summary>Waits until no job this kit submitted is pending or running.</summary>
    public async Task WaitForJobsAsync(TimeSpan timeout)
    {
        var end = DateTime.UtcNow + timeout;
        while (true)
        {
            var active = (await Commands.ShowJobsAsync(JobIds)).Where(j => j.IsActive).Select(j => j.Display + " " + j.State).ToList();
            if (active.Count == 0) return;
            if (DateTime.UtcNow > end) throw new TimeoutException($"jobs still active after {timeout}: {string.Join(", ", active)}; logs: {Logs()}");
            await Task.Delay(500);
        }
    }

    /// <summary>Waits until <paramref name="condition"/> holds for the study's trials.</summary>
    public async Task<IReadOnlyList<FrozenTrial>> WaitForTrialsAsync(string study, Func<IReadOnlyList<FrozenTrial>, bool> condition, TimeSpan timeout)
    {
        var end = DateTime.UtcNow + timeout;
        while (true)
        {
            var trials = await TrialsAsync(study);
            if (condition(trials)) return trials;
            if (DateTime.UtcNow > end) throw new TimeoutException($"trials of '{study}' never reached the expected state: " +
                string.Join("; ", trials.Select(t => $"{t.Number} {t.State} {t.FailReason}")) + $"; logs: {Logs()}");
            await Task.Delay(250);
        }
    }

    /// <summary>The study's trials, read from its storage.</summary>
    public async Task<IReadOnlyList<FrozenTrial>> TrialsAsync(string study)
    {
        await using var storage = StudyStorage.Open(Storage);
        if (await storage.GetStudyAsync(study) is not { } record) return [];
        return (await storage.GetTrialsSinceAsync(record.Id, 0)).Trials.OrderBy(t => t.Number).ToList();
    }

    /// <summary>Every job log of the study folder, for failure messages.</summary>
    public string Logs()
    {
        var logs = Directory.Exists(Dir) ? Directory.GetFiles(Dir, "*.out", SearchOption.AllDirectories) : [];
        return string.Join("\n", logs.Select(f => $"--- {Path.GetFileName(f)}\n{File.ReadAllText(f)}"));
    }

    public async ValueTask DisposeAsync()
    {
        // Nothing a failed test submitted may keep running.
        var active = (await Commands.ShowJobsAsync(JobIds)).Where(j => j.IsActive).Select(j => j.ArrayJobId ?? j.JobId).Distinct().ToList();
        if (active.Count > 0) await Commands.CancelAsync(active);
        await _schema.DisposeAsync();
        _kit.Dispose();
    }
}
