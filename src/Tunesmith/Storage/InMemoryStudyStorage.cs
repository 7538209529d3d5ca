using Tunesmith.Spaces;

namespace Tunesmith.Storage;

/// <summary>
/// Studies kept in this process's memory (URL <c>memory:</c>): the fastest storage, for tests, benchmarks and
/// throwaway studies. Trials are kept as immutable <see cref="FrozenTrial"/> objects, never serialized.
/// </summary>
public sealed class InMemoryStudyStorage : IStudyStorage
{
    private readonly object _gate = new();
    private readonly Dictionary<string, StudyState> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<long, StudyState> _byId = [];
    private readonly Dictionary<long, (StudyState Study, int Number)> _trials = [];
    private readonly TimeProvider _time;
    private long _nextStudyId = 1;
    private long _nextTrialId = 1;

    /// <summary>Creates an empty storage.</summary>
    /// <param name="timeProvider">Clock for timestamps and heartbeats (tests inject a fake one).</param>
    public InMemoryStudyStorage(TimeProvider? timeProvider = null) => _time = timeProvider ?? TimeProvider.System;

    private sealed class StudyState(StudyRecord record)
    {
        public StudyRecord Record = record;
        public readonly List<FrozenTrial> Trials = [];
        public readonly List<int> ChangeLog = [];           // trial numbers in change order; the cursor is an index into it
        public readonly SortedSet<int> Waiting = [];          // numbers of the Waiting trials: the lowest is claimed first
        public readonly Dictionary<TrialState, int> Counts = [];
        public readonly HashSet<string> OnceKeys = new(StringComparer.Ordinal);
        public int Retried;
    }

    /// <inheritdoc />
    public Task<StudyRecord> CreateStudyAsync(string name, Direction direction, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_byName.ContainsKey(name)) throw new StudyExistsException(name);
            var record = new StudyRecord(_nextStudyId++, name, direction, _time.GetUtcNow(),
                new Dictionary<string, object?>(), new Dictionary<string, object?>());
            var state = new StudyState(record);
            _byName[name] = state;
            _byId[record.Id] = state;
            return Task.FromResult(record);
        }
    }

    /// <inheritdoc />
    public Task<StudyRecord?> GetStudyAsync(string name, CancellationToken cancellationToken = default)
    {
        lock (_gate) return Task.FromResult(_byName.TryGetValue(name, out var s) ? s.Record : null);
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<StudySummary>> ListStudiesAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            IReadOnlyList<StudySummary> list = _byName.Values.OrderBy(s => s.Record.Id).Select(s =>
            {
                var complete = s.Trials.Where(t => t.State == TrialState.Complete && t.Value is not null).Select(t => t.Value!.Value).ToList();
                double? best = complete.Count == 0 ? null : s.Record.Direction == Direction.Minimize ? complete.Min() : complete.Max();
                return new StudySummary(s.Record, new Dictionary<TrialState, int>(s.Counts), best);
            }).ToList();
            return Task.FromResult(list);
        }
    }

    /// <inheritdoc />
    public Task<bool> DeleteStudyAsync(string name, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (!_byName.Remove(name, out var s)) return Task.FromResult(false);
            _byId.Remove(s.Record.Id);
            foreach (var t in s.Trials) _trials.Remove(t.Id);
            return Task.FromResult(true);
        }
    }

    /// <inheritdoc />
    public Task SetStudyAttributesAsync(long studyId, bool system, IReadOnlyList<KeyValuePair<string, object?>> attributes, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var s = Study(studyId);
            var attrs = new Dictionary<string, object?>(system ? s.Record.SystemAttributes : s.Record.UserAttributes);
            foreach (var (k, v) in attributes) attrs[k] = ParamValues.Normalize(v);
            s.Record = system ? s.Record with { SystemAttributes = attrs } : s.Record with { UserAttributes = attrs };
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<object?> SetStudySystemAttributeIfAbsentAsync(long studyId, string key, object? value, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var s = Study(studyId);
            if (s.Record.SystemAttributes.TryGetValue(key, out var existing)) return Task.FromResult(existing);
            var attrs = new Dictionary<string, object?>(s.Record.SystemAttributes) { [key] = ParamValues.Normalize(value) };
            s.Record = s.Record with { SystemAttributes = attrs };
            return Task.FromResult(ParamValues.Normalize(value));
        }
    }

    /// <inheritdoc />
    public Task<FrozenTrial> EnqueueTrialAsync(long studyId, IReadOnlyDictionary<string, object?> fixedParams,
        IReadOnlyDictionary<string, object?>? systemAttributes = null, CancellationToken cancellationToken = default)
    {
        lock (_gate) return Task.FromResult(AddWaiting(Study(studyId), fixedParams, systemAttributes));
    }

    /// <inheritdoc />
    public Task<bool> EnqueueTrialsOnceAsync(long studyId, string key, IReadOnlyList<IReadOnlyDictionary<string, object?>> fixedParams, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var s = Study(studyId);
            if (!s.OnceKeys.Add(key)) return Task.FromResult(false);
            foreach (var p in fixedParams) AddWaiting(s, p, null);
            return Task.FromResult(true);
        }
    }

    /// <inheritdoc />
    /// <remarks>Atomic: the check and the inserts run under the storage's lock.</remarks>
    public Task<IReadOnlyList<EnqueueIfNewResult>> EnqueueTrialsIfNewAsync(long studyId, IReadOnlyList<IReadOnlyDictionary<string, object?>> combinations,
        bool failedHolds = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(combinations);
        lock (_gate)
        {
            var s = Study(studyId);
            // Every step is synchronous here, so the rule completes under the lock.
            var done = EnqueueIfNew.RunAsync(s.Trials, combinations, failedHolds, c => ValueTask.FromResult(AddWaiting(s, c, null)));
            return Task.FromResult(done.GetAwaiter().GetResult());
        }
    }

    private FrozenTrial AddWaiting(StudyState s, IReadOnlyDictionary<string, object?> fixedParams, IReadOnlyDictionary<string, object?>? systemAttributes,
        IReadOnlyDictionary<long, double>? intermediate = null, IReadOnlyDictionary<string, IReadOnlyDictionary<long, double>>? intermediateMetrics = null)
    {
        var trial = new FrozenTrial
        {
            Id = _nextTrialId++,
            Number = s.Trials.Count,
            State = TrialState.Waiting,
            Params = fixedParams.ToDictionary(kv => kv.Key, kv => ParamValues.Normalize(kv.Value), StringComparer.Ordinal),
            SystemAttributes = systemAttributes is null ? new Dictionary<string, object?>() : new Dictionary<string, object?>(systemAttributes),
            Created = _time.GetUtcNow(),
        };
        if (intermediate is { Count: > 0 }) trial = trial with { Intermediate = new Dictionary<long, double>(intermediate) };
        if (intermediateMetrics is { Count: > 0 }) trial = trial with { IntermediateMetrics = intermediateMetrics };
        Add(s, trial);
        s.Waiting.Add(trial.Number);
        return trial;
    }

    private void Add(StudyState s, FrozenTrial trial)
    {
        trial = trial with { Version = s.ChangeLog.Count + 1 };
        s.Trials.Add(trial);
        s.ChangeLog.Add(trial.Number);
        s.Counts[trial.State] = s.Counts.GetValueOrDefault(trial.State) + 1;
        _trials[trial.Id] = (s, trial.Number);
    }

    private static void Replace(StudyState s, FrozenTrial trial)
    {
        var old = s.Trials[trial.Number];
        if (old.State != trial.State)
        {
            s.Counts[old.State]--;
            s.Counts[trial.State] = s.Counts.GetValueOrDefault(trial.State) + 1;
        }
        s.Trials[trial.Number] = trial with { Version = s.ChangeLog.Count + 1 };
        s.ChangeLog.Add(trial.Number);
    }

    /// <inheritdoc />
    public Task<FrozenTrial?> StartTrialAsync(long studyId, string worker, int? maxTrials = null, bool waitingOnly = false, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var s = Study(studyId);
            if (maxTrials is { } max)
            {
                var counted = s.Trials.Count - s.Counts.GetValueOrDefault(TrialState.Waiting) - s.Retried;
                if (counted >= max) return Task.FromResult<FrozenTrial?>(null);
            }
            var now = _time.GetUtcNow();
            if (s.Waiting.Count > 0)
            {
                var number = s.Waiting.Min;
                s.Waiting.Remove(number);
                var claimed = s.Trials[number] with { State = TrialState.Running, Started = now, Heartbeat = now, Worker = worker };
                Replace(s, claimed);
                return Task.FromResult<FrozenTrial?>(s.Trials[number]);
            }
            if (waitingOnly) return Task.FromResult<FrozenTrial?>(null);
            var trial = new FrozenTrial
            {
                Id = _nextTrialId++,
                Number = s.Trials.Count,
                State = TrialState.Running,
                Created = now,
                Started = now,
                Heartbeat = now,
                Worker = worker,
            };
            Add(s, trial);
            return Task.FromResult<FrozenTrial?>(s.Trials[trial.Number]);
        }
    }

    /// <inheritdoc />
    public Task<TrialWriteOutcome> UpdateTrialAsync(long trialId, string worker, TrialUpdate update, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (OwnedRunning(trialId, worker, out var s, out var t) is { } refused) return Task.FromResult(refused);
            var now = _time.GetUtcNow();
            t = t with { Heartbeat = now };
            if (update.Params.Count > 0 || update.RemovedParams.Count > 0)
            {
                var ps = new Dictionary<string, object?>(t.Params, StringComparer.Ordinal);
                var ds = new Dictionary<string, Distribution>(t.Distributions, StringComparer.Ordinal);
                foreach (var name in update.RemovedParams)
                {
                    ps.Remove(name);
                    ds.Remove(name);
                }
                foreach (var (name, value, distribution) in update.Params)
                {
                    ps[name] = ParamValues.Normalize(value);
                    if (distribution is not null) ds[name] = distribution;
                }
                t = t with { Params = ps, Distributions = ds };
            }
            if (update.Intermediate.Count > 0)
            {
                var iv = new Dictionary<long, double>(t.Intermediate);
                foreach (var (step, value) in update.Intermediate) iv[step] = value;
                t = t with { Intermediate = iv };
            }
            if (update.IntermediateMetrics.Count > 0)
            {
                var im = t.IntermediateMetrics.ToDictionary(kv => kv.Key, kv => new Dictionary<long, double>(kv.Value), StringComparer.Ordinal);
                foreach (var (step, name, value) in update.IntermediateMetrics)
                {
                    if (!im.TryGetValue(name, out var series)) im[name] = series = [];
                    series[step] = value;
                }
                t = t with { IntermediateMetrics = im.ToDictionary(kv => kv.Key, kv => (IReadOnlyDictionary<long, double>)kv.Value, StringComparer.Ordinal) };
            }
            if (update.UserAttributes.Count > 0) t = t with { UserAttributes = Merge(t.UserAttributes, update.UserAttributes) };
            if (update.SystemAttributes.Count > 0) t = t with { SystemAttributes = Merge(t.SystemAttributes, update.SystemAttributes) };
            if (update.Metrics.Count > 0)
            {
                var m = new Dictionary<string, double>(t.Metrics, StringComparer.Ordinal);
                foreach (var (k, v) in update.Metrics) m[k] = v;
                t = t with { Metrics = m };
            }
            if (update.FinalState is { } final)
                t = t with { State = final, Value = update.Value, Finished = now };
            Replace(s, t);
            return Task.FromResult(TrialWriteOutcome.Applied);
        }
    }

    /// <summary>Null when the trial is Running and owned by <paramref name="worker"/>; else why a write to it is refused. Under the gate.</summary>
    private TrialWriteOutcome? OwnedRunning(long trialId, string worker, out StudyState study, out FrozenTrial trial)
    {
        (study, trial) = (null!, null!);
        if (!_trials.TryGetValue(trialId, out var where)) return TrialWriteOutcome.NotFound;
        (study, trial) = (where.Study, where.Study.Trials[where.Number]);
        if (trial.State != TrialState.Running) return TrialWriteOutcome.AlreadyFinished;
        return string.Equals(trial.Worker, worker, StringComparison.Ordinal) ? null : TrialWriteOutcome.NotOwner;
    }

    private static Dictionary<string, object?> Merge(IReadOnlyDictionary<string, object?> a, IReadOnlyList<KeyValuePair<string, object?>> b)
    {
        var d = new Dictionary<string, object?>(a, StringComparer.Ordinal);
        foreach (var (k, v) in b) d[k] = ParamValues.Normalize(v);
        return d;
    }

    /// <inheritdoc />
    public Task<TrialWriteOutcome> ReleaseTrialAsync(long trialId, string worker, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (OwnedRunning(trialId, worker, out var s, out var t) is { } refused) return Task.FromResult(refused);
            Replace(s, t with { State = TrialState.Waiting, Worker = null, Started = null, Heartbeat = null });
            s.Waiting.Add(t.Number);
            return Task.FromResult(TrialWriteOutcome.Applied);
        }
    }

    /// <inheritdoc />
    public Task<FrozenTrial?> ResumeTrialAsync(long trialId, string worker, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (!_trials.TryGetValue(trialId, out var where)) return Task.FromResult<FrozenTrial?>(null);
            var t = where.Study.Trials[where.Number];
            if (t.State != TrialState.Paused) return Task.FromResult<FrozenTrial?>(null);
            var now = _time.GetUtcNow();
            Replace(where.Study, t with { State = TrialState.Running, Worker = worker, Finished = null, Heartbeat = now });
            return Task.FromResult<FrozenTrial?>(where.Study.Trials[where.Number]);
        }
    }

    /// <inheritdoc />
    public Task HeartbeatAsync(IReadOnlyCollection<long> trialIds, string worker, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            foreach (var id in trialIds)
            {
                if (!_trials.TryGetValue(id, out var where)) continue;
                var t = where.Study.Trials[where.Number];
                // A heartbeat is not a change a poller needs to see: update in place, no change-log entry.
                if (t.State == TrialState.Running && t.Worker == worker)
                    where.Study.Trials[where.Number] = t with { Heartbeat = now };
            }
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<FrozenTrial>> FailStaleTrialsAsync(long studyId, DateTimeOffset olderThan, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var s = Study(studyId);
            var now = _time.GetUtcNow();
            var failed = new List<FrozenTrial>();
            foreach (var t in s.Trials.Where(t => t.State == TrialState.Running && t.Heartbeat < olderThan).ToList())
            {
                var attrs = Merge(t.SystemAttributes, [new(SystemAttributeKeys.FailReason, "stale: no heartbeat since " + t.Heartbeat?.ToString("O"))]);
                Replace(s, t with { State = TrialState.Failed, Finished = now, SystemAttributes = attrs });
                failed.Add(s.Trials[t.Number]);
            }
            return Task.FromResult<IReadOnlyList<FrozenTrial>>(failed);
        }
    }

    /// <inheritdoc />
    public Task<FrozenTrial?> RetryTrialAsync(long failedTrialId, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (!_trials.TryGetValue(failedTrialId, out var where)) return Task.FromResult<FrozenTrial?>(null);
            var s = where.Study;
            var t = s.Trials[where.Number];
            if (t.State != TrialState.Failed || t.SystemAttributes.ContainsKey(SystemAttributeKeys.RetriedBy))
                return Task.FromResult<FrozenTrial?>(null);
            var count = (t.SystemAttributes.TryGetValue(SystemAttributeKeys.RetryCount, out var c) && c is long n ? n : 0) + 1;
            var root = t.SystemAttributes.TryGetValue(SystemAttributeKeys.RetryOf, out var r) && r is long rn ? rn : t.Number;
            var retry = AddWaiting(s, t.Params, RetryAttributes.Of(t, root, count), t.Intermediate, t.IntermediateMetrics);
            Replace(s, t with { SystemAttributes = Merge(t.SystemAttributes, [new(SystemAttributeKeys.RetriedBy, (long)retry.Number)]) });
            s.Retried++;
            return Task.FromResult<FrozenTrial?>(retry);
        }
    }

    /// <inheritdoc />
    public Task<FrozenTrial?> GetTrialAsync(long trialId, CancellationToken cancellationToken = default)
    {
        lock (_gate)
            return Task.FromResult(_trials.TryGetValue(trialId, out var w) ? w.Study.Trials[w.Number] : null);
    }

    /// <inheritdoc />
    public Task<TrialChanges> GetTrialsSinceAsync(long studyId, long cursor, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var s = Study(studyId);
            var end = s.ChangeLog.Count;
            if (cursor >= end) return Task.FromResult(new TrialChanges([], end));
            var numbers = new SortedSet<int>();
            for (var i = (int)Math.Max(0, cursor); i < end; i++) numbers.Add(s.ChangeLog[i]);
            var list = new List<FrozenTrial>(numbers.Count);
            foreach (var n in numbers) list.Add(s.Trials[n]);
            return Task.FromResult(new TrialChanges(list, end));
        }
    }

    /// <inheritdoc />
    public Task<IReadOnlyDictionary<TrialState, int>> CountTrialsAsync(long studyId, CancellationToken cancellationToken = default)
    {
        lock (_gate)
            return Task.FromResult<IReadOnlyDictionary<TrialState, int>>(
                Study(studyId).Counts.Where(kv => kv.Value > 0).ToDictionary(kv => kv.Key, kv => kv.Value));
    }

    private StudyState Study(long studyId) =>
        _byId.TryGetValue(studyId, out var s) ? s : throw new StudyNotFoundException($"#{studyId}");

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
