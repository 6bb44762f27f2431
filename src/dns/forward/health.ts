/**
 * Upstream health: `maxFails` consecutive failed tries (timeouts, ICMP refused, TCP resets,
 * malformed replies; not error rcodes, not our own EMFILE/ENOBUFS) mark an upstream down. Queries
 * then skip it (UpstreamList.pick) and a probe (`. NS`, UDP, RD) goes to it every
 * `probeIntervalMs` until any answer comes. Any accepted answer, a probe's or a query's, resets
 * the count and re-admits it. Probe timers and sockets are unref()ed.
 */

import type { Logger } from '../../common/logger.js';
import { RRType } from '../wire/constants.js';
import { encodeQuery } from '../wire/encode.js';
import { Exchange, endTry, type RandomIds, startTry, type TryHandler } from './exchange.js';
import type { ForwarderStats } from './forwarder.js';
import { newWalk, walkMessage } from './packet.js';
import type { Upstream } from './upstream.js';

/** One probe of a down upstream: a single UDP try. */
class Probe extends Exchange {
  constructor(
    readonly handler: Health,
    query: Buffer,
  ) {
    super();
    this.query = query;
    this.qnameLen = 1;
    this.qtype = RRType.NS;
  }
}

export interface HealthOptions {
  /** Consecutive failed tries that mark an upstream down (0: never). */
  maxFails: number;
  probeIntervalMs: number;
  /** How long a probe waits for its answer. */
  readTimeoutMs: number;
  /** Every upstream watched (their probe timers stop at close). */
  upstreams: readonly Upstream[];
  stats: ForwarderStats;
  ids: RandomIds;
  log: Logger | undefined;
}

export class Health implements TryHandler<Probe> {
  private readonly o: HealthOptions;
  private readonly probes = new Set<Probe>();
  private readonly walk = newWalk();
  private readonly probeQuery = encodeQuery({ id: 0, name: '.', type: RRType.NS, rd: true });
  private closed = false;

  constructor(opts: HealthOptions) {
    this.o = opts;
  }

  /** An accepted answer from `u` to a query: it is alive. */
  answeredBy(u: Upstream): void {
    u.fails = 0;
    if (u.down) this.markUp(u);
  }

  /** A query's try to `u` failed. */
  failedBy(u: Upstream): void {
    u.fails++;
    if (this.o.maxFails > 0 && u.fails >= this.o.maxFails && !u.down) this.markDown(u);
  }

  /** A probe's answer: any rcode counts, the upstream is alive. */
  answered(p: Probe, buf: Buffer, len: number): void {
    if (!walkMessage(buf, len, this.walk)) {
      this.failed(p, false);
      return;
    }
    this.answeredBy(p.upstream!);
    endTry(p);
    this.finishProbe(p, true);
  }

  failed(p: Probe, _timeout: boolean): void {
    endTry(p);
    this.finishProbe(p, false);
  }

  localError(p: Probe): void {
    this.o.stats.localErrors++;
    this.failed(p, false);
  }

  /** Stops probing. Idempotent. */
  close(): void {
    this.closed = true;
    for (const u of this.o.upstreams) {
      if (u.probeTimer !== null) clearTimeout(u.probeTimer);
      u.probeTimer = null;
    }
    for (const p of this.probes) {
      endTry(p);
      p.finished = true;
      p.upstream!.probing = false;
    }
    this.probes.clear();
  }

  private markDown(u: Upstream): void {
    u.down = true;
    u.stats.downEvents++;
    this.o.log?.warn(
      { upstream: u.address, fails: u.fails },
      'forward: upstream failed repeatedly; skipping it and probing until it answers',
    );
    this.scheduleProbe(u);
  }

  private markUp(u: Upstream): void {
    u.down = false;
    u.fails = 0;
    if (u.probeTimer !== null) clearTimeout(u.probeTimer);
    u.probeTimer = null;
    this.o.log?.info({ upstream: u.address }, 'forward: upstream answers again');
  }

  private scheduleProbe(u: Upstream): void {
    if (this.closed || u.probeTimer !== null || u.probing) return;
    u.probeTimer = setTimeout(() => {
      u.probeTimer = null;
      this.probe(u);
    }, this.o.probeIntervalMs);
    u.probeTimer.unref();
  }

  private probe(u: Upstream): void {
    if (this.closed || !u.down || u.probing) return;
    u.probing = true;
    u.stats.probes++;
    const p = new Probe(this, Buffer.from(this.probeQuery));
    this.probes.add(p);
    startTry(p, u, false, this.o.ids.next(), this.o.readTimeoutMs);
    // a probe must not keep the process alive on its own
    p.timer?.unref();
    p.udp?.unref();
  }

  private finishProbe(p: Probe, ok: boolean): void {
    p.finished = true;
    this.probes.delete(p);
    const u = p.upstream!;
    u.probing = false;
    if (ok) u.stats.probeSuccesses++;
    else if (u.down) this.scheduleProbe(u);
  }
}
