using System.CommandLine;
using Tunesmith.Backends.Slurm;
using Tunesmith.Cli.Internal;
using Tunesmith.Cli.Internal.Progress;
using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Execution.Commands;

namespace Tunesmith.Cli.Commands;

/// <summary><c>tunesmith worker --study NAME --storage URL</c>: joins an existing study (created from a study file) and runs its trials.</summary>
internal sealed class WorkerCommand : Command
{
    private readonly CliConsole _console;
    private readonly TimeProvider _time;
    private readonly Microsoft.Extensions.Logging.ILoggerFactory _loggers;
    private readonly Option<string> _study = CommonOptions.Study();
    private readonly Option<string?> _storage = CommonOptions.Storage();
    private readonly Option<int?> _trials = new("--trials", "-n") { Description = "Run at most N trials in this worker (the study's own budget still holds)", HelpName = "N" };
    private readonly Option<bool> _oneTrial = new("--one-trial") { Description = "Start exactly one new trial, then exit (one trial per cluster job; paused trials a scheduler promotes are continued too)" };
    private readonly Option<string?> _gpus = new("--gpus") { Description = "GPU ids to use, e.g. 0,1 (default: CUDA_VISIBLE_DEVICES, else nvidia-smi -L, else none)", HelpName = "IDS" };
    private readonly Option<double?> _heartbeat = new("--heartbeat") { Description = "Seconds between heartbeats of this worker's running trials (default 10)", HelpName = "SECONDS" };
    private readonly Option<double?> _staleGrace = new("--stale-grace")
    {
        Description = "Seconds without a heartbeat after which this worker fails another worker's running trial as stale and retries it within the study's retries (default: 60, or 6 heartbeats if longer)",
        HelpName = "SECONDS",
    };
    private readonly Option<int> _maxRequeues = new("--max-requeues")
    {
        Description = "Inside a Slurm job: how many times one trial may go back to the queue after a time limit or preemption before it fails",
        DefaultValueFactory = _ => 3,
        HelpName = "N",
    };
    private readonly Option<double?> _signalLead = new("--signal-lead")
    {
        Description = "Inside a Slurm job: stop the trial (to checkpoint and requeue) this many seconds before the job's time limit, read from Slurm, however early its pre-walltime signal comes (default: at the signal)",
        HelpName = "SECONDS",
    };
    private readonly Option<string?> _computeClass = new("--compute-class") { Description = "Inside a Slurm job: the compute class this job belongs to (recorded on its trials)", HelpName = "NAME" };
    private readonly Option<bool> _allowLoginNode = ClusterGuards.AllowLoginNode();
    private readonly Option<bool> _allowSqliteOnNetworkFs = ClusterGuards.AllowSqliteOnNetworkFs();
    private readonly Option<bool> _quiet = CommonOptions.Quiet();
    private readonly Option<string> _logFormat = CommonOptions.LogFormat();

    public WorkerCommand(CliConsole console, TimeProvider time, Microsoft.Extensions.Logging.ILoggerFactory loggers) : base("worker", "Join an existing study and run its trials (on this or another machine)")
    {
        _console = console;
        _time = time;
        _loggers = loggers;
        foreach (var o in new Option[] { _study, _storage, _trials, _oneTrial, _gpus, _heartbeat, _staleGrace, _maxRequeues, _signalLead, _computeClass, _allowLoginNode, _allowSqliteOnNetworkFs, _quiet, _logFormat }) Options.Add(o);
        SetAction(ExecuteAsync);
    }

    private async Task<int> ExecuteAsync(ParseResult parse, CancellationToken ct)
    {
        var name = parse.GetRequiredValue(_study);
        var url = StorageUrl.Resolve(parse.GetValue(_storage), null, _console);
        var cap = parse.GetValue(_oneTrial) ? 1 : parse.GetValue(_trials);
        if (cap is < 1) throw new CliUsageException($"--trials {cap}: must be ≥ 1");
        var heartbeat = Seconds(parse.GetValue(_heartbeat), "--heartbeat");
        var staleGrace = Seconds(parse.GetValue(_staleGrace), "--stale-grace");
        if (staleGrace is { } g && g <= (heartbeat ?? new StudyOptions().HeartbeatInterval))
            throw new CliUsageException($"--stale-grace {g.TotalSeconds}: must be longer than the heartbeat interval ({(heartbeat ?? new StudyOptions().HeartbeatInterval).TotalSeconds} s)");
        var mode = ProgressViews.Choose(parse.GetValue(_quiet), parse.GetValue(_logFormat)!, _console);
        var maxRequeues = parse.GetValue(_maxRequeues);
        if (maxRequeues < 0) throw new CliUsageException($"--max-requeues {maxRequeues}: must be ≥ 0");
        var signalLead = parse.GetValue(_signalLead) switch
        {
            null => (TimeSpan?)null,
            >= 0 and < 86_400 * 365 and var s => TimeSpan.FromSeconds(s),
            var s => throw new CliUsageException($"--signal-lead {s}: must be a number of seconds ≥ 0"),
        };
        ClusterGuards.RefuseLoginNode(parse.GetValue(_allowLoginNode), _console, "tunesmith worker");
        ClusterGuards.RefuseSqliteOnNetworkFs(url, parse.GetValue(_allowSqliteOnNetworkFs));

        // A one-trial job's worker holds no PostgreSQL connection while idle (see docs/SLURM.md): hundreds of array tasks
        // then fit a server's connection limit. The URL's own pool_idle_lifetime / pool_max_size win.
        if (SlurmJobEnvironment.Read(_console.GetEnvironment) is not null && Tunesmith.Storage.Sql.PostgresUrl.IsPostgres(url)
            && !url.Contains("pool_idle_lifetime=", StringComparison.OrdinalIgnoreCase))
            url += (url.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "pool_idle_lifetime=0";

        await using var storage = await StorageScope.OpenExistingAsync(url, _time, _loggers, ct);
        var record = await StorageScope.GetStudyAsync(storage, name, url, ct);
        // The stored file keeps env names, not values (secrets stay out of storage): each comes from this worker's environment.
        var file = (StudyFileRun.ReadStoredToRun(record)
            ?? throw new CliUsageException($"study '{name}' has no stored study file (it was not created by 'tunesmith run' or 'tunesmith create'), so a worker cannot run it"))
            .WithRedactedEnvFrom(_console.GetEnvironment);
        await using var study = await StudyFileRun.OpenAsync(file, storage, new StudyFileOpenOptions
        {
            Create = false,
            SecretsScrubbed = line => _console.Error.WriteLine("tunesmith: " + line),
            HeartbeatInterval = heartbeat,
            StaleGracePeriod = staleGrace,
            TimeProvider = _time,
            LoggerFactory = _loggers,
        }, ct);
        // The study's budget is the one its run or create stored (their --trials), else the file's trials:.
        var runOptions = StudyFileRun.RunOptions(file, StudyFileRun.TrialBudget(file, study.Record), parallel: parse.GetValue(_oneTrial) ? 1 : null) with { MaxTrialsThisRun = cap };
        using var slurmJob = SlurmJobEnvironment.Read(_console.GetEnvironment) is { } job
            ? new SlurmTrialJob(study, new SlurmTrialJobOptions
            {
                Job = job,
                MaxRequeues = maxRequeues,
                SignalLead = signalLead,
                ComputeClass = parse.GetValue(_computeClass),
                Hardware = WorkerHardware.Describe(_console.GetEnvironment),
                TimeProvider = _time,
            })
            : null;
        // A job of a compute class runs the exclusive branch the hardware-aware assignment gives its class (docs/SLURM.md).
        var fixedParams = new Dictionary<string, object?>();
        if (slurmJob is not null && parse.GetValue(_computeClass) is { } cls && file.Slurm is { Classes.Count: > 0 } slurm
            && SlurmBranchChoice.Choose(file.Space, (await study.RefreshAsync(ct)).Trials, slurm.Classes, cls, Random.Shared) is { } choice)
            fixedParams[choice.Name] = choice.Value;
        var pool = await CommandRunSession.PreparePoolAsync(file, parse.GetValue(_gpus), runOptions.Parallel, _console, _time);
        return await CommandRunSession.RunAsync(study, file, url, runOptions, fixedParams, pool, mode, _console, _time, _loggers,
            slurmJob: slurmJob, cancellationToken: ct);
    }

    private static TimeSpan? Seconds(double? value, string option) => value switch
    {
        null => null,
        > 0 and < 86_400 * 365 => TimeSpan.FromSeconds(value.Value),
        _ => throw new CliUsageException($"{option} {value}: must be a positive number of seconds"),
    };
}
