/**
 * One monitored address in a scanner: its own fixed-rate schedule (a random first phase within the
 * period, then every period; missed slots are skipped, not queued), a round of checks through the
 * scanner's bounded pool, hysteresis, and the compare-and-swap write of a change with its reason.
 */
import { serializeHealthStatus } from '../records/health.js';
import type { Probe } from '../records/probe.js';
import type { HealthStatus } from '../records/types.js';
import { type Health, Hysteresis } from './hysteresis.js';
import type { ProbeResult } from './probe.js';
import type { Scanner, StatusEntry } from './scanner.js';

/** A probe that has not settled this long after its own timeout is given up (a pool slot is freed). */
const HARD_MARGIN_MS = 2000;

export class Target {
  readonly ip: string;
  readonly #s: Scanner;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #hyst: Hysteresis | undefined;
  /** When the next round is due (ms since the epoch). */
  #due = 0;
  #period = 0;
  /** The status value last warned about (so an unreadable status or bad probe is logged once). */
  #warned: string | undefined;

  constructor(s: Scanner, ip: string) {
    this.#s = s;
    this.ip = ip;
  }

  start(): void {
    const probe = this.#s.status(this.ip)?.probe;
    const p = probe instanceof Error ? undefined : probe;
    this.#period = p?.periodSeconds !== undefined ? p.periodSeconds * 1000 : this.#s.opts.checkIntervalMs;
    // the probe's initialDelaySeconds counts from when this scanner takes the address; then a
    // random phase of the period, so targets added together do not fire together
    const delay = (p?.initialDelaySeconds ?? 0) * 1000;
    this.#arm(Date.now() + delay + Math.floor(Math.random() * this.#period));
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  #arm(due: number): void {
    if (this.#stopped) return;
    this.#due = due;
    this.#timer = setTimeout(this.#fire, Math.max(0, due - Date.now()));
  }

  readonly #fire = (): void => {
    void this.#round();
  };

  async #round(): Promise<void> {
    const scheduled = this.#due;
    const started = Date.now();
    let period = this.#s.opts.checkIntervalMs;
    try {
      period = await this.#check(scheduled);
    } catch (err) {
      this.#s.opts.metrics?.storeErrors.inc();
      this.#s.opts.logger.warn({ ip: this.ip, err: (err as Error).message }, 'scanner: round failed');
    }
    const now = Date.now();
    this.#s.opts.metrics?.roundDuration.observe((now - started) / 1000);
    if (period !== this.#period) {
      // a new period (the probe changed): a new random phase within it
      this.#period = period;
      this.#arm(now + Math.floor(Math.random() * period));
      return;
    }
    let next = scheduled + period;
    if (next <= now) next += Math.ceil((now - next + 1) / period) * period;
    this.#arm(next);
  }

  /** One round; returns the period until the next. */
  async #check(scheduled: number): Promise<number> {
    const s = this.#s;
    const o = s.opts;
    const e = s.status(this.ip);
    if (e === undefined) return o.checkIntervalMs; // the scheduler removes the report soon
    const status = e.status;
    if (status instanceof Error) {
      this.#warnOnce(e.value, status.message, 'scanner: unreadable status; not checking');
      return o.checkIntervalMs;
    }
    const probe = e.probe;
    if (probe instanceof Error) {
      if (this.#warnOnce(e.value, probe.message, 'scanner: invalid probe; status left as it is'))
        o.metrics?.invalidProbes.inc();
      return o.checkIntervalMs;
    }
    const period = probe?.periodSeconds !== undefined ? probe.periodSeconds * 1000 : o.checkIntervalMs;
    const fall = probe?.failureThreshold ?? o.fall;
    const rise = probe?.successThreshold ?? o.rise;
    let h = this.#hyst;
    if (h === undefined || h.fall !== fall || h.rise !== rise)
      h = this.#hyst = new Hysteresis(fall, rise, status.status);
    else if (h.state !== status.status) h.reset(status.status); // written behind us: start from it

    const result = await s.limiter.run(() => {
      if (this.#stopped) return Promise.resolve(undefined);
      const lateness = Date.now() - scheduled;
      o.metrics?.observeLateness(lateness / 1000);
      return this.#run(probe, status);
    });
    if (result === undefined || this.#stopped) return period;
    o.metrics?.rounds.inc({ outcome: result.ok ? 'pass' : 'fail' });
    const to = h.observe(result.ok);
    if (to !== undefined && to !== status.status) await this.#write(e, status, to, result);
    return period;
  }

  /** The round's checks: the probe, else TCP to the ports (or scann-ports) and ICMP; any pass passes. */
  async #run(probe: Probe | undefined, status: HealthStatus): Promise<ProbeResult | undefined> {
    const o = this.#s.opts;
    const p = this.#s.probes;
    if (probe !== undefined) {
      const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
      return this.#timed(probe.handler.kind, timeoutMs, () =>
        p.run(this.ip, probe.handler, this.#s.probeContext(timeoutMs)),
      );
    }
    const ports = status.ports && status.ports.length > 0 ? status.ports : o.scanPorts;
    const checks: Promise<ProbeResult>[] = [];
    for (const port of ports) {
      const n = Number(port);
      if (Number.isInteger(n) && n >= 1 && n <= 65535)
        checks.push(this.#timed('tcpSocket', o.checkTimeoutMs, () => p.tcp(this.ip, n, o.checkTimeoutMs)));
    }
    if (o.enableIcmp)
      checks.push(
        this.#timed('icmp', o.pingTimeoutMs + o.pingCount * 200, () =>
          p.icmp(this.ip, o.pingCount, o.pingTimeoutMs),
        ),
      );
    if (checks.length === 0) {
      this.#warnOnce(
        '',
        '',
        'scanner: no probe, no ports in the status, no scann-ports, no ICMP: nothing to check',
      );
      return undefined;
    }
    const results = await Promise.all(checks);
    return results.find((r) => r.ok) ?? results[0];
  }

  /** One check, counted and timed, with a hard limit past its own timeout. */
  async #timed(type: string, timeoutMs: number, run: () => Promise<ProbeResult>): Promise<ProbeResult> {
    const m = this.#s.opts.metrics;
    const t0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const hard = new Promise<ProbeResult>((resolve) => {
      timer = setTimeout(
        () => resolve({ ok: false, reason: `timeout after ${timeoutMs / 1000}s`, class: 'timeout' }),
        timeoutMs + HARD_MARGIN_MS,
      );
    });
    let r: ProbeResult;
    try {
      r = await Promise.race([run(), hard]);
    } catch (err) {
      r = { ok: false, reason: `error: ${(err as Error).message}`, class: 'error' };
    } finally {
      clearTimeout(timer);
    }
    m?.observeProbe(type, r.ok, (performance.now() - t0) / 1000);
    return r;
  }

  async #write(e: StatusEntry, status: HealthStatus, to: Health, why: ProbeResult): Promise<void> {
    const o = this.#s.opts;
    const key = o.statusPath + this.ip;
    // every field the scanner does not own (probe, ports, admin, unknown ones) is kept
    const next = serializeHealthStatus({
      ...status,
      status: to,
      reason: why.reason,
      changed: new Date().toISOString(),
    });
    const r = await o.store.txn({
      compare: [{ key, op: 'modRevision', modRevision: e.modRevision }],
      success: [{ op: 'put', key, value: next }],
    });
    if (r.succeeded) {
      this.#s.wrote(this.ip, next, r.revision);
      o.metrics?.stateChanges.inc({ to, reason: why.class });
      o.logger.info({ ip: this.ip, from: status.status, to, reason: why.reason }, 'scanner: status changed');
    } else {
      // written since we read it: the next round reads the new value and decides again
      o.metrics?.writeConflicts.inc();
      o.logger.debug({ ip: this.ip }, 'scanner: status changed under us; retrying next round');
    }
  }

  /** Logs once per distinct status value; returns true when it logged. */
  #warnOnce(value: string, err: string, msg: string): boolean {
    if (this.#warned === value) return false;
    this.#warned = value;
    this.#s.opts.logger.warn(err ? { ip: this.ip, err } : { ip: this.ip }, msg);
    return true;
  }
}
