/**
 * `runProbe`: one check of an address with its probe handler, by kind. Never rejects: a check
 * that throws where it should not becomes an `error` result.
 */
import type { ProbeHandler } from '../records/probe.js';
import {
  errorCode,
  icmpCheck,
  type ProbeContext,
  type ProbeResult,
  type RunProbe,
  tcpCheck,
} from './probe.js';
import { grpcCheck } from './probe-grpc.js';
import { httpCheck } from './probe-http.js';

function start(ip: string, handler: ProbeHandler, ctx: ProbeContext): Promise<ProbeResult> {
  switch (handler.kind) {
    case 'httpGet':
      return httpCheck(ip, handler, ctx);
    case 'grpc':
      return grpcCheck(ip, handler, ctx);
    case 'tcpSocket':
      return tcpCheck(ip, handler.port, ctx.timeoutMs);
    case 'icmp':
      return icmpCheck(ip, { count: ctx.pingCount, timeoutMs: ctx.timeoutMs, binary: ctx.pingBinary });
    default:
      // a handler built by hand past parseProbe
      return Promise.resolve({
        ok: false,
        reason: `probe: unknown kind ${String((handler as { kind?: unknown }).kind)}`,
        class: 'error',
      });
  }
}

export const runProbe: RunProbe = (ip, handler, ctx) => {
  try {
    return start(ip, handler, ctx);
  } catch (err) {
    return Promise.resolve({ ok: false, reason: `probe: ${errorCode(err)}`, class: 'error' });
  }
};
