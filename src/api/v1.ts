/**
 * The JSON API, `/v1`: records of every type the DNS server answers, by name.
 *
 *   GET    /v1/records?prefix=<name>&type=<T>&limit=<n>&cursor=<c>   list (at and below prefix)
 *   GET    /v1/records/{name}                                      one name's records
 *   GET    /v1/records/{name}/{id}                                 one record (ETag "<modRevision>")
 *   POST   /v1/records            {"name","type",...}               add one record → 201
 *   PUT    /v1/records/{name}/{id} {"type",...}                     replace one record
 *   DELETE /v1/records/{name}[/{id}]                                one record, or all API records
 *   GET    /v1/health[/{ip}]                                       health status
 *
 * Record bodies: A/AAAA `address`; CNAME `target`; SRV `target`,`port`,`priority`,`weight`; TXT
 * `text`; MX `target`,`preference`; NS `target` (name = the zone; stored under ns.dns.<zone>); all
 * may have `ttl`. A/AAAA may have `probe` (a Kubernetes-shaped probe, records/probe.ts), written
 * into the address's status key in the record's transaction (null removes it), and the traffic
 * policy fields `priority` (failover tier; absent = 10), `zone` (topology zone), `select` and
 * `alldown` (per-name overrides); SRV and MX may have `alldown`. Those are record fields as
 * stored, checked by the records module's strict parse. Only records with `source: "api"` are
 * changed.
 */

import { RecordError } from '../records/errors.js';
import { parseIP } from '../records/ip.js';
import { isInZone } from '../records/names.js';
import { parseProbe } from '../records/probe.js';
import { MAX_TEXT_OCTETS, MAX_TTL, MAX_U16, parseRecordValue } from '../records/record.js';
import type { AllDownPolicy, RecordValue, SelectPolicy } from '../records/types.js';
import { badRequest, conflict, notFound, preconditionFailed } from './errors.js';
import { checkIP, checkName, checkObject, checkWritable, type Zone } from './names.js';
import { API_SOURCE, type NameRecord, type RecordService } from './service.js';

export const RECORD_TYPES = ['A', 'AAAA', 'CNAME', 'SRV', 'TXT', 'MX', 'NS'] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

/** A record as /v1 shows it. */
export interface V1Record {
  id: string;
  name: string;
  /** PTR: a name in the reverse trees (read only: the API writes in its zone). */
  type: RecordType | 'PTR' | 'OTHER';
  ttl?: number;
  address?: string;
  target?: string;
  port?: number;
  priority?: number;
  weight?: number;
  preference?: number;
  text?: string;
  /** A/AAAA: the topology zone of the address. */
  zone?: string;
  /** Per-name overrides of the server's -select and -all-down. */
  select?: SelectPolicy;
  alldown?: AllDownPolicy;
  source?: string;
  /** The probe written with this request (A/AAAA); probes live in the status key (/v1/health). */
  probe?: unknown;
  modRevision: number;
}

const FIELDS: { [T in RecordType]: readonly string[] } = {
  A: ['address'],
  AAAA: ['address'],
  CNAME: ['target'],
  SRV: ['target', 'port', 'priority', 'weight'],
  TXT: ['text'],
  MX: ['target', 'preference'],
  NS: ['target'],
};

/**
 * Record fields a /v1 body carries as stored (same name, same meaning), per type: checked by
 * `parseRecordValue(…, 'strict')`, so the API and the store agree on what is valid.
 */
const POLICY_FIELDS: { [T in RecordType]: readonly ('priority' | 'zone' | 'select' | 'alldown')[] } = {
  A: ['priority', 'zone', 'select', 'alldown'],
  AAAA: ['priority', 'zone', 'select', 'alldown'],
  CNAME: [],
  SRV: ['alldown'],
  TXT: [],
  MX: ['alldown'],
  NS: [],
};

/** The policy fields of a body that are given, validated as record fields; 400 naming the field. */
function policyOf(o: { [k: string]: unknown }, type: RecordType): RecordValue {
  const given: { [k: string]: unknown } = {};
  for (const f of POLICY_FIELDS[type]) if (o[f] !== undefined) given[f] = o[f];
  try {
    return parseRecordValue(JSON.stringify(given), 'strict');
  } catch (e) {
    if (e instanceof RecordError) throw badRequest(e.message, e.field);
    throw e;
  }
}

const noDot = (n: string): string => (n === '.' ? n : n.slice(0, -1));

function int(v: unknown, field: string, max: number, dflt?: number): number {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max)
    throw badRequest(`field "${field}" must be an integer from 0 to ${max}`, field);
  return v;
}

function target(v: unknown, field = 'target'): string {
  const n = checkName(v, field);
  if (n.includes('*')) throw badRequest(`field "${field}" has a wildcard label`, field);
  if (parseIP(String(v)) !== undefined)
    throw badRequest(`field "${field}" must be a host name, not an address`, field);
  return noDot(n);
}

/**
 * A/AAAA `probe`: undefined (not given), null (remove) or the probe as given once it validates
 * (stored as written, in Kubernetes' field names); 400 naming the field path otherwise.
 */
function probeOf(v: unknown): unknown {
  if (v === undefined || v === null) return v;
  try {
    parseProbe(v, 'probe');
  } catch (e) {
    if (e instanceof RecordError) throw badRequest(e.message, e.field);
    throw e;
  }
  return v;
}

/** Validates a /v1 record body → the owner name to store it at, its value and its probe. */
export function toValue(
  zone: Zone,
  body: unknown,
  nameFromPath?: string,
): { name: string; value: RecordValue; probe?: unknown } {
  const peek =
    body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as { type?: unknown }) : {};
  const t = peek.type;
  if (typeof t !== 'string') throw badRequest('field "type" is missing or not a string', 'type');
  const type = t.toUpperCase() as RecordType;
  if (!(RECORD_TYPES as readonly string[]).includes(type))
    throw badRequest(`field "type": unknown type "${t}" (${RECORD_TYPES.join(', ')})`, 'type');
  const allowed = [
    'type',
    'ttl',
    ...FIELDS[type],
    ...POLICY_FIELDS[type].filter((f) => !FIELDS[type].includes(f)),
    ...(nameFromPath === undefined ? ['name'] : []),
  ];
  const isAddress = type === 'A' || type === 'AAAA';
  if (isAddress) allowed.push('probe');
  else if ((peek as { probe?: unknown }).probe !== undefined)
    throw badRequest(
      `field "probe" is for A and AAAA records only (the address is probed), not ${type}`,
      'probe',
    );
  const o = checkObject(body, allowed);
  const probe = isAddress ? probeOf(o.probe) : undefined;
  let name = nameFromPath ?? checkName(o.name, 'name');
  if (!isInZone(name, zone.domain))
    throw badRequest(`field "name" ${noDot(name)} is outside the zone ${zone.domain}`, 'name');
  const v: RecordValue = POLICY_FIELDS[type].length > 0 ? policyOf(o, type) : {};
  switch (type) {
    case 'A':
    case 'AAAA':
      v.host = checkIP(o.address, 'address', type === 'A' ? 4 : 6);
      break;
    case 'CNAME':
      v.host = target(o.target);
      break;
    case 'SRV':
      v.host = target(o.target);
      v.port = int(o.port, 'port', MAX_U16);
      v.priority = int(o.priority, 'priority', MAX_U16, 10);
      v.weight = int(o.weight, 'weight', MAX_U16, 10);
      break;
    case 'TXT':
      if (typeof o.text !== 'string' || Buffer.byteLength(o.text) > MAX_TEXT_OCTETS)
        throw badRequest(`field "text" must be a string of at most ${MAX_TEXT_OCTETS} octets`, 'text');
      v.text = o.text;
      break;
    case 'MX':
      v.host = target(o.target);
      v.mail = true;
      v.priority = int(o.preference, 'preference', MAX_U16, 10);
      break;
    case 'NS':
      if (name !== zone.domain)
        throw badRequest(`field "name": NS records belong to the zone apex ${zone.domain}`, 'name');
      v.host = target(o.target);
      name = `ns.dns.${zone.domain}`;
      break;
  }
  if (o.ttl !== undefined) v.ttl = int(o.ttl, 'ttl', MAX_TTL);
  v.type = type;
  v.source = API_SOURCE;
  checkWritable(zone, name, 'name');
  return probe === undefined ? { name, value: v } : { name, value: v, probe };
}

/** The plan's probes for a record with `probe` given: its address → the probe (null: remove). */
function probesOf(value: RecordValue, probe: unknown): Map<string, unknown> | undefined {
  return probe === undefined || value.host === undefined ? undefined : new Map([[value.host, probe]]);
}

/** The preview with the probe the request wrote. */
function withProbe(r: V1Record, probe: unknown): V1Record {
  return probe === undefined || probe === null ? r : { ...r, probe };
}

/** The /v1 view of a stored record. */
export function toV1(name: string, r: NameRecord): V1Record {
  const rec = r.record;
  const out: V1Record = { id: r.id, name: noDot(name), type: 'OTHER', modRevision: r.kv.modRevision };
  const declared = typeof rec.type === 'string' ? rec.type.toUpperCase() : '';
  if (rec.ttl !== undefined) out.ttl = rec.ttl;
  if (rec.text !== undefined && rec.hostKind === 'none') {
    out.type = 'TXT';
    out.text = rec.text;
  } else if (rec.hostKind === 'ipv4' || rec.hostKind === 'ipv6') {
    out.type = rec.hostKind === 'ipv4' ? 'A' : 'AAAA';
    out.address = rec.target;
  } else if (rec.hostKind === 'name') {
    out.target = noDot(rec.target);
    if (rec.mail === true) {
      out.type = 'MX';
      out.preference = rec.priority ?? 10;
    } else if (rec.port !== undefined && rec.port > 0) {
      out.type = 'SRV';
      out.port = rec.port;
      out.priority = rec.priority ?? 10;
      out.weight = rec.weight ?? 10;
    } else if (declared === 'NS' || name.startsWith('ns.dns.')) out.type = 'NS';
    else if (name.endsWith('.in-addr.arpa.') || name.endsWith('.ip6.arpa.')) out.type = 'PTR';
    else out.type = 'CNAME';
  }
  if (out.type === 'A' || out.type === 'AAAA') {
    if (rec.priority !== undefined) out.priority = rec.priority;
    if (rec.zone !== undefined) out.zone = rec.zone;
  }
  if (rec.select !== undefined) out.select = rec.select;
  if (rec.alldown !== undefined) out.alldown = rec.alldown;
  if (rec.source !== undefined) out.source = rec.source;
  return out;
}

export class V1Api {
  constructor(
    private readonly svc: RecordService,
    private readonly zone: Zone,
  ) {}

  async list(q: URLSearchParams): Promise<{ records: V1Record[]; next?: string }> {
    for (const k of q.keys())
      if (!['prefix', 'type', 'limit', 'cursor'].includes(k))
        throw badRequest(`unknown query parameter "${k}"`, k);
    const prefix = q.has('prefix') ? checkName(q.get('prefix'), 'prefix') : this.zone.domain;
    const typeText = q.get('type');
    const type = typeText === null ? undefined : typeText.toUpperCase();
    if (type !== undefined && !(RECORD_TYPES as readonly string[]).includes(type))
      throw badRequest(`query "type": unknown type "${typeText}"`, 'type');
    const limitText = q.get('limit') ?? '100';
    if (!/^\d{1,4}$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 1000)
      throw badRequest('query "limit" must be an integer from 1 to 1000', 'limit');
    const limit = Number(limitText);
    let after = '';
    const cursor = q.get('cursor');
    if (cursor !== null) {
      after = Buffer.from(cursor, 'base64url').toString('utf8');
      if (after === '' || !after.includes('\u0000'))
        throw badRequest('query "cursor" is not a cursor this API gave', 'cursor');
    }
    const grouped = await this.svc.listGrouped(prefix);
    const all: { sort: string; rec: V1Record }[] = [];
    for (const [name, recs] of grouped)
      for (const r of recs) {
        const rec = toV1(name, r);
        if (type !== undefined && rec.type !== type) continue;
        all.push({ sort: `${r.kv.key}\u0000`, rec });
      }
    all.sort((a, b) => (a.sort < b.sort ? -1 : a.sort > b.sort ? 1 : 0));
    const start = after === '' ? 0 : all.findIndex((x) => x.sort > after);
    const page = start < 0 ? [] : all.slice(start, start + limit);
    const out: { records: V1Record[]; next?: string } = { records: page.map((x) => x.rec) };
    if (start >= 0 && start + limit < all.length)
      out.next = Buffer.from(page[page.length - 1].sort, 'utf8').toString('base64url');
    return out;
  }

  async getName(nameText: string): Promise<{ name: string; records: V1Record[] }> {
    const name = checkName(nameText, 'name');
    const recs = await this.svc.recordsOf(name);
    if (recs.length === 0) throw notFound(`name ${noDot(name)} has no records`);
    return { name: noDot(name), records: recs.map((r) => toV1(name, r)) };
  }

  /** One record of a name by id (404 when the name has no such record). */
  async getRecord(nameText: string, id: string): Promise<V1Record> {
    const name = checkName(nameText, 'name');
    const rec = (await this.svc.recordsOf(name)).find((r) => r.id === id);
    if (!rec) throw notFound(`name ${noDot(name)} has no record ${id}`);
    return toV1(name, rec);
  }

  async create(body: unknown): Promise<V1Record> {
    const { name, value, probe } = toValue(this.zone, body);
    const { result, revision } = await this.svc.mutateAt([name], (cur) => {
      const recs = cur.get(name)!;
      const isCname = value.type === 'CNAME';
      const hasCname = recs.some((r) => toV1(name, r).type === 'CNAME');
      if (isCname && recs.length > 0)
        throw conflict(`name ${noDot(name)} has records; a CNAME must stand alone`);
      if (!isCname && hasCname)
        throw conflict(`name ${noDot(name)} is a CNAME; it cannot have other records`);
      const same = recs.find((r) => {
        const v = toV1(name, r);
        const n = toV1(name, { ...r, record: { ...r.record, ...value, ...hostOf(value) } });
        return (
          v.type === n.type &&
          v.address === n.address &&
          v.target === n.target &&
          v.text === n.text &&
          v.port === n.port
        );
      });
      if (same) throw conflict(`name ${noDot(name)} already has this ${value.type} record (id ${same.id})`);
      return {
        puts: [{ name, value }],
        deletes: [],
        probes: probesOf(value, probe),
        result: withProbe(this.preview(name, value), probe),
      };
    });
    return { ...result, modRevision: revision };
  }

  async replace(nameText: string, id: string, body: unknown, ifMatch?: number): Promise<V1Record> {
    const name0 = checkName(nameText, 'name');
    const { name, value, probe } = toValue(this.zone, body, name0);
    const { result, revision } = await this.svc.mutateAt([name], (cur) => {
      const recs = cur.get(name)!;
      const old = recs.find((r) => r.id === id);
      if (!old) throw notFound(`name ${noDot(name)} has no record ${id}`);
      if (old.record.source !== API_SOURCE)
        throw conflict(`record ${id} was written by ${old.record.source ?? 'another writer'}`);
      if (ifMatch !== undefined && old.kv.modRevision !== ifMatch)
        throw preconditionFailed(
          `record ${id} changed (modRevision ${old.kv.modRevision}, If-Match ${ifMatch})`,
        );
      return {
        puts: [{ name, value }],
        deletes: [old.kv.key],
        probes: probesOf(value, probe),
        result: withProbe(this.preview(name, value), probe),
      };
    });
    return { ...result, modRevision: revision };
  }

  async remove(nameText: string, id?: string): Promise<{ deleted: number }> {
    const name = checkName(nameText, 'name');
    checkWritable(this.zone, name, 'name');
    return this.svc.mutate([name], (cur) => {
      const recs = cur.get(name)!;
      const mine = recs.filter((r) => r.record.source === API_SOURCE && (id === undefined || r.id === id));
      if (mine.length === 0)
        throw notFound(
          id ? `name ${noDot(name)} has no API record ${id}` : `name ${noDot(name)} has no API records`,
        );
      return { puts: [], deletes: mine.map((r) => r.kv.key), result: { deleted: mine.length } };
    });
  }

  private preview(name: string, value: RecordValue): V1Record {
    const { serializeRecordValue, fnv1a32, toRecord } = recordFns;
    const json = serializeRecordValue(value);
    const id = fnv1a32(json);
    const key = `${this.svc.keyOf(name)}/${id}`;
    const record = toRecord({ key, value: json, modRevision: 0 }, this.svc.prefix);
    const r = toV1(name, {
      id,
      record,
      kv: { key, value: json, modRevision: 0, createRevision: 0, version: 0, lease: '0' },
    });
    return r;
  }
}

function hostOf(v: RecordValue): { hostKind: 'ipv4' | 'ipv6' | 'name' | 'none'; target: string } {
  if (v.host === undefined) return { hostKind: 'none', target: '' };
  const ip = parseIP(v.host);
  if (ip) return { hostKind: ip.kind, target: ip.text };
  return { hostKind: 'name', target: `${v.host.toLowerCase()}.` };
}

import { fnv1a32, serializeRecordValue, toRecord } from '../records/record.js';

const recordFns = { serializeRecordValue, fnv1a32, toRecord };
