/**
 * The health overlay: the UP/DOWN state of each monitored IP and whether it is drained, fed from
 * the health prefix (`/hades/monitor/status/<ip>` = `{"status":"UP"|"DOWN","admin":"drain",…}`).
 * An IP with no entry is unmonitored (served). Pure data structure, like the record index.
 */
import type { HealthState } from '../records/types.js';
import { nextStamp } from './record-index.js';

export class HealthOverlay {
  private readonly states = new Map<string, HealthState>();
  /** IPs whose status says `"admin":"drain"`; a subset of the keys of `states`. */
  private readonly drains = new Set<string>();
  private gen = nextStamp();

  /**
   * Stamp of the last change of any IP's state or drain (from the same process-wide sequence as
   * the index generations: unique, only grows). Rewrites that keep both do not change it.
   */
  get generation(): number {
    return this.gen;
  }

  /** Number of monitored IPs. */
  get size(): number {
    return this.states.size;
  }

  /** Number of drained IPs. */
  get drainedCount(): number {
    return this.drains.size;
  }

  /** The state of an IP (canonical text form), or undefined when it is not monitored. */
  health(ip: string): HealthState | undefined {
    return this.states.get(ip);
  }

  /** The IP is drained: never served, whatever its state. */
  drained(ip: string): boolean {
    // most catalogs have no drain at all: skip the hash lookup then
    return this.drains.size !== 0 && this.drains.has(ip);
  }

  /** Sets an IP's state and drain. Returns true when either changed. */
  set(ip: string, state: HealthState, drained = false): boolean {
    const sameState = this.states.get(ip) === state;
    const sameDrain = this.drains.has(ip) === drained;
    if (sameState && sameDrain) return false;
    if (!sameState) this.states.set(ip, state);
    if (!sameDrain) {
      if (drained) this.drains.add(ip);
      else this.drains.delete(ip);
    }
    this.gen = nextStamp();
    return true;
  }

  /** Forgets an IP (it becomes unmonitored, and not drained). Returns true when it was there. */
  delete(ip: string): boolean {
    if (!this.states.delete(ip)) return false;
    this.drains.delete(ip);
    this.gen = nextStamp();
    return true;
  }

  forEach(fn: (state: HealthState, ip: string, drained: boolean) => void): void {
    this.states.forEach((state, ip) => {
      fn(state, ip, this.drains.has(ip));
    });
  }
}
