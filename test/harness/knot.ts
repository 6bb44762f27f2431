/**
 * Test harness: a real Knot DNS (Debian's `knot`, /usr/sbin/knotd 3.2) as a SECONDARY of a
 * primary on loopback (hades, in the zone-transfer tests), and a small Knot PRIMARY
 * (`startKnotPrimary`) that this harness's own test uses in hades's place.
 *
 *   const knot = await startKnotSecondary({ primary: { host: '127.0.0.1', port }, zones: ['example.test.'], key });
 *   await knot.waitSerial('example.test.', 7);   // loaded by AXFR/IXFR with serial >= 7
 *   // ... query knot.port with dig/kdig, assert on knot.log() ...
 *   await knot.stop();
 *
 * Everything lives in a mkdtemp dir (config, rundir, storage: journal, timers and KASP dbs, the
 * control socket `knot.sock` that knotc talks to); knotd listens on one port from
 * test/harness/ports.ts, UDP and TCP. It runs as the current user (root in CI: `user` is not set,
 * so knotd keeps it). knotd children never outlive the test process: killed on process 'exit'
 * (and SIGINT/SIGTERM/SIGHUP), started with a parent-death signal where `setpriv` exists.
 *
 * The secondary's config: a `remote` for the primary (with the TSIG key when given, used for its
 * SOA queries and transfers), an `acl` allowing NOTIFY from the primary's address (and key), one
 * `zone` per name with `master:` that remote and `acl:` that acl; `zonefile-load: none` and
 * `zonefile-sync: -1` (no zone files are read or written: the zone comes only by transfer),
 * `journal-content: changes`, and Knot's lowest timer floors: `refresh-min-interval: 2`,
 * `retry-min-interval: 1`, `expire-min-interval: 3` (the minimums knot.conf(5) of 3.2 gives). Not in Knot 3.2:
 * `master-pin-tolerance` (3.3+; 3.2 has no master pinning, so nothing to switch off) and any
 * option making a secondary request AXFR only (see `ixfr`).
 *
 * Knot's log (stderr, info level; `log()`), as written by knotd 3.2.6 — each line starts with a
 * timestamp and `info: ` / `warning: ` / `error: `, then `[zone.] `:
 *
 *   zone will be bootstrapped                                            (no data yet: AXFR first)
 *   AXFR, incoming, remote 127.0.0.1@PORT, started
 *   AXFR, incoming, remote 127.0.0.1@PORT, finished, 0.00 seconds, 1 messages, 184 bytes
 *   refresh, remote 127.0.0.1@PORT, zone updated, 0.00 seconds, serial none -> 1, expires in 86400 seconds
 *   notify, incoming, remote 127.0.0.1@SRCPORT, serial 2                (NOTIFY received, accepted)
 *   refresh, remote 127.0.0.1@PORT, remote serial 2, zone is outdated    (its SOA query)
 *   IXFR, incoming, remote 127.0.0.1@PORT, started
 *   IXFR, incoming, remote 127.0.0.1@PORT, finished, 0.00 seconds, 1 messages, 253 bytes
 *   refresh, remote 127.0.0.1@PORT, zone updated, 0.00 seconds, serial 1 -> 2, expires in 86400 seconds
 *   IXFR, incoming, remote 127.0.0.1@PORT, receiving AXFR-style IXFR     (IXFR asked, full zone answered;
 *                                                                         then the AXFR lines follow)
 *   refresh, remote 127.0.0.1@PORT, fallback to AXFR (…)                 (IXFR failed, e.g. NOTIMP/FORMERR;
 *                                                                         wording from Knot's source, not seen here)
 *
 * A refresh that fails (the secondary's TSIG secret differs from the primary's):
 *
 *   refresh, remote primary, address 127.0.0.1@PORT, failed (failed to verify TSIG)
 *   refresh, remote primary not usable
 *   refresh, failed (no usable master), next retry at 2026-…            (a zone not loaded yet backs off
 *                                                                         up to minutes: `refresh()` asks now)
 *
 * The same "failed to verify TSIG" when the primary answers unsigned (no key there). A NOTIFY the
 * secondary refuses (unsigned: NOTAUTH, as an ACL refusal; wrong secret: BADSIG) is NOT in its info log:
 * only the sender sees the error (a Knot primary logs `notify, outgoing, remote …, server
 * responded with error 'BADSIG'`). NOTIFY must come from `primary.host` (the acl's address).
 *
 * Serials: `serial()` asks Knot for the zone's SOA (kdig, UDP, no recursion): a zone Knot has not
 * loaded answers SERVFAIL, which reads as undefined. `waitSerial` compares plainly (no RFC 1982
 * wrap-around).
 */

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { installExitHooks, liveChildren, liveDirs, setprivPath } from './children.js';
import { freePort } from './ports.js';

export const KNOTD_BINARY = process.env.HADES_TEST_KNOTD ?? '/usr/sbin/knotd';
export const KNOTC_BINARY = process.env.HADES_TEST_KNOTC ?? path.join(path.dirname(KNOTD_BINARY), 'knotc');
const KDIG = 'kdig';

export interface KnotKey {
  name: string;
  /** e.g. 'hmac-sha256' */
  algorithm: string;
  /** base64 */
  secret: string;
}

export interface KnotSecondaryOptions {
  /** Loopback address of the primary (hades). */
  primary: { host: string; port: number };
  /** FQDNs with trailing dot. */
  zones: readonly string[];
  /** TSIG for transfers, SOA queries and NOTIFY from the primary. */
  key?: KnotKey;
  /**
   * IXFR from the primary (default true). false: Knot 3.2 has no option for a secondary that asks
   * AXFR only (checked against knot.conf(5) of 3.2.6), so the harness can only make ITS refreshes
   * AXFR: `refresh()` becomes `knotc zone-retransfer`. Knot's own refreshes (after a NOTIFY, or the
   * SOA refresh timer) of a loaded zone still send IXFR (with the zone's SOA); a primary without
   * IXFR answers it with the whole zone ("receiving AXFR-style IXFR") or an error such as NOTIMP
   * (Knot then logs "fallback to AXFR" and asks AXFR). The first transfer is always AXFR.
   */
  ixfr?: boolean;
  /** Listen address, default 127.0.0.1. */
  host?: string;
}

export interface KnotSecondary {
  /** Where Knot answers queries (UDP and TCP), a free port from test/harness/ports.ts. */
  readonly port: number;
  readonly pid: number;
  /** The serial Knot has loaded for the zone (a SOA query to it), undefined when not loaded. */
  serial(zone: string): Promise<number | undefined>;
  /** Waits until the zone is loaded with serial >= min (polling, default timeout 60 s; throws with Knot's log tail). */
  waitSerial(zone: string, min: number, timeoutMs?: number): Promise<number>;
  /** knotc zone-refresh (with `ixfr: false`: zone-retransfer). Returns once Knot has queued it. */
  refresh(zone: string): Promise<void>;
  /** knotc zone-retransfer: AXFR, whatever the serials. Returns once Knot has queued it. */
  retransfer(zone: string): Promise<void>;
  /** Knot's log so far (stderr, info level; the last 2 MB). */
  log(): string;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Children are killed and temp dirs removed when the test process ends: children.ts.

// ---------------------------------------------------------------------------------------------
// Helpers.

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end (never throws: a spawn error reads as code -1). */
function run(cmd: string, args: readonly string[], timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr: stderr || (err && code === -1 ? err.message : '') });
    });
  });
}

/** A Knot config string (paths, secrets), double-quoted. */
function q(s: string): string {
  return JSON.stringify(s);
}

function absolute(zone: string): string {
  return zone.endsWith('.') ? zone : `${zone}.`;
}

const LOG_MAX = 2 * 1024 * 1024;

function keySection(key: KnotKey | undefined): string {
  if (!key) return '';
  return `key:
  - id: ${key.name}
    algorithm: ${key.algorithm}
    secret: ${q(key.secret)}

`;
}

/** One knotd: config in `dir`, stderr kept, knotc through `dir/knot.sock`. */
class KnotChild {
  readonly confPath: string;
  readonly sock: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private exitInfo: string | undefined;
  private logBuf = '';
  private stopped = false;

  constructor(
    readonly role: string,
    readonly dir: string,
    readonly host: string,
    readonly port: number,
  ) {
    this.confPath = path.join(dir, 'knot.conf');
    this.sock = path.join(dir, 'knot.sock');
  }

  get pid(): number {
    return this.child?.pid ?? 0;
  }

  log(): string {
    return this.logBuf;
  }

  tail(n = 40): string {
    return this.logBuf
      .split('\n')
      .slice(-n - 1)
      .join('\n');
  }

  describe(): string {
    return `[knot ${this.role} ${this.host}@${this.port}, dir ${this.dir}]`;
  }

  /** `server:`, `log:`, `database:` and `control:`: the part every Knot here shares. */
  serverSection(): string {
    return `server:
    rundir: ${q(this.dir)}
    listen: ${this.host}@${this.port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1

log:
  - target: stderr
    any: info

database:
    storage: ${q(this.dir)}

control:
    listen: ${q(this.sock)}

`;
  }

  /** Writes the config, checks it (knotc conf-check), starts knotd, waits until knotc reaches it. */
  async start(conf: string, timeoutMs = 30_000): Promise<void> {
    installExitHooks();
    await writeFile(this.confPath, conf);
    const check = await run(KNOTC_BINARY, ['-c', this.confPath, 'conf-check']);
    if (check.code !== 0) {
      throw new Error(
        `knot ${this.role}: invalid config (knotc conf-check: ${check.code})\n${check.stderr}${check.stdout}\n` +
          `--- ${this.confPath} ---\n${conf}`,
      );
    }
    const args = ['-c', this.confPath];
    const [cmd, argv] = setprivPath
      ? [setprivPath, ['--pdeathsig', 'KILL', KNOTD_BINARY, ...args]]
      : [KNOTD_BINARY, args];
    const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    liveChildren.add(child);
    this.exited = new Promise<void>((resolve) => {
      const done = (info: string): void => {
        this.exitInfo ??= info;
        liveChildren.delete(child);
        resolve();
      };
      child.once('exit', (code, signal) => done(signal ? `signal ${signal}` : `code ${code}`));
      child.once('error', (err) => done(`spawn error: ${err.message}`));
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.logBuf += chunk;
      if (this.logBuf.length > LOG_MAX) this.logBuf = this.logBuf.slice(-LOG_MAX);
    });

    const deadline = Date.now() + timeoutMs;
    let delay = 20;
    for (;;) {
      if (this.exitInfo !== undefined) {
        throw new Error(
          `knotd exited during start (${this.exitInfo}) ${this.describe()}\n--- knotd log (tail) ---\n${this.tail()}`,
        );
      }
      // the control socket is bound after the listen sockets and the zones' setup
      const st = await run(KNOTC_BINARY, ['-s', this.sock, '-t', '5', 'status'], 10_000);
      if (st.code === 0) return;
      if (Date.now() > deadline) {
        const tail = this.tail();
        await this.kill();
        throw new Error(
          `knotd did not answer knotc within ${timeoutMs} ms ${this.describe()}: ${st.stderr.trim()}\n` +
            `--- knotd log (tail) ---\n${tail}`,
        );
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 200);
    }
  }

  /** Problems that mean "some process held the port": start again on another one. */
  portTaken(): boolean {
    return /address already in use/i.test(this.logBuf);
  }

  running(): boolean {
    return this.exitInfo === undefined && this.child !== undefined;
  }

  exitReason(): string | undefined {
    return this.exitInfo;
  }

  /** knotc against this knotd; throws with knotc's output and the log tail unless it succeeds. */
  async knotc(...args: string[]): Promise<string> {
    const r = await run(KNOTC_BINARY, ['-s', this.sock, '-t', '60', ...args], 90_000);
    if (r.code !== 0 || /^error:/m.test(r.stdout + r.stderr)) {
      throw new Error(
        `knotc ${args.join(' ')} failed (${r.code}): ${(r.stderr + r.stdout).trim()} ${this.describe()}\n` +
          `--- knotd log (tail) ---\n${this.tail()}`,
      );
    }
    return r.stdout;
  }

  /** SOA serial of `zone` as Knot answers it (kdig over UDP); undefined when Knot does not serve it. */
  async soaSerial(zone: string): Promise<number | undefined> {
    const r = await run(
      KDIG,
      [
        `@${this.host}`,
        '-p',
        String(this.port),
        '+norec',
        '+timeout=2',
        '+retry=0',
        '+short',
        absolute(zone),
        'SOA',
      ],
      10_000,
    );
    if (r.code !== 0) return undefined;
    const fields = r.stdout.trim().split(/\s+/);
    if (fields.length < 7) return undefined;
    const serial = Number(fields[2]);
    return Number.isInteger(serial) ? serial : undefined;
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
    await this.exited;
  }

  /** SIGTERM (SIGKILL after 10 s), waits for the exit, removes the dir. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) {
      await this.exited;
      return;
    }
    this.stopped = true;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(timer);
    }
    await rm(this.dir, { recursive: true, force: true });
    liveDirs.delete(this.dir);
  }
}

/** Starts a knotd with the config `confOf(knot)` on a fresh port and dir; a taken port: new ones, 3 tries. */
async function launch(
  role: string,
  host: string,
  confOf: (k: KnotChild) => string,
  prepare?: (k: KnotChild) => Promise<void>,
  fixedPort?: number,
): Promise<KnotChild> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < (fixedPort === undefined ? 3 : 1); attempt++) {
    const port = fixedPort ?? (await freePort());
    const dir = await mkdtemp(path.join(os.tmpdir(), `hades-knot-${role}-`));
    liveDirs.add(dir);
    const knot = new KnotChild(role, dir, host, port);
    try {
      await prepare?.(knot);
      await knot.start(confOf(knot));
      return knot;
    } catch (err) {
      lastErr = err;
      const taken = knot.portTaken();
      await knot.stop();
      if (!taken) break;
    }
  }
  throw lastErr;
}

// ---------------------------------------------------------------------------------------------
// The secondary.

function secondaryConf(k: KnotChild, o: KnotSecondaryOptions): string {
  const key = o.key;
  const zones = o.zones
    .map(
      (z) => `  - domain: ${absolute(z)}
    master: primary
    acl: notify_from_primary
`,
    )
    .join('');
  return `${k.serverSection()}${keySection(key)}remote:
  - id: primary
    address: ${o.primary.host}@${o.primary.port}
${key ? `    key: ${key.name}\n` : ''}
acl:
  - id: notify_from_primary
    address: ${o.primary.host}
${key ? `    key: ${key.name}\n` : ''}    action: notify

template:
  - id: default
    storage: ${q(k.dir)}
    zonefile-load: none
    zonefile-sync: -1
    journal-content: changes
    refresh-min-interval: 2
    retry-min-interval: 1
    expire-min-interval: 3

zone:
${zones}`;
}

/** Starts Knot as a secondary of `o.primary` for `o.zones`; resolves once knotd runs (zones may still be loading). */
export async function startKnotSecondary(o: KnotSecondaryOptions): Promise<KnotSecondary> {
  const host = o.host ?? '127.0.0.1';
  const knot = await launch('secondary', host, (k) => secondaryConf(k, o));
  const ixfr = o.ixfr ?? true;
  const serial = (zone: string): Promise<number | undefined> => knot.soaSerial(zone);
  return {
    port: knot.port,
    pid: knot.pid,
    serial,
    async waitSerial(zone: string, min: number, timeoutMs = 60_000): Promise<number> {
      const deadline = Date.now() + timeoutMs;
      let last: number | undefined;
      for (;;) {
        last = await serial(zone);
        if (last !== undefined && last >= min) return last;
        if (!knot.running() || Date.now() > deadline) {
          const why = knot.running() ? `within ${timeoutMs} ms` : `(knotd exited: ${knot.exitReason()})`;
          throw new Error(
            `knot secondary: ${absolute(zone)} not loaded with serial >= ${min} ${why}; serial now ${last ?? 'none'} ` +
              `${knot.describe()}\n--- knotd log (tail) ---\n${knot.tail()}`,
          );
        }
        await sleep(100);
      }
    },
    async refresh(zone: string): Promise<void> {
      await knot.knotc(ixfr ? 'zone-refresh' : 'zone-retransfer', absolute(zone));
    },
    async retransfer(zone: string): Promise<void> {
      await knot.knotc('zone-retransfer', absolute(zone));
    },
    log: () => knot.log(),
    stop: () => knot.stop(),
  };
}

// ---------------------------------------------------------------------------------------------
// A primary, for testing this harness without hades.

export interface KnotPrimaryOptions {
  /** Zone name (FQDN) → zone file text. */
  zones: Readonly<Record<string, string>>;
  /** TSIG key required for transfers and used for the NOTIFYs it sends. */
  key?: KnotKey;
  /** Where to send NOTIFY (each zone, on load and on every change). */
  notify?: readonly { host: string; port: number }[];
  /** Listen address, default 127.0.0.1. Transfers are allowed from 127.0.0.0/8. */
  host?: string;
  /** Its port, e.g. one from freePort() already given to a secondary (default: a free one). */
  port?: number;
}

export interface KnotPrimary {
  readonly port: number;
  readonly pid: number;
  /** Rewrites the zone's file and has Knot reload it (`knotc -b zone-reload`: returns once loaded); a new serial is NOTIFYed. */
  setZone(zone: string, text: string): Promise<void>;
  log(): string;
  stop(): Promise<void>;
}

function zoneFile(zone: string): string {
  return `${absolute(zone).replace(/\.$/, '') || 'root'}.zone`;
}

function primaryConf(k: KnotChild, o: KnotPrimaryOptions): string {
  const key = o.key;
  const notify = o.notify ?? [];
  const remotes = notify
    .map(
      (n, i) => `  - id: secondary${i}
    address: ${n.host}@${n.port}
${key ? `    key: ${key.name}\n` : ''}`,
    )
    .join('');
  const zones = Object.keys(o.zones)
    .map(
      (z) => `  - domain: ${absolute(z)}
    file: ${q(zoneFile(z))}
    acl: transfer_to_loopback
${notify.length > 0 ? `    notify: [${notify.map((_, i) => `secondary${i}`).join(', ')}]\n` : ''}`,
    )
    .join('');
  return `${k.serverSection()}${keySection(key)}${remotes ? `remote:\n${remotes}\n` : ''}acl:
  - id: transfer_to_loopback
    address: 127.0.0.0/8
${key ? `    key: ${key.name}\n` : ''}    action: transfer

template:
  - id: default
    storage: ${q(k.dir)}
    zonefile-sync: -1
    zonefile-load: difference
    journal-content: changes

zone:
${zones}`;
}

/**
 * Starts Knot as a primary serving `o.zones` from zone files (`zonefile-load: difference`: each
 * reload's difference goes to the journal, so it answers IXFR), allowing transfers from loopback
 * (with the key when given) and NOTIFYing `o.notify`. Resolves once every zone is served.
 */
export async function startKnotPrimary(o: KnotPrimaryOptions): Promise<KnotPrimary> {
  const host = o.host ?? '127.0.0.1';
  const knot = await launch(
    'primary',
    host,
    (k) => primaryConf(k, o),
    async (k) => {
      for (const [zone, text] of Object.entries(o.zones))
        await writeFile(path.join(k.dir, zoneFile(zone)), text);
    },
    o.port,
  );
  const ready = async (): Promise<void> => {
    for (const zone of Object.keys(o.zones)) {
      const deadline = Date.now() + 30_000;
      while ((await knot.soaSerial(zone)) === undefined) {
        if (Date.now() > deadline) {
          const tail = knot.tail();
          await knot.stop();
          throw new Error(
            `knot primary: ${zone} not served ${knot.describe()}\n--- knotd log (tail) ---\n${tail}`,
          );
        }
        await sleep(50);
      }
    }
  };
  await ready();
  return {
    port: knot.port,
    pid: knot.pid,
    async setZone(zone: string, text: string): Promise<void> {
      await writeFile(path.join(knot.dir, zoneFile(zone)), text);
      await knot.knotc('-b', 'zone-reload', absolute(zone)); // -b: returns once loaded
    },
    log: () => knot.log(),
    stop: () => knot.stop(),
  };
}
