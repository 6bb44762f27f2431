/**
 * `/v1/health`: what the API shows of a status key (`GET`), and the body of `PUT
 * /v1/health/{ip}` (`{"admin":"drain"}` or `{"admin":"none"}`); the write itself is
 * `RecordService.setAdmin`.
 */
import { ADMIN_STATES, type AdminState, isDrained } from '../records/health.js';
import { describeProbe, parseProbe } from '../records/probe.js';
import type { HealthStatus } from '../records/types.js';
import { badRequest } from './errors.js';
import { checkObject } from './names.js';

/** A status as /v1 shows it. */
export interface HealthView {
  ip: string;
  /** Absent only in the answer to an undrain of an address that has no status key. */
  status?: 'UP' | 'DOWN';
  ports?: string[];
  /** The probe as stored (Kubernetes' field names). */
  probe?: unknown;
  /** `httpGet HTTP :80/healthz`, … (records/probe.ts describeProbe). */
  probeSummary?: string;
  /** Why the stored probe does not validate (the scanner skips it), naming the field path. */
  probeError?: string;
  reason?: string;
  changed?: string;
  /** `drain` (never served) or `none`. */
  admin: AdminState;
}

export function healthView(ip: string, st: HealthStatus | undefined): HealthView {
  if (!st) return { ip, admin: 'none' };
  const out: Omit<HealthView, 'admin'> = { ip, status: st.status };
  if (st.ports) out.ports = st.ports;
  if (st.probe !== undefined) {
    out.probe = st.probe;
    try {
      out.probeSummary = describeProbe(parseProbe(st.probe).handler);
    } catch (e) {
      out.probeError = (e as Error).message;
    }
  }
  // the scanner's word on its last transition; absent for a status written without it
  if (typeof st.reason === 'string') out.reason = st.reason;
  if (typeof st.changed === 'string') out.changed = st.changed;
  // admin last, as documented
  return { ...out, admin: isDrained(st) ? 'drain' : 'none' };
}

/** `{"admin":"drain"|"none"}` → the state; 400 naming the field otherwise. */
export function adminOf(body: unknown): AdminState {
  const o = checkObject(body, ['admin']);
  const a = o.admin;
  if (typeof a !== 'string' || !(ADMIN_STATES as readonly string[]).includes(a))
    throw badRequest(
      `field "admin" must be ${ADMIN_STATES.map((s) => `"${s}"`).join(' or ')}, got ${a === undefined ? 'nothing' : JSON.stringify(a)}`,
      'admin',
    );
  return a as AdminState;
}
