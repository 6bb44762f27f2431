/**
 * What every HTTP server of ours sets (the API, the standalone API, the metrics port): bounded
 * keep-alive, request and header times, so a slow or idle client cannot hold a socket forever,
 * and a malformed request answered 400 instead of an unhandled error. And `createWebServer`:
 * plain HTTP, or HTTPS only (optionally requiring a client certificate) when given `ServerTls`.
 */
import http from 'node:http';
import https from 'node:https';

/** A server's certificate, key and (for client-certificate auth) the CA clients' certificates chain to: PEM, read and checked at start. */
export interface ServerTls {
  cert: Buffer;
  key: Buffer;
  /** Set: every client must present a certificate this CA signed (the handshake fails otherwise). */
  clientCa?: Buffer;
}

export type WebServer = http.Server | https.Server;

/** TLS handshakes are this quick or the connection is dropped. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Plain HTTP without `tls`; with it HTTPS only (TLS 1.2 or later): a plain-HTTP request to the
 * port fails its handshake and the connection is closed, nothing is answered in clear text.
 */
export function createWebServer(tls: ServerTls | undefined, handler: http.RequestListener): WebServer {
  if (!tls) return http.createServer(handler);
  return https.createServer(
    {
      cert: tls.cert,
      key: tls.key,
      minVersion: 'TLSv1.2',
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
    },
    handler,
  );
}

export function guardHttpServer(server: WebServer, requestTimeoutMs: number, headersTimeoutMs: number): void {
  server.keepAliveTimeout = 5000;
  server.requestTimeout = requestTimeoutMs;
  server.headersTimeout = headersTimeoutMs;
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
}
