/**
 * Servers for probe tests, on loopback and port 0: a raw TCP server that answers each request
 * with what the test scripts, a connection count for "every connection was closed", and a grpc-js
 * server (certificates: test/harness/certs.ts).
 */
import net from 'node:net';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { HealthImplementation } from 'grpc-health-check';

/** Connections a server accepted and how many of them have closed since. */
export class ConnectionCount {
  opened = 0;
  closed = 0;
  /** Counts the connections of `server` from now on. */
  track(server: net.Server): this {
    server.on('connection', (s: net.Socket) => {
      this.opened++;
      s.on('close', () => this.closed++);
    });
    return this;
  }
  get open(): number {
    return this.opened - this.closed;
  }
}

export async function listen(server: net.Server, host = '127.0.0.1'): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as net.AddressInfo).port;
}

export async function close(server: net.Server): Promise<void> {
  (server as { closeAllConnections?: () => void }).closeAllConnections?.();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/**
 * What a raw server does with a connection once the request head is in (`request`: its text),
 * or at once when the head never comes (`request` undefined is never passed: see `onConnect`).
 */
export type RawHandler = (socket: net.Socket, request: string, nth: number) => void;

/**
 * A TCP server that reads each request head and hands it to `handler` (`nth`: the request's
 * number on its connection, from 0); `onConnect` instead takes the socket as soon as it is accepted.
 */
export function rawServer(handler: RawHandler, onConnect?: (socket: net.Socket) => void): net.Server {
  return net.createServer((socket) => {
    socket.on('error', () => {});
    if (onConnect) {
      onConnect(socket);
      return;
    }
    let buf = '';
    let nth = 0;
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let at = buf.indexOf('\r\n\r\n'); at >= 0; at = buf.indexOf('\r\n\r\n')) {
        const request = buf.slice(0, at);
        buf = buf.slice(at + 4);
        if (!socket.destroyed) handler(socket, request, nth++);
      }
    });
  });
}

/** The headers of a request head, names lower-cased, in order. */
export function headersOf(request: string): [string, string][] {
  return request
    .split('\r\n')
    .slice(1)
    .map((l) => {
      const i = l.indexOf(':');
      return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()];
    });
}

/** A grpc-js server on `host`, port 0, serving grpc.health.v1 through `health` when given. */
export async function grpcServer(
  host: string,
  health?: HealthImplementation,
): Promise<{ server: Server; port: number }> {
  const server = new Server();
  health?.addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:0`, ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return { server, port };
}
