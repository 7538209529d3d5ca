using System.Globalization;
using Tunesmith.Backends;

namespace Tunesmith.Testing;

/// <summary>
/// The trial program the backend conformance suite runs, written once per way of running a trial: a Python script for
/// process and cluster backends, a function for <see cref="InProcessBackend"/>; a simulator replays the same behaviour.
/// </summary>
/// <remarks>
/// Behaviour, from its params <c>steps</c>, <c>value</c>, <c>step_seconds</c> and <c>fail</c>: it fails at once when
/// <c>fail</c> is true (non-zero exit, or an exception); else it starts after the step it resumes from (the resume step
/// it is given, or the step in <see cref="CheckpointFile"/> when its directory holds one, whichever is later), and for
/// each step up to <c>steps - 1</c> waits <c>step_seconds</c>, reports <c>{"step": s, "loss": value + s}</c> and then
/// writes <c>s</c> to its checkpoint file (atomically); at the end its result is <c>{"loss": value}</c>. Asked to end
/// (SIGTERM, or its token), it finishes the step it is in and exits without a result.
/// </remarks>
public static class ReferenceTrial
{
    /// <summary>The metric the reference trial reports.</summary>
    public const string Metric = "loss";

    /// <summary>The file in its trial directory that holds the last step it finished.</summary>
    public const string CheckpointFile = "checkpoint.txt";

    /// <summary>The params of a reference trial.</summary>
    /// <param name="steps">How many steps it reports (0 .. steps - 1).</param>
    /// <param name="value">Its result; step s reports value + s.</param>
    /// <param name="stepSeconds">How long each step takes.</param>
    /// <param name="fail">Fail at once instead.</param>
    public static IReadOnlyDictionary<string, object?> Params(int steps, double value = 1.0, double stepSeconds = 0.02, bool fail = false) =>
        new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["steps"] = (long)steps,
            ["value"] = value,
            ["step_seconds"] = stepSeconds,
            ["fail"] = fail,
        };

    /// <summary>The reference trial as an <see cref="InProcessTrialFunction"/>.</summary>
    public static async Task<IReadOnlyDictionary<string, double>> RunInProcessAsync(InProcessTrialContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var p = context.Params;
        if (Convert.ToBoolean(p["fail"], CultureInfo.InvariantCulture)) throw new InvalidOperationException("the reference trial fails on purpose");
        var steps = Convert.ToInt64(p["steps"], CultureInfo.InvariantCulture);
        var value = Convert.ToDouble(p["value"], CultureInfo.InvariantCulture);
        var stepTime = TimeSpan.FromSeconds(Convert.ToDouble(p["step_seconds"], CultureInfo.InvariantCulture));
        var start = (context.ResumeAfterStep ?? -1) + 1;
        var checkpoint = context.Directory is { } d ? Path.Combine(d, CheckpointFile) : null;
        if (checkpoint is not null && File.Exists(checkpoint))
            start = Math.Max(start, long.Parse(await File.ReadAllTextAsync(checkpoint).ConfigureAwait(false), CultureInfo.InvariantCulture) + 1);
        for (var step = start; step < steps; step++)
        {
            await Task.Delay(stepTime, context.CancellationToken).ConfigureAwait(false); // the trial's work
            await context.ReportAsync(step, new Dictionary<string, double> { [Metric] = value + step }).ConfigureAwait(false);
            if (checkpoint is not null)
            {
                await File.WriteAllTextAsync(checkpoint + ".tmp", step.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
                File.Move(checkpoint + ".tmp", checkpoint, overwrite: true);
            }
        }
        return new Dictionary<string, double> { [Metric] = value };
    }

    /// <summary>The reference trial as a Python 3 script (standard library only) speaking the trial protocol.</summary>
    public const string PythonScript = """
        import json, os, signal, sys, time
        p = json.loads(os.environ["TUNESMITH_PARAMS"])
        stopping = []
        signal.signal(signal.SIGTERM, lambda *a: stopping.append(1))
        if p["fail"]:
            print("the reference trial fails on purpose", file=sys.stderr)
            sys.exit(3)
        start = int(os.environ.get("TUNESMITH_RESUME_STEP", "-1")) + 1
        checkpoint = os.path.join(os.environ["TUNESMITH_TRIAL_DIR"], "checkpoint.txt")
        if os.path.exists(checkpoint):
            with open(checkpoint) as f:
                start = max(start, int(f.read()) + 1)
        for step in range(start, p["steps"]):
            if stopping:
                sys.exit(0)
            time.sleep(p["step_seconds"])
            print("tunesmith:report " + json.dumps({"step": step, "loss": p["value"] + step}), flush=True)
            with open(checkpoint + ".tmp", "w") as f:
                f.write(str(step))
            os.replace(checkpoint + ".tmp", checkpoint)
        if stopping:
            sys.exit(0)
        print("tunesmith:result " + json.dumps({"loss": p["value"]}), flush=True)
        """;
}
