/**
 * Test only: an AnswerSource whose records, health, drains, topology and generations a test sets
 * by hand (answer-address.test.ts, explain.test.ts). Without generations the handler answers the
 * general way.
 */
import { parseTopologyValue, Topology, type TopologyValue } from '../records/topology.js';
import type { HealthState, Record } from '../records/types.js';
import type { AnswerSource } from './answer-context.js';

/** A record of `name` (key `/k/<name>/<i>`, ttl 30 + i). */
export function rec(name: string, i: number, target: string, extra: Partial<Record> = {}): Record {
  const hostKind = target.includes(':') ? 'ipv6' : /^[\d.]+$/.test(target) ? 'ipv4' : 'name';
  return { key: `/k/${name}/${i}`, name, hostKind, target, modRevision: 1, ttl: 30 + i, ...extra } as Record;
}

export class FakeSource implements AnswerSource {
  readonly names = new Map<string, Record[]>();
  readonly states = new Map<string, HealthState>();
  readonly drains = new Set<string>();
  topology: Topology = Topology.EMPTY;
  recordGeneration: number | undefined = 1;
  healthGeneration: number | undefined = 1;
  revision = 1;
  lookups = 0;
  lookup(name: string, out: Record[]): number {
    this.lookups++;
    out.length = 0;
    for (const [n, rs] of this.names) if (n === name || n.endsWith(`.${name}`)) out.push(...rs);
    return out.length;
  }
  has(name: string): boolean {
    for (const n of this.names.keys()) if (n === name || n.endsWith(`.${name}`)) return true;
    return false;
  }
  health(ip: string): HealthState | undefined {
    return this.states.get(ip);
  }
  drained(ip: string): boolean {
    return this.drains.has(ip);
  }
}

/** A Topology from `{zone: [cidrs]}`. */
export function topology(zones: { [zone: string]: string[] }): Topology {
  const m = new Map<string, TopologyValue>();
  for (const [z, cidrs] of Object.entries(zones)) m.set(z, parseTopologyValue(JSON.stringify({ cidrs })));
  return new Topology(m);
}
