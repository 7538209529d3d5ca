using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Tunesmith.Reporting.Html;
using Tunesmith.Reporting.Plots;
using Tunesmith.Storage;

namespace Tunesmith.Dashboard.Internal;

/// <summary>The dashboard's pages, assets, JSON API and event streams.</summary>
internal static class DashboardEndpoints
{
    // A trial's directory is the one its runner recorded on it (StudyFileRun.RunDirectoryAsync chose it); the dashboard
    // never recomputes it.
    private const string StdoutFile = Tunesmith.Backends.TrialDirectories.StdoutFile;
    private const string StderrFile = Tunesmith.Backends.TrialDirectories.StderrFile;
    private const string TrialDirectoryKey = Tunesmith.Execution.Commands.CommandAttributeKeys.TrialDirectory;

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/", () => Page("index.html"));
        app.MapGet("/studies/{name}", (string name) => Page("study.html"));
        app.MapGet("/studies/{name}/trials/{number:int}", (string name, int number) => Page("trial.html"));
        app.MapGet("/assets/{file}", (string file, HttpContext context) => Asset(file, context));
        app.MapGet("/healthz", () => Results.Text("ok\n"));

        app.MapGet("/api/studies", async (StudyFeed feed, CancellationToken ct) => Results.Json(await StudiesAsync(feed, ct), DashboardHost.Json));
        app.MapGet("/api/studies/{name}", async (HttpContext context, StudyFeed feed, CancellationToken ct) =>
        {
            var name = StudyName(context);
            // Answered from the quick first read when the study's full read is not done yet (the best trial then has no params).
            var cache = await feed.GetAsync(name, ct);
            if (cache is null) return NotFound(name);
            var preview = await cache.PreviewAsync(ct);
            var snapshot = preview.Outline ? preview : await cache.RefreshAsync(feed.Options.PollInterval, ct);
            return Results.Json(Summary(snapshot), DashboardHost.Json);
        });
        app.MapGet("/api/studies/{name}/plots/history", async (HttpContext context, StudyFeed feed, CancellationToken ct) =>
        {
            var name = StudyName(context);
            var cache = await feed.GetAsync(name, ct);
            return cache is null ? NotFound(name) : Results.Text(await cache.HistoryJsonAsync(ct), "application/json; charset=utf-8");
        });
        app.MapGet("/api/studies/{name}/trials", async (HttpRequest request, StudyFeed feed, CancellationToken ct) =>
        {
            var name = StudyName(request.HttpContext);
            var snapshot = await SnapshotAsync(feed, name, ct);
            if (snapshot is null) return NotFound(name);
            var q = request.Query;
            var query = TrialsQuery.Parse(q["sort"], q["desc"], q["state"], q["range"].Where(r => r is not null).Select(r => r!), q["offset"], q["limit"]);
            var (matched, page) = query.Run(snapshot.Trials, snapshot.Study.Record.Direction);
            return Results.Json(new
            {
                total = snapshot.Trials.Count,
                matched,
                offset = query.Offset,
                cursor = snapshot.Serial,
                parameters = snapshot.Axes,
                metrics = snapshot.Trials.SelectMany(t => ShownMetrics.Of(t).Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList(),
                rows = page.Select(Row).ToList(),
            }, DashboardHost.Json);
        });
        app.MapGet("/api/studies/{name}/plots", async (HttpContext context, StudyFeed feed, CancellationToken ct) =>
        {
            var name = StudyName(context);
            var snapshot = await SnapshotAsync(feed, name, ct);
            return snapshot is null ? NotFound(name) : Results.Text((await snapshot.Study.PlotsAsync(snapshot, ct)).Json, "application/json; charset=utf-8");
        });
        app.MapGet("/api/studies/{name}/trials/{number:int}", async (HttpContext context, int number, StudyFeed feed, CancellationToken ct) =>
        {
            var name = StudyName(context);
            var snapshot = await SnapshotAsync(feed, name, ct);
            if (snapshot is null) return NotFound(name);
            var trial = snapshot.Trial(number);
            if (trial is null) return Results.Json(new { error = $"study '{name}' has no trial {number}" }, DashboardHost.Json, statusCode: 404);
            return Results.Json(TrialDetail(snapshot, trial), DashboardHost.Json);
        });
        app.MapGet("/api/events", EventsAsync);
    }

    private const string StudiesPrefix = "/api/studies/";

    /// <summary>
    /// The study named by an API path. Kestrel decodes every escape of a path except <c>%2F</c>, so the route value of a
    /// name holding '/' keeps "%2F" (and cannot be told from a name holding a literal "%2F"); the name is read again from
    /// the raw request target, where every escape is still in place.
    /// </summary>
    private static string StudyName(HttpContext context)
    {
        var raw = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget;
        if (raw is null || !raw.StartsWith(StudiesPrefix, StringComparison.Ordinal))
            return (string)context.Request.RouteValues["name"]!;
        var segment = raw[StudiesPrefix.Length..];
        var end = segment.IndexOfAny(['/', '?']);
        return Uri.UnescapeDataString(end < 0 ? segment : segment[..end]);
    }

    private static IResult NotFound(string name) =>
        Results.Json(new { error = $"study '{name}' does not exist" }, DashboardHost.Json, statusCode: 404);

    private static async Task<StudySnapshot?> SnapshotAsync(StudyFeed feed, string name, CancellationToken ct)
    {
        var cache = await feed.GetAsync(name, ct);
        return cache is null ? null : await cache.RefreshAsync(feed.Options.PollInterval, ct);
    }

    private static IResult Page(string file) => Results.Text(Embedded(file) ?? "", "text/html; charset=utf-8");

    private static IResult Asset(string file, HttpContext context)
    {
        var contentType = Path.GetExtension(file) switch
        {
            ".js" => "text/javascript; charset=utf-8",
            ".css" => "text/css; charset=utf-8",
            _ => "text/plain; charset=utf-8",
        };
        var text = ReportAssets.Names.Contains(file) ? ReportAssets.Read(file) : Embedded(file);
        if (text is null) return Results.NotFound();
        // Revalidated by content hash: a browser keeps the scripts (and their compiled code) between visits, and an
        // upgraded dashboard's new scripts are fetched at once.
        var etag = AssetTags.GetOrAdd(file, _ => "\"" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(text)), 0, 12) + "\"");
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers.ETag = etag;
        if (context.Request.Headers.IfNoneMatch.Contains(etag)) return Results.StatusCode(StatusCodes.Status304NotModified);
        return Results.Text(text, contentType);
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> AssetTags = new(StringComparer.Ordinal);

    private static readonly Dictionary<string, string?> EmbeddedCache = new(StringComparer.Ordinal);

    private static string? Embedded(string file)
    {
        lock (EmbeddedCache)
        {
            if (EmbeddedCache.TryGetValue(file, out var cached)) return cached;
            using var stream = typeof(DashboardEndpoints).Assembly.GetManifestResourceStream("Tunesmith.Dashboard.wwwroot." + file);
            string? text = null;
            if (stream is not null) { using var reader = new StreamReader(stream, Encoding.UTF8); text = reader.ReadToEnd(); }
            return EmbeddedCache[file] = text;
        }
    }

    private static async Task<List<object>> StudiesAsync(StudyFeed feed, CancellationToken ct)
    {
        var result = new List<object>();
        foreach (var s in await feed.ListAsync(ct))
        {
            var snapshot = await SnapshotAsync(feed, s.Study.Name, ct);
            result.Add(new
            {
                name = s.Study.Name,
                direction = s.Study.Direction,
                metric = snapshot?.Study.Metric ?? "value",
                counts = Enum.GetValues<TrialState>().ToDictionary(st => st.ToString(), st => s.Count(st)),
                total = s.Counts.Values.Sum(),
                best = s.BestValue,
                lastActivity = snapshot?.LastActivity,
                created = s.Study.Created,
            });
        }
        return result;
    }

    private static object Summary(StudySnapshot snapshot)
    {
        var record = snapshot.Study.Record;
        var best = snapshot.Best;
        return new
        {
            name = record.Name,
            direction = record.Direction,
            metric = snapshot.Study.Metric,
            created = record.Created,
            total = snapshot.Trials.Count,
            counts = snapshot.Counts,
            best = best is null ? null : Row(best),
            lastActivity = snapshot.LastActivity,
            cursor = snapshot.Serial,
            userAttributes = record.UserAttributes,
            systemAttributes = record.SystemAttributes.Where(a => a.Key != "study_file").ToDictionary(a => a.Key, a => a.Value),
        };
    }

    private static object Row(FrozenTrial t) => new
    {
        number = t.Number,
        state = t.State,
        value = t.Value,
        @params = t.Params,
        // A Complete trial's result, a Pruned, Paused or Running command trial's last report (as `tunesmith report` shows).
        metrics = ShownMetrics.Of(t),
        duration = t.Duration?.TotalSeconds,
        started = t.Started,
        finished = t.Finished,
        worker = t.Worker,
        host = t.Worker is null ? null : StudyPlotsBuilder.HostOf(t.Worker),
        lastStep = t.LastIntermediate?.Step,
        lastValue = t.LastIntermediate?.Value,
        failReason = t.FailReason,
    };

    private static object TrialDetail(StudySnapshot snapshot, FrozenTrial t)
    {
        var directory = t.SystemAttributes.TryGetValue(TrialDirectoryKey, out var d) ? d as string : null;
        // Retries: the trials this one retried and the ones that retried it (system attributes retry_of / retried_by).
        var related = snapshot.Trials.Where(o => o.Number != t.Number && (Links(o, t.Number) || Links(t, o.Number)))
            .Select(o => new { number = o.Number, state = o.State, failReason = o.FailReason, retryOf = Attr(o, SystemAttributeKeys.RetryOf), retriedBy = Attr(o, SystemAttributeKeys.RetriedBy) })
            .ToList();
        return new
        {
            study = snapshot.Study.Record.Name,
            metric = snapshot.Study.Metric,
            trial = Row(t),
            distributions = t.Distributions.ToDictionary(x => x.Key, x => x.Value.Describe()),
            intermediate = t.Intermediate.OrderBy(x => x.Key).Select(x => new[] { x.Key, x.Value }).ToList(),
            intermediateMetrics = t.IntermediateMetrics.ToDictionary(m => m.Key, m => m.Value.OrderBy(x => x.Key).Select(x => new[] { x.Key, x.Value }).ToList()),
            userAttributes = t.UserAttributes,
            systemAttributes = t.SystemAttributes,
            created = t.Created,
            heartbeat = t.Heartbeat,
            retryOf = Attr(t, SystemAttributeKeys.RetryOf),
            retryCount = Attr(t, SystemAttributeKeys.RetryCount),
            retriedBy = Attr(t, SystemAttributeKeys.RetriedBy),
            retries = related,
            trialDirectory = directory,
            stdout = LogTail.Read(directory, StdoutFile),
            stderr = LogTail.Read(directory, StderrFile),
        };
    }

    private static object? Attr(FrozenTrial t, string key) => t.SystemAttributes.TryGetValue(key, out var v) ? v : null;

    private static bool Links(FrozenTrial from, int to) =>
        (from.SystemAttributes.TryGetValue(SystemAttributeKeys.RetryOf, out var a) && Spaces.ParamValues.TryToLong(a, out var x) && x == to)
        || (from.SystemAttributes.TryGetValue(SystemAttributeKeys.RetriedBy, out var b) && Spaces.ParamValues.TryToLong(b, out var y) && y == to);

    /// <summary>
    /// Server-sent events: with <c>?study=NAME</c>, a <c>study</c> event whenever its trials change (the changed trials'
    /// rows, the counts and the best); without, a <c>studies</c> event whenever the list of studies or their counts change.
    /// </summary>
    private static async Task EventsAsync(HttpContext context, StudyFeed feed)
    {
        var ct = context.RequestAborted;
        var response = context.Response;
        response.Headers.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        var study = context.Request.Query["study"].ToString();
        await response.WriteAsync("retry: 1000\n\n", ct);
        await response.Body.FlushAsync(ct);
        var interval = feed.Options.PollInterval;
        try
        {
            if (study.Length > 0)
            {
                var cache = await feed.GetAsync(study, ct);
                if (cache is null) { await SendAsync(response, "error", new { error = $"study '{study}' does not exist" }, ct); return; }
                // One poller per study reads it every interval while any stream watches; this stream wakes on a change.
                using var watch = cache.Watch(interval);
                var snapshot = await cache.RefreshAsync(interval, ct);
                var sent = snapshot.Serial;
                await SendAsync(response, "study", StudyEvent(snapshot, null), ct);
                while (!ct.IsCancellationRequested)
                {
                    try
                    {
                        snapshot = await cache.NextAsync(sent, ct).WaitAsync(KeepAlive, feed.Time, ct);
                    }
                    catch (TimeoutException)
                    {
                        await response.WriteAsync(": keep-alive\n\n", ct);
                        await response.Body.FlushAsync(ct);
                        continue;
                    }
                    var changed = cache.ChangedSince(sent);
                    await SendAsync(response, "study", StudyEvent(snapshot, changed), ct);
                    sent = snapshot.Serial;
                }
            }
            else
            {
                string? last = null;
                while (!ct.IsCancellationRequested)
                {
                    var json = JsonSerializer.Serialize(await StudiesAsync(feed, ct), DashboardHost.Json);
                    if (json != last)
                    {
                        await response.WriteAsync($"event: studies\ndata: {json}\n\n", ct);
                        await response.Body.FlushAsync(ct);
                        last = json;
                    }
                    await Task.Delay(interval, feed.Time, ct);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // the browser went away
        }
    }

    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);

    private static object StudyEvent(StudySnapshot snapshot, IReadOnlyCollection<int>? changed) => new
    {
        cursor = snapshot.Serial,
        total = snapshot.Trials.Count,
        counts = snapshot.Counts,
        best = snapshot.Best is { } b ? Row(b) : null,
        lastActivity = snapshot.LastActivity,
        // null: everything may have changed (first event, or the browser fell far behind)
        changed = changed?.Take(500).Select(n => snapshot.Trial(n)).Where(t => t is not null).Select(t => Row(t!)).ToList(),
        changedCount = changed?.Count,
    };

    private static async Task SendAsync(HttpResponse response, string name, object payload, CancellationToken ct)
    {
        await response.WriteAsync($"event: {name}\ndata: {JsonSerializer.Serialize(payload, DashboardHost.Json)}\n\n", ct);
        await response.Body.FlushAsync(ct);
    }
}
