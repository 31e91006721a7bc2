// mpsshd dashboard: tables from the REST routes; per MPTCP connection of the
// host a live chart of throughput per interface from `connection-rates`
// events, with subflow arrivals and departures marked; and per SSH session
// served here a chart from the `session-sample` events' per-subflow counters. Everything is built with DOM calls
// (never innerHTML): interface and user names come from the host.
'use strict';
(function () {
  const MAX_POINTS = 600;
  const COLORS = ['#1570ef', '#dc6803', '#039855', '#c11574', '#6941c6', '#0e9384', '#b54708', '#475467'];
  const charts = new Map(); // session id -> { el, names: string[], data: number[][], prev: Map, plot }
  const conns = new Map(); // connection id -> { el, names: string[], data: number[][], marks: {at, ifname, kind}[], plot }
  const ifColors = new Map(); // interface name -> colour, the same in every chart
  function colorOf(name) {
    if (!ifColors.has(name)) ifColors.set(name, COLORS[ifColors.size % COLORS.length]);
    return ifColors.get(name);
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : String(c));
    return e;
  }

  function fmtBits(bps) {
    if (bps == null) return '';
    const units = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s'];
    let i = 0;
    while (bps >= 1000 && i < units.length - 1) { bps /= 1000; i++; }
    return `${bps.toFixed(bps < 10 && i > 0 ? 1 : 0)} ${units[i]}`;
  }

  function fmtBytes(n) {
    if (n == null) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
  }

  function fmtDuration(s) {
    const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m ${s % 60}s`;
  }

  function fillTable(table, headers, rows) {
    table.replaceChildren(el('tr', {}, ...headers.map((h) => (h instanceof Node && h.tagName === 'TH' ? h : el('th', {}, h)))), ...rows.map((r) => el('tr', {}, ...r.map((c) => (c instanceof Node && c.tagName === 'TD' ? c : el('td', {}, c))))));
  }

  async function getJson(path) {
    const res = await fetch(path, { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return res.json();
  }

  function renderStatus(s) {
    const parts = [`v${s.version}`, `up ${fmtDuration(s.uptimeSeconds)}`, `MPTCP ${s.mptcp.enabled ? 'on' : 'OFF'}`, `path manager ${s.pathManager.enabled ? s.pathManager.kind : 'off'}`];
    if (s.limits) parts.push(`limits ${s.limits.subflows} subflows / ${s.limits.addAddrAccepted} add_addr`);
    parts.push(`${s.counts.endpoints} endpoints, ${s.counts.sessions} sessions, ${s.counts.subflows} subflows`);
    document.getElementById('summary').textContent = parts.join(' · ');
    const list = document.getElementById('warning-list');
    list.replaceChildren(...s.warnings.map((w) => el('li', {}, `${w.code}: ${w.message}`)));
    document.getElementById('warnings').hidden = s.warnings.length === 0;
  }

  function renderInterfaces(v) {
    fillTable(
      document.getElementById('interfaces'),
      ['Interface', 'State', 'Mode', 'Addresses', 'Subflows'],
      v.interfaces.map((i) => [
        i.name,
        el('td', { class: i.up && i.lowerUp ? '' : 'down' }, i.up ? (i.lowerUp ? 'up' : 'no carrier') : 'down'),
        i.mode ? i.mode.join(',') : el('span', { class: 'muted' }, 'ignored'),
        el('div', {}, ...i.addresses.map((a) => el('div', {}, `${a.address}/${a.prefixLen} `, el('span', { class: 'muted' }, a.endpoint ? `endpoint ${a.endpoint.id} (${a.endpoint.flags.join(',')})` : a.unused ? `unused: ${a.unused.reason}` : '')))),
        el('td', { class: 'num' }, i.subflows),
      ]),
    );
  }

  function renderEndpoints(v) {
    fillTable(
      document.getElementById('endpoints'),
      ['Id', 'Address', 'Interface', 'Flags', 'Owner'],
      v.endpoints.map((e) => [el('td', { class: 'num' }, e.id), e.port ? `${e.address} port ${e.port}` : e.address, e.ifname || '–', e.flags.join(','), e.owner]),
    );
    fillTable(
      document.getElementById('unused'),
      ['Address', 'Interface', 'Why'],
      v.unused.map((u) => [u.address, u.ifname, u.detail ? `${u.reason} (${u.detail})` : u.reason]),
    );
  }

  function card(id) {
    let c = charts.get(id);
    if (c) return c;
    const root = el('div', { class: 'session', 'data-session': id }, el('h3', {}, `session ${id}`), el('div', { class: 'scroll' }, el('table', { class: 'subflows' })), el('div', { class: 'chart' }));
    const box = document.getElementById('sessions');
    box.querySelector('.empty')?.remove();
    box.append(root);
    c = { el: root, names: [], data: [[]], prev: new Map(), plot: null };
    charts.set(id, c);
    return c;
  }

  function renderSessions(v, details) {
    const seen = new Set();
    for (const s of v.sessions) {
      seen.add(s.id);
      const c = card(s.id);
      // No user at all: this host hides other users' processes, and the API their sessions' owners.
      const who = s.user ? `${s.user}@${s.client.address}` : s.user === undefined ? s.client.address : `${s.client.address} (authenticating)`;
      c.el.querySelector('h3').textContent = `${who} · ${s.transport} · since ${new Date(s.startedAt).toLocaleTimeString()} · sent ${fmtBytes(s.bytesSent)}, received ${fmtBytes(s.bytesReceived)}`;
      const d = details.get(s.id);
      if (d) {
        fillTable(
          c.el.querySelector('table.subflows'),
          ['Interface', 'Local', 'Remote', 'Backup', 'RTT', 'Sent', 'Received'],
          d.subflows.map((f) => [f.ifname || '?', `${f.local.address}:${f.local.port}`, `${f.remote.address}:${f.remote.port}`, f.backup ? 'yes' : 'no', el('td', { class: 'num' }, `${(f.rttUs / 1000).toFixed(1)} ms`), el('td', { class: 'num' }, fmtBytes(f.bytesSent)), el('td', { class: 'num' }, fmtBytes(f.bytesReceived))]),
        );
      }
    }
    for (const [id, c] of charts) {
      if (!seen.has(id)) {
        c.plot?.destroy();
        c.el.remove();
        charts.delete(id);
      }
    }
    if (charts.size === 0 && !document.querySelector('#sessions .empty')) document.getElementById('sessions').append(el('p', { class: 'empty' }, 'No SSH sessions.'));
  }

  function makePlot(c) {
    c.plot?.destroy();
    const width = Math.max(320, c.el.clientWidth - 20);
    c.plot = new uPlot(
      {
        width,
        height: 220,
        scales: { x: { time: true } },
        series: [{}, ...c.names.map((n, i) => ({ label: n, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: false, value: (u, v) => fmtBits(v) }))],
        axes: [{}, { size: 80, values: (u, vals) => vals.map(fmtBits) }],
      },
      c.data,
      c.el.querySelector('.chart'),
    );
  }

  /** Rates from one sample: bits/s per interface, summed over that interface's subflows. */
  function onSample(e) {
    const c = card(e.session);
    const rates = new Map();
    const next = new Map();
    // When the worker read the counters; the event's own time is when it was published.
    const at = e.sampledAt || e.at;
    for (const f of e.subflows) {
      const name = f.ifname || '?';
      const key = `${name}|${f.local}`;
      const bytes = (f.bytesSent || 0) + (f.bytesReceived || 0);
      next.set(key, { bytes, at });
      const p = c.prev.get(key);
      // A counter that went backwards is a new subflow on the same address.
      if (p && at > p.at && bytes >= p.bytes) rates.set(name, (rates.get(name) || 0) + ((bytes - p.bytes) * 8 * 1000) / (at - p.at));
      else if (!rates.has(name)) rates.set(name, null);
    }
    const first = c.prev.size === 0;
    c.prev = next;
    if (first) return;
    let grew = false;
    for (const name of rates.keys()) {
      if (!c.names.includes(name)) {
        c.names.push(name);
        c.data.push(c.data[0].map(() => null));
        grew = true;
      }
    }
    c.data[0].push(at / 1000);
    c.names.forEach((n, i) => c.data[i + 1].push(rates.has(n) ? rates.get(n) : null));
    if (c.data[0].length > MAX_POINTS) for (const col of c.data) col.shift();
    if (grew || !c.plot) makePlot(c);
    else c.plot.setData(c.data);
  }

  function connCard(id) {
    let c = conns.get(id);
    if (c) return c;
    const root = el('div', { class: 'session', 'data-connection': id }, el('h3', {}, `connection ${id}`), el('p', { class: 'rates' }), el('div', { class: 'chart' }), el('div', { class: 'scroll' }, el('table', { class: 'subflows' })));
    const box = document.getElementById('connections');
    box.querySelector('.empty')?.remove();
    box.append(root);
    c = { el: root, names: [], data: [[]], marks: [], plot: null };
    conns.set(id, c);
    return c;
  }

  /** Dashed vertical lines where a subflow joined (+) or left (−), labelled with its interface. */
  function marksPlugin(c) {
    return {
      hooks: {
        draw: [
          (u) => {
            const ctx = u.ctx;
            const dpr = window.devicePixelRatio || 1;
            for (const m of c.marks) {
              const x = Math.round(u.valToPos(m.at / 1000, 'x', true));
              if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
              ctx.save();
              ctx.strokeStyle = colorOf(m.ifname);
              ctx.fillStyle = colorOf(m.ifname);
              ctx.lineWidth = dpr;
              ctx.setLineDash([4 * dpr, 3 * dpr]);
              ctx.beginPath();
              ctx.moveTo(x, u.bbox.top);
              ctx.lineTo(x, u.bbox.top + u.bbox.height);
              ctx.stroke();
              ctx.font = `${11 * dpr}px system-ui, sans-serif`;
              ctx.fillText(`${m.kind === 'added' ? '+' : '\u2212'} ${m.ifname}`, x + 3 * dpr, u.bbox.top + 12 * dpr);
              ctx.restore();
            }
          },
        ],
      },
    };
  }

  function makeConnPlot(c) {
    c.plot?.destroy();
    const width = Math.max(280, c.el.clientWidth - 20);
    c.plot = new uPlot(
      {
        width,
        height: width < 500 ? 180 : 220,
        scales: { x: { time: true } },
        plugins: [marksPlugin(c)],
        series: [{}, ...c.names.map((n) => ({ label: n, stroke: colorOf(n), width: 2, spanGaps: false, value: (u, v) => fmtBits(v) }))],
        axes: [{}, { size: 80, values: (u, vals) => vals.map(fmtBits) }],
      },
      c.data,
      c.el.querySelector('.chart'),
    );
  }

  /** One `connection-rates` event: a point per connection, a value per interface (sent + received). */
  function onRates(e) {
    const at = e.sampledAt || e.at;
    for (const [id, per] of Object.entries(e.connections)) {
      const c = connCard(id);
      let grew = false;
      for (const name of Object.keys(per)) {
        if (!c.names.includes(name)) {
          c.names.push(name);
          c.data.push(c.data[0].map(() => null));
          grew = true;
        }
      }
      c.data[0].push(at / 1000);
      // An interface without a subflow now carries nothing: 0, so a link going shows as a drop.
      c.names.forEach((n, i) => c.data[i + 1].push(per[n] ? per[n].sendBps + per[n].recvBps : 0));
      if (c.data[0].length > MAX_POINTS) for (const col of c.data) col.shift();
      c.el.querySelector('.rates').replaceChildren(...Object.entries(per).flatMap(([n, r], i) => [i ? ' · ' : '', el('b', {}, n), ` ${fmtBits(r.sendBps + r.recvBps)}`]));
      if (grew || !c.plot) makeConnPlot(c);
      else c.plot.setData(c.data);
    }
  }

  function onSubflowMark(e) {
    const c = connCard(e.connection);
    c.marks.push({ at: e.at, ifname: e.ifname || '?', kind: e.type === 'connection-subflow-added' ? 'added' : 'removed' });
    if (c.marks.length > 100) c.marks.shift();
    c.plot?.redraw(false, false);
  }

  function renderConnections(v) {
    const seen = new Set();
    for (const x of v.connections) {
      seen.add(x.id);
      const c = connCard(x.id);
      const who = x.process ? `${x.process.command}${x.process.user ? ` (${x.process.user})` : ''}` : 'unknown process';
      const peer = x.process?.destination ?? `${x.remote.address}:${x.remote.port}`;
      const arrow = x.direction === 'outgoing' ? '\u2192' : '\u2190';
      c.el.querySelector('h3').textContent = `${who} ${arrow} ${peer}${x.session ? (x.session.user ? ` · SSH session of ${x.session.user}` : ' · SSH session') : ''} · ${x.local.address}:${x.local.port} ${arrow} ${x.remote.address}:${x.remote.port} · since ${new Date(x.openedAt).toLocaleTimeString()}`;
      fillTable(
        // Not the first table: uPlot's legend is one too.
        c.el.querySelector('table.subflows'),
        ['Interface', el('th', { class: 'wide' }, 'Local'), el('th', { class: 'wide' }, 'Remote'), 'State', 'RTT', 'Rate', el('th', { class: 'wide' }, 'Sent'), el('th', { class: 'wide' }, 'Received')],
        x.subflows.map((f) => [
          f.ifname || '?',
          el('td', { class: 'wide' }, `${f.local.address}:${f.local.port}`),
          el('td', { class: 'wide' }, `${f.remote.address}:${f.remote.port}`),
          el('td', { class: f.stale ? 'stale' : '' }, `${f.stale ? 'stale' : f.state}${f.backup ? ', backup' : ''}`),
          el('td', { class: 'num' }, `${(f.rttUs / 1000).toFixed(1)} ms`),
          el('td', { class: 'num' }, fmtBits((f.sendBps || 0) + (f.recvBps || 0))),
          el('td', { class: 'num wide' }, fmtBytes(f.bytesSent)),
          el('td', { class: 'num wide' }, fmtBytes(f.bytesReceived)),
        ]),
      );
    }
    for (const [id, c] of conns) {
      if (!seen.has(id)) {
        c.plot?.destroy();
        c.el.remove();
        conns.delete(id);
      }
    }
    if (conns.size === 0 && !document.querySelector('#connections .empty')) {
      document.getElementById('connections').append(el('p', { class: 'empty' }, v.periodMs === 0 ? 'Connection sampling is off (api.connectionSampleMs: 0).' : 'No MPTCP connections.'));
    }
  }

  let refreshTimer = null;
  async function refresh() {
    refreshTimer = null;
    try {
      const [status, ifs, eps, sess, cons] = await Promise.all([getJson('/status'), getJson('/interfaces'), getJson('/endpoints'), getJson('/sessions'), getJson('/connections')]);
      const details = new Map();
      await Promise.all(sess.sessions.map(async (s) => details.set(s.id, await getJson(`/sessions/${encodeURIComponent(s.id)}`).catch(() => null))));
      renderStatus(status);
      renderInterfaces(ifs);
      renderEndpoints(eps);
      renderSessions(sess, details);
      renderConnections(cons);
    } catch (err) {
      document.getElementById('summary').textContent = `cannot reach mpsshd: ${err.message}`;
    }
  }
  function soon() {
    if (!refreshTimer) refreshTimer = setTimeout(refresh, 300);
  }

  function connect() {
    const stream = document.getElementById('stream');
    const es = new EventSource('/events');
    es.onopen = () => { stream.textContent = 'events: live'; stream.className = 'pill ok'; };
    es.onerror = () => { stream.textContent = 'events: reconnecting'; stream.className = 'pill bad'; };
    es.addEventListener('session-sample', (m) => onSample(JSON.parse(m.data)));
    es.addEventListener('connection-rates', (m) => onRates(JSON.parse(m.data)));
    for (const t of ['connection-subflow-added', 'connection-subflow-removed']) {
      es.addEventListener(t, (m) => {
        onSubflowMark(JSON.parse(m.data));
        soon();
      });
    }
    for (const t of ['connection-opened', 'connection-closed']) es.addEventListener(t, soon);
    for (const t of ['interface-up', 'interface-down', 'endpoint-added', 'endpoint-removed', 'subflow-established', 'subflow-closed', 'session-opened', 'session-closed', 'reconcile', 'gap']) es.addEventListener(t, soon);
  }

  window.mpssh = {
    charts,
    conns,
    points: (id) => (charts.get(id) ? charts.get(id).data[0].length : 0),
    series: (id) => (charts.get(id) ? charts.get(id).names.slice() : []),
    connPoints: (id) => (conns.get(id) ? conns.get(id).data[0].length : 0),
    connSeries: (id) => (conns.get(id) ? conns.get(id).names.slice() : []),
    connMarks: (id) => (conns.get(id) ? conns.get(id).marks.map((m) => `${m.kind} ${m.ifname}`) : []),
  };
  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const c of conns.values()) if (c.plot) makeConnPlot(c);
    }, 200);
  });
  refresh();
  setInterval(refresh, 5000);
  connect();
})();
