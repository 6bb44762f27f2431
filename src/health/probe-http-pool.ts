/**
 * Idle kept-alive probe connections (`ProbeContext.keepAlive`), one per key (scheme, address,
 * port and TLS settings): a check takes the idle one or opens its own, and gives it back when the
 * response was read whole and the server allows reuse.
 *
 * Bounded: at most `maxIdle` idle connections in all (the least recently returned closed first),
 * each closed after `idleMs` unused or as soon as the server closes it or sends anything unasked.
 * Idle connections do not keep the process alive.
 */
import type net from 'node:net';

interface Idle {
  readonly key: string;
  readonly socket: net.Socket;
  readonly drop: () => void;
}

export class IdleConnections {
  readonly #byKey = new Map<string, Idle>();
  readonly #maxIdle: number;
  readonly #idleMs: number;

  constructor(maxIdle: number, idleMs: number) {
    this.#maxIdle = maxIdle;
    this.#idleMs = idleMs;
  }

  get size(): number {
    return this.#byKey.size;
  }

  /** The idle connection for `key`, now owned by the caller (listeners of its own attached next). */
  take(key: string): net.Socket | undefined {
    const idle = this.#byKey.get(key);
    if (idle === undefined) return undefined;
    this.#byKey.delete(key);
    this.#detach(idle);
    return idle.socket;
  }

  /** Keeps `socket` (without listeners of the caller's) for the next check of `key`. */
  put(key: string, socket: net.Socket): void {
    if (socket.destroyed || !socket.writable) {
      socket.destroy();
      return;
    }
    const old = this.#byKey.get(key);
    if (old !== undefined) this.#close(old);
    const idle: Idle = { key, socket, drop: () => this.#close(idle) };
    socket.on('data', idle.drop);
    socket.on('end', idle.drop);
    socket.on('close', idle.drop);
    socket.on('error', idle.drop);
    socket.on('timeout', idle.drop);
    socket.setTimeout(this.#idleMs);
    socket.unref();
    this.#byKey.set(key, idle);
    if (this.#byKey.size > this.#maxIdle) {
      // Map order is insertion order: the first is the least recently returned
      const first = this.#byKey.values().next().value;
      if (first !== undefined) this.#close(first);
    }
  }

  /** Closes every idle connection (the scanner stopping, tests). */
  closeAll(): void {
    for (const idle of [...this.#byKey.values()]) this.#close(idle);
  }

  #close(idle: Idle): void {
    if (this.#byKey.get(idle.key) === idle) this.#byKey.delete(idle.key);
    this.#detach(idle);
    // an error after destroy must not go uncaught
    idle.socket.on('error', () => {});
    idle.socket.destroy();
  }

  #detach(idle: Idle): void {
    const s = idle.socket;
    s.removeListener('data', idle.drop);
    s.removeListener('end', idle.drop);
    s.removeListener('close', idle.drop);
    s.removeListener('error', idle.drop);
    s.removeListener('timeout', idle.drop);
    s.setTimeout(0);
    s.ref();
  }
}
