namespace Tunesmith.Simulation;

/// <summary>
/// A clock that moves only when the simulator advances it: the simulated counterpart of <see cref="TimeProvider.System"/>,
/// so what a real run stamps with wall-clock time (trial start and finish) a simulated run stamps with virtual time.
/// It has no timers: the simulator's event queue decides what happens next, and jumps the clock there.
/// </summary>
public sealed class VirtualTimeProvider : TimeProvider
{
    private DateTimeOffset _now;

    /// <summary>Creates a clock that reads <paramref name="start"/> until advanced.</summary>
    public VirtualTimeProvider(DateTimeOffset start)
    {
        Start = start;
        _now = start;
    }

    /// <summary>When the simulated run began.</summary>
    public DateTimeOffset Start { get; }

    /// <summary>Virtual time since <see cref="Start"/>.</summary>
    public TimeSpan Elapsed => _now - Start;

    /// <inheritdoc />
    public override DateTimeOffset GetUtcNow() => _now;

    /// <inheritdoc />
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <inheritdoc />
    public override long GetTimestamp() => (_now - Start).Ticks;

    /// <summary>Moves the clock to <paramref name="elapsed"/> after <see cref="Start"/>; time never runs backwards.</summary>
    public void AdvanceTo(TimeSpan elapsed)
    {
        var next = Start + elapsed;
        if (next < _now) throw new ArgumentOutOfRangeException(nameof(elapsed), $"the clock is at {Elapsed} and cannot go back to {elapsed}");
        _now = next;
    }

    /// <inheritdoc />
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        throw new NotSupportedException("the simulator's clock has no timers: events are scheduled on its queue");
}
