/**
 * Starts the real `hades` binary (dist/src/bin/hades.js) as a child process for integration tests
 * and waits until it answers `dig <zone> SOA` (or its standalone banner). Children never outlive
 * the test process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HADES_NODE_FLAGS } from '../../src/dns/memory.js';
import { openEtcdStore } from '../../src/store/etcd/etcd.js';
import type { Store } from '../../src/store/types.js';
import { type EtcdProcess, startEtcd } from '../harness/etcd.js';
import { freePort } from '../harness/ports.js';
import { dig, digStatus, sleep } from './clients.js';
import { loadRecords, ZONES } from './records.js';

export const HADES_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/bin/hades.js');

const live = new Set<ChildProcess>();
let hooked = false;
function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const c of live) {
      try {
        c.kill('SIGKILL');
      } catch {
        // gone
      }
    }
  });
}

export interface HadesProc {
  readonly child: ChildProcess;
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or 128+signal) once the process has exited. */
  readonly exited: Promise<number>;
  /** Sends `signal` (default SIGTERM) and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Command prefix, e.g. ['ip', 'netns', 'exec', ns]. */
  wrap?: string[];
  /** node's flags before the script; default HADES_NODE_FLAGS, those of the bin's shebang. */
  nodeFlags?: readonly string[];
  /** Runs this file (an executable link to the bin) itself, through its shebang, as npm's bin link does. */
  viaShebang?: string;
  /** Another build's hades.js instead of this one's (bench/qps --baseline). */
  bin?: string;
}

/** A dead upstream for -nameservers: a loopback port nothing listens on (discard), so tries fail at once. */
export const NO_UPSTREAM = '127.0.0.1:9';

const SIGNUM: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGHUP: 1 };

/**
 * Spawns `node <HADES_NODE_FLAGS> hades.js ...args`, as the bin's shebang runs it (with this
 * process's node), without waiting for anything.
 */
export function spawnHades(args: string[], opts: SpawnOptions = {}): HadesProc {
  hook();
  const env: NodeJS.ProcessEnv = {};
  // no HADES_* or ETCD_* from the test environment leak into the child's flags
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('HADES_') && !k.startsWith('ETCD_')) env[k] = v;
  // test traffic stays on loopback: without this, names outside -domain (and out-of-zone CNAME
  // targets) would be forwarded to the resolvers of /etc/resolv.conf. By default no forwarding
  // (REFUSED, as before it existed); a test that forwards passes -nameservers (which wins).
  env.HADES_NAMESERVERS = 'none';
  Object.assign(env, opts.env ?? {});
  const argv = opts.viaShebang
    ? [opts.viaShebang, ...args]
    : [process.execPath, ...(opts.nodeFlags ?? HADES_NODE_FLAGS), opts.bin ?? HADES_BIN, ...args];
  const cmd = opts.wrap ? [...opts.wrap, ...argv] : argv;
  const child = spawn(cmd[0], cmd.slice(1), { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (s: string) => {
    out += s;
  });
  child.stderr?.on('data', (s: string) => {
    err += s;
    if (err.length > 200_000) err = err.slice(-100_000);
  });
  const exited = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve(code ?? 128 + (SIGNUM[signal ?? ''] ?? 0));
    });
  });
  return {
    child,
    pid: child.pid ?? 0,
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          child.kill(signal);
        } catch {
          // gone
        }
      }
      return exited;
    },
  };
}

/** Waits until `dig @host -p port zone SOA` says NOERROR; throws with hades's stderr otherwise. */
export async function waitAnswering(
  h: HadesProc,
  port: number,
  zone = 'hades.local.',
  host = '127.0.0.1',
  timeoutMs = 20_000,
  digWrap?: (args: string[]) => Promise<{ stdout: string }>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | undefined;
  void h.exited.then((c) => {
    exitCode = c;
  });
  for (;;) {
    if (exitCode !== undefined)
      throw new Error(`hades exited with ${exitCode} before answering\n--- stderr ---\n${h.stderr()}`);
    const args = ['+time=1', '+tries=1', zone, 'SOA'];
    const r = digWrap ? await digWrap(args) : await dig(port, args, host);
    if (digStatus(r.stdout) === 'NOERROR') return;
    if (Date.now() > deadline)
      throw new Error(
        `hades did not answer ${zone} SOA within ${timeoutMs} ms\n--- stderr ---\n${h.stderr()}`,
      );
    await sleep(50);
  }
}

/** Spawns hades and waits until it answers. */
export async function startHades(
  args: string[],
  port: number,
  opts: SpawnOptions & { zone?: string } = {},
): Promise<HadesProc> {
  const h = spawnHades(args, opts);
  try {
    await waitAnswering(h, port, opts.zone);
  } catch (err) {
    await h.stop('SIGKILL');
    throw err;
  }
  return h;
}

/** A port free for both UDP and TCP on 127.0.0.1, that nobody else takes (test/harness/ports.ts). */
export { freePort as freeDnsPort };

/** The flags of a hades child on a test etcd: `-addr 127.0.0.1:<port> -machines <etcd> -domain <domain>`, then `extra`. */
export function etcdArgs(port: number, etcd: EtcdProcess, extra: string[] = [], domain = ZONES): string[] {
  return ['-addr', `127.0.0.1:${port}`, '-machines', etcd.endpoint, '-domain', domain, ...extra];
}

/** A test etcd with a client store on it, filled by `load` (default: the test records). */
export async function startEtcdStore(
  load: (store: Store) => Promise<void> = loadRecords,
): Promise<{ etcd: EtcdProcess; store: Store }> {
  const etcd = await startEtcd();
  let store: Store | undefined;
  try {
    store = await openEtcdStore({ endpoints: [etcd.endpoint] });
    await load(store);
    return { etcd, store };
  } catch (err) {
    await store?.close();
    await etcd.stop();
    throw err;
  }
}

export interface EtcdHades {
  readonly etcd: EtcdProcess;
  readonly store: Store;
  readonly port: number;
  readonly hades: HadesProc;
  /** Stops hades with `signal` (default SIGTERM), closes the store, stops etcd; resolves with hades's exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

/**
 * A test etcd filled by `load` (default: the test records) and a hades child on a free port
 * serving `domain` (default: the test zones) from it with the `extra` flags, answering (`zone`'s
 * SOA; default hades.local.).
 */
export async function startEtcdHades(
  extra: string[],
  opts: { domain?: string; load?: (store: Store) => Promise<void>; zone?: string } = {},
): Promise<EtcdHades> {
  const { etcd, store } = await startEtcdStore(opts.load);
  const stopStore = async (): Promise<void> => {
    await store.close();
    await etcd.stop();
  };
  let hades: HadesProc;
  let port: number;
  try {
    port = await freePort();
    hades = await startHades(etcdArgs(port, etcd, extra, opts.domain), port, { zone: opts.zone });
  } catch (err) {
    await stopStore();
    throw err;
  }
  return {
    etcd,
    store,
    port,
    hades,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      const code = await hades.stop(signal);
      await stopStore();
      return code;
    },
  };
}
