/**
 * What every HTTP server of ours sets (the API, the standalone API, the metrics port): bounded
 * keep-alive, request and header times, so a slow or idle client cannot hold a socket forever,
 * and a malformed request answered 400 instead of an unhandled error.
 */
import type http from 'node:http';

export function guardHttpServer(
  server: http.Server,
  requestTimeoutMs: number,
  headersTimeoutMs: number,
): void {
  server.keepAliveTimeout = 5000;
  server.requestTimeout = requestTimeoutMs;
  server.headersTimeout = headersTimeoutMs;
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
}
