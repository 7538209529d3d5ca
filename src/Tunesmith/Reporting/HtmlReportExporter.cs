using System.Globalization;
using System.Net;
using System.Text.Json;
using Tunesmith.Reporting.Html;
using Tunesmith.Reporting.Plots;

namespace Tunesmith.Reporting;

/// <summary>
/// One self-contained HTML file: the sorted trials table (sortable, filterable by state, paged in the browser) and,
/// when <see cref="ReportTable.Plots"/> is set, every plot, drawn by ECharts — which is inlined with the data, so the
/// file opens with no network access (a cluster user copies one file home).
/// </summary>
public sealed class HtmlReportExporter : IReportExporter
{
    /// <inheritdoc />
    public string Format => "html";

    /// <inheritdoc />
    public string FileExtension => ".html";

    /// <inheritdoc />
    public void Write(ReportTable table, TextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(writer);
        var title = WebUtility.HtmlEncode($"Tunesmith report: {table.StudyName}");
        writer.Write("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        writer.Write($"<title>{title}</title>\n<style>\n");
        writer.Write(ReportAssets.Read("report.css"));
        writer.Write("</style>\n</head>\n<body>\n");
        writer.Write($"<header class=\"top\"><span><b>Tunesmith</b></span><span class=\"sub\">report of study {WebUtility.HtmlEncode(table.StudyName)}</span></header>\n<main>\n");
        writer.Write($"<h1 id=\"study-name\">{WebUtility.HtmlEncode(table.StudyName)}</h1>\n<div class=\"cards\">\n");
        Card(writer, "direction", table.Direction.ToString().ToLowerInvariant());
        Card(writer, "objective", table.Metric);
        Card(writer, "trials", table.TotalTrials.ToString(CultureInfo.InvariantCulture));
        foreach (var state in Enum.GetValues<TrialState>())
        {
            var n = table.Rows.Count(r => r.State == state);
            if (n > 0) Card(writer, state.ToString().ToLowerInvariant(), n.ToString(CultureInfo.InvariantCulture));
        }
        var best = table.Rows.FirstOrDefault(r => r.Rank == 1);
        if (best is not null) Card(writer, "best", $"{ReportCells.Number(best.Objective!.Value, false)} (trial {best.Number})");
        writer.Write("</div>\n");
        if (table.Plots is not null) writer.Write("<h2>Plots</h2>\n<div id=\"plots\" class=\"plots\"></div>\n");
        writer.Write("<h2>Trials, best first</h2>\n<div class=\"controls\"><label>state <select id=\"state-filter\"><option value=\"\">all</option>");
        foreach (var state in Enum.GetValues<TrialState>()) writer.Write($"<option>{state}</option>");
        writer.Write("</select></label><span id=\"row-count\" class=\"muted\"></span><button id=\"prev\">◀</button><button id=\"next\">▶</button></div>\n");
        // A wide table (many parameters, a long failure reason) scrolls in its own box; the plots keep the page's width.
        writer.Write("<div class=\"table-wrap\"><table class=\"trials\" id=\"trials\"><thead><tr></tr></thead><tbody></tbody></table></div>\n");
        writer.Write($"<p class=\"muted\">Written by Tunesmith. Charts: Apache ECharts {ReportAssets.EChartsVersion} (Apache License 2.0), inlined below.</p>\n</main>\n");

        writer.Write("<script type=\"application/json\" id=\"table-data\">");
        writer.Write(TableJson(table));
        writer.Write("</script>\n");
        if (table.Plots is not null)
        {
            writer.Write("<script type=\"application/json\" id=\"plot-data\">");
            writer.Write(StudyPlotsJson.Serialize(table.Plots));
            writer.Write("</script>\n");
        }
        // The ECharts licence header stays inside the minified file; the script element holds it verbatim.
        writer.Write("<script>\n");
        writer.Write(ReportAssets.Read("echarts.min.js").Replace("</script", "<\\/script", StringComparison.OrdinalIgnoreCase));
        writer.Write("\n</script>\n<script>\n");
        writer.Write(ReportAssets.Read("plots.js"));
        writer.Write("\n</script>\n<script>\n");
        writer.Write(TableScript);
        writer.Write("\n</script>\n</body>\n</html>\n");
    }

    private static void Card(TextWriter w, string key, string value) =>
        w.Write($"<div class=\"card\"><div class=\"k\">{WebUtility.HtmlEncode(key)}</div><div class=\"v\">{WebUtility.HtmlEncode(value)}</div></div>\n");

    // Rows as arrays (not objects) in header order: a 10,000-trial table stays near a megabyte.
    private static string TableJson(ReportTable table)
    {
        var headers = ReportCells.Headers(table);
        var numeric = headers.Select(h => ReportCells.IsNumeric(h, table)).ToList();
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.Default }))
        {
            w.WriteStartObject();
            w.WriteStartArray("headers");
            foreach (var h in headers) w.WriteStringValue(h);
            w.WriteEndArray();
            w.WriteStartArray("numeric");
            foreach (var n in numeric) w.WriteBooleanValue(n);
            w.WriteEndArray();
            w.WriteStartArray("rows");
            foreach (var row in table.Rows)
            {
                w.WriteStartArray();
                // Each cell as the text table writes it (6.5388e-05, 12.0), so that every format shows the same text; a
                // whole number (rank, number, step) as a JSON integer, which the script shows as the same digits. The
                // script sorts a numeric column by the numbers the texts spell.
                var cells = ReportCells.Cells(table, row, roundTrip: false);
                for (var i = 0; i < cells.Count; i++)
                {
                    if (cells[i].Length == 0) w.WriteNullValue();
                    else if (numeric[i] && long.TryParse(cells[i], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole) && Math.Abs(whole) < 9e15)
                        w.WriteNumberValue(whole);
                    else w.WriteStringValue(cells[i]);
                }
                w.WriteEndArray();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    private const string TableScript = """
        (function () {
          'use strict';
          var data = JSON.parse(document.getElementById('table-data').textContent);
          var plotEl = document.getElementById('plot-data');
          if (plotEl) TunesmithPlots.renderAll(JSON.parse(plotEl.textContent), document.getElementById('plots'));
          var stateCol = data.headers.indexOf('state'), page = 0, size = 100, sortCol = -1, desc = false;
          var head = document.querySelector('#trials thead tr'), body = document.querySelector('#trials tbody');
          data.headers.forEach(function (h, i) {
            var th = document.createElement('th'); th.textContent = h;
            th.addEventListener('click', function () { desc = sortCol === i ? !desc : false; sortCol = i; page = 0; render(); });
            head.appendChild(th);
          });
          function rows() {
            var f = document.getElementById('state-filter').value;
            var r = f ? data.rows.filter(function (x) { return x[stateCol] === f; }) : data.rows.slice();
            if (sortCol >= 0) r.sort(function (a, b) {
              var x = a[sortCol], y = b[sortCol];
              if (x === null) return 1; if (y === null) return -1;
              var nx = Number(x), ny = Number(y);
              var c = data.numeric[sortCol] && isFinite(nx) && isFinite(ny) ? nx - ny : String(x).localeCompare(String(y));
              return desc ? -c : c;
            });
            return r;
          }
          function render() {
            var r = rows(), pages = Math.max(1, Math.ceil(r.length / size));
            page = Math.min(Math.max(0, page), pages - 1);
            Array.prototype.forEach.call(head.children, function (th, i) { th.className = i === sortCol ? (desc ? 'sorted-desc' : 'sorted-asc') : ''; });
            body.innerHTML = '';
            r.slice(page * size, page * size + size).forEach(function (row) {
              var tr = document.createElement('tr');
              row.forEach(function (v, i) {
                var td = document.createElement('td');
                if (i === stateCol) { var s = document.createElement('span'); s.className = 'state ' + v; s.textContent = v; td.appendChild(s); }
                else td.textContent = v === null ? '' : String(v);
                if (data.numeric[i]) td.className = 'num';
                tr.appendChild(td);
              });
              body.appendChild(tr);
            });
            document.getElementById('row-count').textContent = r.length + ' trials, page ' + (page + 1) + ' of ' + pages;
          }
          document.getElementById('state-filter').addEventListener('change', function () { page = 0; render(); });
          document.getElementById('prev').addEventListener('click', function () { page--; render(); });
          document.getElementById('next').addEventListener('click', function () { page++; render(); });
          render();
        })();
        """;
}
