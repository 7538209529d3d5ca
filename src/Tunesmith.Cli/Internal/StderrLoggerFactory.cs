using Microsoft.Extensions.Logging;
using Tunesmith.Execution;

namespace Tunesmith.Cli.Internal;

/// <summary>
/// The CLI's logger factory: what the library logs goes to stderr, one line a message (<c>tunesmith: warning: …</c>),
/// at or above one level. Built once at the entry point from the arguments (<see cref="ForArguments"/>): warnings and
/// errors by default, everything with <c>-v</c>/<c>--verbose</c>, nothing with <c>-q</c>/<c>--quiet</c>. Stdout is left
/// to the commands' results.
/// </summary>
internal sealed class StderrLoggerFactory(TextWriter error, LogLevel minimum) : ILoggerFactory
{
    private readonly object _gate = new();

    /// <summary>The lowest level written; <see cref="LogLevel.None"/> writes nothing.</summary>
    public LogLevel Minimum { get; } = minimum;

    /// <summary>
    /// The level the arguments ask for: <see cref="LogLevel.None"/> with <c>-q</c>/<c>--quiet</c>, <see cref="LogLevel.Debug"/>
    /// with <c>-v</c>/<c>--verbose</c>, else <see cref="LogLevel.Warning"/>.
    /// </summary>
    public static LogLevel LevelFor(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var words = args.TakeWhile(a => a != "--").ToList();
        if (words.Contains("-q") || words.Contains("--quiet")) return LogLevel.None;
        if (words.Contains("-v") || words.Contains("--verbose")) return LogLevel.Debug;
        return LogLevel.Warning;
    }

    /// <summary>The factory for a command line: stderr at <see cref="LevelFor"/>'s level.</summary>
    public static StderrLoggerFactory ForArguments(IReadOnlyList<string> args, TextWriter error) => new(error, LevelFor(args));

    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    /// <summary>Providers are not supported: this factory writes to stderr only.</summary>
    public void AddProvider(ILoggerProvider provider) =>
        throw new NotSupportedException("the CLI logs to stderr only");

    /// <inheritdoc />
    public void Dispose() { }

    private void Write(LogLevel level, string category, string message, Exception? exception)
    {
        var word = level switch
        {
            LogLevel.Trace => "trace",
            LogLevel.Debug => "debug",
            LogLevel.Information => "info",
            LogLevel.Warning => "warning",
            LogLevel.Error => "error",
            _ => "critical",
        };
        // Below a warning the source helps to read a verbose log; a warning stands on its own.
        var source = level < LogLevel.Warning ? category[(category.LastIndexOf('.') + 1)..] + ": " : "";
        var text = exception is null ? message : $"{message} ({exception.GetType().Name}: {exception.Message})";
        var line = $"tunesmith: {word}: {source}{ErrorLine.OneLine(text)}";
        lock (_gate) error.WriteLine(line);
    }

    private sealed class Logger(StderrLoggerFactory owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && owner.Minimum != LogLevel.None && logLevel >= owner.Minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            ArgumentNullException.ThrowIfNull(formatter);
            if (!IsEnabled(logLevel)) return;
            // Every command that runs trials prints each finished trial with its reason itself (a progress line or a JSON
            // event), and each trial it recovered from a dead runner (as status --fail-stale does); the library's warning
            // would say it twice. -v shows it.
            if ((eventId == StudyLogEvents.TrialFailed || eventId == StudyLogEvents.TrialRecovered) && owner.Minimum > LogLevel.Information) return;
            // A spent budget and enqueued trials past it are said by the commands in their own words (--trials, not
            // OptimizeOptions.Trials; see CommandRunSession, EnqueueCommand); -v shows the library's line too.
            if ((eventId == StudyLogEvents.BudgetSpent || eventId == StudyLogEvents.WaitingBeyondBudget) && owner.Minimum > LogLevel.Information) return;
            owner.Write(logLevel, category, formatter(state, exception), exception);
        }
    }
}
