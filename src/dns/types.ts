/**
 * The seam between the DNS transport (server.ts: sockets, framing, limits) and the query
 * pipeline (the handler: parse, answer from the catalog, select). Synchronous on purpose: the
 * hot path has no promises. Names the catalog does not serve go to the forwarder (issue 4)
 * through the FORWARD return value.
 */
import type { ResponseWriter } from './wire/writer.js';

export type Transport = 'udp' | 'tcp';

/**
 * Who asked. The server owns one ClientInfo per socket/connection and overwrites it before each
 * call: handlers must not keep a reference to it past the call.
 */
export interface ClientInfo {
  address: string;
  port: number;
  family: 4 | 6;
  transport: Transport;
}

/** `handle` result: send nothing. */
export const DROP = 0;
/** `handle` result: the name is not ours; the server passes the request to the forwarder. */
export const FORWARD = -1;

export interface QueryHandler {
  /**
   * Answers one request (`req[0, len)`), writing the reply into `w`.
   * `limit` is what the transport can carry: 512 for UDP without EDNS (the handler raises it to the
   * client's EDNS size, capped by its own maximum), 65535 for TCP.
   * Returns the reply length (> 0), DROP, or FORWARD.
   */
  handle(req: Buffer, len: number, client: ClientInfo, w: ResponseWriter, limit: number): number;
}
