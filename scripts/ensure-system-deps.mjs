#!/usr/bin/env node
// pretest: makes sure the system programs the tests drive are installed.
// Missing ones are installed through apt-get when running as root on Debian; otherwise this
// fails with one line saying what to install. Keep the table in step with test/README.md.
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

/** program the tests run → Debian package that provides it */
const NEEDED = [
  ['etcd', 'etcd-server'],
  ['dig', 'dnsutils'],
  ['kdig', 'knot-dnsutils'],
  ['knotd', 'knot'], // /usr/sbin/knotd (and knotc): test/harness/knot.ts
  ['ping', 'iputils-ping'],
  ['ip', 'iproute2'],
  ['getent', 'libc-bin'],
  ['chromium', 'chromium'],
];

// Debian puts daemons in /usr/sbin (knotd), which a non-root PATH often lacks: look there too.
function onPath(program) {
  const dirs = [...(process.env.PATH ?? '/usr/bin:/bin').split(':'), '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    try {
      accessSync(`${dir}/${program}`, constants.X_OK);
      return true;
    } catch {}
  }
  return false;
}

const missing = NEEDED.filter(([program]) => !onPath(program));
if (missing.length === 0) process.exit(0);

const packages = [...new Set(missing.map(([, pkg]) => pkg))];
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
if (!isRoot || !hasApt) {
  console.error(
    `pretest: missing ${missing.map(([p]) => p).join(', ')}: install the Debian packages ${packages.join(' ')} (apt-get install ${packages.join(' ')})`,
  );
  process.exit(1);
}
console.error(`pretest: installing ${packages.join(' ')} with apt-get`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], {
  stdio: 'inherit',
  env,
});
const still = NEEDED.filter(([program]) => !onPath(program));
if (still.length > 0) {
  console.error(`pretest: still missing after apt-get: ${still.map(([p]) => p).join(', ')}`);
  process.exit(1);
}
