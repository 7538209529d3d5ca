using System.Collections.Concurrent;
using Tunesmith.Reporting.Plots;
using Tunesmith.Storage;

namespace Tunesmith.Dashboard.Internal;

/// <summary>
/// The dashboard's view of the storage: one <see cref="StudyCache"/> per study opened, each kept current by incremental
/// reads (<see cref="IStudyStorage.GetTrialsSinceAsync"/>), so a page or an event stream never re-reads a whole study.
/// </summary>
internal sealed class StudyFeed(IStudyStorage storage, TimeProvider time, DashboardOptions options)
{
    private readonly ConcurrentDictionary<string, Lazy<Task<StudyCache?>>> _studies = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _listGate = new(1, 1);
    private (DateTimeOffset At, IReadOnlyList<StudySummary> Studies)? _list;

    public IStudyStorage Storage => storage;
    public TimeProvider Time => time;
    public DashboardOptions Options => options;

    /// <summary>The study's cache, or null when there is no such study.</summary>
    public async Task<StudyCache?> GetAsync(string name, CancellationToken ct)
    {
        var lazy = _studies.GetOrAdd(name, n => new Lazy<Task<StudyCache?>>(() => LoadAsync(n)));
        var cache = await lazy.Value.WaitAsync(ct).ConfigureAwait(false);
        // A study created after a miss is found next time.
        if (cache is null) _studies.TryRemove(new KeyValuePair<string, Lazy<Task<StudyCache?>>>(name, lazy));
        return cache;
    }

    private async Task<StudyCache?> LoadAsync(string name)
    {
        var record = await storage.GetStudyAsync(name, CancellationToken.None).ConfigureAwait(false);
        return record is null ? null : new StudyCache(record, storage, time);
    }

    /// <summary>
    /// Reads every study and draws its plots once, in the background at start-up, so the first page a user opens —
    /// even of a 100,000-trial study — finds its trials and plots ready.
    /// </summary>
    public async Task WarmAsync(CancellationToken ct)
    {
        var caches = new List<StudyCache>();
        foreach (var s in await ListAsync(ct).ConfigureAwait(false))
            if (await GetAsync(s.Study.Name, ct).ConfigureAwait(false) is { } cache) caches.Add(cache);
        // First what a page shows first (the quick read and the history) for every study, then the full reads, one at a
        // time, so the first look at any study does not compete with reading all of them.
        foreach (var cache in caches) await cache.HistoryJsonAsync(ct).ConfigureAwait(false);
        foreach (var cache in caches)
        {
            var snapshot = await cache.RefreshAsync(options.PollInterval, ct).ConfigureAwait(false);
            await cache.PlotsAsync(snapshot, ct).ConfigureAwait(false);
        }
    }

    /// <summary>Every study with its counts, read at most once per poll interval.</summary>
    public async Task<IReadOnlyList<StudySummary>> ListAsync(CancellationToken ct)
    {
        if (_list is { } l && time.GetUtcNow() - l.At < options.PollInterval) return l.Studies;
        await _listGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_list is { } again && time.GetUtcNow() - again.At < options.PollInterval) return again.Studies;
            var studies = await storage.ListStudiesAsync(ct).ConfigureAwait(false);
            _list = (time.GetUtcNow(), studies);
            return studies;
        }
        finally { _listGate.Release(); }
    }
}

/// <summary>One study's trials as last read, refreshed incrementally; each refresh makes a new immutable snapshot.</summary>
internal sealed class StudyCache(StudyRecord record, IStudyStorage storage, TimeProvider time)
{
    private const int ChangeLogLength = 256;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Queue<(long Serial, int[] Numbers)> _changeLog = new();
    private StudySnapshot? _snapshot;
    private long _cursor;
    private DateTimeOffset _refreshedAt = DateTimeOffset.MinValue;

    public StudyRecord Record => record;

    // The stored scheduler's rungs (ASHA, Hyperband), read from the study file stored with the study.
    private readonly Lazy<SchedulerRungs?> _rungs = new(() => SchedulerRungs.From(Tunesmith.Execution.Commands.StudyFileRun.StoredScheduler(record)));

    private readonly Lock _outlineLock = new();
    private Task<StudySnapshot>? _outline;
    private (object Source, string Json)? _history;

    private readonly Lock _watchLock = new();
    private TaskCompletionSource<StudySnapshot> _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _watchers;
    private bool _polling;

    /// <summary>
    /// The full snapshot once it has been read; before that, a quick one of the trials' own columns only (number, state,
    /// value, times, worker: <see cref="IStudyStorage.GetTrialOutlinesAsync"/>, one query, read once), so the first look at
    /// a 100,000-trial study — its counts, its best value, its optimization history — does not wait for every parameter
    /// and intermediate value.
    /// </summary>
    public Task<StudySnapshot> PreviewAsync(CancellationToken ct)
    {
        if (_snapshot is { } full) return Task.FromResult(full);
        lock (_outlineLock)
        {
            if (_outline is null)
            {
                _outline = ReadOutlineAsync();
                // The full read follows it (rather than competing with it for the machine).
                _ = _outline.ContinueWith(_ => RefreshAsync(TimeSpan.MaxValue, CancellationToken.None), CancellationToken.None,
                    TaskContinuationOptions.None, TaskScheduler.Default);
            }
        }
        return _outline.WaitAsync(ct);
    }

    private async Task<StudySnapshot> ReadOutlineAsync()
    {
        var trials = await storage.GetTrialOutlinesAsync(record.Id, CancellationToken.None).ConfigureAwait(false);
        return _snapshot ?? new StudySnapshot(this, [.. trials], cursor: 0, serial: 0, time.GetUtcNow(), outline: true);
    }

    /// <summary>
    /// The optimization history alone as JSON (<c>{metric, direction, history}</c>): from the last plots when they are
    /// built, else from <see cref="PreviewAsync"/> — what the study page draws first.
    /// </summary>
    public async Task<string> HistoryJsonAsync(CancellationToken ct)
    {
        if (_plots is { } p)
        {
            if (_history is { } cached && ReferenceEquals(cached.Source, p.Plots)) return cached.Json;
            var json = StudyPlotsJson.SerializeHistory(p.Plots.Metric, p.Plots.Direction, p.Plots.History);
            _history = (p.Plots, json);
            return json;
        }
        var snapshot = await PreviewAsync(ct).ConfigureAwait(false);
        if (_history is { } h && ReferenceEquals(h.Source, snapshot)) return h.Json;
        var history = await Task.Run(() => StudyPlotsBuilder.BuildHistory(snapshot.Trials, record.Direction), ct).ConfigureAwait(false);
        var text = StudyPlotsJson.SerializeHistory(Metric, record.Direction, history);
        _history = (snapshot, text);
        return text;
    }

    /// <summary>
    /// Keeps this study read every <paramref name="interval"/> while the returned handle is held (one reader per study,
    /// however many event streams watch it); <see cref="NextAsync"/> wakes as soon as a read finds a change.
    /// </summary>
    public IDisposable Watch(TimeSpan interval)
    {
        lock (_watchLock)
        {
            _watchers++;
            if (!_polling)
            {
                _polling = true;
                _ = Task.Run(() => PollAsync(interval));
            }
        }
        return new Watcher(this);
    }

    private sealed class Watcher(StudyCache cache) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) lock (cache._watchLock) cache._watchers--;
        }
    }

    private async Task PollAsync(TimeSpan interval)
    {
        while (true)
        {
            lock (_watchLock)
            {
                if (_watchers == 0) { _polling = false; return; }
            }
            try { await RefreshAsync(TimeSpan.Zero, CancellationToken.None).ConfigureAwait(false); }
            catch (Exception e) when (e is StudyStorageException or ObjectDisposedException or InvalidOperationException or System.Data.Common.DbException)
            {
                // A failed read (storage restarting, dashboard stopping) is tried again next time.
            }
            await Task.Delay(interval, time).ConfigureAwait(false);
        }
    }

    /// <summary>The first snapshot after serial <paramref name="after"/>: at once when there is one, else as soon as a read finds a change.</summary>
    public Task<StudySnapshot> NextAsync(long after, CancellationToken ct)
    {
        Task<StudySnapshot> next;
        lock (_watchLock) next = _changed.Task;
        // Checked after taking the signal, so a snapshot published in between is not missed.
        if (_snapshot is { } current && current.Serial > after) return Task.FromResult(current);
        return next.WaitAsync(ct);
    }

    private void Publish(StudySnapshot snapshot)
    {
        TaskCompletionSource<StudySnapshot> done;
        lock (_watchLock)
        {
            done = _changed;
            _changed = new TaskCompletionSource<StudySnapshot>(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        done.TrySetResult(snapshot);
    }

    private readonly SemaphoreSlim _plotGate = new(1, 1);
    private (long Serial, StudyPlots Plots, string Json, DateTimeOffset BuiltAt, TimeSpan Took)? _plots;

    /// <summary>
    /// The plots (and their JSON) of a recent snapshot. A study that changes all the time is not redrawn on every change:
    /// plots are rebuilt at most once per second, or once per five build times for a study large enough that a build
    /// takes longer (a 100,000-trial study), and callers meanwhile get the last plots at once.
    /// </summary>
    public async Task<(StudyPlots Plots, string Json)> PlotsAsync(StudySnapshot snapshot, CancellationToken ct)
    {
        if (_plots is { } p && (p.Serial == snapshot.Serial || time.GetUtcNow() - p.BuiltAt < Throttle(p.Took))) return (p.Plots, p.Json);
        var last = _plots;
        if (last is { } busy)
        {
            // Someone is already rebuilding: show the last plots rather than queue behind the build.
            if (!await _plotGate.WaitAsync(0, ct).ConfigureAwait(false)) return (busy.Plots, busy.Json);
        }
        else await _plotGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_plots is { } again && (again.Serial >= snapshot.Serial || time.GetUtcNow() - again.BuiltAt < Throttle(again.Took))) return (again.Plots, again.Json);
            var started = time.GetTimestamp();
            var plots = await Task.Run(() => StudyPlotsBuilder.Build(snapshot.Trials, record.Direction, Metric, record.Name, snapshot.ReadAt, rungs: _rungs.Value), ct).ConfigureAwait(false);
            var json = StudyPlotsJson.Serialize(plots);
            _plots = (snapshot.Serial, plots, json, time.GetUtcNow(), time.GetElapsedTime(started));
            return (plots, json);
        }
        finally { _plotGate.Release(); }
    }

    private static TimeSpan Throttle(TimeSpan took) => TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(1).Ticks, 5 * took.Ticks));

    public string Metric => record.SystemAttributes.TryGetValue(SystemAttributeKeys.Metric, out var m) && m is string s && s.Length > 0 ? s : "value";

    /// <summary>The snapshot, read again from storage when older than <paramref name="maxAge"/>.</summary>
    public async Task<StudySnapshot> RefreshAsync(TimeSpan maxAge, CancellationToken ct)
    {
        if (_snapshot is { } current && time.GetUtcNow() - _refreshedAt < maxAge) return current;
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_snapshot is { } again && time.GetUtcNow() - _refreshedAt < maxAge) return again;
            var previous = _snapshot;
            var read = await storage.GetTrialsSinceAsync(record.Id, _cursor, ct).ConfigureAwait(false);
            _refreshedAt = time.GetUtcNow();
            _cursor = read.Cursor;
            // A storage may hand a trial over again unchanged (PostgreSQL does while another transaction is long-running):
            // only a new version is a change.
            var changed = previous is null ? read.Trials : read.Trials.Where(t => previous.Trial(t.Number) is not { } had || had.Version != t.Version).ToList();
            if (previous is not null && changed.Count == 0) return previous;
            var maxNumber = changed.Count == 0 ? -1 : changed.Max(t => t.Number);
            var size = Math.Max(previous?.Trials.Count ?? 0, maxNumber + 1);
            var trials = new FrozenTrial?[size];
            previous?.CopyTo(trials);
            foreach (var t in changed) trials[t.Number] = t;
            var serial = (previous?.Serial ?? 0) + 1;
            var numbers = changed.Select(t => t.Number).ToArray();
            lock (_changeLog)
            {
                _changeLog.Enqueue((serial, numbers));
                while (_changeLog.Count > ChangeLogLength) _changeLog.Dequeue();
            }
            _snapshot = new StudySnapshot(this, trials.Where(t => t is not null).Select(t => t!).ToArray(), read.Cursor, serial, _refreshedAt);
            Publish(_snapshot);
            return _snapshot;
        }
        finally { _gate.Release(); }
    }

    /// <summary>Numbers of the trials changed after snapshot <paramref name="serial"/>, or null when that is too long ago to say.</summary>
    public IReadOnlyCollection<int>? ChangedSince(long serial)
    {
        lock (_changeLog)
        {
            if (_changeLog.Count == 0 || _changeLog.Peek().Serial > serial + 1) return null;
            return _changeLog.Where(c => c.Serial > serial).SelectMany(c => c.Numbers).ToHashSet();
        }
    }
}

/// <summary>A study's trials at one moment (by number), with the plots of that moment computed on first use.</summary>
internal sealed class StudySnapshot
{
    private readonly Lazy<IReadOnlyDictionary<string, int>> _counts;
    private readonly Lazy<FrozenTrial?> _best;
    private readonly Lazy<DateTimeOffset?> _lastActivity;
    private readonly Lazy<IReadOnlyList<PlotAxis>> _axes;

    public StudySnapshot(StudyCache study, FrozenTrial[] trials, long cursor, long serial, DateTimeOffset readAt, bool outline = false)
    {
        Study = study;
        Outline = outline;
        Trials = trials;
        Cursor = cursor;
        Serial = serial;
        ReadAt = readAt;
        _counts = new Lazy<IReadOnlyDictionary<string, int>>(() =>
        {
            var n = Enum.GetValues<TrialState>().ToDictionary(st => st, _ => 0);
            foreach (var t in trials) n[t.State]++;
            return n.ToDictionary(x => x.Key.ToString(), x => x.Value);
        });
        _best = new Lazy<FrozenTrial?>(FindBest);
        _lastActivity = new Lazy<DateTimeOffset?>(FindLastActivity);
        _axes = new Lazy<IReadOnlyList<PlotAxis>>(() => PlotAxes.Infer(trials));
    }

    public StudyCache Study { get; }
    /// <summary>True for a first quick read of the trials' own columns only (no parameters, attributes, intermediate values or metrics).</summary>
    public bool Outline { get; }
    public IReadOnlyList<FrozenTrial> Trials { get; }
    public long Cursor { get; }
    public long Serial { get; }
    public DateTimeOffset ReadAt { get; }
    public IReadOnlyDictionary<string, int> Counts => _counts.Value;
    public IReadOnlyList<PlotAxis> Axes => _axes.Value;

    public FrozenTrial? Trial(int number) => number >= 0 && number < Trials.Count && Trials[number].Number == number
        ? Trials[number]
        : Trials.FirstOrDefault(t => t.Number == number);

    public void CopyTo(FrozenTrial?[] target)
    {
        foreach (var t in Trials) target[t.Number] = t;
    }

    public FrozenTrial? Best => _best.Value;

    public DateTimeOffset? LastActivity => _lastActivity.Value;

    private FrozenTrial? FindBest()
    {
        {
            FrozenTrial? best = null;
            foreach (var t in Trials)
                if (t.State == TrialState.Complete && t.Value is { } v && double.IsFinite(v)
                    && (best is null || Study.Record.Direction.IsBetter(v, best.Value!.Value))) best = t;
            return best;
        }
    }

    private DateTimeOffset? FindLastActivity()
    {
        {
            DateTimeOffset? last = null;
            foreach (var t in Trials)
            {
                var at = t.Finished ?? t.Heartbeat ?? t.Started ?? t.Created;
                if (at is { } a && (last is null || a > last)) last = a;
            }
            return last;
        }
    }
}
