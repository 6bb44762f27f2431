/**
 * TransferViews on a real catalog (the embedded store): what each zone's view holds after the
 * build, and how record and health changes reach it, its journal and `onZoneChange`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../../../test/lib/wait.js';
import { Catalog } from '../../catalog/catalog.js';
import { NOOP_LOGGER } from '../../common/logger.js';
import { formatIPv4, formatIPv6 } from '../../records/ip.js';
import type { EmbeddedStore } from '../../store/embedded/embedded.js';
import { openEmbeddedStore } from '../../store/embedded/embedded.js';
import { RRType, typeName } from '../wire/constants.js';
import { keyRdata, keyTtl, keyType } from './render.js';
import { TransferViews } from './views.js';

const STATUS = '/hades/monitor/status/';

/** A wire name → text (test only). */
function wireName(b: Buffer, off: number): string {
  let s = '';
  for (let p = off; b[p] !== 0; p += b[p] + 1) s += `${b.toString('latin1', p + 1, p + 1 + b[p])}.`;
  return s;
}

/** A record key as `TYPE TTL data`. */
function show(key: string): string {
  const t = keyType(key);
  const d = keyRdata(key);
  let data: string;
  if (t === RRType.A) data = formatIPv4(d);
  else if (t === RRType.AAAA) data = formatIPv6(d);
  else if (t === RRType.CNAME || t === RRType.NS || t === RRType.PTR) data = wireName(d, 0);
  else if (t === RRType.SRV)
    data = `${d.readUInt16BE(0)} ${d.readUInt16BE(2)} ${d.readUInt16BE(4)} ${wireName(d, 6)}`;
  else if (t === RRType.MX) data = `${d.readUInt16BE(0)} ${wireName(d, 2)}`;
  else data = d.toString('latin1', 1);
  return `${typeName(t)} ${keyTtl(key)} ${data}`;
}

describe('TransferViews', () => {
  let dir: string;
  let store: EmbeddedStore;
  let catalog: Catalog;
  let views: TransferViews;
  const changes: [string, number][] = [];

  const records = (name: string) => (views.view('hades.local.')?.names.get(name) ?? []).map(show);
  const put = (k: string, v: object) => store.put(k, JSON.stringify(v));

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hades-xfr-'));
    store = await openEmbeddedStore({ dir });
    await put('/hades/local/hades/web/a', { host: '10.0.0.1', ttl: 60 });
    await put('/hades/local/hades/web/b', { host: '10.0.0.2', ttl: 60, select: 'sticky' });
    await put('/hades/local/hades/web/c', { host: '10.0.0.3', ttl: 60 });
    await put('/hades/local/hades/alias', { host: 'web.hades.local', ttl: 60 });
    await put('/hades/local/hades/txt', { text: 'hello', ttl: 60 });
    await put('/hades/local/hades/v6', { host: 'fd00::1', ttl: 60 });
    await put('/hades/local/hades/*/x', { host: '10.0.0.9' });
    await put('/hades/local/hades/dns/ns/ns1', { host: '10.0.0.53' });
    await put('/hades/local/hades/sub/x', { host: '10.0.1.1' });
    await put('/hades/arpa/in-addr/10/0/0/1', { host: 'web.hades.local' });
    await put('/hades/other/y', { host: '10.0.0.7' });
    await put(`${STATUS}10.0.0.3`, { status: 'DOWN' });
    catalog = new Catalog({ store });
    await catalog.start();
    views = new TransferViews({
      source: catalog,
      zones: ['hades.local.', 'sub.hades.local.', '10.in-addr.arpa.'],
      defaultTtl: 3600,
      log: NOOP_LOGGER,
      onZoneChange: (zone, serial) => changes.push([zone, serial]),
    });
    await views.build();
  });
  after(async () => {
    views?.close();
    await catalog?.stop();
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('holds every name with records at or below it, in its most specific zone', () => {
    const names = [...(views.view('hades.local.')?.names.keys() ?? [])].sort();
    assert.deepEqual(names, [
      'a.web.hades.local.',
      'alias.hades.local.',
      'b.web.hades.local.',
      'c.web.hades.local.',
      'dns.hades.local.',
      'ns.dns.hades.local.',
      'ns1.ns.dns.hades.local.',
      'txt.hades.local.',
      'v6.hades.local.',
      'web.hades.local.',
    ]);
    assert.deepEqual([...(views.view('sub.hades.local.')?.names.keys() ?? [])].sort(), [
      'x.sub.hades.local.',
    ]);
    assert.deepEqual(views.view('10.in-addr.arpa.')?.names.get('1.0.0.10.in-addr.arpa.')?.map(show), [
      'PTR 3600 web.hades.local.',
    ]);
    assert.equal(views.view('other.'), undefined);
  });

  it('gives a name what -select all answers: DOWN left out (fail-open when all are), a record select ignored', () => {
    assert.deepEqual(records('web.hades.local.'), [
      'A 60 10.0.0.1',
      'A 60 10.0.0.2',
      'SRV 60 10 50 0 a.web.hades.local.',
      'SRV 60 10 50 0 b.web.hades.local.',
    ]);
    assert.deepEqual(
      records('alias.hades.local.'),
      ['CNAME 60 web.hades.local.'],
      'an alias: its CNAME alone',
    );
    assert.deepEqual(records('txt.hades.local.'), ['TXT 60 hello']);
    assert.deepEqual(records('c.web.hades.local.'), ['A 60 10.0.0.3', 'SRV 60 10 100 0 c.web.hades.local.']);
    assert.deepEqual(records('v6.hades.local.'), ['AAAA 60 fd00::1', 'SRV 60 10 100 0 v6.hades.local.']);
    assert.deepEqual(views.view('hades.local.')?.ns.map(show), ['NS 3600 ns1.ns.dns.hades.local.']);
  });

  it('follows a health change: the name and its ancestors, journaled, the zone told', async () => {
    const v = views.view('hades.local.')!;
    const from = v.serial;
    const told = changes.length;
    await put(`${STATUS}10.0.0.3`, { status: 'UP' });
    await waitFor('the view to change', () => v.serial > from);
    assert.ok(records('web.hades.local.').includes('A 60 10.0.0.3'));
    const [e] = v.journal.since(from) ?? [];
    assert.equal(e.from, from);
    assert.equal(e.to, catalog.serial);
    const added = [];
    for (let i = 0; i < e.added.length; i += 2) added.push(`${e.added[i]} ${show(e.added[i + 1])}`);
    // c.web alone had it DOWN and fail-open: unchanged
    assert.deepEqual(added.sort(), [
      'web.hades.local. A 60 10.0.0.3',
      'web.hades.local. SRV 60 10 33 0 a.web.hades.local.',
      'web.hades.local. SRV 60 10 33 0 b.web.hades.local.',
      'web.hades.local. SRV 60 10 33 0 c.web.hades.local.',
    ]);
    assert.equal(e.deleted.length / 2, 2, 'the two SRVs of weight 50');
    assert.deepEqual(changes.slice(told), [['hades.local.', e.to]]);
  });

  it('follows a delete down to a name that no longer exists, and the other zones stay untold', async () => {
    const v = views.view('hades.local.')!;
    const from = v.serial;
    const told = changes.length;
    await store.delete('/hades/local/hades/txt');
    await waitFor('the view to change', () => v.serial > from);
    assert.equal(v.names.has('txt.hades.local.'), false);
    assert.deepEqual(changes.slice(told), [['hades.local.', v.serial]]);
    assert.deepEqual(v.journal.since(v.serial), []);
  });

  it('a change outside every zone moves the serial but journals nothing', async () => {
    const v = views.view('hades.local.')!;
    const from = v.serial;
    const entries = v.journal.length;
    await put('/hades/other/z', { host: '10.0.0.8' });
    await waitFor('the catalog to apply it', () => catalog.serial > from);
    assert.equal(v.serial, from);
    assert.equal(v.journal.length, entries);
    assert.equal(views.serial, catalog.serial);
  });
});
