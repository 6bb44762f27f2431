/**
 * `/v1/topology`: the zones of locality (records/topology.ts), one store key each,
 * `<topology-path><zone>` = `{"cidrs":[…]}`.
 *
 *   GET    /v1/topology          {"topology":[{"zone","cidrs","modRevision"},…]} sorted by zone
 *   GET    /v1/topology/{zone}   one zone (404 when absent)
 *   PUT    /v1/topology/{zone}   {"cidrs":[…]} → the zone as stored (canonical CIDRs)
 *   DELETE /v1/topology/{zone}   {"deleted":1} (404 when absent)
 *
 * A stored value that does not parse is listed with `error` (and no `cidrs`), so it can be seen
 * and fixed; the DNS server skips it. Writes are one transaction comparing the key's
 * `modRevision` as read (or as `If-Match` gives it: a mismatch, or a concurrent writer after it,
 * is 412; without it a concurrent writer is read again, 409 after 5), never a half-applied or
 * silently lost change. `GET /v1/topology/{zone}` carries `ETag: "<modRevision>"`. A PUT that changes nothing writes nothing.
 */
import { RecordError } from '../records/errors.js';
import {
  normalizeTopologyPath,
  parseTopologyValue,
  serializeTopologyValue,
  topologyFromObject,
  topologyKey,
  zoneFromTopologyKey,
} from '../records/topology.js';
import type { Store } from '../store/types.js';
import { badRequest, conflict, notFound, preconditionFailed } from './errors.js';

/** A zone as /v1 shows it. */
export interface TopologyView {
  zone: string;
  /** Canonical CIDRs (absent when the stored value does not parse). */
  cidrs?: string[];
  /** Why the stored value is not a topology value (the DNS server skips it). */
  error?: string;
  modRevision: number;
}

/** Attempts of a PUT without If-Match before 409 (another writer of the same zone). */
const ATTEMPTS = 5;

function view(zone: string, kv: { value: string; modRevision: number }): TopologyView {
  try {
    const v = parseTopologyValue(kv.value);
    return { zone, cidrs: v.cidrs.map((c) => c.text), modRevision: kv.modRevision };
  } catch (e) {
    return { zone, error: (e as Error).message, modRevision: kv.modRevision };
  }
}

/** RecordError → 400 naming the same field. */
function asBadRequest(e: unknown): never {
  if (e instanceof RecordError) throw badRequest(e.message, e.field);
  throw e;
}

export class TopologyApi {
  readonly path: string;

  constructor(
    private readonly store: Store,
    path: string,
  ) {
    this.path = normalizeTopologyPath(path);
  }

  private keyOf(zone: string): string {
    try {
      return topologyKey(this.path, zone);
    } catch (e) {
      asBadRequest(e);
    }
  }

  async list(q: URLSearchParams): Promise<{ topology: TopologyView[] }> {
    for (const k of q.keys()) throw badRequest(`unknown query parameter "${k}"`, k);
    const res = await this.store.list(this.path);
    const out: TopologyView[] = [];
    for (const kv of res.kvs) {
      const zone = zoneFromTopologyKey(this.path, kv.key);
      if (zone !== undefined) out.push(view(zone, kv));
    }
    out.sort((a, b) => (a.zone < b.zone ? -1 : a.zone > b.zone ? 1 : 0));
    return { topology: out };
  }

  async get(zone: string): Promise<TopologyView> {
    const kv = await this.store.get(this.keyOf(zone));
    if (!kv) throw notFound(`zone ${zone} is not in the topology`);
    return view(zone, kv);
  }

  /** Creates or replaces a zone; `ifMatch` (0: must not exist) turns a mismatch or a race into 412. */
  async put(zone: string, body: unknown, ifMatch?: number): Promise<TopologyView> {
    const key = this.keyOf(zone);
    let value: string;
    try {
      value = serializeTopologyValue(topologyFromObject(body));
    } catch (e) {
      asBadRequest(e);
    }
    for (let attempt = 1; ; attempt++) {
      const kv = await this.store.get(key);
      const rev = kv ? kv.modRevision : 0;
      if (ifMatch !== undefined && rev !== ifMatch)
        throw preconditionFailed(`zone ${zone} changed (modRevision ${rev}, If-Match ${ifMatch})`);
      if (kv && kv.value === value) return view(zone, kv);
      const res = await this.store.txn({
        compare: [{ key, op: 'modRevision', modRevision: rev }],
        success: [{ op: 'put', key, value }],
      });
      if (res.succeeded) return view(zone, { value, modRevision: res.revision });
      if (ifMatch !== undefined)
        throw preconditionFailed(`zone ${zone} was changed by another writer (If-Match ${ifMatch})`);
      if (attempt >= ATTEMPTS) throw conflict(`zone ${zone} was changed by another writer; try again`);
    }
  }

  async remove(zone: string, ifMatch?: number): Promise<{ deleted: number }> {
    const key = this.keyOf(zone);
    for (let attempt = 1; ; attempt++) {
      const kv = await this.store.get(key);
      if (!kv) throw notFound(`zone ${zone} is not in the topology`);
      if (ifMatch !== undefined && kv.modRevision !== ifMatch)
        throw preconditionFailed(`zone ${zone} changed (modRevision ${kv.modRevision}, If-Match ${ifMatch})`);
      const res = await this.store.txn({
        compare: [{ key, op: 'modRevision', modRevision: kv.modRevision }],
        success: [{ op: 'delete', key }],
      });
      if (res.succeeded) return { deleted: 1 };
      if (ifMatch !== undefined)
        throw preconditionFailed(`zone ${zone} was changed by another writer (If-Match ${ifMatch})`);
      if (attempt >= ATTEMPTS) throw conflict(`zone ${zone} was changed by another writer; try again`);
    }
  }
}
