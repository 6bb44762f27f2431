/**
 * Knot DNS (Debian `knot`) as the peer of bench/qps: one UDP worker, one TCP worker, one
 * background worker, the bench's names in a zone file, everything (config, zone, rundir,
 * storage) in a temp dir, on 127.0.0.1. Runs as the current user (root in CI: `user` is not set,
 * so knotd keeps root).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitAnswer } from './dns.js';

export interface KnotOptions {
  port: number;
  /** Names (absolute, under `hades.local.`) and their A addresses. */
  names: number;
  nameOf: (i: number) => string;
  addrsOf: (i: number) => readonly string[];
  ttl: number;
  /** Run knotd on these CPUs (taskset -c). */
  cpus?: string;
}

export interface KnotProcess {
  readonly pid: number;
  stop(): Promise<void>;
}

const ZONE = 'hades.local.';

async function writeZone(path: string, o: KnotOptions): Promise<void> {
  const out = createWriteStream(path);
  const put = async (s: string) => {
    if (!out.write(s)) await once(out, 'drain');
  };
  await put(`$ORIGIN ${ZONE}\n$TTL ${o.ttl}\n`);
  await put(`@ 300 IN SOA ns.dns.${ZONE} hostmaster.${ZONE} 1 7200 1800 86400 30\n`);
  await put(`@ 300 IN NS ns.dns.${ZONE}\nns.dns 300 IN A 127.0.0.1\n`);
  let chunk = '';
  for (let i = 0; i < o.names; i++) {
    const name = o.nameOf(i);
    for (const a of o.addrsOf(i)) chunk += `${name} ${o.ttl} IN A ${a}\n`;
    if (chunk.length > 65536) {
      await put(chunk);
      chunk = '';
    }
  }
  await put(chunk);
  out.end();
  await once(out, 'finish');
}

export async function startKnot(o: KnotOptions): Promise<KnotProcess> {
  const dir = await mkdtemp(join(tmpdir(), 'hades-bench-knot-'));
  await writeZone(join(dir, 'hades.local.zone'), o);
  const conf = `server:
    rundir: "${dir}"
    listen: 127.0.0.1@${o.port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1

log:
  - target: stderr
    any: warning

database:
    storage: "${dir}"

template:
  - id: default
    storage: "${dir}"
    journal-content: none
    zonefile-sync: -1

zone:
  - domain: ${ZONE}
    file: "hades.local.zone"
`;
  const confPath = join(dir, 'knot.conf');
  await writeFile(confPath, conf);
  const cmd =
    o.cpus !== undefined ? ['taskset', '-c', o.cpus, 'knotd', '-c', confPath] : ['knotd', '-c', confPath];
  const child: ChildProcess = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => {
    err = (err + s).slice(-4000);
  });
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    process.removeListener('exit', kill);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitAnswer(o.port, o.nameOf(0), 120_000, () => `\n--- knotd stderr ---\n${err}`);
  } catch (e) {
    await stop();
    throw e;
  }
  return { pid: child.pid ?? 0, stop };
}
