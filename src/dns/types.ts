/**
 * The seams of the DNS server: transports (src/dns/transport) hand requests to the query
 * pipeline (src/dns/pipeline), which asks the handler (the answers from the catalog) first.
 * Synchronous on purpose: the hot path has no promises.
 */
import type { ParseStatus, Query } from './wire/query.js';
import type { ResponseWriter } from './wire/writer.js';

export type Transport = 'udp' | 'tcp';

/**
 * Who asked. A transport owns one ClientInfo per socket/connection and overwrites it before each
 * request: nothing may keep a reference to it past the call.
 */
export interface ClientInfo {
  address: string;
  port: number;
  family: 4 | 6;
  transport: Transport;
}

/** A reply length meaning: send nothing. */
export const DROP = 0;
/** The handler's length for a name in none of our zones: the pipeline forwards it. */
export const FORWARD = -1;
/** The pipeline's result when the reply comes later, through the transport's `LateReplies`. */
export const PENDING = -2;

/** What the handler answered: reused by the handler, valid until its next call. */
export interface LocalAnswer {
  /** The reply's length in the writer, DROP, or FORWARD (nothing written). */
  length: number;
  /** The out-of-zone name the answer's CNAME chain ends at ('' when none): completed upstream. */
  externalTarget: string;
}

/** Answers from our own data (src/dns/handler.ts `DnsHandler`). */
export interface QueryHandler {
  /**
   * Answers the request `q` (parsed, `status` from parseQuery, never DROP) into `w`, within
   * `limit` octets (the client's UDP limit, or 65535 on TCP). Never throws for any input it can
   * be given; an exception is a bug, answered SERVFAIL by the pipeline.
   */
  answer(q: Query, status: ParseStatus, client: ClientInfo, w: ResponseWriter, limit: number): LocalAnswer;
}

/** A transport's way to send a reply after its request's turn (forwarded, completed upstream). */
export interface LateReplies {
  /**
   * Sends `reply[0, length)` to `client` (a copy the pipeline made: it may be kept), or only
   * ends the wait when `reply` is null. Returns false when the reply could not be sent (the
   * socket or connection is closed). Called exactly once per request the pipeline returned
   * PENDING for, always after that return.
   */
  later(client: Readonly<ClientInfo>, reply: Buffer | null, length: number): boolean;
  /** Several replies to the request the pipeline returned PENDING for (TCP only). */
  readonly stream?: ReplyStream;
}

/**
 * A connection's way to send several replies to one request (a zone transfer over TCP): the
 * transport's `LateReplies.stream`. The request still ends with one `later(client, null, 0)`.
 */
export interface ReplyStream {
  /** Sends `msg[0, length)` (copied). False when the connection is closed. */
  send(msg: Buffer, length: number): boolean;
  /** Resolves once the unsent replies are below the transport's cap, or the connection closed. */
  drained(): Promise<void>;
  readonly closed: boolean;
}

/** TransferStage.start: a verified signed request, to answer as usual and then `sign`. */
export const SIGN = -3;
/** TransferStage.start: not a transfer nor a request to sign; the pipeline goes on. */
export const NOT_MINE = 0;

/**
 * The pipeline's transfer stage (src/dns/transfer/service.ts `Transfers`): AXFR/IXFR questions and
 * requests carrying a TSIG record.
 */
export interface TransferStage {
  /** The reply's length, PENDING (streamed through `late.stream`), SIGN or NOT_MINE. */
  start(
    req: Buffer,
    len: number,
    q: Query,
    client: ClientInfo,
    w: ResponseWriter,
    limit: number,
    late: LateReplies,
  ): number;
  /** The limit to answer a SIGN request within (room for the TSIG). */
  signedLimit(limit: number): number;
  /** Signs the reply to the last SIGN request; its new length. */
  sign(w: ResponseWriter, n: number): number;
}
