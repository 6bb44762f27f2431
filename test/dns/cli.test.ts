/**
 * The `hades` command line as a user meets it: -h, -version, bad values (status 2, one line naming
 * the flag), HADES_* variables, an address in use, and a clean stop on SIGTERM/SIGINT.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HADES_NODE_FLAGS } from '../../src/dns/memory.js';
import { VERSION } from '../../src/version.js';
import { dig, digStatus } from './clients.js';
import { freeDnsPort, HADES_BIN, spawnHades, startHades } from './hades-proc.js';

const ROOT = path.resolve(path.dirname(HADES_BIN), '../../..');

async function runHades(args: string[], env: NodeJS.ProcessEnv = {}) {
  const h = spawnHades(args, { env });
  const code = await h.exited;
  return { code, stdout: h.stdout(), stderr: h.stderr() };
}

describe('hades command line', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'hades-cli-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('-h prints every flag with its default and exits 0', async () => {
    const r = await runHades(['-h']);
    assert.equal(r.code, 0);
    for (const f of ['-addr', '-domain', '-machines', '-metrics-port', '-nameservers', '-ip-monitor-path'])
      assert.match(r.stdout, new RegExp(`^  ${f}\\b`, 'm'), f);
    assert.match(r.stdout, /-read_timeout, -rtimeout duration\n.*\(default "2s"\)/);
    assert.match(r.stdout, /-select sticky\|random-one\|all/);
    assert.match(r.stdout, /hades standalone/);
    const s = await runHades(['standalone', '--help']);
    assert.equal(s.code, 0);
    assert.match(s.stdout, /default "127\.0\.0\.1:5353"/);
  });

  it('-version prints the version and exits 0', async () => {
    const r = await runHades(['-version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`^hades ${VERSION.replace(/\./g, '\\.')} `));
  });

  it("runs through its shebang as npm's bin link does (node with HADES_NODE_FLAGS), and so does npm start", async () => {
    const shebang = (await readFile(HADES_BIN, 'utf8')).split('\n', 1)[0];
    assert.equal(shebang, `#!/usr/bin/env -S node ${HADES_NODE_FLAGS.join(' ')}`);
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8'));
    assert.equal(path.resolve(ROOT, pkg.bin.hades), HADES_BIN);
    assert.equal(pkg.scripts.start, `node ${HADES_NODE_FLAGS.join(' ')} dist/src/bin/hades.js standalone`);
    // npm makes a bin target executable when it links it; the kernel then runs the shebang
    await chmod(HADES_BIN, 0o755);
    const link = path.join(dir, 'hades');
    await symlink(HADES_BIN, link);
    const port = await freeDnsPort();
    const args = ['-addr', `127.0.0.1:${port}`, '-data-dir', path.join(dir, 'shebang')];
    const h = await startHades(args, port, { viaShebang: link });
    try {
      const argv = (await readFile(`/proc/${h.pid}/cmdline`, 'utf8')).split('\0');
      assert.equal(path.basename(argv[0]), 'node');
      assert.deepEqual(argv.slice(1, 1 + HADES_NODE_FLAGS.length), HADES_NODE_FLAGS);
      assert.deepEqual(argv.slice(1 + HADES_NODE_FLAGS.length, -1), [link, ...args]);
    } finally {
      assert.equal(await h.stop(), 0);
    }
  });

  it('a bad value exits 2 with one line naming the flag', async () => {
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [
        ['-select', 'roundrobin'],
        {},
        /^hades: -select: "roundrobin" is not one of sticky, random-one, all\n$/,
      ],
      [['-addr', 'localhost:53'], {}, /^hades: -addr: "localhost:53" is not an IP address/],
      [['--read_timeout=soon'], {}, /^hades: -read_timeout: "soon" is not a duration/],
      [['-workers', '-2'], {}, /^hades: -workers: -2 is below the minimum 0\n$/],
      [['-domain', 'a..b'], {}, /^hades: -domain: "a\.\.b" is not a zone name/],
      [['-bogus'], {}, /^hades: flag provided but not defined: -bogus\n$/],
      [[], { HADES_ADDR: '1.2.3.4' }, /^hades: -addr: "1\.2\.3\.4" has no port/],
      [[], { HADES_TTL: 'x' }, /^hades: -ttl \(from HADES_TTL\): "x" is not an integer\n$/],
      [
        ['-ca-cert', '/nonexistent.pem'],
        {},
        /^hades: -ca-cert \/nonexistent\.pem: cannot read it: no such file\n$/,
      ],
      [['start'], {}, /^hades: unexpected argument "start"/],
    ];
    await Promise.all(
      cases.map(async ([args, env, msg]) => {
        const r = await runHades(args, env);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, msg, args.join(' '));
        assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
      }),
    );
  });

  it('takes its flags from HADES_* variables, and stops with 0 on SIGTERM and SIGINT', async () => {
    const port = await freeDnsPort();
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      const h = await startHades([], port, {
        env: {
          HADES_ADDR: `127.0.0.1:${port}`,
          HADES_DATA_DIR: path.join(dir, 'env'),
          HADES_DOMAIN: 'example.test.',
        },
        zone: 'example.test.',
      });
      const r = await dig(port, ['example.test', 'SOA']);
      assert.equal(digStatus(r.stdout), 'NOERROR');
      assert.equal(await h.stop(sig), 0, h.stderr());
    }
  });

  it('an address in use exits 2 with one line naming -addr', async () => {
    const port = await freeDnsPort();
    const first = await startHades(['-addr', `127.0.0.1:${port}`, '-data-dir', path.join(dir, 'a')], port);
    try {
      const r = await runHades(['-addr', `127.0.0.1:${port}`, '-data-dir', path.join(dir, 'b')]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`^hades: -addr 127\\.0\\.0\\.1:${port}: address already in use$`, 'm'),
      );
    } finally {
      assert.equal(await first.stop(), 0);
    }
  });

  it('port 53 without privileges: exit 2 naming -addr (skipped as root)', async (t) => {
    if (process.getuid?.() === 0) {
      t.skip('root may bind port 53');
      return;
    }
    const r = await runHades(['-addr', '127.0.0.1:53', '-data-dir', path.join(dir, 'c')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^hades: -addr 127\.0\.0\.1:53: permission denied/m);
  });
});
