/**
 * deploy/grafana/hades.json and deploy/prometheus/hades-rules.yaml use only metrics that exist: every
 * PromQL expression (panel targets, template variables, alert rules) is read by a small PromQL
 * lexer, and each metric it names must be a series one of the programs exposes — the registries are
 * built here in process as the programs build them (HadesMetrics, the -workers primary's
 * ClusterMetrics, ScannerMetrics, ScheduleMetrics, KubeapiMetrics, each with prom-client's process
 * metrics), a histogram giving `_bucket`/`_sum`/`_count`. A label in a selector must be one of its
 * metric's labels (or the target's `job` / `instance`), a label in `by`/`on`/`without` one that some
 * metric has. The dashboard and the rules file are also checked for their shape (Grafana panels
 * with targets and unique ids, rule groups with alerts, `for` durations, severities, annotations).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { LATENCY_BUCKETS } from '../../src/dns/forward/upstream.js';
import { QueryCounters } from '../../src/dns/query-counters.js';
import { ScannerMetrics, ScheduleMetrics } from '../../src/health/metrics.js';
import { ClusterMetrics } from '../../src/metrics/cluster.js';
import { HadesMetrics } from '../../src/metrics/hades-metrics.js';
import { KUBEAPI_METRIC_LABELS, KubeapiMetrics } from '../../src/metrics/kubeapi-metrics.js';
import { parsePromText } from '../../src/metrics/prom-text.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DASHBOARD = 'deploy/grafana/hades.json';
const RULES = 'deploy/prometheus/hades-rules.yaml';

/** Labels Prometheus adds to every series of a target. */
const TARGET_LABELS = ['job', 'instance'];

// ---- a PromQL reader: enough to find the metric names and labels of an expression ----------------

interface Token {
  kind: 'ident' | 'string' | 'number' | 'var' | 'punct';
  text: string;
}

const LEX: [Token['kind'] | 'space', RegExp][] = [
  ['space', /\s+/y],
  ['string', /"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`/y],
  ['var', /\$\{[^}]*\}|\$\w+/y], // Grafana's $__rate_interval, $job, ${datasource}
  ['number', /(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)(?:[a-zA-Z]\w*)?/y], // 0.9, 5m, 1h30m
  ['ident', /[a-zA-Z_:][\w:]*/y],
  ['punct', /==|!=|=~|!~|<=|>=|[-+*/%^<>=(){}[\],@]/y],
];

function lex(expr: string): Token[] {
  const out: Token[] = [];
  let at = 0;
  next: while (at < expr.length) {
    for (const [kind, re] of LEX) {
      re.lastIndex = at;
      const m = re.exec(expr);
      if (m === null) continue;
      at += m[0].length;
      if (kind !== 'space') out.push({ kind, text: m[0] });
      continue next;
    }
    throw new Error(`cannot read ${JSON.stringify(expr.slice(at, at + 20))} in ${expr}`);
  }
  return out;
}

/** Keywords and binary operators that look like names. */
const KEYWORDS = new Set(['bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan', 'start', 'end', 'atan2']);
/** Aggregation operators: `sum by (x) (…)` has no parenthesis right after the name. */
const AGGREGATIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
]);
/** Keywords followed by a parenthesised list of label names. */
const LABEL_LISTS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

interface Selector {
  metric: string;
  labels: string[];
}

export interface ReadExpr {
  selectors: Selector[];
  /** Labels named in by / without / on / ignoring / group_left / group_right. */
  grouping: string[];
}

const unquote = (s: string): string => s.slice(1, -1);

export function readExpr(expr: string): ReadExpr {
  const t = lex(expr);
  const selectors: Selector[] = [];
  const grouping: string[] = [];
  /** The label names of the `{…}` at t[i], and the index of its `}`. */
  const matchers = (i: number): { labels: string[]; name?: string; end: number } => {
    const labels: string[] = [];
    let name: string | undefined;
    let j = i + 1;
    for (; j < t.length && t[j].text !== '}'; j++) {
      if (t[j].kind !== 'ident') continue;
      assert.ok(['=', '!=', '=~', '!~'].includes(t[j + 1]?.text), `a label matcher in ${expr}`);
      if (t[j].text === '__name__') name = unquote(t[j + 2].text);
      else labels.push(t[j].text);
      j += 2;
    }
    assert.ok(j < t.length, `an unclosed { in ${expr}`);
    return { labels, name, end: j };
  };
  for (let i = 0; i < t.length; i++) {
    const tok = t[i];
    if (tok.text === '{') {
      // a selector with no metric name in front: {__name__="x", …}
      const m = matchers(i);
      assert.ok(m.name, `a selector without a metric name in ${expr}`);
      selectors.push({ metric: m.name, labels: m.labels });
      i = m.end;
      continue;
    }
    if (tok.text === '[') {
      // a range or subquery: [5m], [$__rate_interval], [1h:5m]
      while (i < t.length && t[i].text !== ']') i++;
      continue;
    }
    if (tok.kind !== 'ident') continue;
    if (LABEL_LISTS.has(tok.text)) {
      if (t[i + 1]?.text !== '(') continue;
      for (i += 2; i < t.length && t[i].text !== ')'; i++)
        if (t[i].kind === 'ident') grouping.push(t[i].text);
      continue;
    }
    if (KEYWORDS.has(tok.text) || AGGREGATIONS.has(tok.text)) continue;
    if (t[i + 1]?.text === '(') continue; // a function
    if (t[i + 1]?.text === '{') {
      const m = matchers(i + 1);
      selectors.push({ metric: tok.text, labels: m.labels });
      i = m.end;
    } else selectors.push({ metric: tok.text, labels: [] });
  }
  return { selectors, grouping };
}

// ---- what the programs expose ----------------------------------------------------------------------

/** Series name → its labels, from every registry the programs build. */
async function exposedSeries(): Promise<Map<string, Set<string>>> {
  const hades = new HadesMetrics({ version: '0' });
  // sources with one of everything, so the collected metrics show their labels
  hades.setServer({
    counters: new QueryCounters(),
    stats: {
      dropped: 0,
      udpBusyDrops: 0,
      truncated: 0,
      handlerErrors: 0,
      tcpConnections: 0,
      tcpRejected: 0,
      tcpIdleTimeouts: 0,
    },
    tcpOpen: 0,
  });
  hades.setForwarder(
    {
      stats: {
        queries: 0,
        external: 0,
        answered: 0,
        servfail: 0,
        refusedInflight: 0,
        noUpstream: 0,
        refusedTransfers: 0,
        failOpen: 0,
      },
      inflight: 0,
      upstreams: () => [
        {
          address: '127.0.0.1:53',
          down: false,
          stats: {
            requests: 1,
            failures: 0,
            timeouts: 0,
            rcodeErrors: 0,
            tcpRetries: 0,
            spoofed: 0,
            latencySum: 0,
            latencyBuckets: new Array<number>(LATENCY_BUCKETS.length + 1).fill(0),
          },
        },
      ],
    },
    LATENCY_BUCKETS,
  );
  hades.setCatalog({
    ready: true,
    revision: 1,
    recordCount: 1,
    watchState: 'connected',
    lastEventAt: Date.now(),
    stats: { invalidRecords: 0, invalidHealth: 0, invalidTopology: 0, lists: 1, compactions: 0, failures: 0 },
  });
  const registries = [
    hades.registry,
    new ScannerMetrics().registry,
    new ScheduleMetrics().registry,
    new KubeapiMetrics().registry,
  ];
  const series = new Map<string, Set<string>>();
  const add = (name: string, labels: Iterable<string>): void => {
    const s = series.get(name) ?? new Set<string>();
    for (const l of labels) s.add(l);
    series.set(name, s);
  };
  const texts: string[] = [(await new ClusterMetrics(2).metrics()).body];
  for (const registry of registries) {
    for (const m of registry.getMetricsAsArray()) {
      const labels = [
        ...((m as unknown as { labelNames?: string[] }).labelNames ?? []),
        ...(KUBEAPI_METRIC_LABELS[m.name] ?? []),
      ];
      const type = (m as unknown as { type: string }).type;
      if (type === 'histogram') {
        add(`${m.name}_bucket`, [...labels, 'le']);
        add(`${m.name}_sum`, labels);
        add(`${m.name}_count`, labels);
      } else if (type === 'summary') {
        add(m.name, [...labels, 'quantile']);
        add(`${m.name}_sum`, labels);
        add(`${m.name}_count`, labels);
      } else add(m.name, labels);
    }
    texts.push(await registry.metrics());
  }
  // the samples as written (the collected metrics declare no label names: their samples carry them)
  for (const text of texts) for (const s of parsePromText(text).samples) add(s.name, Object.keys(s.labels));
  return series;
}

// ---- the files -------------------------------------------------------------------------------------

interface Expr {
  where: string;
  expr: string;
}

interface Panel {
  id?: number;
  type?: string;
  title?: string;
  targets?: { expr?: string; refId?: string }[];
  panels?: Panel[];
}

interface Dashboard {
  title: string;
  uid: string;
  panels: Panel[];
  templating?: { list: { name: string; type: string; query?: string | { query?: string } }[] };
}

function dashboardExprs(d: Dashboard): Expr[] {
  const out: Expr[] = [];
  const walk = (panels: Panel[]): void => {
    for (const p of panels) {
      for (const t of p.targets ?? [])
        if (t.expr !== undefined) out.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  for (const v of d.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
    // label_values(<selector>, <label>) | label_values(<label>) | query_result(<expr>)
    const lv = /^label_values\((?:(.+),\s*)?(\w+)\)$/.exec(q.trim());
    const qr = /^query_result\((.+)\)$/.exec(q.trim());
    assert.ok(lv || qr, `variable ${v.name}: a query the test can read: ${q}`);
    const where = `variable $${v.name}`;
    // label_values(s, l) lists the values of l among the series s: count by (l) (s) names both
    if (lv) {
      assert.ok(lv[1], `variable ${v.name}: label_values names its metric`);
      out.push({ where, expr: `count by (${lv[2]}) (${lv[1]})` });
    }
    if (qr) out.push({ where, expr: qr[1] });
  }
  return out;
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const read = (rel: string): string => readFileSync(join(ROOT, rel), 'utf8');

/** The names and labels of `exprs` that no program exposes. */
function unknown(exprs: Expr[], series: Map<string, Set<string>>, extraNames: string[] = []): string[] {
  const allLabels = new Set<string>(TARGET_LABELS);
  for (const labels of series.values()) for (const l of labels) allLabels.add(l);
  const problems: string[] = [];
  for (const { where, expr } of exprs) {
    const r = readExpr(expr);
    if (r.selectors.length === 0) problems.push(`${where}: names no metric: ${expr}`);
    for (const s of r.selectors) {
      const labels = series.get(s.metric);
      if (labels === undefined) {
        if (!extraNames.includes(s.metric)) problems.push(`${where}: no metric ${s.metric}`);
        continue;
      }
      for (const l of s.labels)
        if (!labels.has(l) && !TARGET_LABELS.includes(l))
          problems.push(`${where}: ${s.metric} has no label ${l}`);
    }
    for (const l of r.grouping) if (!allLabels.has(l)) problems.push(`${where}: no metric has a label ${l}`);
  }
  return problems;
}

describe('the PromQL reader', () => {
  const cases: [string, string[], string[]][] = [
    [
      'sum by (to) (rate(hades_forward_requests_total{job=~"a|b", to!="x,}"}[5m] offset 1h))',
      ['hades_forward_requests_total'],
      ['to'],
    ],
    [
      'histogram_quantile(0.9, sum by (le) (rate(x_bucket{instance=~"$instance"}[$__rate_interval])))',
      ['x_bucket'],
      ['le'],
    ],
    [
      'a * on(job, instance) group_left() (group by (job) (b or c_total))',
      ['a', 'b', 'c_total'],
      ['job', 'instance', 'job'],
    ],
    ['{__name__="foo", to="y"} > 0.5e3', ['foo'], []],
    ['(time() - up) and count without (a) (d) == bool 1', ['up', 'd'], ['a']],
    ['sum(rate(m[1h:5m])) / ignoring(code) sum(m2)', ['m', 'm2'], ['code']],
  ];
  for (const [expr, names, grouping] of cases)
    it(expr, () => {
      const r = readExpr(expr);
      assert.deepEqual(
        r.selectors.map((s) => s.metric),
        names,
      );
      assert.deepEqual(r.grouping, grouping);
    });

  it('catches a metric or a label that does not exist', () => {
    const series = new Map([['hades_forward_requests_total', new Set(['to'])]]);
    assert.deepEqual(
      unknown(
        [
          { where: 'a', expr: 'rate(hades_forward_requests_total{to="x"}[5m])' },
          { where: 'b', expr: 'rate(hades_nope_total[5m])' },
          { where: 'c', expr: 'hades_forward_requests_total{upstream="x"}' },
          { where: 'd', expr: 'sum by (upstream) (hades_forward_requests_total)' },
          { where: 'e', expr: 'vector(1)' },
        ],
        series,
      ),
      [
        'b: no metric hades_nope_total',
        'c: hades_forward_requests_total has no label upstream',
        'd: no metric has a label upstream',
        'e: names no metric: vector(1)',
      ],
    );
  });

  it('refuses what it cannot read', () => {
    assert.throws(() => readExpr('rate(x[5m]) # comment'), /cannot read/);
    assert.throws(() => readExpr('x{a="b"'), /unclosed/);
  });
});

describe('deploy/grafana and deploy/prometheus use only metrics that exist', () => {
  let series: Map<string, Set<string>>;
  before(async () => {
    series = await exposedSeries();
  });

  it('the registries expose what the dashboard is about', () => {
    for (const name of [
      'hades_responses_total',
      'hades_request_duration_seconds_bucket',
      'hades_workers_expected',
      'hades_scanner_probe_lateness_seconds_bucket',
      'hades_schedule_leader',
      'hades_kube_leader',
      'hades_api_request_duration_seconds_bucket',
      'process_cpu_seconds_total',
      'process_start_time_seconds',
      'nodejs_eventloop_lag_p99_seconds',
    ])
      assert.ok(series.has(name), name);
    assert.ok(series.get('hades_forward_requests_total')?.has('to'), 'the per-upstream label is to');
    assert.ok(!series.get('hades_forward_requests_total')?.has('upstream'));
    assert.ok(![...series.keys()].some((n) => /^hades_(process|nodejs)_/.test(n)));
  });

  it(`${DASHBOARD}: a Grafana dashboard whose every query names existing metrics`, () => {
    const d = JSON.parse(read(DASHBOARD)) as Dashboard;
    assert.equal(d.uid, 'hades');
    assert.ok(Array.isArray(d.panels) && d.panels.length > 10);
    const ids = new Set<number>();
    const walk = (panels: Panel[]): void => {
      for (const p of panels) {
        assert.equal(typeof p.id, 'number', `panel "${p.title}" has an id`);
        assert.ok(!ids.has(p.id as number), `panel id ${p.id} once`);
        ids.add(p.id as number);
        assert.ok(p.title, `panel ${p.id} has a title`);
        if (p.type !== 'row') assert.ok((p.targets ?? []).length > 0, `panel "${p.title}" has targets`);
        walk(p.panels ?? []);
      }
    };
    walk(d.panels);
    const exprs = dashboardExprs(d);
    assert.ok(exprs.length > 40, String(exprs.length));
    assert.deepEqual(unknown(exprs, series), []);
  });

  it(`${RULES}: Prometheus alert rules whose every expression names existing metrics`, () => {
    const doc = parseYaml(read(RULES), { strict: true, uniqueKeys: true }) as {
      groups: { name: string; rules: Rule[] }[];
    };
    assert.ok(Array.isArray(doc.groups) && doc.groups.length > 0);
    assert.deepEqual(Object.keys(doc), ['groups']);
    const exprs: Expr[] = [];
    const alerts = new Set<string>();
    const records: string[] = [];
    for (const g of doc.groups) {
      assert.ok(g.name && Array.isArray(g.rules) && g.rules.length > 0, `group ${g.name}`);
      for (const r of g.rules) {
        const name = r.alert ?? r.record;
        assert.ok(
          name && (r.alert === undefined) !== (r.record === undefined),
          `a rule is an alert or a record`,
        );
        assert.equal(typeof r.expr, 'string', `${name}: expr`);
        for (const k of Object.keys(r))
          assert.ok(
            ['alert', 'record', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations'].includes(k),
            `${name}: ${k}`,
          );
        if (r.for !== undefined) assert.match(r.for, /^(\d+[smhdwy])+$/, `${name}: for`);
        if (r.alert !== undefined) {
          assert.ok(!alerts.has(r.alert), `${r.alert} once`);
          alerts.add(r.alert);
          assert.ok(['critical', 'warning', 'info'].includes(r.labels?.severity ?? ''), `${name}: severity`);
          assert.ok(r.annotations?.summary && r.annotations.description, `${name}: summary and description`);
          // {{ $labels.x }} in the annotations: a target label, or one the expression groups by or its
          // metrics carry (loosely: an aggregation may still drop it; promtool test rules would tell)
          for (const [, l] of `${r.annotations.summary} ${r.annotations.description}`.matchAll(
            /\$labels\.(\w+)/g,
          ))
            assert.ok(
              TARGET_LABELS.includes(l) ||
                readExpr(r.expr).grouping.includes(l) ||
                readExpr(r.expr).selectors.some((s) => series.get(s.metric)?.has(l)),
              `${name}: $labels.${l}`,
            );
        } else records.push(r.record as string);
        exprs.push({ where: `rule ${name}`, expr: r.expr });
      }
    }
    // the alerts docs/metrics.md suggests
    for (const a of [
      'HadesNotReady',
      'HadesCatalogDisconnected',
      'HadesInvalidRecords',
      'HadesScannerLate',
      'HadesSelectionAllDownClosed',
      'HadesForwardUpstreamDown',
    ])
      assert.ok(alerts.has(a), a);
    assert.deepEqual(unknown(exprs, series, records), []);
  });

  it('docs/metrics.md: the expressions of "What to alert on" name existing metrics', () => {
    const page = read('docs/metrics.md');
    const section = page.slice(page.indexOf('## What to alert on')).split('\n## ')[0];
    const exprs: Expr[] = [];
    for (const line of section.split('\n')) {
      if (!line.startsWith('| ') || line.startsWith('| condition |')) continue;
      const cells = line.split(/(?<!\\)\|/).map((c) => c.trim());
      for (const [, expr] of cells[2].matchAll(/`([^`]+)`/g)) exprs.push({ where: cells[1], expr });
    }
    assert.ok(exprs.length >= 15, String(exprs.length));
    assert.deepEqual(unknown(exprs, series), []);
  });
});
