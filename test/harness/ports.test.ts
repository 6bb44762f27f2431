/**
 * test/harness/ports.ts: ports below the kernel's ephemeral range, each claimed by one test
 * process at a time, free for TCP and UDP, released when the process exits.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { freePort } from './ports.js';

const PORTS_JS = pathToFileURL(path.join(path.dirname(fileURLToPath(import.meta.url)), 'ports.js')).href;
const CLAIMS = path.join(os.tmpdir(), 'hades-test-ports');

function ephemeralLow(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return 32768;
  }
}

/** Another test process: picks `n` ports, prints them and exits. */
function otherProcess(n: number): Promise<number[]> {
  const code = `import { freePort } from ${JSON.stringify(PORTS_JS)};
const ps = []; for (let i = 0; i < ${n}; i++) ps.push(await freePort());
console.log(JSON.stringify(ps));`;
  return promisify(execFile)(process.execPath, ['--input-type=module', '-e', code]).then((r) =>
    JSON.parse(r.stdout),
  );
}

describe('freePort (test/harness/ports.ts)', () => {
  it('hands out distinct ports below the ephemeral range, claimed with our pid, bindable', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 20; i++) ports.push(await freePort());
    assert.equal(new Set(ports).size, ports.length);
    const low = ephemeralLow();
    for (const p of ports) {
      if (low > 20_000) assert.ok(p < low, `${p} is below ${low}`);
      assert.equal(readFileSync(path.join(CLAIMS, String(p)), 'utf8'), String(process.pid));
    }
    // ours to bind (and to bind again, as a restart does)
    for (let round = 0; round < 2; round++) {
      const s = net.createServer();
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(ports[0], '127.0.0.1', resolve);
      });
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  });

  it('another test process never gets a port we hold, and its claims go when it exits', async () => {
    const ours = new Set<number>();
    for (let i = 0; i < 30; i++) ours.add(await freePort());
    // two at once, while we hold ours
    const [a, b] = await Promise.all([otherProcess(30), otherProcess(30)]);
    for (const p of [...a, ...b]) assert.ok(!ours.has(p), `port ${p} handed out twice`);
    assert.equal(new Set([...a, ...b]).size, a.length + b.length, 'the two others overlap');
    for (const p of [...a, ...b])
      assert.equal(existsSync(path.join(CLAIMS, String(p))), false, `claim ${p} left`);
  });
});
