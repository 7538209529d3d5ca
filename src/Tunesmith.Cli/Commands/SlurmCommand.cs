using System.CommandLine;
using System.Globalization;
using Tunesmith.Backends.Slurm;
using Tunesmith.Cli.Internal;
using Tunesmith.Execution;
using Tunesmith.Execution.Commands;
using Tunesmith.Storage;
using Tunesmith.Trials;

namespace Tunesmith.Cli.Commands;

/// <summary><c>tunesmith slurm submit|status|cancel</c>: a study as Slurm job arrays, one trial per job.</summary>
internal sealed class SlurmCommand : Command
{
    public SlurmCommand(CliConsole console, TimeProvider clock, Microsoft.Extensions.Logging.ILoggerFactory loggers) : base("slurm", "Run a study on a Slurm cluster: one trial per job, as job arrays")
    {
        Subcommands.Add(new SlurmSubmitCommand(console, clock, loggers));
        Subcommands.Add(new SlurmStatusCommand(console, clock, loggers));
        Subcommands.Add(new SlurmCancelCommand(console, clock, loggers));
    }
}

/// <summary><c>tunesmith slurm submit STUDY_FILE</c>: writes and submits the study's job arrays.</summary>
internal sealed class SlurmSubmitCommand : Command
{
    private readonly CliConsole _console;
    private readonly TimeProvider _clock;
    private readonly Microsoft.Extensions.Logging.ILoggerFactory _loggers;
    private readonly Argument<string> _file = new("STUDY_FILE") { Description = "The study file (YAML or JSON); its slurm: section gives the defaults" };
    private readonly Option<string?> _storage = CommonOptions.Storage(fromStudyFile: true);
    private readonly Option<int?> _trials = new("--trials", "-n") { Description = "Array tasks (trials) to submit (default: what the study's budget still needs)", HelpName = "N" };
    private readonly Option<int?> _concurrency = new("--concurrency") { Description = "Tasks running at once (--array=...%K)", HelpName = "K" };
    private readonly Option<int?> _gpus = new("--gpus-per-trial") { Description = "GPUs per trial (--gres=gpu:G)", HelpName = "G" };
    private readonly Option<int?> _cpus = new("--cpus-per-trial") { Description = "CPUs per trial (--cpus-per-task)", HelpName = "C" };
    private readonly Option<string?> _mem = new("--mem") { Description = "Memory per trial, e.g. 16G", HelpName = "M" };
    private readonly Option<string?> _time = new("--time") { Description = "Each job's time limit, e.g. 04:00:00 or 1-00:00:00", HelpName = "HH:MM:SS" };
    private readonly Option<string?> _partition = new("--partition") { HelpName = "P", Description = "Slurm partition" };
    private readonly Option<string?> _account = new("--account") { HelpName = "A", Description = "Slurm account" };
    private readonly Option<string?> _qos = new("--qos") { HelpName = "Q", Description = "Slurm QOS" };
    private readonly Option<string?> _constraint = new("--constraint") { HelpName = "C", Description = "Node features (--constraint)" };
    private readonly Option<string?> _setup = new("--setup") { Description = "Shell text run before the worker in each job, e.g. 'module load cuda; source venv/bin/activate'", HelpName = "TEXT" };
    private readonly Option<string[]> _extra = new("--extra-sbatch") { Description = "Another #SBATCH option (repeatable)", HelpName = "OPTION", Arity = ArgumentArity.ZeroOrMore };
    private readonly Option<double?> _signalLead = new("--signal-lead") { Description = "Seconds before the time limit at which the trial is told to checkpoint (default 300)", HelpName = "SECONDS" };
    private readonly Option<int?> _maxRequeues = new("--max-requeues") { Description = "Times one trial may go back to the queue after a time limit or preemption (default 3)", HelpName = "N" };
    private readonly Option<string?> _workerCommand = new("--worker-command") { Description = "How compute nodes start Tunesmith, e.g. /shared/tunesmith (default: this tunesmith)", HelpName = "COMMAND" };
    private readonly Option<bool> _dryRun = new("--dry-run") { Description = "Print the sbatch scripts; submit nothing" };
    private readonly Option<bool> _allowSqlite = ClusterGuards.AllowSqliteOnNetworkFs();

    public SlurmSubmitCommand(CliConsole console, TimeProvider clock, Microsoft.Extensions.Logging.ILoggerFactory loggers) : base("submit", "Write the study's sbatch job arrays (one trial per task) and submit them")
    {
        _console = console;
        _clock = clock;
        _loggers = loggers;
        Arguments.Add(_file);
        foreach (var o in new Option[] { _storage, _trials, _concurrency, _gpus, _cpus, _mem, _time, _partition, _account, _qos, _constraint, _setup, _extra,
            _signalLead, _maxRequeues, _workerCommand, _dryRun, _allowSqlite })
            Options.Add(o);
        SetAction(ExecuteAsync);
    }

    private async Task<int> ExecuteAsync(ParseResult parse, CancellationToken ct)
    {
        var file = StudyFile.Load(parse.GetRequiredValue(_file));
        if (StudyFileRun.CommandSecretWarning(file) is { } secret) _console.Error.WriteLine("tunesmith: warning: " + secret);
        var url = StorageUrl.Resolve(parse.GetValue(_storage), file.ResolvedStorage, _console);
        if (url.StartsWith("memory:", StringComparison.OrdinalIgnoreCase))
            throw new CliUsageException($"storage {url}: Slurm jobs need a storage they all reach, such as postgresql://user:pass@host/db");
        ClusterGuards.RefuseSqliteOnNetworkFs(url, parse.GetValue(_allowSqlite));
        var settings = Override(file.Slurm ?? SlurmSettings.Empty, parse);
        var trials = parse.GetValue(_trials);
        if (trials is < 1) throw new CliUsageException($"--trials {trials}: must be ≥ 1");
        var worker = WorkerCommand(parse.GetValue(_workerCommand));
        var dryRun = parse.GetValue(_dryRun);
        var commands = new SlurmCommands();

        // A dry run reads the storage and writes nothing to it: no tables in an empty database (a mistyped name), no study,
        // no SQLite file (one not there yet holds no study: an empty memory: storage says the same).
        // A storage without Tunesmith studies (no SQLite file, no tables) reads as an empty memory: storage.
        IStudyStorage storage;
        try
        {
            storage = !dryRun ? StorageScope.Open(url, _clock, _loggers)
                : await StorageScope.OpenToReadAsync(url, _clock, _loggers, ct) ?? StorageScope.Open("memory:", _clock, _loggers);
        }
        catch (StudyStorageException e) when (dryRun)
        {
            // A dry run shows the scripts even where the database is out of reach (a laptop): as for a new study.
            _console.Error.WriteLine($"tunesmith: {ErrorLine.OneLine(e.Message)}; showing the scripts for a new study");
            storage = StorageScope.Open("memory:", _clock, _loggers);
        }
        await using var _ = storage;
        StudyRecord? record;
        try { record = await storage.GetStudyAsync(file.Name, ct); }
        catch (StudyStorageException e) when (dryRun)
        {
            // A dry run shows the scripts even where the database is out of reach (a laptop): as for a new study.
            _console.Error.WriteLine($"tunesmith: {ErrorLine.OneLine(e.Message)}; showing the scripts for a new study");
            record = null;
        }
        var tasks = trials ?? await RemainingAsync(file, storage, record, commands, ct);
        if (tasks == 0)
        {
            _console.Error.WriteLine($"study '{file.Name}': its budget of {StudyFileRun.TrialBudget(file, record)} trials is taken (finished, running or queued); nothing to submit");
            return ExitCodes.Ok;
        }
        SlurmLimits limits;
        try { limits = await commands.LimitsAsync(Environment.UserName, ct); }
        catch (SlurmCommandException e) when (dryRun) { limits = SlurmLimits.Default; _console.Error.WriteLine($"tunesmith: {e.Message}; assuming Slurm's default limits"); }

        if (dryRun)
        {
            // A dry run writes nothing: a study not created yet has no id, so its run directory shows as <name>-NEW.
            var runDirectory = record is null ? null : await StudyFileRun.RunDirectoryAsync(file, url, storage, remember: false, ct);
            runDirectory ??= Path.Combine(StudyFileRun.RunsDirectory(file, url), "<new-study-directory>");
            var preview = new SlurmSubmitRequest { Study = file.Name, Tasks = tasks, Settings = settings, WorkerCommand = worker, LogDirectory = Path.Combine(runDirectory, "slurm"), StorageUrl = url, TimeProvider = _clock };
            foreach (var a in SlurmSubmitter.DryRun(preview, limits)) _console.Out.Write(a.Script + "\n");
            return ExitCodes.Ok;
        }
        await using (var study = await StudyFileRun.OpenAsync(file, storage, new StudyFileOpenOptions
            { TimeProvider = _clock, LoggerFactory = _loggers, SecretsScrubbed = line => _console.Error.WriteLine("tunesmith: " + line) }, ct)) { }
        var logDirectory = Path.Combine(await StudyFileRun.RunDirectoryAsync(file, url, storage, cancellationToken: ct)
            ?? throw new InvalidOperationException($"study '{file.Name}' is not in its storage"), "slurm");
        var request = new SlurmSubmitRequest { Study = file.Name, Tasks = tasks, Settings = settings, WorkerCommand = worker, LogDirectory = logDirectory, StorageUrl = url, TimeProvider = _clock };
        var (arrays, deferred) = await SlurmSubmitter.SubmitAsync(request, limits, commands, (job, c) => SlurmStudyJobs.RecordAsync(storage, request.Study, job, c), ct);
        foreach (var a in arrays)
        {
            _console.Out.WriteLine(a.JobId);
            _console.Error.WriteLine($"submitted job {a.JobId}: {a.Tasks} one-trial task{(a.Tasks == 1 ? "" : "s")}" +
                (a.ComputeClass is { } c ? $" of class {c}" : "") + $" (script {a.ScriptPath})");
        }
        if (deferred > 0)
            _console.Error.WriteLine($"tunesmith: {Formats.Count(deferred, "more task")} would pass your MaxSubmitJobs limit; run 'tunesmith slurm submit' again when jobs have finished");
        _console.Error.WriteLine($"logs in {logDirectory}; follow with: tunesmith slurm status --study {SbatchScript.Quote(file.Name)}{StorageUrl.HintFlag(url, _console)}");
        return ExitCodes.Ok;
    }

    // Tasks the budget still needs: the budget less the trials that count (running or finished, retried failures aside),
    // less the study's tasks still pending in Slurm (each will claim a trial).
    private static async Task<int> RemainingAsync(StudyFile file, IStudyStorage storage, StudyRecord? record, SlurmCommands commands, CancellationToken ct)
    {
        if (StudyFileRun.TrialBudget(file, record) is not { } budget)
            throw new CliUsageException($"{file.SourceName}: no trials: budget, so give the number of tasks with --trials N");
        if (record is null) return budget;
        var trials = (await storage.GetTrialsSinceAsync(record.Id, 0, ct)).Trials;
        var counted = trials.Count(t => t.State != TrialState.Waiting && !t.SystemAttributes.ContainsKey(SystemAttributeKeys.RetriedBy));
        var jobs = SlurmStudyJobs.Jobs(record);
        var pending = jobs.Count == 0 ? 0 : await CountPendingTasksAsync(commands, jobs, ct);
        return Math.Max(0, budget - counted - pending);
    }

    // A pending array shows as one line with a task range ("40_[3-7%2]"): count its tasks from squeue, one line per task.
    private static async Task<int> CountPendingTasksAsync(SlurmCommands commands, IReadOnlyList<SlurmStudyJob> jobs, CancellationToken ct)
    {
        var r = await commands.RunAsync("squeue", ["-h", "-r", "-t", "PENDING", "-j", string.Join(',', jobs.Select(j => j.JobId)), "-o", "%i"], null, ct);
        return r.ExitCode == 0 ? r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length : 0;
    }

    private SlurmSettings Override(SlurmSettings settings, ParseResult parse)
    {
        SlurmJobOptions Apply(SlurmJobOptions o, string where)
        {
            if (parse.GetValue(_concurrency) is { } k) o = o with { Concurrency = k };
            if (parse.GetValue(_gpus) is { } g) o = o with { GpusPerTrial = g };
            if (parse.GetValue(_cpus) is { } c) o = o with { CpusPerTrial = c };
            if (parse.GetValue(_mem) is { } m) o = o with { Memory = m };
            if (parse.GetValue(_time) is { } t)
                o = o with { TimeLimit = SlurmJobOptions.ParseTime(t) ?? throw new CliUsageException($"--time '{t}': expected a Slurm time such as 04:00:00, 90 (minutes) or 1-00:00:00") };
            if (parse.GetValue(_partition) is { } p) o = o with { Partition = p };
            if (parse.GetValue(_account) is { } a) o = o with { Account = a };
            if (parse.GetValue(_qos) is { } q) o = o with { Qos = q };
            if (parse.GetValue(_constraint) is { } cn) o = o with { Constraint = cn };
            if (parse.GetValue(_setup) is { } s) o = o with { Setup = s };
            if (parse.GetValue(_extra) is { Length: > 0 } x) o = o with { ExtraSbatch = [.. o.ExtraSbatch, .. x] };
            if (parse.GetValue(_signalLead) is { } lead)
                o = o with { SignalLead = lead is >= 0 and < 86_400 * 365 ? TimeSpan.FromSeconds(lead) : throw new CliUsageException($"--signal-lead {lead}: must be ≥ 0 seconds") };
            if (parse.GetValue(_maxRequeues) is { } mr) o = o with { MaxRequeues = mr };
            try { o.Validate(where); }
            catch (ArgumentException e) { throw new CliUsageException(FlagNamed(e.Message, where, parse)); }
            return o;
        }
        return new SlurmSettings(Apply(settings.Defaults, "slurm"),
            settings.Classes.Select(c => c with { Options = Apply(c.Options, $"slurm.classes.{c.Name}") }).ToList());
    }

    // A bad value given as a flag is named as the flag (--concurrency 0), not as the study file's field it overrides.
    private string FlagNamed(string message, string where, ParseResult parse)
    {
        foreach (var (field, option) in new (string Field, Option Option)[]
        {
            ("concurrency", _concurrency), ("gpus_per_trial", _gpus), ("cpus_per_trial", _cpus), ("mem", _mem), ("time", _time),
            ("signal_lead", _signalLead), ("max_requeues", _maxRequeues),
        })
        {
            var prefix = $"{where}.{field}:";
            if (message.StartsWith(prefix, StringComparison.Ordinal) && parse.GetResult(option) is not null)
                return option.Name + ":" + message[prefix.Length..];
        }
        return message;
    }

    // This very tunesmith, as a compute node on the same shared file system starts it: the published executable, or
    // `dotnet tunesmith.dll` when it runs through the dotnet host.
    private static IReadOnlyList<string> WorkerCommand(string? given)
    {
        if (given is { } g)
        {
            var words = g.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return words.Length > 0 ? words : throw new CliUsageException("--worker-command: empty");
        }
        var process = Environment.ProcessPath ?? throw new CliUsageException("cannot tell how this tunesmith was started; give --worker-command");
        var name = Path.GetFileNameWithoutExtension(process);
        return name == "dotnet" && System.Reflection.Assembly.GetEntryAssembly()?.Location is { Length: > 0 } dll ? [process, dll] : [process];
    }
}

/// <summary><c>tunesmith slurm status --study NAME</c>: the study's jobs and tasks joined with their trials.</summary>
internal sealed class SlurmStatusCommand : Command
{
    private readonly CliConsole _console;
    private readonly TimeProvider _clock;
    private readonly Microsoft.Extensions.Logging.ILoggerFactory _loggers;
    private readonly Option<string> _study = CommonOptions.Study();
    private readonly Option<string?> _storage = CommonOptions.Storage();

    public SlurmStatusCommand(CliConsole console, TimeProvider clock, Microsoft.Extensions.Logging.ILoggerFactory loggers) : base("status", "Show the study's Slurm jobs and array tasks with their trials")
    {
        _console = console;
        _clock = clock;
        _loggers = loggers;
        Options.Add(_study);
        Options.Add(_storage);
        SetAction(ExecuteAsync);
    }

    private async Task<int> ExecuteAsync(ParseResult parse, CancellationToken ct)
    {
        var name = parse.GetRequiredValue(_study);
        var url = StorageUrl.Resolve(parse.GetValue(_storage), null, _console);
        await using var storage = StorageScope.Open(url, _clock, _loggers);
        var record = await StorageScope.GetStudyAsync(storage, name, url, ct);
        var jobs = SlurmStudyJobs.Jobs(record);
        if (jobs.Count == 0)
        {
            _console.Out.WriteLine($"study '{name}' has no Slurm jobs (submit with: tunesmith slurm submit STUDY_FILE)");
            return ExitCodes.Ok;
        }
        var commands = new SlurmCommands();
        var known = (await commands.ShowJobsAsync(jobs.Select(j => j.JobId), ct)).ToList();
        var missing = jobs.Where(j => !known.Any(k => k.ArrayJobId == j.JobId || k.JobId == j.JobId)).Select(j => j.JobId).ToList();
        if (missing.Count > 0) known.AddRange(await commands.AccountingAsync(missing, ct));
        var byDisplay = known.GroupBy(k => k.Display, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Last(), StringComparer.Ordinal);

        foreach (var job in jobs)
        {
            var tasks = known.Where(k => k.ArrayJobId == job.JobId || k.JobId == job.JobId).ToList();
            _console.Out.WriteLine(JobLine(job, tasks.Select(t => t.State)));
        }
        var trials = (await storage.GetTrialsSinceAsync(record.Id, 0, ct)).Trials;
        var rows = new List<string[]> { new[] { "trial", "state", "job", "job state", "node", "class", "resumed", "value", "params" } };
        foreach (var t in trials.Where(t => t.SystemAttributes.ContainsKey(SlurmAttributeKeys.JobId)).OrderBy(t => t.Number))
        {
            var jobId = (string)t.SystemAttributes[SlurmAttributeKeys.JobId]!;
            // "40_2#1" is job 40_2 after its first requeue: Slurm shows it as 40_2.
            var jobState = byDisplay.TryGetValue(jobId.Split('#')[0], out var info) ? info.State.ToLowerInvariant() : "?";
            var state = AttemptState(t);
            var value = t.Value is { } v ? Formats.Value(v) : t.Intermediate.Count > 0 ? Formats.Value(t.Intermediate.MaxBy(kv => kv.Key).Value) + " (last report)" : "";
            rows.Add([t.Number.ToString(CultureInfo.InvariantCulture), state, jobId, jobState,
                t.SystemAttributes.GetValueOrDefault(SlurmAttributeKeys.Node) as string ?? "",
                t.SystemAttributes.GetValueOrDefault(SlurmAttributeKeys.ComputeClass) as string ?? "",
                Convert.ToString(t.SystemAttributes.GetValueOrDefault(SlurmAttributeKeys.Resumptions), CultureInfo.InvariantCulture) ?? "0",
                value, Internal.Progress.RunProgress.FormatParams(t.Params)]);
        }
        var widths = Enumerable.Range(0, rows[0].Length).Select(i => rows.Max(r => r[i].Length)).ToArray();
        foreach (var r in rows) _console.Out.WriteLine(string.Join("  ", r.Select((cell, i) => cell.PadRight(widths[i]))).TrimEnd());
        return ExitCodes.Ok;
    }

    /// <summary>
    /// A trial attempt's state as <c>slurm status</c> shows it. An attempt stopped whose trial went back to the queue reads
    /// by its <c>slurm_stop</c>: "requeued" after a time limit or a preemption (its job was requeued, by the worker or by
    /// Slurm), "returned" after a cancel (the trial went back to Waiting; nothing was requeued by Slurm), not "failed".
    /// </summary>
    internal static string AttemptState(FrozenTrial t)
    {
        if (t.State != TrialState.Failed || !t.SystemAttributes.ContainsKey(SystemAttributeKeys.RetriedBy)) return t.State.ToString().ToLowerInvariant();
        return t.SystemAttributes.GetValueOrDefault(SlurmAttributeKeys.Stop) switch
        {
            "walltime" or "preempted" => "requeued",
            "cancelled" => "returned",
            _ => "failed",
        };
    }

    /// <summary>"job 40 (class fast): 1 task; 1 running": a job's line, from the Slurm states of its tasks.</summary>
    internal static string JobLine(SlurmStudyJob job, IEnumerable<string> taskStates)
    {
        var states = string.Join(", ", taskStates.GroupBy(s => s).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Count()} {g.Key.ToLowerInvariant()}"));
        var tasks = job.Tasks == 1 ? "1 task" : $"{job.Tasks} tasks";
        return $"job {job.JobId}{(job.ComputeClass is { } c ? $" (class {c})" : "")}: {tasks}; {(states.Length > 0 ? states : "no longer known to Slurm")}";
    }
}

/// <summary><c>tunesmith slurm cancel --study NAME [--return-to-queue|--fail]</c>.</summary>
internal sealed class SlurmCancelCommand : Command
{
    private readonly CliConsole _console;
    private readonly TimeProvider _clock;
    private readonly Microsoft.Extensions.Logging.ILoggerFactory _loggers;
    private readonly Option<string> _study = CommonOptions.Study();
    private readonly Option<string?> _storage = CommonOptions.Storage();
    private readonly Option<bool> _returnToQueue = new("--return-to-queue") { Description = "Running trials go back to Waiting, to run again from their checkpoints later (the default)" };
    private readonly Option<bool> _fail = new("--fail") { Description = "Running trials are marked Failed" };

    public SlurmCancelCommand(CliConsole console, TimeProvider clock, Microsoft.Extensions.Logging.ILoggerFactory loggers) : base("cancel", "Cancel the study's Slurm jobs (scancel); their running trials go back to Waiting or fail")
    {
        _console = console;
        _clock = clock;
        _loggers = loggers;
        foreach (var o in new Option[] { _study, _storage, _returnToQueue, _fail }) Options.Add(o);
        SetAction(ExecuteAsync);
    }

    private async Task<int> ExecuteAsync(ParseResult parse, CancellationToken ct)
    {
        if (parse.GetValue(_fail) && parse.GetValue(_returnToQueue)) throw new CliUsageException("--fail and --return-to-queue: choose one");
        var name = parse.GetRequiredValue(_study);
        var url = StorageUrl.Resolve(parse.GetValue(_storage), null, _console);
        await using var storage = StorageScope.Open(url, _clock, _loggers);
        var record = await StorageScope.GetStudyAsync(storage, name, url, ct);
        var commands = new SlurmCommands();
        var jobs = SlurmStudyJobs.Jobs(record);
        var active = (await commands.ShowJobsAsync(jobs.Select(j => j.JobId), ct)).Where(j => j.IsActive)
            .Select(j => j.ArrayJobId ?? j.JobId).Distinct(StringComparer.Ordinal).ToList();
        // The workers read the policy when their job is cancelled: set it first.
        var policy = parse.GetValue(_fail) ? "fail" : "return";
        await storage.SetStudyAttributesAsync(record.Id, system: true, [new(SlurmAttributeKeys.CancelPolicy, policy)], ct);
        if (active.Count == 0)
        {
            _console.Error.WriteLine($"study '{name}': no job of it is pending or running");
            return ExitCodes.Ok;
        }
        await commands.CancelAsync(active, ct);
        _console.Error.WriteLine($"cancelled job{(active.Count == 1 ? "" : "s")} {string.Join(", ", active)}; running trials " +
            (policy == "fail" ? "are marked Failed" : "go back to Waiting (submit again to run them)") + " as their workers stop");
        return ExitCodes.Ok;
    }
}
