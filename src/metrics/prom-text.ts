/**
 * A reader of the Prometheus text exposition format (0.0.4) for scraping the DNS servers'
 * `/metrics` (GET /v1/dns-metrics): samples `name{label="value",…} value [timestamp]`, `# HELP`
 * and `# TYPE` lines, other comments and blank lines. It follows the format, not one exporter:
 * samples of a family without `# TYPE` are untyped and kept, label values may hold escaped `\\`,
 * `\"` and `\n` (and `,` `}` `=` freely), values may be `NaN`, `+Inf`, `-Inf` (in any case, as
 * Go's ParseFloat reads them: prom-client writes `Nan`) or decimal float text, a trailing
 * timestamp is read and dropped. A malformed line throws `PromTextError` with its line number: a
 * server that answers garbage is shown as failing, not half-read.
 *
 * Tests read hades's own `/metrics` with it too: `seriesValue` looks up one series, `types` and
 * `help` hold the `# TYPE` and `# HELP` lines, and `strictErrors` lists what one well-behaved
 * exporter never writes but a scraper must accept (samples of a family without `# TYPE`, a series
 * given twice).
 */

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromText {
  samples: PromSample[];
  /** Family name → declared type (`counter`, `gauge`, …). */
  types: Map<string, string>;
  /** Family name → `# HELP` text (`\\` and `\n` unescaped). */
  help: Map<string, string>;
}

export class PromTextError extends Error {
  readonly line: number;
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'PromTextError';
    this.line = line;
  }
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function number(text: string, lineNo: number): number {
  // Go's ParseFloat, which Prometheus reads values with: `Inf`, `Infinity` (signed or not) and
  // `NaN` in any case (prom-client writes NaN as `Nan`), decimal or exponent forms (Number()
  // alone would take '', '0x10', ' ')
  const special = /^([+-]?)inf(?:inity)?$/i.exec(text);
  if (special) return special[1] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  if (/^nan$/i.test(text)) return Number.NaN;
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(text))
    throw new PromTextError(lineNo, `"${text}" is not a number`);
  return Number(text);
}

export function parsePromText(text: string): PromText {
  const samples: PromSample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const lineNo = n + 1;
    const line = lines[n].replace(/\r$/, '');
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/.exec(line);
      if (!m) continue; // any other comment
      const name = m[2];
      if (NAME.exec(name)?.[0] !== name) throw new PromTextError(lineNo, `bad metric name "${name}"`);
      if (m[1] === 'TYPE') {
        const t = (m[3] ?? '').trim();
        if (!TYPES.has(t)) throw new PromTextError(lineNo, `unknown type "${t}" for ${name}`);
        types.set(name, t);
      } else
        help.set(
          name,
          (m[3] ?? '').replace(/\\([\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c)),
        );
      continue;
    }
    let i = line.search(/\S/);
    const nm = NAME.exec(line.slice(i));
    if (!nm) throw new PromTextError(lineNo, 'a sample must start with a metric name');
    const name = nm[0];
    i += name.length;
    const labels: Record<string, string> = {};
    if (line[i] === '{') {
      i++;
      for (;;) {
        while (line[i] === ' ' || line[i] === '\t') i++;
        if (line[i] === '}') break;
        const lm = LABEL.exec(line.slice(i));
        if (!lm) throw new PromTextError(lineNo, `bad label name at column ${i + 1}`);
        const label = lm[0];
        i += label.length;
        while (line[i] === ' ' || line[i] === '\t') i++;
        if (line[i] !== '=') throw new PromTextError(lineNo, `"=" expected after label ${label}`);
        i++;
        while (line[i] === ' ' || line[i] === '\t') i++;
        if (line[i] !== '"') throw new PromTextError(lineNo, `label ${label}: value must be quoted`);
        i++;
        let v = '';
        for (;;) {
          if (i >= line.length) throw new PromTextError(lineNo, `label ${label}: unterminated value`);
          const c = line[i];
          if (c === '"') break;
          if (c === '\\') {
            const e = line[i + 1];
            if (e === 'n') v += '\n';
            else if (e === '\\' || e === '"') v += e;
            else throw new PromTextError(lineNo, `label ${label}: bad escape "\\${e ?? ''}"`);
            i += 2;
          } else {
            v += c;
            i++;
          }
        }
        i++; // the closing quote
        if (Object.hasOwn(labels, label)) throw new PromTextError(lineNo, `label ${label} given twice`);
        labels[label] = v;
        while (line[i] === ' ' || line[i] === '\t') i++;
        if (line[i] === ',') i++;
        else if (line[i] !== '}') throw new PromTextError(lineNo, `"," or "}" expected after label ${label}`);
      }
      i++; // the closing brace
    }
    if (line[i] !== ' ' && line[i] !== '\t')
      throw new PromTextError(lineNo, `whitespace and a value expected after ${name}`);
    const rest = line
      .slice(i)
      .trim()
      .split(/[ \t]+/);
    if (rest.length > 2) throw new PromTextError(lineNo, 'text after the value and timestamp');
    const value = number(rest[0], lineNo);
    if (rest.length === 2 && !/^-?\d+$/.test(rest[1]))
      throw new PromTextError(lineNo, `"${rest[1]}" is not a timestamp (integer ms)`);
    samples.push({ name, labels, value });
  }
  return { samples, types, help };
}

/** Sum of every sample of `name` whose labels include `match`; undefined when there is none. */
export function sumOf(text: PromText, name: string, match: Record<string, string> = {}): number | undefined {
  let sum: number | undefined;
  for (const s of text.samples)
    if (s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
      sum = (sum ?? 0) + s.value;
  return sum;
}

/** Sums of `name` grouped by the value of `label` (samples without it are left out). */
export function sumBy(text: PromText, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of text.samples) {
    if (s.name !== name) continue;
    const k = s.labels[label];
    if (k === undefined) continue;
    out[k] = (out[k] ?? 0) + s.value;
  }
  return out;
}

const sameLabels = (a: Record<string, string>, b: Record<string, string>): boolean => {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && b[k] === a[k]);
};

/**
 * The value of the one series of `name` whose labels are exactly `labels` (no more, no fewer);
 * undefined when there is none. Throws when the text holds that series twice.
 */
export function seriesValue(
  text: PromText,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  let found: PromSample | undefined;
  for (const s of text.samples) {
    if (s.name !== name || !sameLabels(s.labels, labels)) continue;
    if (found) throw new Error(`series ${seriesKey(s)} given twice`);
    found = s;
  }
  return found?.value;
}

/** `name{a="x",b="y"}`, labels sorted by name, values escaped as in the format. */
function seriesKey(s: PromSample): string {
  const esc = (v: string) => v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
  const parts = Object.keys(s.labels)
    .sort()
    .map((k) => `${k}="${esc(s.labels[k])}"`);
  return parts.length > 0 ? `${s.name}{${parts.join(',')}}` : s.name;
}

/**
 * The family a sample belongs to by its `# TYPE` lines: its own name, or for `_bucket` the
 * histogram, for `_sum` / `_count` the histogram or summary, for `_total` the counter, without
 * the suffix. Undefined when none is declared.
 */
function familyOf(text: PromText, name: string): string | undefined {
  if (text.types.has(name)) return name;
  const m = /^(.+)_(bucket|sum|count|total)$/.exec(name);
  if (!m) return undefined;
  const t = text.types.get(m[1]);
  const ok =
    m[2] === 'bucket'
      ? t === 'histogram'
      : m[2] === 'total'
        ? t === 'counter'
        : t === 'histogram' || t === 'summary';
  return ok ? m[1] : undefined;
}

/**
 * What the format allows a scraper to meet but one well-behaved exporter (hades's own
 * `/metrics`, checked in tests) never writes: a sample of a family without `# TYPE`, the same
 * series twice. One message per problem, in text order; empty when there is none.
 */
export function strictErrors(text: PromText): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const s of text.samples) {
    const key = seriesKey(s);
    if (familyOf(text, s.name) === undefined) out.push(`${key}: no # TYPE for its family`);
    if (seen.has(key)) out.push(`${key}: series given twice`);
    seen.add(key);
  }
  return out;
}
