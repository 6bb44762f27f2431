/**
 * `-metrics-port` / `-metrics-addr` of hades-scanner, hades-schedule and hades-kubeapi, table
 * driven: the defaults, the flag, the INI file's [General] keys, HADES_METRICS_PORT, precedence,
 * bad values naming the flag; and no other flag or alias of the three programs takes the names.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { parseWithConfigFile } from './cli.js';
import { FlagError, type FlagSpec, type FlagValues } from './flags.js';
import { buildKubeapiConfig, kubeapiFlagSpecs } from './kubeapi.js';
import type { MetricsPortConfig } from './metrics.js';
import { buildScannerConfig, scannerFlagSpecs } from './scanner.js';
import { buildScheduleConfig, scheduleFlagSpecs } from './schedule.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'hades-metrics-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const programs: {
  name: string;
  specs: () => FlagSpec[];
  build: (v: FlagValues) => MetricsPortConfig;
  /** What the program needs besides: [General] keys, then other sections. */
  general?: string;
  ini: string;
}[] = [
  {
    name: 'hades-scanner',
    specs: scannerFlagSpecs,
    build: (v) => buildScannerConfig(v, {}),
    ini: '[Etcd]\netcd-machine = http://127.0.0.1:2379\n',
  },
  {
    name: 'hades-schedule',
    specs: scheduleFlagSpecs,
    build: (v) => buildScheduleConfig(v, {}),
    ini: '[Etcd]\netcd-machine = http://127.0.0.1:2379\n',
  },
  {
    name: 'hades-kubeapi',
    specs: kubeapiFlagSpecs,
    build: buildKubeapiConfig,
    general: 'etcd-server = http://127.0.0.1:2379\n',
    ini: '[HadesApi]\nhades-auth = secret\n',
  },
];

const cases: {
  name: string;
  general?: string;
  argv?: string[];
  env?: NodeJS.ProcessEnv;
  want: MetricsPortConfig | RegExp;
}[] = [
  { name: 'default: off, loopback', want: { metricsPort: 0, metricsHost: '127.0.0.1' } },
  {
    name: 'flags',
    argv: ['-metrics-port', '9155', '-metrics-addr', '0.0.0.0'],
    want: { metricsPort: 9155, metricsHost: '0.0.0.0' },
  },
  {
    name: 'INI [General]',
    general: 'metrics-port = 9156\nmetrics-addr = 10.0.0.5\n',
    want: { metricsPort: 9156, metricsHost: '10.0.0.5' },
  },
  {
    name: 'environment',
    env: { HADES_METRICS_PORT: '9157', HADES_METRICS_ADDR: '::1' },
    want: { metricsPort: 9157, metricsHost: '::1' },
  },
  {
    name: 'the command line wins over the environment and the file',
    general: 'metrics-port = 9156\n',
    env: { HADES_METRICS_PORT: '9157' },
    argv: ['-metrics-port=9158'],
    want: { metricsPort: 9158, metricsHost: '127.0.0.1' },
  },
  {
    name: 'empty address: loopback',
    argv: ['-metrics-addr', ' '],
    want: { metricsPort: 0, metricsHost: '127.0.0.1' },
  },
  { name: 'port too large', argv: ['-metrics-port', '65536'], want: /metrics-port/ },
  { name: 'negative port', general: 'metrics-port = -1\n', want: /metrics-port/ },
  { name: 'not a number', env: { HADES_METRICS_PORT: 'ninety' }, want: /metrics-port/ },
  { name: 'an address with a space', argv: ['-metrics-addr', '10.0.0.1 x'], want: /metrics-addr/ },
];

describe('-metrics-port and -metrics-addr', () => {
  for (const p of programs)
    for (const c of cases)
      it(`${p.name}: ${c.name}`, () => {
        const f = path.join(dir, `${p.name}.conf`);
        writeFileSync(f, `[General]\n${p.general ?? ''}${c.general ?? ''}${p.ini}`);
        const run = () =>
          p.build(
            parseWithConfigFile(p.specs(), ['-config-file', f, ...(c.argv ?? [])], c.env ?? {}, 'config-file')
              .values,
          );
        if (c.want instanceof RegExp) {
          const re = c.want;
          assert.throws(run, (e: unknown) => e instanceof FlagError && re.test(e.message));
          return;
        }
        const cfg = run();
        assert.deepEqual({ metricsPort: cfg.metricsPort, metricsHost: cfg.metricsHost }, c.want);
      });

  for (const p of programs)
    it(`${p.name}: the names are taken once, INI keys in [General]`, () => {
      const specs = p.specs();
      const names = specs.flatMap((s) => [s.name, ...(s.aliases ?? [])]);
      assert.deepEqual(
        names.filter((n, i) => names.indexOf(n) !== i),
        [],
        'a flag name or alias twice',
      );
      for (const n of ['metrics-port', 'metrics-addr']) {
        const s = specs.find((x) => x.name === n);
        assert.equal(s?.ini, `General.${n}`);
      }
    });
});
