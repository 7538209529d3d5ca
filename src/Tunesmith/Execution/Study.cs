using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tunesmith.Backends;
using Tunesmith.Backends.Processes;
using Tunesmith.Samplers;
using Tunesmith.Schedulers;
using Tunesmith.Spaces;
using Tunesmith.Storage;

namespace Tunesmith.Execution;

/// <summary>
/// One optimization: a name, a direction, a sampler, an optional scheduler and its trials in a storage.
/// Run it with <see cref="Optimize"/> (define-by-run objective, N trials concurrently) or drive it by hand with
/// <see cref="Ask"/> and <see cref="Tell(Trial, double)"/>. Several processes may run the same study through a
/// shared storage; budgets and trial numbers hold for the study as a whole.
/// </summary>
public sealed class Study : IAsyncDisposable, IDisposable
{
    private readonly bool _ownsStorage;
    private readonly ILogger _logger;
    private readonly StudyHistory _history;
    private readonly SemaphoreSlim _refreshGate = new(1, 1);
    // Whether asks and finishes read other workers' changes into _history (the sampler needs it, or StudyOptions.KeepHistory).
    private readonly bool _keepsHistory;
    // Held while this study fails lost trials and enqueues their retries (two storage calls per trial): a worker about to end
    // its run waits for it, or it would end between the failure and the retry and leave the retry Waiting, unrun.
    private readonly SemaphoreSlim _recoveryGate = new(1, 1);
    // Set by Stop: the current optimize run starts no more trials. Cleared when a run starts.
    private volatile bool _stopRequested;
    // Enqueued names a finished trial held but its objective never suggested, said once per optimize run.
    private readonly ConcurrentDictionary<string, byte> _unusedNamesSaid = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly TimeSpan _heartbeatInterval;
    private readonly TimeSpan _staleGracePeriod;
    private bool _finiteEnqueued;
    private readonly string? _runDirectoryOption;
    private readonly string _storageUrl;
    private string? _runDirectory;
    private bool _ownsRunDirectory;

    private Study(StudyRecord record, IStudyStorage storage, bool ownsStorage, StudyOptions options)
    {
        Record = record;
        Storage = storage;
        _ownsStorage = ownsStorage;
        Sampler = options.Sampler ?? new RandomSampler();
        Scheduler = options.Scheduler;
        Metric = record.SystemAttributes.TryGetValue(SystemAttributeKeys.Metric, out var m) && m is string ms ? ms : options.Metric;
        _time = options.TimeProvider;
        _heartbeatInterval = options.HeartbeatInterval;
        if (_heartbeatInterval <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(options), options.HeartbeatInterval, "HeartbeatInterval must be positive");
        _staleGracePeriod = options.EffectiveStaleGracePeriod;
        if (_staleGracePeriod <= _heartbeatInterval)
            throw new ArgumentOutOfRangeException(nameof(options), options.StaleGracePeriod,
                $"StaleGracePeriod ({_staleGracePeriod}) must be longer than HeartbeatInterval ({_heartbeatInterval})");
        _logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger<Study>();
        WorkerId = options.WorkerId ?? RunnerIdentity.NewWorkerId();
        _history = new StudyHistory(record.Name, record.Direction);
        _keepsHistory = Sampler.UsesHistory || options.KeepHistory;
        _runDirectoryOption = options.RunDirectory;
        _storageUrl = options.StorageInstance is null ? options.Storage : "";
    }

    /// <summary>The logger of the study's worker (for the trials it runs).</summary>
    internal ILogger Logger => _logger;

    /// <summary>
    /// The run directory of in-process checkpoints (<see cref="StudyOptions.RunDirectory"/>, or its default), created on
    /// first use. The default is named by <see cref="RunDirectories"/>, as command trials' run directories are, and the
    /// name is stored with the study.
    /// </summary>
    internal async Task<string> CheckpointRunDirectoryAsync(CancellationToken cancellationToken)
    {
        lock (_history)
            if (_runDirectory is not null) return _runDirectory;
        string? resolved = null;
        if (_runDirectoryOption is null && Storage is not InMemoryStudyStorage)
            resolved = await RunDirectories.ResolveAsync(DefaultRunsDirectory(), _storageUrl, Storage, Name, cancellationToken: cancellationToken).ConfigureAwait(false);
        return CheckpointRunDirectory(resolved);
    }

    /// <summary>The run directory of in-process checkpoints, as <see cref="CheckpointRunDirectoryAsync"/> finds it, without storing its name.</summary>
    internal string CheckpointRunDirectory() => CheckpointRunDirectory(null);

    private string CheckpointRunDirectory(string? resolved)
    {
        lock (_history)
        {
            if (_runDirectory is not null) return _runDirectory;
            string directory;
            if (_runDirectoryOption is { } given) directory = Path.GetFullPath(given);
            else if (Storage is InMemoryStudyStorage)
            {
                directory = Directory.CreateTempSubdirectory($"tunesmith-{RunDirectories.CleanName(Name)}-").FullName;
                _ownsRunDirectory = true;
            }
            else directory = resolved ?? Path.GetFullPath(Path.Combine(DefaultRunsDirectory(),
                RunDirectories.Choose(DefaultRunsDirectory(), _storageUrl, Storage, Record, _history.Trials)));
            Directory.CreateDirectory(directory);
            return _runDirectory = directory;
        }
    }

    // runs/ beside a SQLite database, else under the current directory.
    private string DefaultRunsDirectory() =>
        Path.Combine(RunDirectories.SqliteDirectory(_storageUrl) ?? Directory.GetCurrentDirectory(), "runs");

    /// <summary>
    /// The study as stored once it was opened, with the metric, sampler and scheduler that opening it recorded. Its id, name
    /// and direction never change; its attributes may change later (<see cref="SetUserAttributeAsync"/>, other workers), and
    /// this snapshot does not follow them: read <see cref="UserAttributes"/> or <see cref="GetRecordAsync"/> for the
    /// attributes as stored now (as Optuna's <c>study.user_attrs</c> reads storage each time).
    /// </summary>
    public StudyRecord Record { get; private set; }

    /// <summary>
    /// The study as stored now, attributes included (one storage read). Throws <see cref="StudyNotFoundException"/> when
    /// the study has been deleted since it was opened.
    /// </summary>
    public async Task<StudyRecord> GetRecordAsync(CancellationToken cancellationToken = default)
    {
        var record = await Storage.GetStudyAsync(Record.Name, cancellationToken).ConfigureAwait(false);
        return record is not null && record.Id == Record.Id ? record : throw new StudyNotFoundException(Record.Name);
    }

    /// <summary>
    /// The study's user attributes as stored now. Each access blocks the calling thread on a storage read (sync over
    /// async): read it once rather than in a loop, and in async code or under a UI synchronization context (where
    /// blocking can deadlock) use <c>(await study.GetRecordAsync()).UserAttributes</c> (see <see cref="GetRecordAsync"/>).
    /// </summary>
    public IReadOnlyDictionary<string, object?> UserAttributes => GetRecordAsync().GetAwaiter().GetResult().UserAttributes;

    /// <summary>The study's name.</summary>
    public string Name => Record.Name;

    /// <summary>Minimize or maximize.</summary>
    public Direction Direction => Record.Direction;

    /// <summary>The objective's name among each trial's metrics.</summary>
    public string Metric { get; }

    /// <summary>The sampler proposing this process's trials.</summary>
    public ISampler Sampler { get; }

    /// <summary>The scheduler consulted on each report, or null.</summary>
    public IScheduler? Scheduler { get; }

    /// <summary>The storage holding the study.</summary>
    public IStudyStorage Storage { get; }

    /// <summary>This process's worker id, recorded on the trials it runs.</summary>
    public string WorkerId { get; }

    // ---------------------------------------------------------------- opening

    /// <summary>Creates a new study; throws <see cref="StudyExistsException"/> when the name is taken.</summary>
    public static Task<Study> CreateAsync(string name, StudyOptions? options = null, CancellationToken cancellationToken = default) =>
        OpenAsync(name, options ?? new(), create: true, load: false, cancellationToken);

    /// <summary>
    /// Loads an existing study; throws <see cref="StudyNotFoundException"/> when there is none. The study keeps the
    /// direction it was created with (<see cref="StudyOptions.Direction"/> is not read).
    /// </summary>
    public static Task<Study> LoadAsync(string name, StudyOptions? options = null, CancellationToken cancellationToken = default) =>
        OpenAsync(name, options ?? new(), create: false, load: true, cancellationToken);

    /// <summary>
    /// Loads the study when it exists, else creates it (safe when several processes do it at once). An existing study
    /// stored with the other direction throws <see cref="StudyDirectionMismatchException"/> rather than quietly
    /// optimizing the wrong way; <see cref="LoadAsync"/> opens a study with whatever direction it has.
    /// </summary>
    public static Task<Study> CreateOrLoadAsync(string name, StudyOptions? options = null, CancellationToken cancellationToken = default) =>
        OpenAsync(name, options ?? new(), create: true, load: true, cancellationToken);

    /// <summary>
    /// Creates a new study (in <c>memory:</c> unless <paramref name="storage"/> names a database); throws
    /// <see cref="StudyExistsException"/> when the name is taken. Dispose it (<c>using var study = ...</c>) to close its storage.
    /// </summary>
    public static Study Create(string name, Direction direction = Direction.Minimize, ISampler? sampler = null,
        IScheduler? scheduler = null, string storage = "memory:") =>
        CreateAsync(name, new StudyOptions { Direction = direction, Sampler = sampler, Scheduler = scheduler, Storage = storage }).GetAwaiter().GetResult();

    /// <summary>Loads an existing study; see <see cref="LoadAsync"/>.</summary>
    public static Study Load(string name, string storage, ISampler? sampler = null, IScheduler? scheduler = null) =>
        LoadAsync(name, new StudyOptions { Sampler = sampler, Scheduler = scheduler, Storage = storage }).GetAwaiter().GetResult();

    /// <summary>Loads the study when it exists, else creates it; see <see cref="CreateOrLoadAsync"/>.</summary>
    public static Study CreateOrLoad(string name, Direction direction = Direction.Minimize, ISampler? sampler = null,
        IScheduler? scheduler = null, string storage = "memory:") =>
        CreateOrLoadAsync(name, new StudyOptions { Direction = direction, Sampler = sampler, Scheduler = scheduler, Storage = storage }).GetAwaiter().GetResult();

    private static async Task<Study> OpenAsync(string name, StudyOptions options, bool create, bool load, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("a study name must not be empty", nameof(name));
        var owns = options.StorageInstance is null;
        var storage = options.StorageInstance ?? StudyStorage.Open(options.Storage, options.TimeProvider, options.LoggerFactory);
        try
        {
            StudyRecord? record = null;
            var created = false;
            if (load) record = await storage.GetStudyAsync(name, ct).ConfigureAwait(false);
            if (record is null && !create) throw await NotFoundAsync(name, storage, options, ct).ConfigureAwait(false);
            if (record is null)
            {
                try
                {
                    try { record = await storage.CreateStudyAsync(name, options.Direction, ct).ConfigureAwait(false); }
                    catch (StudyExistsException) when (!load)
                    {
                        throw new StudyExistsException(name, $"study '{name}' already exists in {Where(options)}: open it with Study.LoadAsync, " +
                            "or Study.CreateOrLoadAsync (Optuna's load_if_exists), or choose another name");
                    }
                    created = true;
                    await storage.SetStudyAttributesAsync(record.Id, system: true,
                        [new(SystemAttributeKeys.Metric, options.Metric)], ct).ConfigureAwait(false);
                }
                catch (StudyExistsException) when (load)
                {
                    // Another process created it between our read and our insert.
                    record = await storage.GetStudyAsync(name, ct).ConfigureAwait(false) ?? throw new StudyNotFoundException(name);
                }
            }
            if (create && !created && record.Direction != options.Direction)
                throw new StudyDirectionMismatchException(name, record.Direction, options.Direction);
            var study = new Study(record, storage, owns, options);
            if (options.Sampler is not null)
                await storage.SetStudyAttributesAsync(record.Id, system: true, [new(SystemAttributeKeys.Sampler, study.Sampler.Name)], ct).ConfigureAwait(false);
            if (options.Scheduler is not null)
                await storage.SetStudyAttributesAsync(record.Id, system: true, [new(SystemAttributeKeys.Scheduler, options.Scheduler.Name)], ct).ConfigureAwait(false);
            // Read once more, so that Record holds what this open stored (the metric of a new study, the sampler's name).
            if (created || options.Sampler is not null || options.Scheduler is not null)
                study.Record = await study.GetRecordAsync(ct).ConfigureAwait(false);
            return study;
        }
        catch
        {
            if (owns) await storage.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    // Where the study was looked for, as the messages name it (a PostgreSQL password shown as ***).
    private static string Where(StudyOptions options) =>
        options.StorageInstance is not null ? "the given storage" : Tunesmith.Storage.Sql.PostgresUrl.Redact(options.Storage);

    // "study 'x' does not exist in sqlite:///a.db (its studies: a, b) (did you mean 'b'?): ...": where, what is there, what to do.
    private static async Task<StudyNotFoundException> NotFoundAsync(string name, IStudyStorage storage, StudyOptions options, CancellationToken ct)
    {
        var names = (await storage.ListStudiesAsync(ct).ConfigureAwait(false)).Select(s => s.Study.Name).Order(StringComparer.Ordinal).ToList();
        var there = names.Count == 0 ? " (it holds no study)"
            : $" (its studies: {string.Join(", ", names.Take(10))}{(names.Count > 10 ? $", and {names.Count - 10} more" : "")})"
              + Spaces.Spec.ClosestName.Suggest(name, names);
        return new StudyNotFoundException(name, $"study '{name}' does not exist in {Where(options)}{there}: " +
            "Study.CreateAsync or Study.CreateOrLoadAsync creates it");
    }

    // ---------------------------------------------------------------- history

    /// <summary>Reads what changed in storage since the last read and returns the up-to-date history.</summary>
    public async Task<StudyHistory> RefreshAsync(CancellationToken cancellationToken = default)
    {
        await _refreshGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var changes = await Storage.GetTrialsSinceAsync(Record.Id, _history.Cursor, cancellationToken).ConfigureAwait(false);
            _history.Apply(changes);
            return _history;
        }
        finally { _refreshGate.Release(); }
    }

    /// <summary>
    /// The study's trials that are done and count toward a trial budget (Complete, Pruned, Paused, Failed and not
    /// retried), all workers', as this process last read them: its asks and finishes bring other workers' changes in the
    /// same storage call when it keeps a history (a sampler that reads it, or <see cref="StudyOptions.KeepHistory"/>);
    /// otherwise only what <see cref="RefreshAsync"/> last read. Costs no storage call.
    /// </summary>
    public int DoneTrialCount => _history.DoneCount;

    /// <summary>
    /// The study's best Complete trial, every worker's, as this process last read them (see <see cref="DoneTrialCount"/>);
    /// costs no storage call (a pass over the trials in memory).
    /// </summary>
    public FrozenTrial? KnownBestTrial => _history.Best;

    /// <summary>
    /// Every trial of the study, by number, as stored now. Each access blocks the calling thread on a storage read of what
    /// changed (sync over async): read it once into a variable rather than in a loop, and in async code or under a UI
    /// synchronization context (where blocking can deadlock) use <see cref="GetTrialsAsync"/>.
    /// </summary>
    public IReadOnlyList<FrozenTrial> Trials => RefreshAsync().GetAwaiter().GetResult().Trials;

    /// <summary>
    /// The best Complete trial, or null when none has completed. Each access blocks the calling thread on a storage read
    /// (sync over async), as <see cref="Trials"/> does: in async code or under a UI synchronization context use
    /// <see cref="GetBestTrialAsync"/>; <see cref="KnownBestTrial"/> costs no storage call.
    /// </summary>
    public FrozenTrial? BestTrial => RefreshAsync().GetAwaiter().GetResult().Best;

    /// <summary>The best Complete trial, or null.</summary>
    public async Task<FrozenTrial?> GetBestTrialAsync(CancellationToken cancellationToken = default) =>
        (await RefreshAsync(cancellationToken).ConfigureAwait(false)).Best;

    /// <summary>Every trial of the study, by number.</summary>
    public async Task<IReadOnlyList<FrozenTrial>> GetTrialsAsync(CancellationToken cancellationToken = default) =>
        (await RefreshAsync(cancellationToken).ConfigureAwait(false)).Trials;

    /// <summary>Sets a user attribute on the study (a string, number, boolean or null; anything else throws <see cref="ArgumentException"/> naming the key).</summary>
    public Task SetUserAttributeAsync(string key, object? value, CancellationToken cancellationToken = default) =>
        Storage.SetStudyAttributesAsync(Record.Id, system: false, [new(key, Trial.AttributeValue(key, value))], cancellationToken);

    // ---------------------------------------------------------------- enqueue / ask / tell

    /// <summary>
    /// Enqueues a trial that will run before any sampled one, with exactly these params (others it suggests are sampled).
    /// Each value must be a string, a finite number, a boolean or null, else <see cref="ArgumentException"/> names the parameter.
    /// A value the objective never suggests is not a param of the trial once it completes or is pruned (as in Optuna); the
    /// enqueued values are then kept in the system attribute <see cref="SystemAttributeKeys.FixedParams"/>, and the study's logger
    /// warns once per optimize run for each such name (a typo such as <c>lrr</c> for <c>lr</c> is otherwise silent). A trial that
    /// fails keeps them as params, so that its retry runs with them.
    /// </summary>
    public Task<FrozenTrial> EnqueueAsync(IReadOnlyDictionary<string, object?> parameters, CancellationToken cancellationToken = default) =>
        Storage.EnqueueTrialAsync(Record.Id, EnqueueValues(parameters), null, cancellationToken);

    // The values as stored; a value no distribution can hold (NaN, an object) would be stored and fail its trial only when it runs.
    private static Dictionary<string, object?> EnqueueValues(IReadOnlyDictionary<string, object?> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var values = new Dictionary<string, object?>(parameters.Count, StringComparer.Ordinal);
        foreach (var (name, raw) in parameters)
        {
            var value = ParamValues.Normalize(raw);
            if (value is not (null or string or long or bool) && !(value is double d && double.IsFinite(d)))
                throw new ArgumentException($"parameter '{name}': an enqueued value must be a string, a finite number, a boolean or null, got {ParamValues.Format(raw)}", nameof(parameters));
            values[name] = value;
        }
        return values;
    }

    /// <summary>
    /// <see cref="EnqueueAsync(IReadOnlyDictionary{string, object?}, CancellationToken)"/> unless a trial of the study already
    /// holds these values (<see cref="HeldCombinations"/>: waiting, running, paused or finished, failed included), as
    /// Optuna's <c>enqueue_trial(skip_if_exists=True)</c>; returns the new trial, or null when one holds them. With
    /// <paramref name="retryFailed"/>, a combination that only failed trials hold is enqueued again. The check and the
    /// enqueue are one transaction: processes enqueueing the same values at the same moment add them once.
    /// </summary>
    public async Task<FrozenTrial?> EnqueueIfNewAsync(IReadOnlyDictionary<string, object?> parameters, bool retryFailed = false, CancellationToken cancellationToken = default)
    {
        var result = (await EnqueueAllIfNewAsync([parameters], retryFailed, cancellationToken).ConfigureAwait(false))[0];
        return result.Enqueued ? result.Trial : null;
    }

    /// <summary>
    /// Enqueues each combination, in order, unless a trial of the study already holds it or an earlier one of the list is
    /// the same (see <see cref="EnqueueIfNewAsync"/>), all in one transaction: a failure enqueues none of them, and
    /// concurrent callers add each combination once. Returns one result per combination: the new trial (with
    /// <paramref name="retryFailed"/>, also the failed trial that held it before), or the one that holds it.
    /// </summary>
    public Task<IReadOnlyList<EnqueueIfNewResult>> EnqueueAllIfNewAsync(IReadOnlyList<IReadOnlyDictionary<string, object?>> combinations, bool retryFailed = false,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(combinations);
        IReadOnlyList<IReadOnlyDictionary<string, object?>> values = combinations.Select(EnqueueValues).ToList();
        return Storage.EnqueueTrialsIfNewAsync(Record.Id, values, failedHolds: !retryFailed, cancellationToken);
    }

    /// <summary>Enqueues a trial with fixed params.</summary>
    public FrozenTrial Enqueue(IReadOnlyDictionary<string, object?> parameters) => EnqueueAsync(parameters).GetAwaiter().GetResult();

    /// <summary>Starts a new trial (an enqueued one first) and returns it for the caller to evaluate and <see cref="Tell(Trial, double)"/>.</summary>
    public Trial Ask() => AskAsync().GetAwaiter().GetResult();

    /// <inheritdoc cref="Ask"/>
    public async Task<Trial> AskAsync(CancellationToken cancellationToken = default) =>
        await AskCoreAsync(maxTrials: null, cancellationToken, CancellationToken.None).ConfigureAwait(false)
        ?? throw new InvalidOperationException($"study '{Name}': every configuration of sampler '{Sampler.Name}' has run");

    /// <summary>Starts a trial, or returns null when the budget is reached or a finite sampler is exhausted.</summary>
    internal async Task<Trial?> AskCoreAsync(int? maxTrials, CancellationToken cancellationToken, CancellationToken trialToken)
    {
        await EnqueueFiniteSpaceAsync(cancellationToken).ConfigureAwait(false);
        FrozenTrial? started;
        if (_keepsHistory)
        {
            // The start and the history read in one call (one round trip on PostgreSQL).
            (started, var changes) = await Storage.StartTrialAndReadChangesAsync(Record.Id, WorkerId, _history.Cursor, maxTrials,
                waitingOnly: Sampler is IFiniteSampler, cancellationToken).ConfigureAwait(false);
            _history.Apply(changes);
        }
        else started = await Storage.StartTrialAsync(Record.Id, WorkerId, maxTrials, waitingOnly: Sampler is IFiniteSampler, cancellationToken).ConfigureAwait(false);
        return started is null ? null : Propose(started, trialToken);
    }

    /// <summary>
    /// Asks the scheduler whether to resume a paused trial instead of starting a new one, and resumes it (storage lets one
    /// worker win when several pick the same trial; the others ask again). Null: start a new trial. With
    /// <paramref name="finishing"/> (no new trial may start, none runs) it asks <see cref="IScheduler.SuggestFinish"/>.
    /// </summary>
    internal async Task<Trial?> ResumeCoreAsync(CancellationToken cancellationToken, CancellationToken trialToken, bool finishing = false)
    {
        if (Scheduler is not { } scheduler) return null;
        for (var attempt = 0; attempt < 8; attempt++)
        {
            var history = await RefreshAsync(cancellationToken).ConfigureAwait(false);
            var suggestion = finishing ? scheduler.SuggestFinish(history) : scheduler.SuggestStart(history);
            if (suggestion is not StartSuggestion.Resume resume) return null;
            var paused = history.Trials.FirstOrDefault(t => t.Number == resume.TrialNumber && t.State == TrialState.Paused);
            if (paused is null) continue;
            var resumed = await Storage.ResumeTrialAsync(paused.Id, WorkerId, cancellationToken).ConfigureAwait(false);
            if (resumed is null) continue; // another worker resumed it first
            _history.Upsert(resumed);
            // Its params are all in storage: the sampler proposes nothing (and remembers nothing) for it.
            var context = new SamplingContext(history, resumed, TrialRandom.Create(Sampler.Seed, resumed.Number));
            var trial = new Trial(this, resumed, context, new Dictionary<string, Distribution>(), new Dictionary<string, object?>(), trialToken);
            // From the trial as storage resumed it: the history the scheduler read may hold an older pause of it (it was
            // resumed and paused again by another worker since), and a trial continues after its last recorded step.
            var fromStep = resumed.LastIntermediate?.Step ?? resume.FromStep;
            trial.SetSystemAttribute(SystemAttributeKeys.ResumeStep, fromStep);
            _logger.LogInformation("Trial {Number} resumed after step {Step}", resumed.Number, fromStep);
            trial.IsResumed = true;
            return trial;
        }
        return null;
    }

    /// <summary>A finite sampler's configurations are enqueued once per study (by whichever worker comes first).</summary>
    private async Task EnqueueFiniteSpaceAsync(CancellationToken cancellationToken)
    {
        if (Sampler is not IFiniteSampler finite || _finiteEnqueued) return;
        await Storage.EnqueueTrialsOnceAsync(Record.Id, finite.EnumerationKey, finite.EnumerateConfigurations(), cancellationToken).ConfigureAwait(false);
        _finiteEnqueued = true;
    }

    /// <summary>The sampler's joint proposal for a started trial, from the history as this process knows it now.</summary>
    private Trial Propose(FrozenTrial started, CancellationToken trialToken)
    {
        var history = _history;
        var context = new SamplingContext(history, started, TrialRandom.Create(Sampler.Seed, started.Number));
        IReadOnlyDictionary<string, Distribution> space = Sampler.InferRelativeSearchSpace(context);
        IReadOnlyDictionary<string, object?> relative = space.Count == 0 ? new Dictionary<string, object?>() : Sampler.SampleRelative(context, space);
        var trial = new Trial(this, started, context, space, relative, trialToken);
        // The retry of a crashed in-process trial continues from the attempt's last checkpoint, as a promoted trial does
        // from its own: the objective sees Checkpoint and ResumeStep, and the reports after that step are made again.
        if (started.SystemAttributes.ContainsKey(SystemAttributeKeys.RetryOf) && trial.Checkpoint is { } inherited)
            trial.SetSystemAttribute(SystemAttributeKeys.ResumeStep, inherited.Step);
        return trial;
    }

    /// <summary>Finishes a trial as Complete with its objective value (NaN or ∞ records it as Failed).</summary>
    public FrozenTrial Tell(Trial trial, double value) => TellAsync(trial, value).GetAwaiter().GetResult();

    /// <summary>
    /// Finishes a trial as Complete with a whole-number objective value. An integer argument means a value, never a state:
    /// without this overload C# would find <c>Tell(trial, 0)</c> ambiguous, since a constant 0 also converts to <see cref="TrialState"/>.
    /// </summary>
    public FrozenTrial Tell(Trial trial, int value) => Tell(trial, (double)value);

    /// <inheritdoc cref="Tell(Trial, int)"/>
    public FrozenTrial Tell(Trial trial, long value) => Tell(trial, (double)value);

    /// <summary>
    /// Finishes a trial in the given state (Pruned or Failed), with an optional failure reason. A Pruned trial keeps its
    /// last reported value as its value, as <see cref="Optimize"/> records one its scheduler stopped.
    /// </summary>
    public FrozenTrial Tell(Trial trial, TrialState state, string? reason = null) => TellAsync(trial, state, reason).GetAwaiter().GetResult();

    /// <inheritdoc cref="Tell(Trial, double)"/>
    public Task<FrozenTrial> TellAsync(Trial trial, double value, CancellationToken cancellationToken = default) =>
        TellAsync(trial, new Dictionary<string, double> { [Metric] = value }, cancellationToken);

    /// <inheritdoc cref="Tell(Trial, int)"/>
    public Task<FrozenTrial> TellAsync(Trial trial, int value, CancellationToken cancellationToken = default) =>
        TellAsync(trial, (double)value, cancellationToken);

    /// <inheritdoc cref="Tell(Trial, int)"/>
    public Task<FrozenTrial> TellAsync(Trial trial, long value, CancellationToken cancellationToken = default) =>
        TellAsync(trial, (double)value, cancellationToken);

    /// <summary>Finishes a trial as Complete with several named metrics; the study's <see cref="Metric"/> among them is the objective.</summary>
    public async Task<FrozenTrial> TellAsync(Trial trial, IReadOnlyDictionary<string, double> metrics, CancellationToken cancellationToken = default) =>
        (await FinishAsync(trial, metrics, next: null, cancellationToken).ConfigureAwait(false)).Finished;

    /// <inheritdoc cref="Tell(Trial, TrialState, string?)"/>
    public async Task<FrozenTrial> TellAsync(Trial trial, TrialState state, string? reason = null, CancellationToken cancellationToken = default)
    {
        if (state is not (TrialState.Pruned or TrialState.Failed))
            throw new ArgumentException($"a trial can be told Pruned or Failed without a value, not {state}", nameof(state));
        return (await FinishAsync(trial, state, state == TrialState.Pruned ? trial.LastIntermediate?.Value : null, reason, next: null, cancellationToken).ConfigureAwait(false)).Finished;
    }

    /// <summary>What <see cref="OptimizeAsync"/>'s loop asks for when it finishes a trial: the start of its next one in the same storage call.</summary>
    private sealed record NextTrialRequest(int? MaxTrials, CancellationToken TrialToken);

    /// <summary>
    /// A finished trial as told, the storage's outcome (refused when the trial failed as stale meanwhile, or was told by
    /// another worker), and the next trial when one was asked for and the budget allowed it.
    /// </summary>
    private readonly record struct FinishResult(FrozenTrial Told, TrialWriteOutcome Outcome, Trial? Next)
    {
        /// <summary>The finished trial; throws <see cref="TrialWriteRefusedException"/> when storage refused it.</summary>
        public FrozenTrial Finished => Outcome == TrialWriteOutcome.Applied ? Told : throw new TrialWriteRefusedException(Told.Number, Outcome);
    }

    private Task<FinishResult> FinishAsync(Trial trial, IReadOnlyDictionary<string, double> metrics, NextTrialRequest? next, CancellationToken ct)
    {
        if (!metrics.TryGetValue(Metric, out var value))
            return FinishAsync(trial, TrialState.Failed, null, $"the result has no metric '{Metric}' (got: {string.Join(", ", metrics.Keys)})", next, ct);
        foreach (var (k, v) in metrics) trial.SetMetric(k, v);
        if (!double.IsFinite(value))
            return FinishAsync(trial, TrialState.Failed, null, $"the objective returned {value.ToString(CultureInfo.InvariantCulture)}", next, ct);
        return FinishAsync(trial, TrialState.Complete, value, null, next, ct);
    }

    private async Task<FinishResult> FinishAsync(Trial trial, TrialState state, double? value, string? reason, NextTrialRequest? next, CancellationToken ct)
    {
        if (trial.IsFinished) throw new InvalidOperationException($"trial {trial.Number} has already been told");
        if (reason is not null) trial.SetSystemAttribute(SystemAttributeKeys.FailReason, reason);
        // Enqueued values the objective never asked for are no params of a finished trial; they are kept as fixed_params.
        var unused = state is TrialState.Complete or TrialState.Pruned ? trial.UnusedFixedParams() : [];
        if (unused.Count > 0) trial.SetSystemAttribute(SystemAttributeKeys.FixedParams, ParamValues.ToJson(trial.FixedParams()));
        foreach (var name in unused)
            if (_unusedNamesSaid.TryAdd(name, 0)) // a typo in an enqueued name is said once per run, not once per trial
                _logger.LogWarning("Trial {Number}: enqueued parameter '{Name}' was never suggested by the objective; its value was not used (kept in fixed_params){Closest}",
                    trial.Number, name, Spaces.Spec.ClosestName.Suggest(name, trial.Params.Keys));
        var update = trial.TakePending() with { FinalState = state, Value = value, RemovedParams = unused };
        TrialWriteOutcome outcome;
        FrozenTrial? started = null;
        if (next is null) outcome = await Storage.UpdateTrialAsync(trial.Id, WorkerId, update, ct).ConfigureAwait(false);
        else
        {
            await EnqueueFiniteSpaceAsync(ct).ConfigureAwait(false);
            (outcome, started, var changes) = await Storage.UpdateTrialAndStartNextAsync(trial.Id, update, Record.Id, WorkerId,
                _keepsHistory ? _history.Cursor : null, next.MaxTrials, waitingOnly: Sampler is IFiniteSampler, ct).ConfigureAwait(false);
            if (changes is not null) _history.Apply(changes); // before this trial's own snapshot, which they may predate
        }
        trial.IsFinished = true;
        // Known without reading it back (a round trip per trial on PostgreSQL); the next history read brings the stored row.
        var frozen = trial.ToFrozen(state, value, _time.GetUtcNow());
        if (unused.Count > 0) frozen = frozen with { Params = frozen.Params.Where(kv => !unused.Contains(kv.Key)).ToDictionary(StringComparer.Ordinal) };
        // Kept for the sampler's next proposal; a sampler that never reads the history would only make it hold a second
        // copy of every trial (reads of the history go through storage, which brings the stored row anyway).
        if (outcome == TrialWriteOutcome.Applied && _keepsHistory) _history.Upsert(frozen);
        return new FinishResult(frozen, outcome, started is null ? null : Propose(started, next!.TrialToken));
    }

    // ---------------------------------------------------------------- optimize

    /// <summary>
    /// Ends this object's current <see cref="OptimizeAsync"/> run the way Optuna's <c>study.stop()</c> does: no trial starts
    /// after the call, the trials already running finish and are stored, and the run returns normally (no exception). Call
    /// it from a callback (<see cref="OptimizeOptions.Callbacks"/>: stop once a target value is reached) or from the
    /// objective (<c>trial.Study.Stop()</c>). Cancelling the run's token instead stops the running trials too (recorded
    /// Failed "interrupted") and throws <see cref="OperationCanceledException"/>. Without a scheduler a worker starts its
    /// next trial together with storing the last one, before the callbacks run; a trial started that way never runs and
    /// goes back to the queue, as if never started (Waiting, with no params but the ones it was enqueued with, taking no
    /// place of the trial budget): a callback that stops after trial <c>k</c> leaves trials 0 to <c>k</c> finished and
    /// trial <c>k + 1</c> Waiting (with a parallelism above 1, each worker's next trial, one possibly numbered below <c>k</c>), nothing Failed, and the next run starts with trial <c>k + 1</c>, so a rerun reaches
    /// <see cref="OptimizeOptions.Trials"/> with no trial lost or counted twice. Other processes running the study go on
    /// (and may take that trial); the next run of this object starts afresh. A call outside a run does nothing.
    /// </summary>
    public void Stop() => _stopRequested = true;

    /// <summary>
    /// The study's first Complete trial (by number) whose value reaches <paramref name="goal"/> (≥ when maximizing, ≤ when
    /// minimizing), every worker's, read from storage; null when none does. See <see cref="OptimizeOptions.Goal"/>.
    /// </summary>
    public async Task<FrozenTrial?> GetGoalTrialAsync(double goal, CancellationToken cancellationToken = default)
    {
        var trials = (await RefreshAsync(cancellationToken).ConfigureAwait(false)).Trials;
        return trials.Where(t => t is { State: TrialState.Complete, Value: { } v } && ReachesGoal(v, goal)).MinBy(t => t.Number);
    }

    /// <summary>
    /// The study's failed trials that count toward <see cref="OptimizeOptions.MaxFailedTrials"/>, every worker's, read from
    /// storage: Failed, not retried and not "interrupted", in the order of their numbers.
    /// </summary>
    public async Task<IReadOnlyList<FrozenTrial>> GetCountedFailuresAsync(CancellationToken cancellationToken = default)
    {
        var trials = (await RefreshAsync(cancellationToken).ConfigureAwait(false)).Trials;
        return trials.Where(CountsAsFailure).OrderBy(t => t.Number).ToList();
    }

    private static bool CountsAsFailure(FrozenTrial t) =>
        t.State == TrialState.Failed && t.FailReason != InterruptedReason && !t.SystemAttributes.ContainsKey(SystemAttributeKeys.RetriedBy);

    private bool ReachesGoal(double value, double goal) => Direction == Direction.Maximize ? value >= goal : value <= goal;

    // Whether the study's state in storage (all workers) says no trial may start: its goal is reached, or its failed-trial
    // limit. Read only when one of them is set.
    private async Task<bool> StudyEndedAsync(OptimizeOptions options, CancellationToken ct)
    {
        if (options.Goal is null && options.MaxFailedTrials is null) return false;
        if (options.Goal is { } goal && await GetGoalTrialAsync(goal, ct).ConfigureAwait(false) is { } reached)
        {
            _logger.LogInformation("study '{Study}' reached its goal {Goal} with trial {Number} ({Value}); no trial starts", Name, goal, reached.Number, reached.Value);
            return true;
        }
        if (options.MaxFailedTrials is { } max && (await GetCountedFailuresAsync(ct).ConfigureAwait(false)).Count is var failed && failed >= max)
        {
            _logger.LogWarning("study '{Study}' has {Failed} failed trials, its limit is {Max}; no trial starts", Name, failed, max);
            return true;
        }
        return false;
    }

    /// <summary>
    /// Runs trials of a synchronous objective until the study's budget (trials, timeout) is reached or the token is cancelled.
    /// An exception in the objective records the trial as Failed with its message (and is rethrown with <c>failFast</c>);
    /// NaN or ∞ records it as Failed; <see cref="TrialPrunedException"/> records it as Pruned. Storage faults that are
    /// transient (a dropped connection, a restarting server, a busy SQLite file) are retried by the storage; any other
    /// error that escapes the loop (a <see cref="StudyStorageException"/>, a callback's exception) ends the whole run at
    /// once, as fail-fast does: no trial starts after it, the trials still running are recorded Failed "interrupted", and
    /// the error is rethrown. A trial whose result could not be stored stays Running: crash recovery fails and retries it.
    /// Two faults of the objective are not the trial's own and end the run the same way, the trial recorded Failed
    /// "interrupted" (the storage permitting): a <see cref="StudyStorageException"/> (a report the storage refused, a
    /// full disk) and a <see cref="TrialDirectoryException"/> (a command trial's directory that cannot be prepared).
    /// </summary>
    public void Optimize(Func<Trial, double> objective, int? trials = null, int parallelism = 1, TimeSpan? timeout = null,
        CancellationToken cancellationToken = default, bool failFast = false, IReadOnlyList<Action<Study, FrozenTrial>>? callbacks = null) =>
        OptimizeAsync((t, _) => Task.Run(() => objective(t), CancellationToken.None),
            new OptimizeOptions { Trials = trials, Parallelism = parallelism, Timeout = timeout, FailFast = failFast, Callbacks = callbacks ?? [] },
            cancellationToken).GetAwaiter().GetResult();

    /// <summary>Runs trials of an asynchronous objective; see <see cref="Optimize"/>.</summary>
    public async Task OptimizeAsync(Func<Trial, CancellationToken, Task<double>> objective, OptimizeOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new OptimizeOptions();
        options.Validate();
        _stopRequested = false;
        _unusedNamesSaid.Clear();
        var deadline = options.Timeout is { } timeout ? await AgreeDeadlineAsync(timeout, cancellationToken).ConfigureAwait(false) : (DateTimeOffset?)null;

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // Running objectives see the caller's token, also cancelled by fail-fast so that the trials still running stop
        // (recorded Failed "interrupted") instead of running on after the study has failed.
        using var trialStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var running = new ConcurrentDictionary<long, byte>();
        Exception? failure = null;
        using var heartbeatStop = new CancellationTokenSource();
        // Trials left Running by a runner of this machine that died (kill -9, the OOM killer) are failed and retried at
        // once, before this run's first trial, so they run again in their own directories rather than wait out the grace.
        if (Storage is not InMemoryStudyStorage)
            await RecoverLostTrialsAsync(options, stop.Token).ConfigureAwait(false);
        var heartbeat = HeartbeatLoopAsync(running, options, heartbeatStop.Token);

        // Trials this run started, against its own cap: a place is taken before each ask and given back when the ask
        // resumed a paused trial instead, since a promotion continues a trial that some run already started.
        var startedHere = 0;
        // Trials this run ran (new, enqueued or resumed): none at all, and the budget spent, is said at the end.
        var ranHere = 0;
        // Set once the study's goal or failed-trial limit is found reached (OptimizeOptions.Goal, MaxFailedTrials): no
        // trial starts after it, as after Stop().
        var studyEnded = false;
        // Whether this run may start another trial now: not cancelled, within the time budget and this run's own cap.
        bool MayStartAnother() =>
            !stop.IsCancellationRequested && !_stopRequested && !Volatile.Read(ref studyEnded)
            && !(deadline is { } d && _time.GetUtcNow() >= d)
            && !(options.MaxTrialsThisRun is { } cap && Interlocked.Increment(ref startedHere) > cap);
        // A trial that ends well (or fails with nothing to retry or to stop for) is finished together with the start
        // of the loop's next trial: one storage call between two trials.
        // With a scheduler the next trial is not started with the finish: a paused trial may have to be resumed first.
        NextTrialRequest? NextAfter(TrialState state, Exception? error) =>
            Scheduler is not null || (error is not null && (options.FailFast || options.MaxFailedTrials is not null)) || (state == TrialState.Failed && options.Retries > 0)
            // A Complete trial may reach the goal: the next trial waits for the check, rather than start and go back unrun.
            || (state == TrialState.Complete && options.Goal is not null) || !MayStartAnother()
                ? null
                : new NextTrialRequest(options.Trials, trialStop.Token);

        async Task WorkerLoopAsync()
        {
            // What this worker took before starting its trial (OptimizeOptions.HoldBeforeStart): given back when the trial
            // ends, unless the finish started the worker's next trial, which keeps it.
            IDisposable? held = null;
            void GiveBack()
            {
                held?.Dispose();
                held = null;
            }
            try { await LoopAsync().ConfigureAwait(false); }
            finally { GiveBack(); }

            async Task LoopAsync()
            {
                Trial? next = null;
                while (true)
                {
                    var trial = next;
                    next = null;
                    if (trial is null)
                    {
                        if (MayStartAnother())
                        {
                            try
                            {
                                // The goal or the failed-trial limit may have been reached by another worker or process.
                                if (await StudyEndedAsync(options, stop.Token).ConfigureAwait(false))
                                {
                                    Volatile.Write(ref studyEnded, true);
                                    break;
                                }
                                // Waits for what a trial needs before the trial exists in storage: a trial waiting for a GPU
                                // another process holds is not Running meanwhile (no heartbeat, no duration, no budget place).
                                if (options.HoldBeforeStart is { } hold && await MayStartNewTrialAsync(options, stop.Token).ConfigureAwait(false))
                                {
                                    held = await hold(stop.Token).ConfigureAwait(false);
                                    // The wait may have been long: a stop or the time budget may have come meanwhile.
                                    if (_stopRequested || (deadline is { } d && _time.GetUtcNow() >= d)) break;
                                }
                                // Nothing to start after all: given back before waiting for other workers' trials.
                                trial = await AskOrAwaitOthersAsync(options, () => deadline is { } d && _time.GetUtcNow() >= d, stop.Token, trialStop.Token, GiveBack).ConfigureAwait(false);
                            }
                            catch (OperationCanceledException) when (stop.IsCancellationRequested) { break; }
                            if (trial is { IsResumed: false } && stop.IsCancellationRequested)
                            {
                                // Started as the run was being cancelled (Ctrl+C during the ask): back to the queue, unrun.
                                await ReleaseUnrunAsync(trial).ConfigureAwait(false);
                                break;
                            }
                            if (trial is { IsResumed: true } && options.MaxTrialsThisRun is not null) Interlocked.Decrement(ref startedHere);
                            if (trial is not null) trial.Held = held;
                        }
                        else if (options.MaxTrialsThisRun is not null && !stop.IsCancellationRequested && !_stopRequested && !(deadline is { } d && _time.GetUtcNow() >= d))
                        {
                            // This run's own cap (a one-trial Slurm job) is reached: it starts nothing new, but when it is the
                            // last one out of a study that may start no new trial, it finishes the trials left paused.
                            try { trial = await ResumeLeftPausedAsync(options, stop.Token, trialStop.Token).ConfigureAwait(false); }
                            catch (OperationCanceledException) when (stop.IsCancellationRequested) { break; }
                        }
                        if (trial is null) break;
                    }
                    else if (stop.IsCancellationRequested)
                    {
                        // Started with the previous trial's finish as the run was being stopped: back to the queue, unrun.
                        await ReleaseUnrunAsync(trial).ConfigureAwait(false);
                        break;
                    }
                    running[trial.Id] = 0;
                    Interlocked.Increment(ref ranHere);
                    try
                    {
                        var finished = await RunOneAsync(trial, objective, NextAfter, trialStop.Token).ConfigureAwait(false);
                        next = finished.Next;
                        if (next is not null) next.Held = held;
                        else GiveBack();
                        var retry = finished.Trial is { State: TrialState.Failed } failed && !trialStop.IsCancellationRequested
                            ? await RetryIfAllowedAsync(failed, options.Retries).ConfigureAwait(false)
                            : null;
                        var retried = retry is not null;
                        if (finished.Trial is { State: TrialState.Complete, Value: { } reached } && options.Goal is { } goal && ReachesGoal(reached, goal))
                        {
                            Volatile.Write(ref studyEnded, true);
                            _logger.LogInformation("study '{Study}' reached its goal {Goal} with trial {Number} ({Value}); no trial starts", Name, goal, finished.Trial.Number, reached);
                        }
                        if (finished.Error is { } error && !retried
                            && (options.FailFast || options.MaxFailedTrials is { } maxFailed && (await GetCountedFailuresAsync(CancellationToken.None).ConfigureAwait(false)).Count >= maxFailed))
                        {
                            Interlocked.CompareExchange(ref failure, error, null);
                            await stop.CancelAsync().ConfigureAwait(false);
                            await trialStop.CancelAsync().ConfigureAwait(false);
                        }
                        if (finished.Trial is { } ft)
                        {
                            // The callbacks see the trial as storage now holds it: a retried one names its retry.
                            if (retry is not null)
                                ft = ft with { SystemAttributes = new Dictionary<string, object?>(ft.SystemAttributes) { [SystemAttributeKeys.RetriedBy] = (long)retry.Number } };
                            foreach (var callback in options.Callbacks) callback(this, ft);
                        }
                        if (next is not null && (_stopRequested || Volatile.Read(ref studyEnded)))
                        {
                            // Stop came after this worker's next trial was started with the finish: back to the queue, unrun.
                            var unrun = next;
                            next = null;
                            await ReleaseUnrunAsync(unrun).ConfigureAwait(false);
                        }
                    }
                    catch when (next is not null)
                    {
                        await ReleaseUnrunAsync(next).ConfigureAwait(false); // a callback threw: the run ends, nothing left Running
                        throw;
                    }
                    finally { running.TryRemove(trial.Id, out _); }
                }
            }
        }

        // An error that escapes one worker loop (a storage fault that outlasted its retries, a callback that threw) ends the
        // whole run at once, as fail-fast does: no worker starts another trial and the trials still running are interrupted.
        // A trial whose result could not be stored stays Running: crash recovery fails and retries it later.
        async Task WorkerAsync()
        {
            try { await WorkerLoopAsync().ConfigureAwait(false); }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                Interlocked.CompareExchange(ref failure, e, null);
                await stop.CancelAsync().ConfigureAwait(false);
                await trialStop.CancelAsync().ConfigureAwait(false);
            }
        }

        try
        {
            var workers = Enumerable.Range(0, options.Parallelism).Select(_ => Task.Run(WorkerAsync, CancellationToken.None)).ToArray();
            await Task.WhenAll(workers).ConfigureAwait(false);
        }
        finally
        {
            await heartbeatStop.CancelAsync().ConfigureAwait(false);
            await heartbeat.ConfigureAwait(false);
        }
        if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
        cancellationToken.ThrowIfCancellationRequested();
        if (options.Trials is { } budget && _logger.IsEnabled(LogLevel.Warning))
        {
            // One count for both end-of-run warnings.
            var counts = await Storage.CountTrialsAsync(Record.Id, cancellationToken).ConfigureAwait(false);
            if (!(deadline is { } end && _time.GetUtcNow() >= end)) await SayIfGridEndedBeforeBudgetAsync(budget, counts, cancellationToken).ConfigureAwait(false);
            await SayIfBudgetLeftWorkUnrunAsync(budget, counts, ranHere, cancellationToken).ConfigureAwait(false);
        }
    }

    // OptimizeOptions.Trials is the study's budget, not Optuna's per-call n_trials: a rerun of a script after the budget is
    // spent runs nothing, and enqueued trials past it wait for ever. Say either, once, at the end of the run.
    private async Task SayIfBudgetLeftWorkUnrunAsync(int budget, IReadOnlyDictionary<TrialState, int> counts, int ran, CancellationToken ct)
    {
        var waiting = counts.GetValueOrDefault(TrialState.Waiting);
        // A grid's combinations wait in storage by design; its own warning says when it ends before the budget.
        if (Sampler is IFiniteSampler) waiting = 0;
        if (ran > 0 && waiting == 0) return; // the usual end: no second read
        var trials = (await RefreshAsync(ct).ConfigureAwait(false)).Trials;
        var taken = trials.Count(t => t.State != TrialState.Waiting && !t.SystemAttributes.ContainsKey(SystemAttributeKeys.RetriedBy));
        if (taken < budget) return;
        if (ran == 0 && budget > 0)
            _logger.LogWarning(StudyLogEvents.BudgetSpent,
                "study '{Study}' already has {Taken} of its {Budget} trials; nothing to run{Waiting}. Raise OptimizeOptions.Trials, or set MaxTrialsThisRun for a per-call count as Optuna's n_trials",
                Name, taken, budget, waiting > 0 ? $" ({waiting} enqueued trials wait beyond the budget; OptimizeOptions.Trials = {taken + waiting} runs them)" : "");
        else if (waiting > 0)
            _logger.LogWarning(StudyLogEvents.WaitingBeyondBudget,
                "study '{Study}': {Waiting} enqueued trials wait beyond its budget of {Budget} trials and will not run; OptimizeOptions.Trials = {All} runs them",
                Name, waiting, budget, taken + waiting);
    }

    // A finite sampler (a grid) whose every combination is tried ends the run before its trial budget: say why, once, when
    // nothing of the study runs or waits any more (another worker's last trial may still be running).
    private async Task SayIfGridEndedBeforeBudgetAsync(int budget, IReadOnlyDictionary<TrialState, int> counts, CancellationToken ct)
    {
        if (Sampler is not IFiniteSampler finite) return;
        if (counts.GetValueOrDefault(TrialState.Running) > 0 || counts.GetValueOrDefault(TrialState.Waiting) > 0) return;
        var history = await RefreshAsync(ct).ConfigureAwait(false);
        if (history.DoneCount >= budget) return;
        var combinations = finite.EnumerateConfigurations().Count;
        _logger.LogWarning("The grid's {Combinations} combinations are all tried; stopping before the budget of {Budget} trials", combinations, budget);
    }

    /// <summary>
    /// Starts the next trial; when the budget is reached (or a finite sampler has nothing waiting) while other workers'
    /// trials still run, waits for them instead of ending: as long as their heartbeats live they may finish, and one whose
    /// runner died is failed and retried here (see <see cref="FailStaleTrialsAsync"/>), so the study still ends with its
    /// budget of finished trials. Once none is left running, a paused trial the scheduler wants finished is resumed
    /// (<see cref="IScheduler.SuggestFinish"/>). Null when the budget is reached, nothing runs and nothing is to be finished.
    /// </summary>
    private async Task<Trial?> AskOrAwaitOthersAsync(OptimizeOptions options, Func<bool> pastDeadline, CancellationToken ct, CancellationToken trialToken,
        Action? nothingToStart = null)
    {
        // Short trials of other workers usually end within milliseconds: poll from 10 ms, doubling up to the heartbeat
        // interval (at most 1 s), so the last worker of a fast study does not idle a whole second at its end.
        var poll = TimeSpan.FromTicks(Math.Min(_heartbeatInterval.Ticks, TimeSpan.FromSeconds(1).Ticks));
        var wait = TimeSpan.FromTicks(Math.Min(poll.Ticks, TimeSpan.FromMilliseconds(10).Ticks));
        while (true)
        {
            var trial = await ResumeCoreAsync(ct, trialToken).ConfigureAwait(false) ?? await AskCoreAsync(options.Trials, ct, trialToken).ConfigureAwait(false);
            if (trial is not null) return trial;
            nothingToStart?.Invoke();
            if (pastDeadline()) return null;
            // Nothing Running in the whole study (the usual end of a run): no one to wait for. Counting is cheap; the
            // history read below is not for a sampler that keeps none (every trial of the study, at the end of each run).
            var counts = await Storage.CountTrialsAsync(Record.Id, ct).ConfigureAwait(false);
            // Nothing runs and nothing new may start: the scheduler may still finish paused trials (IScheduler.SuggestFinish).
            // A recovery of this study in flight (the heartbeat's) may have failed a lost trial and not yet enqueued its
            // retry, which then would wait unrun: once it is done, ask again.
            if (counts.GetValueOrDefault(TrialState.Running) == 0)
            {
                await _recoveryGate.WaitAsync(ct).ConfigureAwait(false);
                try { trial = await AskCoreAsync(options.Trials, ct, trialToken).ConfigureAwait(false); }
                finally { _recoveryGate.Release(); }
                return trial ?? await ResumeCoreAsync(ct, trialToken, finishing: true).ConfigureAwait(false);
            }
            var history = await RefreshAsync(ct).ConfigureAwait(false);
            if (!history.Trials.Any(t => t.State == TrialState.Running && t.Worker != WorkerId))
            {
                // The last running trial ended since the count. If it ended without a result, a recovery (here or in
                // another worker) may be between failing it and enqueueing its retry: ask again, through the count above.
                if (!history.Trials.Any(t => t.State == TrialState.Running)) continue;
                return null; // only this process's other workers' trials run: they finish them
            }
            if (Storage is not InMemoryStudyStorage && (await RecoverLostTrialsAsync(options, ct).ConfigureAwait(false)).Count > 0) continue;
            await Task.Delay(wait, _time, ct).ConfigureAwait(false);
            wait = TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, poll.Ticks));
        }
    }

    /// <summary>
    /// Whether an ask looks able to start a trial now (a trial waits, or the budget has room; a cheap count that errs toward
    /// no): only then does a worker wait for <see cref="OptimizeOptions.HoldBeforeStart"/> first, so that a run whose study
    /// is done ends without waiting for a GPU. Otherwise the ask goes without it, and a trial it starts after all (a race)
    /// takes its resources as it starts, as without the option.
    /// </summary>
    private async Task<bool> MayStartNewTrialAsync(OptimizeOptions options, CancellationToken ct)
    {
        await EnqueueFiniteSpaceAsync(ct).ConfigureAwait(false);
        var counts = await Storage.CountTrialsAsync(Record.Id, ct).ConfigureAwait(false);
        var waiting = counts.GetValueOrDefault(TrialState.Waiting);
        // Retried trials do not count toward the budget in storage; counting them here errs toward no.
        if (options.Trials is { } budget && counts.Values.Sum() - waiting >= budget) return false;
        return waiting > 0 || Sampler is not IFiniteSampler;
    }

    /// <summary>
    /// At the end of a run held to <see cref="OptimizeOptions.MaxTrialsThisRun"/>: the paused trial the scheduler wants
    /// finished (<see cref="IScheduler.SuggestFinish"/>), when nothing in the study runs, nothing waits and the trial budget
    /// is spent; else null. One-trial jobs are the workers of a Slurm study: whichever is last out finishes it, as the one
    /// worker of <c>run</c> does, so a promotion-based study does not end with its best trials paused short of the maximum.
    /// </summary>
    private async Task<Trial?> ResumeLeftPausedAsync(OptimizeOptions options, CancellationToken ct, CancellationToken trialToken)
    {
        if (Scheduler is null || options.Trials is not { } budget) return null;
        var counts = await Storage.CountTrialsAsync(Record.Id, ct).ConfigureAwait(false);
        if (counts.GetValueOrDefault(TrialState.Running) > 0 || counts.GetValueOrDefault(TrialState.Waiting) > 0) return null;
        // Nothing runs or waits, so the trials that count toward the budget are the done ones.
        var history = await RefreshAsync(ct).ConfigureAwait(false);
        return history.DoneCount < budget ? null : await ResumeCoreAsync(ct, trialToken, finishing: true).ConfigureAwait(false);
    }

    /// <summary>True for the failure reason of a trial whose runner died under it (not the trial's own fault).</summary>
    public static bool IsCrashReason(string? reason) =>
        reason is not null && (reason.StartsWith(StaleReasonPrefix, StringComparison.Ordinal) || reason.StartsWith(CrashedReasonPrefix, StringComparison.Ordinal));

    /// <summary>The failure reason's start for a trial failed because its heartbeat stopped for longer than the grace period.</summary>
    public const string StaleReasonPrefix = "stale";

    /// <summary>The failure reason's start for a trial whose runner, a process of this machine, was found gone.</summary>
    public const string CrashedReasonPrefix = "crashed";

    /// <summary>
    /// Re-enqueues a Failed trial's params when its chain of attempts (the root trial and its retries) has failed at most
    /// <paramref name="retries"/> times, plus once when a runner crashed under one of them (a crash is not the trial's
    /// fault: it is retried once even with no retries; a retry that crashes again counts). Interrupted attempts do not
    /// count. Returns the retry, or null.
    /// </summary>
    private async Task<FrozenTrial?> RetryIfAllowedAsync(FrozenTrial failed, int retries)
    {
        if (failed.FailReason == InterruptedReason) return null;
        if (retries <= 0 && !IsCrashReason(failed.FailReason)) return null;
        var root = failed.SystemAttributes.TryGetValue(SystemAttributeKeys.RetryOf, out var r) && ParamValues.TryToLong(r, out var rn) ? rn : failed.Number;
        var history = await RefreshAsync(CancellationToken.None).ConfigureAwait(false);
        var chain = history.Trials.Where(t => t.State == TrialState.Failed && t.FailReason != InterruptedReason
            && (t.Number == root || (t.SystemAttributes.TryGetValue(SystemAttributeKeys.RetryOf, out var tr) && ParamValues.TryToLong(tr, out var trn) && trn == root)))
            .Select(t => t.Number).Append(failed.Number).Distinct().Count();
        var crashed = history.Trials.Any(t => IsCrashReason(t.FailReason) && t.State == TrialState.Failed
            && (t.Number == root || (t.SystemAttributes.TryGetValue(SystemAttributeKeys.RetryOf, out var tr) && ParamValues.TryToLong(tr, out var trn) && trn == root)))
            || IsCrashReason(failed.FailReason);
        var allowed = retries + (crashed ? 1 : 0);
        if (chain > allowed) return null;
        var retry = await Storage.RetryTrialAsync(failed.Id, CancellationToken.None).ConfigureAwait(false);
        // Known without reading it back: the failure now names its retry, so it stops counting toward the budget.
        if (retry is not null && _keepsHistory)
            _history.Upsert(failed with { SystemAttributes = new Dictionary<string, object?>(failed.SystemAttributes) { [SystemAttributeKeys.RetriedBy] = (long)retry.Number } });
        if (retry is not null)
            _logger.LogInformation("Trial {Number} failed; retrying its params as trial {Retry} (failure {Failures} of {Allowed} allowed)",
                failed.Number, retry.Number, chain, allowed);
        return retry;
    }

    /// <summary>The failure reason of a trial stopped because its run was cancelled (Ctrl+C, fail-fast, the caller's token).</summary>
    public const string InterruptedReason = "interrupted";

    /// <summary>
    /// Gives back to the queue a trial that was started with the finish of the one before but never run, because the run
    /// stopped in between (<see cref="Stop"/>, cancellation, a callback that threw): Waiting again, with nothing sampled
    /// for it, its enqueued params kept (<see cref="IStudyStorage.ReleaseTrialAsync"/>). It keeps its number (numbers are
    /// dense and never reused, and other workers' pollers have seen it), takes no place of the budget, and is the first
    /// trial the next run starts. Nothing of the objective's was written to it: its proposal is dropped unstored.
    /// </summary>
    private async Task ReleaseUnrunAsync(Trial trial)
    {
        trial.IsFinished = true;
        var outcome = await Storage.ReleaseTrialAsync(trial.Id, WorkerId, CancellationToken.None).ConfigureAwait(false);
        if (outcome != TrialWriteOutcome.Applied)
            _logger.LogWarning("Trial {Number}: {Message}", trial.Number, new TrialWriteRefusedException(trial.Number, outcome).Message);
    }

    /// <summary>
    /// Runs one objective call and records its outcome; returns the stored trial, the objective's exception, if any, and
    /// the next trial when <paramref name="nextAfter"/> asked for one with the finish.
    /// </summary>
    private async Task<(FrozenTrial? Trial, Exception? Error, Trial? Next)> RunOneAsync(Trial trial, Func<Trial, CancellationToken, Task<double>> objective,
        Func<TrialState, Exception?, NextTrialRequest?> nextAfter, CancellationToken ct)
    {
        TrialState state;
        double value = double.NaN;
        string? reason = null;
        Exception? error = null;
        Exception? endsRun = null;
        try
        {
            while (true)
            {
                // A PBT exploit ends the call (TrialRestartException) after the checkpoint was copied and the new params
                // stored: the objective is called again for the same trial, which now holds them.
                try { value = await objective(trial, ct).ConfigureAwait(false); }
                catch (TrialRestartException e) when (e.TrialNumber == trial.Number && !trial.IsFinished) { continue; }
                break;
            }
            state = TrialState.Complete;
        }
        catch (TrialPrunedException)
        {
            state = TrialState.Pruned;
        }
        catch (TrialPausedException e)
        {
            state = TrialState.Paused;
            trial.SetSystemAttribute(SystemAttributeKeys.PausedStep, e.Step);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            state = TrialState.Failed;
            reason = InterruptedReason;
        }
        catch (TrialFailedException e)
        {
            state = TrialState.Failed;
            reason = e.Message;
            error = e;
            _logger.LogWarning(StudyLogEvents.TrialFailed, "Trial {Number} failed: {Reason}", trial.Number, e.Summary);
        }
        catch (TrialWriteRefusedException e)
        {
            _logger.LogWarning("Trial {Number}: {Message}; going on with the next trial", trial.Number, e.Message);
            return (null, null, null);
        }
        catch (StudyStorageException e)
        {
            // A report or a flush the storage refused after its retries (a full disk): not the trial's fault, and the run
            // ends as for a refused finish. The trial is recorded as interrupted if the storage still takes that, else it
            // stays Running for crash recovery.
            state = TrialState.Failed;
            reason = InterruptedReason;
            endsRun = e;
        }
        catch (TrialDirectoryException e)
        {
            // Not the trial's fault (a full disk under the trial directories), and every next trial would meet it: the run
            // ends (the caller stops every worker), the trial recorded as interrupted, to run again in the next run.
            state = TrialState.Failed;
            reason = InterruptedReason;
            endsRun = new TrialDirectoryException(e.TrialNumber, e.Directory,
                $"{e.Message}; the run stopped and trial {trial.Number} is recorded interrupted, as after Ctrl+C: run the study again once this is fixed", e.InnerException);
        }
        catch (Exception e)
        {
            state = TrialState.Failed;
            reason = FailReasons.Of(e);
            error = e;
            _logger.LogWarning(StudyLogEvents.TrialFailed, "Trial {Number} failed: {Reason}", trial.Number, reason);
        }

        var next = endsRun is not null ? null : nextAfter(state == TrialState.Complete && !double.IsFinite(value) ? TrialState.Failed : state, error);
        FinishResult result;
        try
        {
            // A pruned trial keeps its last reported value (as Optuna records it), so tables can rank it; a paused one has none yet.
            result = state == TrialState.Complete
                ? await FinishAsync(trial, new Dictionary<string, double> { [Metric] = value }, next, CancellationToken.None).ConfigureAwait(false)
                : await FinishAsync(trial, state, state == TrialState.Pruned ? trial.LastIntermediate?.Value : null, reason, next, CancellationToken.None).ConfigureAwait(false);
        }
        catch (StudyStorageException e)
        {
            // Transient faults were retried in storage; this one is not, or outlasted the retry window. The run ends (the
            // caller stops every worker) and the trial stays Running, for crash recovery to fail and retry it.
            var first = endsRun as StudyStorageException ?? e;
            var doing = endsRun is StudyStorageException ? $"storing trial {trial.Number}'s reports"
                : $"recording trial {trial.Number}'s result, {(state == TrialState.Complete ? $"value {NumberText.Double(value)}" : state.ToString())}";
            throw new StudyStorageException($"{first.Message} ({doing}; it stays Running until crash recovery fails and retries it)", first)
            {
                HoldsNoStudies = first.HoldsNoStudies,
                OtherSchemaVersion = first.OtherSchemaVersion,
            };
        }
        if (endsRun is StudyStorageException refused)
            throw new StudyStorageException($"{refused.Message} (storing trial {trial.Number}'s reports; the run stopped and trial {trial.Number} is recorded interrupted, as after Ctrl+C: run the study again once this is fixed)", refused)
            {
                HoldsNoStudies = refused.HoldsNoStudies,
                OtherSchemaVersion = refused.OtherSchemaVersion,
            };
        if (endsRun is not null) throw endsRun;
        if (result.Outcome != TrialWriteOutcome.Applied)
        {
            // E.g. the trial was failed as stale while it ran: the late result is refused, the worker carries on.
            _logger.LogWarning("Trial {Number}: {Message}", trial.Number, new TrialWriteRefusedException(trial.Number, result.Outcome).Message);
            return (null, error, result.Next);
        }
        _logger.LogDebug("Trial {Number} finished: {State} {Value}", result.Told.Number, result.Told.State, result.Told.Value);
        return (result.Told, error, result.Next);
    }

    private async Task<DateTimeOffset> AgreeDeadlineAsync(TimeSpan timeout, CancellationToken ct)
    {
        var now = _time.GetUtcNow();
        var proposed = (now + timeout).ToString("O", CultureInfo.InvariantCulture);
        var stored = await Storage.SetStudySystemAttributeIfAbsentAsync(Record.Id, SystemAttributeKeys.Deadline, proposed, ct).ConfigureAwait(false);
        if (stored is string s && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var deadline) && deadline > now)
            return deadline;
        // The stored deadline belongs to an earlier run that has ended: open a new window.
        await Storage.SetStudyAttributesAsync(Record.Id, system: true, [new(SystemAttributeKeys.Deadline, proposed)], ct).ConfigureAwait(false);
        return now + timeout;
    }

    private async Task HeartbeatLoopAsync(ConcurrentDictionary<long, byte> running, OptimizeOptions options, CancellationToken ct)
    {
        if (Storage is InMemoryStudyStorage) return; // a process-local store cannot outlive its workers
        using var timer = new PeriodicTimer(_heartbeatInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
            {
                try
                {
                    if (!running.IsEmpty) await Storage.HeartbeatAsync(running.Keys.ToArray(), WorkerId, ct).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    _logger.LogWarning("Heartbeat failed: {Message}", e.Message);
                }
                try { await RecoverLostTrialsAsync(options, ct).ConfigureAwait(false); }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    _logger.LogWarning("Checking for stale trials failed: {Message}", e.Message);
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    private async Task<IReadOnlyList<TrialRecovery>> RecoverLostTrialsAsync(OptimizeOptions options, CancellationToken ct)
    {
        IReadOnlyList<TrialRecovery> recovered;
        await _recoveryGate.WaitAsync(ct).ConfigureAwait(false);
        try { recovered = await RecoverAsync(options.Retries, ct).ConfigureAwait(false); }
        finally { _recoveryGate.Release(); }
        foreach (var r in recovered)
            foreach (var callback in options.RecoveryCallbacks) callback(this, r);
        return recovered;
    }

    /// <summary>
    /// Fails the study's Running trials whose runner died and re-enqueues each (a crash is retried once even with no
    /// <paramref name="retries"/>; further failures count against them); returns the trials failed. A runner that was a
    /// process of this machine is known dead as soon as its process is gone (its recorded pid and start time), and what
    /// is left of its trial's program (the program's process session) is killed first; a runner elsewhere is presumed dead
    /// once the trial's heartbeat is older than the stale grace period. Any worker does it at each heartbeat and while it
    /// waits for other workers' trials, and <c>tunesmith status --fail-stale</c> does it on demand.
    /// </summary>
    public async Task<IReadOnlyList<FrozenTrial>> FailStaleTrialsAsync(int retries = 0, CancellationToken cancellationToken = default) =>
        (await RecoverAsync(retries, cancellationToken).ConfigureAwait(false)).Select(r => r.Failed).ToList();

    /// <inheritdoc cref="FailStaleTrialsAsync"/>
    public async Task<IReadOnlyList<TrialRecovery>> RecoverAsync(int retries = 0, CancellationToken cancellationToken = default)
    {
        var failed = new List<FrozenTrial>();
        var history = await RefreshAsync(cancellationToken).ConfigureAwait(false);
        foreach (var t in history.Trials)
        {
            if (t.State != TrialState.Running || t.Worker is not { } owner || owner == WorkerId) continue;
            if (RunnerIdentity.TryParse(owner) is not { IsGoneFromThisMachine: true } runner) continue;
            // What pdeathsig did not reach (the program's own children) dies before the trial is retried in its directory.
            var killed = TryKillTrialSession(t);
            var reason = $"{CrashedReasonPrefix}: its runner (pid {runner.Pid} on {runner.Host}) is gone"
                + (killed > 0 ? $"; killed {killed} leftover process{(killed == 1 ? "" : "es")} of its program" : "");
            var outcome = await Storage.UpdateTrialAsync(t.Id, owner, new TrialUpdate
            {
                SystemAttributes = [new(SystemAttributeKeys.FailReason, reason)],
                FinalState = TrialState.Failed,
            }, cancellationToken).ConfigureAwait(false);
            if (outcome != TrialWriteOutcome.Applied) continue; // another worker got there first, or it just finished
            if (await Storage.GetTrialAsync(t.Id, cancellationToken).ConfigureAwait(false) is { } stored) failed.Add(stored);
        }
        failed.AddRange(await Storage.FailStaleTrialsAsync(Record.Id, _time.GetUtcNow() - _staleGracePeriod, cancellationToken).ConfigureAwait(false));
        var recovered = new List<TrialRecovery>(failed.Count);
        foreach (var trial in failed)
        {
            var retry = await RetryIfAllowedAsync(trial, retries).ConfigureAwait(false);
            _logger.LogWarning(StudyLogEvents.TrialRecovered, "Trial {Number} of worker {Worker} failed: {Reason}{Retry}", trial.Number, trial.Worker, trial.FailReason,
                retry is null ? "" : $"; retried as trial {retry.Number}");
            recovered.Add(new TrialRecovery(trial, retry));
        }
        return recovered;
    }

    private static int TryKillTrialSession(FrozenTrial trial)
    {
        if (!trial.SystemAttributes.TryGetValue(SystemAttributeKeys.ProcessId, out var p) || !ParamValues.TryToLong(p, out var pid)) return 0;
        if (!trial.SystemAttributes.TryGetValue(SystemAttributeKeys.ProcessStart, out var s) || !ParamValues.TryToLong(s, out var start)) return 0;
        return LocalProcesses.KillSession((int)pid, (ulong)start).Count;
    }

    /// <summary>
    /// Closes the study as <see cref="DisposeAsync"/> does, for the synchronous API (<c>using var study = Study.Create(...)</c>):
    /// the storage it opened, and the temporary checkpoint directory of a <c>memory:</c> study.
    /// </summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Closes the storage the study opened (not a <see cref="StudyOptions.StorageInstance"/>) and removes the temporary checkpoint directory of a <c>memory:</c> study.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_ownsStorage) await Storage.DisposeAsync().ConfigureAwait(false);
        _refreshGate.Dispose();
        _recoveryGate.Dispose();
        if (_ownsRunDirectory && _runDirectory is not null)
            try { Directory.Delete(_runDirectory, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { _logger.LogWarning("Could not remove {Directory}: {Message}", _runDirectory, e.Message); }
    }
}

/// <summary>
/// A study opened to be created or loaded exists already with the other direction (maximize against minimize): loading it
/// would optimize the objective the wrong way.
/// </summary>
public sealed class StudyDirectionMismatchException(string name, Direction stored, Direction requested)
    : Exception($"study '{name}' is stored with direction {stored.ToString().ToLowerInvariant()}, the options say {requested.ToString().ToLowerInvariant()}: use another name, delete the study, or open it with Study.LoadAsync")
{
    /// <summary>The study name.</summary>
    public string StudyName { get; } = name;

    /// <summary>The direction the study was created with.</summary>
    public Direction Stored { get; } = stored;

    /// <summary>The direction the caller asked for.</summary>
    public Direction Requested { get; } = requested;
}
