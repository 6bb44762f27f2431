/**
 * The web UI at /ui in headless Chromium (Debian `chromium`, driven by playwright-core): the
 * served files are the built ones in dist; the login page says where the token is; log in with
 * the token, add an A record through the form (confirming in the page's dialog), see it resolve
 * through `hades standalone` and shown as "assumed up (never probed)"; a scanner-style UP (with
 * `changed`) shows as UP, a DOWN turns the address red; names sorted within the zone; a bad
 * address shows the API's validation message; an address shows its probe, reason and drain state,
 * and the drain button (after the confirmation step) drains it in the store and out of hades's
 * answers, and undrains it (test/ui/panels.test.ts covers the panels and, with
 * HADES_UPDATE_SCREENSHOT=1, saves docs/ui-down.png). All traffic stays on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { healthKey } from '../../src/records/health.js';
import { openEmbeddedStore } from '../../src/store/embedded/embedded.js';
import { dig, digRecords, waitFor } from '../dns/clients.js';
import { freeDnsPort, type HadesProc, spawnHades } from '../dns/hades-proc.js';
import { launchBrowser } from './browser.js';

const TOKEN = 'ui-test-token-0123456789abcdef';
/** Where `npm run build` puts the UI (this file runs from dist/test/ui). */
const BUILT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/api/ui');
const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src/api/ui');

describe('web UI (/ui) in headless Chromium', () => {
  let dir: string;
  let h: HadesProc;
  let dnsPort: number;
  let apiPort: number;
  let browser: BrowserContext;
  let page: Page;
  const api = (p: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${apiPort}${p}`, {
      ...init,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    });
  /** A computed style property of the first element `sel` matches. */
  const style = (sel: string, prop: string) =>
    page.evaluate(`getComputedStyle(document.querySelector(${JSON.stringify(sel)})).${prop}`);
  /** Writes (or with no value deletes) an address's health key, as a scanner or a person would. */
  const setHealth = async (ip: string, value?: string) => {
    const store = await openEmbeddedStore({ dir: path.join(dir, 'data') });
    const key = healthKey('/hades/monitor/status/', ip);
    try {
      await (value === undefined ? store.delete(key) : store.put(key, value));
    } finally {
      await store.close();
    }
  };

  /** An address's health key as stored (parsed), or undefined. */
  const getHealth = async (ip: string) => {
    const store = await openEmbeddedStore({ dir: path.join(dir, 'data') });
    try {
      const kv = await store.get(healthKey('/hades/monitor/status/', ip));
      return kv ? (JSON.parse(kv.value) as { [k: string]: unknown }) : undefined;
    } finally {
      await store.close();
    }
  };

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hades-ui-'));
    dnsPort = await freeDnsPort();
    apiPort = await freeDnsPort();
    h = spawnHades(
      [
        'standalone',
        '-addr',
        `127.0.0.1:${dnsPort}`,
        '-api-addr',
        `127.0.0.1:${apiPort}`,
        '-data-dir',
        path.join(dir, 'data'),
        '-hades-auth',
        TOKEN,
      ],
      { cwd: dir, env: { HADES_NAMESERVERS: 'none' } },
    );
    await waitFor(
      'the standalone banner',
      () => h.stdout().includes('Ctrl-C stops it.') || h.child.exitCode !== null,
    );
    assert.equal(h.child.exitCode, null, h.stderr());
    ({ browser, page } = await launchBrowser(dir));
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await h?.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the built page, module, stylesheet and icon without a token; /v1 still needs one', async () => {
    for (const [p, file, type] of [
      ['/ui', 'index.html', 'text/html'],
      ['/ui/', 'index.html', 'text/html'],
      ['/ui/index.html', 'index.html', 'text/html'],
      ['/ui/app.js', 'app.js', 'text/javascript'],
      ['/ui/topology.js', 'topology.js', 'text/javascript'],
      ['/ui/app.css', 'app.css', 'text/css'],
      ['/ui/favicon.svg', 'favicon.svg', 'image/svg+xml'],
    ]) {
      const res = await fetch(`http://127.0.0.1:${apiPort}${p}`);
      assert.equal(res.status, 200, p);
      assert.ok(
        res.headers.get('content-type')?.startsWith(type),
        `${p}: ${res.headers.get('content-type')}`,
      );
      assert.equal(res.headers.get('cache-control'), 'no-store', p);
      assert.equal(
        await res.text(),
        await readFile(path.join(BUILT, file), 'utf8'),
        `${p} is dist's ${file}`,
      );
    }
    // the module is tsc's output, not the TypeScript source
    const js = await readFile(path.join(BUILT, 'app.js'), 'utf8');
    assert.notEqual(js, await readFile(path.join(SRC, 'app.ts'), 'utf8'));
    assert.doesNotMatch(js, /^interface /m);
    assert.equal((await fetch(`http://127.0.0.1:${apiPort}/v1/health`)).status, 401);
  });

  it('the login page links the icon, loads without a 404 and says where the token is', async () => {
    const failed: string[] = [];
    page.on('response', (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
    });
    await page.goto(`http://127.0.0.1:${apiPort}/ui`);
    await page.waitForSelector('#login-view', { state: 'visible' });
    assert.equal(await page.getAttribute('link[rel=icon]', 'href'), '/ui/favicon.svg');
    const icon = await page.evaluate(
      "fetch(document.querySelector('link[rel=icon]').href).then((r) => [r.status, r.headers.get('content-type')])",
    );
    assert.deepEqual(icon, [200, 'image/svg+xml']);
    const hint = (await page.textContent('#login-hint')) ?? '';
    assert.match(hint, /hades standalone.*<data-dir>\/api-token/s);
    assert.ok(hint.includes('HADES_API_TOKEN=$(cat ./hades-data/api-token)'), hint);
    assert.match(hint, /hades-kubeapi.*-hades-auth.*\[HadesApi\] hades-auth/s);
    assert.deepEqual(failed, []);
  });

  it('rejects a wrong token with the API message', async () => {
    await page.fill('#token', 'not-the-token');
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#login-error:text("token not accepted")');
    assert.equal(await page.isVisible('#app-view'), false);
  });

  it('logs in, adds an A record through the form, and hades answers it', async () => {
    await page.fill('#token', TOKEN);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#app-view', { state: 'visible' });
    assert.equal(await page.evaluate("sessionStorage.getItem('hades-token')"), TOKEN);

    await page.fill('#f-name', 'web.hades.local');
    await page.selectOption('#f-type', 'A');
    await page.fill('#f-address', '10.0.0.7');
    await page.fill('#f-ttl', '30');
    // the confirmation step: Cancel writes nothing, OK adds
    await page.click('#f-submit');
    await page.waitForSelector('#confirm[open]');
    assert.equal(await page.textContent('#confirm-text'), 'Add A 10.0.0.7 to web.hades.local?');
    await page.click('#confirm-cancel');
    await page.waitForSelector('#confirm', { state: 'hidden' });
    assert.equal((await api('/v1/records/web.hades.local')).status, 404);
    await page.click('#f-submit');
    await page.click('#confirm[open] #confirm-ok');
    const addr = page.locator('.name[data-name="web.hades.local"] .addr[data-ip="10.0.0.7"]');
    await addr.waitFor();
    // the API writes {"status":"UP"} for a new address: no scanner has said so yet
    assert.equal(await addr.getAttribute('data-health'), 'assumed');
    assert.equal(
      await page.textContent('.name[data-name="web.hades.local"] .health'),
      'assumed up (never probed)',
    );
    assert.equal(await style('.addr[data-ip="10.0.0.7"]', 'fontStyle'), 'italic');
    assert.equal(await style('.addr[data-ip="10.0.0.7"]', 'color'), 'rgb(75, 85, 99)');

    await waitFor('web.hades.local A through hades', async () => {
      const r = await dig(dnsPort, ['web.hades.local', 'A']);
      return digRecords(r.stdout).some((rr) => rr[3] === 'A' && rr[4] === '10.0.0.7');
    });
  });

  it('shows a scanner-confirmed UP (a status with `changed`) apart from an assumed one', async () => {
    const changed = new Date().toISOString();
    await setHealth('10.0.0.7', JSON.stringify({ status: 'UP', changed }));
    // the page polls /v1/health every 3 s
    await page.waitForSelector('.addr[data-ip="10.0.0.7"][data-health="up"]', { timeout: 20_000 });
    assert.equal(await page.textContent('.name[data-name="web.hades.local"] .health'), 'UP');
    // no probe and no ports: the scanner's own defaults
    assert.equal(await page.textContent('.probe[data-ip="10.0.0.7"]'), 'scanner default');
    assert.equal(await style('.addr[data-ip="10.0.0.7"]', 'color'), 'rgb(21, 128, 61)');
    assert.equal(await style('.addr[data-ip="10.0.0.7"]', 'fontStyle'), 'normal');
    assert.equal(await page.getAttribute('.changed[data-ip="10.0.0.7"]', 'data-changed'), changed);
  });

  it('turns the address red when the store marks it DOWN', async () => {
    await setHealth('10.0.0.7', '{"status":"DOWN","ports":["80","443"]}');
    const addr = page.locator('.addr[data-ip="10.0.0.7"]');
    await page.waitForSelector('.addr[data-ip="10.0.0.7"][data-health="down"]', { timeout: 20_000 });
    assert.match((await addr.getAttribute('class')) ?? '', /\bdown\b/);
    assert.equal(await style('.addr[data-ip="10.0.0.7"]', 'color'), 'rgb(220, 38, 38)');
    // written by hand without "changed": the last change shows as "—"
    assert.equal(await page.textContent('.changed[data-ip="10.0.0.7"]'), '—');
    assert.equal(await page.textContent('.probe[data-ip="10.0.0.7"]'), 'tcp ports 80,443');
  });

  it('shows an address without a health key as assumed up, too', async () => {
    await setHealth('10.0.0.7');
    await page.waitForSelector('.addr[data-ip="10.0.0.7"][data-health="assumed"]', { timeout: 20_000 });
    const badge = page.locator('.name[data-name="web.hades.local"] .health');
    assert.equal(await badge.textContent(), 'assumed up (never probed)');
    assert.match((await badge.getAttribute('title')) ?? '', /^no health key/);
    assert.equal(await page.textContent('.changed[data-ip="10.0.0.7"]'), '');
  });

  it("shows the address's probe and reason; the drain button drains it (after the confirmation), undrain serves it again", async () => {
    const changed = new Date().toISOString();
    const stored = {
      status: 'DOWN',
      probe: { httpGet: { path: '/healthz', port: 8080 } },
      reason: 'HTTP 503',
      changed,
    };
    await setHealth('10.0.0.7', JSON.stringify(stored));
    await page.waitForSelector('.probe[data-ip="10.0.0.7"]:text("httpGet HTTP :8080/healthz")', {
      timeout: 20_000,
    });
    assert.equal(await page.textContent('.reason[data-ip="10.0.0.7"]'), 'HTTP 503');
    assert.equal(await page.getAttribute('.changed[data-ip="10.0.0.7"]', 'data-changed'), changed);
    assert.equal(await page.getAttribute('.addr[data-ip="10.0.0.7"]', 'data-drained'), 'false');
    const drain = 'button.drain[data-ip="10.0.0.7"]';
    assert.equal(await page.textContent(drain), 'Drain');

    // Cancel writes nothing
    await page.click(drain);
    await page.waitForSelector('#confirm[open]');
    assert.match(
      (await page.textContent('#confirm-text')) ?? '',
      /^Drain 10\.0\.0\.7\? hades stops serving it/,
    );
    await page.click('#confirm-cancel');
    await page.waitForSelector('#confirm', { state: 'hidden' });
    assert.deepEqual(await getHealth('10.0.0.7'), stored);

    // OK drains: the store says admin=drain (the rest kept), the row shows it, hades stops answering
    await page.click(drain);
    await page.click('#confirm[open] #confirm-ok');
    await page.waitForSelector('.addr[data-ip="10.0.0.7"][data-drained="true"]');
    assert.deepEqual(await getHealth('10.0.0.7'), { ...stored, admin: 'drain' });
    assert.equal(await page.textContent('.name[data-name="web.hades.local"] .health.drained'), 'drained');
    assert.equal(await style('.addr[data-ip="10.0.0.7"]', 'textDecorationLine'), 'line-through');
    assert.equal(await page.textContent('.probe[data-ip="10.0.0.7"]'), 'httpGet HTTP :8080/healthz');
    assert.equal(await page.textContent('.reason[data-ip="10.0.0.7"]'), 'HTTP 503');
    // its only address drained (DOWN alone would fail open): no address at all
    await waitFor('web.hades.local without 10.0.0.7', async () => {
      const r = await dig(dnsPort, ['web.hades.local', 'A']);
      return r.stdout.includes('status: NOERROR') && digRecords(r.stdout).every((rr) => rr[3] !== 'A');
    });

    const undrain = 'button.undrain[data-ip="10.0.0.7"]';
    assert.equal(await page.textContent(undrain), 'Undrain');
    await page.click(undrain);
    await page.waitForSelector('#confirm[open]');
    assert.match((await page.textContent('#confirm-text')) ?? '', /^Undrain 10\.0\.0\.7\?/);
    await page.click('#confirm-ok');
    await page.waitForSelector('.addr[data-ip="10.0.0.7"][data-drained="false"]');
    assert.deepEqual(await getHealth('10.0.0.7'), stored);
    assert.equal(await page.locator('.name[data-name="web.hades.local"] .health.drained').count(), 0);
    await waitFor('web.hades.local → 10.0.0.7 again', async () => {
      const r = await dig(dnsPort, ['web.hades.local', 'A']);
      return digRecords(r.stdout).some((rr) => rr[3] === 'A' && rr[4] === '10.0.0.7');
    });
  });

  it('lists the names of a zone alphabetically', async () => {
    for (const name of ['zulu.hades.local', 'alpha.hades.local', 'mike.hades.local']) {
      const res = await api('/v1/records', {
        method: 'POST',
        body: JSON.stringify({ name, type: 'TXT', text: 'x' }),
      });
      assert.equal(res.status, 201, await res.text());
    }
    await page.click('#refresh');
    await page.locator('.name[data-name="mike.hades.local"]').waitFor();
    const names = await page.locator('.zone[data-zone="hades.local."] .name h3').allTextContents();
    assert.deepEqual(names, ['alpha.hades.local', 'mike.hades.local', 'web.hades.local', 'zulu.hades.local']);
  });

  it('shows the API validation message for a bad address', async () => {
    await page.fill('#f-name', 'bad.hades.local');
    await page.selectOption('#f-type', 'A');
    await page.fill('#f-address', '10.0.0.300');
    await page.click('#f-submit');
    await page.click('#confirm[open] #confirm-ok');
    await page.waitForSelector('#form-error:has-text("field: address")');
    const msg = (await page.textContent('#form-error')) ?? '';
    assert.match(msg, /10\.0\.0\.300/);
  });

  it('edits and deletes the record through the form, each after the confirmation step', async () => {
    await page.click('.name[data-name="web.hades.local"] button.edit');
    await page.fill('#f-address', '10.0.0.8');
    await page.click('#f-submit');
    await page.waitForSelector('#confirm[open]');
    assert.equal(
      await page.textContent('#confirm-text'),
      'Change A 10.0.0.7 of web.hades.local to 10.0.0.8?',
    );
    await page.click('#confirm-ok');
    await page.locator('.addr[data-ip="10.0.0.8"]').waitFor();
    assert.equal(await page.locator('.addr[data-ip="10.0.0.7"]').count(), 0);

    // Cancel keeps the record; OK deletes it
    await page.click('.name[data-name="web.hades.local"] button.delete');
    await page.waitForSelector('#confirm[open]');
    assert.equal(await page.textContent('#confirm-text'), 'Delete A 10.0.0.8 of web.hades.local?');
    await page.click('#confirm-cancel');
    await page.waitForSelector('#confirm', { state: 'hidden' });
    assert.equal((await api('/v1/records/web.hades.local')).status, 200);
    await page.click('.name[data-name="web.hades.local"] button.delete');
    await page.click('#confirm[open] #confirm-ok');
    await page.locator('.name[data-name="web.hades.local"]').waitFor({ state: 'detached' });
    assert.equal((await api('/v1/records/web.hades.local')).status, 404);
  });
});
