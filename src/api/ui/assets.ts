/**
 * The web UI served at `/ui` (issue 8): one HTML page, one ES module, one stylesheet, no framework
 * and no CDN. Names grouped by zone (GET /v1/zones) with each address's health and last change
 * (/v1/health), the scanners and active scheduler (/v1/scanners) and the DNS servers' live
 * counters (/v1/dns-metrics, shown only when kubeapi has -dns-metrics). Kept as string modules so `tsc` alone puts them in dist/. The page asks for the
 * API token, keeps it in sessionStorage and calls `/v1` with `Authorization: Bearer`.
 */

export const UI_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hades</title>
<link rel="stylesheet" href="/ui/app.css">
<script type="module" src="/ui/app.js"></script>
</head>
<body>
<header><h1>Hades</h1><span id="who"></span><button id="logout" hidden>Log out</button></header>
<main>
<section id="login-view" hidden>
  <form id="login-form">
    <label>API token <input id="token" type="password" autocomplete="current-password" required></label>
    <button type="submit">Log in</button>
    <p id="login-error" class="error" role="alert"></p>
  </form>
</section>
<section id="app-view" hidden>
  <div class="bar">
    <label>Search names <input id="search" type="search" placeholder="web.hades.local"></label>
    <button id="refresh" type="button">Refresh</button>
    <span class="legend"><span class="health up">UP</span> <span class="health down">DOWN</span> <span class="health none">unmonitored</span></span>
  </div>
  <form id="record-form">
    <h2 id="form-title">Add a record</h2>
    <input type="hidden" id="f-edit">
    <label>Name <input id="f-name" required placeholder="web.hades.local"></label>
    <label>Type <select id="f-type">
      <option>A</option><option>AAAA</option><option>CNAME</option><option>SRV</option><option>TXT</option><option>MX</option>
    </select></label>
    <label data-for="A AAAA">Address <input id="f-address"></label>
    <label data-for="CNAME SRV MX">Target <input id="f-target"></label>
    <label data-for="SRV">Port <input id="f-port" type="number"></label>
    <label data-for="SRV">Priority <input id="f-priority" type="number"></label>
    <label data-for="SRV">Weight <input id="f-weight" type="number"></label>
    <label data-for="MX">Preference <input id="f-preference" type="number"></label>
    <label data-for="TXT">Text <input id="f-text"></label>
    <label>TTL <input id="f-ttl" type="number" placeholder="default"></label>
    <button type="submit" id="f-submit">Add</button>
    <button type="button" id="f-cancel" hidden>Cancel</button>
    <p id="form-error" class="error" role="alert"></p>
  </form>
  <p id="status" role="status"></p>
  <div class="panels">
    <section id="scanners-panel" class="panel">
      <h2>Scanners</h2>
      <p>Active scheduler: <span id="scheduler">—</span></p>
      <table id="scanners"><thead><tr><th>scanner</th><th>heartbeat age</th><th>assigned addresses</th></tr></thead><tbody></tbody></table>
      <p id="scanners-error" class="error" role="alert"></p>
    </section>
    <section id="metrics-panel" class="panel" hidden>
      <h2>DNS servers <span id="metrics-time" class="muted"></span></h2>
      <table id="dns-metrics"><thead><tr><th>server</th><th>state</th><th>queries/s</th><th>responses by rcode</th><th>cache hit ratio</th></tr></thead><tbody></tbody></table>
      <p id="metrics-error" class="error" role="alert"></p>
    </section>
  </div>
  <div id="names"></div>
</section>
</main>
</body>
</html>
`;

export const UI_CSS = `[hidden] { display: none !important; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #f6f7f9; }
header { display: flex; gap: 1em; align-items: center; padding: .5em 1em; background: #1f2937; color: #fff; }
header h1 { font-size: 1.2em; margin: 0; flex: 1; }
main { padding: 1em; max-width: 1100px; }
.bar { display: flex; gap: 1em; align-items: center; margin-bottom: 1em; flex-wrap: wrap; }
form#record-form { display: flex; flex-wrap: wrap; gap: .5em 1em; align-items: end; background: #fff; padding: .75em; border: 1px solid #ddd; border-radius: 6px; }
form#record-form h2 { width: 100%; font-size: 1em; margin: 0; }
label { display: flex; flex-direction: column; font-size: .85em; color: #555; }
input, select, button { font: inherit; padding: .25em .4em; }
.error { color: #b91c1c; width: 100%; margin: .25em 0 0; min-height: 1em; }
.name { background: #fff; border: 1px solid #ddd; border-radius: 6px; margin: .75em 0; padding: .5em .75em; }
.name h3 { margin: 0 0 .4em; font-size: 1em; font-family: ui-monospace, monospace; }
table { border-collapse: collapse; width: 100%; }
td, th { text-align: left; padding: .2em .5em; border-top: 1px solid #eee; font-family: ui-monospace, monospace; font-size: .9em; }
th { font-family: inherit; color: #666; font-weight: normal; }
.health { display: inline-block; padding: 0 .5em; border-radius: 3px; color: #fff; font-size: .8em; font-family: system-ui, sans-serif; }
.health.up { background: #15803d; }
.health.down { background: #dc2626; }
.health.none { background: #9ca3af; }
.addr.down { color: #dc2626; font-weight: bold; }
.addr.up { color: #15803d; }
.addr.none { color: #6b7280; }
.changed, .muted { color: #6b7280; font-size: .85em; font-family: system-ui, sans-serif; }
.zone > h2 { font-size: 1.05em; margin: 1.25em 0 .25em; font-family: ui-monospace, monospace; }
.zone > h2 .muted { margin-left: .5em; }
.panels { display: flex; gap: 1em; flex-wrap: wrap; margin-top: 1em; }
.panel { flex: 1 1 420px; background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .5em .75em; }
.panel h2 { font-size: 1em; margin: 0 0 .4em; }
.panel p { margin: .2em 0 .4em; }
tr.total td { font-weight: bold; }
td.qps, td.ratio { white-space: nowrap; }
.state.up { color: #15803d; }
.state.down, .stale { color: #dc2626; }
`;

export const UI_JS = String.raw`// Hades web UI: plain ES module, talks to /v1 with the token kept in sessionStorage.
const KEY = 'hades-token';
const $ = (id) => document.getElementById(id);
const FIELDS = {
  A: ['address'], AAAA: ['address'], CNAME: ['target'], SRV: ['target', 'port', 'priority', 'weight'],
  TXT: ['text'], MX: ['target', 'preference'],
};
const NUMERIC = new Set(['port', 'priority', 'weight', 'preference', 'ttl']);
let records = [];
let health = new Map();
let zones = [];

function token() { return sessionStorage.getItem(KEY); }

class ApiFailure extends Error {
  constructor(status, message, field) { super(message); this.status = status; this.field = field; }
}

async function api(method, path, body) {
  const headers = { authorization: 'Bearer ' + token() };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data;
  try { data = text ? JSON.parse(text) : {}; } catch { data = { error: text }; }
  if (!res.ok) {
    if (res.status === 401) showLogin('The API did not accept the token: ' + (data.error || res.status));
    throw new ApiFailure(res.status, data.error || ('HTTP ' + res.status), data.field);
  }
  return data;
}

function showLogin(message) {
  sessionStorage.removeItem(KEY);
  $('app-view').hidden = true;
  $('logout').hidden = true;
  $('login-view').hidden = false;
  $('login-error').textContent = message || '';
  $('token').focus();
}

async function showApp() {
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  $('logout').hidden = false;
  await Promise.all([refresh(), refreshPanels()]);
}

async function listAll(prefix) {
  const out = [];
  let cursor;
  for (let i = 0; i < 100; i++) {
    const q = new URLSearchParams({ limit: '1000' });
    if (prefix) q.set('prefix', prefix);
    if (cursor) q.set('cursor', cursor);
    const page = await api('GET', '/v1/records?' + q);
    out.push(...page.records);
    if (!page.next) break;
    cursor = page.next;
  }
  return out;
}

// the forward zone and the reverse trees (PTR records), each listed by its name
async function listZones() {
  const out = [];
  for (const z of zones) out.push(...(await listAll(z.name.replace(/\.$/, ''))));
  return out;
}

async function refresh() {
  const search = $('search').value.trim().replace(/\.$/, '');
  try {
    if (zones.length === 0) zones = (await api('GET', '/v1/zones')).zones;
    // a whole name: the API lists it and the names below it; otherwise (or nothing there) the
    // zones are listed and filtered by the text anywhere in the name
    let list = [];
    if (search) {
      try {
        list = await listAll(search);
      } catch (e) {
        if (!(e instanceof ApiFailure) || e.status !== 400) throw e;
      }
    }
    if (list.length === 0) {
      list = await listZones();
      const needle = search.toLowerCase();
      if (needle) list = list.filter((r) => r.name.toLowerCase().includes(needle));
    }
    records = list;
    const h = await api('GET', '/v1/health');
    health = new Map(h.health.map((x) => [x.ip, x]));
    $('status').textContent = records.length + ' records, ' + health.size + ' monitored addresses';
    render();
  } catch (e) {
    $('status').textContent = 'Could not load: ' + e.message;
  }
}

function stateOf(ip) {
  const s = health.get(ip)?.status;
  return s === 'UP' ? 'up' : s === 'DOWN' ? 'down' : 'none';
}

function valueOf(r) {
  switch (r.type) {
    case 'A': case 'AAAA': return r.address;
    case 'CNAME': case 'PTR': case 'NS': return r.target;
    case 'SRV': return r.priority + ' ' + r.weight + ' ' + r.port + ' ' + r.target;
    case 'MX': return r.preference + ' ' + r.target;
    case 'TXT': return JSON.stringify(r.text);
    default: return JSON.stringify(r);
  }
}

function el(tag, props, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const c of children) e.append(c);
  return e;
}

function zoneOf(name) {
  const n = name.toLowerCase() + '.';
  let best;
  for (const z of zones)
    if ((n === z.name || n.endsWith('.' + z.name)) && (!best || z.name.length > best.name.length)) best = z;
  return best ? best.name : 'other';
}

// "2026-11-25 18:00:00 UTC (5 min ago)"; the age from this browser's clock
function when(iso) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '—';
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  const ago = s < 120 ? s + ' s' : s < 7200 ? Math.round(s / 60) + ' min' : s < 172800 ? Math.round(s / 3600) + ' h' : Math.round(s / 86400) + ' d';
  return new Date(t).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') + ' (' + ago + ' ago)';
}

function nameBox(name, recs) {
  const tbody = el('tbody');
  for (const r of recs) {
    const value = el('td');
    const changedCell = el('td');
    if (r.type === 'A' || r.type === 'AAAA') {
      const st = stateOf(r.address);
      const span = el('span', { className: 'addr ' + st, textContent: r.address });
      span.dataset.ip = r.address;
      span.dataset.health = st;
      const badge = el('span', { className: 'health ' + st, textContent: st === 'none' ? 'unmonitored' : st.toUpperCase() });
      value.append(span, ' ', badge);
      // last change: what the scanner stamped on its last transition; "—" without one
      const changed = health.get(r.address)?.changed;
      const c = el('span', { className: 'changed', textContent: st === 'none' ? '' : changed ? when(changed) : '—' });
      c.dataset.ip = r.address;
      if (changed) c.dataset.changed = changed;
      changedCell.append(c);
    } else value.textContent = valueOf(r);
    const actions = el('td');
    if (r.source === 'api' && FIELDS[r.type]) {
      actions.append(
        el('button', { type: 'button', textContent: 'Edit', className: 'edit', onclick: () => edit(r) }),
        ' ',
        el('button', { type: 'button', textContent: 'Delete', className: 'delete', onclick: () => remove(r) }),
      );
    } else actions.textContent = r.source || '';
    tbody.append(el('tr', {}, el('td', { textContent: r.type }), value, changedCell, el('td', { textContent: r.ttl ?? '' }), actions));
  }
  const head = el('thead', {}, el('tr', {}, ...['type', 'value / health', 'last change', 'ttl', ''].map((t) => el('th', { textContent: t }))));
  const box = el('div', { className: 'name' }, el('h3', { textContent: name }), el('table', {}, head, tbody));
  box.dataset.name = name;
  return box;
}

function render() {
  // zone → name → records, zones in the API's order, then "other"
  const byZone = new Map(zones.map((z) => [z.name, new Map()]));
  for (const r of records) {
    const z = zoneOf(r.name);
    if (!byZone.has(z)) byZone.set(z, new Map());
    const names = byZone.get(z);
    if (!names.has(r.name)) names.set(r.name, []);
    names.get(r.name).push(r);
  }
  const root = $('names');
  root.replaceChildren();
  if (records.length === 0) root.append(el('p', { textContent: 'No records.' }));
  for (const [zone, names] of byZone) {
    const kind = zones.find((z) => z.name === zone)?.kind;
    // the forward zone always shows; reverse zones and "other" only when they hold names
    if (names.size === 0 && kind !== 'forward') continue;
    const box = el('section', { className: 'zone' },
      el('h2', {}, zone, el('span', { className: 'muted', textContent: (kind === 'reverse' ? 'reverse zone, ' : kind ? 'zone, ' : '') + names.size + (names.size === 1 ? ' name' : ' names') })));
    box.dataset.zone = zone;
    for (const [name, recs] of names) box.append(nameBox(name, recs));
    root.append(box);
  }
}

function cell(text, className) {
  return el('td', { textContent: text, className: className || '' });
}

async function refreshScanners() {
  try {
    const v = await api('GET', '/v1/scanners');
    const sched = $('scheduler');
    sched.textContent = v.scheduler ? v.scheduler.id : 'none';
    sched.dataset.id = v.scheduler ? v.scheduler.id : '';
    const tbody = $('scanners').tBodies[0];
    tbody.replaceChildren();
    if (v.scanners.length === 0) tbody.append(el('tr', {}, el('td', { colSpan: 3, textContent: 'No scanner has a heartbeat.' })));
    for (const sc of v.scanners) {
      const age = !sc.live ? 'no heartbeat' : sc.heartbeatAgeSeconds === undefined ? '—' : sc.heartbeatAgeSeconds.toFixed(1) + ' s';
      const tr = el('tr', {}, cell(sc.hostname), cell(age, sc.live ? '' : 'stale'), cell(String(sc.assigned)));
      tr.dataset.scanner = sc.hostname;
      tr.dataset.assigned = String(sc.assigned);
      tbody.append(tr);
    }
    if (v.unassigned > 0) tbody.append(el('tr', {}, cell('(no scanner)'), cell(''), cell(String(v.unassigned))));
    $('scanners-error').textContent = '';
  } catch (e) {
    $('scanners-error').textContent = 'Could not load the scanners: ' + e.message;
  }
}

const pct = (r) => (r === null || r === undefined ? '—' : (r * 100).toFixed(1) + ' %');
const qps = (q) => (q === null || q === undefined ? '—' : q.toFixed(q < 10 ? 2 : 0));
const rcodes = (m) => Object.entries(m || {}).sort((a, b) => b[1] - a[1]).map(([k, n]) => k + ' ' + n).join(', ') || '—';

async function refreshMetrics() {
  try {
    const v = await api('GET', '/v1/dns-metrics');
    $('metrics-panel').hidden = !v.configured;
    if (!v.configured) return;
    $('metrics-time').textContent = 'scraped ' + new Date(v.scrapedAt).toISOString().slice(11, 19) + ' UTC';
    const tbody = $('dns-metrics').tBodies[0];
    tbody.replaceChildren();
    for (const s of v.servers) {
      const tr = el('tr', {}, cell(s.server), cell(s.up ? 'up' : 'down: ' + s.error, 'state ' + (s.up ? 'up' : 'down')),
        cell(s.up ? qps(s.queriesPerSecond) : '—', 'qps'), cell(s.up ? rcodes(s.responses) : '—', 'rcodes'), cell(s.up ? pct(s.cacheHitRatio) : '—', 'ratio'));
      tr.dataset.server = s.server;
      tr.dataset.up = String(s.up);
      tr.dataset.requests = String(s.requests);
      tbody.append(tr);
    }
    const t = v.total;
    const tr = el('tr', { className: 'total' }, cell('total'), cell(t.up + ' up, ' + t.down + ' down'), cell(qps(t.queriesPerSecond), 'qps'), cell(rcodes(t.responses), 'rcodes'), cell(pct(t.cacheHitRatio), 'ratio'));
    tr.dataset.requests = String(t.requests);
    tbody.append(tr);
    $('metrics-error').textContent = '';
  } catch (e) {
    $('metrics-error').textContent = 'Could not load the DNS metrics: ' + e.message;
  }
}

function refreshPanels() {
  return Promise.all([refreshScanners(), refreshMetrics()]);
}

function showFields() {
  const t = $('f-type').value;
  for (const l of document.querySelectorAll('#record-form label[data-for]'))
    l.hidden = !l.dataset.for.split(' ').includes(t);
}

function resetForm() {
  $('record-form').reset();
  $('f-edit').value = '';
  $('f-name').disabled = false;
  $('f-type').disabled = false;
  $('form-title').textContent = 'Add a record';
  $('f-submit').textContent = 'Add';
  $('f-cancel').hidden = true;
  $('form-error').textContent = '';
  showFields();
}

let editing;
function edit(r) {
  resetForm();
  editing = r;
  $('f-edit').value = r.id;
  $('f-name').value = r.name;
  $('f-name').disabled = true;
  $('f-type').value = r.type;
  $('f-type').disabled = true;
  for (const f of [...FIELDS[r.type], 'ttl']) $('f-' + f).value = r[f] ?? '';
  $('form-title').textContent = 'Edit ' + r.type + ' record of ' + r.name;
  $('f-submit').textContent = 'Save';
  $('f-cancel').hidden = false;
  showFields();
}

async function remove(r) {
  if (!confirm('Delete ' + r.type + ' ' + valueOf(r) + ' of ' + r.name + '?')) return;
  try {
    await api('DELETE', '/v1/records/' + encodeURIComponent(r.name) + '/' + encodeURIComponent(r.id));
    await refresh();
  } catch (e) {
    $('status').textContent = 'Delete failed: ' + e.message;
  }
}

async function submit(ev) {
  ev.preventDefault();
  const type = $('f-type').value;
  const body = { type };
  for (const f of [...FIELDS[type], 'ttl']) {
    const v = $('f-' + f).value.trim();
    if (v === '') continue;
    body[f] = NUMERIC.has(f) && /^-?\d+$/.test(v) ? Number(v) : v;
  }
  $('form-error').textContent = '';
  try {
    if ($('f-edit').value) {
      await api('PUT', '/v1/records/' + encodeURIComponent(editing.name) + '/' + encodeURIComponent(editing.id), body);
    } else {
      body.name = $('f-name').value.trim();
      await api('POST', '/v1/records', body);
    }
    resetForm();
    await refresh();
  } catch (e) {
    $('form-error').textContent = e.message + (e.field ? ' (field: ' + e.field + ')' : '');
  }
}

function start() {
  $('f-type').addEventListener('change', showFields);
  $('record-form').addEventListener('submit', submit);
  $('f-cancel').addEventListener('click', resetForm);
  $('refresh').addEventListener('click', () => { refresh(); refreshPanels(); });
  let t;
  $('search').addEventListener('input', () => { clearTimeout(t); t = setTimeout(refresh, 250); });
  $('logout').addEventListener('click', () => showLogin(''));
  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, $('token').value.trim());
    $('login-error').textContent = '';
    try {
      await api('GET', '/v1/health');
      $('token').value = '';
      await showApp();
    } catch (e) {
      if (!$('login-view').hidden) $('login-error').textContent = e.message;
      else showLogin(e.message);
    }
  });
  showFields();
  if (token()) showApp(); else showLogin('');
  // health changes come from the scanners: poll while the page is visible
  setInterval(() => { if (token() && !document.hidden && !$('f-edit').value) refresh(); }, 3000);
  // scanners and the DNS servers' counters: every 5 s (queries/s is the difference of two scrapes)
  setInterval(() => { if (token() && !document.hidden) refreshPanels(); }, 5000);
}

start();
`;
