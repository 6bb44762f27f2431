/**
 * `-log-queries`: one structured line per reply sent, built from the reply itself (its question,
 * rcode and answer count), so it costs nothing when off (the server holds no observer then) and
 * reads the same for local, forwarded and completed answers.
 *
 *   {"level":30,...,"client":"127.0.0.1","port":40001,"protocol":"udp","qname":"web.hades.local.",
 *    "qtype":"A","rcode":"NOERROR","answers":1,"durationUs":42,"msg":"query"}
 */
import type { Logger } from '../common/logger.js';
import type { QueryObserver } from './pipeline/pipeline.js';
import { rcodeName, typeName } from './wire/constants.js';
import { labelToPresentation } from './wire/names.js';

export interface QueryLogEntry {
  client: string;
  port: number;
  protocol: 'udp' | 'tcp';
  /** The question name as the client wrote it ('' when the reply has no question). (`name` is pino's.) */
  qname: string;
  /** The question type (`A`, `TYPE65000`; '' when none). */
  qtype: string;
  rcode: string;
  /** Records in the answer section. */
  answers: number;
  /** Receipt to reply, microseconds. */
  durationUs: number;
}

/** The question of a message (name, type), or undefined when it has none readable. */
function question(m: Buffer, len: number): { name: string; type: number } | undefined {
  if (len < 12 || ((m[4] << 8) | m[5]) === 0) return undefined;
  let off = 12;
  let name = '';
  for (;;) {
    if (off >= len) return undefined;
    const l = m[off];
    if (l === 0) {
      off++;
      break;
    }
    if (l > 63 || off + 1 + l > len) return undefined;
    name += `${labelToPresentation(m, off + 1, l, false)}.`;
    off += l + 1;
  }
  if (off + 2 > len) return undefined;
  return { name: name === '' ? '.' : name, type: (m[off] << 8) | m[off + 1] };
}

/** The log entry for one reply. */
export function queryLogEntry(
  client: { address: string; port: number; transport: 'udp' | 'tcp' },
  reply: Buffer,
  len: number,
  seconds: number,
): QueryLogEntry {
  const q = question(reply, len);
  return {
    client: client.address,
    port: client.port,
    protocol: client.transport,
    qname: q?.name ?? '',
    qtype: q === undefined ? '' : typeName(q.type),
    rcode: len >= 4 ? rcodeName(reply[3] & 0x0f) : '',
    answers: len >= 8 ? (reply[6] << 8) | reply[7] : 0,
    durationUs: Math.round(seconds * 1e6),
  };
}

/** A DnsServer `onQuery` observer writing one `query` line per reply to `log`. */
export function queryLogger(log: Logger): QueryObserver {
  return (client, reply, len, seconds) => {
    log.info(queryLogEntry(client, reply, len, seconds), 'query');
  };
}
