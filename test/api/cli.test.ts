/** hades-kubeapi and hades-apicmd command lines: exit 2 naming the missing value, INI keys, -version. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseUpdates } from '../../src/api/client.js';
import { parseWithConfigFile } from '../../src/config/cli.js';
import { buildKubeapiConfig, kubeapiFlagSpecs } from '../../src/config/kubeapi.js';
import { freePort } from '../harness/etcd.js';
import { APICMD_BIN, JSON_HEADERS, KUBEAPI_BIN, req, startKubeapi, TOKEN } from './helpers.js';

function runBin(bin: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('HADES_')) clean[k] = v;
  return spawnSync(process.execPath, [bin, ...args], {
    env: { ...clean, ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
}

describe('hades-kubeapi command line', () => {
  const missing = '/nonexistent/hades-api.conf';
  const cases: [string[], RegExp][] = [
    [['-config-file', missing], /cannot read \/nonexistent\/hades-api.conf/],
    [['-config-file', ''], /-etcd-server \(\[General\] etcd-server\): a value is required/],
    [
      ['-config-file', '', '-etcd-server', 'http://127.0.0.1:1'],
      /-hades-auth \(\[HadesApi\] hades-auth\): a value is required/,
    ],
    [
      ['-config-file', '', '-etcd-server', 'x:y:z', '-hades-auth', 'abcdefgh'],
      /-etcd-server: "x:y:z" is not an etcd endpoint/,
    ],
    [
      ['-config-file', '', '-data-dir', '/tmp/x', '-hades-auth', 'abcdefgh', '-api-address', 'nope'],
      /-api-address/,
    ],
    [
      ['-config-file', '', '-data-dir', '/tmp/x', '-api-enable', 'NO', '-kube-enable', 'YES'],
      /-kube-master-url .*a value is required/,
    ],
    [['-config-file', '', '-data-dir', '/tmp/x', '-api-enable', 'NO'], /both NO/],
    [
      ['-config-file', '', '-data-dir', '/tmp/x', '-hades-auth', 'abcdefgh', '-api-enable', 'MAYBE'],
      /-api-enable/,
    ],
    [
      ['-config-file', '', '-data-dir', '/tmp/x', '-hades-auth', 'abcdefgh', '-tokens-file', missing],
      /-tokens-file: cannot read/,
    ],
  ];
  for (const [args, re] of cases)
    it(`${args.slice(2).join(' ') || args.join(' ')} → exit 2`, () => {
      // no kubeconfig and not in a pod, whatever the machine running the test has
      const r = runBin(KUBEAPI_BIN, args, {
        HOME: '/nonexistent',
        KUBECONFIG: '',
        KUBERNETES_SERVICE_HOST: '',
      });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    });

  it('-version', () => {
    const r = runBin(KUBEAPI_BIN, ['-version']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^hades-kubeapi \d/);
  });

  it('reads the seed INI layout; flags win over the file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hades-kubeapi-'));
    try {
      const file = path.join(dir, 'hades-api.conf');
      writeFileSync(
        file,
        '[General]\ndomain = example.org.\netcd-server = http://10.0.0.1:2379,http://10.0.0.2:2379\nip-monitor-path = /hades/monitor/status\nlog-dir = /var/log/hades\nlog-level = 100\n' +
          '[Kube2Hades]\nkube-enable = NO\nkube-master-url = http://10.0.0.9:8080\n' +
          '[HadesApi]\napi-enable = YES\napi-address = 0.0.0.0:9001\nhades-auth = abcdef123456789\n',
      );
      const p = parseWithConfigFile(
        kubeapiFlagSpecs(),
        ['-config-file', file, '-api-address', '127.0.0.1:9100'],
        {},
        'config-file',
      );
      const c = buildKubeapiConfig(p.values);
      assert.equal(c.domain, 'example.org.');
      assert.deepEqual(c.machines, ['http://10.0.0.1:2379', 'http://10.0.0.2:2379']);
      assert.equal(c.ipMonitorPath, '/hades/monitor/status/');
      assert.equal(c.api.hadesAuth, 'abcdef123456789');
      assert.deepEqual(c.api.address, { host: '127.0.0.1', port: 9100, family: 4 });
      assert.equal(c.kube.enable, false);
      assert.equal(c.kube.masterUrl, 'http://10.0.0.9:8080');
      assert.equal(c.log.logDir, '/var/log/hades');
      assert.equal(c.log.verbosity, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('hades-kubeapi panel flags: -heart-path, -report-path, -lock-path, -dns-metrics', () => {
  const base = ['-config-file', '', '-data-dir', '/tmp/x', '-hades-auth', 'abcdefgh'];
  const build = (argv: string[], env: NodeJS.ProcessEnv = {}, file?: string) =>
    buildKubeapiConfig(
      parseWithConfigFile(
        kubeapiFlagSpecs(),
        file ? [...argv, '-config-file', file] : argv,
        env,
        'config-file',
      ).values,
    );

  it("defaults: the scanner/schedule programs' paths, no DNS servers", () => {
    const c = build(base);
    assert.deepEqual(c.monitor, {
      heartPath: '/hades/monitor/heart/',
      reportPath: '/hades/monitor/report/',
      lockPath: '/hades/monitor/lock',
    });
    assert.deepEqual(c.api.dnsMetrics, []);
  });

  it('argv > env > INI > default', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hades-kubeapi-panels-'));
    try {
      const file = path.join(dir, 'hades-api.conf');
      writeFileSync(
        file,
        '[General]\ndata-dir = /tmp/x\nheart-path = /ini/heart\nreport-path = /ini/report/\nlock-path = /ini/lock/\n' +
          '[HadesApi]\nhades-auth = abcdefgh\ndns-metrics = 10.0.0.1:9153, [fd00::2]:9153 ,hades-0.hades:9153\n',
      );
      const ini = build([], {}, file);
      assert.deepEqual(ini.monitor, {
        heartPath: '/ini/heart/',
        reportPath: '/ini/report/',
        lockPath: '/ini/lock',
      });
      assert.deepEqual(ini.api.dnsMetrics, [
        { host: '10.0.0.1', port: 9153 },
        { host: 'fd00::2', port: 9153 },
        { host: 'hades-0.hades', port: 9153 },
      ]);
      const env = build([], { HADES_HEART_PATH: '/env/heart', HADES_DNS_METRICS: '127.0.0.1:1' }, file);
      assert.equal(env.monitor.heartPath, '/env/heart/');
      assert.equal(env.monitor.reportPath, '/ini/report/');
      assert.deepEqual(env.api.dnsMetrics, [{ host: '127.0.0.1', port: 1 }]);
      const argv = build(
        ['-heart-path', '/argv/heart', '-dns-metrics', '127.0.0.1:2,127.0.0.1:3'],
        { HADES_HEART_PATH: '/env/heart', HADES_DNS_METRICS: '127.0.0.1:1' },
        file,
      );
      assert.equal(argv.monitor.heartPath, '/argv/heart/');
      assert.deepEqual(argv.api.dnsMetrics, [
        { host: '127.0.0.1', port: 2 },
        { host: '127.0.0.1', port: 3 },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const bad: [string[], RegExp][] = [
    [['-dns-metrics', '127.0.0.1'], /-dns-metrics: "127.0.0.1" has no port/],
    [['-dns-metrics', '127.0.0.1:0'], /-dns-metrics: "127.0.0.1:0" has no port from 1 to 65535/],
    [['-dns-metrics', '127.0.0.1:99999'], /has no port from 1 to 65535/],
    [['-dns-metrics', '[::1:9153'], /has no closing \]/],
    [['-dns-metrics', 'http://x:1'], /-dns-metrics: "http:\/\/x:1"/],
    [['-dns-metrics', ':9153'], /has no host/],
    [['-heart-path', 'heart'], /-heart-path: "heart" is not a key prefix/],
    [['-lock-path', '/'], /-lock-path: "\/" is not a key prefix/],
  ];
  for (const [args, re] of bad)
    it(`${args.join(' ')} → exit 2 naming the flag`, () => {
      const r = runBin(KUBEAPI_BIN, [...base, ...args]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    });
});

describe('hades-kubeapi -topology-path ([General] topology-path)', () => {
  const base = ['-config-file', '', '-data-dir', '/tmp/x', '-hades-auth', 'abcdefgh'];
  const build = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
    buildKubeapiConfig(parseWithConfigFile(kubeapiFlagSpecs(), argv, env, 'config-file').values);

  it("default /hades/topology/ (hades's); one trailing slash; argv > env", () => {
    assert.equal(build(base).topologyPath, '/hades/topology/');
    assert.equal(build([...base, '-topology-path', '/t/zones']).topologyPath, '/t/zones/');
    assert.equal(build(base, { HADES_TOPOLOGY_PATH: '/env/zones//' }).topologyPath, '/env/zones/');
    assert.equal(
      build([...base, '-topology-path', '/argv/'], { HADES_TOPOLOGY_PATH: '/env/' }).topologyPath,
      '/argv/',
    );
  });

  const bad: [string[], RegExp][] = [
    [['-topology-path', 'zones'], /-topology-path: "zones" is not a key prefix/],
    [['-topology-path', '/'], /-topology-path: "\/" is not a key prefix/],
    [['-topology-path', '/a b/'], /-topology-path: "\/a b\/" is not a key prefix/],
    [['-topology-path', '/hades/monitor/'], /-topology-path: "\/hades\/monitor\/" overlaps -ip-monitor-path/],
  ];
  for (const [args, re] of bad)
    it(`${args.join(' ')} → exit 2 naming the flag`, () => {
      const r = runBin(KUBEAPI_BIN, [...base, ...args]);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    });
});

describe('hades-kubeapi on the embedded store (-data-dir, no etcd-server)', () => {
  it('writes and reads records, and keeps them across a restart', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hades-kubeapi-data-'));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const args = [
      '-config-file',
      '',
      '-data-dir',
      dir,
      '-api-address',
      `127.0.0.1:${port}`,
      '-hades-auth',
      TOKEN,
    ];
    try {
      let k = await startKubeapi(args);
      const r = await req(
        base,
        'POST',
        '/hades',
        { ...JSON_HEADERS, token: TOKEN, domain: 'cctv1' },
        '{"type":"A","ips":["192.168.10.1"]}',
      );
      assert.equal(r.status, 200, r.text);
      await k.stop();
      k = await startKubeapi(args);
      const g = await req(base, 'GET', '/hades', { token: TOKEN, domain: 'cctv1' });
      assert.deepEqual(JSON.parse(g.text), {
        'cctv1.user.hades.local': { type: 'A', ips: ['192.168.10.1'] },
      });
      assert.equal((await req(base, 'GET', '/ready', {})).status, 200);
      await k.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('hades-apicmd command line', () => {
  it('nothing to do / bad -updates / unreachable API: one line, exit ≠ 0', async () => {
    const port = await freePort();
    const none = runBin(APICMD_BIN, []);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /^hades-apicmd: nothing to do/);
    const bad = runBin(APICMD_BIN, ['-method', 'update', '-domain', 'x', '-updates', 'ips:1.2.3.4'], {
      HADES_API_TOKEN: TOKEN,
    });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^hades-apicmd: -updates: "1.2.3.4" is not old->new\n$/);
    const down = runBin(APICMD_BIN, ['-list'], {
      HADES_API_ADDR: `127.0.0.1:${port}`,
      HADES_API_TOKEN: TOKEN,
    });
    assert.equal(down.status, 1);
    assert.match(
      down.stderr,
      new RegExp(`^hades-apicmd: cannot reach http://127.0.0.1:${port}: ECONNREFUSED\n$`),
    );
  });

  it('-method frob: the real choices; no token: how to give one; a stray word: exit 2, one line', () => {
    const frob = runBin(APICMD_BIN, ['-method', 'frob', '-domain', 'x']);
    assert.equal(frob.status, 2);
    assert.equal(
      frob.stderr,
      'hades-apicmd: -method: "frob" is not one of create, delete, update, drain, undrain, topology, set-topology, delete-topology\n',
    );
    const noToken = runBin(APICMD_BIN, ['-list']);
    assert.equal(noToken.status, 2);
    assert.equal(noToken.stderr, 'hades-apicmd: no API token: give -token or set HADES_API_TOKEN\n');
    const stray = runBin(APICMD_BIN, ['-show', 'x', 'extra'], { HADES_API_TOKEN: TOKEN });
    assert.equal(stray.status, 2);
    assert.equal(stray.stderr, 'hades-apicmd: unexpected argument "extra"\n');
  });

  it('parseUpdates', () => {
    assert.deepEqual(parseUpdates('ips:1.1.1.1->2.2.2.2;3.3.3.3->4.4.4.4'), {
      kind: 'ips',
      update: { '1.1.1.1': '2.2.2.2', '3.3.3.3': '4.4.4.4' },
    });
    assert.deepEqual(parseUpdates('alias:tv1->tv2'), { kind: 'alias', update: { tv1: 'tv2' } });
    assert.throws(() => parseUpdates('hosts:a->b'), /want/);
  });
});
