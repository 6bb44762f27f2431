/**
 * The health overlay: the UP/DOWN state of each monitored IP, fed from the health prefix
 * (`/hades/monitor/status/<ip>` = `{"status":"UP"|"DOWN","ports":[…]}`). An IP with no entry is
 * unmonitored (served). Pure data structure, like the record index.
 */
import type { HealthState } from '../records/types.js';
import { nextStamp } from './record-index.js';

export class HealthOverlay {
  private readonly states = new Map<string, HealthState>();
  private gen = nextStamp();

  /**
   * Stamp of the last change of any IP's state (from the same process-wide sequence as the
   * index generations: unique, only grows). Rewrites that keep an IP's state do not change it.
   */
  get generation(): number {
    return this.gen;
  }

  /** Number of monitored IPs. */
  get size(): number {
    return this.states.size;
  }

  /** The state of an IP (canonical text form), or undefined when it is not monitored. */
  health(ip: string): HealthState | undefined {
    return this.states.get(ip);
  }

  /** Sets an IP's state. Returns true when the state changed. */
  set(ip: string, state: HealthState): boolean {
    if (this.states.get(ip) === state) return false;
    this.states.set(ip, state);
    this.gen = nextStamp();
    return true;
  }

  /** Forgets an IP (it becomes unmonitored). Returns true when it was there. */
  delete(ip: string): boolean {
    if (!this.states.delete(ip)) return false;
    this.gen = nextStamp();
    return true;
  }

  forEach(fn: (state: HealthState, ip: string) => void): void {
    this.states.forEach(fn);
  }
}
