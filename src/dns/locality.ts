/**
 * Locality (docs/dns.md, "Answer selection"): within the chosen tier, when the client's zone has
 * a healthy address, only those are candidates; otherwise the whole tier. The client's zone is
 * the zone of the longest topology CIDR holding its identity (records/topology.ts): the source
 * address, or with `trustEcs` the query's EDNS Client Subnet (source prefix > 0).
 */
import type { Topology } from '../records/topology.js';
import type { Record } from '../records/types.js';
import { type AddressIdentity, subnetIdentity } from './select.js';
import type { ClientInfo } from './types.js';
import type { EcsSource } from './wire/writer.js';

/** True when some record of `arr[0, m)` names a zone. */
export function anyZone(arr: readonly Record[], m: number): boolean {
  for (let i = 0; i < m; i++) if (arr[i].zone !== undefined) return true;
  return false;
}

/**
 * Keeps (in place, order kept) the records of `arr[0, m)` in `zone` when there is one, and
 * returns their count; returns m (nothing moved) when `zone` is '' or none of them is in it.
 */
export function keepZone(arr: Record[], m: number, zone: string): number {
  if (zone === '') return m;
  let k = 0;
  for (let i = 0; i < m; i++) if (arr[i].zone === zone) k++;
  if (k === 0) return m;
  k = 0;
  for (let i = 0; i < m; i++) if (arr[i].zone === zone) arr[k++] = arr[i];
  return k;
}

/**
 * The zone of a client, per query, without allocating: the last source address asked and its
 * zone are kept (a resolver asks again and again), for as long as the topology is the same
 * object (the catalog replaces it whole on any change).
 */
export class ClientZone {
  /** ECS subnets' identity (the source address's is `ident`'s, shared with sticky). */
  private readonly id = new Uint8Array(18);
  private lastAddress = '';
  private lastTopology: Topology | null = null;
  private lastZone = '';

  constructor(
    private readonly trustEcs: boolean,
    private readonly ident: AddressIdentity,
  ) {}

  /** The client's zone under `topology`, '' when none. */
  of(topology: Topology, client: ClientInfo, query: EcsSource | null): string {
    if (topology.cidrCount === 0) return '';
    const id = this.id;
    if (this.trustEcs && query?.ecs && query.ecsSourcePrefix > 0)
      return topology.zoneOf(id, subnetIdentity(query, id));
    const address = client.address;
    if (address === this.lastAddress && topology === this.lastTopology) return this.lastZone;
    const n = this.ident.of(address);
    const zone = n > 0 ? topology.zoneOf(this.ident.id, n) : '';
    this.lastAddress = address;
    this.lastTopology = topology;
    this.lastZone = zone;
    return zone;
  }
}
