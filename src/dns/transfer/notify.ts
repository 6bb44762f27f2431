/**
 * The NOTIFY sender (RFC 1996): tells each secondary that a zone changed, coalesced, retried with
 * backoff until acknowledged, optionally TSIG-signed. One UDP socket per address family.
 *
 * The message: opcode NOTIFY, AA, one question `<zone> SOA IN`, and in the answer section a SOA
 * carrying the new serial (RFC 1996 §3.7: "an unsecure hint"; BIND and Knot read only its serial,
 * BIND skips the refresh when it already has that serial). We know only the serial here, so the
 * SOA's other fields are placeholders (root names, zero timers); a secondary never takes them as
 * data (it asks the primary for the SOA).
 */
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { canonicalHost, formatHostPort, type HostPort } from '../../common/host-port.js';
import type { Logger } from '../../common/logger.js';
import {
  Flag,
  HEADER_SIZE,
  OPCODE_MASK,
  OPCODE_SHIFT,
  Opcode,
  RRClass,
  RRType,
  rcodeName,
} from '../wire/constants.js';
import { decode } from '../wire/decode.js';
import { encode } from '../wire/encode.js';
import { namesEqual } from '../wire/names.js';
import { signRequest, TsigError, type TsigKey, verifyResponse } from './tsig.js';

export interface NotifierOptions {
  targets: readonly HostPort[];
  /** Sign every NOTIFY; only signed acknowledgements count. */
  key?: TsigKey;
  /** Default 1000: at most one NOTIFY per zone per target per interval. */
  coalesceMs?: number;
  /** Default 2000, doubling up to 60 s, until acknowledged or superseded by a newer serial. */
  retryMs?: number;
  log: Logger;
  /** Milliseconds since the epoch (tests). */
  now?: () => number;
}

export interface NotifyStats {
  /** NOTIFY messages sent, retries included. */
  sent: number;
  acknowledged: number;
  retries: number;
  /** Error replies (REFUSED, NOTAUTH…) and replies whose TSIG does not verify. */
  failed: number;
}

/** The longest wait between two tries of one NOTIFY. */
export const MAX_RETRY_MS = 60_000;

/** The wait after try `attempt` (0 = the first send): retryMs doubled per try, capped at 60 s. */
export function retryDelay(retryMs: number, attempt: number): number {
  return Math.min(retryMs * 2 ** Math.min(attempt, 30), MAX_RETRY_MS);
}

/** One zone at one target: at most one NOTIFY outstanding. */
interface ZoneAtTarget {
  readonly target: HostPort;
  readonly zone: string;
  /** The newest serial not sent yet. */
  want: number | undefined;
  /** The serial of the NOTIFY waiting for its acknowledgement. */
  sent: number | undefined;
  /** Tries of `sent` so far, less one. */
  attempt: number;
  /** ID and MAC of the latest try: only its reply counts (each try gets a fresh ID). */
  id: number;
  mac: Buffer;
  lastSentAt: number;
  acked: number | undefined;
  timer: NodeJS.Timeout | undefined;
  dueAt: number;
  /** The timers' callback, made once per zone and target (not a closure per timer). */
  onTimer: () => void;
}

/** Room for the NOTIFY and a TSIG (names ≤ 255 octets each, MAC ≤ 64). */
const MESSAGE_ROOM = 2048;

export class Notifier {
  readonly stats: NotifyStats = { sent: 0, acknowledged: 0, retries: 0, failed: 0 };
  private readonly targets: readonly HostPort[];
  private readonly key: TsigKey | undefined;
  private readonly coalesceMs: number;
  private readonly retryMs: number;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly states = new Map<string, ZoneAtTarget>();
  /** Outstanding tries by message ID. */
  private readonly byId = new Map<number, ZoneAtTarget>();
  private readonly sockets: { 4?: dgram.Socket; 6?: dgram.Socket } = {};
  private closed = false;

  constructor(o: NotifierOptions) {
    const coalesceMs = o.coalesceMs ?? 1000;
    const retryMs = o.retryMs ?? 2000;
    if (!Number.isFinite(coalesceMs) || coalesceMs < 0)
      throw new RangeError(`coalesceMs ${coalesceMs} is not ≥ 0`);
    if (!Number.isFinite(retryMs) || retryMs <= 0) throw new RangeError(`retryMs ${retryMs} is not > 0`);
    this.targets = o.targets.slice();
    this.key = o.key;
    this.coalesceMs = coalesceMs;
    this.retryMs = retryMs;
    this.log = o.log;
    this.now = o.now ?? Date.now;
    for (const t of this.targets) {
      if (this.sockets[t.family] !== undefined) continue;
      const s = dgram.createSocket(t.family === 6 ? 'udp6' : 'udp4');
      s.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
      s.on('error', (err) => this.log.warn({ err: err.message }, 'notify: socket error'));
      s.bind(0);
      s.unref();
      this.sockets[t.family] = s;
    }
  }

  /** Zone (FQDN, any case) changed to `serial`: a NOTIFY to every target, coalesced. */
  changed(zone: string, serial: number): void {
    if (this.closed) return;
    const z = canonicalZone(zone);
    const now = this.now();
    for (const target of this.targets) {
      const st = this.stateOf(target, z);
      st.want = serial >>> 0;
      this.schedule(st, Math.max(now, st.lastSentAt + this.coalesceMs), now);
    }
  }

  /** The last serial `target` acknowledged for `zone`. */
  acknowledged(target: HostPort, zone: string): number | undefined {
    return this.states.get(stateKey(target, canonicalZone(zone)))?.acked;
  }

  /** Stops every timer and closes the sockets; pending NOTIFYs are dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const st of this.states.values()) clearTimeout(st.timer);
    this.byId.clear();
    const closing: Promise<void>[] = [];
    for (const s of [this.sockets[4], this.sockets[6]])
      if (s !== undefined) closing.push(new Promise<void>((resolve) => s.close(() => resolve())));
    await Promise.all(closing);
  }

  private stateOf(target: HostPort, zone: string): ZoneAtTarget {
    const k = stateKey(target, zone);
    let st = this.states.get(k);
    if (st === undefined) {
      st = {
        target,
        zone,
        want: undefined,
        sent: undefined,
        attempt: 0,
        id: -1,
        mac: EMPTY,
        lastSentAt: Number.NEGATIVE_INFINITY,
        acked: undefined,
        timer: undefined,
        dueAt: 0,
        onTimer: NOOP,
      };
      const me = st;
      st.onTimer = () => this.fire(me);
      this.states.set(k, st);
    }
    return st;
  }

  /** Sends at `at` (now: at once), unless a send is already due no later. */
  private schedule(st: ZoneAtTarget, at: number, now: number): void {
    if (st.timer !== undefined) {
      if (st.dueAt <= at) return;
      clearTimeout(st.timer);
      st.timer = undefined;
    }
    if (at <= now) {
      this.fire(st);
      return;
    }
    st.dueAt = at;
    st.timer = setTimeout(st.onTimer, at - now);
    st.timer.unref();
  }

  /** The timer's work: a newer serial's first try, or the next try of the outstanding one. */
  private fire(st: ZoneAtTarget): void {
    st.timer = undefined;
    if (this.closed) return;
    if (st.want !== undefined) {
      st.sent = st.want;
      st.want = undefined;
      st.attempt = 0;
    } else if (st.sent !== undefined) {
      st.attempt++;
      this.stats.retries++;
    } else return;
    this.send(st, st.sent);
    const now = this.now();
    this.schedule(st, now + Math.max(this.coalesceMs, retryDelay(this.retryMs, st.attempt)), now);
  }

  private send(st: ZoneAtTarget, serial: number): void {
    const now = this.now();
    if (st.id !== -1) this.byId.delete(st.id);
    let id = randomInt(0x10000);
    while (this.byId.has(id)) id = (id + 1) & 0xffff;
    const m = encode({
      id,
      opcode: Opcode.NOTIFY,
      aa: true,
      questions: [{ name: st.zone, type: RRType.SOA, class: RRClass.IN }],
      answers: [
        {
          name: st.zone,
          type: RRType.SOA,
          ttl: 0,
          data: { mname: '.', rname: '.', serial, refresh: 0, retry: 0, expire: 0, minimum: 0 },
        },
      ],
    });
    // a fresh Buffer per try: dgram reads it after send() returns
    const out = Buffer.alloc(m.length + (this.key === undefined ? 0 : MESSAGE_ROOM - m.length));
    m.copy(out);
    let len = m.length;
    st.mac = EMPTY;
    if (this.key !== undefined) {
      const signed = signRequest(this.key, out, len, Math.floor(now / 1000));
      len = signed.length;
      st.mac = signed.mac;
    }
    st.id = id;
    st.lastSentAt = now;
    this.byId.set(id, st);
    this.stats.sent++;
    const s = this.sockets[st.target.family];
    s?.send(out, 0, len, st.target.port, st.target.host, (err) => {
      if (err)
        this.log.debug(
          { to: formatHostPort(st.target), zone: st.zone, err: err.message },
          'notify: send failed',
        );
    });
    this.log.debug(
      { to: formatHostPort(st.target), zone: st.zone, serial, attempt: st.attempt },
      'notify: sent',
    );
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed || msg.length < HEADER_SIZE) return;
    const st = this.byId.get(msg.readUInt16BE(0));
    if (st === undefined || st.sent === undefined || !fromTarget(st.target, rinfo)) return;
    const flags = msg.readUInt16BE(2);
    if ((flags & Flag.QR) === 0 || (flags & OPCODE_MASK) >> OPCODE_SHIFT !== Opcode.NOTIFY) return;
    let rcode: number;
    try {
      const d = decode(msg);
      const q = d.questions;
      if (
        q.length !== 1 ||
        q[0].type !== RRType.SOA ||
        q[0].class !== RRClass.IN ||
        !namesEqual(q[0].name, st.zone)
      )
        return;
      rcode = d.rcode | ((d.edns?.extRcode ?? 0) << 4);
    } catch {
      return; // malformed: not the answer; the retry goes on
    }
    const to = formatHostPort(st.target);
    if (this.key !== undefined) {
      const v = verifyResponse(this.key, msg, msg.length, st.mac, Math.floor(this.now() / 1000));
      if (v !== 0) {
        // RFC 8945 §5.3.2: an unverifiable reply proves nothing; keep trying until a good one
        this.stats.failed++;
        this.log.warn(
          { to, zone: st.zone, serial: st.sent, rcode: rcodeName(rcode), tsig: tsigErrorName(v) },
          'notify: reply failed TSIG verification',
        );
        return;
      }
    }
    this.byId.delete(st.id);
    st.id = -1;
    if (rcode !== 0) {
      // a definite answer: the secondary will not take this NOTIFY; the next change tries again
      this.stats.failed++;
      this.log.warn(
        { to, zone: st.zone, serial: st.sent, rcode: rcodeName(rcode) },
        'notify: refused by the secondary',
      );
    } else {
      this.stats.acknowledged++;
      st.acked = st.sent;
      this.log.debug({ to, zone: st.zone, serial: st.sent }, 'notify: acknowledged');
    }
    st.sent = undefined;
    // the pending timer is the retry's, unless a newer serial waits for its turn
    if (st.want === undefined && st.timer !== undefined) {
      clearTimeout(st.timer);
      st.timer = undefined;
    }
  }
}

const EMPTY = Buffer.alloc(0);

function tsigErrorName(e: number): string {
  return e === TsigError.BADSIG
    ? 'BADSIG'
    : e === TsigError.BADKEY
      ? 'BADKEY'
      : e === TsigError.BADTIME
        ? 'BADTIME'
        : `${e}`;
}

function NOOP(): void {}

function canonicalZone(zone: string): string {
  const z = zone.toLowerCase();
  return z.endsWith('.') ? z : `${z}.`;
}

function stateKey(target: HostPort, zone: string): string {
  return `${formatHostPort(target)} ${zone}`;
}

/** The reply came from the target's address and port (the socket is not connected). */
function fromTarget(target: HostPort, rinfo: dgram.RemoteInfo): boolean {
  if (rinfo.port !== target.port) return false;
  const want = target.host.split('%')[0];
  const got = canonicalHost(rinfo.address.split('%')[0])?.host;
  return got === want;
}
