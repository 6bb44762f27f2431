/**
 * The web UI at /ui in headless Chromium (Debian `chromium`, driven by playwright-core): log in
 * with the token, add an A record through the form, see it resolve through `hades standalone`,
 * mark its address DOWN in the embedded store and see the address turn red; a bad address shows
 * the API's validation message (test/ui/panels.test.ts covers the panels and, with HADES_UPDATE_SCREENSHOT=1, saves docs/ui-down.png).
 * All traffic stays on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { healthKey } from '../../src/records/health.js';
import { openEmbeddedStore } from '../../src/store/embedded/embedded.js';
import { dig, digRecords, waitFor } from '../dns/clients.js';
import { freeDnsPort, type HadesProc, spawnHades } from '../dns/hades-proc.js';
import { launchBrowser } from './browser.js';

const TOKEN = 'ui-test-token-0123456789abcdef';

describe('web UI (/ui) in headless Chromium', () => {
  let dir: string;
  let h: HadesProc;
  let dnsPort: number;
  let apiPort: number;
  let browser: BrowserContext;
  let page: Page;

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

  it('serves the page, its module and stylesheet without a token; /v1 still needs one', async () => {
    for (const [p, type] of [
      ['/ui', 'text/html'],
      ['/ui/app.js', 'text/javascript'],
      ['/ui/app.css', 'text/css'],
    ]) {
      const res = await fetch(`http://127.0.0.1:${apiPort}${p}`);
      assert.equal(res.status, 200, p);
      assert.match(res.headers.get('content-type') ?? '', new RegExp(`^${type}`), p);
    }
    assert.equal((await fetch(`http://127.0.0.1:${apiPort}/v1/health`)).status, 401);
  });

  it('rejects a wrong token with the API message', async () => {
    await page.goto(`http://127.0.0.1:${apiPort}/ui`);
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
    await page.click('#f-submit');
    const addr = page.locator('.name[data-name="web.hades.local"] .addr[data-ip="10.0.0.7"]');
    await addr.waitFor();
    // the API writes {"status":"UP"} for a new address
    assert.equal(await addr.getAttribute('data-health'), 'up');

    await waitFor('web.hades.local A through hades', async () => {
      const r = await dig(dnsPort, ['web.hades.local', 'A']);
      return digRecords(r.stdout).some((rr) => rr[3] === 'A' && rr[4] === '10.0.0.7');
    });
  });

  it('turns the address red when the store marks it DOWN', async () => {
    const store = await openEmbeddedStore({ dir: path.join(dir, 'data') });
    try {
      await store.put(healthKey('/hades/monitor/status/', '10.0.0.7'), '{"status":"DOWN"}');
    } finally {
      await store.close();
    }
    const addr = page.locator('.addr[data-ip="10.0.0.7"]');
    // the page polls /v1/health every 3 s
    await page.waitForSelector('.addr[data-ip="10.0.0.7"][data-health="down"]', { timeout: 20_000 });
    assert.match((await addr.getAttribute('class')) ?? '', /\bdown\b/);
    const color = await page.evaluate(
      `getComputedStyle(document.querySelector('.addr[data-ip="10.0.0.7"]')).color`,
    );
    assert.equal(color, 'rgb(220, 38, 38)');
    // written by hand without "changed": the last change shows as "—"
    assert.equal(await page.textContent('.changed[data-ip="10.0.0.7"]'), '—');
  });

  it('shows the API validation message for a bad address', async () => {
    await page.fill('#f-name', 'bad.hades.local');
    await page.selectOption('#f-type', 'A');
    await page.fill('#f-address', '10.0.0.300');
    await page.click('#f-submit');
    await page.waitForSelector('#form-error:has-text("field: address")');
    const msg = (await page.textContent('#form-error')) ?? '';
    assert.match(msg, /10\.0\.0\.300/);
  });

  it('edits and deletes the record through the form', async () => {
    await page.click('.name[data-name="web.hades.local"] button.edit');
    await page.fill('#f-address', '10.0.0.8');
    await page.click('#f-submit');
    await page.locator('.addr[data-ip="10.0.0.8"]').waitFor();
    assert.equal(await page.locator('.addr[data-ip="10.0.0.7"]').count(), 0);
    page.once('dialog', (d) => void d.accept());
    await page.click('.name[data-name="web.hades.local"] button.delete');
    await page.locator('.name[data-name="web.hades.local"]').waitFor({ state: 'detached' });
  });
});
