/** test/api helpers: a hades-kubeapi child, an in-process API on a store, fetch shorthands, snapshots. */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Authenticator, RateLimiter, type Scope } from '../../src/api/auth.js';
import type { TrustedProxies } from '../../src/api/forwarded.js';
import { type ApiServer, startApiServer } from '../../src/api/server.js';
import { RecordService } from '../../src/api/service.js';
import type { Store } from '../../src/store/types.js';
import { run, sleep } from '../dns/clients.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const KUBEAPI_BIN = path.resolve(here, '../../src/bin/hades-kubeapi.js');
export const APICMD_BIN = path.resolve(here, '../../src/bin/hades-apicmd.js');

export const TOKEN = 'abcdef123456789';

function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('HADES_') && !k.startsWith('ETCD_')) env[k] = v;
  return { ...env, ...extra };
}

export interface Kubeapi {
  child: ChildProcess;
  stderr(): string;
  stop(): Promise<void>;
}

/** Starts hades-kubeapi and waits until it says where the API listens. */
export async function startKubeapi(args: string[]): Promise<Kubeapi> {
  const child = spawn(process.execPath, [KUBEAPI_BIN, ...args], {
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr?.on('data', (b: Buffer) => {
    err += b.toString();
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.on('exit', () => child.kill('SIGKILL'));
  const deadline = Date.now() + 20_000;
  while (!/API on https?:\/\//.test(out)) {
    if (child.exitCode !== null) throw new Error(`hades-kubeapi exited ${child.exitCode}: ${err}`);
    if (Date.now() > deadline) throw new Error(`hades-kubeapi did not start: ${err}`);
    await sleep(30);
  }
  return {
    child,
    stderr: () => err,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export function apicmd(args: string[], env: NodeJS.ProcessEnv = {}) {
  return runEnv(process.execPath, [APICMD_BIN, ...args], cleanEnv(env));
}

function runEnv(cmd: string, args: string[], env: NodeJS.ProcessEnv) {
  const saved = process.env;
  // run() uses execFile with process.env: swap it for the call
  process.env = env;
  try {
    return run(cmd, args);
  } finally {
    process.env = saved;
  }
}

/** An API on `store` in this process. */
export async function startLocalApi(
  store: Store,
  opts: {
    tokens?: { token: string; scopes: Scope[] }[];
    rate?: number;
    burst?: number;
    trustedProxies?: TrustedProxies;
  } = {},
): Promise<{ api: ApiServer; base: string }> {
  const service = new RecordService({ store, prefix: '/hades', monitorPath: '/hades/monitor/status/' });
  const api = await startApiServer(
    { host: '127.0.0.1', port: 0, family: 4 },
    {
      service,
      domain: 'hades.local.',
      auth: new Authenticator(opts.tokens ?? [{ token: TOKEN, scopes: ['read', 'write'] }]),
      limiter: new RateLimiter(opts.rate ?? 0, opts.burst ?? 1),
      trustedProxies: opts.trustedProxies,
    },
  );
  return { api, base: `http://127.0.0.1:${api.port}` };
}

/** Every key and value of the store. */
export async function snapshot(store: Store): Promise<Map<string, string>> {
  const r = await store.list('');
  return new Map(r.kvs.map((kv) => [kv.key, kv.value]));
}

export async function req(
  base: string,
  method: string,
  p: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(`${base}${p}`, { method, headers, body });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

export const JSON_HEADERS = { 'Content-Type': 'application/json;charset=UTF-8' };
