/**
 * One upstream resolver: its address, health (consecutive failures, down/probing) and counters;
 * the rotating lists the forwarder picks from (the default nameservers, one per stub zone), and
 * which list a name goes to.
 */
import { formatHostPort, type HostPort } from '../../common/host-port.js';

/** Upper bounds (seconds) of the latency histogram buckets; a last bucket counts the rest (+Inf). */
export const LATENCY_BUCKETS: readonly number[] = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
]);

/** Counters of one upstream: plain numbers, live (read them, do not write). */
export interface UpstreamStats {
  /** Queries sent to it (each try, UDP or TCP; probes not included). */
  requests: number;
  /** Tries that got no usable answer: timeouts, network errors (ICMP refused, TCP reset), malformed replies. */
  failures: number;
  /** The part of `failures` that were timeouts. */
  timeouts: number;
  /** Answers with TC, retried over TCP. */
  tcpRetries: number;
  /** Datagrams ignored on a query's socket: wrong source, ID or question, not a response. */
  spoofed: number;
  /** SERVFAIL/REFUSED answers (the next upstream was tried). */
  rcodeErrors: number;
  /** Seconds from send to an accepted answer, summed; and how many. */
  latencySum: number;
  latencyCount: number;
  /** Per LATENCY_BUCKETS bound (non-cumulative: each answer counted once), plus +Inf last. */
  latencyBuckets: number[];
  /** Times it was marked down, probes sent, probes answered. */
  downEvents: number;
  probes: number;
  probeSuccesses: number;
}

function newStats(): UpstreamStats {
  return {
    requests: 0,
    failures: 0,
    timeouts: 0,
    tcpRetries: 0,
    spoofed: 0,
    rcodeErrors: 0,
    latencySum: 0,
    latencyCount: 0,
    latencyBuckets: new Array<number>(LATENCY_BUCKETS.length + 1).fill(0),
    downEvents: 0,
    probes: 0,
    probeSuccesses: 0,
  };
}

export class Upstream {
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
  /** `ip:port` / `[v6]:port`: the label for metrics and logs. */
  readonly address: string;
  readonly stats: UpstreamStats = newStats();
  /** Consecutive failed tries. */
  fails = 0;
  /** Skipped by queries (unless every upstream of a list is down) and probed until it answers. */
  down = false;
  /** Pending probe timer while down. */
  probeTimer: NodeJS.Timeout | null = null;
  /** A probe query is in flight. */
  probing = false;

  constructor(a: HostPort) {
    this.host = a.host;
    this.port = a.port;
    this.family = a.family;
    this.address = formatHostPort(a);
  }

  /** Records an accepted answer's latency (ms). */
  observe(ms: number): void {
    const s = this.stats;
    const sec = ms / 1000;
    s.latencySum += sec;
    s.latencyCount++;
    let i = 0;
    while (i < LATENCY_BUCKETS.length && sec > LATENCY_BUCKETS[i]) i++;
    s.latencyBuckets[i]++;
  }
}

/** The upstreams of one zone (or the default list) with a rotating start. */
export class UpstreamList {
  private next = 0;
  constructor(readonly items: readonly Upstream[]) {}

  get size(): number {
    return this.items.length;
  }

  /** Where a new query starts: rotates by one per query so load spreads over the list. */
  start(): number {
    const s = this.next;
    this.next = s + 1 >= this.items.length ? 0 : s + 1;
    return s;
  }

  /**
   * The first upstream at or after `cursor.pos` (cyclically) that is not down, advancing the
   * cursor past it. When every one is down, the one at the cursor anyway (fail-open), and
   * `cursor.allDown` is set.
   */
  pick(cursor: { pos: number; allDown: boolean }): Upstream {
    const items = this.items;
    const n = items.length;
    for (let k = 0; k < n; k++) {
      const i = (cursor.pos + k) % n;
      if (!items[i].down) {
        cursor.pos = i + 1;
        cursor.allDown = false;
        return items[i];
      }
    }
    const i = cursor.pos % n;
    cursor.pos = i + 1;
    cursor.allDown = true;
    return items[i];
  }
}

/**
 * The list of the longest zone in `stubs` containing `qname` (lower case, absolute), else
 * `fallback`. Zones match on label boundaries: `xcorp.example.` is not in `corp.example.`, and an
 * escaped dot (`a\.corp`) is inside its label.
 */
export function listFor<L>(stubs: ReadonlyMap<string, L>, fallback: L, qname: string): L {
  if (stubs.size === 0) return fallback;
  const n = qname.length;
  let i = 0;
  while (i < n) {
    const l = stubs.get(i === 0 ? qname : qname.slice(i));
    if (l !== undefined) return l;
    // past the next unescaped dot (a backslash takes the next character with it: `\\.` ends a label)
    while (i < n) {
      const c = qname.charCodeAt(i);
      if (c === 0x5c) {
        i += 2;
        continue;
      }
      i++;
      if (c === 0x2e) break;
    }
  }
  return fallback;
}
