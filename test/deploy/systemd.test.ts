/**
 * deploy/systemd: each unit is well-formed, runs its program from dist/src/bin, references config
 * files that exist in deploy/systemd/etc-hades/, and those files build valid configs with the
 * programs' own parsers and builders.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseWithConfigFile } from '../../src/config/cli.js';
import { parseHadesArgs } from '../../src/config/hades.js';
import { buildKubeapiConfig, kubeapiFlagSpecs } from '../../src/config/kubeapi.js';
import { buildScannerConfig, scannerFlagSpecs } from '../../src/config/scanner.js';
import { buildScheduleConfig, scheduleFlagSpecs } from '../../src/config/schedule.js';
import { HADES_NODE_FLAGS } from '../../src/dns/memory.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DIR = join(ROOT, 'deploy', 'systemd');
const ETC = join(DIR, 'etc-hades');
const PROGRAMS = ['hades', 'hades-kubeapi', 'hades-scanner', 'hades-schedule'];
const SECTIONS = new Set(['Unit', 'Service', 'Install']);

type Unit = Map<string, Map<string, string[]>>;

/** A systemd unit file: `[Section]` headers, `Key=value` lines, `#`/`;` comments. */
function parseUnit(file: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  const lines = readFileSync(join(DIR, file), 'utf8').split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const where = `${file}:${i + 1}`;
    assert.ok(!raw.endsWith('\\'), `${where}: no continuation lines`);
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header) {
      assert.ok(SECTIONS.has(header[1]), `${where}: unexpected section [${header[1]}]`);
      assert.ok(!unit.has(header[1]), `${where}: [${header[1]}] twice`);
      section = new Map();
      unit.set(header[1], section);
      return;
    }
    const kv = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    assert.ok(kv, `${where}: not Key=value: ${JSON.stringify(line)}`);
    assert.ok(section, `${where}: a key before any section`);
    section.set(kv[1], [...(section.get(kv[1]) ?? []), kv[2]]);
  });
  return unit;
}

function one(unit: Unit, section: string, key: string): string {
  const v = unit.get(section)?.get(key);
  assert.ok(v && v.length > 0, `[${section}] ${key} missing`);
  return v[v.length - 1];
}

/** `/etc/hades/<f>` → deploy/systemd/etc-hades/<f>, which must exist. */
function local(path: string): string {
  assert.ok(path.startsWith('/etc/hades/'), `${path} is under /etc/hades`);
  const file = join(ETC, path.slice('/etc/hades/'.length));
  assert.ok(existsSync(file), `${path}: no example in deploy/systemd/etc-hades/`);
  return file;
}

/** KEY=value lines (comments and blanks skipped), as systemd's EnvironmentFile reads them. */
function readEnvFile(file: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const kv = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    assert.ok(kv, `${file}: not KEY=value: ${line}`);
    env[kv[1]] = kv[2];
  }
  return env;
}

describe('deploy/systemd', () => {
  it('has one unit per program and nothing else', () => {
    const units = readdirSync(DIR)
      .filter((f) => f.endsWith('.service'))
      .sort();
    assert.deepEqual(units, PROGRAMS.map((p) => `${p}.service`).sort());
  });

  for (const program of PROGRAMS)
    it(`${program}.service: well-formed, hardened, runs dist/src/bin/${program}.js`, () => {
      const unit = parseUnit(`${program}.service`);
      assert.deepEqual([...unit.keys()], ['Unit', 'Service', 'Install']);
      assert.ok(one(unit, 'Unit', 'Description').length > 0);
      assert.equal(one(unit, 'Install', 'WantedBy'), 'multi-user.target');
      assert.equal(one(unit, 'Service', 'User'), 'hades');
      assert.equal(one(unit, 'Service', 'Restart'), 'on-failure');
      assert.equal(one(unit, 'Service', 'NoNewPrivileges'), 'yes');
      assert.equal(one(unit, 'Service', 'ProtectSystem'), 'strict');
      const words = one(unit, 'Service', 'ExecStart').split(/\s+/);
      assert.match(words[0], /^\/usr\/bin\/node$/);
      // node's own flags, before the script: hades runs with those of its bin's shebang
      const nodeFlags = words.slice(
        1,
        words.findIndex((w, i) => i > 0 && !w.startsWith('-')),
      );
      assert.deepEqual(nodeFlags, program === 'hades' ? HADES_NODE_FLAGS : [], 'node flags');
      const exec = [words[0], ...words.slice(1 + nodeFlags.length)];
      const script = /^\/opt\/hades\/(dist\/src\/bin\/([a-z-]+)\.js)$/.exec(exec[1]);
      assert.ok(script, `ExecStart runs ${exec[1]}`);
      assert.equal(script[2], program);
      assert.ok(existsSync(join(ROOT, 'src', 'bin', `${program}.ts`)), `src/bin/${program}.ts`);
      const caps = unit.get('Service')?.get('AmbientCapabilities') ?? [];
      if (program === 'hades') assert.deepEqual(caps, ['CAP_NET_BIND_SERVICE']);
      else if (program === 'hades-scanner') assert.deepEqual(caps, ['CAP_NET_RAW']);
      else assert.deepEqual(caps, ['']);
      const bounding = one(unit, 'Service', 'CapabilityBoundingSet');
      assert.equal(bounding, caps[0], 'the bounding set holds exactly the ambient capability');

      if (program === 'hades') {
        assert.equal(exec.length, 2, 'hades takes its flags from the environment file');
        const env = readEnvFile(local(one(unit, 'Service', 'EnvironmentFile')));
        const { config } = parseHadesArgs([], env);
        assert.equal(config.listen.port, 53);
        assert.ok(config.machines.length > 0);
        assert.ok(config.metricsPort > 0);
        return;
      }
      assert.equal(exec[2], '-config-file');
      const file = local(exec[3]);
      const argv = ['-config-file', file, ...exec.slice(4)];
      if (program === 'hades-kubeapi') {
        const cfg = buildKubeapiConfig(
          parseWithConfigFile(kubeapiFlagSpecs(), argv, {}, 'config-file').values,
        );
        assert.equal(cfg.kube.enable, true);
        assert.equal(cfg.api.enable, true);
        assert.ok(cfg.machines.length > 0);
        assert.deepEqual([cfg.metricsPort, cfg.metricsHost], [9156, '127.0.0.1'], 'metrics on loopback');
      } else if (program === 'hades-scanner') {
        const cfg = buildScannerConfig(
          parseWithConfigFile(scannerFlagSpecs(), argv, {}, 'config-file').values,
          {},
        );
        assert.ok(cfg.machines.length > 0);
        assert.equal(cfg.enableIcmp, true);
        assert.deepEqual([cfg.metricsPort, cfg.metricsHost], [9154, '127.0.0.1'], 'metrics on loopback');
      } else {
        const cfg = buildScheduleConfig(
          parseWithConfigFile(scheduleFlagSpecs(), argv, {}, 'config-file').values,
          {},
        );
        assert.ok(cfg.machines.length > 0);
        assert.deepEqual([cfg.metricsPort, cfg.metricsHost], [9155, '127.0.0.1'], 'metrics on loopback');
      }
    });
});
