using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Rendering;
using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Execution.Commands;
using Tunesmith.Spaces;
using Tunesmith.Backends.Resources;

namespace Tunesmith.Cli.Internal.Progress;

/// <summary>How a run shows its progress: a live view in a terminal, one line per finished trial, JSON events, or nothing.</summary>
internal enum ProgressMode { Live, Lines, Json, Quiet }

/// <summary>Writes a run's progress in one of the <see cref="ProgressMode"/>s while the run goes on.</summary>
internal static class ProgressViews
{
    public static ProgressMode Choose(bool quiet, string logFormat, CliConsole console) =>
        quiet ? ProgressMode.Quiet
        : logFormat == "json" ? ProgressMode.Json
        : console.OutputIsTerminal ? ProgressMode.Live
        : ProgressMode.Lines;

    /// <summary>
    /// Runs <paramref name="run"/> while showing its progress; returns its result. A wait of <paramref name="pool"/> for
    /// GPUs that other processes hold is said too (it would otherwise look stuck): a line on stderr, or a <c>gpu_wait</c>
    /// JSON event.
    /// </summary>
    public static async Task<T> ShowWhileAsync<T>(ProgressMode mode, RunProgress progress, CliConsole console, Func<Task<T>> run, ResourcePool? pool = null)
    {
        var gate = new object();
        if (pool is not null && mode != ProgressMode.Quiet)
            pool.WaitingForOtherProcesses += mode == ProgressMode.Json
                ? wait => { var line = GpuWaitJson(progress, wait); lock (gate) console.Out.WriteLine(line); }
                : wait => console.Error.WriteLine(GpuWaitLine(wait));
        switch (mode)
        {
            case ProgressMode.Lines:
                progress.Subscribe((e, at) =>
                {
                    if (e is CommandTrialFinished f) lock (gate) console.Out.WriteLine(FinishedLine(progress, f.Trial, at));
                    if (e is CommandTrialRecovered r) lock (gate) console.Error.WriteLine(RecoveredLine(r.Recovery));
                });
                return await run();
            case ProgressMode.Json:
                progress.Subscribe((e, _) => { var line = JsonEvent(progress, e); lock (gate) console.Out.WriteLine(line); });
                return await run();
            case ProgressMode.Live:
                progress.Subscribe((e, _) =>
                {
                    if (e is CommandTrialRecovered r) lock (gate) console.Error.WriteLine(RecoveredLine(r.Recovery));
                });
                var ansi = console.CreateAnsiConsole();
                T result = default!;
                await ansi.Live(Render(progress)).AutoClear(false).StartAsync(async ctx =>
                {
                    var task = run();
                    while (!task.IsCompleted)
                    {
                        ctx.UpdateTarget(Render(progress));
                        await Task.WhenAny(task, Task.Delay(250));
                    }
                    ctx.UpdateTarget(Render(progress));
                    result = await task;
                });
                return result;
            default:
                return await run();
        }
    }

    /// <summary>
    /// The one line printed (to stderr) for another runner's trial that this run (or <c>status --fail-stale</c>, whose
    /// <paramref name="prefix"/> names the study) found dead and failed; the library's own warning of it is not shown.
    /// </summary>
    public static string RecoveredLine(TrialRecovery r, string prefix = "tunesmith: ") =>
        $"{prefix}trial {r.Failed.Number} of worker {r.Failed.Worker ?? "?"} marked Failed ({FirstLine(r.Failed.FailReason)})"
        + (r.Retry is { } retry ? $"; retried as trial {retry.Number}" : "; no retry left");

    /// <summary>The line said (on stderr) when a trial waits for GPUs that other processes of this machine hold; once per set of holders.</summary>
    public static string GpuWaitLine(GpuWait wait)
    {
        var held = wait.HeldBy.GroupBy(e => e.Gpu, StringComparer.Ordinal)
            .Select(g => $"GPU {g.Key} by " + string.Join(", ", g.Select(e => $"pid {e.Pid.ToString(CultureInfo.InvariantCulture)} ({e.Trial})").Distinct()));
        // A run waits before it starts its next trial (the trial has no number yet); a library backend waits for a started trial.
        var then = wait.Trial.Contains(" trial ", StringComparison.Ordinal) ? "it starts" : "its next trial starts";
        return $"tunesmith: {wait.Trial} waits for a GPU held by another process: {string.Join("; ", held)}; {then} when one is free";
    }

    /// <summary>
    /// The <c>gpu_wait</c> JSON event of <see cref="GpuWaitLine"/>: no <c>trial</c> number (a run waits before it starts its
    /// next trial), <c>waiting</c> names who waits as the line does, and <c>held_by</c> lists the other processes' holdings.
    /// </summary>
    public static string GpuWaitJson(RunProgress p, GpuWait wait) => JsonLine(p, w =>
    {
        w.WriteString("event", "gpu_wait");
        w.WriteString("waiting", wait.Trial);
        w.WriteStartArray("held_by");
        foreach (var e in wait.HeldBy)
        {
            w.WriteStartObject();
            w.WriteString("gpu", e.Gpu);
            NumberText.WriteJson(w, "share", e.Share);
            w.WriteNumber("pid", e.Pid);
            w.WriteString("holder", e.Trial);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    });

    /// <summary>The line printed for a finished trial when output is not a terminal; <paramref name="at"/>: the counts its finish left.</summary>
    public static string FinishedLine(RunProgress p, FrozenTrial t, ProgressSnapshot at)
    {
        var of = p.Budget is { } b ? $"{at.Done}/{b}" : at.Done.ToString(CultureInfo.InvariantCulture);
        var outcome = t.State switch
        {
            TrialState.Complete => $"complete {p.Metric}={Formats.Value(t.Value)}",
            TrialState.Failed => $"failed: {FirstLine(t.FailReason)}"
                + (t.SystemAttributes.TryGetValue(SystemAttributeKeys.RetriedBy, out var retry) ? $"; retried as trial {retry}" : ""),
            _ => t.State.ToString().ToLowerInvariant(),
        };
        var parameters = RunProgress.FormatParams(t.Params) is { Length: > 0 } ps ? " " + ps : "";   // none: no second space
        var best = at.Best is { } bt ? $" | best #{bt.Number} {Formats.Value(bt.Value)}" : "";
        return $"[{of}] trial {t.Number} {outcome} ({Formats.Duration(t.Duration)}){parameters}{best}";
    }

    private static string FirstLine(string? s)
    {
        if (s is null) return "(no reason)";
        var line = s.Split('\n', 2)[0].Trim();
        return line.Length > 160 ? line[..160] + "…" : line;
    }

    private static string JsonEvent(RunProgress p, CommandTrialEvent e) => JsonLine(p, w =>
    {
        w.WriteNumber("trial", e.TrialNumber);
        switch (e)
        {
            case CommandTrialStarted s:
                w.WriteString("event", "started");
                w.WritePropertyName("params");
                w.WriteRawValue(ParamValues.ToJson(s.Params));
                w.WriteString("dir", s.Directory);
                if (s.Gpus.Count > 0) w.WriteString("gpus", string.Join(",", s.Gpus));
                if (s.RetryOf is { } retryOf) w.WriteNumber("retry_of", retryOf);
                break;
            case CommandTrialReported r:
                w.WriteString("event", "report");
                w.WriteNumber("step", r.Step);
                w.WriteStartObject("metrics");
                foreach (var (k, m) in r.Metrics) if (double.IsFinite(m)) NumberText.WriteJson(w, k, m); else w.WriteString(k, m.ToString(CultureInfo.InvariantCulture));
                w.WriteEndObject();
                break;
            case CommandTrialRecovered rc:
                w.WriteString("event", "recovered");
                w.WriteString("state", rc.Recovery.Failed.State.ToString());
                if (rc.Recovery.Failed.Worker is { } worker) w.WriteString("worker", worker);
                if (rc.Recovery.Failed.FailReason is { } why) w.WriteString("reason", why);
                if (rc.Recovery.Retry is { } retried) w.WriteNumber("retry", retried.Number);
                break;
            case CommandTrialFinished f:
                w.WriteString("event", "finished");
                w.WriteString("state", f.Trial.State.ToString());
                if (f.Trial.Value is { } v && double.IsFinite(v)) NumberText.WriteJson(w, "value", v); else w.WriteNull("value");
                w.WriteStartObject("metrics");
                foreach (var (k, x) in f.Trial.Metrics) if (double.IsFinite(x)) NumberText.WriteJson(w, k, x);
                w.WriteEndObject();
                w.WritePropertyName("params");
                w.WriteRawValue(ParamValues.ToJson(f.Trial.Params));
                if (f.Trial.Duration is { } d) w.WriteNumber("duration_seconds", Math.Round(d.TotalSeconds, 3));
                if (f.Trial.FailReason is { } reason) w.WriteString("reason", reason);
                break;
        }
    });

    /// <summary>One JSON event line: <c>time</c> and <c>study</c>, then what <paramref name="fields"/> writes.</summary>
    private static string JsonLine(RunProgress p, Action<Utf8JsonWriter> fields)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("time", p.Now.ToString("O", CultureInfo.InvariantCulture));
            w.WriteString("study", p.Study);
            fields(w);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    private static IRenderable Render(RunProgress p)
    {
        var done = p.Done;
        var header = $"[bold]{Markup.Escape(p.Study)}[/]  done {done}{(p.Budget is { } b ? $"/{b}" : "")}  " +
            $"[green]complete {p.Complete}[/]  [yellow]pruned {p.Pruned}[/]  [red]failed {p.Failed}[/]  " +
            (p.Paused > 0 ? $"paused {p.Paused}  " : "") + $"running {p.Running.Count}  " +
            $"elapsed {Formats.Duration(p.Now - p.StartedAt)}" + (p.Eta is { } eta ? $"  ETA {Formats.Duration(eta)}" : "");
        var best = p.Best is { } bt
            ? $"best: trial {bt.Number}  {Markup.Escape(p.Metric)} = [bold]{Formats.Value(bt.Value)}[/]" + (bt.Params.Count > 0 ? "  " + Markup.Escape(RunProgress.FormatParams(bt.Params)) : "")
            : "best: -";
        var table = new Table().Border(TableBorder.Simple);
        table.AddColumn(new TableColumn("trial").RightAligned());
        table.AddColumn(new TableColumn("elapsed").RightAligned());
        table.AddColumn(new TableColumn("step").RightAligned());
        table.AddColumn(new TableColumn("last report"));
        table.AddColumn(new TableColumn("params"));
        foreach (var r in p.Running)
        {
            var last = r.LastMetrics.Count == 0 ? "-" : string.Join(" ", r.LastMetrics.Where(m => m.Key != "step").Select(m => $"{m.Key}={Formats.Value(m.Value)}"));
            table.AddRow(
                new Text(r.Number.ToString(CultureInfo.InvariantCulture)),
                new Text(Formats.Duration(p.Now - r.Started)),
                new Text(r.Step?.ToString(CultureInfo.InvariantCulture) ?? "-"),
                new Text(last),
                new Text(RunProgress.FormatParams(r.Params)));
        }
        return new Rows(new Markup(header), new Markup(best), table);
    }
}
