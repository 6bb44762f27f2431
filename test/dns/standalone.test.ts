/**
 * `hades standalone` and `npm start` on a fresh directory: DNS answers `dig ... hades.local SOA`,
 * the REST API (with a generated token in hades-data/api-token), /health and /ready answer on the
 * API's address, the banner's "what to type next" commands (curl, hades-apicmd, dig) work as
 * printed, the token never reaches the logs, Ctrl-C (SIGINT) stops it cleanly. Ports come from flags / HADES_* variables so the
 * test never touches 5353 or 9001.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { dig, digStatus, parseDig, rrset, run, waitFor } from './clients.js';
import { freeDnsPort, type HadesProc, spawnHades, waitAnswering } from './hades-proc.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

async function get(port: number, p: string, method = 'GET'): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${p}`, { method });
  return { status: res.status, body: await res.text() };
}

describe('hades standalone', () => {
  let dir: string;
  let h: HadesProc;
  let dnsPort: number;
  let apiPort: number;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hades-standalone-'));
    dnsPort = await freeDnsPort();
    apiPort = await freeDnsPort();
    // a fresh working directory: no hades-data yet, defaults for everything but the ports
    h = spawnHades(['standalone', '-addr', `127.0.0.1:${dnsPort}`, '-api-addr', `127.0.0.1:${apiPort}`], {
      cwd: dir,
    });
    await waitFor('the banner', () => h.stdout().includes('Ctrl-C stops it.') || h.child.exitCode !== null);
    assert.equal(h.child.exitCode, null, h.stderr());
  });
  after(async () => {
    await h?.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('prints a dig line that answers the zone SOA', async () => {
    const line = /^\s*(dig -p \d+ @127\.0\.0\.1 hades\.local SOA)$/m.exec(h.stdout());
    assert.ok(line, h.stdout());
    const argv = line[1].split(' ');
    const r = await run(argv[0], [...argv.slice(1), '+time=2', '+tries=1']);
    assert.equal(digStatus(r.stdout), 'NOERROR', r.stdout);
    assert.equal(parseDig(r.stdout).answer[0].type, 'SOA');
    assert.ok(existsSync(path.join(dir, 'hades-data')), 'embedded store in ./hades-data');
  });

  it('serves /health, /ready and the REST API, with a generated 0600 token', async () => {
    assert.deepEqual(await get(apiPort, '/health'), { status: 200, body: 'OK' });
    assert.deepEqual(await get(apiPort, '/ready'), { status: 200, body: 'OK' });
    assert.equal((await get(apiPort, '/health', 'POST')).status, 405);
    assert.equal((await get(apiPort, '/hades')).status, 401, 'no token');
    assert.equal((await get(apiPort, '/v1/records')).status, 401, 'no token');
    const file = path.join(dir, 'hades-data', 'api-token');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const token = readFileSync(file, 'utf8').trim();
    assert.ok(token.length >= 32, token);
    const res = await fetch(`http://127.0.0.1:${apiPort}/v1/records`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.ok(Array.isArray(((await res.json()) as { records: unknown }).records));
    assert.ok(!h.stderr().includes(token), 'the token is not in the logs');
  });

  it("prints the web UI's URL, which serves the UI", async () => {
    const m = /^\s*web UI\s+(http:\/\/127\.0\.0\.1:(\d+)\/ui\/)$/m.exec(h.stdout());
    assert.ok(m, h.stdout());
    assert.equal(Number(m[2]), apiPort);
    const res = await fetch(m[1]);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
  });

  it('the printed way to add a record (export + curl) works, and the printed dig line then answers it', async () => {
    const out = h.stdout();
    const exp = /^\s*(export HADES_API_ADDR=127\.0\.0\.1:\d+ HADES_API_TOKEN=.*)$/m.exec(out);
    assert.ok(exp, out);
    const curl = /^\s*(curl .*\/v1\/records)$/m.exec(out);
    assert.ok(curl, out);
    const r = await run('sh', ['-c', `set -e\n${exp[1]}\n${curl[1]} -sS -f`]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const q = /^\s*(dig -p \d+ @127\.0\.0\.1 web\.hades\.local A)$/m.exec(out);
    assert.ok(q, out);
    const argv = q[1].split(' ');
    await waitFor('the new record', async () => {
      const d = await run(argv[0], [...argv.slice(1), '+time=2', '+tries=1']);
      return rrset(parseDig(d.stdout).answer).includes('A 10.0.0.1');
    });
  });

  it('the printed hades-apicmd lines work with the same variables, and their dig line answers', async () => {
    const out = h.stdout();
    const exp = /^\s*(export HADES_API_ADDR=.*)$/m.exec(out);
    const create = /^\s*(node \S+hades-apicmd\.js -method create .*)$/m.exec(out);
    const list = /^\s*(node \S+hades-apicmd\.js -list)$/m.exec(out);
    assert.ok(exp && create && list, out);
    const r = await run('sh', ['-c', `set -e\n${exp[1]}\n${create[1]}\n${list[1]}`]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /app\.user\.hades\.local .*10\.0\.0\.2/);
    assert.match(r.stdout, /web\.hades\.local .*10\.0\.0\.1/);
    const q = /^\s*(dig -p \d+ @127\.0\.0\.1 app\.user\.hades\.local A)$/m.exec(out);
    assert.ok(q, out);
    const argv = q[1].split(' ');
    await waitFor('the apicmd record', async () => {
      const d = await run(argv[0], [...argv.slice(1), '+time=2', '+tries=1']);
      return rrset(parseDig(d.stdout).answer).includes('A 10.0.0.2');
    });
    const token = readFileSync(path.join(dir, 'hades-data', 'api-token'), 'utf8').trim();
    assert.ok(!h.stderr().includes(token), 'the token is not in the logs');
  });

  it('stops cleanly on Ctrl-C (SIGINT), exit status 0', async () => {
    assert.equal(await h.stop('SIGINT'), 0, h.stderr());
    assert.match(h.stderr(), /hades: stopped/);
  });
});

describe('hades standalone -metrics-port', () => {
  it("the UI's DNS panel (/v1/dns-metrics) shows this process's own counters", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hades-standalone-m-'));
    const dnsPort = await freeDnsPort();
    const apiPort = await freeDnsPort();
    const metricsPort = await freeDnsPort();
    const h = spawnHades(
      [
        'standalone',
        '-addr',
        `127.0.0.1:${dnsPort}`,
        '-api-addr',
        `127.0.0.1:${apiPort}`,
        '-metrics-port',
        String(metricsPort),
        '-hades-auth',
        'metrics-test-token-0123456789abcdef',
      ],
      { cwd: dir },
    );
    try {
      await waitAnswering(h, dnsPort);
      for (let i = 0; i < 5; i++) await dig(dnsPort, ['hades.local', 'SOA']);
      const view = async () => {
        const res = await fetch(`http://127.0.0.1:${apiPort}/v1/dns-metrics`, {
          headers: { authorization: 'Bearer metrics-test-token-0123456789abcdef' },
        });
        assert.equal(res.status, 200);
        return (await res.json()) as {
          configured: boolean;
          servers: { server: string; up: boolean; requests: number }[];
        };
      };
      const v = await view();
      assert.equal(v.configured, true);
      assert.equal(v.servers.length, 1);
      assert.equal(v.servers[0].server, `127.0.0.1:${metricsPort}`);
      assert.equal(v.servers[0].up, true, JSON.stringify(v));
      assert.ok(v.servers[0].requests >= 5, JSON.stringify(v));
    } finally {
      await h.stop('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('hades standalone before the store is there', () => {
  it('/health is 200, /ready and the API 503 while the store is unreachable; SIGTERM still stops it with 0', async () => {
    const apiPort = await freeDnsPort();
    const deadEtcd = await freeDnsPort(); // nothing listens there
    const dnsPort = await freeDnsPort();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hades-standalone-auth-'));
    const token = 'given-token-0123456789';
    const h = spawnHades(
      [
        'standalone',
        '-addr',
        `127.0.0.1:${dnsPort}`,
        '-api-addr',
        `127.0.0.1:${apiPort}`,
        '-machines',
        `http://127.0.0.1:${deadEtcd}`,
      ],
      { cwd: dir, env: { HADES_HADES_AUTH: token } },
    );
    try {
      await waitFor('/health', async () => {
        try {
          return (await get(apiPort, '/health')).status === 200;
        } catch {
          return false;
        }
      });
      const ready = await get(apiPort, '/ready');
      assert.equal(ready.status, 503);
      assert.match(ready.body, /not ready/);
      const res = await fetch(`http://127.0.0.1:${apiPort}/v1/records`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(res.status, 503);
      assert.ok(!existsSync(path.join(dir, 'hades-data', 'api-token')), '-hades-auth given: no token file');
      const d = await dig(dnsPort, ['+time=1', 'hades.local', 'SOA']);
      assert.equal(digStatus(d.stdout), '', 'no DNS before the catalog is loaded');
      assert.equal(await h.stop('SIGTERM'), 0, h.stderr());
      assert.ok(!h.stderr().includes(token), 'the token is not in the logs');
    } finally {
      await h.stop('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('hades standalone -workers 2', () => {
  it('one API (worker 0) with the token the primary generated; its records reach DNS', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hades-standalone-workers-'));
    const dnsPort = await freeDnsPort();
    const apiPort = await freeDnsPort();
    const h = spawnHades(
      ['standalone', '-workers', '2', '-addr', `127.0.0.1:${dnsPort}`, '-api-addr', `127.0.0.1:${apiPort}`],
      { cwd: dir },
    );
    try {
      await waitFor('the banner', () => h.stdout().includes('Ctrl-C stops it.') || h.child.exitCode !== null);
      assert.equal(h.child.exitCode, null, h.stderr());
      const token = readFileSync(path.join(dir, 'hades-data', 'api-token'), 'utf8').trim();
      assert.match(h.stdout(), /HADES_API_TOKEN=\$\(cat \S+api-token\)/);
      await waitFor('/ready', async () => (await get(apiPort, '/ready')).status === 200);
      const res = await fetch(`http://127.0.0.1:${apiPort}/hades`, {
        method: 'POST',
        headers: { token, domain: 'multi.hades.local' },
        body: JSON.stringify({ type: 'A', ips: ['10.0.0.7'] }),
      });
      assert.equal(res.status, 200, await res.text());
      await waitFor('the record in DNS', async () => {
        const d = await dig(dnsPort, ['multi.hades.local', 'A']);
        return rrset(parseDig(d.stdout).answer).includes('A 10.0.0.7');
      });
      assert.equal(
        h
          .stderr()
          .split('\n')
          .filter((l) => l.includes('hades: REST API on')).length,
        1,
        'the API runs in one process',
      );
      assert.ok(!h.stderr().includes(token), 'the token is not in the logs');
      assert.equal(await h.stop('SIGTERM'), 0, h.stderr());
    } finally {
      await h.stop('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('npm start', () => {
  it('on a fresh data dir answers dig hades.local SOA, and Ctrl-C stops it', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hades-npm-start-'));
    const dnsPort = await freeDnsPort();
    const apiPort = await freeDnsPort();
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env))
      if (!k.startsWith('HADES_') && !k.startsWith('npm_')) env[k] = v;
    Object.assign(env, {
      HADES_ADDR: `127.0.0.1:${dnsPort}`,
      HADES_API_ADDR: `127.0.0.1:${apiPort}`,
      HADES_DATA_DIR: path.join(dir, 'hades-data'),
      HADES_NAMESERVERS: 'none', // never /etc/resolv.conf's resolvers
    });
    // its own process group, so SIGINT reaches npm, sh and node as Ctrl-C would
    const child = spawn('npm', ['start', '--silent'], {
      cwd: REPO,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (s) => {
      stdout += s;
    });
    child.stderr.on('data', (s) => {
      stderr += s;
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const proc: HadesProc = {
      child,
      pid: child.pid ?? 0,
      stdout: () => stdout,
      stderr: () => stderr,
      exited: exited.then(() => child.exitCode ?? 1),
      stop: async () => 0,
    };
    try {
      await waitAnswering(proc, dnsPort, 'hades.local');
      const r = await dig(dnsPort, ['hades.local', 'SOA']);
      assert.equal(digStatus(r.stdout), 'NOERROR');
      assert.match(stdout, new RegExp(`dig -p ${dnsPort} @127\\.0\\.0\\.1 hades\\.local SOA`));
      process.kill(-child.pid!, 'SIGINT');
      await exited;
      assert.match(stderr, /hades: stopped/);
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
      await rm(dir, { recursive: true, force: true });
    }
  });
});
