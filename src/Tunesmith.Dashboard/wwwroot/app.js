// Tunesmith dashboard pages: studies list, study page, trial page. Data from /api, live updates from /api/events
// (server-sent events); plots drawn by plots.js (the same renderer as the HTML report).
(function () {
  'use strict';
  var fmt = function (v) { return v === null || v === undefined ? '' : (typeof v === 'number' ? TunesmithPlots.format(v) : String(v)); };
  var STATES = ['Complete', 'Running', 'Paused', 'Pruned', 'Failed', 'Waiting'];

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      if (k === 'text') e.textContent = attrs[k]; else if (k === 'class') e.className = attrs[k]; else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c !== null && c !== undefined) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function api(path) {
    return fetch(path, { credentials: 'same-origin', headers: { 'Accept': 'application/json' } }).then(function (r) {
      if (!r.ok) return r.text().then(function (t) { throw new Error(r.status + ' ' + t); });
      return r.json();
    });
  }
  function stateBadge(s) { return el('span', { class: 'state ' + s, text: s }); }
  function when(iso) { if (!iso) return ''; var d = new Date(iso); return d.toLocaleString(); }
  function ago(iso) {
    if (!iso) return '';
    var s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
    return s < 60 ? Math.round(s) + ' s ago' : s < 3600 ? Math.round(s / 60) + ' min ago' : s < 86400 ? Math.round(s / 3600) + ' h ago' : Math.round(s / 86400) + ' d ago';
  }
  function studyPath(name) { return '/studies/' + encodeURIComponent(name); }
  function live(url, handlers) {
    var status = document.getElementById('live');
    var source = new EventSource(url, { withCredentials: true });
    source.onopen = function () { status.textContent = 'live'; status.className = 'live on'; };
    source.onerror = function () { status.textContent = 'reconnecting…'; status.className = 'live off'; };
    Object.keys(handlers).forEach(function (k) { source.addEventListener(k, function (e) { handlers[k](JSON.parse(e.data)); }); });
    return source;
  }
  // Puts rows into a table body in order, keeping each row element whose content did not change, so a live update never
  // swaps the element under a user's click (or a test's). Each row is [key, build()], build making a fresh <tr>.
  function patchRows(body, rows) {
    var old = {};
    Array.prototype.forEach.call(body.children, function (tr) { old[tr.getAttribute('data-key')] = tr; });
    rows.forEach(function (r, i) {
      var fresh = r[1](); fresh.setAttribute('data-key', r[0]);
      var have = old[r[0]];
      var keep = have && have.innerHTML === fresh.innerHTML && have.className === fresh.className ? have : fresh;
      Array.prototype.forEach.call(fresh.attributes, function (a) { if (keep.getAttribute(a.name) !== a.value) keep.setAttribute(a.name, a.value); });
      if (body.children[i] !== keep) body.insertBefore(keep, body.children[i] || null);
      if (have && have !== keep && have.parentNode) have.parentNode.removeChild(have);
      delete old[r[0]];
    });
    Object.keys(old).forEach(function (k) { if (old[k].parentNode) old[k].parentNode.removeChild(old[k]); });
  }

  function kv(dl, entries) {
    dl.innerHTML = '';
    entries.forEach(function (x) { dl.appendChild(el('dt', { text: x[0] })); dl.appendChild(el('dd', { text: typeof x[1] === 'object' && x[1] !== null ? JSON.stringify(x[1]) : fmt(x[1]) })); });
    if (entries.length === 0) { dl.appendChild(el('dt', { text: '—' })); dl.appendChild(el('dd', { text: '' })); }
  }

  // ------------------------------------------------------------------ studies list
  function studiesPage() {
    var body = document.querySelector('#studies tbody');
    function render(studies) {
      document.getElementById('no-studies').hidden = studies.length > 0;
      patchRows(body, studies.map(function (s) { return [s.name, function () {
        return el('tr', { 'data-study': s.name }, [
          el('td', {}, [el('a', { href: studyPath(s.name), text: s.name })]),
          el('td', { text: s.direction.toLowerCase() }), el('td', { text: s.metric }),
          el('td', { class: 'num', text: String(s.total) }),
          el('td', { class: 'num', text: String(s.counts.Complete) }), el('td', { class: 'num', text: String(s.counts.Running) }),
          el('td', { class: 'num', text: String(s.counts.Paused || 0) }),
          el('td', { class: 'num', text: String(s.counts.Pruned) }), el('td', { class: 'num', text: String(s.counts.Failed) }),
          el('td', { class: 'num', text: String(s.counts.Waiting) }),
          el('td', { class: 'num', text: fmt(s.best) }),
          el('td', { text: ago(s.lastActivity), title: when(s.lastActivity) })
        ]);
      }]; }));
    }
    api('/api/studies').then(render);
    live('/api/events', { studies: render });
  }

  // ------------------------------------------------------------------ study page
  function studyPage() {
    var name = decodeURIComponent(location.pathname.split('/')[2]);
    document.title = 'Tunesmith: ' + name;
    document.getElementById('study-name').textContent = name;
    document.getElementById('crumb').textContent = 'study ' + name;
    var state = { sort: 'best', desc: false, offset: 0, limit: 50, states: '', range: null, metric: 'value', direction: 'Minimize', params: [] };
    var plotsBusy = false, plotsAgain = false, plotsAt = 0, tableTimer = null, total = 0;

    function cards(s) {
      var c = document.getElementById('cards'); c.innerHTML = '';
      function card(k, v, id) { c.appendChild(el('div', { class: 'card', id: id || '' }, [el('div', { class: 'k', text: k }), el('div', { class: 'v', text: v })])); }
      card('direction', s.direction ? s.direction.toLowerCase() : state.direction.toLowerCase());
      card('objective', state.metric);
      card('trials', String(s.total), 'card-total');
      STATES.forEach(function (st) { card(st.toLowerCase(), String(s.counts[st] || 0), 'card-' + st.toLowerCase()); });
      card('last activity', ago(s.lastActivity));
      var best = document.getElementById('best');
      best.innerHTML = '';
      if (s.best) {
        best.appendChild(el('span', {}, ['Best: trial ', el('a', { href: studyPath(name) + '/trials/' + s.best.number, text: String(s.best.number) }),
          ' with ' + state.metric + ' = ' + fmt(s.best.value) + '  ',
          el('span', { class: 'muted', text: Object.keys(s.best.params).map(function (k) { return k + '=' + fmt(s.best.params[k]); }).join(', ') })]));
      } else best.appendChild(el('span', { class: 'muted', text: 'No complete trial yet.' }));
      total = s.total;
    }

    function header(t) {
      var row = document.querySelector('#trials thead tr');
      var cols = [['number', 'number'], ['state', 'state'], ['value', state.metric]]
        .concat(t.parameters.map(function (p) { return ['param:' + p.name, p.name]; }))
        .concat(t.metrics.filter(function (m) { return m !== state.metric; }).map(function (m) { return ['metric:' + m, m]; }))
        .concat([['duration', 'duration (s)'], ['worker', 'worker']])
        // A failed trial's reason, when this page of rows holds one (cut short in the cell, whole on hover).
        .concat(t.rows.some(function (r) { return r.failReason; }) ? [['reason', 'fail reason']] : []);
      // Rebuilt only when the columns or the sort change, so a live reload never replaces a header being clicked.
      var signature = JSON.stringify([cols, state.sort, state.desc]);
      if (row.getAttribute('data-signature') === signature) return cols;
      row.setAttribute('data-signature', signature);
      row.innerHTML = '';
      cols.forEach(function (c) {
        if (c[0] === 'reason') { row.appendChild(el('th', { text: c[1] })); return; } // not a sort key of the API
        var th = el('th', { 'data-sort': c[0], text: c[1] });
        if (state.sort === c[0]) th.className = state.desc ? 'sorted-desc' : 'sorted-asc';
        th.addEventListener('click', function () {
          state.desc = state.sort === c[0] ? !state.desc : (c[0] === 'number');
          state.sort = c[0]; state.offset = 0; loadTable();
        });
        row.appendChild(th);
      });
      return cols;
    }

    function loadTable() {
      var q = '?sort=' + encodeURIComponent(state.sort) + '&desc=' + (state.desc ? 1 : 0) + '&offset=' + state.offset + '&limit=' + state.limit;
      if (state.states) q += '&state=' + encodeURIComponent(state.states);
      if (state.range) q += '&range=' + encodeURIComponent(state.range);
      return api('/api/studies/' + encodeURIComponent(name) + '/trials' + q).then(function (t) {
        var cols = header(t);
        var select = document.getElementById('range-param');
        if (select.options.length !== t.parameters.filter(function (p) { return p.kind !== 'Categorical'; }).length) {
          select.innerHTML = '';
          t.parameters.filter(function (p) { return p.kind !== 'Categorical'; }).forEach(function (p) { select.appendChild(el('option', { text: p.name })); });
        }
        var body = document.querySelector('#trials tbody');
        patchRows(body, t.rows.map(function (r) { return [String(r.number), function () {
          var tr = el('tr', { 'data-number': String(r.number), 'data-state': r.state });
          cols.forEach(function (c) {
            var k = c[0], td;
            if (k === 'number') td = el('td', { class: 'num' }, [el('a', { href: studyPath(name) + '/trials/' + r.number, text: String(r.number) })]);
            else if (k === 'state') td = el('td', {}, [stateBadge(r.state)]);
            // A running or paused trial has no value yet: its last report, greyed, as `tunesmith report` shows it.
            else if (k === 'value') td = r.value === null && r.lastValue !== null && (r.state === 'Running' || r.state === 'Paused')
              ? el('td', { class: 'num muted', title: 'last reported, step ' + r.lastStep, text: fmt(r.lastValue) })
              : el('td', { class: 'num', text: fmt(r.value) });
            else if (k === 'duration') td = el('td', { class: 'num', text: r.duration === null ? '' : r.duration.toFixed(1) });
            else if (k === 'worker') td = el('td', { text: r.worker || '' });
            else if (k === 'reason') td = el('td', { class: 'reason', title: r.failReason || '', text: r.failReason || '' });
            else if (k.indexOf('param:') === 0) td = el('td', { text: fmt(r.params[k.substring(6)]) });
            // A running or paused trial's metrics are those of its last report, greyed as its value is.
            else td = el('td', { class: r.state === 'Running' || r.state === 'Paused' ? 'num muted' : 'num', text: fmt(r.metrics[k.substring(7)]) });
            tr.appendChild(td);
          });
          return tr;
        }]; }));
        var pages = Math.max(1, Math.ceil(t.matched / state.limit));
        document.getElementById('row-count').textContent = t.matched + ' of ' + t.total + ' trials, page ' + (Math.floor(state.offset / state.limit) + 1) + ' of ' + pages;
      }).catch(function (e) { document.getElementById('row-count').textContent = String(e.message); });
    }

    function loadPlots() {
      if (plotsBusy) { plotsAgain = true; return; }
      plotsBusy = true; plotsAt = Date.now();
      api('/api/studies/' + encodeURIComponent(name) + '/plots').then(function (p) {
        fullPlotsDrawn = true;
        return TunesmithPlots.renderAllAsync(p, document.getElementById('plots'));
      }).finally(function () {
        plotsBusy = false;
        if (plotsAgain) { plotsAgain = false; schedulePlots(); }
      });
    }
    function schedulePlots() {
      // Large studies redraw at most every 5 s, small ones every second.
      var gap = total > 20000 ? 5000 : 1000, wait = Math.max(0, plotsAt + gap - Date.now());
      if (plotsBusy) { plotsAgain = true; return; }
      setTimeout(loadPlots, wait);
    }
    function scheduleTable() { if (!tableTimer) tableTimer = setTimeout(function () { tableTimer = null; loadTable(); }, 150); }

    function recent(rows) {
      var ul = document.getElementById('recent');
      rows.slice().sort(function (a, b) { return b.number - a.number; }).forEach(function (r) {
        var old = ul.querySelector('li[data-number="' + r.number + '"]');
        if (old) old.parentNode.removeChild(old);
        var li = el('li', { 'data-number': String(r.number), 'data-state': r.state }, [
          new Date().toLocaleTimeString() + ' — trial ', el('a', { href: studyPath(name) + '/trials/' + r.number, text: String(r.number) }), ' ', stateBadge(r.state),
          r.value !== null ? ' ' + state.metric + ' = ' + fmt(r.value) : (r.lastStep !== null ? ' step ' + r.lastStep : '')]);
        ul.insertBefore(li, ul.firstChild);
      });
      while (ul.children.length > 50) ul.removeChild(ul.lastChild);
    }

    document.getElementById('state-filter').addEventListener('change', function (e) { state.states = e.target.value; state.offset = 0; loadTable(); });
    document.getElementById('range-apply').addEventListener('click', function () {
      var p = document.getElementById('range-param').value;
      state.range = p ? p + ':' + document.getElementById('range-low').value.trim() + ':' + document.getElementById('range-high').value.trim() : null;
      state.offset = 0; loadTable();
    });
    document.getElementById('range-clear').addEventListener('click', function () {
      state.range = null; document.getElementById('range-low').value = ''; document.getElementById('range-high').value = ''; state.offset = 0; loadTable();
    });
    document.getElementById('prev').addEventListener('click', function () { state.offset = Math.max(0, state.offset - state.limit); loadTable(); });
    document.getElementById('next').addEventListener('click', function () { state.offset += state.limit; loadTable(); });

    // The optimization history first, on its own (small, and answered before the study's full read is done), then the rest.
    var fullPlotsDrawn = false;
    (window.tunesmithHistory || api('/api/studies/' + encodeURIComponent(name) + '/plots/history')).then(function (h) {
      if (!fullPlotsDrawn) TunesmithPlots.renderHistory(h, document.getElementById('plots'));
    }).catch(function () { /* the full plots will draw it */ });
    loadPlots();
    api('/api/studies/' + encodeURIComponent(name)).then(function (s) {
      state.metric = s.metric; state.direction = s.direction;
      cards(s);
      loadTable();
      live('/api/events?study=' + encodeURIComponent(name), {
        study: function (e) {
          cards(e);
          if (e.changed) { recent(e.changed); scheduleTable(); schedulePlots(); }
        }
      });
    }).catch(function (e) { document.getElementById('study-name').textContent = name + ': ' + e.message; });
  }

  // ------------------------------------------------------------------ trial page
  function trialPage() {
    var parts = location.pathname.split('/'), name = decodeURIComponent(parts[2]), number = parseInt(parts[4], 10);
    document.title = 'Tunesmith: ' + name + ' trial ' + number;
    var crumb = document.getElementById('crumb');
    crumb.appendChild(el('a', { href: studyPath(name), text: 'study ' + name }));
    crumb.appendChild(document.createTextNode(' / trial ' + number));
    var chart = null;
    var trialMetric = '';

    function drawCurve(d, t) {
      var plot = document.getElementById('plot-trial-curve');
      var data = trialMetric === '' ? d.intermediate : d.intermediateMetrics[trialMetric];
      plot.setAttribute('data-metric', trialMetric === '' ? d.metric : trialMetric);
      if (data.length === 0) {
        if (chart) { chart.dispose(); chart = null; }
        plot.textContent = 'No intermediate values reported.'; plot.setAttribute('data-rendered', 'true'); plot.setAttribute('data-points', '0'); return;
      }
      if (!chart) { plot.textContent = ''; chart = echarts.init(plot); }
      var single = data.every(function (p) { return p[0] === data[0][0]; });
      chart.setOption({ animation: false, grid: { left: 60, right: 20, top: 20, bottom: 40 }, tooltip: { trigger: 'axis' },
        // One report (a trial pruned at its first rung): the axis spans a step either side, so the point is not on its edge.
        xAxis: { type: 'value', name: 'step', nameLocation: 'middle', nameGap: 25, minInterval: 1,
          min: single ? data[0][0] - 1 : 'dataMin', max: single ? data[0][0] + 1 : 'dataMax' },
        yAxis: { type: 'value', name: trialMetric === '' ? d.metric : trialMetric, scale: true, axisLabel: { formatter: fmt } },
        series: [{ type: 'line', data: data, lineStyle: { color: TunesmithPlots.stateColors[t.state] }, itemStyle: { color: TunesmithPlots.stateColors[t.state] } }] }, true);
      plot.setAttribute('data-rendered', 'true'); plot.setAttribute('data-points', String(data.length));
    }
    function load() {
      api('/api/studies/' + encodeURIComponent(name) + '/trials/' + number).then(function (d) {
        var t = d.trial;
        var title = document.getElementById('trial-title'); title.innerHTML = '';
        title.appendChild(document.createTextNode('Trial ' + t.number + ' ')); title.appendChild(stateBadge(t.state));
        var c = document.getElementById('cards'); c.innerHTML = '';
        [[d.metric, fmt(t.value)], ['duration', t.duration === null ? '' : t.duration.toFixed(1) + ' s'], ['host', t.host || ''], ['last step', t.lastStep === null ? '' : String(t.lastStep)]]
          .forEach(function (x) { c.appendChild(el('div', { class: 'card' }, [el('div', { class: 'k', text: x[0] }), el('div', { class: 'v', text: x[1] })])); });
        kv(document.getElementById('params'), Object.keys(t.params).map(function (k) { return [k + (d.distributions[k] ? '  (' + d.distributions[k] + ')' : ''), t.params[k]]; }));
        kv(document.getElementById('metrics'), Object.keys(t.metrics).map(function (k) { return [k, t.metrics[k]]; }));
        kv(document.getElementById('run'), [['worker', t.worker], ['host', t.host], ['created', when(d.created)], ['started', when(t.started)], ['finished', when(t.finished)],
          ['heartbeat', when(d.heartbeat)], ['fail reason', t.failReason], ['trial directory', d.trialDirectory]].filter(function (x) { return x[1]; }));
        var retries = document.getElementById('retries'); retries.innerHTML = '';
        if (d.retryOf !== null) retries.appendChild(el('div', {}, ['Retry ' + (d.retryCount || '') + ' of trial ', el('a', { href: studyPath(name) + '/trials/' + d.retryOf, text: String(d.retryOf) })]));
        if (d.retriedBy !== null) retries.appendChild(el('div', {}, ['Retried by trial ', el('a', { href: studyPath(name) + '/trials/' + d.retriedBy, text: String(d.retriedBy) })]));
        d.retries.forEach(function (r) {
          retries.appendChild(el('div', {}, ['Trial ', el('a', { href: studyPath(name) + '/trials/' + r.number, text: String(r.number) }), ' ', stateBadge(r.state), r.failReason ? ' — ' + r.failReason : '']));
        });
        if (!retries.children.length) retries.textContent = 'No retries.';
        kv(document.getElementById('attributes'), Object.keys(d.systemAttributes).map(function (k) { return ['system: ' + k, d.systemAttributes[k]]; })
          .concat(Object.keys(d.userAttributes).map(function (k) { return ['user: ' + k, d.userAttributes[k]]; })));
        document.getElementById('stdout').textContent = d.stdout === null ? '(no stdout log)' : d.stdout;
        document.getElementById('stderr').textContent = d.stderr === null ? '(no stderr log)' : d.stderr;
        // The other metrics the trial reported (the training loss beside the study metric): a picker above its curve.
        var others = Object.keys(d.intermediateMetrics || {}).sort();
        var controls = document.getElementById('trial-curve-controls'), select = document.getElementById('trial-curve-metric');
        if (trialMetric !== '' && others.indexOf(trialMetric) < 0) trialMetric = '';
        controls.hidden = others.length === 0;
        select.innerHTML = '';
        [''].concat(others).forEach(function (n) { select.appendChild(el('option', { value: n, text: n === '' ? d.metric + ' (study metric)' : n })); });
        select.value = trialMetric;
        select.onchange = function () { trialMetric = select.value; drawCurve(d, t); };
        drawCurve(d, t);
      }).catch(function (e) { document.getElementById('trial-title').textContent = e.message; });
    }
    load();
    live('/api/events?study=' + encodeURIComponent(name), {
      study: function (e) { if (e.changed && e.changed.some(function (r) { return r.number === number; })) load(); }
    });
  }

  var page = document.body.getAttribute('data-page');
  if (page === 'studies') studiesPage(); else if (page === 'study') studyPage(); else if (page === 'trial') trialPage();
})();
