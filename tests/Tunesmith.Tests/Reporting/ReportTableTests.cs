using System.Text.Json;
using Tunesmith.Execution;
using Tunesmith.Trials;
using Tunesmith.Reporting;
using Xunit;

namespace Tunesmith.Tests.Reporting;

public sealed class ReportTableTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static FrozenTrial Trial(int number, TrialState state, double? value = null, Dictionary<string, object?>? p = null,
        Dictionary<string, double>? metrics = null, string? reason = null) => new()
    {
        Id = number + 100,
        Number = number,
        State = state,
        Value = value,
        Params = p ?? new Dictionary<string, object?> { ["x"] = (long)number },
        Metrics = metrics ?? (value is { } v ? new Dictionary<string, double> { ["f1"] = v } : new Dictionary<string, double>()),
        SystemAttributes = reason is null ? new Dictionary<string, object?>() : new Dictionary<string, object?> { [SystemAttributeKeys.FailReason] = reason },
        Started = state == TrialState.Waiting ? null : T0,
        Finished = state.IsFinished() ? T0.AddSeconds(number + 0.5) : null,
    };

    private static List<FrozenTrial> Mixed() =>
    [
        Trial(0, TrialState.Failed, reason: "exit code 1"),
        Trial(1, TrialState.Complete, 0.5),
        Trial(2, TrialState.Waiting),
        Trial(3, TrialState.Complete, 0.9),
        Trial(4, TrialState.Pruned),
        Trial(5, TrialState.Running),
        Trial(6, TrialState.Complete, 0.5),
        Trial(7, TrialState.Complete, 0.1),
    ];

    [Fact]
    public void Maximize_sorts_complete_trials_descending_then_running_pruned_failed_waiting()
    {
        var table = ReportTable.Build(Mixed(), Direction.Maximize, "f1", "s");
        Assert.Equal([3, 1, 6, 7, 5, 4, 0, 2], table.Rows.Select(r => r.Number));
        Assert.Equal([1, 2, 3, 4, null, null, null, null], table.Rows.Select(r => r.Rank));
    }

    [Fact]
    public void A_failed_trial_that_was_retried_names_its_retry_after_the_first_line_of_its_reason()
    {
        // A crashed worker's trial is retried with the same params: without the note, the combination looks as if it had
        // run twice, once failed and once complete.
        var crashed = Trial(0, TrialState.Failed, reason: "crashed: its runner (pid 7 on vm) is gone");
        crashed = crashed with { SystemAttributes = new Dictionary<string, object?>(crashed.SystemAttributes) { [SystemAttributeKeys.RetriedBy] = 2L } };
        var exited = Trial(1, TrialState.Failed, reason: "exit code 3\n--- last lines of stderr.log ---\nboom");
        exited = exited with { SystemAttributes = new Dictionary<string, object?>(exited.SystemAttributes) { [SystemAttributeKeys.RetriedBy] = 3L } };
        var table = ReportTable.Build([crashed, exited, Trial(2, TrialState.Complete, 0.5), Trial(3, TrialState.Failed, reason: "exit code 3")], Direction.Maximize, "f1", "s");
        var reasons = table.Rows.ToDictionary(r => r.Number, r => r.FailReason);
        Assert.Equal("crashed: its runner (pid 7 on vm) is gone; retried as trial 2", reasons[0]);
        Assert.Equal("exit code 3; retried as trial 3\n--- last lines of stderr.log ---\nboom", reasons[1]);
        Assert.Equal("exit code 3", reasons[3]);
    }

    [Fact]
    public void Minimize_sorts_complete_trials_ascending_with_ties_by_number()
    {
        var table = ReportTable.Build(Mixed(), Direction.Minimize, "f1", "s");
        Assert.Equal([7, 1, 6, 3, 5, 4, 0, 2], table.Rows.Select(r => r.Number));
    }

    [Fact]
    public void Top_k_keeps_the_best_rows_and_the_total()
    {
        var table = ReportTable.Build(Mixed(), Direction.Maximize, "f1", "s", top: 2);
        Assert.Equal([3, 1], table.Rows.Select(r => r.Number));
        Assert.Equal(8, table.TotalTrials);
    }

    [Fact]
    public void Parameters_are_the_union_and_inactive_ones_are_blank()
    {
        var trials = new List<FrozenTrial>
        {
            Trial(0, TrialState.Complete, 1, new() { ["opt"] = "adam", ["lr"] = 0.1 }),
            Trial(1, TrialState.Complete, 2, new() { ["opt"] = "sgd", ["lr"] = 0.2, ["momentum"] = 0.9 }, new() { ["f1"] = 2, ["loss"] = 0.3 }),
        };
        var table = ReportTable.Build(trials, Direction.Maximize, "f1", "s");
        Assert.Equal(["opt", "lr", "momentum"], table.ParameterNames);
        Assert.Equal(["loss"], table.MetricNames);
        var csv = new CsvReportExporter().Render(table).Split("\r\n");
        Assert.Equal("rank,number,state,f1,loss,opt,lr,momentum,duration_s,fail_reason", csv[0]);
        Assert.Equal("1,1,Complete,2.0,0.3,sgd,0.2,0.9,1.5,", csv[1]);
        Assert.Equal("2,0,Complete,1.0,,adam,0.1,,0.5,", csv[2]);
    }

    [Fact]
    public void Csv_quotes_commas_quotes_and_newlines_per_rfc_4180()
    {
        var trials = new List<FrozenTrial>
        {
            Trial(0, TrialState.Failed, p: new() { ["tag"] = "a,b", ["note"] = "say \"hi\"" }, reason: "line one\nline two"),
        };
        var csv = new CsvReportExporter().Render(ReportTable.Build(trials, Direction.Minimize, "value", "s"));
        Assert.Equal("rank,number,state,value,tag,note,duration_s,fail_reason\r\n,0,Failed,,\"a,b\",\"say \"\"hi\"\"\",0.5,\"line one\nline two\"\r\n", csv);
        Assert.Equal(["rank", "number", "state", "value", "tag", "note", "duration_s", "fail_reason"], ParseCsv(csv)[0]);
        Assert.Equal(["", "0", "Failed", "", "a,b", "say \"hi\"", "0.5", "line one\nline two"], ParseCsv(csv)[1]);
    }

    [Fact]
    public void Csv_numbers_round_trip_in_the_invariant_culture()
    {
        var trials = new List<FrozenTrial> { Trial(0, TrialState.Complete, 0.1 + 0.2, new() { ["lr"] = 1.2345678901234e-7 }) };
        var rows = ParseCsv(new CsvReportExporter().Render(ReportTable.Build(trials, Direction.Minimize, "f1", "s")));
        Assert.Equal(0.1 + 0.2, double.Parse(rows[1][3], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(1.2345678901234e-7, double.Parse(rows[1][4], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Json_lists_trials_best_first_with_inactive_params_absent()
    {
        var trials = new List<FrozenTrial>
        {
            Trial(0, TrialState.Complete, 1, new() { ["opt"] = "adam" }),
            Trial(1, TrialState.Complete, 2, new() { ["opt"] = "sgd", ["momentum"] = 0.9 }),
            Trial(2, TrialState.Failed, p: new() { ["opt"] = "sgd", ["momentum"] = 0.5 }, reason: "boom"),
        };
        var json = new JsonReportExporter().Render(ReportTable.Build(trials, Direction.Maximize, "f1", "s"));
        using var doc = JsonDocument.Parse(json);
        var rows = doc.RootElement.GetProperty("trials").EnumerateArray().ToList();
        Assert.Equal([1, 0, 2], rows.Select(r => r.GetProperty("number").GetInt32()));
        Assert.False(rows[1].GetProperty("params").TryGetProperty("momentum", out _));
        Assert.Equal(0.9, rows[0].GetProperty("params").GetProperty("momentum").GetDouble());
        Assert.Equal("boom", rows[2].GetProperty("fail_reason").GetString());
        Assert.Equal(JsonValueKind.Null, rows[2].GetProperty("value").ValueKind);
        Assert.Equal("maximize", doc.RootElement.GetProperty("direction").GetString());
    }

    [Fact]
    public void Json_best_is_one_object_for_the_top_ranked_trial_with_the_objective_among_its_metrics()
    {
        var trials = new List<FrozenTrial>
        {
            Trial(0, TrialState.Complete, 1, new() { ["opt"] = "adam" }, new() { ["f1"] = 1, ["loss"] = double.NaN }),
            Trial(1, TrialState.Complete, 2, new() { ["opt"] = "sgd", ["momentum"] = 0.9 }, new() { ["f1"] = 2, ["loss"] = double.PositiveInfinity }),
            Trial(2, TrialState.Failed, reason: "boom"),
        };
        using var writer = new StringWriter();
        JsonReportExporter.WriteBest(ReportTable.Build(trials, Direction.Maximize, "f1", "s"), writer);
        using var doc = JsonDocument.Parse(writer.ToString());
        var root = doc.RootElement;
        Assert.Equal(["study", "direction", "metric", "number", "value", "params", "metrics", "duration_seconds"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(1, root.GetProperty("number").GetInt32());
        Assert.Equal(2, root.GetProperty("value").GetDouble());
        Assert.Equal(0.9, root.GetProperty("params").GetProperty("momentum").GetDouble());
        Assert.Equal(2, root.GetProperty("metrics").GetProperty("f1").GetDouble());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("metrics").GetProperty("loss").ValueKind); // JSON has no infinity
        Assert.Equal(1.5, root.GetProperty("duration_seconds").GetDouble());
        Assert.Throws<ArgumentException>(() => JsonReportExporter.WriteBest(ReportTable.Build([trials[2]], Direction.Maximize, "f1", "s"), writer));
    }

    [Fact]
    public void Text_table_aligns_columns_and_markdown_escapes_pipes()
    {
        var trials = new List<FrozenTrial>
        {
            Trial(0, TrialState.Complete, 12.5, new() { ["opt"] = "a|b" }),
            Trial(1, TrialState.Failed, p: new() { ["opt"] = "sgd" }, reason: "exit\ncode 1"),
        };
        var table = ReportTable.Build(trials, Direction.Maximize, "f1", "s");
        var lines = new TextTableReportExporter().Render(table).TrimEnd('\n').Split('\n');
        Assert.Equal(4, lines.Length);
        // The state column starts at the same offset on every line.
        var stateAt = lines[0].IndexOf("state", StringComparison.Ordinal);
        Assert.Equal(stateAt, lines[2].IndexOf("Complete", StringComparison.Ordinal));
        Assert.Equal(stateAt, lines[3].IndexOf("Failed", StringComparison.Ordinal));
        Assert.Contains("exit code 1", lines[3]);
        var md = new MarkdownReportExporter().Render(table);
        Assert.Contains("a\\|b", md);
        Assert.Contains("| rank | number | state | f1 | opt | duration_s | fail_reason |", md);
    }

    [Fact]
    public void A_pruned_trial_shows_its_last_report_and_step_unranked_and_a_paused_or_running_one_its_latest()
    {
        var curve = new Dictionary<long, double> { [1] = 0.3, [3] = 0.45 };
        var trials = new List<FrozenTrial>
        {
            Trial(0, TrialState.Complete, 0.8) with { Intermediate = new Dictionary<long, double> { [1] = 0.5, [9] = 0.8 } },
            Trial(1, TrialState.Pruned, 0.45) with { Intermediate = curve },
            Trial(2, TrialState.Running) with { Intermediate = new Dictionary<long, double> { [2] = 0.6 } },
            Trial(3, TrialState.Failed, reason: "boom"),
            Trial(4, TrialState.Paused) with { Intermediate = new Dictionary<long, double> { [1] = 0.7 } },
        };
        var table = ReportTable.Build(trials, Direction.Maximize, "f1", "s");
        Assert.Equal([0, 2, 1, 3, 4], table.Rows.Select(r => r.Number));
        Assert.Equal([1, null, null, null, null], table.Rows.Select(r => r.Rank));
        Assert.Equal([0.8, 0.6, 0.45, null, 0.7], table.Rows.Select(r => r.Objective));
        Assert.Equal([9L, 2L, 3L, null, 1L], table.Rows.Select(r => r.Step));

        var lines = new TextTableReportExporter().Render(table).TrimEnd('\n').Split('\n');
        Assert.Matches(@"^\s*rank\s+number\s+state\s+f1\s+step\s", lines[0]);
        Assert.Matches(@"^\s+1\s+Pruned\s+0\.45\s+3\s", lines[4]);
        var csv = ParseCsv(new CsvReportExporter().Render(table));
        Assert.Equal(["", "1", "Pruned", "0.45", "3"], csv[3].Take(5));
        using var doc = JsonDocument.Parse(new JsonReportExporter().Render(table));
        var pruned = doc.RootElement.GetProperty("trials")[2];
        Assert.Equal(0.45, pruned.GetProperty("value").GetDouble());
        Assert.Equal(3, pruned.GetProperty("step").GetInt64());
        Assert.Equal(JsonValueKind.Null, pruned.GetProperty("rank").ValueKind);
    }

    /// <summary>
    /// A command trial's other metrics are stored only in its last report (<c>last_report</c>) until it prints a result. A
    /// Pruned, Running or Paused row shows that report's metrics beside its value, at the step in the step column, as Ray
    /// Tune's results table shows a stopped trial's last reported metrics; before, their metric cells were empty. A Complete
    /// row keeps its result's metrics (never its last report's), a Failed one none, and a report at another step than the
    /// row's value (one without the study metric) is not shown beside it.
    /// </summary>
    [Fact]
    public void A_pruned_running_or_paused_trial_shows_the_other_metrics_of_its_last_report_in_every_format()
    {
        static Dictionary<string, object?> Report(string json) => new() { [SystemAttributeKeys.LastReport] = json };
        var trials = new List<FrozenTrial>
        {
            Trial(0, TrialState.Complete, 0.8, metrics: new() { ["f1"] = 0.8, ["loss"] = 0.2 }) with
            {
                Intermediate = new Dictionary<long, double> { [1] = 0.5, [9] = 0.8 },
                SystemAttributes = Report("""{"step": 9, "f1": 0.8, "loss": 0.25, "acc": 0.9}"""),
            },
            Trial(1, TrialState.Pruned, 0.45) with
            {
                Intermediate = new Dictionary<long, double> { [1] = 0.3, [3] = 0.45 },
                SystemAttributes = Report("""{"step": 3, "f1": 0.45, "loss": 0.6, "acc": 0.7}"""),
            },
            Trial(2, TrialState.Running) with
            {
                Intermediate = new Dictionary<long, double> { [2] = 0.6 },
                SystemAttributes = Report("""{"step": 2, "f1": 0.6, "loss": 0.5, "acc": "NaN"}"""),
            },
            Trial(3, TrialState.Failed, reason: "boom") with
            {
                Intermediate = new Dictionary<long, double> { [1] = 0.3 },
                SystemAttributes = new Dictionary<string, object?> { [SystemAttributeKeys.FailReason] = "boom", [SystemAttributeKeys.LastReport] = """{"step": 1, "f1": 0.3, "loss": 0.9}""" },
            },
            Trial(4, TrialState.Paused) with
            {
                Intermediate = new Dictionary<long, double> { [1] = 0.7 },
                SystemAttributes = Report("""{"step": 2, "loss": 0.4}"""),
            },
        };
        var table = ReportTable.Build(trials, Direction.Maximize, "f1", "s");
        Assert.Equal([0, 2, 1, 3, 4], table.Rows.Select(r => r.Number));
        Assert.Equal(["loss", "acc"], table.MetricNames);
        Assert.Equal(new Dictionary<string, double> { ["loss"] = 0.2 }, table.Rows[0].Metrics);
        Assert.Equal(new Dictionary<string, double> { ["loss"] = 0.6, ["acc"] = 0.7 }, table.Rows[2].Metrics);
        Assert.Equal(0.5, table.Rows[1].Metrics["loss"]);
        Assert.True(double.IsNaN(table.Rows[1].Metrics["acc"]));
        Assert.Empty(table.Rows[3].Metrics);
        Assert.Empty(table.Rows[4].Metrics);

        var lines = new TextTableReportExporter().Render(table).TrimEnd('\n').Split('\n');
        Assert.Matches(@"^\s*rank\s+number\s+state\s+f1\s+step\s+loss\s+acc\s+x\s", lines[0]);
        Assert.Matches(@"^\s+1\s+Pruned\s+0\.45\s+3\s+0\.6\s+0\.7\s+1\s", lines[4]);
        var csv = ParseCsv(new CsvReportExporter().Render(table));
        Assert.Equal(["1", "0", "Complete", "0.8", "9", "0.2", ""], csv[1].Take(7));
        Assert.Equal(["", "2", "Running", "0.6", "2", "0.5"], csv[2].Take(6));
        Assert.Equal(["", "1", "Pruned", "0.45", "3", "0.6", "0.7"], csv[3].Take(7));
        Assert.Equal(["", "3", "Failed", "", "", "", ""], csv[4].Take(7));
        Assert.Equal(["", "4", "Paused", "0.7", "1", "", ""], csv[5].Take(7));
        using var doc = JsonDocument.Parse(new JsonReportExporter().Render(table));
        var rows = doc.RootElement.GetProperty("trials");
        Assert.Equal("""{"loss":0.6,"acc":0.7}""", Compact(rows[2].GetProperty("metrics")));
        Assert.Equal("""{"loss":0.5,"acc":null}""", Compact(rows[1].GetProperty("metrics")));
        Assert.Equal("""{"loss":0.2}""", Compact(rows[0].GetProperty("metrics")));
        Assert.Equal("{}", Compact(rows[3].GetProperty("metrics")));
        Assert.Equal("{}", Compact(rows[4].GetProperty("metrics")));
        Assert.Contains("|  | 1 | Pruned | 0.45 | 3 | 0.6 | 0.7 | 1 |", new MarkdownReportExporter().Render(table));
        Assert.Contains("[null,1,\"Pruned\",\"0.45\",3,\"0.6\",\"0.7\",", new HtmlReportExporter().Render(table));

        static string Compact(JsonElement e) => JsonSerializer.Serialize(e);
    }

    /// <summary>
    /// A failed trial has no value (as in Optuna); the step of its last report beside an empty value read as "step 2 scored
    /// nothing". A row shows a step only with the value it belongs to, in every format; the same for a waiting retry that
    /// inherited its failed attempt's reports.
    /// </summary>
    [Fact]
    public void A_failed_or_waiting_trial_shows_neither_a_value_nor_the_step_of_its_last_report_in_any_format()
    {
        var reports = new Dictionary<long, double> { [1] = 0.3, [2] = 0.4 };
        var trials = new List<FrozenTrial>
        {
            Trial(0, TrialState.Complete, 0.8) with { Intermediate = new Dictionary<long, double> { [1] = 0.5, [3] = 0.8 } },
            Trial(1, TrialState.Failed, reason: "exit code 3") with { Intermediate = reports },
            Trial(2, TrialState.Waiting) with { Intermediate = reports },
        };
        var table = ReportTable.Build(trials, Direction.Maximize, "f1", "s");
        Assert.Equal([0, 1, 2], table.Rows.Select(r => r.Number));
        Assert.Equal([0.8, null, null], table.Rows.Select(r => r.Objective));
        Assert.Equal([3L, null, null], table.Rows.Select(r => r.Step));
        Assert.True(table.HasSteps);

        var lines = new TextTableReportExporter().Render(table).TrimEnd('\n').Split('\n');
        Assert.Matches(@"^\s*rank\s+number\s+state\s+f1\s+step\s", lines[0]);
        Assert.DoesNotMatch(@"\s2\s", lines[3][..lines[0].IndexOf("duration", StringComparison.Ordinal)]);
        var csv = ParseCsv(new CsvReportExporter().Render(table));
        Assert.Equal(["", "1", "Failed", "", ""], csv[2].Take(5));
        Assert.Equal(["", "2", "Waiting", "", ""], csv[3].Take(5));
        using var doc = JsonDocument.Parse(new JsonReportExporter().Render(table));
        foreach (var i in new[] { 1, 2 })
        {
            var row = doc.RootElement.GetProperty("trials")[i];
            Assert.Equal(JsonValueKind.Null, row.GetProperty("value").ValueKind);
            Assert.Equal(JsonValueKind.Null, row.GetProperty("step").ValueKind);
        }
        var html = new HtmlReportExporter().Render(table);
        Assert.Contains("[null,1,\"Failed\",null,null,", html);
        Assert.Contains("[null,2,\"Waiting\",null,null,", html);
    }

    [Fact]
    public void A_study_without_intermediate_values_has_no_step_column()
    {
        var table = ReportTable.Build(Mixed(), Direction.Maximize, "f1", "s");
        Assert.False(table.HasSteps);
        Assert.DoesNotContain("step", new TextTableReportExporter().Render(table).Split('\n')[0]);
    }

    [Fact]
    public void Json_writes_plus_signs_angle_brackets_and_accents_as_they_are()
    {
        var trials = new List<FrozenTrial> { Trial(0, TrialState.Complete, 1, new() { ["schedule"] = "warmup+cosine <é>" }) };
        var json = new JsonReportExporter().Render(ReportTable.Build(trials, Direction.Maximize, "f1", "s"));
        Assert.Contains("\"warmup+cosine <é>\"", json);
        Assert.Equal("{\"a\":\"1e-3+x\"}", Tunesmith.Spaces.ParamValues.ToJson([new("a", "1e-3+x")]));
    }

    [Fact]
    public void Exporters_are_found_by_format_name()
    {
        Assert.Equal(["table", "csv", "json", "md", "html"], ReportExporters.Formats);
        Assert.IsType<MarkdownReportExporter>(ReportExporters.Get("markdown"));
        var e = Assert.Throws<ArgumentException>(() => ReportExporters.Get("xml"));
        Assert.Contains("known: table, csv, json, md", e.Message);
    }

    [Fact]
    public async Task A_study_report_is_built_from_its_stored_trials()
    {
        await using var study = await Study.CreateAsync("rep", new StudyOptions { Direction = Direction.Maximize, Sampler = new Tunesmith.Samplers.RandomSampler(seed: 1) });
        study.Optimize(t => t.SuggestFloat("x", 0, 1), trials: 10);
        var table = await ReportTable.FromStorageAsync(study.Storage, study.Record, study.Metric, top: 3);
        Assert.Equal(3, table.Rows.Count);
        var best = study.Trials.OrderByDescending(t => t.Value).Take(3).Select(t => t.Number);
        Assert.Equal(best, table.Rows.Select(r => r.Number));
    }

    /// <summary>A small RFC 4180 reader, independent of the writer, to check what a spreadsheet would read back.</summary>
    private static List<List<string>> ParseCsv(string text)
    {
        var rows = new List<List<string>>();
        var row = new List<string>();
        var field = new System.Text.StringBuilder();
        var i = 0;
        var quoted = false;
        while (i < text.Length)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i += 2; continue; }
                if (c == '"') { quoted = false; i++; continue; }
                field.Append(c); i++; continue;
            }
            switch (c)
            {
                case '"': quoted = true; i++; break;
                case ',': row.Add(field.ToString()); field.Clear(); i++; break;
                case '\r' when i + 1 < text.Length && text[i + 1] == '\n':
                    row.Add(field.ToString()); field.Clear(); rows.Add(row); row = []; i += 2; break;
                default: field.Append(c); i++; break;
            }
        }
        if (field.Length > 0 || row.Count > 0) { row.Add(field.ToString()); rows.Add(row); }
        return rows;
    }

    [Fact]
    public void User_attributes_are_columns_only_when_asked_for_in_csv_and_json()
    {
        var trials = new List<FrozenTrial>
        {
            Trial(0, TrialState.Complete, 0.5) with { UserAttributes = new Dictionary<string, object?> { ["fold"] = 3L, ["note"] = "a,b" } },
            Trial(1, TrialState.Complete, 0.2) with { UserAttributes = new Dictionary<string, object?> { ["fold"] = 1L } },
        };
        var plain = ReportTable.Build(trials, Direction.Minimize, "f1");
        Assert.Empty(plain.UserAttributeNames);
        Assert.DoesNotContain("user_attrs", ReportExporters.Get("csv").Render(plain));
        Assert.DoesNotContain("user_attrs", ReportExporters.Get("json").Render(plain));

        var table = ReportTable.Build(trials, Direction.Minimize, "f1", userAttributes: true);
        Assert.Equal(["fold", "note"], table.UserAttributeNames);
        var csv = ReportExporters.Get("csv").Render(table).Split("\r\n");
        Assert.EndsWith("x,user_attrs_fold,user_attrs_note,duration_s,fail_reason", csv[0]);
        Assert.Contains(",1,,", csv[1]); // trial 1 (best): fold 1, no note
        Assert.Contains(",3,\"a,b\",", csv[2]);
        using var json = JsonDocument.Parse(ReportExporters.Get("json").Render(table));
        var rows = json.RootElement.GetProperty("trials");
        Assert.Equal(1, rows[0].GetProperty("user_attrs").GetProperty("fold").GetInt64());
        Assert.False(rows[0].GetProperty("user_attrs").TryGetProperty("note", out _));
        Assert.Equal("a,b", rows[1].GetProperty("user_attrs").GetProperty("note").GetString());
        Assert.Contains("user_attrs_fold", ReportExporters.Get("table").Render(table));
    }
}
