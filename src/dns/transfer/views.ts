/**
 * What each served zone holds for a zone transfer: per name, the records `-select all` answers
 * (render.ts), kept current from the catalog's change events, with a journal of the changes for
 * IXFR (journal.ts). The serial is the catalog's (`serial`, mod 2^32 on the wire): the records
 * here are the catalog's at that serial, since every change event is applied synchronously.
 *
 * A name is in a zone's view when a record lies at or below it (SkyDNS: a name answers for its
 * subtree), the zone is the most specific one holding it, and no label is `*` (a query wildcard
 * in SkyDNS, not a zone-file wildcard). A change to a record re-renders its name and the
 * ancestors up to the apex; a health change re-renders the names of the records with that
 * address; a change under `apex.dns.` or `ns.dns.` re-renders the apex.
 */
import type { Logger } from '../../common/logger.js';
import { ipFromHealthKey } from '../../records/health.js';
import { keyToName } from '../../records/keys.js';
import type { Record } from '../../records/types.js';
import type { AnswerSource } from '../answer-context.js';
import { DnsHandler } from '../handler.js';
import type { Zone } from '../zones.js';
import { Journal } from './journal.js';
import { NameRenderer } from './render.js';

/** What the views read of the catalog (Catalog has all of it). */
export interface TransferSource extends AnswerSource {
  readonly serial: number;
  readonly prefix: string;
  readonly healthPrefix: string;
  onChange(listener: (keys: readonly string[]) => void): () => void;
  readonly index: { forEach(fn: (r: Record) => void): void; get(key: string): Record | undefined };
}

export interface ViewsOptions {
  source: TransferSource;
  /** The served zones (the query handler's `-domain`). */
  zones: readonly string[];
  defaultTtl: number;
  minTtl?: number;
  /** Journal bounds per zone (records in all entries, entries). */
  journalRecords?: number;
  journalEntries?: number;
  /** A zone's records changed, or the build ended: the new serial (full revision). NOTIFY hangs here. */
  onZoneChange?: (zone: string, serial: number) => void;
  log: Logger;
}

export interface ZoneView {
  readonly zone: Zone;
  /** name → sorted record keys; replaced per name, never changed in place (transfers keep refs). */
  readonly names: Map<string, readonly string[]>;
  /** The apex NS set. */
  ns: readonly string[];
  /** The serial (full revision) of the last change recorded. */
  serial: number;
  readonly journal: Journal;
}

/** Names rendered per turn of the event loop while building (the build yields between). */
const BUILD_SLICE = 2000;

export class TransferViews {
  private readonly handler: DnsHandler;
  private readonly views = new Map<string, ZoneView>();
  private readonly renderer: NameRenderer;
  /** Address → the record keys holding it (for health changes). */
  private readonly ipKeys = new Map<string, Set<string>>();
  private readonly keyIp = new Map<string, string>();
  /** Names changed while building, rendered when the build ends. */
  private pending: Set<string> | null = new Set();
  private unsubscribe: (() => void) | undefined;
  private built = false;
  private closed = false;

  constructor(private readonly o: ViewsOptions) {
    this.handler = new DnsHandler({
      catalog: o.source,
      zones: o.zones,
      defaultTtl: o.defaultTtl,
      minTtl: o.minTtl,
      select: 'all',
      allDown: 'open',
      fixedPolicies: true,
      hostname: '',
      version: '',
    });
    this.renderer = new NameRenderer(this.handler);
    for (const z of this.handler.zones.list)
      this.views.set(z.name, {
        zone: z,
        names: new Map(),
        ns: [],
        serial: 0,
        journal: new Journal(o.journalRecords ?? 100_000, o.journalEntries ?? 10_000),
      });
  }

  /** Every zone rendered (transfers wait for it). */
  get ready(): boolean {
    return this.built;
  }

  /** The view of the zone whose apex is `name` (lower case, absolute), if served. */
  view(name: string): ZoneView | undefined {
    return this.views.get(name);
  }

  /** The serial now (full revision): the catalog's. */
  get serial(): number {
    return this.o.source.serial;
  }

  /** Renders every zone, a slice of names per turn of the event loop; changes meanwhile follow. */
  async build(): Promise<void> {
    const src = this.o.source;
    this.unsubscribe = src.onChange((keys) => this.changed(keys));
    const all = new Set<string>();
    src.index.forEach((r) => {
      this.track(r.key, r);
      this.addWithAncestors(r.name, all);
    });
    let n = 0;
    for (const name of all) {
      if (this.closed) return;
      this.renderName(name);
      if (++n % BUILD_SLICE === 0) await new Promise((r) => setImmediate(r));
    }
    // the names changed meanwhile, then the serial: all in this turn, so the content is the catalog's at it
    const late = this.pending;
    this.pending = null;
    if (late !== null) for (const name of late) this.renderName(name);
    const serial = src.serial;
    for (const v of this.views.values()) {
      v.ns = this.renderer.renderNS(v.zone.name);
      v.serial = serial;
      v.journal.start(serial);
    }
    this.built = true;
    // secondaries waiting since before hades started hear of the zones at once
    for (const v of this.views.values()) this.o.onZoneChange?.(v.zone.name, v.serial);
    this.o.log.info(
      { zones: [...this.views.keys()], names: this.nameCount, serial },
      'transfer: zones ready for AXFR/IXFR',
    );
  }

  close(): void {
    this.closed = true;
    this.unsubscribe?.();
  }

  get nameCount(): number {
    let n = 0;
    for (const v of this.views.values()) n += v.names.size;
    return n;
  }

  /** A catalog change: re-render what it touched, journal the differences per zone. */
  private changed(keys: readonly string[]): void {
    const names = new Set<string>();
    const { healthPrefix, prefix } = this.o.source;
    const index = this.o.source.index;
    for (const key of keys) {
      if (key.startsWith(healthPrefix)) {
        const ip = ipFromHealthKey(healthPrefix, key);
        const held = ip === undefined ? undefined : this.ipKeys.get(ip);
        if (held !== undefined) for (const k of held) this.addWithAncestors(keyToName(k, prefix), names);
        continue;
      }
      const name = keyToName(key, prefix);
      if (name === undefined) continue;
      this.track(key, index.get(key));
      this.addWithAncestors(name, names);
    }
    if (this.pending !== null) {
      for (const n of names) this.pending.add(n);
      return;
    }
    if (names.size === 0) return;
    const serial = this.o.source.serial;
    const diffs = new Map<ZoneView, { deleted: string[]; added: string[] }>();
    for (const name of names) {
      const v = this.viewOf(name);
      if (v === undefined) continue;
      const before = v.names.get(name) ?? EMPTY;
      diffInto(name, before, this.renderName(name), diffs, v);
    }
    for (const v of this.views.values()) {
      const ns = this.renderer.renderNS(v.zone.name);
      diffInto(v.zone.name, v.ns, ns, diffs, v);
      v.ns = ns;
    }
    for (const [v, d] of diffs) {
      if (d.deleted.length === 0 && d.added.length === 0) continue;
      v.journal.add({ from: v.serial, to: serial, deleted: d.deleted, added: d.added });
      v.serial = serial;
      this.o.onZoneChange?.(v.zone.name, serial);
    }
  }

  /** Keeps `ipKeys` in step with the record at `key` (undefined: deleted). */
  private track(key: string, r: Record | undefined): void {
    const old = this.keyIp.get(key);
    const ip = r !== undefined && (r.hostKind === 'ipv4' || r.hostKind === 'ipv6') ? r.target : undefined;
    if (old === ip) return;
    if (old !== undefined) {
      const set = this.ipKeys.get(old);
      set?.delete(key);
      if (set?.size === 0) this.ipKeys.delete(old);
      this.keyIp.delete(key);
    }
    if (ip !== undefined) {
      const set = this.ipKeys.get(ip);
      if (set === undefined) this.ipKeys.set(ip, new Set([key]));
      else set.add(key);
      this.keyIp.set(key, ip);
    }
  }

  /** The view of the most specific zone holding `name`, or undefined. */
  private viewOf(name: string): ZoneView | undefined {
    const z = this.handler.zones.find(name);
    return z === undefined ? undefined : this.views.get(z.name);
  }

  /** `name` and its ancestors below its zone's apex (the apex for `apex.dns.`/`ns.dns.` names). */
  private addWithAncestors(name: string | undefined, into: Set<string>): void {
    if (name === undefined) return;
    const z = this.handler.zones.find(name);
    if (z === undefined) return;
    let n = name;
    while (n.length > z.name.length) {
      into.add(n);
      n = n.slice(n.indexOf('.') + 1);
    }
    if (name.endsWith(z.apexName) || name.endsWith(z.nsName)) into.add(z.name);
  }

  /** Renders `name` into its zone's view; returns its records. */
  private renderName(name: string): readonly string[] {
    const v = this.viewOf(name);
    if (v === undefined) return EMPTY;
    if (name !== v.zone.name && hasWildcard(name)) return EMPTY;
    const recs = this.renderer.render(name, v.zone.name.endsWith('.arpa.'));
    if (recs.length === 0) v.names.delete(name);
    else v.names.set(name, recs);
    return recs;
  }
}

const EMPTY: readonly string[] = [];

function hasWildcard(name: string): boolean {
  return name.startsWith('*.') || name.includes('.*.');
}

/** Adds what turns `before` into `after` (both sorted) to the zone's diff. */
function diffInto(
  name: string,
  before: readonly string[],
  after: readonly string[],
  diffs: Map<ZoneView, { deleted: string[]; added: string[] }>,
  v: ZoneView,
): void {
  let d = diffs.get(v);
  if (d === undefined) {
    d = { deleted: [], added: [] };
    diffs.set(v, d);
  }
  let i = 0;
  let j = 0;
  while (i < before.length || j < after.length) {
    if (j >= after.length || (i < before.length && before[i] < after[j])) d.deleted.push(name, before[i++]);
    else if (i >= before.length || after[j] < before[i]) d.added.push(name, after[j++]);
    else {
      i++;
      j++;
    }
  }
}
