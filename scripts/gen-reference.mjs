#!/usr/bin/env node
// Regenerates the flag tables of docs/reference.md from the programs' own flag specs (the built
// dist/src/config/*.js) and the /v1 operation table of docs/api.md from the OpenAPI document
// (dist/src/api/openapi.js), between `<!-- generated:<name> -->` and `<!-- /generated:<name> -->`.
// `npm run docs` builds first and runs this; `node scripts/gen-reference.mjs --check` exits 1
// (writing nothing) when a page is not what the specs would generate.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cfg = (name) => import(join(root, 'dist/src/config', `${name}.js`));

const { envName } = await cfg('flags');
const { VERSION_FLAG } = await cfg('cli');
const { hadesFlagSpecs } = await cfg('hades');
const { kubeapiFlagSpecs } = await cfg('kubeapi');
const { apicmdFlagSpecs } = await cfg('apicmd');
const { scannerFlagSpecs } = await cfg('scanner');
const { scheduleFlagSpecs } = await cfg('schedule');
const { openApiDocument } = await import(join(root, 'dist/src/api/openapi.js'));
const { HadesMetrics } = await import(join(root, 'dist/src/metrics/hades-metrics.js'));
const { ScannerMetrics, ScheduleMetrics } = await import(join(root, 'dist/src/health/metrics.js'));
const { KubeapiMetrics, KUBEAPI_METRIC_LABELS } = await import(
  join(root, 'dist/src/metrics/kubeapi-metrics.js')
);

/** What flagsCommandLine does: every program also takes -version. */
const withVersion = (specs) => (specs.some((s) => s.name === 'version') ? specs : [...specs, VERSION_FLAG]);

const esc = (text) => String(text).replace(/\|/g, '\\|').replace(/\n/g, ' ');
/** Prose cells: `<path>` would be read as HTML. */
const prose = (text) => esc(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const code = (text) => (text === '' ? '' : `\`${esc(text)}\``);
const flagNames = (s) => [s.name, ...(s.aliases ?? [])].map((n) => code(`-${n}`)).join(', ');
const typeOf = (s) => (s.type === 'bool' ? 'bool' : s.choices ? s.choices.join(' \\| ') : s.type);
const iniOf = (s) => {
  if (!s.ini) return '';
  const dot = s.ini.indexOf('.');
  return code(`[${s.ini.slice(0, dot)}] ${s.ini.slice(dot + 1)}`);
};
const envOf = (s) => {
  const e = envName(s);
  return e ? code(e) : '';
};

function table(specs, extra) {
  const hasIni = specs.some((s) => s.ini);
  const head = ['flag', 'type', 'default', ...(extra ? [extra.title] : []), 'environment'];
  if (hasIni) head.push('INI key');
  head.push('meaning');
  const rows = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const s of specs) {
    const cells = [flagNames(s), typeOf(s), s.default === '' ? '(none)' : code(s.default)];
    if (extra) cells.push(extra.cell(s));
    cells.push(envOf(s));
    if (hasIni) cells.push(iniOf(s));
    cells.push(prose(s.help));
    rows.push(`| ${cells.join(' | ')} |`);
  }
  return rows.join('\n');
}

/** hades and hades standalone: one table, with standalone's default where it differs. */
function hadesTable() {
  const server = withVersion(hadesFlagSpecs('server'));
  const standalone = new Map(withVersion(hadesFlagSpecs('standalone')).map((s) => [s.name, s]));
  const all = [...server, ...[...standalone.values()].filter((s) => !server.some((x) => x.name === s.name))];
  return table(all, {
    title: '`standalone` default',
    cell: (s) => {
      const st = standalone.get(s.name);
      if (!st) return '(server only)';
      if (!server.some((x) => x.name === s.name)) return code(st.default);
      return st.default === s.default ? 'same' : code(st.default);
    },
  });
}

const sections = {
  hades: hadesTable(),
  'hades-kubeapi': table(withVersion(kubeapiFlagSpecs())),
  'hades-apicmd': table(withVersion(apicmdFlagSpecs())),
  'hades-scanner': table(withVersion(scannerFlagSpecs())),
  'hades-schedule': table(withVersion(scheduleFlagSpecs())),
};

/** docs/api.md: the /v1 operations, from the OpenAPI document the API serves. */
function apiTable() {
  const doc = openApiDocument();
  const rows = ['| method | path | operation | summary | success |', '|---|---|---|---|---|'];
  for (const [p, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const ok = Object.keys(op.responses).filter((c) => c.startsWith('2'));
      rows.push(
        `| ${method.toUpperCase()} | ${code(p)} | ${code(op.operationId)} | ${prose(op.summary)} | ${ok.join(', ')} |`,
      );
    }
  }
  return rows.join('\n');
}

/**
 * Labels of the metrics whose samples are read at scrape time (src/metrics/collected.ts): they
 * declare no label names, so they are listed here (prom-client's own metrics carry theirs).
 */
const COLLECTED_LABELS = {
  hades_build_info: ['version'],
  hades_requests_total: ['protocol', 'type'],
  hades_responses_total: ['protocol', 'rcode'],
  hades_requests_dropped_total: ['reason'],
  hades_forward_refused_total: ['reason'],
  hades_forward_requests_total: ['to'],
  hades_forward_failures_total: ['to'],
  hades_forward_timeouts_total: ['to'],
  hades_forward_rcode_errors_total: ['to'],
  hades_forward_tcp_retries_total: ['to'],
  hades_forward_spoofed_total: ['to'],
  hades_forward_upstream_up: ['to'],
  hades_forward_duration_seconds: ['to'],
  hades_catalog_watch_state: ['state'],
  ...KUBEAPI_METRIC_LABELS,
};

/** docs/metrics.md: every metric a registry holds (prom-client's process metrics left out). */
function metricsTable(registry, extra = []) {
  const rows = ['| metric | type | labels | meaning |', '|---|---|---|---|'];
  const list = registry
    .getMetricsAsArray()
    .filter((m) => !/^(process|nodejs)_/.test(m.name))
    .map((m) => ({
      name: m.name,
      type: m.type,
      labels: m.labelNames?.length ? m.labelNames : (COLLECTED_LABELS[m.name] ?? []),
      help: m.help,
    }));
  for (const m of [...list, ...extra])
    rows.push(`| ${code(m.name)} | ${m.type} | ${m.labels.map(code).join(', ')} | ${prose(m.help)} |`);
  return rows.join('\n');
}

const files = {
  'docs/reference.md': sections,
  'docs/api.md': { 'v1-operations': apiTable() },
  'docs/metrics.md': {
    'hades-metrics': metricsTable(new HadesMetrics({ version: '0', processMetrics: false }).registry, [
      {
        name: 'hades_workers_expected',
        type: 'gauge',
        labels: [],
        help: 'With -workers, the primary only: worker processes the group should have (-workers).',
      },
    ]),
    'scanner-metrics': metricsTable(new ScannerMetrics({ processMetrics: false }).registry),
    'schedule-metrics': metricsTable(new ScheduleMetrics({ processMetrics: false }).registry),
    'kubeapi-metrics': metricsTable(new KubeapiMetrics({ processMetrics: false }).registry),
  },
};

const check = process.argv.includes('--check');
let stale = false;
for (const [rel, parts] of Object.entries(files)) {
  const file = join(root, rel);
  const before = readFileSync(file, 'utf8');
  let after = before;
  for (const [name, body] of Object.entries(parts)) {
    const open = `<!-- generated:${name} -->`;
    const close = `<!-- /generated:${name} -->`;
    const a = after.indexOf(open);
    const b = after.indexOf(close);
    if (a === -1 || b === -1 || b < a) {
      console.error(`gen-reference: ${rel} lacks the markers ${open} … ${close}`);
      process.exit(1);
    }
    after = `${after.slice(0, a + open.length)}\n\n${body}\n\n${after.slice(b)}`;
  }
  if (after === before) console.log(`gen-reference: ${rel} up to date`);
  else if (check) {
    console.error(`gen-reference: ${rel} is out of date; run \`npm run docs\``);
    stale = true;
  } else {
    writeFileSync(file, after);
    console.log(`gen-reference: ${rel} updated`);
  }
}
if (stale) process.exit(1);
