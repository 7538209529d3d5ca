// Tunesmith plots: draws a study's plot data (Tunesmith.Reporting.Plots.StudyPlots as JSON) with Apache ECharts.
// One renderer for the live dashboard and the self-contained HTML report. Each chart's element gets
// data-rendered="true" and data-points="N" (the number of drawn data items) once drawn.
(function (global) {
  'use strict';

  var STATE_COLORS = { Complete: '#2f6fb3', Pruned: '#d9534f', Failed: '#7f7f7f', Running: '#f0ad4e', Paused: '#8e44ad', Waiting: '#b5b5b5' };
  var charts = {};

  // A number as Python's '%g' writes it, with `digits` significant digits (6 by default), as the other report formats
  // and the CLI do (Tunesmith.Spaces.NumberText.Short): trailing zeros dropped, and an exponent - a lowercase e, a sign,
  // at least two digits - when the decimal exponent is below -4 or at least `digits`: 6.5388e-05, 0.000123457, 1.5e+07
  // (JavaScript's own spelling is 6.5388e-5). A tie rounds to the even digit, as Python and .NET round (JavaScript
  // rounds it up). NaN and the infinities as NumberText writes them.
  function short(v, digits) {
    var p = digits || 6;
    if (!isFinite(v)) return isNaN(v) ? 'NaN' : (v > 0 ? 'Infinity' : '-Infinity');
    if (v === 0) return Object.is(v, -0) ? '-0' : '0';
    var sign = v < 0 ? '-' : '', a = Math.abs(v);
    var r = a.toExponential(p - 1), k = r.indexOf('e');
    var ds = r.slice(0, k).replace('.', ''), exp = parseInt(r.slice(k + 1), 10);
    var x = a.toExponential(100), xk = x.indexOf('e'), xd = x.slice(0, xk).replace('.', '');
    if (xd.charAt(p) === '5' && /^0*$/.test(xd.slice(p + 1)) && Number(xd.charAt(p - 1)) % 2 === 0) {
      ds = xd.slice(0, p);
      exp = parseInt(x.slice(xk + 1), 10);
    }
    ds = ds.replace(/0+$/, '') || '0';
    if (exp < -4 || exp >= p)
      return sign + ds.charAt(0) + (ds.length > 1 ? '.' + ds.slice(1) : '') + 'e' + (exp < 0 ? '-' : '+') + (Math.abs(exp) < 10 ? '0' : '') + Math.abs(exp);
    if (exp < 0) return sign + '0.' + '0'.repeat(-exp - 1) + ds;
    if (ds.length <= exp + 1) return sign + ds + '0'.repeat(exp + 1 - ds.length);
    return sign + ds.slice(0, exp + 1) + '.' + ds.slice(exp + 1);
  }

  // Axis labels, tooltips and the dashboard's cells: whole numbers (trial numbers, steps) as they are, others as short.
  function fmt(v) {
    if (v === null || v === undefined || !isFinite(v)) return '';
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
    return short(v);
  }

  function axisToUnit(axis, x) {
    if (axis.kind === 'Categorical') return axis.categories.length > 1 ? x / (axis.categories.length - 1) : 0.5;
    var lo = axis.low, hi = axis.high;
    if (axis.kind === 'Log') { lo = Math.log(lo); hi = Math.log(hi); x = Math.log(Math.max(x, 1e-300)); }
    return hi > lo ? (x - lo) / (hi - lo) : 0.5;
  }

  function valueAxis(axis, extra) {
    var a = { name: axis.name, nameLocation: 'middle', nameGap: 28, scale: true };
    if (axis.kind === 'Categorical') { a.type = 'category'; a.data = axis.categories; }
    else if (axis.kind === 'Log') { a.type = 'log'; a.axisLabel = { formatter: fmt }; }
    else { a.type = 'value'; a.axisLabel = { formatter: fmt }; }
    for (var k in extra) a[k] = extra[k];
    return a;
  }

  function draw(el, key, option, points) {
    var chart = charts[key];
    if (chart && chart.getDom() !== el) { chart.dispose(); chart = null; }
    if (!chart) { chart = global.echarts.init(el, null, { renderer: 'canvas' }); charts[key] = chart; }
    option.animation = false;
    chart.setOption(option, true);
    el.setAttribute('data-rendered', 'true');
    el.setAttribute('data-points', String(points));
    return chart;
  }

  function empty(el, text) {
    var key = el.id;
    if (charts[key]) { charts[key].dispose(); delete charts[key]; }
    el.innerHTML = '<div class="plot-empty">' + text + '</div>';
    el.setAttribute('data-rendered', 'true');
    el.setAttribute('data-points', '0');
  }

  function shownOf(n, total) { return n < total ? ' (' + n + ' of ' + total + ' shown)' : ''; }

  function history(el, p) {
    var h = p.history;
    if (h.points.length === 0) return empty(el, 'No complete trials yet.');
    return draw(el, el.id, {
      title: { text: 'Optimization history' + shownOf(h.points.length, h.total), left: 'center', textStyle: { fontSize: 13 } },
      tooltip: { trigger: 'item', formatter: function (o) { return 'trial ' + o.value[0] + '<br>' + p.metric + ' = ' + fmt(o.value[1]); } },
      legend: { top: 22, data: [p.metric, 'best so far'] },
      grid: { left: 60, right: 20, top: 55, bottom: 45 },
      xAxis: { type: 'value', name: 'trial', nameLocation: 'middle', nameGap: 25, min: 'dataMin', max: 'dataMax' },
      yAxis: { type: 'value', name: p.metric, scale: true, axisLabel: { formatter: fmt } },
      dataZoom: [{ type: 'inside' }],
      series: [
        { name: p.metric, type: 'scatter', symbolSize: 5, large: h.points.length > 2000, itemStyle: { color: STATE_COLORS.Complete },
          data: h.points.map(function (t) { return [t.number, t.value]; }) },
        { name: 'best so far', type: 'line', step: 'end', showSymbol: false, lineStyle: { color: '#e4572e', width: 2 },
          data: h.bestSoFar.map(function (t) { return [t.number, t.value]; }) }
      ]
    }, h.points.length);
  }

  // The metric the learning curves show: the study metric (null) or another reported one, kept across live redraws.
  var curveMetric = null;

  // A plot's control: <div class="plot-controls"><label>text<select id=id></label></div>, inserted before `before`.
  function labelledSelect(id, text, before) {
    var box = document.createElement('div');
    box.className = 'plot-controls';
    var label = document.createElement('label');
    label.appendChild(document.createTextNode(text));
    var select = document.createElement('select');
    select.id = id;
    label.appendChild(select);
    box.appendChild(label);
    before.parentNode.insertBefore(box, before);
    return select;
  }

  // A picker of the metric the learning curves show, above the plots, when trials reported other metrics beside the
  // study metric (the training loss beside the validation score); it redraws the curves of the chosen one.
  function curveControls(el, p) {
    var c = p.intermediate, others = c.metrics || [], id = el.id + '-metric', select = document.getElementById(id);
    if (curveMetric !== null && others.indexOf(curveMetric) < 0) curveMetric = null;
    if (!others.length) { if (select) { var old = select.parentNode.parentNode; old.parentNode.removeChild(old); } return; }
    // Above the first plot, so the grid of plots keeps its two columns.
    if (!select) select = labelledSelect(id, 'learning curves of ', el.parentNode.firstChild);
    var names = [p.metric].concat(others);
    if (select.options.length !== names.length || names.some(function (n, i) { return select.options[i].value !== (i ? n : ''); })) {
      select.innerHTML = '';
      names.forEach(function (n, i) {
        var o = document.createElement('option'); o.value = i ? n : ''; o.textContent = i ? n : n + ' (study metric)'; select.appendChild(o);
      });
    }
    select.value = curveMetric === null ? '' : curveMetric;
    select.onchange = function () { curveMetric = select.value === '' ? null : select.value; intermediate(el, p); };
  }

  function intermediate(el, p) {
    var c = p.intermediate;
    curveControls(el, p);
    if (c.curves.length === 0) return empty(el, 'No trial has reported intermediate values.');
    if (curveMetric !== null) return otherMetric(el, p, curveMetric);
    el.setAttribute('data-metric', p.metric);
    var seen = {};
    var series = c.curves.map(function (curve) {
      var pruned = curve.state === 'Pruned';
      // A trial paused once and promoted since is drawn as what it is now (running, complete); its paused_step stays.
      var paused = curve.state === 'Paused';
      var group = paused ? 'Paused' : curve.state;
      seen[group] = true;
      var data = curve.steps.map(function (s, i) { return [s, curve.values[i]]; });
      return {
        name: group, type: 'line', showSymbol: false, data: data,
        lineStyle: { width: pruned ? 1 : 1.2, type: pruned ? 'dashed' : (paused ? 'dotted' : 'solid'), opacity: 0.75, color: paused ? '#8e44ad' : STATE_COLORS[curve.state] },
        itemStyle: { color: paused ? '#8e44ad' : STATE_COLORS[curve.state] },
        endLabel: { show: false },
        markPoint: pruned && data.length ? { symbol: 'pin', symbolSize: 18, data: [{ coord: data[data.length - 1], value: '' }], itemStyle: { color: STATE_COLORS.Pruned } } : undefined,
        tooltip: { formatter: function (o) { return 'trial ' + curve.number + ' (' + group + ')<br>step ' + o.value[0] + ': ' + fmt(o.value[1]) +
          Object.keys(curve.attributes).map(function (k) { return '<br>' + k + ' = ' + curve.attributes[k]; }).join(''); } }
      };
    });
    var summaries = {};
    (c.rungs || []).forEach(function (r) { summaries[r.milestone] = r; });
    if (c.rungSteps.length && series.length) {
      // One vertical mark per rung; with the scheduler known, its tally: records, promoted (↑), stopped (✕), paused (a word:
      // the pause glyph is in no common Debian font and drew as a box).
      series[0].markLine = { silent: true, symbol: 'none', lineStyle: { color: '#555', type: 'dotted' },
        label: { fontSize: 10, formatter: function (o) {
          var r = summaries[o.value];
          return 'rung ' + o.value + (r ? ' · ' + r.records + ': ' + r.promoted + '↑ ' + r.stopped + '✕' + (r.paused ? ' ' + r.paused + ' paused' : '') : '');
        } },
        data: c.rungSteps.map(function (s) { return { xAxis: s }; }) };
    }
    // Each shown trial's records at its rungs, by what came of them (from the stored intermediate values, as the scheduler reads them).
    var RUNG_STYLES = { Promoted: ['promoted at rung', 'triangle', '#2e9d4a'], Stopped: ['stopped at rung', 'path://M0,0L10,10M10,0L0,10', '#d9534f'],
      Paused: ['paused at rung', 'diamond', '#8e44ad'], Reached: ['at rung', 'circle', '#555'] };
    var marks = { Promoted: [], Stopped: [], Paused: [], Reached: [] }, rungPoints = 0;
    c.curves.forEach(function (curve) {
      (curve.rungs || []).forEach(function (m) { marks[m.outcome].push([m.step, m.value, curve.number, m.milestone]); rungPoints++; });
    });
    Object.keys(marks).forEach(function (k) {
      if (!marks[k].length) return;
      var st = RUNG_STYLES[k];
      seen[st[0]] = true;
      series.push({ name: st[0], type: 'scatter', symbol: st[1], symbolSize: 8, z: 5, data: marks[k],
        itemStyle: { color: st[2], borderColor: st[2] },
        tooltip: { formatter: function (o) { return 'trial ' + o.value[2] + ': ' + st[0] + ' ' + o.value[3] + '<br>step ' + o.value[0] + ': ' + fmt(o.value[1]); } } });
    });
    el.setAttribute('data-rung-source', c.rungSource || '');
    el.setAttribute('data-rung-marks', String(rungPoints));
    var points = c.curves.reduce(function (n, x) { return n + x.steps.length; }, 0);
    return draw(el, el.id, {
      title: { text: 'Intermediate values' + shownOf(c.curves.length, c.total), left: 'center', textStyle: { fontSize: 13 },
        subtext: c.rungSource ? 'rungs: ' + c.rungSource : '', subtextStyle: { fontSize: 11 }, itemGap: 2 },
      tooltip: { trigger: 'item' },
      legend: { top: c.rungSource ? 40 : 22, data: Object.keys(seen) },
      grid: { left: 60, right: 30, top: c.rungSource ? 85 : 55, bottom: 45 },
      xAxis: { type: 'value', name: 'step', nameLocation: 'middle', nameGap: 25, min: 'dataMin', max: 'dataMax' },
      yAxis: { type: 'value', name: p.metric, scale: true, axisLabel: { formatter: fmt } },
      series: series
    }, points);
  }

  // The learning curves of another reported metric: the same trials, no rungs (they are the scheduler's, on the study metric).
  function otherMetric(el, p, name) {
    var c = p.intermediate, seen = {}, points = 0;
    el.setAttribute('data-metric', name);
    var series = c.curves.filter(function (curve) { return curve.metrics && curve.metrics[name]; }).map(function (curve) {
      var m = curve.metrics[name], pruned = curve.state === 'Pruned', paused = curve.state === 'Paused';
      var group = paused ? 'Paused' : curve.state;
      seen[group] = true;
      points += m.steps.length;
      return {
        name: group, type: 'line', showSymbol: false, data: m.steps.map(function (s, i) { return [s, m.values[i]]; }),
        lineStyle: { width: pruned ? 1 : 1.2, type: pruned ? 'dashed' : (paused ? 'dotted' : 'solid'), opacity: 0.75, color: paused ? '#8e44ad' : STATE_COLORS[curve.state] },
        itemStyle: { color: paused ? '#8e44ad' : STATE_COLORS[curve.state] },
        tooltip: { formatter: function (o) { return 'trial ' + curve.number + ' (' + group + ')<br>step ' + o.value[0] + ': ' + name + ' ' + fmt(o.value[1]); } }
      };
    });
    return draw(el, el.id, {
      title: { text: 'Reported ' + name + shownOf(series.length, c.total), left: 'center', textStyle: { fontSize: 13 } },
      tooltip: { trigger: 'item' },
      legend: { top: 22, data: Object.keys(seen) },
      grid: { left: 60, right: 30, top: 55, bottom: 45 },
      xAxis: { type: 'value', name: 'step', nameLocation: 'middle', nameGap: 25, min: 'dataMin', max: 'dataMax' },
      yAxis: { type: 'value', name: name, scale: true, axisLabel: { formatter: fmt } },
      series: series
    }, points);
  }

  function parallel(el, p) {
    var pc = p.parallelCoordinates;
    if (pc.lines.length === 0 || pc.axes.length === 0) return empty(el, 'No complete trials with parameters yet.');
    var axes = pc.axes.map(function (a, i) {
      var x = { dim: i, name: a.name };
      if (a.kind === 'Categorical') { x.type = 'category'; x.data = a.categories; }
      else { x.type = a.kind === 'Log' ? 'log' : 'value'; x.min = a.low; x.max = a.high; x.axisLabel = { formatter: fmt }; }
      return x;
    });
    axes.push({ dim: pc.axes.length, name: p.metric, type: 'value', scale: true, axisLabel: { formatter: fmt } });
    var values = pc.lines.map(function (l) { return l.value; });
    var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    return draw(el, el.id, {
      title: { text: 'Parallel coordinates' + shownOf(pc.lines.length, pc.total), left: 'center', textStyle: { fontSize: 13 } },
      parallelAxis: axes,
      parallel: { left: 50, right: 90, top: 60, bottom: 30 },
      visualMap: { type: 'continuous', min: lo, max: hi === lo ? lo + 1 : hi, dimension: pc.axes.length, right: 0, top: 'middle', calculable: true,
        inRange: { color: p.direction === 'Maximize' ? ['#d7e3f4', '#08306b'] : ['#08306b', '#d7e3f4'] }, text: ['', p.metric], formatter: fmt },
      series: [{ type: 'parallel', lineStyle: { width: 1, opacity: 0.6 },
        data: pc.lines.map(function (l) {
          return l.coordinates.map(function (v) { return v === null ? '-' : v; }).concat([l.value]);
        }) }]
    }, pc.lines.length);
  }

  function importance(el, p) {
    var im = p.importance;
    if (im.parameters.length === 0) return empty(el, 'Too few complete trials to estimate importance.');
    var items = im.parameters.slice().reverse();
    return draw(el, el.id, {
      title: { text: 'Parameter importance (' + im.method + ', ' + im.trialsUsed + ' trials)', left: 'center', textStyle: { fontSize: 13 } },
      tooltip: { trigger: 'item', formatter: function (o) { return o.name + ': ' + (o.value * 100).toFixed(1) + '%'; } },
      grid: { left: 110, right: 40, top: 40, bottom: 30 },
      xAxis: { type: 'value', max: 1, axisLabel: { formatter: function (v) { return Math.round(v * 100) + '%'; } } },
      yAxis: { type: 'category', data: items.map(function (x) { return x.name; }) },
      series: [{ type: 'bar', data: items.map(function (x) { return x.importance; }), itemStyle: { color: '#2f6fb3' },
        label: { show: true, position: 'right', formatter: function (o) { return (o.value * 100).toFixed(1) + '%'; } } }]
    }, items.length);
  }

  function slice(el, p, s) {
    if (s.points.length === 0) return empty(el, 'No complete trials with ' + s.axis.name + '.');
    var values = s.points.map(function (x) { return x.number; });
    return draw(el, el.id, {
      title: { text: 'Slice: ' + s.axis.name, left: 'center', textStyle: { fontSize: 13 } },
      tooltip: { trigger: 'item', formatter: function (o) { return 'trial ' + o.value[2] + '<br>' + s.axis.name + ' = ' + (s.axis.kind === 'Categorical' ? s.axis.categories[o.value[0]] : fmt(o.value[0])) + '<br>' + p.metric + ' = ' + fmt(o.value[1]); } },
      grid: { left: 60, right: 70, top: 35, bottom: 45 },
      xAxis: valueAxis(s.axis, {}),
      yAxis: { type: 'value', name: p.metric, scale: true, axisLabel: { formatter: fmt }, axisLine: { onZero: false } },
      visualMap: { type: 'continuous', dimension: 2, min: Math.min.apply(null, values), max: Math.max.apply(null, values) + 1, right: 0, top: 'middle', text: ['trial', ''], inRange: { color: ['#c6dbef', '#08306b'] }, itemHeight: 80 },
      series: [{ type: 'scatter', symbolSize: 5, large: s.points.length > 2000, data: s.points.map(function (x) { return [x.x, x.y, x.number]; }) }]
    }, s.points.length);
  }

  function contour(el, p, c) {
    var nx = c.xGrid.length, ny = c.yGrid.length, cells = [];
    var lo = Infinity, hi = -Infinity;
    for (var iy = 0; iy < ny; iy++) for (var ix = 0; ix < nx; ix++) {
      var z = c.z[iy][ix]; cells.push([ix, iy, z]); if (z < lo) lo = z; if (z > hi) hi = z;
    }
    function idx(axis, v, n) { return axisToUnit(axis, v) * (n - 1); }
    // The plot data's round ticks (a category's index, or 1e-3, 0.25, ...), placed where their values fall on the cell
    // grid (cell i's centre at i), with the labels the PNG writer draws too.
    function axisTicks(axis, list, n) {
      var at = [], labels = {};
      list.forEach(function (t) { var i = idx(axis, t.value, n); at.push(i); labels[i.toFixed(6)] = t.label; });
      return { at: at, label: function (i) { var l = labels[Number(i).toFixed(6)]; return l === undefined ? '' : l; } };
    }
    var xt = axisTicks(c.xAxis, c.xTicks, nx), yt = axisTicks(c.yAxis, c.yTicks, ny);
    return draw(el, el.id, {
      title: { text: 'Contour: ' + c.xAxis.name + ' × ' + c.yAxis.name, left: 'center', textStyle: { fontSize: 13 } },
      tooltip: { trigger: 'item', formatter: function (o) { return o.seriesIndex === 1 ? 'trial ' + o.value[3] + ': ' + fmt(o.value[2]) : 'interpolated ' + fmt(o.value[2]); } },
      grid: { left: 70, right: 80, top: 35, bottom: 45 },
      xAxis: { type: 'value', min: -0.5, max: nx - 0.5, axisLine: { onZero: false }, name: c.xAxis.name, nameLocation: 'middle', nameGap: 28, axisTick: { customValues: xt.at }, axisLabel: { customValues: xt.at, formatter: xt.label }, splitLine: { show: false } },
      yAxis: { type: 'value', min: -0.5, max: ny - 0.5, axisLine: { onZero: false }, name: c.yAxis.name, nameLocation: 'middle', nameGap: 50, axisTick: { customValues: yt.at }, axisLabel: { customValues: yt.at, formatter: yt.label }, splitLine: { show: false } },
      visualMap: { type: 'continuous', min: lo, max: hi === lo ? lo + 1 : hi, dimension: 2, seriesIndex: 0, right: 0, top: 'middle', calculable: true, formatter: fmt, itemHeight: 120,
        inRange: { color: p.direction === 'Maximize' ? ['#f7fbff', '#6baed6', '#08306b'] : ['#08306b', '#6baed6', '#f7fbff'] } },
      series: [
        { type: 'custom', data: cells, renderItem: function (params, api) {
            var a = api.coord([api.value(0) - 0.5, api.value(1) + 0.5]), b = api.coord([api.value(0) + 0.5, api.value(1) - 0.5]);
            return { type: 'rect', shape: { x: a[0], y: a[1], width: b[0] - a[0] + 0.5, height: b[1] - a[1] + 0.5 }, style: { fill: api.visual('color') } };
          }, encode: { x: 0, y: 1 } },
        { type: 'scatter', symbolSize: 4, itemStyle: { color: '#e4572e', borderColor: '#fff', borderWidth: 0.5 },
          data: c.points.map(function (q) { return [idx(c.xAxis, q.x, nx), idx(c.yAxis, q.y, ny), q.value, q.number]; }) }
      ]
    }, c.points.length);
  }

  function edf(el, p) {
    var e = p.edf;
    if (e.values.length === 0) return empty(el, 'No complete trials yet.');
    return draw(el, el.id, {
      title: { text: 'Empirical distribution of ' + p.metric + ' (' + e.total + ' trials)', left: 'center', textStyle: { fontSize: 13 } },
      tooltip: { trigger: 'axis', formatter: function (o) { return fmt(o[0].value[0]) + ': ' + (o[0].value[1] * 100).toFixed(1) + '%'; } },
      grid: { left: 60, right: 20, top: 40, bottom: 45 },
      xAxis: { type: 'value', name: p.metric, nameLocation: 'middle', nameGap: 25, scale: true, axisLabel: { formatter: fmt } },
      yAxis: { type: 'value', min: 0, max: 1, name: 'share ≤ x' },
      series: [{ type: 'line', step: 'end', showSymbol: false, data: e.values.map(function (v, i) { return [v, e.fractions[i]]; }), lineStyle: { color: '#2f6fb3' }, areaStyle: { opacity: 0.08 } }]
    }, e.values.length);
  }

  // Timeline lanes: per worker (the server's lanes: a worker's parallel slots, grouped by host), per Slurm job, or per
  // compute class; within a job or class, trials that ran at once get slots #1, #2, ... So idle capacity shows as gaps.
  var TIMELINE_GROUPS = { worker: 'worker / host', job: 'Slurm job', computeClass: 'compute class' };
  var timelineGroup = 'worker';

  function timelineLanes(tl, group) {
    if (group === 'worker') {
      var laneOf = {};
      tl.bars.forEach(function (b) { laneOf[b.number] = b.lane; });
      return { lanes: tl.lanes, laneOf: laneOf };
    }
    var none = group === 'job' ? '(no Slurm job)' : '(no compute class)';
    var byKey = {};
    tl.bars.forEach(function (b) { var k = b[group] || none; (byKey[k] = byKey[k] || []).push(b); });
    var lanes = [], laneOf2 = {};
    Object.keys(byKey).sort().forEach(function (k) {
      var ends = [], used = 0;
      byKey[k].slice().sort(function (a, b) { return a.start - b.start || a.number - b.number; }).forEach(function (b) {
        var slot = -1;
        for (var i = 0; i < ends.length; i++) if (ends[i] <= b.start) { slot = i; break; }
        if (slot < 0) { ends.push(b.end); slot = ends.length - 1; } else ends[slot] = b.end;
        laneOf2[b.number] = k + ' #' + (slot + 1);
        used = Math.max(used, slot + 1);
      });
      for (var n = 1; n <= used; n++) lanes.push(k + ' #' + n);
    });
    return { lanes: lanes, laneOf: laneOf2 };
  }

  function timelineControls(el, p) {
    var id = el.id + '-group', select = document.getElementById(id);
    if (!select) {
      select = labelledSelect(id, 'timeline lanes per ', el);
      Object.keys(TIMELINE_GROUPS).forEach(function (k) {
        var o = document.createElement('option'); o.value = k; o.textContent = TIMELINE_GROUPS[k]; select.appendChild(o);
      });
    }
    select.value = timelineGroup;
    select.onchange = function () { timelineGroup = select.value; timeline(el, p); };
  }

  // A lane's name shortened in the middle: a worker id (host:pid:…) is long, and the slot (#1, #2) at its end is what
  // tells two lanes of one worker apart.
  function laneLabel(name) { return name.length <= 22 ? name : name.slice(0, 11) + '…' + name.slice(-10); }

  function timeline(el, p) {
    var tl = p.timeline;
    timelineControls(el, p);
    if (tl.bars.length === 0) return empty(el, 'No trial has started yet.');
    var grouping = timelineLanes(tl, timelineGroup);
    var lanes = {};
    grouping.lanes.forEach(function (w, i) { lanes[w] = i; });
    var t0 = Math.min.apply(null, tl.bars.map(function (b) { return b.start; }));
    var data = tl.bars.map(function (b) {
      return { value: [lanes[grouping.laneOf[b.number]], b.start - t0, b.end - t0, b.number], bar: b };
    });
    var height = Math.max(260, 60 + grouping.lanes.length * 22);
    el.style.height = height + 'px';
    el.setAttribute('data-group', timelineGroup);
    el.setAttribute('data-lanes', String(grouping.lanes.length));
    // One series per state the bars are in, so the legend names the colours (and hides a state when clicked).
    var states = Object.keys(STATE_COLORS).filter(function (s) { return tl.bars.some(function (b) { return b.state === s; }); });
    function bar(params, api) {
      var lane = api.value(0), s = api.coord([api.value(1), lane]), e = api.coord([api.value(2), lane]);
      var h = api.size([0, 1])[1] * 0.6;
      return { type: 'rect', shape: { x: s[0], y: s[1] - h / 2, width: Math.max(1, e[0] - s[0]), height: h }, style: api.style() };
    }
    var chart = draw(el, el.id, {
      title: { text: 'Timeline per ' + TIMELINE_GROUPS[timelineGroup] + shownOf(tl.bars.length, tl.total), left: 'center', textStyle: { fontSize: 13 } },
      legend: { data: states, top: 28, textStyle: { fontSize: 11 } },
      tooltip: { trigger: 'item', formatter: function (o) {
        var b = o.data.bar;
        return 'trial ' + b.number + ' (' + b.state + ')<br>' + b.worker + (b.job ? '<br>job ' + b.job : '') + (b.computeClass ? '<br>class ' + b.computeClass : '') +
          (b.node ? '<br>node ' + b.node : '') + '<br>' + ((b.end - b.start) / 1000).toFixed(1) + ' s';
      } },
      grid: { left: 170, right: 20, top: 58, bottom: 45 },
      xAxis: { type: 'value', name: 'seconds since first start', nameLocation: 'middle', nameGap: 25, min: 0, axisLabel: { formatter: function (v) { return fmt(v / 1000); } } },
      yAxis: { type: 'category', data: grouping.lanes, axisLabel: { formatter: laneLabel, width: 160, overflow: 'truncate' } },
      dataZoom: [{ type: 'inside', filterMode: 'weakFilter' }],
      series: states.map(function (state) {
        return { name: state, type: 'custom', encode: { x: [1, 2], y: 0 }, itemStyle: { color: STATE_COLORS[state] }, renderItem: bar,
          data: data.filter(function (d) { return d.bar.state === state; }) };
      })
    }, tl.bars.length);
    chart.resize();
    return chart;
  }

  function ensure(root, id, cls) {
    var el = document.getElementById(id);
    if (!el) { el = document.createElement('div'); el.id = id; el.className = cls === 'group' ? 'plot-group' : 'plot ' + (cls || ''); root.appendChild(el); }
    return el;
  }

  // The steps that draw every plot into root (a container element), one element per plot with a stable id.
  function steps(p, root) {
    // Every element first, in page order; the charts then draw into them one by one.
    ensure(root, 'plot-history'); ensure(root, 'plot-intermediate'); ensure(root, 'plot-importance'); ensure(root, 'plot-parallel', 'wide');
    ensure(root, 'plot-slices', 'group'); ensure(root, 'plot-contours', 'group'); ensure(root, 'plot-edf'); ensure(root, 'plot-timeline', 'wide');
    var list = [
      function () { history(ensure(root, 'plot-history'), p); },
      function () { intermediate(ensure(root, 'plot-intermediate'), p); },
      function () { importance(ensure(root, 'plot-importance'), p); },
      function () { parallel(ensure(root, 'plot-parallel', 'wide'), p); }
    ];
    var slices = ensure(root, 'plot-slices', 'group');
    p.slices.forEach(function (s, i) { list.push(function () { slice(ensure(slices, 'plot-slice-' + i, 'small'), p, s); }); });
    var contours = ensure(root, 'plot-contours', 'group');
    list.push(function () {
      var none = document.getElementById('plot-contour-none');
      if (p.contours.length === 0) empty(ensure(contours, 'plot-contour-none', 'small'), 'Contour plots need two parameters and three complete trials.');
      else if (none) none.parentNode.removeChild(none);
    });
    p.contours.forEach(function (c, i) { list.push(function () { contour(ensure(contours, 'plot-contour-' + i, 'small'), p, c); }); });
    list.push(function () { edf(ensure(root, 'plot-edf'), p); });
    list.push(function () { timeline(ensure(root, 'plot-timeline', 'wide'), p); });
    return list;
  }

  // Draws every plot at once (the report).
  function renderAll(p, root) { steps(p, root).forEach(function (f) { f(); }); }

  // Draws every plot one per task, so a live page keeps handling its events between two charts; a later call
  // supersedes an unfinished one. Returns a promise of the end.
  var generation = 0;
  function renderAllAsync(p, root) {
    var mine = ++generation, list = steps(p, root), i = 0;
    return new Promise(function (resolve) {
      (function next() {
        if (mine !== generation || i >= list.length) { resolve(); return; }
        list[i++]();
        setTimeout(next, 0);
      })();
    });
  }

  // Draws the optimization history alone from {metric, direction, history} (what the dashboard sends first).
  function renderHistory(h, root) { history(ensure(root, 'plot-history'), h); }

  function resize() { Object.keys(charts).forEach(function (k) { charts[k].resize(); }); }
  if (global.addEventListener) global.addEventListener('resize', resize);

  global.TunesmithPlots = { renderAll: renderAll, renderAllAsync: renderAllAsync, renderHistory: renderHistory, format: fmt, short: short, stateColors: STATE_COLORS };
})(window);
