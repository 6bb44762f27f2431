/**
 * Helpers of the health tests: the real binaries (hades, hades-scanner, hades-schedule) as child
 * processes that never outlive the test, `dig +short`, polling.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export { sleep, waitFor } from '../lib/wait.js';

const BIN_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/bin');

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      // gone
    }
  }
});

export interface Proc {
  readonly pid: number;
  readonly exited: Promise<number | null>;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * `node dist/src/bin/<program>.js ...args`, with no HADES_* / ETCD_* from our environment (but
 * those of `extraEnv`).
 */
export function spawnBin(program: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Proc {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('HADES_') && !k.startsWith('ETCD_')) env[k] = v;
  env.HADES_NAMESERVERS = 'none';
  Object.assign(env, extraEnv);
  const child = spawn(process.execPath, [path.join(BIN_DIR, `${program}.js`), ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  const add = (s: string): void => {
    out += s;
    if (out.length > 400_000) out = out.slice(-200_000);
  };
  child.stdout?.setEncoding('utf8').on('data', add);
  child.stderr?.setEncoding('utf8').on('data', add);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      live.delete(child);
      resolve(code);
    }),
  );
  return {
    pid: child.pid ?? 0,
    exited,
    output: () => out,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === 'number'
          ? (err as { code: number }).code
          : 1
        : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The A addresses hades on 127.0.0.1:port answers for `name`, sorted; undefined when dig failed. */
export async function digA(port: number, name: string): Promise<string[] | undefined> {
  const r = await run('dig', ['@127.0.0.1', '-p', String(port), '+time=1', '+tries=1', '+short', name, 'A']);
  if (r.code !== 0) return undefined;
  return r.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => /^\d+\.\d+\.\d+\.\d+$/.test(s))
    .sort();
}
