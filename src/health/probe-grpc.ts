/**
 * The `grpc` probe: `grpc.health.v1.Health/Check` with `{service}` over plaintext HTTP/2, as the
 * kubelet's gRPC probe (which has no TLS either). SERVING passes; anything else fails with the
 * serving status or the call's status code as the reason.
 *
 * One unary call on node:http2 rather than @grpc/grpc-js: grpc-js opens its connections itself
 * and gives no way to end one that is still connecting, so a check of a server that accepts and
 * never answers HTTP/2 (or of an address that drops SYNs) left a socket behind after its timeout,
 * every period. Here the check owns its socket and destroys the session, whatever its state, when
 * judged or at the timeout. Each check has its own connection, as the kubelet's.
 *
 * The two messages are one field each, encoded here by hand rather than loading health.proto.
 */
import http2 from 'node:http2';
import net from 'node:net';
import type { GrpcProbe } from '../records/probe.js';
import { VERSION } from '../version.js';
import { connectFailed, errorCode, type ProbeContext, type ProbeResult, timeoutResult } from './probe.js';

const METHOD = '/grpc.health.v1.Health/Check';
/** HealthCheckResponse.ServingStatus. */
const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];
/** gRPC status codes by number. */
export const GRPC_CODES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
];
const DEADLINE_EXCEEDED = 4;
const NOT_FOUND = 5;
const UNAVAILABLE = 14;
/** The answer is a few bytes; a larger one is not a health service's. */
const MAX_MESSAGE = 4096;
const MAX_DETAIL = 80;

/** HealthCheckRequest: field 1 (`service`), a string; empty when the service is ''. */
export function encodeCheckRequest(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  if (name.length === 0) return Buffer.alloc(0);
  const len: number[] = [];
  let n = name.length;
  while (n > 0x7f) {
    len.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  len.push(n);
  return Buffer.concat([Buffer.from([0x0a, ...len]), name]);
}

/**
 * HealthCheckResponse: field 1 (`status`), a varint; absent means 0 (UNKNOWN). Other fields are
 * skipped as protobuf allows. Throws on bytes that are not a protobuf message.
 */
export function decodeCheckResponse(buf: Buffer): number {
  let at = 0;
  let result = 0;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (at >= buf.length) throw new Error('truncated varint');
      const b = buf[at++];
      v += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return v;
      mul *= 128;
    }
    throw new Error('varint too long');
  };
  while (at < buf.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (wire === 0) {
      const v = varint();
      if (field === 1) result = v;
    } else if (wire === 1) at += 8;
    else if (wire === 2) {
      // not `at += varint()`: that reads `at` before varint() moves it past the length
      const n = varint();
      at += n;
    } else if (wire === 5) at += 4;
    else throw new Error(`wire type ${wire}`);
    if (at > buf.length) throw new Error('truncated field');
  }
  return result;
}

/** A gRPC message on the wire: not compressed, its length (4 bytes, big-endian), its bytes. */
function frame(message: Buffer): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

function short(text: string): string {
  return text.length > MAX_DETAIL ? `${text.slice(0, MAX_DETAIL - 1)}…` : text;
}

/** The reason for a call that ended with a status other than OK. */
export function callFailed(code: number, details: string, timeoutMs: number): ProbeResult {
  if (code === DEADLINE_EXCEEDED) return timeoutResult(timeoutMs);
  // the health protocol's answer for a service it does not know
  if (code === NOT_FOUND) return { ok: false, reason: 'gRPC SERVICE_UNKNOWN', class: 'grpc' };
  const name = GRPC_CODES[code] ?? `status ${code}`;
  return { ok: false, reason: `gRPC ${name}${details === '' ? '' : `: ${short(details)}`}`, class: 'grpc' };
}

/** HTTP/2 error codes (RFC 9113, section 7) by number. */
const H2_ERRORS = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
];

/** `stream reset REFUSED_STREAM` for a stream the server reset; else the error's code. */
function streamError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  const m = typeof e?.message === 'string' ? /NGHTTP2_([A-Z0-9_]+)$/.exec(e.message) : null;
  if (e?.code === 'ERR_HTTP2_STREAM_ERROR' && m !== null) return `stream reset ${m[1]}`;
  return errorCode(err);
}

/** `grpc-message` is percent-encoded. */
function message(v: unknown): string {
  const s = typeof v === 'string' ? v : '';
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The serving status a response's data holds, or a reason it holds none. */
function servingResult(data: Buffer): ProbeResult {
  if (data.length < 5 || data.length !== 5 + data.readUInt32BE(1))
    return { ok: false, reason: 'gRPC INTERNAL: not one response message', class: 'grpc' };
  if (data[0] !== 0) return { ok: false, reason: 'gRPC INTERNAL: compressed response', class: 'grpc' };
  let serving: number;
  try {
    serving = decodeCheckResponse(data.subarray(5));
  } catch {
    return { ok: false, reason: 'gRPC INTERNAL: malformed response message', class: 'grpc' };
  }
  const name = SERVING_STATUS[serving] ?? `status ${serving}`;
  return serving === 1
    ? { ok: true, reason: 'gRPC SERVING', class: 'ok' }
    : { ok: false, reason: `gRPC ${name}`, class: 'grpc' };
}

/** One Health/Check of `probe.service` on ip:port; resolves (never rejects) by `ctx.timeoutMs`. */
export function grpcCheck(ip: string, probe: GrpcProbe, ctx: ProbeContext): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let session: http2.ClientHttp2Session | undefined;
    let connected = false;
    let done = false;
    const finish = (r: ProbeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // destroy, not close: a session that never got the server's SETTINGS would wait forever
      session?.destroy();
      resolve(r);
    };
    const broken = (err: unknown): void => {
      const cause = (err as { cause?: unknown } | null)?.cause ?? err;
      finish(connected ? callFailed(UNAVAILABLE, streamError(cause), ctx.timeoutMs) : connectFailed(cause));
    };
    const timer = setTimeout(() => finish(timeoutResult(ctx.timeoutMs)), ctx.timeoutMs);
    try {
      const authority = net.isIPv6(ip) ? `[${ip}]:${probe.port}` : `${ip}:${probe.port}`;
      session = http2.connect(`http://${authority}`, {
        createConnection: () => {
          const s = net.connect({ host: ip, port: probe.port });
          s.once('connect', () => {
            connected = true;
          });
          return s;
        },
        settings: { enablePush: false, maxHeaderListSize: 16 * 1024 },
        maxSessionMemory: 1,
      });
      session.on('error', broken);
      const req = session.request({
        ':method': 'POST',
        ':path': METHOD,
        'content-type': 'application/grpc',
        te: 'trailers',
        'user-agent': `hades-probe/${VERSION}`,
        'grpc-timeout': `${Math.max(1, Math.ceil(ctx.timeoutMs))}m`,
      });
      let data: Buffer = Buffer.alloc(0);
      let status: unknown;
      const ended = (trailers: http2.IncomingHttpHeaders): void => {
        const code = Number(trailers['grpc-status']);
        if (!Number.isInteger(code))
          finish({ ok: false, reason: 'gRPC INTERNAL: no grpc-status', class: 'grpc' });
        else if (code !== 0) finish(callFailed(code, message(trailers['grpc-message']), ctx.timeoutMs));
        else finish(servingResult(data));
      };
      req.on('response', (headers) => {
        status = headers[':status'];
        if (status !== 200) finish({ ok: false, reason: `gRPC: HTTP ${status}`, class: 'grpc' });
        // "Trailers-Only": a call that failed at once carries its status in the headers
        else if (headers['grpc-status'] !== undefined) ended(headers);
      });
      req.on('data', (chunk: Buffer) => {
        data = Buffer.concat([data, chunk]);
        if (data.length > 5 + MAX_MESSAGE)
          finish({ ok: false, reason: 'gRPC RESOURCE_EXHAUSTED: response too large', class: 'grpc' });
      });
      req.on('trailers', ended);
      req.on('error', broken);
      req.on('close', () => {
        if (done) return;
        if (status === undefined) broken(new Error(`stream reset ${H2_ERRORS[req.rstCode] ?? req.rstCode}`));
        else finish({ ok: false, reason: 'gRPC INTERNAL: no grpc-status', class: 'grpc' });
      });
      req.end(frame(encodeCheckRequest(probe.service)));
    } catch (err) {
      finish({ ok: false, reason: `gRPC: ${errorCode(err)}`, class: 'error' });
    }
  });
}
