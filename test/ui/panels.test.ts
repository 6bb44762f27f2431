/**
 * The web UI's panels in headless Chromium, everything real: etcd, hades-kubeapi (with
 * -dns-metrics naming a real `hades` child's metrics port and a port nobody listens on), a real
 * hades-scanner and hades-schedule, and `hades` answering dig. The scanners table shows the
 * scanner with its assigned count and the active scheduler; an address whose port is closed goes
 * DOWN (the scanner's write) and shows its last change, and back UP (a confirmed UP, apart from the
 * API's never-probed UP); the metrics panel counts dig's queries
 * and shows the dead server as down; names are grouped by zone (a PTR record in the reverse
 * tree). `HADES_UPDATE_SCREENSHOT=1 npm test -- ui/panels` saves docs/ui-down.png (a plain test
 * run leaves the tree clean). All traffic stays on 127.0.0.1 (and 127.0.1.x, loopback).
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { RRType } from '../../src/dns/wire/constants.js';
import { openEtcdStore } from '../../src/store/etcd/etcd.js';
import type { Store } from '../../src/store/types.js';
import { type Kubeapi, startKubeapi } from '../api/helpers.js';
import { dig, digRecords } from '../dns/clients.js';
import { freeDnsPort, type HadesProc, startHades } from '../dns/hades-proc.js';
import { type FakeUpstream, startUpstream } from '../dns/upstream.js';
import { type EtcdProcess, freePort, startEtcd } from '../harness/etcd.js';
import { type Proc, spawnBin } from '../health/procs.js';
import { waitFor } from '../lib/wait.js';
import { launchBrowser } from './browser.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const TOKEN = 'ui-panels-token-0123456789abcdef';
const UP_IP = '127.0.1.21';
const DOWN_IP = '127.0.1.22';
const STATUS = '/hades/monitor/status/';

describe('web UI panels: scanners, scheduler, live DNS metrics, last change, zones', () => {
  let dir: string;
  let etcd: EtcdProcess;
  let store: Store;
  let hades: HadesProc;
  let kubeapi: Kubeapi;
  let scanner: Proc;
  let scheduler: Proc;
  let listener: net.Server;
  /** The port the scanner checks (-scann-ports): the UP address listens on it. */
  let port: number;
  let upstream: FakeUpstream;
  let dnsPort: number;
  let metricsPort: number;
  let deadPort: number;
  let base: string;
  let browser: BrowserContext;
  let page: Page;
  const diag = () =>
    `--- scanner ---\n${scanner?.output().slice(-3000)}\n--- scheduler ---\n${scheduler?.output().slice(-2000)}\n--- kubeapi ---\n${kubeapi?.stderr().slice(-2000)}`;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hades-ui-panels-'));
    etcd = await startEtcd();
    store = await openEtcdStore({ endpoints: [etcd.endpoint] });
    // the UP address has a listener; the DOWN one the same port closed
    listener = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => listener.listen(0, UP_IP, r));
    port = (listener.address() as net.AddressInfo).port;

    // a loopback upstream for a name outside the zone: its answers go through the response cache
    upstream = await startUpstream({
      answer: (q) => ({ answers: [{ name: q.name, type: RRType.A, ttl: 300, data: '192.0.2.80' }] }),
    });
    dnsPort = await freeDnsPort();
    metricsPort = await freePort();
    deadPort = await freePort();
    hades = await startHades(
      [
        '-addr',
        `127.0.0.1:${dnsPort}`,
        '-machines',
        etcd.endpoint,
        '-domain',
        'hades.local.,in-addr.arpa.',
        '-metrics-port',
        String(metricsPort),
        '-metrics-addr',
        '127.0.0.1',
        '-rcache',
        '100',
        '-nameservers',
        upstream.address,
      ],
      dnsPort,
    );
    const apiPort = await freePort();
    base = `http://127.0.0.1:${apiPort}`;
    kubeapi = await startKubeapi([
      '-config-file',
      '',
      '-etcd-server',
      etcd.endpoint,
      '-api-address',
      `127.0.0.1:${apiPort}`,
      '-hades-auth',
      TOKEN,
      '-api-rate',
      '0',
      '-dns-metrics',
      `127.0.0.1:${metricsPort},127.0.0.1:${deadPort}`,
    ]);
    scanner = spawnBin('hades-scanner', [
      '-config-file',
      '',
      '-etcd-machine',
      etcd.endpoint,
      '-hostname',
      'ui-scanner',
      '-heartbeat-interval',
      '1',
      '-check-interval',
      '1',
      '-check-timeout',
      '1',
      '-fall',
      '1',
      '-rise',
      '1',
      '-scann-ports',
      String(port),
      '-logtostderr',
    ]);
    scheduler = spawnBin('hades-schedule', [
      '-config-file',
      '',
      '-etcd-machine',
      etcd.endpoint,
      '-hostname',
      'ui-sched',
      '-schedule-interval',
      '1',
      '-agent-downtime',
      '1',
      '-lock-ttl',
      '2',
      '-logtostderr',
    ]);
    ({ browser, page } = await launchBrowser(dir));
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await scanner?.stop('SIGKILL');
    await scheduler?.stop('SIGKILL');
    await kubeapi?.stop();
    await hades?.stop('SIGKILL');
    await new Promise((r) => listener?.close(r));
    await upstream?.close();
    await store?.close();
    await etcd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const post = async (body: object) => {
    const res = await fetch(`${base}/v1/records`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 201, await res.text());
  };

  it('logs in; names grouped by zone, a PTR record in the reverse zone', async () => {
    await post({ name: 'web.hades.local', type: 'A', address: UP_IP, ttl: 5 });
    await post({ name: 'web.hades.local', type: 'A', address: DOWN_IP, ttl: 5 });
    // the reverse tree is not the API's to write: a PTR record put the way other writers do
    await store.put('/hades/arpa/in-addr/127/0/1/21', '{"host":"web.hades.local"}');
    await page.goto(`${base}/ui`);
    await page.fill('#token', TOKEN);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#app-view', { state: 'visible' });
    await page
      .locator(
        '.zone[data-zone="hades.local."] .name[data-name="web.hades.local"] .addr[data-ip="127.0.1.21"]',
      )
      .waitFor();
    const ptr = page.locator('.zone[data-zone="in-addr.arpa."] .name[data-name="21.1.0.127.in-addr.arpa"]');
    await ptr.waitFor();
    assert.match((await ptr.textContent()) ?? '', /PTR\s*web\.hades\.local/);
    // hades answers it too
    const r = await dig(dnsPort, ['-x', UP_IP]);
    assert.ok(
      digRecords(r.stdout).some((rr) => rr[3] === 'PTR' && rr[4] === 'web.hades.local.'),
      r.stdout,
    );
  });

  it('the scanners table shows the scanner with its assigned addresses; the active scheduler shows', async () => {
    // the scheduler gives both addresses (they have status keys) to the only scanner
    const row = page.locator('#scanners tr[data-scanner="ui-scanner"][data-assigned="2"]');
    await row.waitFor({ timeout: 30_000 }).catch((e) => {
      throw new Error(`${(e as Error).message}\n${diag()}`);
    });
    const cells = await row.locator('td').allTextContents();
    assert.equal(cells[0], 'ui-scanner');
    assert.match(cells[1], /^\d+\.\d s$/, 'heartbeat age in seconds');
    assert.equal(cells[2], '2');
    await page.waitForSelector('#scheduler[data-id^="ui-sched#"]');
    assert.equal(await page.textContent('#scheduler'), `ui-sched#${scheduler.pid}`);
  });

  it('an address the scanner finds DOWN turns red and shows its last change', async () => {
    await page
      .waitForSelector(`.addr[data-ip="${DOWN_IP}"][data-health="down"]`, { timeout: 30_000 })
      .catch((e) => {
        throw new Error(`${(e as Error).message}\n${diag()}`);
      });
    const stored = JSON.parse((await store.get(STATUS + DOWN_IP))?.value ?? '{}') as { changed?: string };
    assert.ok(stored.changed, 'the scanner wrote changed');
    const changed = page.locator(`.changed[data-ip="${DOWN_IP}"]`);
    await page.waitForSelector(`.changed[data-ip="${DOWN_IP}"][data-changed="${stored.changed}"]`);
    const shown = (await changed.textContent()) ?? '';
    // the stored time, as "YYYY-MM-DD HH:MM:SS UTC (… ago)"
    assert.ok(
      shown.startsWith(`${stored.changed.slice(0, 10)} ${stored.changed.slice(11, 19)} UTC (`),
      shown,
    );
    // the UP one never changed: its status is still the API's {"status":"UP"}, no time, so it
    // shows as assumed up, not as a scanner's UP
    assert.equal(await page.getAttribute(`.addr[data-ip="${UP_IP}"]`, 'data-health'), 'assumed');
    assert.equal(await page.textContent(`.changed[data-ip="${UP_IP}"]`), '—');
  });

  it('the metrics panel shows the queries dig sends to hades, and the dead server as down', async () => {
    await page.waitForSelector('#metrics-panel', { state: 'visible' });
    const live = page.locator(`#dns-metrics tr[data-server="127.0.0.1:${metricsPort}"]`);
    const dead = page.locator(`#dns-metrics tr[data-server="127.0.0.1:${deadPort}"]`);
    await dead.waitFor();
    assert.equal(await dead.getAttribute('data-up'), 'false');
    assert.match((await dead.locator('td.state').textContent()) ?? '', /^down: .*ECONNREFUSED/);
    // queries while the page polls: queries/s appears once two scrapes saw them
    let n = 0;
    await waitFor(
      'queries/s and a cache hit in the panel',
      async () => {
        for (let i = 0; i < 5; i++) await dig(dnsPort, ['+time=1', '+tries=1', 'web.hades.local', 'A']);
        await dig(dnsPort, ['+time=1', '+tries=1', 'nosuch.hades.local', 'A']);
        await dig(dnsPort, ['+time=1', '+tries=1', 'www.example.test', 'A']); // forwarded, then cached
        n += 7;
        const q = Number((await live.locator('td.qps').textContent()) ?? '');
        // the forwarded name's first query was a miss: a hit needs another round and a scrape after it
        const hits = Number.parseFloat((await live.locator('td.ratio').textContent()) ?? '');
        return Number(await live.getAttribute('data-requests')) >= 6 && q > 0 && hits > 0;
      },
      40_000,
      { everyMs: 200, diag },
    );
    assert.ok(n >= 6);
    assert.equal(await live.getAttribute('data-up'), 'true');
    const rcodes = (await live.locator('td.rcodes').textContent()) ?? '';
    assert.match(rcodes, /NOERROR \d+/);
    assert.match(rcodes, /NXDOMAIN \d+/);
    // the forwarded name: one miss, then hits from the response cache
    const ratio = Number.parseFloat((await live.locator('td.ratio').textContent()) ?? '');
    assert.ok(ratio > 0 && ratio < 100, `cache hit ratio ${ratio}`);
    assert.ok(upstream.seen.length >= 1);
    const total = page.locator('#dns-metrics tr.total');
    assert.match((await total.locator('td').nth(1).textContent()) ?? '', /^1 up, 1 down$/);
    assert.ok(Number(await total.getAttribute('data-requests')) >= 6);

    // the DOWN address is shown; the panels re-render on each poll, so only waitFor (which retries
    // a detached row) is safe here, and scrolling is for the screenshot alone
    const down = page.locator(`.addr[data-ip="${DOWN_IP}"][data-health="down"]`);
    await down.waitFor();
    if (process.env.HADES_UPDATE_SCREENSHOT === '1') {
      await down.scrollIntoViewIfNeeded();
      await mkdir(path.join(REPO, 'docs'), { recursive: true });
      await page.screenshot({ path: path.join(REPO, 'docs', 'ui-down.png'), fullPage: true });
    }
  });

  it('the DOWN address comes back: the scanner writes UP with `changed` and the page shows a confirmed UP', async () => {
    const back = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => back.listen(port, DOWN_IP, r));
    try {
      await page
        .waitForSelector(`.addr[data-ip="${DOWN_IP}"][data-health="up"]`, { timeout: 30_000 })
        .catch((e) => {
          throw new Error(`${(e as Error).message}\n${diag()}`);
        });
      const stored = JSON.parse((await store.get(STATUS + DOWN_IP))?.value ?? '{}') as {
        status?: string;
        changed?: string;
      };
      assert.equal(stored.status, 'UP');
      assert.ok(stored.changed);
      const badges = await page.locator('.name[data-name="web.hades.local"] .health').allTextContents();
      assert.deepEqual(badges.sort(), ['UP', 'assumed up (never probed)']);
      await page.waitForSelector(`.changed[data-ip="${DOWN_IP}"][data-changed="${stored.changed}"]`);
    } finally {
      await new Promise((r) => back.close(r));
    }
  });

  it('search filters names across the zones by any part of the name', async () => {
    const web = page.locator('.name[data-name="web.hades.local"]');
    const ptr = page.locator('.name[data-name="21.1.0.127.in-addr.arpa"]');
    await page.fill('#search', 'in-addr');
    await web.waitFor({ state: 'detached' });
    assert.equal(await ptr.count(), 1);
    await page.fill('#search', 'WEB');
    await ptr.waitFor({ state: 'detached' });
    assert.equal(await web.count(), 1);
    await page.fill('#search', 'web.hades.local'); // a whole name: listed by the API
    await ptr.waitFor({ state: 'detached' });
    assert.equal(await web.count(), 1);
    await page.fill('#search', '');
    await ptr.waitFor();
    await web.waitFor();
  });
});
