/**
 * docs/reference.md covers every flag: each program's `-h` (hades standalone too) is run and
 * every flag name it prints must appear in the page as `-name`; every INI key of the programs'
 * specs must appear as `[Section] key`. A new flag fails here until `npm run docs` is run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { apicmdFlagSpecs } from '../../src/config/apicmd.js';
import type { FlagSpec } from '../../src/config/flags.js';
import { hadesFlagSpecs } from '../../src/config/hades.js';
import { kubeapiFlagSpecs } from '../../src/config/kubeapi.js';
import { scannerFlagSpecs } from '../../src/config/scanner.js';
import { scheduleFlagSpecs } from '../../src/config/schedule.js';

// dist/test/docs/ → the repository root.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = path.join(ROOT, 'dist/src/bin');
const reference = readFileSync(path.join(ROOT, 'docs/reference.md'), 'utf8');

const programs: { label: string; bin: string; args: string[] }[] = [
  { label: 'hades', bin: 'hades', args: ['-h'] },
  { label: 'hades standalone', bin: 'hades', args: ['standalone', '-h'] },
  { label: 'hades-kubeapi', bin: 'hades-kubeapi', args: ['-h'] },
  { label: 'hades-apicmd', bin: 'hades-apicmd', args: ['-h'] },
  { label: 'hades-scanner', bin: 'hades-scanner', args: ['-h'] },
  { label: 'hades-schedule', bin: 'hades-schedule', args: ['-h'] },
];

/** Flag names from usage lines: `  -read_timeout, -rtimeout duration`. */
export function flagsInUsage(text: string): string[] {
  const names: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^ {2}(-[\w.-]+(?:, -[\w.-]+)*)(?: |$)/.exec(line);
    if (m) for (const n of m[1].split(', ')) names.push(n);
  }
  return names;
}

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HADES_')) env[k] = v;
  return env;
}

describe('docs/reference.md documents every flag printed by -h', () => {
  for (const p of programs) {
    it(p.label, () => {
      const r = spawnSync(process.execPath, [path.join(BIN, `${p.bin}.js`), ...p.args], {
        env: cleanEnv(),
        encoding: 'utf8',
        timeout: 20_000,
      });
      assert.equal(r.status, 0, `${p.label} -h exited ${r.status}: ${r.stderr}`);
      const flags = flagsInUsage(r.stdout);
      assert.ok(flags.length >= 5, `too few flags parsed from ${p.label} -h:\n${r.stdout}`);
      const missing = flags.filter((f) => !reference.includes(`\`${f}\``));
      assert.deepEqual(missing, [], `${p.label}: flags missing from docs/reference.md (run npm run docs)`);
    });
  }
});

describe('docs/reference.md documents every INI key', () => {
  const specs: [string, FlagSpec[]][] = [
    ['hades', hadesFlagSpecs('server')],
    ['hades standalone', hadesFlagSpecs('standalone')],
    ['hades-kubeapi', kubeapiFlagSpecs()],
    ['hades-apicmd', apicmdFlagSpecs()],
    ['hades-scanner', scannerFlagSpecs()],
    ['hades-schedule', scheduleFlagSpecs()],
  ];
  for (const [label, list] of specs) {
    it(label, () => {
      const missing = list
        .filter((s) => s.ini !== undefined)
        .map((s) => {
          const dot = (s.ini as string).indexOf('.');
          return `[${(s.ini as string).slice(0, dot)}] ${(s.ini as string).slice(dot + 1)}`;
        })
        .filter((k) => !reference.includes(`\`${k}\``));
      assert.deepEqual(missing, [], `${label}: INI keys missing from docs/reference.md (run npm run docs)`);
    });
  }

  it('finds flags in usage text', () => {
    assert.deepEqual(
      flagsInUsage('Usage: x\n  -a string\n        help -b\n  -read_timeout, -rtimeout duration\n  -v\n'),
      ['-a', '-read_timeout', '-rtimeout', '-v'],
    );
  });
});
