/**
 * The web UI's Topology panel and the records' zone and priority, in headless Chromium against
 * `hades standalone -topology-path /ui-test/zones/` (so the flag reaches the API): zones listed
 * sorted with their networks; a zone added through the form after the confirmation step (Cancel
 * writes nothing) and stored canonical at `<topology-path><zone>`; a bad network refused with
 * the API's message naming `cidrs[1]` and nothing written; edit; delete (Cancel keeps it, OK
 * removes it); an A record added with a zone (offered from the topology) and a priority, shown in
 * its row and stored as record fields, then edited to the default tier. Traffic stays on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { openEmbeddedStore } from '../../src/store/embedded/embedded.js';
import { waitFor } from '../dns/clients.js';
import { freeDnsPort, type HadesProc, spawnHades } from '../dns/hades-proc.js';
import { launchBrowser } from './browser.js';

const TOKEN = 'ui-topology-token-0123456789abcdef';
const TOPO = '/ui-test/zones/';

describe('web UI: topology and the records zone and priority', () => {
  let dir: string;
  let h: HadesProc;
  let apiPort: number;
  let browser: BrowserContext;
  let page: Page;
  const api = (p: string, init: RequestInit = {}) =>
    fetch(`http://127.0.0.1:${apiPort}${p}`, {
      ...init,
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    });
  /** Every key under `prefix` and its value, as stored. */
  const stored = async (prefix: string): Promise<{ [key: string]: string }> => {
    const store = await openEmbeddedStore({ dir: path.join(dir, 'data') });
    try {
      return Object.fromEntries((await store.list(prefix)).kvs.map((kv) => [kv.key, kv.value]));
    } finally {
      await store.close();
    }
  };
  const zoneRows = () =>
    page.$$eval('#topology tbody tr[data-zone]', (rows) =>
      rows.map((r) => [...r.querySelectorAll('td')].slice(0, 2).map((c) => c.textContent)),
    );
  /** Answers the page's confirmation step: its text, after pressing OK or Cancel. */
  const confirm = async (ok: boolean): Promise<string> => {
    await page.waitForSelector('#confirm[open]');
    const text = (await page.textContent('#confirm-text')) ?? '';
    await page.click(ok ? '#confirm[open] #confirm-ok' : '#confirm-cancel');
    await page.waitForSelector('#confirm', { state: 'hidden' });
    return text;
  };

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hades-ui-topo-'));
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
        '-topology-path',
        TOPO,
      ],
      { cwd: dir, env: { HADES_NAMESERVERS: 'none' } },
    );
    await waitFor(
      'the standalone banner',
      () => h.stdout().includes('Ctrl-C stops it.') || h.child.exitCode !== null,
    );
    assert.equal(h.child.exitCode, null, h.stderr());
    const put = await api('/v1/topology/zone-b', { method: 'PUT', body: '{"cidrs":["10.2.0.0/16"]}' });
    assert.equal(put.status, 200, await put.text());
    ({ browser, page } = await launchBrowser(dir));
    await page.goto(`http://127.0.0.1:${apiPort}/ui`);
    await page.fill('#token', TOKEN);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#app-view', { state: 'visible' });
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await h?.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('lists the zones; adds one through the form after the confirmation, stored canonical', async () => {
    await page.waitForSelector('#topology tr[data-zone="zone-b"]');
    assert.deepEqual(await zoneRows(), [['zone-b', '10.2.0.0/16']]);
    await page.fill('#t-zone', 'zone-a');
    await page.fill('#t-cidrs', '10.1.2.3/16, FD00:1::/48');
    await page.click('#t-submit');
    assert.equal(await confirm(false), 'Add zone zone-a with 10.1.2.3/16, FD00:1::/48?');
    assert.deepEqual(await stored(TOPO), { [`${TOPO}zone-b`]: '{"cidrs":["10.2.0.0/16"]}' });
    await page.click('#t-submit');
    await confirm(true);
    await page.waitForSelector('#topology tr[data-zone="zone-a"]');
    assert.deepEqual(await zoneRows(), [
      ['zone-a', '10.1.0.0/16 fd00:1::/48'],
      ['zone-b', '10.2.0.0/16'],
    ]);
    assert.equal((await stored(TOPO))[`${TOPO}zone-a`], '{"cidrs":["10.1.0.0/16","fd00:1::/48"]}');
    assert.equal(await page.inputValue('#t-zone'), '');
  });

  it('a bad network shows the message naming cidrs[1]; nothing is written', async () => {
    const before = await stored(TOPO);
    await page.fill('#t-zone', 'zone-c');
    await page.fill('#t-cidrs', '10.3.0.0/16 10.3.0.0/40');
    await page.click('#t-submit');
    await confirm(true);
    await page.waitForSelector('#topology-form-error:has-text("cidrs[1]")');
    assert.match(
      (await page.textContent('#topology-form-error')) ?? '',
      /prefix length.*\(field: cidrs\[1\]\)$/,
    );
    assert.deepEqual(await stored(TOPO), before);
    await page.fill('#t-zone', '-bad');
    await page.fill('#t-cidrs', '10.3.0.0/16');
    await page.click('#t-submit');
    await confirm(true);
    await page.waitForSelector('#topology-form-error:has-text("(field: zone)")');
    assert.deepEqual(await stored(TOPO), before);
  });

  it('edits a zone (the name fixed) and deletes one: Cancel keeps it, OK removes it', async () => {
    await page.click('#topology tr[data-zone="zone-b"] button.edit');
    assert.equal(await page.isDisabled('#t-zone'), true);
    assert.equal(await page.inputValue('#t-cidrs'), '10.2.0.0/16');
    await page.fill('#t-cidrs', '10.2.0.0/16 10.20.0.0/16');
    await page.click('#t-submit');
    assert.equal(await confirm(true), 'Set zone zone-b with 10.2.0.0/16, 10.20.0.0/16?');
    await page.waitForSelector('#topology tr[data-zone="zone-b"] td.cidrs:text("10.2.0.0/16 10.20.0.0/16")');
    assert.equal((await stored(TOPO))[`${TOPO}zone-b`], '{"cidrs":["10.2.0.0/16","10.20.0.0/16"]}');
    assert.equal(await page.isDisabled('#t-zone'), false);

    await page.click('#topology tr[data-zone="zone-b"] button.delete');
    assert.match(await confirm(false), /^Delete zone zone-b\?/);
    assert.ok((await stored(TOPO))[`${TOPO}zone-b`]);
    await page.click('#topology tr[data-zone="zone-b"] button.delete');
    await confirm(true);
    await page.waitForSelector('#topology tr[data-zone="zone-b"]', { state: 'detached' });
    assert.deepEqual(Object.keys(await stored(TOPO)), [`${TOPO}zone-a`]);
  });

  it('adds an A record with a zone and a priority, shows them, and edits it back to the default tier', async () => {
    assert.deepEqual(await page.$$eval('#zone-list option', (os) => os.map((o) => o.getAttribute('value'))), [
      'zone-a',
    ]);
    await page.fill('#f-name', 'tier.hades.local');
    await page.selectOption('#f-type', 'A');
    assert.equal(await page.isVisible('#f-zone'), true);
    assert.equal(await page.isVisible('#f-priority'), true);
    await page.fill('#f-address', '10.1.0.9');
    await page.fill('#f-zone', 'zone-a');
    await page.fill('#f-priority', '20');
    await page.click('#f-submit');
    assert.equal(await confirm(true), 'Add A 10.1.0.9 (zone zone-a, priority 20) to tier.hades.local?');
    const row = '.name[data-name="tier.hades.local"]';
    await page.waitForSelector(`${row} td.zone-name:text("zone-a")`);
    assert.equal(await page.textContent(`${row} td.priority`), '20');
    assert.deepEqual(Object.values(await stored('/hades/local/hades/tier/')), [
      '{"host":"10.1.0.9","priority":20,"type":"A","source":"api","zone":"zone-a"}',
    ]);

    await page.click(`${row} button.edit`);
    assert.equal(await page.inputValue('#f-zone'), 'zone-a');
    assert.equal(await page.inputValue('#f-priority'), '20');
    await page.fill('#f-priority', '');
    await page.click('#f-submit');
    await confirm(true);
    await page.waitForSelector(`${row} td.priority.muted`);
    assert.equal(await page.textContent(`${row} td.priority`), '10');
    assert.deepEqual(Object.values(await stored('/hades/local/hades/tier/')), [
      '{"host":"10.1.0.9","type":"A","source":"api","zone":"zone-a"}',
    ]);

    // a zone the API refuses: its message and the field, nothing written
    await page.fill('#f-name', 'tier2.hades.local');
    await page.fill('#f-address', '10.1.0.10');
    await page.fill('#f-zone', 'zone a');
    await page.click('#f-submit');
    await confirm(true);
    await page.waitForSelector('#form-error:has-text("(field: zone)")');
    assert.deepEqual(await stored('/hades/local/hades/tier2/'), {});
  });
});
