/**
 * The children and temp dirs of the harnesses (etcd.ts, knot.ts): killed and removed when the
 * test process ends, however it ends (exit, SIGINT/SIGTERM/SIGHUP), and started with a
 * parent-death signal where `setpriv` exists, so no daemon outlives a killed test run.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';

export const liveChildren = new Set<ChildProcess>();
export const liveDirs = new Set<string>();
let exitHooksInstalled = false;

function killAllSync(): void {
  for (const child of liveChildren) {
    try {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  liveChildren.clear();
  for (const dir of liveDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  liveDirs.clear();
}

export function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAllSync();
      process.removeListener(sig, onSignal);
      // If nobody else handles the signal, die of it as we would have without this hook.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

/** `setpriv`, when the system has it: `setpriv --pdeathsig KILL <cmd>` dies with the test. */
export const setprivPath = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
