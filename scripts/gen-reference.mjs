#!/usr/bin/env node
// Regenerates the flag tables of docs/reference.md from the programs' own flag specs (the built
// dist/src/config/*.js), between `<!-- generated:<program> -->` and `<!-- /generated:<program> -->`.
// `npm run docs` builds first and runs this; `node scripts/gen-reference.mjs --check` exits 1
// (writing nothing) when docs/reference.md is not what the specs would generate.
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

/** What parseCommandLine does: every program also takes -version. */
const withVersion = (specs) => (specs.some((s) => s.name === 'version') ? specs : [...specs, VERSION_FLAG]);

const esc = (text) => String(text).replace(/\|/g, '\\|').replace(/\n/g, ' ');
/** Prose cells: `<path>` would be read as HTML. */
const prose = (text) => esc(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const code = (text) => (text === '' ? '' : `\`${esc(text)}\``);
const flagNames = (s) => [s.name, ...(s.aliases ?? [])].map((n) => code(`-${n}`)).join(', ');
const typeOf = (s) =>
  s.type === 'bool' ? 'bool' : s.choices ? s.choices.filter((c) => c !== '').join(' \\| ') : s.type;
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

const file = join(root, 'docs/reference.md');
const before = readFileSync(file, 'utf8');
let after = before;
for (const [name, body] of Object.entries(sections)) {
  const open = `<!-- generated:${name} -->`;
  const close = `<!-- /generated:${name} -->`;
  const a = after.indexOf(open);
  const b = after.indexOf(close);
  if (a === -1 || b === -1 || b < a) {
    console.error(`gen-reference: docs/reference.md lacks the markers ${open} … ${close}`);
    process.exit(1);
  }
  after = `${after.slice(0, a + open.length)}\n\n${body}\n\n${after.slice(b)}`;
}
if (process.argv.includes('--check')) {
  if (after !== before) {
    console.error('gen-reference: docs/reference.md is out of date; run `npm run docs`');
    process.exit(1);
  }
} else if (after !== before) {
  writeFileSync(file, after);
  console.log('gen-reference: docs/reference.md updated');
} else console.log('gen-reference: docs/reference.md up to date');
