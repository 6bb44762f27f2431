/**
 * -api-trusted-proxies end to end: the rate limiter (one request per client here) counts the
 * X-Forwarded-For client only when the peer (loopback) is a trusted proxy; with none trusted (the
 * default) a client cannot dodge the limit by sending a different X-Forwarded-For each time.
 * hades standalone takes the flag: its request log names the X-Forwarded-For client.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TrustedProxies } from '../../src/api/forwarded.js';
import { type EmbeddedStore, openEmbeddedStore } from '../../src/store/embedded/embedded.js';
import { waitFor } from '../dns/clients.js';
import { freeDnsPort, spawnHades } from '../dns/hades-proc.js';
import { startLocalApi, TOKEN } from './helpers.js';

const get = async (base: string, xff?: string): Promise<number> => {
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
  if (xff !== undefined) headers['x-forwarded-for'] = xff;
  const res = await fetch(`${base}/v1/zones`, { headers });
  await res.arrayBuffer();
  return res.status;
};

describe('rate limit per client: X-Forwarded-For only from trusted proxies', () => {
  let dir: string;
  let store: EmbeddedStore;
  const closers: (() => Promise<void>)[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hades-xff-'));
    store = await openEmbeddedStore({ dir: path.join(dir, 'data') });
  });
  after(async () => {
    for (const c of closers) await c();
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** An API allowing one request per client (the bucket refills in ~1000 s). */
  const api = async (trusted?: string[]): Promise<string> => {
    const p = trusted ? TrustedProxies.parse(trusted) : undefined;
    assert.ok(typeof p !== 'string');
    const { api, base } = await startLocalApi(store, { rate: 0.001, burst: 1, trustedProxies: p });
    closers.push(() => api.close());
    return base;
  };

  it('no trusted proxies (default): XFF ignored, every request is the peer 127.0.0.1', async () => {
    const base = await api();
    assert.equal(await get(base, '203.0.113.1'), 200);
    assert.equal(await get(base, '203.0.113.2'), 429);
    assert.equal(await get(base), 429);
  });

  it('a trusted list without the peer: XFF ignored', async () => {
    const base = await api(['10.0.0.0/8']);
    assert.equal(await get(base, '203.0.113.1'), 200);
    assert.equal(await get(base, '203.0.113.2'), 429);
  });

  it('the peer trusted: each XFF client has its own bucket, the right-most untrusted address counts', async () => {
    const base = await api(['127.0.0.0/8', '10.0.0.0/8']);
    const table: [string | undefined, number][] = [
      ['203.0.113.1', 200],
      ['203.0.113.2', 200],
      ['203.0.113.1', 429],
      // forged left parts do not make a new client: the right-most untrusted is 203.0.113.2
      ['198.51.100.9, 203.0.113.2', 429],
      ['198.51.100.9, 203.0.113.2, 10.1.1.1', 429],
      // a new client behind two trusted hops
      ['203.0.113.3, 10.1.1.1, 10.2.2.2', 200],
      ['203.0.113.3', 429],
      // no header: the peer itself
      [undefined, 200],
      [undefined, 429],
    ];
    for (const [xff, want] of table) assert.equal(await get(base, xff), want, `X-Forwarded-For: ${xff}`);
  });

  it('hades standalone -api-trusted-proxies: the flag reaches the handler (the logged client is the XFF one)', async () => {
    const dnsPort = await freeDnsPort();
    const port = await freeDnsPort();
    const h = spawnHades(
      [
        'standalone',
        '-addr',
        `127.0.0.1:${dnsPort}`,
        '-api-addr',
        `127.0.0.1:${port}`,
        '-data-dir',
        path.join(dir, 'sa'),
        '-hades-auth',
        TOKEN,
        '-logtostderr',
        '-api-trusted-proxies',
        '127.0.0.1',
      ],
      { cwd: dir, env: { HADES_NAMESERVERS: 'none' } },
    );
    closers.push(async () => {
      await h.stop('SIGKILL');
    });
    await waitFor(
      'the standalone banner',
      () => h.stdout().includes('Ctrl-C stops it.') || h.child.exitCode !== null,
    );
    assert.equal(h.child.exitCode, null, h.stderr());
    // a refused request is logged with its client (and the peer, when the client is another)
    const res = await fetch(`http://127.0.0.1:${port}/v1/zones`, {
      headers: { 'x-forwarded-for': '198.51.100.1, 203.0.113.50' },
    });
    assert.equal(res.status, 401);
    await waitFor('the request line', () => h.stderr().includes('api: request'));
    const line =
      h
        .stderr()
        .split('\n')
        .find((l) => l.includes('api: request')) ?? '';
    assert.match(line, /"client":"203\.0\.113\.50"/, line);
    assert.match(line, /"peer":"127\.0\.0\.1"/, line);
  });
});
