/**
 * CHAOS-class identity queries (BIND, RFC 4892): TXT `version.bind` / `version.server` give the
 * version string, `hostname.bind` / `id.server` the host name. Anything else in class CHAOS, any
 * other type, or a string configured empty (an operator hiding it) is REFUSED.
 */

import { RRType } from './wire/constants.js';
import type { Query } from './wire/query.js';

export interface ChaosIdentity {
  hostname: string;
  version: string;
}

/** The TXT string answering `q` (class CH already checked), or undefined for REFUSED. */
export function chaosText(q: Query, id: ChaosIdentity): string | undefined {
  if (q.qtype !== RRType.TXT) return undefined;
  let s: string | undefined;
  switch (q.qname) {
    case 'version.bind.':
    case 'version.server.':
      s = id.version;
      break;
    case 'hostname.bind.':
    case 'id.server.':
      s = id.hostname;
      break;
  }
  return s === '' ? undefined : s;
}
