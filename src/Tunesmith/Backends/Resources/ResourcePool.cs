using System.Globalization;

namespace Tunesmith.Backends.Resources;

/// <summary>
/// What a local pool holds and what each trial takes from it. Every trial of a pool asks for the same amount, so a
/// trial waits only until one holder leaves.
/// </summary>
public sealed record ResourcePoolOptions
{
    /// <summary>The GPU device ids trials may use, as CUDA_VISIBLE_DEVICES spells them (indices or UUIDs); default none.</summary>
    public IReadOnlyList<string> Gpus { get; init; } = [];

    /// <summary>
    /// GPUs per trial (default 0: none). A fraction below 1 shares one GPU: 0.5 puts two trials on a GPU, 0.3 three;
    /// capacity is counted per GPU. 1 or more must be a whole number of GPUs.
    /// </summary>
    public double GpusPerTrial { get; init; }

    /// <summary>CPU cores per trial (default 0: not counted).</summary>
    public double CpusPerTrial { get; init; }

    /// <summary>The GPU quota: at most this many distinct GPUs are ever used, the first ones of <see cref="Gpus"/> (default: all).</summary>
    public int? MaxGpus { get; init; }

    /// <summary>The CPU cores to share (default <see cref="Environment.ProcessorCount"/>).</summary>
    public double? TotalCpus { get; init; }

    /// <summary>At most this many trials at once (a study's <c>parallel</c>); default no limit beyond GPUs and CPUs.</summary>
    public int? MaxConcurrent { get; init; }

    /// <summary>
    /// The machine-wide ledger of GPU holdings (<see cref="GpuLedger.ForMachine"/>), shared with every other process's pool
    /// on this host: a GPU share is taken only when the ledger has room for it, whoever holds the rest. Null (the default):
    /// this pool counts only its own trials.
    /// </summary>
    public GpuLedger? Ledger { get; init; }

    /// <summary>How often a trial waiting for GPUs that other processes hold looks at the ledger again (default 0.5 s).</summary>
    public TimeSpan LedgerPoll { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The clock of the ledger's polling (default the system clock).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Validates the options; throws naming the property and value.</summary>
    public void Validate()
    {
        var g = GpusPerTrial;
        // The value in the message, spelled as everywhere else (NumberText), not as .NET's "Actual value was 1E-05." line.
        if (!double.IsFinite(g) || g < 0) throw new ArgumentOutOfRangeException(nameof(GpusPerTrial), $"gpus_per_trial must be ≥ 0, got {Fmt(g)}");
        if (g > 1 && g != Math.Floor(g)) throw new ArgumentOutOfRangeException(nameof(GpusPerTrial), $"gpus_per_trial above 1 must be a whole number of GPUs, got {Fmt(g)}");
        if (!double.IsFinite(CpusPerTrial) || CpusPerTrial < 0) throw new ArgumentOutOfRangeException(nameof(CpusPerTrial), $"cpus_per_trial must be ≥ 0, got {Fmt(CpusPerTrial)}");
        if (MaxGpus is < 0) throw new ArgumentOutOfRangeException(nameof(MaxGpus), $"max_gpus must be ≥ 0, got {MaxGpus.Value.ToString(CultureInfo.InvariantCulture)}");
        if (TotalCpus is { } t && (!double.IsFinite(t) || t <= 0)) throw new ArgumentOutOfRangeException(nameof(TotalCpus), $"the CPU total must be > 0, got {Fmt(t)}");
        ArgumentNullException.ThrowIfNull(TimeProvider);
        if (LedgerPoll <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(LedgerPoll), LedgerPoll, "must be > 0");
        if (MaxConcurrent is < 1) throw new ArgumentOutOfRangeException(nameof(MaxConcurrent), $"parallel must be ≥ 1, got {MaxConcurrent.Value.ToString(CultureInfo.InvariantCulture)}");
        var dup = Gpus.GroupBy(x => x, StringComparer.Ordinal).FirstOrDefault(x => x.Count() > 1);
        if (dup is not null) throw new ArgumentException($"GPU '{dup.Key}' is listed twice", nameof(Gpus));
        if (Gpus.Any(string.IsNullOrWhiteSpace)) throw new ArgumentException("a GPU id must not be empty", nameof(Gpus));
        var usable = Math.Min(Gpus.Count, MaxGpus ?? int.MaxValue);
        if (g > 0 && usable == 0)
            throw new ArgumentException(Gpus.Count == 0
                ? $"gpus_per_trial is {Fmt(g)} but no GPU was found (pass --gpus, or set CUDA_VISIBLE_DEVICES)"
                : $"gpus_per_trial is {Fmt(g)} but max_gpus is 0", nameof(GpusPerTrial));
        if (g >= 1 && g > usable)
            throw new ArgumentException($"gpus_per_trial is {Fmt(g)} but only {usable} GPU(s) may be used"
                + (MaxGpus is { } q && q < Gpus.Count ? $" (max_gpus {q})" : ""), nameof(GpusPerTrial));
        var total = TotalCpus ?? Environment.ProcessorCount;
        if (CpusPerTrial > total + Epsilon)
            throw new ArgumentException($"cpus_per_trial is {Fmt(CpusPerTrial)} but only {Fmt(total)} CPU(s) are available", nameof(CpusPerTrial));
    }

    internal const double Epsilon = 1e-9;

    private static string Fmt(double d) => Spaces.NumberText.AsWritten(d);
}

/// <summary>
/// The local pool of GPU and CPU slots that command trials share: a trial waits (asynchronously, cancellably) for a free
/// slot instead of oversubscribing; the GPU quota is never exceeded. Thread-safe; waiters are served first come, first served.
/// With a <see cref="ResourcePoolOptions.Ledger"/>, the GPUs are counted in the machine-wide ledger, so that the pools of
/// all processes on the host together never put more than one GPU's worth of trials on a GPU; a trial waiting for GPUs
/// that another process holds looks again every <see cref="ResourcePoolOptions.LedgerPoll"/>.
/// </summary>
public sealed class ResourcePool
{
    private readonly object _gate = new();
    private readonly int[] _freeSlots;          // per usable GPU
    private readonly int _slotsPerGpu;
    private readonly int _gpusPerTrial;         // whole GPUs per trial (≥ 1), or 1 slot of one GPU when fractional
    private readonly bool _fractional;
    private readonly double _cpusPerTrial;
    private readonly double _totalCpus;
    private readonly int _maxConcurrent;
    private readonly LinkedList<Waiter> _waiters = new();
    private readonly GpuLedger? _ledger;
    private ITimer? _poll;
    private HashSet<int> _saidWaitingFor = [];
    private double _cpusInUse;
    private int _holders;

    private sealed record Waiter(TaskCompletionSource<ResourceLease> Completion, string Trial);

    /// <summary>Creates a pool; throws naming the option when the request can never be met (e.g. GPUs asked, none found).</summary>
    public ResourcePool(ResourcePoolOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        Gpus = options.Gpus.Take(options.MaxGpus ?? int.MaxValue).ToArray();
        var g = options.GpusPerTrial;
        _fractional = g is > 0 and < 1;
        _slotsPerGpu = _fractional ? (int)Math.Floor(1 / g + ResourcePoolOptions.Epsilon) : 1;
        _gpusPerTrial = g >= 1 ? (int)g : _fractional ? 1 : 0;
        _freeSlots = Enumerable.Repeat(_slotsPerGpu, Gpus.Count).ToArray();
        _cpusPerTrial = options.CpusPerTrial;
        _totalCpus = options.TotalCpus ?? Environment.ProcessorCount;

        var capacity = options.MaxConcurrent ?? int.MaxValue;
        if (_fractional) capacity = Math.Min(capacity, Gpus.Count * _slotsPerGpu);
        else if (_gpusPerTrial > 0) capacity = Math.Min(capacity, Gpus.Count / _gpusPerTrial);
        if (_cpusPerTrial > 0) capacity = Math.Min(capacity, (int)Math.Floor(_totalCpus / _cpusPerTrial + ResourcePoolOptions.Epsilon));
        Capacity = capacity;
        _maxConcurrent = capacity;
        _ledger = _gpusPerTrial > 0 ? options.Ledger : null;
    }

    /// <summary>
    /// Raised (on the thread that found it) when a trial must wait because other processes hold the GPUs it could use: once
    /// for each new set of holding processes, not at every look.
    /// </summary>
    public event Action<GpuWait>? WaitingForOtherProcesses;

    /// <summary>The options the pool was built from.</summary>
    public ResourcePoolOptions Options { get; }

    /// <summary>The GPUs the pool hands out (the quota applied).</summary>
    public IReadOnlyList<string> Gpus { get; }

    /// <summary>How many trials can hold a lease at once (<see cref="int.MaxValue"/> when nothing limits it).</summary>
    public int Capacity { get; }

    /// <summary>How many leases are held now.</summary>
    public int InUse { get { lock (_gate) return _holders; } }

    /// <summary>Waits for a free slot and takes it; dispose the lease to give it back. Cancelling the token stops the wait.</summary>
    public Task<ResourceLease> AcquireAsync(CancellationToken cancellationToken = default) => AcquireAsync("a trial", cancellationToken);

    /// <summary>
    /// Waits for a free slot and takes it for <paramref name="trial"/> (how the machine's GPU ledger names the holder, e.g.
    /// <c>study 'x' trial 3</c>); dispose the lease to give it back. Cancelling the token stops the wait.
    /// </summary>
    public Task<ResourceLease> AcquireAsync(string trial, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(trial);
        cancellationToken.ThrowIfCancellationRequested();
        GpuWait? said = null;
        Task<ResourceLease> task;
        lock (_gate)
        {
            if (_waiters.Count == 0 && TryTake(trial, out said) is { } lease) task = Task.FromResult(lease);
            else
            {
                var waiter = new Waiter(new TaskCompletionSource<ResourceLease>(TaskCreationOptions.RunContinuationsAsynchronously), trial);
                var node = _waiters.AddLast(waiter);
                if (cancellationToken.CanBeCanceled)
                {
                    var registration = cancellationToken.Register(() =>
                    {
                        lock (_gate)
                        {
                            // Granted already (removed from the queue under this lock): the lease is the caller's to dispose.
                            if (node.List is null) return;
                            _waiters.Remove(node);
                            if (_waiters.Count == 0) StopPolling();
                        }
                        waiter.Completion.TrySetCanceled(cancellationToken);
                    });
                    _ = waiter.Completion.Task.ContinueWith(_ => registration.Dispose(), CancellationToken.None,
                        TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                }
                if (_ledger is not null && _poll is null)
                    _poll = Options.TimeProvider.CreateTimer(_ => Pump(), null, Options.LedgerPoll, Options.LedgerPoll);
                task = waiter.Completion.Task;
            }
        }
        if (said is not null) WaitingForOtherProcesses?.Invoke(said);
        return task;
    }

    private void StopPolling()
    {
        _poll?.Dispose();
        _poll = null;
    }

    // Serves the queue from the front while the first waiter can take a slot (after a release here, or at a poll of the ledger).
    private void Pump()
    {
        var granted = new List<(Waiter, ResourceLease)>();
        var failed = new List<(Waiter, Exception)>();
        GpuWait? said = null;
        lock (_gate)
        {
            while (_waiters.First is { } first)
            {
                ResourceLease? next;
                try { next = TryTake(first.Value.Trial, out var blocked); said ??= blocked; }
                catch (IOException e)
                {
                    // The ledger cannot be read or written: the waiter fails with the reason rather than wait forever.
                    _waiters.RemoveFirst();
                    failed.Add((first.Value, e));
                    continue;
                }
                if (next is null) break;
                _waiters.RemoveFirst();
                granted.Add((first.Value, next));
            }
            if (_waiters.Count == 0) StopPolling();
        }
        // Completed outside the lock; continuations run asynchronously anyway.
        foreach (var (waiter, next) in granted)
            if (!waiter.Completion.TrySetResult(next)) next.Dispose();
        foreach (var (waiter, e) in failed) waiter.Completion.TrySetException(e);
        if (said is not null) WaitingForOtherProcesses?.Invoke(said);
    }

    // blocked: set when other processes' GPU holdings (and not this pool's own) keep the trial waiting, the first time
    // those processes are seen doing so.
    private ResourceLease? TryTake(string trial, out GpuWait? blocked)
    {
        blocked = null;
        if (_holders >= _maxConcurrent) return null;
        if (_cpusPerTrial > 0 && _cpusInUse + _cpusPerTrial > _totalCpus + ResourcePoolOptions.Epsilon) return null;
        int[] taken;
        string? ledgerLease = null;
        if (_ledger is not null)
        {
            var (chosen, lease, others) = TakeFromLedger(_ledger, trial);
            if (chosen is null)
            {
                var pids = others.Select(e => e.Pid).ToHashSet();
                if (pids.Count > 0 && !pids.SetEquals(_saidWaitingFor))
                {
                    _saidWaitingFor = pids;
                    blocked = new GpuWait(trial, others);
                }
                return null;
            }
            taken = chosen;
            ledgerLease = lease;
        }
        else if (_fractional)
        {
            // Spread before sharing: the GPU with the most free slots (the lowest index on ties).
            var best = -1;
            for (var i = 0; i < _freeSlots.Length; i++)
                if (_freeSlots[i] > 0 && (best < 0 || _freeSlots[i] > _freeSlots[best])) best = i;
            if (best < 0) return null;
            taken = [best];
        }
        else if (_gpusPerTrial > 0)
        {
            var free = new List<int>(_gpusPerTrial);
            for (var i = 0; i < _freeSlots.Length && free.Count < _gpusPerTrial; i++)
                if (_freeSlots[i] == _slotsPerGpu) free.Add(i);
            if (free.Count < _gpusPerTrial) return null;
            taken = free.ToArray();
        }
        else taken = [];
        if (ledgerLease is null) foreach (var i in taken) _freeSlots[i]--;
        _cpusInUse += _cpusPerTrial;
        _holders++;
        var share = _fractional ? Options.GpusPerTrial : taken.Length;
        return new ResourceLease(this, taken, taken.Select(i => Gpus[i]).ToArray(), share, _cpusPerTrial, ledgerLease);
    }

    // Under the ledger's lock: the GPUs by the pool's rules (fractional: the one with the most room, then the lowest index;
    // whole: the first free ones), counting every live process's holdings; or, when none fit, the other processes' entries
    // on this pool's GPUs.
    private (int[]? Chosen, string Lease, IReadOnlyList<GpuLedgerEntry> Others) TakeFromLedger(GpuLedger ledger, string trial)
    {
        var share = _fractional ? Options.GpusPerTrial : 1.0;
        var lease = Guid.NewGuid().ToString("N")[..16];
        return ledger.Update(entries =>
        {
            var used = new double[Gpus.Count];
            for (var i = 0; i < Gpus.Count; i++)
                foreach (var e in entries)
                    if (e.Gpu == Gpus[i]) used[i] += e.Share;
            int[]? chosen = null;
            if (_fractional)
            {
                var best = -1;
                for (var i = 0; i < used.Length; i++)
                    if (used[i] + share <= 1 + ResourcePoolOptions.Epsilon && (best < 0 || used[i] < used[best] - ResourcePoolOptions.Epsilon)) best = i;
                if (best >= 0) chosen = [best];
            }
            else
            {
                var free = Enumerable.Range(0, used.Length).Where(i => used[i] <= ResourcePoolOptions.Epsilon).Take(_gpusPerTrial).ToArray();
                if (free.Length == _gpusPerTrial) chosen = free;
            }
            if (chosen is null)
            {
                var mine = Gpus.ToHashSet(StringComparer.Ordinal);
                IReadOnlyList<GpuLedgerEntry> others = entries.Where(e => mine.Contains(e.Gpu) && !e.IsThisProcess).ToArray();
                return ((null, lease, others), false);
            }
            foreach (var i in chosen) entries.Add(GpuLedger.Mine(Gpus[i], share, lease, trial));
            return ((chosen, lease, (IReadOnlyList<GpuLedgerEntry>)[]), true);
        });
    }

    // The ledger names the lease's holder anew (a lease taken for a study's next trial, once the trial is known).
    internal void Relabel(ResourceLease lease, string trial)
    {
        if (lease.LedgerLease is not { } id || _ledger is null) return;
        try
        {
            _ledger.Update(entries =>
            {
                var changed = false;
                for (var i = 0; i < entries.Count; i++)
                    if (entries[i].Lease == id && entries[i].Trial != trial) { entries[i] = entries[i] with { Trial = trial }; changed = true; }
                return (0, changed);
            });
        }
        catch (IOException) { } // only a name other processes show: the lease holds all the same
    }

    internal void Release(ResourceLease lease)
    {
        lock (_gate)
        {
            if (lease.LedgerLease is { } id && _ledger is not null)
            {
                // A ledger that cannot be written now keeps the entry until this process exits (it is then dropped as dead).
                try { _ledger.Release(id); }
                catch (IOException) { }
            }
            else foreach (var i in lease.GpuIndices) _freeSlots[i]++;
            _cpusInUse = Math.Max(0, _cpusInUse - lease.Cpus);
            _holders--;
        }
        Pump();
    }
}

/// <summary>A trial waits because other processes of this machine hold the GPUs it could use.</summary>
/// <param name="Trial">The waiting trial, as it was named to <see cref="ResourcePool.AcquireAsync(string, CancellationToken)"/>.</param>
/// <param name="HeldBy">The other processes' ledger entries on the pool's GPUs.</param>
public sealed record GpuWait(string Trial, IReadOnlyList<GpuLedgerEntry> HeldBy);

/// <summary>Slots held by one trial: its GPUs and CPU share. Dispose it to give them back (idempotent).</summary>
public sealed class ResourceLease : IDisposable
{
    private readonly ResourcePool _pool;
    private int _disposed;

    internal ResourceLease(ResourcePool pool, int[] gpuIndices, IReadOnlyList<string> gpus, double gpuShare, double cpus, string? ledgerLease)
    {
        _pool = pool;
        LedgerLease = ledgerLease;
        GpuIndices = gpuIndices;
        Gpus = gpus;
        GpuShare = gpuShare;
        Cpus = cpus;
    }

    internal int[] GpuIndices { get; }

    internal bool IsOf(ResourcePool pool) => ReferenceEquals(_pool, pool);

    /// <summary>
    /// The same slots for <paramref name="trial"/> (the ledger names it the holder), as a lease whose disposal gives
    /// nothing back: this one's holder does that.
    /// </summary>
    internal ResourceLease Borrow(string trial)
    {
        _pool.Relabel(this, trial);
        return new ResourceLease(_pool, GpuIndices, Gpus, GpuShare, Cpus, LedgerLease) { _disposed = 1 };
    }

    internal string? LedgerLease { get; }

    /// <summary>The GPU ids assigned to the trial (empty when it asked for none).</summary>
    public IReadOnlyList<string> Gpus { get; }

    /// <summary>How much GPU the trial holds in total (0.5 for half a GPU, 2 for two GPUs).</summary>
    public double GpuShare { get; }

    /// <summary>The CPU cores the trial holds.</summary>
    public double Cpus { get; }

    /// <summary>The value of CUDA_VISIBLE_DEVICES for the trial, or null when it has no GPU.</summary>
    public string? CudaVisibleDevices => Gpus.Count == 0 ? null : string.Join(",", Gpus);

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) _pool.Release(this);
    }
}
