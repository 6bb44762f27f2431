/**
 * Test harness: a real, single-member etcd (Debian's etcd-server, /usr/bin/etcd) on free loopback
 * ports (test/harness/ports.ts) with a temporary data directory.
 *
 *   const etcd = await startEtcd();
 *   // ... use etcd.endpoint ('http://127.0.0.1:PORT') ...
 *   await etcd.kill();     // SIGKILL, waits for exit; the data dir stays
 *   await etcd.restart();  // same ports, same data, waits until healthy
 *   await etcd.stop();     // kill + remove the data dir (idempotent)
 *
 * etcd children never outlive the test process: they are killed on process 'exit' (and on
 * SIGINT/SIGTERM/SIGHUP), and where `setpriv` exists they are started with a parent-death
 * signal, so even a SIGKILLed test process takes its etcd with it.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { installExitHooks, liveChildren, liveDirs, setprivPath } from './children.js';
import { freePort } from './ports.js';

export const ETCD_BINARY = process.env.HADES_TEST_ETCD ?? '/usr/bin/etcd';

export interface EtcdTlsFiles {
  /** Server certificate (PEM file) for the client URL. */
  certFile: string;
  /** Server private key (PEM file). */
  keyFile: string;
  /** CA (PEM file) used to check the health endpoint and, with clientCertAuth, client certificates. */
  caFile: string;
  /** Require client certificates signed by caFile (etcd --client-cert-auth). */
  clientCertAuth?: boolean;
  /** Client cert/key the harness's health probe presents when clientCertAuth is on. */
  clientCertFile?: string;
  clientKeyFile?: string;
}

export interface StartEtcdOptions {
  /** Serve clients over https with these files. */
  tls?: EtcdTlsFiles;
  /** How long to wait for etcd to become healthy (default 30 s: a loaded machine is slow to start it). */
  startTimeoutMs?: number;
  /** Extra etcd flags, e.g. ['--auto-compaction-retention', '1']. */
  extraArgs?: string[];
}

export interface EtcdProcess {
  /** 'http://127.0.0.1:PORT' (or https:// with TLS). */
  readonly endpoint: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  /** Pid of the running etcd, or undefined when it is not running. */
  readonly pid: number | undefined;
  /** Sends `signal` (default SIGKILL) and waits for the process to exit. No-op when not running. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts etcd again on the same ports and data dir (killing it first if running); waits until healthy. */
  restart(): Promise<void>;
  /** Starts it again (killing it first if running) and waits only until it answers (a cluster member alone has no quorum). */
  restart(waitHealthy: boolean): Promise<void>;
  /** Kills etcd and removes its data dir. Idempotent. */
  stop(): Promise<void>;
  /** The last few KB of etcd's stderr, for diagnostics. */
  stderrTail(): string;
}

// ---------------------------------------------------------------------------------------------
// Children are killed and temp dirs removed when the test process ends: children.ts.

// ---------------------------------------------------------------------------------------------
// Helpers.

/** A port for a child (test/harness/ports.ts): nobody else takes it before the child binds it. */
export { freePort };

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Strips every ETCD_* variable: etcd reads them as its own flags. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('ETCD_')) env[k] = v;
  }
  return env;
}

interface HealthProbeTls {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** One GET /health; true when etcd says {"health":"true"} (`anyAnswer`: when it answers at all). */
function probeHealth(endpoint: string, tls: HealthProbeTls | undefined, anyAnswer = false): Promise<boolean> {
  return new Promise((resolve) => {
    const url = new URL('/health', endpoint);
    const onResponse = (res: http.IncomingMessage): void => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => {
        try {
          const health = JSON.parse(body).health;
          resolve(anyAnswer ? health !== undefined : res.statusCode === 200 && health === 'true');
        } catch {
          resolve(false);
        }
      });
      res.on('error', () => resolve(false));
    };
    const req =
      url.protocol === 'https:'
        ? https.get(
            url,
            { timeout: 1000, ca: tls?.ca, cert: tls?.cert, key: tls?.key, agent: false },
            onResponse,
          )
        : http.get(url, { timeout: 1000, agent: false }, onResponse);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
  });
}

class EtcdChild implements EtcdProcess {
  readonly endpoint: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stderrBuf = '';
  private stopped = false;
  private readonly probeTls: HealthProbeTls | undefined;
  readonly name: string;
  /** Cluster membership: `name=peerURL,…` and the token; undefined for a single member. */
  cluster: { initial: string; token: string } | undefined;

  constructor(
    readonly clientPort: number,
    readonly peerPort: number,
    readonly dataDir: string,
    private readonly opts: StartEtcdOptions,
  ) {
    const scheme = opts.tls ? 'https' : 'http';
    this.endpoint = `${scheme}://127.0.0.1:${clientPort}`;
    this.name = `hades-test-${clientPort}`;
    if (opts.tls) {
      this.probeTls = {
        ca: readFileSync(opts.tls.caFile),
        cert: opts.tls.clientCertFile ? readFileSync(opts.tls.clientCertFile) : undefined,
        key: opts.tls.clientKeyFile ? readFileSync(opts.tls.clientKeyFile) : undefined,
      };
    }
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  stderrTail(): string {
    return this.stderrBuf;
  }

  private args(): string[] {
    const peerUrl = `http://127.0.0.1:${this.peerPort}`;
    const args = [
      '--name',
      this.name,
      '--data-dir',
      this.dataDir,
      '--listen-client-urls',
      this.endpoint,
      '--advertise-client-urls',
      this.endpoint,
      '--listen-peer-urls',
      peerUrl,
      '--initial-advertise-peer-urls',
      peerUrl,
      '--initial-cluster',
      this.cluster?.initial ?? `${this.name}=${peerUrl}`,
      '--initial-cluster-state',
      'new',
      '--initial-cluster-token',
      this.cluster?.token ?? this.name,
      '--heartbeat-interval',
      '10',
      '--election-timeout',
      '100',
      '--logger',
      'zap',
      '--log-outputs',
      'stderr',
      '--log-level',
      'warn',
    ];
    const tls = this.opts.tls;
    if (tls) {
      args.push('--cert-file', tls.certFile, '--key-file', tls.keyFile, '--trusted-ca-file', tls.caFile);
      if (tls.clientCertAuth) args.push('--client-cert-auth');
    }
    if (this.opts.extraArgs) args.push(...this.opts.extraArgs);
    return args;
  }

  private appendStderr(chunk: string): void {
    this.stderrBuf += chunk;
    if (this.stderrBuf.length > 8192) this.stderrBuf = this.stderrBuf.slice(-8192);
  }

  /**
   * Spawns etcd and waits until /health says true (`waitHealthy` false: until it answers at all,
   * healthy or not — a cluster member alone has no quorum). Throws with etcd's stderr tail on failure.
   */
  async start(waitHealthy = true): Promise<void> {
    if (this.stopped) throw new Error('etcd harness: start after stop');
    installExitHooks();
    this.stderrBuf = '';
    const [cmd, argv] = setprivPath
      ? [setprivPath, ['--pdeathsig', 'KILL', ETCD_BINARY, ...this.args()]]
      : [ETCD_BINARY, this.args()];
    const child = spawn(cmd, argv, { env: childEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    liveChildren.add(child);
    let exitInfo: string | undefined;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        exitInfo = signal ? `signal ${signal}` : `code ${code}`;
        liveChildren.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      });
      child.once('error', (err) => {
        exitInfo = `spawn error: ${err.message}`;
        liveChildren.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => this.appendStderr(chunk));

    const timeoutMs = this.opts.startTimeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    let delay = 20;
    while (Date.now() < deadline) {
      if (exitInfo !== undefined) {
        throw new Error(
          `etcd exited during start (${exitInfo}) [${this.endpoint}, data ${this.dataDir}]\n` +
            `--- etcd stderr (tail) ---\n${this.stderrBuf}`,
        );
      }
      if (await probeHealth(this.endpoint, this.probeTls, !waitHealthy)) return;
      await sleep(delay);
      delay = Math.min(delay * 2, 200);
    }
    const tail = this.stderrBuf;
    await this.kill();
    throw new Error(
      `etcd did not become healthy within ${timeoutMs} ms [${this.endpoint}, data ${this.dataDir}]\n` +
        `--- etcd stderr (tail) ---\n${tail}`,
    );
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    }
    await this.exited;
  }

  async restart(waitHealthy = true): Promise<void> {
    await this.kill();
    await this.start(waitHealthy);
  }

  async stop(): Promise<void> {
    if (this.stopped) {
      await this.exited;
      return;
    }
    this.stopped = true;
    await this.kill();
    await rm(this.dataDir, { recursive: true, force: true });
    liveDirs.delete(this.dataDir);
  }
}

/** Starts a fresh single-member etcd on free loopback ports with a temp data dir; waits until healthy. */
export async function startEtcd(opts: StartEtcdOptions = {}): Promise<EtcdProcess> {
  let lastErr: unknown;
  // The ports are this process's (test/harness/ports.ts); should some program outside the tests
  // bind one between the check and etcd's bind, start again on new ones.
  for (let attempt = 0; attempt < 3; attempt++) {
    const clientPort = await freePort();
    const peerPort = await freePort();
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hades-etcd-'));
    liveDirs.add(dataDir);
    const etcd = new EtcdChild(clientPort, peerPort, dataDir, opts);
    try {
      await etcd.start();
      return etcd;
    } catch (err) {
      lastErr = err;
      await etcd.stop();
      if (!/address already in use/i.test(String((err as Error).message))) break;
    }
  }
  throw lastErr;
}

// ---------------------------------------------------------------------------------------------
// Clusters.

export interface MemberStatus {
  /** The member's own id and the leader it sees ('0' when it sees none). */
  id: string;
  leader: string;
  raftTerm: number;
  errors: string[];
}

/** One POST /v3/maintenance/status (the JSON gateway); undefined when the member does not answer. */
export async function memberStatus(endpoint: string): Promise<MemberStatus | undefined> {
  try {
    const res = await fetch(`${endpoint}/v3/maintenance/status`, {
      method: 'POST',
      body: '{}',
      signal: AbortSignal.timeout(1000),
    });
    if (res.status !== 200) return undefined;
    const b = (await res.json()) as {
      header?: { member_id?: string };
      leader?: string;
      raftTerm?: string;
      errors?: string[];
    };
    return {
      id: b.header?.member_id ?? '',
      leader: b.leader ?? '0',
      raftTerm: Number(b.raftTerm ?? 0),
      errors: b.errors ?? [],
    };
  } catch {
    return undefined;
  }
}

export interface EtcdCluster {
  readonly members: EtcdProcess[];
  /** Every member's client URL, in member order. */
  readonly endpoints: string[];
  /** The member every running member agrees is the leader (waits up to `timeoutMs`, default 15 s). */
  leader(timeoutMs?: number): Promise<EtcdProcess>;
  /** Starts member `i` again (same ports, same data); waits until it answers, not for quorum. */
  restartMember(i: number): Promise<void>;
  /** Kills every member and removes their data dirs. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts an `n`-member etcd cluster on loopback (free client and peer ports per member, one
 * `--initial-cluster`), waits until every member is healthy. Plain http only.
 */
export async function startEtcdCluster(
  n: number,
  opts: Omit<StartEtcdOptions, 'tls'> = {},
): Promise<EtcdCluster> {
  const members: EtcdChild[] = [];
  for (let i = 0; i < n; i++) {
    const clientPort = await freePort();
    const peerPort = await freePort();
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hades-etcd-'));
    liveDirs.add(dataDir);
    members.push(new EtcdChild(clientPort, peerPort, dataDir, opts));
  }
  const initial = members.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(',');
  const token = `hades-test-cluster-${members[0].clientPort}`;
  for (const m of members) m.cluster = { initial, token };
  const stop = async (): Promise<void> => {
    await Promise.all(members.map((m) => m.stop()));
  };
  try {
    // A member alone is not healthy (no quorum): start all, then wait for health.
    await Promise.all(members.map((m) => m.start(false)));
    const deadline = Date.now() + (opts.startTimeoutMs ?? 30_000);
    for (;;) {
      const ok = await Promise.all(members.map((m) => probeHealth(m.endpoint, undefined)));
      if (ok.every(Boolean)) break;
      if (Date.now() > deadline) {
        throw new Error(
          `etcd cluster did not become healthy\n${members.map((m) => m.stderrTail()).join('\n---\n')}`,
        );
      }
      await sleep(50);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.endpoint),
    async leader(timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const running = members.filter((m) => m.pid !== undefined);
        const st = await Promise.all(running.map((m) => memberStatus(m.endpoint)));
        const leaders = new Set(st.map((s) => s?.leader ?? '?'));
        if (leaders.size === 1 && !leaders.has('?') && !leaders.has('0')) {
          const id = [...leaders][0];
          const i = st.findIndex((s) => s?.id === id);
          if (i >= 0) return running[i];
        }
        if (Date.now() > deadline) throw new Error(`etcd cluster: no agreed leader within ${timeoutMs} ms`);
        await sleep(50);
      }
    },
    async restartMember(i: number) {
      await members[i].restart(false);
    },
    stop,
  };
  return cluster;
}
