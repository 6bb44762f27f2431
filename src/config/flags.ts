/**
 * Go-style command-line flags, as the seed's programs (Go's `flag` package) accepted them:
 * `-name value`, `-name=value`, `--name value`, `--name=value`; booleans as `-name` or
 * `-name=false`. Every flag can also come from the environment as `HADES_<NAME>` (upper case,
 * `-` and `.` become `_`). Precedence: command line, then environment, then the default.
 *
 * Parsing stops at `--` or at the first argument that is not a flag (as Go's flag package does);
 * the rest are positionals.
 */

export type FlagType = 'string' | 'bool' | 'int' | 'duration' | 'list';

export interface FlagSpec {
  name: string;
  type: FlagType;
  /** Default as it would be typed on the command line ('' for none). */
  default: string;
  help: string;
  /** Other names accepted for the same flag (e.g. `rtimeout` for `read_timeout`). */
  aliases?: readonly string[];
  /** Allowed values, for an enumerated string flag (its default is allowed too, e.g. '' for none). */
  choices?: readonly string[];
  /** Inclusive bounds for `int` flags. */
  min?: number;
  max?: number;
  /** Environment variable; defaults to HADES_<NAME>. `false`: none. */
  env?: string | false;
  /** Key in the program's INI file, `section.key` (case-insensitive), e.g. `general.etcd-server`. */
  ini?: string;
}

export type FlagValue = string | boolean | number | string[];
export type FlagValues = Record<string, FlagValue>;

/** A bad flag: programs print `message` on one line and exit with status 2 (as Go does). */
export class FlagError extends Error {
  readonly code = 'EFLAG';
  readonly flag: string;
  constructor(flag: string, message: string) {
    super(message);
    this.name = 'FlagError';
    this.flag = flag;
  }
}

/** Thrown for -h / -help / --help: the caller prints usage and exits 0. */
export class HelpRequested extends Error {
  readonly code = 'EHELP';
}

export function envName(spec: FlagSpec): string | undefined {
  if (spec.env === false) return undefined;
  return spec.env ?? `HADES_${spec.name.toUpperCase().replace(/[-.]/g, '_')}`;
}

const DURATION_RE = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/;
const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go durations (`2s`, `1m30s`, `500ms`); a bare number means seconds. Returns milliseconds. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+(?:\.\d+)?$/.test(t)) return Number(t) * 1000;
  if (t === '') return undefined;
  let rest = t;
  let ms = 0;
  while (rest !== '') {
    const m = DURATION_RE.exec(rest);
    if (!m) return undefined;
    ms += Number(m[1]) * UNIT_MS[m[2]];
    rest = rest.slice(m[0].length);
  }
  return ms;
}

function convert(spec: FlagSpec, raw: string, where: string): FlagValue {
  switch (spec.type) {
    case 'string':
      if (spec.choices && raw !== spec.default && !spec.choices.includes(raw))
        throw new FlagError(spec.name, `${where}: "${raw}" is not one of ${spec.choices.join(', ')}`);
      return raw;
    case 'bool': {
      const v = raw.toLowerCase();
      if (['1', 't', 'true', 'yes', 'y', 'on'].includes(v)) return true;
      if (['0', 'f', 'false', 'no', 'n', 'off', ''].includes(v)) return false;
      throw new FlagError(spec.name, `${where}: "${raw}" is not a boolean`);
    }
    case 'int': {
      if (!/^-?\d+$/.test(raw.trim())) throw new FlagError(spec.name, `${where}: "${raw}" is not an integer`);
      const n = Number(raw);
      if (spec.min !== undefined && n < spec.min)
        throw new FlagError(spec.name, `${where}: ${n} is below the minimum ${spec.min}`);
      if (spec.max !== undefined && n > spec.max)
        throw new FlagError(spec.name, `${where}: ${n} is above the maximum ${spec.max}`);
      return n;
    }
    case 'duration': {
      const ms = parseDuration(raw);
      if (ms === undefined)
        throw new FlagError(spec.name, `${where}: "${raw}" is not a duration (e.g. 2s, 500ms)`);
      return ms;
    }
    case 'list':
      return raw
        .split(/[,;]/)
        .map((s) => s.trim())
        .filter((s) => s !== '');
  }
}

export interface ParsedFlags {
  values: FlagValues;
  /** Names set explicitly, on the command line or in the environment. */
  explicit: Set<string>;
  positionals: string[];
}

/**
 * Precedence: command line, then environment, then the INI file (`file`, for specs with `ini`),
 * then the default.
 */
export function parseFlags(
  specs: readonly FlagSpec[],
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  file?: { name: string; values: ReadonlyMap<string, string> },
): ParsedFlags {
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) {
    byName.set(s.name, s);
    for (const a of s.aliases ?? []) byName.set(a, s);
  }
  const values: FlagValues = {};
  const explicit = new Set<string>();
  for (const s of specs) values[s.name] = convert(s, s.default, `default of -${s.name}`);
  if (file) {
    for (const s of specs) {
      const raw = s.ini === undefined ? undefined : file.values.get(s.ini.toLowerCase());
      if (raw !== undefined) {
        values[s.name] = convert(s, raw, `-${s.name} (${s.ini} in ${file.name})`);
        explicit.add(s.name);
      }
    }
  }
  for (const s of specs) {
    const e = envName(s);
    const raw = e === undefined ? undefined : env[e];
    if (raw !== undefined && raw !== '') {
      values[s.name] = convert(s, raw, `-${s.name} (from ${e})`);
      explicit.add(s.name);
    }
  }
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      i++;
      break;
    }
    if (arg.length < 2 || arg[0] !== '-' || /^-\d/.test(arg)) break;
    const body = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf('=');
    const name = eq === -1 ? body : body.slice(0, eq);
    if (name === 'h' || name === 'help') throw new HelpRequested('help requested');
    const spec = byName.get(name);
    if (!spec) throw new FlagError(name, `flag provided but not defined: -${name}`);
    let raw: string;
    if (eq !== -1) raw = body.slice(eq + 1);
    else if (spec.type === 'bool') raw = 'true';
    else {
      if (i + 1 >= argv.length) throw new FlagError(spec.name, `flag needs an argument: -${name}`);
      raw = argv[++i];
    }
    values[spec.name] = convert(spec, raw, `-${spec.name}`);
    explicit.add(spec.name);
  }
  return { values, explicit, positionals: argv.slice(i) };
}

/**
 * The error for the first positional of a program that takes none. After a boolean flag written
 * without `=` (`-enable-icmp maybe`), the word was not its value: the message says how to give one.
 */
export function strayArgument(
  specs: readonly FlagSpec[],
  argv: readonly string[],
  positionals: readonly string[],
): FlagError {
  const word = positionals[0];
  const before = argv[argv.length - positionals.length - 1];
  const name = before?.replace(/^--?/, '');
  const spec =
    before?.startsWith('-') && !name.includes('=')
      ? specs.find((s) => s.name === name || s.aliases?.includes(name))
      : undefined;
  const hint = spec?.type === 'bool' ? ` (-${name} is a boolean: write -${name}=true or -${name}=false)` : '';
  return new FlagError(word, `unexpected argument "${word}"${hint}`);
}

/** Usage text: every flag with its type, default, environment variable and help. */
export function usage(program: string, specs: readonly FlagSpec[], synopsis = '[flags]'): string {
  const lines = [
    `Usage: ${program} ${synopsis}`,
    '',
    'Flags (also --flag=value; each also from its environment variable):',
  ];
  for (const s of specs) {
    const names = [s.name, ...(s.aliases ?? [])].map((n) => `-${n}`).join(', ');
    const type = s.type === 'bool' ? '' : ` ${s.choices ? s.choices.join('|') : s.type}`;
    lines.push(`  ${names}${type}`);
    const def = s.default === '' ? '' : ` (default ${JSON.stringify(s.default)})`;
    const e = envName(s);
    const ini = s.ini ? ` [${s.ini.replace('.', ': ')}]` : '';
    lines.push(`        ${s.help}${def}${e ? ` [$${e}]` : ''}${ini}`);
  }
  return `${lines.join('\n')}\n`;
}
