/**
 * A reader of the Prometheus text exposition format (0.0.4) for scraping the DNS servers'
 * `/metrics` (GET /v1/dns-metrics): samples `name{label="value",…} value [timestamp]`, `# HELP`
 * and `# TYPE` lines, other comments and blank lines. It follows the format, not one exporter:
 * samples of a family without `# TYPE` are untyped and kept, label values may hold escaped `\\`,
 * `\"` and `\n` (and `,` `}` `=` freely), values may be `NaN`, `+Inf`, `-Inf` or any float text,
 * a trailing timestamp is read and dropped. A malformed line throws `PromTextError` with its
 * line number: a server that answers garbage is shown as failing, not half-read.
 *
 * (src/metrics/parse.ts is the strict checker the tests run on hades's own output: it also
 * rejects undeclared families and duplicate series, which a scraper must not.)
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
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (text === 'NaN') return Number.NaN;
  // Go's ParseFloat: decimal or exponent forms (Number() alone would take '', '0x10', ' ')
  if (!/^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/.test(text))
    throw new PromTextError(lineNo, `"${text}" is not a number`);
  return Number(text);
}

export function parsePromText(text: string): PromText {
  const samples: PromSample[] = [];
  const types = new Map<string, string>();
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
      }
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
  return { samples, types };
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
