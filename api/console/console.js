// The operator console: a small single-page app in plain JavaScript (no build step) over the REST
// API. Every text that comes from the API is put into the page as text (textContent, setAttribute),
// never parsed as HTML; the server's Content-Security-Policy allows scripts from this file only.
'use strict';
(function () {
  const SESSION = 'dialer-console-session';
  const STATES = { 0: 'Idle', 1: 'Running', 2: 'Sleeping', 3: 'Stopped', 4: 'Finished' };
  const PARAMS = [
    ['limit', 'Lines (limit)'], ['maxTryCount', 'Max tries'], ['intervalTryCount', 'Retry after (s)'],
    ['minBillSec', 'Min bill (s)'], ['originateTimeout', 'Ring timeout (s)'], ['wrapUpTime', 'Wrap-up (s)'], ['cps', 'Calls per second'],
  ];
  const main = document.getElementById('main');
  let timers = [];
  let closers = [];
  let config = { temporalUiUrl: null, temporalUiPort: 8233, namespace: 'default' };

  // ---- DOM helpers: text only ----
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
    return el;
  }
  const SVG = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, text) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    if (text !== undefined) el.textContent = String(text);
    return el;
  }
  const sumOf = (minutes, k) => (minutes || []).reduce((n, m) => n + m[k], 0);
  const fmtTime = (ms) => (ms ? new Date(ms).toLocaleString() : '—');
  const pct = (a, b) => (b > 0 ? `${((100 * a) / b).toFixed(1)} %` : '—');
  function secs(n) {
    n = Math.round(n || 0);
    return n >= 3600 ? `${Math.floor(n / 3600)}h ${Math.floor((n % 3600) / 60)}m` : n >= 60 ? `${Math.floor(n / 60)}m ${n % 60}s` : `${n}s`;
  }

  // ---- Session and API ----
  const session = () => JSON.parse(sessionStorage.getItem(SESSION) || 'null');
  function authHeaders() {
    const c = session();
    return c ? { 'X-Key': c.key, 'X-Access-Token': c.token } : {};
  }
  async function api(method, path, body) {
    const headers = authHeaders();
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (r.status === 401 && session()) {
      sessionStorage.removeItem(SESSION);
      location.hash = '#/login';
    }
    let json = null;
    try { json = await r.json(); } catch { /* not JSON */ }
    return { status: r.status, ok: r.ok, body: json, headers: r.headers };
  }
  const dialerPath = (id) => `/api/v2/dialer/${encodeURIComponent(id)}`;
  const credQuery = () => { const c = session(); return `x_key=${encodeURIComponent(c.key)}&access_token=${encodeURIComponent(c.token)}`; };

  /** Runs fn now and every ms, never two runs at once (a slow API is not asked twice as often). */
  function every(ms, fn) {
    let running = false;
    const run = async () => {
      if (running) return;
      running = true;
      try { await fn(); } catch { /* the API unreachable for a moment: the next round tries again */ } finally { running = false; }
    };
    void run();
    timers.push(setInterval(run, ms));
  }
  /** fn over items, at most `limit` requests in flight (the API rate-limits each credential). */
  async function mapLimit(items, limit, fn) {
    const out = new Array(items.length);
    let next = 0;
    const worker = async () => { while (next < items.length) { const i = next++; out[i] = await fn(items[i]); } };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
    return out;
  }
  function show(...nodes) {
    main.replaceChildren(...nodes);
  }

  // ---- Pages ----
  function loginPage() {
    document.getElementById('nav').hidden = true;
    const err = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { id: 'login' },
      h('label', {}, 'Key', h('input', { name: 'key', autocomplete: 'username', required: true })),
      h('label', {}, 'Secret', h('input', { name: 'secret', type: 'password', autocomplete: 'current-password', required: true })),
      h('button', { type: 'submit' }, 'Sign in'), err);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const r = await api('POST', '/login', { username: form.key.value.trim(), password: form.secret.value });
      if (!r.ok) { err.textContent = (r.body && r.body.info) || `sign-in failed (${r.status})`; return; }
      sessionStorage.setItem(SESSION, JSON.stringify({ key: r.body.key, token: r.body.token, domain: r.body.domain, username: r.body.username }));
      location.hash = '#/campaigns';
    });
    show(h('section', { class: 'card login' }, h('h1', {}, 'Sign in'), h('p', { class: 'muted' }, 'With a domain credential (npm run credentials -- create --domain <name>).'), form));
  }

  async function campaignsPage() {
    const body = h('tbody');
    const note = h('p', { class: 'muted' });
    show(h('section', { class: 'card' }, h('h1', {}, 'Campaigns'), note,
      h('div', { class: 'scroll' }, h('table', { id: 'campaigns' },
        h('thead', {}, h('tr', {}, ['Name', 'Type', 'State', 'Active / limit', 'Attempts', 'Successes', 'Abandon % (1 h)', 'Next wake-up']
          .map((t, i) => h('th', { class: i >= 3 && i <= 6 ? 'num' : null }, t)))), body))));
    every(5000, async () => {
      const r = await api('GET', '/api/v2/dialer?limit=1000&columns=name,type,state,_cause,active,stats,parameters.limit');
      if (!r.ok) { note.textContent = (r.body && r.body.info) || `error ${r.status}`; return; }
      const list = r.body.data || [];
      // Live lines, wake-up and the last hour only for running or sleeping campaigns: the others place
      // no calls, and an idle list costs one request.
      const live = await mapLimit(list, 4, (d) => (d.active ? api('GET', `${dialerPath(d._id)}/activity?hours=1`).then((a) => (a.ok ? a.body.data : null)) : null));
      body.replaceChildren(...list.map((d, i) => {
        const st = d.stats || {};
        const a = live[i] || {};
        return h('tr', { 'data-id': d._id },
          h('td', {}, h('a', { href: `#/campaign/${encodeURIComponent(d._id)}` }, d.name)),
          h('td', {}, d.type),
          h('td', {}, h('span', { class: `state state-${d.state}` }, STATES[d.state] || String(d.state)), d._cause ? h('span', { class: 'muted' }, ` ${d._cause}`) : null),
          h('td', { class: 'num' }, `${a.active ?? st.active ?? 0} / ${(d.parameters && d.parameters.limit) ?? '—'}`),
          h('td', { class: 'num' }, st.callCount ?? 0),
          h('td', { class: 'num' }, st.successCall ?? 0),
          h('td', { class: 'num' }, a.minutes ? pct(sumOf(a.minutes, 'abandoned'), sumOf(a.minutes, 'answered')) : '—'),
          h('td', {}, a.nextWakeUp ? fmtTime(a.nextWakeUp) : '—'));
      }));
      note.textContent = list.length ? `${list.length} campaign(s), refreshed ${new Date().toLocaleTimeString()}` : 'No campaigns in this domain yet.';
    });
  }

  async function campaignPage(id) {
    const r = await api('GET', dialerPath(id));
    if (!r.ok) { show(h('p', { class: 'error' }, (r.body && r.body.info) || `error ${r.status}`)); return; }
    const d = r.body.data;
    const title = h('h1', {}, d.name);
    const stateEl = h('span', { class: 'state' });
    const msg = h('span', { role: 'status' });
    const startBtn = h('button', { type: 'button', id: 'start', onclick: () => setState(1) }, 'Start');
    const stopBtn = h('button', { type: 'button', id: 'stop', class: 'secondary', onclick: () => setState(3) }, 'Stop');
    function paintState(st, cause) {
      stateEl.textContent = `${STATES[st] || st}${cause ? ` · ${cause}` : ''}`;
      stateEl.className = `state state-${st}`;
    }
    paintState(d.state, d._cause);
    async function setState(n) {
      const res = await api('PUT', `${dialerPath(id)}/state/${n}`);
      msg.className = res.ok ? '' : 'error';
      msg.textContent = res.ok ? '' : ` ${(res.body && res.body.info) || res.status}`;
      if (res.ok && res.body.data) paintState(res.body.data.state, res.body.data._cause);
    }
    const charts = h('div', { class: 'grid' });
    show(
      h('section', { class: 'card' }, title, h('div', { class: 'row' }, stateEl, startBtn, stopBtn, msg,
        h('a', { class: 'button secondary', id: 'export', href: `${dialerPath(id)}/members/export?${credQuery()}`, download: `members-${id}.csv` }, 'Export CSV'))),
      parametersCard(id, d, (name) => { title.textContent = name; }),
      h('section', { class: 'card' }, h('h2', {}, 'Activity'), charts),
      forecastCard(id),
      membersCard(id),
      importCard(id),
    );
    every(5000, async () => {
      const cur = await api('GET', dialerPath(id));
      if (cur.ok) paintState(cur.body.data.state, cur.body.data._cause);
    });
    // The charts read 24 h of attempts: less often than the state.
    every(15000, async () => {
      const act = await api('GET', `${dialerPath(id)}/activity?hours=24`);
      if (act.ok) charts.replaceChildren(...activityCharts(act.body.data));
    });
  }

  function parametersCard(id, d, onSaved) {
    const fields = [['name', 'Name', d.name], ['description', 'Description', d.description || ''],
      ...PARAMS.map(([k, label]) => [`parameters.${k}`, label, d.parameters ? d.parameters[k] ?? '' : ''])];
    const errs = {};
    const inputs = {};
    const form = h('form', { class: 'fields', id: 'parameters', novalidate: true },
      fields.map(([path, label, value]) => {
        inputs[path] = h('input', { name: path, value: value ?? '', inputmode: path.startsWith('parameters.') ? 'numeric' : null });
        errs[path] = h('span', { class: 'field-error', 'data-error-for': path });
        return h('label', {}, label, inputs[path], errs[path]);
      }));
    const result = h('p', { role: 'status' });
    form.append(h('div', {}, h('button', { type: 'submit' }, 'Save'), result));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      for (const p in errs) { errs[p].textContent = ''; inputs[p].classList.remove('invalid'); }
      const body = { parameters: {} };
      for (const [path] of fields) {
        const v = inputs[path].value.trim();
        if (path.startsWith('parameters.')) {
          // Sent as typed: the API checks it and its 400 names the field.
          if (v !== '') body.parameters[path.slice(11)] = /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v;
        } else body[path] = v;
      }
      const res = await api('PUT', dialerPath(id), body);
      if (res.ok) { result.className = 'ok'; result.textContent = 'Saved.'; onSaved(body.name); return; }
      const info = (res.body && res.body.info) || `error ${res.status}`;
      // `parameters.limit: Too small: …` → next to that field; anything else under the form.
      const m = /^([\w.]+): (.*)$/.exec(info);
      if (m && errs[m[1]]) {
        errs[m[1]].textContent = m[2];
        inputs[m[1]].classList.add('invalid');
        result.textContent = '';
      } else { result.className = 'error'; result.textContent = info; }
    });
    return h('section', { class: 'card' }, h('h2', {}, 'Parameters'), form);
  }

  function forecastCard(id) {
    const out = h('div', { id: 'forecast' }, 'Loading…');
    every(15000, async () => {
      const r = await api('GET', `${dialerPath(id)}/forecast`);
      if (r.status === 404) { out.replaceChildren(h('span', { class: 'muted' }, 'Forecast not available on this server.')); return; }
      if (!r.ok) { out.replaceChildren(h('span', { class: 'error' }, (r.body && r.body.info) || `error ${r.status}`)); return; }
      const f = r.body.data || {};
      out.replaceChildren(h('table', {}, h('tbody', {},
        h('tr', {}, h('th', {}, 'Finishes'), h('td', {}, f.finishAt ? fmtTime(Date.parse(f.finishAt)) : '—')),
        h('tr', {}, h('th', {}, 'Time left'), h('td', {}, f.remainingSec === null || f.remainingSec === undefined ? '—' : secs(f.remainingSec))),
        h('tr', {}, h('th', {}, 'Expected contacts'), h('td', {}, f.expectedContacts ?? '—')),
        f.reason ? h('tr', {}, h('th', {}, 'Note'), h('td', { class: 'wrap' }, f.reason)) : null)));
    });
    return h('section', { class: 'card' }, h('h2', {}, 'Forecast'), out);
  }

  function membersCard(id) {
    const state = h('select', { name: 'state' }, h('option', { value: '' }, 'all'), h('option', { value: 'waiting' }, 'waiting'), h('option', { value: 'ended' }, 'ended'));
    const cause = h('input', { name: 'cause', placeholder: 'end cause' });
    const number = h('input', { name: 'number', placeholder: 'number' });
    const body = h('tbody');
    const info = h('span', { class: 'muted' });
    const prev = h('button', { type: 'button', class: 'secondary', id: 'prev-page', disabled: true }, '‹ Previous');
    const next = h('button', { type: 'button', class: 'secondary', id: 'next-page', disabled: true }, 'Next ›');
    let stack = [];
    let nextAfter = null;
    function filter() {
      const f = {};
      if (cause.value.trim()) f._endCause = cause.value.trim();
      else if (state.value === 'waiting') f._endCause = null;
      else if (state.value === 'ended') f._endCause = { $ne: null };
      if (number.value.trim()) f['communications.number'] = number.value.trim();
      return f;
    }
    async function load(after) {
      const q = new URLSearchParams({ limit: '20', filter: JSON.stringify(filter()) });
      if (after) q.set('after', after);
      const r = await api('GET', `${dialerPath(id)}/members?${q}`);
      if (!r.ok) { info.textContent = (r.body && r.body.info) || `error ${r.status}`; return; }
      nextAfter = r.headers.get('X-Next-After');
      next.disabled = !nextAfter;
      prev.disabled = stack.length === 0;
      body.replaceChildren(...(r.body.data || []).flatMap((m) => memberRows(id, m)));
      info.textContent = `page ${stack.length + 1}, ${(r.body.data || []).length} member(s)`;
    }
    next.addEventListener('click', () => { stack.push(nextAfter); void load(nextAfter); });
    prev.addEventListener('click', () => { stack.pop(); void load(stack[stack.length - 1]); });
    const search = () => { stack = []; void load(null); };
    const form = h('form', { class: 'row', id: 'member-filter' }, h('label', {}, 'State', state), h('label', {}, 'End cause', cause), h('label', {}, 'Number', number),
      h('button', { type: 'submit' }, 'Filter'));
    form.addEventListener('submit', (e) => { e.preventDefault(); search(); });
    void load(null);
    return h('section', { class: 'card' }, h('h2', {}, 'Members'), form,
      h('div', { class: 'scroll' }, h('table', { id: 'members' }, h('thead', {}, h('tr', {}, ['Name', 'Numbers', 'State', 'Attempts', 'Next try', '', ''].map((t) => h('th', {}, t)))), body)),
      h('div', { class: 'row' }, prev, next, info));
  }

  function temporalUrl(campaignId, memberId) {
    const base = config.temporalUiUrl || `${location.protocol}//${location.hostname}:${config.temporalUiPort}`;
    return `${base}/namespaces/${encodeURIComponent(config.namespace)}/workflows/${encodeURIComponent(`member-${campaignId}-${memberId}`)}`;
  }

  function memberRows(campaignId, m) {
    const logRow = h('tr', { hidden: true }, h('td', { colspan: 7, class: 'log' }));
    const toggle = h('button', { type: 'button', class: 'secondary', onclick: () => {
      logRow.hidden = !logRow.hidden;
      logRow.firstChild.textContent = attemptLog(m._log || []);
    } }, 'Attempt log');
    const nums = (m.communications || []).map((c) => c.number).join(', ');
    return [h('tr', { 'data-member': m._id },
      h('td', {}, m.name),
      h('td', {}, nums),
      h('td', {}, m._endCause ? m._endCause : m._lock ? 'in a call' : 'waiting'),
      h('td', { class: 'num' }, m._probeCount ?? 0),
      h('td', {}, m._endCause ? '—' : fmtTime(m._nextTryTime)),
      h('td', {}, toggle),
      // A member's workflow starts with its first call (never-dialled members are only a document).
      h('td', {}, m._probeCount || m._lock ? h('a', { href: temporalUrl(campaignId, m._id), target: '_blank', rel: 'noopener noreferrer' }, 'Workflow') : '—')), logRow];
  }

  function attemptLog(log) {
    if (!log.length) return 'No attempts yet.';
    return log.map((e) => {
      const head = [fmtTime(e.callTime || e.reservedTime), e.callNumber, e.callAttempt !== undefined ? `attempt ${e.callAttempt}` : null, e.cause, e.talkSec ? `talk ${e.talkSec}s` : null]
        .filter(Boolean).join(' · ');
      const steps = (e.steps || []).map((st) => `  ${new Date(st.time).toLocaleTimeString()}  ${st.data}`);
      return [head, ...steps].join('\n');
    }).join('\n');
  }

  function importCard(id) {
    const file = h('input', { type: 'file', name: 'csv', accept: '.csv,text/csv' });
    const region = h('input', { name: 'region', placeholder: 'e.g. UA', size: 4 });
    const asWritten = h('input', { type: 'checkbox', name: 'normalize-none' });
    const bar = h('progress', { max: 100, value: 0 });
    const status = h('div', { id: 'import-status', role: 'status' });
    const report = h('div', { id: 'import-report' });
    const form = h('form', { class: 'row', id: 'import' }, h('label', {}, 'CSV file', file), h('label', {}, 'Region', region),
      h('label', {}, h('span', {}, asWritten, ' numbers as written'), ''), h('button', { type: 'submit' }, 'Upload'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!file.files || !file.files[0]) { status.textContent = 'Choose a file first.'; return; }
      upload(file.files[0]);
    });
    function showReport(data) {
      const errors = data.errors || [];
      report.replaceChildren(
        h('p', {}, `Rows ${data.rows ?? data.rowsRead ?? 0}: stored ${data.imported ?? data.rowsStored ?? 0}, rejected ${data.rejected ?? data.rowsRejected ?? 0}.`),
        errors.length ? h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'Row'), h('th', {}, 'Reason'))),
          h('tbody', {}, errors.map((x) => h('tr', {}, h('td', { class: 'num' }, x.row ?? x.line), h('td', {}, x.reason)))))) : null);
    }
    function upload(f) {
      const importId = `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
      const q = new URLSearchParams({ importId });
      if (region.value.trim()) q.set('region', region.value.trim());
      if (asWritten.checked) q.set('normalize', 'none');
      const xhr = new XMLHttpRequest();
      xhr.open('POST', `${dialerPath(id)}/members/import?${q}`);
      for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
      xhr.setRequestHeader('Content-Type', 'text/csv');
      xhr.upload.onprogress = (ev) => { if (ev.lengthComputable) bar.value = (100 * ev.loaded) / ev.total; };
      let polling = true;
      let uploaded = false;
      // Row-level progress where the server keeps it (GET …/import/<id>). A 404 before the upload has
      // ended may only mean the import has not begun; after it, that the server keeps none.
      const poll = async () => {
        while (polling) {
          const r = await api('GET', `${dialerPath(id)}/members/import/${importId}`);
          if (r.status === 404 && uploaded) {
            if (polling) { polling = false; status.textContent = 'Row progress not available on this server.'; }
            return;
          }
          if (r.ok) {
            const p = r.body.data;
            status.textContent = `${p.state}: ${p.rowsRead} rows read, ${p.rowsStored} stored, ${p.rowsRejected} rejected`;
            if (p.state !== 'running') { polling = false; showReport({ ...p, ...(p.report || {}) }); return; }
          }
          await new Promise((res) => setTimeout(res, 500));
        }
      };
      xhr.onload = () => {
        let res = null;
        try { res = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
        bar.value = 100;
        uploaded = true;
        if (xhr.status >= 400) { polling = false; status.className = 'error'; status.textContent = (res && res.info) || `error ${xhr.status}`; return; }
        const data = (res && res.data) || {};
        if (data.rows !== undefined || data.imported !== undefined) { polling = false; status.className = 'ok'; status.textContent = 'Done.'; showReport(data); }
      };
      xhr.onerror = () => { polling = false; status.className = 'error'; status.textContent = 'upload failed (network)'; };
      status.className = '';
      status.textContent = 'Uploading…';
      report.replaceChildren();
      xhr.send(f);
      void poll();
    }
    return h('section', { class: 'card' }, h('h2', {}, 'Import members (CSV)'), form, bar, status, report);
  }

  // ---- Charts (inline SVG) ----
  function activityCharts(a) {
    return [endCauseChart(a.endCauses || {}, a.members || {}), perMinuteChart(a), abandonChart(a)];
  }
  function figure(titleText, svg) {
    return h('figure', { style: null }, h('figcaption', {}, titleText), svg);
  }
  function endCauseChart(causes, members) {
    const rows = Object.entries(causes).sort((x, y) => y[1] - x[1]).slice(0, 8);
    if (members.notEnded) rows.unshift(['(not ended)', members.notEnded]);
    const W = 360, bar = 18, H = Math.max(1, rows.length) * (bar + 6) + 6;
    const max = Math.max(1, ...rows.map((r) => r[1]));
    const svg = s('svg', { class: 'chart', id: 'chart-causes', viewBox: `0 0 ${W} ${H}`, role: 'img' });
    svg.append(s('title', {}, 'Members by end cause'));
    if (!rows.length) svg.append(s('text', { x: 6, y: 14 }, 'No members yet'));
    rows.forEach(([name, n], i) => {
      const y = 6 + i * (bar + 6);
      svg.append(s('text', { x: 4, y: y + 13 }, name));
      svg.append(s('rect', { x: 150, y, width: Math.max(1, ((W - 200) * n) / max), height: bar, fill: name === 'NORMAL_CLEARING' ? '#2e7d32' : '#5b7db8' }));
      svg.append(s('text', { x: 154 + ((W - 200) * n) / max, y: y + 13 }, n));
    });
    return figure('End causes', svg);
  }
  /** The last hour by the minute (24 h of minutes would be too thin to read). */
  function perMinuteChart(all) {
    const W = 480, H = 140, L = 30, B = 18;
    const from = Math.floor((all.to - 3_600_000) / 60_000) * 60_000 + 60_000;
    const a = { ...all, from, minutes: all.minutes.filter((m) => m.t >= from) };
    const span = Math.max(60_000, a.to - a.from);
    const max = Math.max(1, ...a.minutes.map((m) => m.calls));
    const svg = s('svg', { class: 'chart', id: 'chart-calls', viewBox: `0 0 ${W} ${H}`, role: 'img' });
    svg.append(s('title', {}, 'Calls per minute'));
    const x = (t) => L + ((W - L - 4) * (t - a.from)) / span;
    const y = (v) => H - B - ((H - B - 8) * v) / max;
    for (const m of a.minutes) {
      svg.append(s('rect', { x: x(m.t), y: y(m.calls), width: Math.max(1, x(m.t + 60_000) - x(m.t)), height: H - B - y(m.calls), fill: '#5b7db8' }));
      if (m.answered) svg.append(s('rect', { x: x(m.t), y: y(m.answered), width: Math.max(1, x(m.t + 60_000) - x(m.t)), height: H - B - y(m.answered), fill: '#2e7d32' }));
    }
    axes(svg, W, H, L, B, max, a);
    return figure(`Calls per minute, last hour (blue: placed, green: answered${a.truncated ? '; sampled' : ''})`, svg);
  }
  function abandonChart(a) {
    const W = 480, H = 140, L = 30, B = 18;
    const hours = new Map();
    for (const m of a.minutes) {
      const t = Math.floor(m.t / 3_600_000) * 3_600_000;
      const o = hours.get(t) || { answered: 0, abandoned: 0 };
      o.answered += m.answered;
      o.abandoned += m.abandoned;
      hours.set(t, o);
    }
    const span = Math.max(60_000, a.to - a.from);
    const x = (t) => L + ((W - L - 4) * (t - a.from)) / span;
    const y = (v) => H - B - ((H - B - 8) * v) / 100;
    const svg = s('svg', { class: 'chart', id: 'chart-abandon', viewBox: `0 0 ${W} ${H}`, role: 'img' });
    svg.append(s('title', {}, 'Abandon rate per hour'));
    // One point per hour with answered calls, at the middle of the hour (the current hour: now).
    const pts = [...hours.entries()].sort((p, q) => p[0] - q[0]).filter(([, o]) => o.answered > 0)
      .map(([t, o]) => [x(Math.min(a.to, Math.max(a.from, t + 1_800_000))), y((100 * o.abandoned) / o.answered)]);
    if (pts.length) svg.append(s('polyline', { points: pts.map((p) => p.map((v) => v.toFixed(1)).join(',')).join(' '), fill: 'none', stroke: '#c62828', 'stroke-width': 2 }));
    for (const [px, py] of pts) svg.append(s('circle', { cx: px.toFixed(1), cy: py.toFixed(1), r: 2.5, fill: '#c62828' }));
    svg.append(s('line', { x1: L, x2: W - 4, y1: y(3), y2: y(3), stroke: '#c62828', 'stroke-dasharray': '4 3', 'stroke-width': 0.7 }));
    svg.append(s('text', { x: W - 60, y: y(3) - 3 }, '3 % (UK)'));
    axes(svg, W, H, L, B, 100, a, '%');
    return figure('Abandon rate per hour (abandoned / answered)', svg);
  }
  function axes(svg, W, H, L, B, max, a, unit) {
    svg.append(s('line', { x1: L, x2: W - 4, y1: H - B, y2: H - B, stroke: '#9aa3b5' }));
    svg.append(s('line', { x1: L, x2: L, y1: 4, y2: H - B, stroke: '#9aa3b5' }));
    svg.append(s('text', { x: 2, y: 12 }, `${max}${unit || ''}`));
    svg.append(s('text', { x: 2, y: H - B }, '0'));
    svg.append(s('text', { x: L, y: H - 4 }, new Date(a.from).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })));
    svg.append(s('text', { x: W - 40, y: H - 4 }, 'now'));
  }

  // ---- Agents board ----
  function agentsPage() {
    const body = h('tbody');
    const note = h('p', { class: 'muted' });
    show(h('section', { class: 'card' }, h('h1', {}, 'Agents'), note,
      h('div', { class: 'scroll' }, h('table', { id: 'agents' }, h('thead', {}, h('tr', {}, ['Agent', 'Status', 'State', 'Offer', 'Calls', 'Missed', 'Talk time'].map((t) => h('th', {}, t)))), body))));
    const names = new Map();
    async function load() {
      if (!names.size) {
        const d = await api('GET', '/api/v2/dialer?limit=1000&columns=name');
        if (d.ok) for (const x of d.body.data || []) names.set(x._id, x.name);
      }
      const r = await api('GET', '/api/v2/agents');
      if (!r.ok) { note.textContent = (r.body && r.body.info) || `error ${r.status}`; return; }
      const list = r.body.data || [];
      body.replaceChildren(...list.map((a) => {
        const st = Object.values(a.stats || {});
        const sum = (k) => st.reduce((n, x) => n + (x[k] || 0), 0);
        const o = a.offer;
        const offer = o ? `${names.get(o.campaignId) || o.campaignId} · ${o.connectedAt ? 'talking' : 'offered'} since ${new Date(o.connectedAt || o.at).toLocaleTimeString()}` : '—';
        return h('tr', { 'data-agent': a.name }, h('td', {}, a.name), h('td', {}, a.status), h('td', {}, a.state), h('td', {}, offer),
          h('td', { class: 'num' }, sum('callCount')), h('td', { class: 'num' }, sum('missedCall')), h('td', { class: 'num' }, secs(sum('callTimeSec'))));
      }));
      note.textContent = list.length ? `${list.length} agent(s), live` : 'No agents in this domain.';
    }
    void load();
    // Live: each agent event triggers a reload (EventSource cannot send headers: query credentials).
    // The stream is per domain: root credentials get the 30 s refresh only.
    if (session().domain) {
      let pending = null;
      const es = new EventSource(`/api/v2/agents/events?${credQuery()}`);
      const onEvent = () => { if (!pending) pending = setTimeout(() => { pending = null; void load(); }, 200); };
      for (const t of ['status', 'offered', 'connected', 'ended', 'wrap-up-started', 'wrap-up-ended']) es.addEventListener(t, onEvent);
      closers.push(() => es.close());
    }
    timers.push(setInterval(load, 30000));
  }

  // ---- Router ----
  async function route() {
    for (const t of timers) clearInterval(t);
    for (const c of closers) c();
    timers = [];
    closers = [];
    const c = session();
    const hash = location.hash || '#/campaigns';
    if (!c || hash === '#/login') { loginPage(); return; }
    document.getElementById('nav').hidden = false;
    document.getElementById('who').textContent = `${c.username || c.key}${c.domain ? ` @ ${c.domain}` : ' (root)'}`;
    const m = /^#\/campaign\/([0-9a-fA-F]{24})$/.exec(hash);
    if (m) await campaignPage(m[1]);
    else if (hash === '#/agents') agentsPage();
    else await campaignsPage();
  }
  document.getElementById('signout').addEventListener('click', async () => {
    // The server forgets the session token too (it is also in the export link).
    await api('POST', '/logout').catch(() => undefined);
    sessionStorage.removeItem(SESSION);
    location.hash = '#/login';
  });
  window.addEventListener('hashchange', () => void route());
  fetch('/console/config.json').then((r) => r.json()).then((c) => { config = c; }).catch(() => {}).finally(() => void route());
})();
