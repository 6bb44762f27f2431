/**
 * Ports for test children that cannot be taken by anyone else between the pick and the child's
 * bind, nor between a child's stop and its restart on the same port.
 *
 * listen(:0)-then-close hands out a port from the kernel's ephemeral range, and the kernel hands
 * the same ports to every other socket on the machine (each outgoing connection's source port,
 * every other listen(:0)): another process can take it before the child binds it. So the ports
 * come from below that range (/proc/sys/net/ipv4/ip_local_port_range), which the kernel never
 * picks on its own; and every test process on the machine (two test files run in parallel, other
 * checkouts' suites too) claims each port with an exclusively created file named after it in
 * `<tmpdir>/hades-test-ports/`, holding its pid, removed when the process exits (a dead owner's
 * file is taken over). A port is handed out only when that claim succeeds and both a TCP listen
 * and a UDP bind on 127.0.0.1 succeed (some other program may use a fixed port there).
 *
 * A port so picked also serves as one nothing listens on (a dead etcd, a closed upstream): no
 * cooperating process binds it, and the kernel does not hand it out.
 */
import dgram from 'node:dgram';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** The first port of the kernel's ephemeral range (32768 when it cannot be read). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 0) return low;
  } catch {
    // not Linux: the IANA dynamic range starts at 49152; the default Linux one at 32768
  }
  return 32768;
}

const LOW = 10_000;
// [LOW, HIGH): below the ephemeral range; a machine whose range starts lower keeps 10,000 ports
// anyway (the claims still keep test processes apart)
const HIGH = Math.max(LOW + 10_000, Math.min(ephemeralLow(), 65_536));
const SIZE = HIGH - LOW;

function claimDir(): string {
  const shared = path.join(os.tmpdir(), 'hades-test-ports');
  try {
    mkdirSync(shared, { recursive: true });
    try {
      chmodSync(shared, 0o1777); // every user's test processes claim in the same place
    } catch {
      // made by another user: already shared
    }
    return shared;
  } catch {
    const own = path.join(os.tmpdir(), `hades-test-ports-${process.getuid?.() ?? 0}`);
    mkdirSync(own, { recursive: true });
    return own;
  }
}

let dir: string | undefined;
const claimed = new Set<string>();
let hooked = false;

function releaseAll(): void {
  for (const f of claimed) {
    try {
      unlinkSync(f);
    } catch {
      // gone
    }
  }
  claimed.clear();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Creates the claim file for `port`; false when a live process holds it. */
function claim(port: number): boolean {
  dir ??= claimDir();
  if (!hooked) {
    hooked = true;
    process.on('exit', releaseAll);
  }
  const file = path.join(dir, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o644);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      claimed.add(file);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return false;
    }
    let owner = 0;
    try {
      owner = Number(readFileSync(file, 'utf8'));
    } catch {
      continue; // removed meanwhile: try again
    }
    // an owner that is still starting (file made, pid not yet written) reads as 0: leave it
    if (owner === 0 || owner === process.pid || alive(owner)) return false;
    try {
      unlinkSync(file); // a dead owner's claim
    } catch {
      // someone else took it over first
    }
  }
  return false;
}

function tcpBindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

function udpBindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const u = dgram.createSocket('udp4');
    u.once('error', () => {
      u.close();
      resolve(false);
    });
    u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
  });
}

// this process's walk through the range starts at a place of its own
let next = (process.pid * 7919) % SIZE;

/**
 * A port on 127.0.0.1, free for TCP and UDP, that stays this process's until it exits (so a child
 * can be stopped and restarted on it). Never handed out twice, by this or another test process.
 */
export async function freePort(): Promise<number> {
  for (let tried = 0; tried < SIZE; tried++) {
    const port = LOW + (next % SIZE);
    next++;
    if (!claim(port)) continue;
    if ((await tcpBindable(port)) && (await udpBindable(port))) return port;
    // used by some program outside the tests: keep the claim, so it is not tried again
  }
  throw new Error(`no free port in [${LOW}, ${HIGH})`);
}
