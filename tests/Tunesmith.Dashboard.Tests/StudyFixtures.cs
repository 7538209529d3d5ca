using Tunesmith.Spaces;
using Tunesmith.Storage;

namespace Tunesmith.Dashboard.Tests;

/// <summary>Studies written straight through the storage contract, as workers write them.</summary>
internal static class StudyFixtures
{
    public static readonly Dictionary<string, Distribution> Space = new()
    {
        ["x"] = new FloatDistribution(-1, 1),
        ["lr"] = new FloatDistribution(1e-4, 1e-1, Log: true),
        ["opt"] = new CategoricalDistribution(["adam", "sgd"]),
    };

    /// <summary>Creates study <paramref name="name"/> with <paramref name="count"/> finished trials: x decides the value; every 7th is pruned, every 11th failed.</summary>
    public static async Task<StudyRecord> WriteAsync(IStudyStorage storage, string name, int count, string? trialDirectoryRoot = null, string worker = "hostA:1:w")
    {
        var study = await storage.CreateStudyAsync(name, Direction.Minimize);
        await storage.SetStudyAttributesAsync(study.Id, system: true, [new(SystemAttributeKeys.Metric, "loss")]);
        for (var i = 0; i < count; i++) await AddTrialAsync(storage, study.Id, i, trialDirectoryRoot, worker);
        return study;
    }

    public static async Task<FrozenTrial> AddTrialAsync(IStudyStorage storage, long studyId, int i, string? trialDirectoryRoot = null, string worker = "hostA:1:w")
    {
        var t = await storage.StartTrialAsync(studyId, worker) ?? throw new InvalidOperationException("no trial started");
        var x = -1 + 2.0 * ((i * 37) % 101) / 100;
        var lr = Math.Pow(10, -4 + 3.0 * ((i * 53) % 97) / 96);
        var opt = i % 2 == 0 ? "adam" : "sgd";
        var value = (x - 0.3) * (x - 0.3) + (opt == "sgd" ? 0.1 : 0);
        var state = i % 11 == 10 ? TrialState.Failed : i % 7 == 6 ? TrialState.Pruned : TrialState.Complete;
        var attributes = new List<KeyValuePair<string, object?>>();
        if (trialDirectoryRoot is not null)
        {
            var dir = Path.Combine(trialDirectoryRoot, i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Directory.CreateDirectory(dir);
            await File.WriteAllTextAsync(Path.Combine(dir, "stdout.log"), string.Concat(Enumerable.Range(1, 3).Select(s => $"epoch {s} of trial {i}\n")));
            await File.WriteAllTextAsync(Path.Combine(dir, "stderr.log"), $"warning from trial {i}\n");
            attributes.Add(new("trial_dir", dir));
        }
        if (state == TrialState.Failed) attributes.Add(new(SystemAttributeKeys.FailReason, "exit code 3"));
        var update = new TrialUpdate
        {
            Params = [("x", x, Space["x"]), ("lr", lr, Space["lr"]), ("opt", opt, Space["opt"])],
            Intermediate = Enumerable.Range(1, state == TrialState.Pruned ? 2 : 4).Select(s => ((long)s, value + 1.0 / s)).ToList(),
            SystemAttributes = attributes,
            Metrics = state == TrialState.Complete ? [new("loss", value), new("acc", 1 - value)] : [],
            FinalState = state,
            Value = state == TrialState.Complete ? value : null,
        };
        var outcome = await storage.UpdateTrialAsync(t.Id, worker, update);
        if (outcome != TrialWriteOutcome.Applied) throw new InvalidOperationException($"write refused: {outcome}");
        return (await storage.GetTrialAsync(t.Id))!;
    }
}
