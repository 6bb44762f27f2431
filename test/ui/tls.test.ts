/**
 * The web UI over HTTPS (`hades standalone -api-tls-cert -api-tls-key`, certificates made by
 * openssl at test time) in headless Chromium. The test certificate is trusted by pinning its key
 * (`--ignore-certificate-errors-spki-list`, which accepts exactly that certificate), not by
 * ignoring certificate errors: a browser without the pin refuses the page, and the pinned one
 * logs in, lists a record and adds one through the form over https.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { waitFor } from '../dns/clients.js';
import { freeDnsPort, type HadesProc, spawnHades } from '../dns/hades-proc.js';
import { makeServerCert, type ServerCert } from '../harness/certs.js';
import { launchBrowser, spkiHash } from './browser.js';

const TOKEN = 'ui-tls-token-0123456789abcdef';

describe('web UI over HTTPS in headless Chromium', () => {
  let dir: string;
  let h: HadesProc;
  let apiPort: number;
  let cert: ServerCert;
  let browser: BrowserContext;
  let page: Page;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hades-ui-tls-'));
    await mkdir(path.join(dir, 'certs'));
    cert = await makeServerCert(path.join(dir, 'certs'), { ips: ['127.0.0.1'] });
    const dnsPort = await freeDnsPort();
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
        '-api-tls-cert',
        cert.certFile,
        '-api-tls-key',
        cert.keyFile,
      ],
      { cwd: dir, env: { HADES_NAMESERVERS: 'none' } },
    );
    await waitFor(
      'the standalone banner',
      () => h.stdout().includes('Ctrl-C stops it.') || h.child.exitCode !== null,
    );
    assert.equal(h.child.exitCode, null, h.stderr());
    ({ browser, page } = await launchBrowser(path.join(dir, 'pinned'), [
      `--ignore-certificate-errors-spki-list=${spkiHash(cert.cert)}`,
    ]));
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await h?.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('without the pin Chromium refuses the certificate (nothing is ignored wholesale)', async () => {
    const plain = await launchBrowser(path.join(dir, 'unpinned'));
    try {
      await assert.rejects(plain.page.goto(`https://127.0.0.1:${apiPort}/ui/`), /ERR_CERT_AUTHORITY_INVALID/);
    } finally {
      await plain.browser.close();
    }
  });

  it('loads the page over https, logs in, lists and adds a record', async () => {
    const res = await page.goto(`https://127.0.0.1:${apiPort}/ui/`);
    assert.equal(res?.status(), 200);
    assert.equal(new URL(page.url()).protocol, 'https:');
    await page.waitForSelector('#login-view', { state: 'visible' });
    await page.fill('#token', TOKEN);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#app-view', { state: 'visible' });
    await page.fill('#f-name', 'secure.hades.local');
    await page.selectOption('#f-type', 'A');
    await page.fill('#f-address', '10.0.9.1');
    await page.click('#f-submit');
    await page.click('#confirm[open] #confirm-ok');
    await page.locator('.name[data-name="secure.hades.local"] .addr[data-ip="10.0.9.1"]').waitFor();
  });
});
