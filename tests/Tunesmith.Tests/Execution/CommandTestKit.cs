using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Execution.Commands;
using Tunesmith.Schedulers;
using Tunesmith.Spaces;
using Tunesmith.Storage;

namespace Tunesmith.Tests.Execution;

/// <summary>A temp directory with Python scripts, and a study to run them in.</summary>
internal sealed class CommandTestKit : IDisposable
{
    public CommandTestKit()
    {
        Root = Path.Combine(Path.GetTempPath(), "tunesmith-cmd-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public string Script(string name, string body)
    {
        var path = Path.Combine(Root, name);
        File.WriteAllText(path, body.Replace("\r\n", "\n"));
        return path;
    }

    public static async Task<Study> NewStudyAsync(string metric = "val_f1", IScheduler? scheduler = null, Direction direction = Direction.Maximize) =>
        await Study.CreateAsync("s" + Guid.NewGuid().ToString("N")[..8], new StudyOptions
        {
            Direction = direction,
            Metric = metric,
            Scheduler = scheduler,
            StorageInstance = new InMemoryStudyStorage(),
        });

    public static SearchSpace Space() => new SearchSpace().Float("lr", 1e-4, 1e-1, log: true).Choice("opt", ["adam", "sgd"]);

    public CommandObjectiveOptions Options(string script, SearchSpace? space = null, IProgress<CommandTrialEvent>? progress = null,
        Func<Configuration, IEnumerable<string>>? extraArgs = null) => new()
    {
        Command = (c, _, _) => ["python3", script, .. extraArgs?.Invoke(c) ?? []],
        Space = space ?? Space(),
        RootDirectory = Path.Combine(Root, "run"),
        WorkingDirectory = Root,
        KillGrace = TimeSpan.FromSeconds(2),
        Progress = progress,
    };

    public string TrialDir(int n) => CommandObjective.TrialDirectory(Path.Combine(Root, "run"), n);

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Delivers progress events synchronously, on the reporting thread (Progress&lt;T&gt; would post them).</summary>
internal sealed class SyncProgress<T>(Action<T> onReport) : IProgress<T>
{
    public void Report(T value) => onReport(value);
}

/// <summary>Stops every trial at or after a given step.</summary>
internal sealed class StopAtStepScheduler(long step) : IScheduler
{
    public string Name => "stop-at-step";

    public SchedulerDecision Decide(StudyHistory history, FrozenTrial trial, long reportedStep, double value) =>
        reportedStep >= step ? SchedulerDecision.Stop : SchedulerDecision.Continue;
}
