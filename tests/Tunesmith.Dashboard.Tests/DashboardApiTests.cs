using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Tunesmith.Storage;
using Tunesmith.Tests.Storage;
using Xunit;

namespace Tunesmith.Dashboard.Tests;

/// <summary>The dashboard's JSON API, pages and event stream, hosted in memory by WebApplicationFactory over a real SQLite file.</summary>
public sealed class DashboardApiTests : IAsyncLifetime
{
    private const string Token = "s3cret-token-for-tests";
    private readonly string _dir = Directory.CreateTempSubdirectory("tunesmith-dash-").FullName;
    private string Url => $"sqlite:///{Path.Combine(_dir, "studies.db")}";
    private IStudyStorage _writer = null!;
    private StudyRecord _study = null!;

    public async Task InitializeAsync()
    {
        _writer = StudyStorage.Open(Url);
        _study = await StudyFixtures.WriteAsync(_writer, "digits", 60, Path.Combine(_dir, "trials"));
        await StudyFixtures.WriteAsync(_writer, "empty-ish", 0);
    }

    public async Task DisposeAsync()
    {
        await _writer.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private WebApplicationFactory<DashboardProgram> Factory(string? token = null) =>
        new WebApplicationFactory<DashboardProgram>().WithWebHostBuilder(b =>
        {
            b.UseSetting("storage", Url);
            if (token is not null) b.UseSetting("token", token);
        });

    private static async Task<JsonElement> GetJsonAsync(HttpClient client, string path)
    {
        var response = await client.GetAsync(path);
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task Studies_list_gives_counts_per_state_the_best_value_and_last_activity()
    {
        await using var factory = Factory();
        var studies = await GetJsonAsync(factory.CreateClient(), "/api/studies");
        var digits = studies.EnumerateArray().Single(s => s.GetProperty("name").GetString() == "digits");
        Assert.Equal(60, digits.GetProperty("total").GetInt32());
        Assert.Equal(5, digits.GetProperty("counts").GetProperty("Failed").GetInt32());
        Assert.Equal(8, digits.GetProperty("counts").GetProperty("Pruned").GetInt32());
        Assert.Equal(47, digits.GetProperty("counts").GetProperty("Complete").GetInt32());
        Assert.Equal("loss", digits.GetProperty("metric").GetString());
        Assert.Equal(JsonValueKind.String, digits.GetProperty("lastActivity").ValueKind);
        var trials = (await _writer.GetTrialsSinceAsync(_study.Id, 0)).Trials;
        var best = trials.Where(t => t.State == TrialState.Complete).Min(t => t.Value!.Value);
        Assert.Equal(best, digits.GetProperty("best").GetDouble(), 12);
        Assert.Contains(studies.EnumerateArray(), s => s.GetProperty("name").GetString() == "empty-ish");
    }

    [Fact]
    public async Task Trials_are_sorted_filtered_by_state_and_parameter_range_and_paged_on_the_server()
    {
        await using var factory = Factory();
        var client = factory.CreateClient();
        var page = await GetJsonAsync(client, "/api/studies/digits/trials?sort=value&limit=10");
        Assert.Equal(60, page.GetProperty("total").GetInt32());
        var values = page.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("value")).Where(v => v.ValueKind == JsonValueKind.Number).Select(v => v.GetDouble()).ToList();
        Assert.Equal(values.Order(), values);

        var pruned = await GetJsonAsync(client, "/api/studies/digits/trials?state=Pruned&limit=100");
        Assert.Equal(8, pruned.GetProperty("matched").GetInt32());
        Assert.All(pruned.GetProperty("rows").EnumerateArray(), r => Assert.Equal("Pruned", r.GetProperty("state").GetString()));

        var ranged = await GetJsonAsync(client, "/api/studies/digits/trials?range=x:0:0.5&limit=100&sort=param:x&desc=1");
        var xs = ranged.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("params").GetProperty("x").GetDouble()).ToList();
        Assert.NotEmpty(xs);
        Assert.All(xs, x => Assert.InRange(x, 0, 0.5));
        Assert.Equal(xs.OrderDescending(), xs);

        var second = await GetJsonAsync(client, "/api/studies/digits/trials?sort=number&offset=50&limit=20");
        Assert.Equal(Enumerable.Range(50, 10), second.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("number").GetInt32()));
    }

    [Theory]
    [InlineData("param:momentum")]
    [InlineData("metric:acc")]
    public async Task Trials_without_the_sorted_parameter_or_metric_come_last_in_either_direction(string sort)
    {
        // momentum exists only under opt=sgd (a conditional parameter); acc is reported only by complete trials.
        var cond = await _writer.CreateStudyAsync("conditional", Direction.Minimize);
        var momentum = new Tunesmith.Spaces.FloatDistribution(0, 1);
        for (var i = 0; i < 12; i++)
        {
            var t = (await _writer.StartTrialAsync(cond.Id, "w"))!;
            var sgd = i % 3 == 0;
            await _writer.UpdateTrialAsync(t.Id, "w", new TrialUpdate
            {
                Params = sgd ? [("opt", "sgd", StudyFixtures.Space["opt"]), ("momentum", i / 12.0, momentum)] : [("opt", "adam", StudyFixtures.Space["opt"])],
                Metrics = i % 2 == 0 ? [new("acc", i / 12.0)] : [],
                FinalState = TrialState.Complete,
                Value = i,
            });
        }
        await using var factory = Factory();
        var client = factory.CreateClient();
        foreach (var desc in new[] { "0", "1" })
        {
            var rows = (await GetJsonAsync(client, $"/api/studies/conditional/trials?sort={sort}&desc={desc}&limit=100")).GetProperty("rows").EnumerateArray().ToList();
            var has = rows.Select(r => sort == "metric:acc" ? r.GetProperty("metrics").TryGetProperty("acc", out _) : r.GetProperty("params").TryGetProperty("momentum", out _)).ToList();
            var present = has.Count(h => h);
            Assert.True(present is > 0 and < 12, $"{present} rows hold {sort}");
            Assert.True(has.Take(present).All(h => h), $"desc={desc}: {string.Join(",", rows.Select(r => r.GetProperty("number").GetInt32()))}");
        }
    }

    [Fact]
    public async Task A_paused_or_running_trial_row_carries_its_last_report()
    {
        var study = await _writer.CreateStudyAsync("paused", Direction.Minimize);
        var paused = (await _writer.StartTrialAsync(study.Id, "w"))!;
        await _writer.UpdateTrialAsync(paused.Id, "w", new TrialUpdate
        {
            Params = [("x", 0.5, StudyFixtures.Space["x"])],
            Intermediate = [(1, 0.9), (3, 0.4)],
            SystemAttributes = [new(SystemAttributeKeys.PausedStep, 3L)],
            FinalState = TrialState.Paused,
        });
        var running = (await _writer.StartTrialAsync(study.Id, "w"))!;
        await _writer.UpdateTrialAsync(running.Id, "w", new TrialUpdate { Intermediate = [(1, 0.7)] });
        await using var factory = Factory();
        var rows = (await GetJsonAsync(factory.CreateClient(), "/api/studies/paused/trials?sort=number")).GetProperty("rows").EnumerateArray().ToList();
        Assert.Equal([("Paused", 3L, 0.4), ("Running", 1L, 0.7)],
            rows.Select(r => (r.GetProperty("state").GetString(), r.GetProperty("lastStep").GetInt64(), r.GetProperty("lastValue").GetDouble())));
        Assert.All(rows, r => Assert.Equal(JsonValueKind.Null, r.GetProperty("value").ValueKind));
    }

    [Fact]
    public async Task A_pruned_paused_or_running_command_trial_shows_the_other_metrics_of_its_last_report()
    {
        // As `tunesmith report` shows them (ReportTable.MetricsShown): a Complete trial keeps its result's metrics, a Failed
        // one shows none from its reports, and a last report at a later step than the value shown is not shown beside it.
        var study = await _writer.CreateStudyAsync("reports", Direction.Minimize);
        async Task AddAsync(TrialState? final, (long, double)[] intermediate, string lastReport, double? value = null, KeyValuePair<string, double>[]? metrics = null)
        {
            var t = (await _writer.StartTrialAsync(study.Id, "w"))!;
            await _writer.UpdateTrialAsync(t.Id, "w", new TrialUpdate
            {
                Intermediate = intermediate,
                SystemAttributes = [new(SystemAttributeKeys.LastReport, lastReport)],
                Metrics = metrics ?? [],
                Value = value,
                FinalState = final,
            });
        }
        await AddAsync(TrialState.Complete, [(0, 0.5), (1, 0.3)], """{"step":1,"value":0.3,"loss":9.0}""", 0.25, [new("value", 0.25), new("loss", 0.2)]);
        await AddAsync(TrialState.Pruned, [(0, 0.9), (1, 0.8)], """{"step":1,"value":0.8,"loss":1.5,"acc":0.6}""");
        await AddAsync(null, [(0, 0.7)], """{"step":0,"value":0.7,"loss":1.1}""");
        await AddAsync(TrialState.Failed, [(0, 0.6)], """{"step":0,"value":0.6,"loss":1.0}""");
        await AddAsync(TrialState.Paused, [(0, 0.65)], """{"step":1,"loss":0.9}""");
        await using var factory = Factory();
        var client = factory.CreateClient();

        var page = await GetJsonAsync(client, "/api/studies/reports/trials?sort=number");
        Assert.Equal(["acc", "loss", "value"], page.GetProperty("metrics").EnumerateArray().Select(m => m.GetString()));
        var metrics = page.GetProperty("rows").EnumerateArray()
            .Select(r => (r.GetProperty("state").GetString(), r.GetProperty("metrics").TryGetProperty("loss", out var l) ? l.GetDouble() : (double?)null))
            .ToList();
        Assert.Equal([("Complete", 0.2), ("Pruned", 1.5), ("Running", 1.1), ("Failed", null), ("Paused", (double?)null)], metrics);
        Assert.Equal(0.6, page.GetProperty("rows")[1].GetProperty("metrics").GetProperty("acc").GetDouble());

        // Sorting by a metric sorts by what the rows show; trials without it come last.
        var byLoss = await GetJsonAsync(client, "/api/studies/reports/trials?sort=metric:loss");
        Assert.Equal([0, 2, 1, 3, 4], byLoss.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("number").GetInt32()));

        var detail = await GetJsonAsync(client, "/api/studies/reports/trials/1");
        Assert.Equal(1.5, detail.GetProperty("trial").GetProperty("metrics").GetProperty("loss").GetDouble());
    }

    [Fact]
    public void An_early_page_of_a_large_study_is_the_same_as_from_sorting_every_trial()
    {
        var rng = new Random(3);
        var states = new[] { TrialState.Complete, TrialState.Complete, TrialState.Running, TrialState.Pruned, TrialState.Failed };
        var trials = Enumerable.Range(0, 3_000).Select(i =>
        {
            var state = states[rng.Next(states.Length)];
            return new FrozenTrial
            {
                Id = i + 1, Number = i, State = state,
                Value = state == TrialState.Complete ? Math.Round(rng.NextDouble(), 2) : null, // ties on purpose
                Params = new Dictionary<string, object?> { ["x"] = Math.Round(rng.NextDouble(), 1) },
                Worker = $"w{rng.Next(4)}",
            };
        }).ToList();
        foreach (var sort in new[] { "best", "number", "state", "value", "worker", "param:x" })
            foreach (var desc in new[] { false, true })
                foreach (var offset in new[] { 0, 50, 300 })
                {
                    var query = new Internal.TrialsQuery { Sort = sort, Descending = desc, Offset = offset, Limit = 50 };
                    var (matched, page) = query.Run(trials, Direction.Minimize);
                    // The reference: 500 rows from 3,000 are more than an eighth, so that query sorts every trial.
                    var (_, sorted) = (query with { Offset = 0, Limit = 500 }).Run(trials, Direction.Minimize);
                    Assert.Equal(3_000, matched);
                    Assert.Equal(sorted.Skip(offset).Take(50).Select(t => t.Number), page.Select(t => t.Number));
                }
    }

    [Fact]
    public async Task Scripts_are_revalidated_by_their_content_hash()
    {
        await using var factory = Factory();
        var client = factory.CreateClient();
        using var first = await client.GetAsync("/assets/echarts.min.js");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var etag = first.Headers.ETag!;
        using var again = new HttpRequestMessage(HttpMethod.Get, "/assets/echarts.min.js");
        again.Headers.IfNoneMatch.Add(etag);
        Assert.Equal(HttpStatusCode.NotModified, (await client.SendAsync(again)).StatusCode);
        using var other = new HttpRequestMessage(HttpMethod.Get, "/assets/plots.js");
        other.Headers.IfNoneMatch.Add(etag);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(other)).StatusCode);
    }

    [Theory]
    [InlineData("paused", TrialState.Paused)]
    [InlineData("Complete", TrialState.Complete)]
    public void A_state_filter_takes_every_trial_state_by_name(string state, TrialState expected) =>
        Assert.Equal([expected], Internal.TrialsQuery.Parse(null, null, state, [], null, null).States!);

    [Theory]
    [InlineData("Nope")]
    [InlineData("7")]
    public void A_state_filter_naming_no_state_is_refused_listing_every_state(string state)
    {
        var e = Assert.Throws<ArgumentException>(() => Internal.TrialsQuery.Parse(null, null, state, [], null, null));
        Assert.Equal($"state '{state}': not a trial state (Waiting, Running, Complete, Pruned, Failed, Paused)", e.Message);
    }

    [Fact]
    public async Task A_bad_query_is_refused_with_one_line_naming_the_field()
    {
        await using var factory = Factory();
        var client = factory.CreateClient();
        var response = await client.GetAsync("/api/studies/digits/trials?range=x:low:1");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()!;
        Assert.Contains("range 'x:low:1'", error, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/studies/nope")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/studies/digits/trials/999")).StatusCode);
    }

    [Fact]
    public async Task Plots_hold_data_for_every_chart()
    {
        await using var factory = Factory();
        var plots = await GetJsonAsync(factory.CreateClient(), "/api/studies/digits/plots");
        Assert.Equal(47, plots.GetProperty("history").GetProperty("points").GetArrayLength());
        Assert.True(plots.GetProperty("intermediate").GetProperty("curves").GetArrayLength() > 0);
        Assert.Contains(plots.GetProperty("intermediate").GetProperty("curves").EnumerateArray(), c => c.GetProperty("state").GetString() == "Pruned");
        Assert.Equal(3, plots.GetProperty("parallelCoordinates").GetProperty("axes").GetArrayLength());
        Assert.Equal("x", plots.GetProperty("importance").GetProperty("parameters")[0].GetProperty("name").GetString());
        Assert.Equal(3, plots.GetProperty("slices").GetArrayLength());
        Assert.Equal(3, plots.GetProperty("contours").GetArrayLength());
        Assert.Equal(47, plots.GetProperty("edf").GetProperty("values").GetArrayLength());
        Assert.Equal(60, plots.GetProperty("timeline").GetProperty("bars").GetArrayLength());
    }

    [Fact]
    public async Task The_optimization_history_is_served_alone_as_the_full_plots_draw_it()
    {
        await using var factory = Factory();
        var client = factory.CreateClient();
        // Asked first, before anything else read the study: answered from the quick read of the trials' own columns.
        var alone = await GetJsonAsync(client, "/api/studies/digits/plots/history");
        Assert.Equal("loss", alone.GetProperty("metric").GetString());
        Assert.Equal("Minimize", alone.GetProperty("direction").GetString());
        var full = await GetJsonAsync(client, "/api/studies/digits/plots");
        Assert.Equal(full.GetProperty("history").GetRawText(), alone.GetProperty("history").GetRawText());
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/studies/nope/plots/history")).StatusCode);
    }

    [Fact]
    public async Task Outlines_are_every_trial_with_its_own_columns_in_number_order()
    {
        var all = (await _writer.GetTrialsSinceAsync(_study.Id, 0)).Trials;
        await using var reader = StudyStorage.OpenReadOnly(Url);
        var outlines = await reader.GetTrialOutlinesAsync(_study.Id);
        Assert.Equal(all.Select(t => t.Number).Order(), outlines.Select(t => t.Number));
        foreach (var (t, o) in all.OrderBy(t => t.Number).Zip(outlines))
        {
            Assert.Equal((t.Id, t.State, t.Value, t.Worker, t.Created, t.Started, t.Finished, t.Heartbeat), (o.Id, o.State, o.Value, o.Worker, o.Created, o.Started, o.Finished, o.Heartbeat));
            Assert.Empty(o.Params);
        }
        await Assert.ThrowsAsync<StudyNotFoundException>(() => reader.GetTrialOutlinesAsync(9_999));
    }

    [Theory]
    [InlineData("wt mix/ü & co", 5)]
    [InlineData("a%2Fb", 3)]
    [InlineData("a/b", 4)]
    public async Task A_study_name_with_a_slash_or_a_percent_is_served_by_a_real_server(string name, int trials)
    {
        // Both names at once: Kestrel leaves %2F undecoded in a path, so "a/b" must not be taken for "a%2Fb" nor the reverse.
        await StudyFixtures.WriteAsync(_writer, "wt mix/ü & co", 5);
        await StudyFixtures.WriteAsync(_writer, "a%2Fb", 3);
        await StudyFixtures.WriteAsync(_writer, "a/b", 4);
        await using var app = DashboardHost.Build(new DashboardOptions { StorageUrl = Url, Port = 0 });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First();
        using var client = new HttpClient { BaseAddress = new Uri(address) };
        var path = "/api/studies/" + Uri.EscapeDataString(name);
        Assert.Equal(trials, (await GetJsonAsync(client, path)).GetProperty("total").GetInt32());
        Assert.Equal(trials, (await GetJsonAsync(client, path + "/trials")).GetProperty("total").GetInt32());
        Assert.Equal(JsonValueKind.Array, (await GetJsonAsync(client, path + "/plots")).GetProperty("history").GetProperty("points").ValueKind);
        await GetJsonAsync(client, path + "/plots/history");
        Assert.Equal(1, (await GetJsonAsync(client, path + "/trials/1")).GetProperty("trial").GetProperty("number").GetInt32());
        Assert.True((await client.GetAsync("/studies/" + Uri.EscapeDataString(name))).IsSuccessStatusCode);
        await app.StopAsync();
    }

    [Fact]
    public async Task Trial_detail_has_params_metrics_worker_and_the_tail_of_its_logs()
    {
        await using var factory = Factory();
        var d = await GetJsonAsync(factory.CreateClient(), "/api/studies/digits/trials/4");
        Assert.Equal(4, d.GetProperty("trial").GetProperty("number").GetInt32());
        Assert.Equal("adam", d.GetProperty("trial").GetProperty("params").GetProperty("opt").GetString());
        Assert.True(d.GetProperty("trial").GetProperty("metrics").TryGetProperty("acc", out _));
        Assert.Equal("hostA", d.GetProperty("trial").GetProperty("host").GetString());
        Assert.Contains("epoch 3 of trial 4", d.GetProperty("stdout").GetString(), StringComparison.Ordinal);
        Assert.Contains("warning from trial 4", d.GetProperty("stderr").GetString(), StringComparison.Ordinal);
        Assert.Equal(4, d.GetProperty("intermediate").GetArrayLength());
        var failed = await GetJsonAsync(factory.CreateClient(), "/api/studies/digits/trials/10");
        Assert.Equal("exit code 3", failed.GetProperty("trial").GetProperty("failReason").GetString());
    }

    [Fact]
    public async Task Retries_are_linked_both_ways()
    {
        var retry = await _writer.RetryTrialAsync((await _writer.GetTrialsSinceAsync(_study.Id, 0)).Trials.Single(t => t.Number == 10).Id);
        Assert.NotNull(retry);
        await using var factory = Factory();
        var client = factory.CreateClient();
        var original = await GetJsonAsync(client, "/api/studies/digits/trials/10");
        Assert.Equal(retry!.Number, original.GetProperty("retriedBy").GetInt32());
        var again = await GetJsonAsync(client, $"/api/studies/digits/trials/{retry.Number}");
        Assert.Equal(10, again.GetProperty("retryOf").GetInt32());
        Assert.Contains(again.GetProperty("retries").EnumerateArray(), r => r.GetProperty("number").GetInt32() == 10);
    }

    [Fact]
    public async Task With_a_token_every_page_api_call_and_event_stream_needs_it()
    {
        await using var factory = Factory(Token);
        var client = factory.CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = false });
        foreach (var path in new[] { "/", "/studies/digits", "/studies/digits/trials/1", "/api/studies", "/api/studies/digits/plots", "/api/events", "/assets/app.js" })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync(path)).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync(path + (path.Contains('?') ? "&" : "?") + "token=wrong-token-xyz")).StatusCode);
        }
        var ok = await client.GetAsync($"/?token={Token}");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var cookie = Assert.Single(ok.Headers.GetValues("Set-Cookie"));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);

        using var withHeader = new HttpRequestMessage(HttpMethod.Get, "/api/studies");
        withHeader.Headers.Add("X-Tunesmith-Token", Token);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(withHeader)).StatusCode);
        using var withCookie = new HttpRequestMessage(HttpMethod.Get, "/api/studies/digits");
        withCookie.Headers.Add("Cookie", $"tunesmith_token={Token}");
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(withCookie)).StatusCode);
    }

    [Fact]
    public async Task Pages_and_scripts_come_from_the_assembly_whatever_the_current_directory()
    {
        await using var factory = Factory();
        var client = factory.CreateClient();
        var previous = Environment.CurrentDirectory;
        Environment.CurrentDirectory = _dir;
        try
        {
            Assert.Contains("data-page=\"study\"", await client.GetStringAsync("/studies/digits"), StringComparison.Ordinal);
            Assert.Contains("echarts", await client.GetStringAsync("/assets/echarts.min.js"), StringComparison.Ordinal);
            Assert.Contains("TunesmithPlots", await client.GetStringAsync("/assets/plots.js"), StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/assets/nope.js")).StatusCode);
        }
        finally { Environment.CurrentDirectory = previous; }
    }

    [Fact]
    public async Task Event_stream_pushes_a_trial_stored_after_the_page_connected_while_a_writer_keeps_writing()
    {
        await using var factory = Factory();
        var client = factory.CreateClient();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var response = await client.GetAsync("/api/events?study=digits", HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
        var first = await NextEventAsync(reader, cts.Token);
        Assert.Equal(60, first.GetProperty("total").GetInt32());

        // The dashboard holds the file open for reading; the writer's BEGIN IMMEDIATE transactions still go through.
        var added = await StudyFixtures.AddTrialAsync(_writer, _study.Id, 60);
        JsonElement next;
        do next = await NextEventAsync(reader, cts.Token);
        while (next.GetProperty("total").GetInt32() < 61);
        Assert.Contains(next.GetProperty("changed").EnumerateArray(), r => r.GetProperty("number").GetInt32() == added.Number);
    }

    [Fact]
    public async Task Two_streams_on_one_study_both_get_each_new_trial()
    {
        await using var factory = Factory();
        var client = factory.CreateClient();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var a = await client.GetAsync("/api/events?study=digits", HttpCompletionOption.ResponseHeadersRead, cts.Token);
        using var b = await client.GetAsync("/api/events?study=digits", HttpCompletionOption.ResponseHeadersRead, cts.Token);
        using var ra = new StreamReader(await a.Content.ReadAsStreamAsync(cts.Token));
        using var rb = new StreamReader(await b.Content.ReadAsStreamAsync(cts.Token));
        await NextEventAsync(ra, cts.Token);
        await NextEventAsync(rb, cts.Token);
        for (var i = 60; i < 63; i++)
        {
            var added = await StudyFixtures.AddTrialAsync(_writer, _study.Id, i);
            foreach (var reader in new[] { ra, rb })
            {
                JsonElement next;
                do next = await NextEventAsync(reader, cts.Token);
                while (!next.GetProperty("changed").EnumerateArray().Any(r => r.GetProperty("number").GetInt32() == added.Number));
            }
        }
    }

    private static async Task<JsonElement> NextEventAsync(StreamReader reader, CancellationToken ct)
    {
        string? name = null;
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.StartsWith("event: ", StringComparison.Ordinal)) name = line[7..];
            else if (line.StartsWith("data: ", StringComparison.Ordinal) && name == "study") return JsonDocument.Parse(line[6..]).RootElement.Clone();
        }
        throw new EndOfStreamException("the event stream ended");
    }

    [SkippableFact]
    public async Task Dashboard_reads_a_postgresql_study_read_only()
    {
        await using var schema = PostgresTestServer.NewSchema();
        await using (var writer = StudyStorage.Open(schema.Url))
            await StudyFixtures.WriteAsync(writer, "pg-study", 12);
        await using var factory = new WebApplicationFactory<DashboardProgram>().WithWebHostBuilder(b => b.UseSetting("storage", schema.Url));
        var client = factory.CreateClient();
        var studies = await GetJsonAsync(client, "/api/studies");
        Assert.Equal(12, studies.EnumerateArray().Single().GetProperty("total").GetInt32());
        var plots = await GetJsonAsync(client, "/api/studies/pg-study/plots");
        Assert.True(plots.GetProperty("history").GetProperty("points").GetArrayLength() > 0);
        var history = await GetJsonAsync(client, "/api/studies/pg-study/plots/history");
        Assert.Equal(plots.GetProperty("history").GetRawText(), history.GetProperty("history").GetRawText());
        await using var reader = StudyStorage.OpenReadOnly(schema.Url);
        var record = (await reader.GetStudyAsync("pg-study"))!;
        var outlines = await reader.GetTrialOutlinesAsync(record.Id);
        Assert.Equal(Enumerable.Range(0, 12), outlines.Select(t => t.Number));
        Assert.Equal((await reader.GetTrialsSinceAsync(record.Id, 0)).Trials.Select(t => (t.State, t.Value, t.Finished)), outlines.Select(t => (t.State, t.Value, t.Finished)));
    }
}
