// Hades web UI: a plain ES module (compiled to /ui/app.js), talks to /v1 with the token kept in
// sessionStorage. The Topology panel is its own module (topology.ts → /ui/topology.js).

import { TopologyPanel } from './topology.js';

interface Zone {
  name: string;
  kind: 'forward' | 'reverse';
}

interface ApiRecord {
  id: string;
  name: string;
  type: string;
  source?: string;
  ttl?: number;
  address?: string;
  target?: string;
  port?: number;
  priority?: number;
  weight?: number;
  preference?: number;
  text?: string | string[];
  /** A/AAAA: the topology zone of the address (locality). */
  zone?: string;
}

interface Health {
  ip: string;
  status?: 'UP' | 'DOWN';
  /** TCP ports the scanner connects to when there is no probe (the seed's check). */
  ports?: string[];
  /** When a scanner wrote its last transition; absent when only the API (or a person) wrote it. */
  changed?: string;
  /** The scanner's reason for its last transition (`HTTP 503`, `timeout after 1s`). */
  reason?: string;
  /** The probe in one line (`httpGet HTTP :80/healthz`), or why the stored one does not validate. */
  probeSummary?: string;
  probeError?: string;
  /** `drain`: hades never serves the address. */
  admin?: 'drain' | 'none';
}

interface Scanner {
  hostname: string;
  live: boolean;
  heartbeatAgeSeconds?: number;
  assigned: number;
}

interface ServerCounters {
  requests: number;
  queriesPerSecond: number | null;
  responses: Record<string, number>;
  cacheHitRatio: number | null;
}

interface ServerView extends ServerCounters {
  server: string;
  up: boolean;
  error?: string;
}

interface MetricsView {
  configured: boolean;
  scrapedAt: string;
  servers: ServerView[];
  total: ServerCounters & { up: number; down: number };
}

/** How an address is shown: UP needs a scanner's word (`changed`); without it, assumed. */
type Shown = 'up' | 'down' | 'assumed';

const KEY = 'hades-token';
const FIELDS: Record<string, string[]> = {
  A: ['address', 'priority', 'zone'],
  AAAA: ['address', 'priority', 'zone'],
  CNAME: ['target'],
  SRV: ['target', 'port', 'priority', 'weight'],
  TXT: ['text'],
  MX: ['target', 'preference'],
};
const NUMERIC = new Set(['port', 'priority', 'weight', 'preference', 'ttl']);
let records: ApiRecord[] = [];
let health = new Map<string, Health>();
let zones: Zone[] = [];
let editing: ApiRecord | undefined;
let topology: TopologyPanel | undefined;

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;
const input = (id: string): HTMLInputElement => $<HTMLInputElement>(id);

function token(): string | null {
  return sessionStorage.getItem(KEY);
}

class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

async function api<T>(method: string, path: string, body?: object): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${token()}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data: { error?: string; field?: string };
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = { error: text };
  }
  if (!res.ok) {
    if (res.status === 401) showLogin(`The API did not accept the token: ${data.error || res.status}`);
    throw new ApiFailure(res.status, data.error || `HTTP ${res.status}`, data.field);
  }
  return data as T;
}

/** A failed call for a person: the API's message and the field it names. */
function describe(e: unknown): string {
  const f = e as ApiFailure;
  return f.message + (f.field ? ` (field: ${f.field})` : '');
}

function showLogin(message: string): void {
  sessionStorage.removeItem(KEY);
  $('app-view').hidden = true;
  $('logout').hidden = true;
  $('login-view').hidden = false;
  $('login-error').textContent = message;
  $('token').focus();
}

async function showApp(): Promise<void> {
  $('login-view').hidden = true;
  $('app-view').hidden = false;
  $('logout').hidden = false;
  await Promise.all([refresh(), refreshPanels()]);
}

/** The page's own confirmation step: resolves true only when the user presses OK. */
function confirmStep(text: string): Promise<boolean> {
  const dialog = $<HTMLDialogElement>('confirm');
  $('confirm-text').textContent = text;
  dialog.returnValue = '';
  return new Promise((resolve) => {
    // Escape closes it too, with an empty returnValue: not a yes
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.showModal();
  });
}

async function listAll(prefix: string): Promise<ApiRecord[]> {
  const out: ApiRecord[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 100; i++) {
    const q = new URLSearchParams({ limit: '1000' });
    if (prefix) q.set('prefix', prefix);
    if (cursor) q.set('cursor', cursor);
    const page = await api<{ records: ApiRecord[]; next?: string }>('GET', `/v1/records?${q}`);
    out.push(...page.records);
    if (!page.next) break;
    cursor = page.next;
  }
  return out;
}

// the forward zone and the reverse trees (PTR records), each listed by its name
async function listZones(): Promise<ApiRecord[]> {
  const out: ApiRecord[] = [];
  for (const z of zones) out.push(...(await listAll(z.name.replace(/\.$/, ''))));
  return out;
}

async function refresh(): Promise<void> {
  const search = input('search').value.trim().replace(/\.$/, '');
  try {
    if (zones.length === 0) zones = (await api<{ zones: Zone[] }>('GET', '/v1/zones')).zones;
    // a whole name: the API lists it and the names below it; otherwise (or nothing there) the
    // zones are listed and filtered by the text anywhere in the name
    let list: ApiRecord[] = [];
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
    const h = await api<{ health: Health[] }>('GET', '/v1/health');
    health = new Map(h.health.map((x) => [x.ip, x]));
    $('status').textContent = `${records.length} records, ${health.size} monitored addresses`;
    render();
  } catch (e) {
    $('status').textContent = `Could not load: ${(e as Error).message}`;
  }
}

// DOWN is DOWN whoever wrote it; UP counts as confirmed only with a scanner's `changed`
function stateOf(ip: string): Shown {
  const h = health.get(ip);
  if (h?.status === 'DOWN') return 'down';
  return h?.status === 'UP' && h.changed ? 'up' : 'assumed';
}

function shownValue(r: ApiRecord): string {
  switch (r.type) {
    case 'A':
    case 'AAAA':
      return String(r.address);
    case 'CNAME':
    case 'PTR':
    case 'NS':
      return String(r.target);
    case 'SRV':
      return `${r.priority} ${r.weight} ${r.port} ${r.target}`;
    case 'MX':
      return `${r.preference} ${r.target}`;
    case 'TXT':
      return JSON.stringify(r.text);
    default:
      return JSON.stringify(r);
  }
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Partial<HTMLElementTagNameMap[K]>,
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  Object.assign(e, props ?? {});
  for (const c of children) e.append(c);
  return e;
}

function zoneOf(name: string): string {
  const n = `${name.toLowerCase()}.`;
  let best: Zone | undefined;
  for (const z of zones)
    if ((n === z.name || n.endsWith(`.${z.name}`)) && (!best || z.name.length > best.name.length)) best = z;
  return best ? best.name : 'other';
}

// "2026-11-25 18:00:00 UTC (5 min ago)"; the age from this browser's clock
function when(iso: string): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '—';
  const s = Math.max(0, Math.round((Date.now() - t) / 1000));
  const ago =
    s < 120
      ? `${s} s`
      : s < 7200
        ? `${Math.round(s / 60)} min`
        : s < 172800
          ? `${Math.round(s / 3600)} h`
          : `${Math.round(s / 86400)} d`;
  return `${new Date(t)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC')} (${ago} ago)`;
}

const drained = (ip: string): boolean => health.get(ip)?.admin === 'drain';

/** The address cells: value and health (with the drain state), probe, reason, last change. */
function addressCells(ip: string): HTMLTableCellElement[] {
  const st = stateOf(ip);
  const h = health.get(ip);
  const isDrained = drained(ip);
  const span = el('span', { className: `addr ${st}${isDrained ? ' drained' : ''}`, textContent: ip });
  span.dataset.ip = ip;
  span.dataset.health = st;
  span.dataset.drained = String(isDrained);
  const badge = el('span', {
    className: `health ${st}`,
    textContent: st === 'assumed' ? 'assumed up (never probed)' : st.toUpperCase(),
  });
  if (st === 'assumed')
    badge.title = h
      ? 'UP as the API or kube wrote it: no scanner has reported on this address yet'
      : 'no health key: served, and no scanner checks this address';
  const value = el('td', {}, span, ' ', badge);
  if (isDrained) {
    const d = el('span', { className: 'health drained', textContent: 'drained' });
    d.title = 'never served, not even when every other address is DOWN; the scanner keeps probing it';
    value.append(' ', d);
  }
  // the probe the scanner runs; without one it connects to the status's ports, else its defaults
  const probe = el('span', {
    className: h?.probeError ? 'probe invalid' : 'probe',
    textContent: !h
      ? ''
      : h.probeError
        ? 'invalid probe'
        : (h.probeSummary ?? (h.ports?.length ? `tcp ports ${h.ports.join(',')}` : 'scanner default')),
  });
  probe.dataset.ip = ip;
  if (h?.probeError) probe.title = h.probeError;
  const reason = el('span', { className: 'reason', textContent: h?.reason ?? '' });
  reason.dataset.ip = ip;
  // last change: what the scanner stamped on its last transition; "—" without one
  const c = el('span', { className: 'changed', textContent: !h ? '' : h.changed ? when(h.changed) : '—' });
  c.dataset.ip = ip;
  if (h?.changed) c.dataset.changed = h.changed;
  return [value, el('td', {}, probe), el('td', {}, reason), el('td', {}, c)];
}

/**
 * An address's zone and failover tier: the lowest priority with a healthy address is answered;
 * unset or 0 counts as 10 (as CoreDNS).
 */
function policyCells(r: ApiRecord): HTMLTableCellElement[] {
  const zone = el('td', { className: r.zone ? 'zone-name' : 'muted', textContent: r.zone ?? '—' });
  if (!r.zone)
    zone.title = 'no zone: served to clients of every zone when their own zone has no healthy address';
  const p = r.priority;
  const prio = el('td', {
    className: p ? 'priority' : 'priority muted',
    textContent: p === undefined ? '10' : p === 0 ? '0 (= 10)' : String(p),
  });
  if (!p) prio.title = 'the default tier (unset or 0 = 10)';
  return [zone, prio];
}

/** Drain or undrain an address, after the confirmation step. */
async function setDrain(ip: string, drain: boolean): Promise<void> {
  const question = drain
    ? `Drain ${ip}? hades stops serving it, even when every other address of its names is DOWN.`
    : `Undrain ${ip}? hades serves it again by its health.`;
  if (!(await confirmStep(question))) return;
  try {
    await api('PUT', `/v1/health/${encodeURIComponent(ip)}`, { admin: drain ? 'drain' : 'none' });
    await refresh();
  } catch (e) {
    $('status').textContent = `${drain ? 'Drain' : 'Undrain'} failed: ${(e as Error).message}`;
  }
}

function nameBox(name: string, recs: ApiRecord[]): HTMLElement {
  const tbody = el('tbody');
  for (const r of recs) {
    const address = (r.type === 'A' || r.type === 'AAAA') && r.address ? r.address : undefined;
    const cells = address
      ? addressCells(address)
      : [el('td', { textContent: shownValue(r) }), el('td'), el('td'), el('td')];
    cells.splice(1, 0, ...(address ? policyCells(r) : [el('td'), el('td')]));
    const actions = el('td');
    if (address) {
      // any address can be drained, whoever wrote its record
      const isDrained = drained(address);
      const b = el('button', {
        type: 'button',
        textContent: isDrained ? 'Undrain' : 'Drain',
        className: isDrained ? 'undrain' : 'drain',
        onclick: () => setDrain(address, !isDrained),
      });
      b.dataset.ip = address;
      actions.append(b, ' ');
    }
    if (r.source === 'api' && FIELDS[r.type]) {
      actions.append(
        el('button', { type: 'button', textContent: 'Edit', className: 'edit', onclick: () => edit(r) }),
        ' ',
        el('button', {
          type: 'button',
          textContent: 'Delete',
          className: 'delete',
          onclick: () => remove(r),
        }),
      );
    } else actions.append(r.source || '');
    tbody.append(
      el(
        'tr',
        {},
        el('td', { textContent: r.type }),
        ...cells,
        el('td', { textContent: r.ttl === undefined ? '' : String(r.ttl) }),
        actions,
      ),
    );
  }
  const head = el(
    'thead',
    {},
    el(
      'tr',
      {},
      ...['type', 'value / health', 'zone', 'priority', 'probe', 'reason', 'last change', 'ttl', ''].map(
        (t) => el('th', { textContent: t }),
      ),
    ),
  );
  const box = el('div', { className: 'name' }, el('h3', { textContent: name }), el('table', {}, head, tbody));
  box.dataset.name = name;
  return box;
}

function render(): void {
  // zone → name → records, zones in the API's order, then "other"
  const byZone = new Map<string, Map<string, ApiRecord[]>>(zones.map((z) => [z.name, new Map()]));
  for (const r of records) {
    const z = zoneOf(r.name);
    let names = byZone.get(z);
    if (!names) {
      names = new Map();
      byZone.set(z, names);
    }
    const recs = names.get(r.name);
    if (recs) recs.push(r);
    else names.set(r.name, [r]);
  }
  const root = $('names');
  root.replaceChildren();
  if (records.length === 0) root.append(el('p', { textContent: 'No records.' }));
  for (const [zone, names] of byZone) {
    const kind = zones.find((z) => z.name === zone)?.kind;
    // the forward zone always shows; reverse zones and "other" only when they hold names
    if (names.size === 0 && kind !== 'forward') continue;
    const count = `${names.size}${names.size === 1 ? ' name' : ' names'}`;
    const box = el(
      'section',
      { className: 'zone' },
      el(
        'h2',
        {},
        zone,
        el('span', {
          className: 'muted',
          textContent: (kind === 'reverse' ? 'reverse zone, ' : kind ? 'zone, ' : '') + count,
        }),
      ),
    );
    box.dataset.zone = zone;
    // names alphabetically within the zone (code-point order of the lower-case name)
    const sorted = [...names].sort(([a], [b]) => {
      const x = a.toLowerCase();
      const y = b.toLowerCase();
      return x < y ? -1 : x > y ? 1 : 0;
    });
    for (const [name, recs] of sorted) box.append(nameBox(name, recs));
    root.append(box);
  }
}

function cell(text: string, className = ''): HTMLTableCellElement {
  return el('td', { textContent: text, className });
}

async function refreshScanners(): Promise<void> {
  try {
    const v = await api<{ scheduler?: { id: string }; scanners: Scanner[]; unassigned: number }>(
      'GET',
      '/v1/scanners',
    );
    const sched = $('scheduler');
    sched.textContent = v.scheduler ? v.scheduler.id : 'none';
    sched.dataset.id = v.scheduler ? v.scheduler.id : '';
    const tbody = $<HTMLTableElement>('scanners').tBodies[0];
    tbody.replaceChildren();
    if (v.scanners.length === 0)
      tbody.append(el('tr', {}, el('td', { colSpan: 3, textContent: 'No scanner has a heartbeat.' })));
    for (const sc of v.scanners) {
      const age = !sc.live
        ? 'no heartbeat'
        : sc.heartbeatAgeSeconds === undefined
          ? '—'
          : `${sc.heartbeatAgeSeconds.toFixed(1)} s`;
      const tr = el(
        'tr',
        {},
        cell(sc.hostname),
        cell(age, sc.live ? '' : 'stale'),
        cell(String(sc.assigned)),
      );
      tr.dataset.scanner = sc.hostname;
      tr.dataset.assigned = String(sc.assigned);
      tbody.append(tr);
    }
    if (v.unassigned > 0)
      tbody.append(el('tr', {}, cell('(no scanner)'), cell(''), cell(String(v.unassigned))));
    $('scanners-error').textContent = '';
  } catch (e) {
    $('scanners-error').textContent = `Could not load the scanners: ${(e as Error).message}`;
  }
}

const pct = (r: number | null | undefined): string =>
  r === null || r === undefined ? '—' : `${(r * 100).toFixed(1)} %`;
const qps = (q: number | null | undefined): string =>
  q === null || q === undefined ? '—' : q.toFixed(q < 10 ? 2 : 0);
const rcodes = (m: Record<string, number> | undefined): string =>
  Object.entries(m || {})
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ') || '—';

async function refreshMetrics(): Promise<void> {
  try {
    const v = await api<MetricsView>('GET', '/v1/dns-metrics');
    $('metrics-panel').hidden = !v.configured;
    if (!v.configured) return;
    $('metrics-time').textContent = `scraped ${new Date(v.scrapedAt).toISOString().slice(11, 19)} UTC`;
    const tbody = $<HTMLTableElement>('dns-metrics').tBodies[0];
    tbody.replaceChildren();
    for (const s of v.servers) {
      const tr = el(
        'tr',
        {},
        cell(s.server),
        cell(s.up ? 'up' : `down: ${s.error}`, `state ${s.up ? 'up' : 'down'}`),
        cell(s.up ? qps(s.queriesPerSecond) : '—', 'qps'),
        cell(s.up ? rcodes(s.responses) : '—', 'rcodes'),
        cell(s.up ? pct(s.cacheHitRatio) : '—', 'ratio'),
      );
      tr.dataset.server = s.server;
      tr.dataset.up = String(s.up);
      tr.dataset.requests = String(s.requests);
      tbody.append(tr);
    }
    const t = v.total;
    const tr = el(
      'tr',
      { className: 'total' },
      cell('total'),
      cell(`${t.up} up, ${t.down} down`),
      cell(qps(t.queriesPerSecond), 'qps'),
      cell(rcodes(t.responses), 'rcodes'),
      cell(pct(t.cacheHitRatio), 'ratio'),
    );
    tr.dataset.requests = String(t.requests);
    tbody.append(tr);
    $('metrics-error').textContent = '';
  } catch (e) {
    $('metrics-error').textContent = `Could not load the DNS metrics: ${(e as Error).message}`;
  }
}

function refreshPanels(): Promise<unknown> {
  return Promise.all([refreshScanners(), refreshMetrics(), topology?.refresh()]);
}

function showFields(): void {
  const t = $<HTMLSelectElement>('f-type').value;
  for (const l of document.querySelectorAll<HTMLLabelElement>('#record-form label[data-for]'))
    l.hidden = !(l.dataset.for ?? '').split(' ').includes(t);
}

function resetForm(): void {
  $<HTMLFormElement>('record-form').reset();
  editing = undefined;
  input('f-edit').value = '';
  input('f-name').disabled = false;
  $<HTMLSelectElement>('f-type').disabled = false;
  $('form-title').textContent = 'Add a record';
  $('f-submit').textContent = 'Add';
  $('f-cancel').hidden = true;
  $('form-error').textContent = '';
  showFields();
}

function edit(r: ApiRecord): void {
  resetForm();
  editing = r;
  input('f-edit').value = r.id;
  input('f-name').value = r.name;
  input('f-name').disabled = true;
  $<HTMLSelectElement>('f-type').value = r.type;
  $<HTMLSelectElement>('f-type').disabled = true;
  for (const f of [...FIELDS[r.type], 'ttl']) input(`f-${f}`).value = String(r[f as keyof ApiRecord] ?? '');
  $('form-title').textContent = `Edit ${r.type} record of ${r.name}`;
  $('f-submit').textContent = 'Save';
  $('f-cancel').hidden = false;
  showFields();
}

async function remove(r: ApiRecord): Promise<void> {
  if (!(await confirmStep(`Delete ${r.type} ${shownValue(r)} of ${r.name}?`))) return;
  try {
    await api('DELETE', `/v1/records/${encodeURIComponent(r.name)}/${encodeURIComponent(r.id)}`);
    await refresh();
  } catch (e) {
    $('status').textContent = `Delete failed: ${(e as Error).message}`;
  }
}

async function submit(ev: SubmitEvent): Promise<void> {
  ev.preventDefault();
  const type = $<HTMLSelectElement>('f-type').value;
  const body: Record<string, string | number> = { type };
  for (const f of [...FIELDS[type], 'ttl']) {
    const v = input(`f-${f}`).value.trim();
    if (v === '') continue;
    body[f] = NUMERIC.has(f) && /^-?\d+$/.test(v) ? Number(v) : v;
  }
  const target = editing;
  const name = target ? target.name : input('f-name').value.trim();
  const extra = [
    body.zone === undefined ? '' : `zone ${body.zone}`,
    body.priority === undefined ? '' : `priority ${body.priority}`,
  ]
    .filter((x) => x !== '')
    .join(', ');
  const shown = shownValue({ id: '', name, ...body } as ApiRecord) + (extra ? ` (${extra})` : '');
  const question = target
    ? `Change ${type} ${shownValue(target)} of ${name} to ${shown}?`
    : `Add ${type} ${shown} to ${name}?`;
  if (!(await confirmStep(question))) return;
  $('form-error').textContent = '';
  try {
    if (target) {
      await api(
        'PUT',
        `/v1/records/${encodeURIComponent(target.name)}/${encodeURIComponent(target.id)}`,
        body,
      );
    } else {
      body.name = name;
      await api('POST', '/v1/records', body);
    }
    resetForm();
    await refresh();
  } catch (e) {
    $('form-error').textContent = describe(e);
  }
}

function start(): void {
  topology = new TopologyPanel({ api, confirmStep, describe });
  $('f-type').addEventListener('change', showFields);
  $('record-form').addEventListener('submit', submit);
  $('f-cancel').addEventListener('click', resetForm);
  $('refresh').addEventListener('click', () => {
    refresh();
    refreshPanels();
  });
  let t: ReturnType<typeof setTimeout> | undefined;
  $('search').addEventListener('input', () => {
    clearTimeout(t);
    t = setTimeout(refresh, 250);
  });
  $('logout').addEventListener('click', () => showLogin(''));
  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, input('token').value.trim());
    $('login-error').textContent = '';
    try {
      await api('GET', '/v1/health');
      input('token').value = '';
      await showApp();
    } catch (e) {
      const message = (e as Error).message;
      if (!$('login-view').hidden) $('login-error').textContent = message;
      else showLogin(message);
    }
  });
  showFields();
  if (token()) showApp();
  else showLogin('');
  // health changes come from the scanners: poll while the page is visible and no edit is open
  setInterval(() => {
    if (token() && !document.hidden && !input('f-edit').value) refresh();
  }, 3000);
  // scanners and the DNS servers' counters: every 5 s (queries/s is the difference of two scrapes)
  setInterval(() => {
    if (token() && !document.hidden) refreshPanels();
  }, 5000);
}

start();
