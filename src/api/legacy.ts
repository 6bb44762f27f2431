/**
 * The seed's API, `/hades` (Hades 1.0.1): the name in the `domain` header, the change in a JSON
 * body; success answers `OK`. Short names live under `user.<domain>`.
 *
 *   POST   {"type":"A","ips":["192.168.10.1",...]}     add addresses (AAAA: IPv6); optional "zone"
 *                                                      and "priority" (record fields) on each
 *   POST   {"type":"cname","alias":"tv1"}              tv1.user.<domain> CNAME → the domain
 *   PUT    {"type":"A","update":{"old":"new",...}}     replace addresses (each keeps the old one's
 *                                                      zone and priority)
 *   PUT    {"type":"cname","update":{"tv1":"tv2"}}     rename an alias
 *   DELETE (no body)                                   every API record of the name
 *   DELETE {"type":"A","ips":[...]} / {"type":"cname","alias":"tv1"}
 *   GET    with `domain`: that name (`<svc>.<ns>` finds svc.<domain>); without: every name
 */
import { parseIP } from '../records/ip.js';
import { isInZone } from '../records/names.js';
import { parseRecordValue, RecordError } from '../records/record.js';
import type { RecordValue } from '../records/types.js';
import { ApiError, badRequest, conflict, notFound } from './errors.js';
import { checkIP, checkObject, checkWritable, userName, type Zone } from './names.js';
import { API_SOURCE, type NameRecord, type RecordService } from './service.js';

/** At most this many addresses per request (each may need a status key too: 128 txn ops). */
export const MAX_IPS = 50;

/** What GET returns per name. */
export interface LegacyEntry {
  type: string;
  ips?: string[];
  host?: string;
  text?: string;
  port?: number;
}

type LegacyType = 'A' | 'AAAA' | 'CNAME';

function typeOf(obj: { [k: string]: unknown }): LegacyType {
  const t = obj.type;
  if (t === undefined) throw badRequest('field "type" is missing (A, AAAA or cname)', 'type');
  if (typeof t !== 'string') throw badRequest('field "type" must be a string', 'type');
  const u = t.toUpperCase();
  if (u === 'A' || u === 'AAAA' || u === 'CNAME') return u;
  throw badRequest(`field "type": unknown type "${t}" (A, AAAA or cname)`, 'type');
}

function ipsOf(obj: { [k: string]: unknown }, type: LegacyType): string[] {
  const ips = obj.ips;
  if (!Array.isArray(ips) || ips.length === 0)
    throw badRequest('field "ips" must be a non-empty array of IP addresses', 'ips');
  if (ips.length > MAX_IPS)
    throw badRequest(`field "ips" has ${ips.length} addresses, at most ${MAX_IPS}`, 'ips');
  const out = ips.map((ip, i) => checkIP(ip, `ips[${i}]`, type === 'AAAA' ? 6 : 4));
  const dup = out.find((ip, i) => out.indexOf(ip) !== i);
  if (dup) throw badRequest(`field "ips" lists ${dup} twice`, 'ips');
  return out;
}

function addrValue(ip: string, type: LegacyType, extra: RecordValue = {}): RecordValue {
  return { host: ip, ...extra, type: type === 'AAAA' ? 'AAAA' : 'A', source: API_SOURCE };
}

/** POST's optional `zone` and `priority` (this release's), checked as record fields are stored. */
function addrExtra(obj: { [k: string]: unknown }): RecordValue {
  const given: { [k: string]: unknown } = {};
  if (obj.priority !== undefined) given.priority = obj.priority;
  if (obj.zone !== undefined) given.zone = obj.zone;
  try {
    return parseRecordValue(JSON.stringify(given), 'strict');
  } catch (e) {
    if (e instanceof RecordError) throw badRequest(e.message, e.field);
    throw e;
  }
}

function cnameValue(target: string): RecordValue {
  return { host: target.slice(0, -1), type: 'cname', source: API_SOURCE };
}

/** The zone and failover tier of an address's record, which a replacement address keeps. */
function placement(r: RecordValue): RecordValue {
  const out: RecordValue = {};
  if (r.priority !== undefined) out.priority = r.priority;
  if (r.zone !== undefined) out.zone = r.zone;
  return out;
}

const isAddr = (r: NameRecord): boolean => r.record.hostKind === 'ipv4' || r.record.hostKind === 'ipv6';
const isCname = (r: NameRecord): boolean =>
  r.record.hostKind === 'name' && r.record.port === undefined && r.record.mail !== true;
const isApi = (r: NameRecord): boolean => r.record.source === API_SOURCE;
const show = (n: string): string => n.slice(0, -1);

/** Refuses to change a name someone else's records live at. */
function ownedCheck(name: string, recs: NameRecord[]): void {
  const other = recs.find((r) => !isApi(r));
  if (other)
    throw conflict(
      `domain ${show(name)} has records written by ${other.record.source ?? 'another writer'}; the API changes only its own`,
    );
}

export class LegacyApi {
  constructor(
    private readonly svc: RecordService,
    private readonly zone: Zone,
  ) {}

  private domainHeader(headers: { [k: string]: unknown }, required: boolean): string | undefined {
    const d = headers.domain;
    if (typeof d !== 'string' || d.trim() === '') {
      if (required) throw badRequest('header "domain" is missing (the name to change)', 'domain');
      return undefined;
    }
    return userName(this.zone, d, 'domain');
  }

  async get(headers: { [k: string]: unknown }): Promise<{ [name: string]: LegacyEntry }> {
    const d = headers.domain;
    if (typeof d === 'string' && d.trim() !== '') {
      const name = userName(this.zone, d, 'domain');
      let recs = await this.svc.recordsOf(name);
      let at = name;
      if (recs.length === 0 && !d.trim().replace(/\.$/, '').endsWith(this.zone.domain.slice(0, -1))) {
        // `<svc>.<ns>` → <svc>.<ns>.svc.<domain>
        at = `${name.slice(0, -this.zone.user.length)}${this.zone.svc}`;
        recs = await this.svc.recordsOf(at);
      }
      const entry = entryOf(recs);
      if (!entry) throw notFound(`domain ${show(name)} not found`);
      return { [show(at)]: entry };
    }
    const grouped = await this.svc.listGrouped();
    const out: { [name: string]: LegacyEntry } = {};
    for (const [name, recs] of grouped) {
      if (!isInZone(name, this.zone.domain)) continue;
      const e = entryOf(recs);
      if (e) out[show(name)] = e;
    }
    return out;
  }

  async post(headers: { [k: string]: unknown }, body: unknown): Promise<void> {
    const name = this.domainHeader(headers, true)!;
    const obj = checkObject(body, ['type', 'ips', 'alias', 'zone', 'priority']);
    const type = typeOf(obj);
    if (type === 'CNAME') {
      if (obj.ips !== undefined) throw badRequest('field "ips" does not go with type cname', 'ips');
      for (const f of ['zone', 'priority'])
        if (obj[f] !== undefined) throw badRequest(`field "${f}" is for A and AAAA addresses only`, f);
      const alias = userName(this.zone, obj.alias, 'alias');
      checkWritable(this.zone, alias, 'alias');
      if (alias === name) throw badRequest(`alias ${show(alias)} is the domain itself`, 'alias');
      await this.svc.mutate([name, alias], (cur) => {
        const target = cur.get(name)!;
        if (target.length === 0)
          throw notFound(`domain ${show(name)} not found: an alias needs an existing target`);
        if (cur.get(alias)!.length > 0) throw conflict(`alias ${show(alias)} already exists`);
        return { puts: [{ name: alias, value: cnameValue(name) }], deletes: [], result: undefined };
      });
      return;
    }
    if (obj.alias !== undefined) throw badRequest(`field "alias" does not go with type ${type}`, 'alias');
    checkWritable(this.zone, name, 'domain');
    const ips = ipsOf(obj, type);
    const extra = addrExtra(obj);
    await this.svc.mutate([name], (cur) => {
      const recs = cur.get(name)!;
      ownedCheck(name, recs);
      if (recs.some(isCname)) throw conflict(`domain ${show(name)} is an alias (CNAME); delete it first`);
      const have = new Set(recs.filter(isAddr).map((r) => r.record.target));
      const dup = ips.find((ip) => have.has(ip));
      if (dup) throw conflict(`domain ${show(name)} already has ${dup}`);
      return {
        puts: ips.map((ip) => ({ name, value: addrValue(ip, type, extra) })),
        deletes: [],
        result: undefined,
      };
    });
  }

  async put(headers: { [k: string]: unknown }, body: unknown): Promise<void> {
    const name = this.domainHeader(headers, true)!;
    const obj = checkObject(body, ['type', 'update']);
    const type = typeOf(obj);
    const upd = obj.update;
    if (upd === null || typeof upd !== 'object' || Array.isArray(upd) || Object.keys(upd).length === 0)
      throw badRequest('field "update" must be a non-empty object {"old":"new"}', 'update');
    const pairs = Object.entries(upd as { [k: string]: unknown });
    if (pairs.length > MAX_IPS) throw badRequest(`field "update" has more than ${MAX_IPS} entries`, 'update');
    if (type === 'CNAME') {
      if (pairs.length !== 1) throw badRequest('field "update" renames one alias: {"old":"new"}', 'update');
      const oldAlias = userName(this.zone, pairs[0][0], 'update');
      const newAlias = userName(this.zone, pairs[0][1], `update.${pairs[0][0]}`);
      checkWritable(this.zone, oldAlias, 'update');
      checkWritable(this.zone, newAlias, `update.${pairs[0][0]}`);
      await this.svc.mutate([name, oldAlias, newAlias], (cur) => {
        const old = cur.get(oldAlias)!.filter((r) => isCname(r) && isApi(r) && r.record.target === name);
        if (old.length === 0) throw notFound(`alias ${show(oldAlias)} of ${show(name)} not found`);
        if (newAlias !== oldAlias && cur.get(newAlias)!.length > 0)
          throw conflict(`alias ${show(newAlias)} already exists`);
        return {
          puts: [{ name: newAlias, value: cnameValue(name) }],
          deletes: old.map((r) => r.kv.key),
          result: undefined,
        };
      });
      return;
    }
    checkWritable(this.zone, name, 'domain');
    const changes = pairs.map(([o, n]) => ({
      from: checkIP(o, `update key "${o}"`, type === 'AAAA' ? 6 : 4),
      to: checkIP(n, `update.${o}`, type === 'AAAA' ? 6 : 4),
    }));
    await this.svc.mutate([name], (cur) => {
      const recs = cur.get(name)!;
      if (recs.length === 0) throw notFound(`domain ${show(name)} not found`);
      ownedCheck(name, recs);
      const deletes: string[] = [];
      const kept = new Map<string, RecordValue>();
      const have = new Set(recs.filter(isAddr).map((r) => r.record.target));
      for (const c of changes) {
        const r = recs.filter((x) => isAddr(x) && x.record.target === c.from);
        if (r.length === 0) throw notFound(`domain ${show(name)} has no address ${c.from}`);
        deletes.push(...r.map((x) => x.kv.key));
        kept.set(c.to, placement(r[0].record));
      }
      const removed = new Set(changes.map((c) => c.from));
      for (const c of changes)
        if (have.has(c.to) && !removed.has(c.to)) throw conflict(`domain ${show(name)} already has ${c.to}`);
      return {
        puts: changes.map((c) => ({ name, value: addrValue(c.to, type, kept.get(c.to)) })),
        deletes,
        result: undefined,
      };
    });
  }

  async delete(headers: { [k: string]: unknown }, body: unknown): Promise<void> {
    const name = this.domainHeader(headers, true)!;
    const obj = body === undefined ? {} : checkObject(body, ['type', 'ips', 'alias']);
    if (Object.keys(obj).length === 0) {
      checkWritable(this.zone, name, 'domain');
      await this.svc.mutate([name], (cur) => {
        const recs = cur.get(name)!;
        if (recs.length === 0) throw notFound(`domain ${show(name)} not found`);
        ownedCheck(name, recs);
        return { puts: [], deletes: recs.map((r) => r.kv.key), result: undefined };
      });
      return;
    }
    const type = typeOf(obj);
    if (type === 'CNAME') {
      const alias = userName(this.zone, obj.alias, 'alias');
      checkWritable(this.zone, alias, 'alias');
      await this.svc.mutate([alias], (cur) => {
        const recs = cur.get(alias)!.filter((r) => isCname(r) && isApi(r) && r.record.target === name);
        if (recs.length === 0) throw notFound(`alias ${show(alias)} of ${show(name)} not found`);
        return { puts: [], deletes: recs.map((r) => r.kv.key), result: undefined };
      });
      return;
    }
    checkWritable(this.zone, name, 'domain');
    const ips = ipsOf(obj, type);
    await this.svc.mutate([name], (cur) => {
      const recs = cur.get(name)!;
      if (recs.length === 0) throw notFound(`domain ${show(name)} not found`);
      ownedCheck(name, recs);
      const deletes: string[] = [];
      for (const ip of ips) {
        const r = recs.filter((x) => isAddr(x) && x.record.target === ip);
        if (r.length === 0) throw notFound(`domain ${show(name)} has no address ${ip}`);
        deletes.push(...r.map((x) => x.kv.key));
      }
      return { puts: [], deletes, result: undefined };
    });
  }
}

/** Addresses in numeric order (IPv4 before IPv6). */
function compareIP(a: string, b: string): number {
  const x = parseIP(a)?.bytes ?? new Uint8Array();
  const y = parseIP(b)?.bytes ?? new Uint8Array();
  if (x.length !== y.length) return x.length - y.length;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}

/** The GET view of a name's records. */
export function entryOf(recs: NameRecord[]): LegacyEntry | undefined {
  if (recs.length === 0) return undefined;
  const addrs = recs.filter(isAddr);
  if (addrs.length > 0) {
    const ips = addrs.map((r) => r.record.target).sort(compareIP);
    return { type: addrs.some((r) => r.record.hostKind === 'ipv4') ? 'A' : 'AAAA', ips };
  }
  const c = recs.find(isCname);
  if (c) return { type: 'cname', host: show(c.record.target) };
  const srv = recs.find((r) => r.record.port !== undefined && r.record.hostKind === 'name');
  if (srv) return { type: 'SRV', host: show(srv.record.target), port: srv.record.port };
  const txt = recs.find((r) => r.record.text !== undefined);
  if (txt) return { type: 'TXT', text: txt.record.text };
  return undefined;
}

export { ApiError };
