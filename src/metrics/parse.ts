/**
 * A strict reader of the Prometheus text exposition format (0.0.4), for tests and tools: every
 * line must be a `# HELP`, a `# TYPE`, another comment, blank, or a sample
 * `name{label="value",…} number`. Throws on anything else, on a sample of an undeclared family's
 * type mismatch, or on a duplicate series.
 */

export interface ParsedMetrics {
  /** Family name → declared type. */
  types: Map<string, string>;
  /** Family name → help text. */
  help: Map<string, string>;
  /** Series key (`name{a="x",b="y"}`, labels sorted) → value. */
  samples: Map<string, number>;
  /** The same, in order, with the labels apart. */
  series: { name: string; labels: Record<string, string>; value: number }[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseValue(text: string, line: string): number {
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (/^nan$/i.test(text)) return Number.NaN;
  const v = Number(text);
  if (text === '' || Number.isNaN(v)) throw new Error(`bad value in "${line}"`);
  return v;
}

/** The series key of `name` with `labels` (sorted by label name). */
export function seriesKey(name: string, labels: Record<string, string | number> = {}): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${String(labels[k])}"`);
  return parts.length > 0 ? `${name}{${parts.join(',')}}` : name;
}

export function parseMetricsText(text: string): ParsedMetrics {
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples = new Map<string, number>();
  const series: ParsedMetrics['series'] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) continue; // a plain comment
      if (!NAME.test(m[2])) throw new Error(`bad metric name in "${line}"`);
      if (m[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3]))
          throw new Error(`bad type in "${line}"`);
        if (types.has(m[2])) throw new Error(`second TYPE for ${m[2]}`);
        types.set(m[2], m[3]);
      } else help.set(m[2], m[3]);
      continue;
    }
    let i = 0;
    while (i < line.length && line[i] !== '{' && line[i] !== ' ') i++;
    const name = line.slice(0, i);
    if (!NAME.test(name)) throw new Error(`bad metric name in "${line}"`);
    const labels: Record<string, string> = {};
    if (line[i] === '{') {
      i++;
      while (line[i] !== '}') {
        const eq = line.indexOf('=', i);
        if (eq === -1) throw new Error(`bad labels in "${line}"`);
        const ln = line.slice(i, eq).trim();
        if (!LABEL.test(ln)) throw new Error(`bad label name "${ln}" in "${line}"`);
        if (line[eq + 1] !== '"') throw new Error(`unquoted label value in "${line}"`);
        let j = eq + 2;
        let v = '';
        for (; j < line.length && line[j] !== '"'; j++) {
          if (line[j] === '\\') {
            j++;
            const c = line[j];
            v += c === 'n' ? '\n' : c;
          } else v += line[j];
        }
        if (j >= line.length) throw new Error(`unterminated label value in "${line}"`);
        if (ln in labels) throw new Error(`label ${ln} twice in "${line}"`);
        labels[ln] = v;
        i = j + 1;
        if (line[i] === ',') i++;
        else if (line[i] !== '}') throw new Error(`bad labels in "${line}"`);
      }
      i++;
    }
    const rest = line.slice(i).trim().split(/\s+/);
    if (rest.length < 1 || rest.length > 2) throw new Error(`bad sample "${line}"`);
    const value = parseValue(rest[0], line);
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count|total)$/, '');
    if (!types.has(family) && !types.has(name)) throw new Error(`sample of an undeclared metric: "${line}"`);
    const key = seriesKey(name, labels);
    if (samples.has(key)) throw new Error(`duplicate series ${key}`);
    samples.set(key, value);
    series.push({ name, labels, value });
  }
  return { types, help, samples, series };
}

/** The value of one series, or undefined. */
export function sampleValue(
  parsed: ParsedMetrics,
  name: string,
  labels: Record<string, string | number> = {},
): number | undefined {
  return parsed.samples.get(seriesKey(name, labels));
}

/** The sum of every series of `name` whose labels include `match`. */
export function sumSamples(parsed: ParsedMetrics, name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const s of parsed.series)
    if (s.name === name && Object.entries(match).every(([k, want]) => s.labels[k] === want)) sum += s.value;
  return sum;
}
