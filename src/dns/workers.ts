/**
 * `-workers N`: N processes (node:cluster) sharing the listening sockets. The primary holds the
 * sockets and does no DNS work: each worker runs the whole server (its own store connection,
 * catalog, handler) on the shared UDP socket and TCP listener, so every worker answers from the
 * same data and answers are the same whichever worker the kernel hands a query to.
 *
 * The primary
 * - restarts a worker that dies, with exponential backoff per slot (reset once a worker has
 *   stayed up for a while);
 * - gives up (stops the others, exits with the same status) when a worker exits with status 2
 *   before it ever listened: a fatal start-up error such as an address in use, which every
 *   restart would hit again;
 * - forwards SIGINT/SIGTERM/SIGHUP to the workers as SIGTERM, waits for them, and exits 0
 *   (a second signal, or a worker that does not stop within the grace period, gets SIGKILL);
 * - exits when every worker is gone.
 *
 * Workers tell the primary they listen with `notifyListening()`.
 */

import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../common/logger.js';

/** Exit status of a worker (and of hades) for a start-up error that a restart cannot fix. */
export const EXIT_FATAL = 2;

const LISTENING = 'hades:listening';

export interface PrimaryOptions {
  workers: number;
  log: Logger;
  /** Called once, when the first worker listens (with the port it reported). */
  onFirstListening?: (port: number) => void;
  /** Restart backoff: first delay, cap, and how long a worker must live to reset it (ms). */
  restartMinMs?: number;
  restartMaxMs?: number;
  stableMs?: number;
  /** How long workers get to stop after a signal before SIGKILL (ms). */
  graceMs?: number;
}

interface Slot {
  index: number;
  worker: Worker | undefined;
  startedAt: number;
  listened: boolean;
  failures: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Runs the primary: forks the workers and looks after them. Resolves with the exit status once
 * every worker is gone (the caller exits with it).
 */
export function runPrimary(opts: PrimaryOptions): Promise<number> {
  const log = opts.log;
  const minMs = opts.restartMinMs ?? 100;
  const maxMs = opts.restartMaxMs ?? 10_000;
  const stableMs = opts.stableMs ?? 30_000;
  const graceMs = opts.graceMs ?? 10_000;
  const slots: Slot[] = [];
  const byWorker = new Map<Worker, Slot>();
  let stopping = false;
  let status = 0;
  let firstListening = false;
  let killTimer: NodeJS.Timeout | undefined;
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => {
    finish = resolve;
  });

  const alive = (): Worker[] => slots.map((s) => s.worker).filter((w): w is Worker => w !== undefined);

  const checkDone = (): void => {
    if (!stopping || alive().length > 0) return;
    for (const s of slots) if (s.timer) clearTimeout(s.timer);
    if (killTimer) clearTimeout(killTimer);
    for (const sig of SIGNALS) process.removeListener(sig, onSignal);
    log.info({ status }, 'hades: all workers stopped');
    finish(status);
  };

  const fork = (slot: Slot): void => {
    slot.timer = undefined;
    if (stopping) return;
    const worker = cluster.fork({ HADES_WORKER_INDEX: String(slot.index) });
    slot.worker = worker;
    slot.startedAt = Date.now();
    slot.listened = false;
    byWorker.set(worker, slot);
    worker.on('message', (msg: unknown) => {
      if (typeof msg !== 'object' || msg === null || (msg as { type?: unknown }).type !== LISTENING) return;
      slot.listened = true;
      const port = Number((msg as { port?: unknown }).port) || 0;
      log.info({ worker: slot.index, pid: worker.process.pid, port }, 'hades: worker listening');
      if (!firstListening) {
        firstListening = true;
        opts.onFirstListening?.(port);
      }
    });
    worker.on('error', (err) =>
      log.warn({ worker: slot.index, err: err.message }, 'hades: worker channel error'),
    );
  };

  const stopAll = (signal: NodeJS.Signals, why: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, why }, 'hades: stopping workers');
    for (const s of slots) {
      if (s.timer) {
        clearTimeout(s.timer);
        s.timer = undefined;
      }
    }
    for (const w of alive()) {
      try {
        w.process.kill('SIGTERM');
      } catch {
        // already gone
      }
    }
    killTimer = setTimeout(() => {
      for (const w of alive()) {
        log.warn({ pid: w.process.pid }, 'hades: worker did not stop in time; killing it');
        try {
          w.process.kill('SIGKILL');
        } catch {
          // gone
        }
      }
    }, graceMs);
    killTimer.unref();
    checkDone();
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, 'hades: second signal; killing workers');
      for (const w of alive()) {
        try {
          w.process.kill('SIGKILL');
        } catch {
          // gone
        }
      }
      return;
    }
    stopAll(signal, 'signal');
  };
  const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const sig of SIGNALS) process.on(sig, onSignal);

  cluster.on('exit', (worker, code, signal) => {
    const slot = byWorker.get(worker);
    if (!slot) return;
    byWorker.delete(worker);
    slot.worker = undefined;
    const lived = Date.now() - slot.startedAt;
    if (stopping) {
      checkDone();
      return;
    }
    if (code === EXIT_FATAL && !slot.listened) {
      log.error({ worker: slot.index, code }, 'hades: worker failed to start (fatal); stopping');
      status = EXIT_FATAL;
      stopAll('SIGTERM', 'fatal start-up error');
      return;
    }
    if (lived >= stableMs) slot.failures = 0;
    const delay = Math.min(maxMs, minMs * 2 ** slot.failures);
    slot.failures++;
    log.warn(
      { worker: slot.index, pid: worker.process.pid, code, signal, restartInMs: delay },
      'hades: worker died; restarting it',
    );
    slot.timer = setTimeout(() => fork(slot), delay);
  });

  log.info({ workers: opts.workers }, 'hades: starting workers');
  for (let i = 0; i < opts.workers; i++) {
    const slot: Slot = {
      index: i,
      worker: undefined,
      startedAt: 0,
      listened: false,
      failures: 0,
      timer: undefined,
    };
    slots.push(slot);
    fork(slot);
  }
  return done;
}

/** In a worker: tells the primary this worker answers queries on `port`. No-op outside cluster. */
export function notifyListening(port: number): void {
  if (cluster.isWorker && process.send) process.send({ type: LISTENING, port });
}

/** True in a worker process started by runPrimary. */
export function isWorker(): boolean {
  return cluster.isWorker;
}
