using Tunesmith.Execution;
using Tunesmith.Samplers;
using Tunesmith.Schedulers;
using Tunesmith.Schedulers.Asha;
using Tunesmith.Schedulers.Hyperband;
using Tunesmith.Tests.Storage;
using Tunesmith.Trials;
using Xunit;

namespace Tunesmith.Tests.Schedulers;

/// <summary>
/// Two workers — two studies with their own storage connections and their own scheduler objects — run one study on one
/// SQLite file or one PostgreSQL schema. Each report is stored and decided while holding one lock, so the reports have
/// one order; a single scheduler replaying them in that order, with no storage at all, must make the same decisions.
/// A scheduler that kept its rungs in memory would not: each worker would see only its own trials.
/// </summary>
public sealed class DistributedSchedulingTests
{
    private sealed record Report(int Trial, long Step, double Value, bool Stopped);

    public static TheoryData<string> Schedulers => ["asha", "hyperband"];

    private static IScheduler Create(string name) => name switch
    {
        "asha" => new AshaScheduler(new AshaOptions { MinResource = 1, MaxResource = 9, ReductionFactor = 3 }),
        _ => new HyperbandScheduler(new HyperbandOptions { MinResource = 1, MaxResource = 9, ReductionFactor = 3, Seed = 2 }),
    };

    [Theory]
    [MemberData(nameof(Schedulers))]
    public async Task Two_workers_on_one_sqlite_file_decide_as_a_single_replay_of_their_reports(string scheduler)
    {
        var directory = Directory.CreateTempSubdirectory("tunesmith-sched-");
        try { await TwoWorkersAsync($"sqlite:///{directory.FullName}/study.db", scheduler); }
        finally { directory.Delete(recursive: true); }
    }

    [SkippableTheory]
    [MemberData(nameof(Schedulers))]
    public async Task Two_workers_on_one_postgresql_study_decide_as_a_single_replay_of_their_reports(string scheduler)
    {
        await using var schema = PostgresTestServer.NewSchema();
        await TwoWorkersAsync(schema.Url, scheduler);
    }

    private static async Task TwoWorkersAsync(string storage, string scheduler)
    {
        var gate = new SemaphoreSlim(1, 1);
        var log = new List<Report>();
        TaskCompletionSource[] running = [new(TaskCreationOptions.RunContinuationsAsynchronously), new(TaskCreationOptions.RunContinuationsAsynchronously)];
        async Task WorkerAsync(int worker)
        {
            await using var study = await Study.CreateOrLoadAsync("two-workers", new StudyOptions
            {
                Direction = Direction.Maximize, Storage = storage, Sampler = new RandomSampler(seed: 10 + worker), Scheduler = Create(scheduler),
            });
            await study.OptimizeAsync(async (trial, ct) =>
            {
                // Neither worker gets ahead before the other has started: both run trials side by side.
                running[worker].TrySetResult();
                await running[1 - worker].Task.WaitAsync(TimeSpan.FromSeconds(60), ct);
                var x = trial.SuggestFloat("x", 0, 1);
                var value = 0.0;
                for (var step = 1; step <= 9; step++)
                {
                    value = x * Math.Log(1 + step) + 0.05 * Math.Sin(7 * x * step);
                    await gate.WaitAsync(ct);
                    try
                    {
                        try { await trial.ReportAsync(step, value, ct); }
                        catch (TrialPrunedException)
                        {
                            log.Add(new Report(trial.Number, step, value, Stopped: true));
                            throw;
                        }
                        log.Add(new Report(trial.Number, step, value, Stopped: false));
                    }
                    finally { gate.Release(); }
                }
                return value;
            }, new OptimizeOptions { Trials = 30, Parallelism = 2 });
        }
        await Task.WhenAll(WorkerAsync(0), WorkerAsync(1));

        await using (var read = await Study.LoadAsync("two-workers", new StudyOptions { Storage = storage }))
            Assert.Equal(2, (await read.GetTrialsAsync()).Select(t => t.Worker).Distinct().Count()); // both workers ran trials
        Assert.Contains(log, r => r.Stopped);
        var replay = Create(scheduler);
        var curves = new Dictionary<int, Dictionary<long, double>>();
        foreach (var report in log)
        {
            if (!curves.TryGetValue(report.Trial, out var curve)) curves[report.Trial] = curve = [];
            curve[report.Step] = report.Value;
            var history = SchedulerTestHistory.History(Direction.Maximize,
                curves.Select(c => SchedulerTestHistory.Trial(c.Key, TrialState.Running, new Dictionary<long, double>(c.Value))));
            var decision = replay.Decide(history, history.Trials.Single(t => t.Number == report.Trial), report.Step, report.Value);
            Assert.True(report.Stopped == (decision == SchedulerDecision.Stop),
                $"trial {report.Trial} at step {report.Step}: the workers {(report.Stopped ? "stopped" : "continued")} it, the replay says {decision}");
        }
    }
}
