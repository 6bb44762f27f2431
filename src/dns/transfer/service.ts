/**
 * Zone transfers out (RFC 5936 AXFR, RFC 1995 IXFR) and TSIG on requests (RFC 8945): the
 * pipeline's transfer stage (pipeline.ts) hands this every AXFR/IXFR question and every request
 * carrying a TSIG record.
 *
 * - The source must be in `-transfer-allow`, else REFUSED. With `-tsig`, a transfer must be
 *   signed with that key (unsigned: REFUSED; another key: NOTAUTH/BADKEY; a bad MAC: NOTAUTH/
 *   BADSIG; a time outside the fudge: NOTAUTH/BADTIME), and every reply to a signed request is
 *   signed (SOA queries from a secondary included).
 * - The name must be a served zone's apex (else NOTAUTH); the views must be built (else SERVFAIL).
 * - Over UDP: an empty reply with TC (the client retries over TCP).
 * - Over TCP: the messages stream through `LateReplies.stream` (stream.ts).
 */
import type { Logger } from '../../common/logger.js';
import { CidrSet } from '../../records/cidr-set.js';
import { writeSOA } from '../answer-context.js';
import { type ClientInfo, type LateReplies, NOT_MINE, PENDING, SIGN, type TransferStage } from '../types.js';
import { Flag, MIN_UDP_SIZE, Rcode, RRType, Section } from '../wire/constants.js';
import { decode, type SoaData } from '../wire/decode.js';
import { newQuery, ParseStatus, parseQuery, type Query } from '../wire/query.js';
import { QNAME, type ResponseWriter } from '../wire/writer.js';
import { TransferWriter } from './stream.js';
import {
  appendTsigError,
  readTsig,
  type TsigKey,
  type TsigRecord,
  TsigSigner,
  verifyRequest,
} from './tsig.js';
import type { TransferViews, ZoneView } from './views.js';

export type TransferType = 'axfr' | 'ixfr';
/**
 * ok: the whole zone (AXFR) or the journal's differences (IXFR); full: an IXFR answered with the
 * whole zone (older than the journal); uptodate: an IXFR from the current serial; the rest are
 * the reply's rcode, or aborted (the connection went away mid-way).
 */
export type TransferResult =
  | 'ok'
  | 'full'
  | 'uptodate'
  | 'refused'
  | 'notauth'
  | 'servfail'
  | 'formerr'
  | 'truncated'
  | 'aborted';

export interface TransfersOptions {
  views: TransferViews;
  /** CIDRs or addresses allowed to transfer (`10.0.0.0/8`); empty: none. */
  allow: readonly string[];
  key?: TsigKey;
  minTtl: number;
  log: Logger;
  /** Unix seconds (tests). */
  now?: () => number;
}

export class Transfers implements TransferStage {
  /** `${type} ${result}` → count (the metrics' hades_transfer_requests_total). */
  readonly counts = new Map<string, number>();
  /** Signed requests that failed verification, by TSIG error name. */
  readonly tsigFailures = new Map<string, number>();
  /** Transfers streaming now. */
  active = 0;
  private readonly allow: CidrSet;
  private readonly now: () => number;
  /** The verified request's TSIG, between `start` returning SIGN and `sign`. */
  private toSign: TsigRecord | undefined;

  constructor(private readonly o: TransfersOptions) {
    const allow = CidrSet.parse(o.allow);
    if (!(allow instanceof CidrSet))
      throw new RangeError(`Transfers: allow "${allow.entry}" is not an address or CIDR (${allow.why})`);
    this.allow = allow;
    this.now = o.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /**
   * A request (parsed into `q`, status OK) that is a transfer or carries a TSIG: the reply's
   * length in `w`, PENDING (a transfer streams, then ends with `late.later(client, null, 0)`),
   * SIGN (a verified signed query: answer it as usual, then call `sign`), or NOT_MINE.
   */
  start(
    req: Buffer,
    len: number,
    q: Query,
    client: ClientInfo,
    w: ResponseWriter,
    limit: number,
    late: LateReplies,
  ): number {
    this.toSign = undefined;
    const xfr = q.qtype === RRType.AXFR || q.qtype === RRType.IXFR;
    const type: TransferType = q.qtype === RRType.IXFR ? 'ixfr' : 'axfr';
    if (!xfr && this.o.key === undefined) return NOT_MINE; // TSIG ignored, as without -tsig
    if (xfr && !this.allow.has(client.address))
      return this.reply(q, w, limit, Rcode.REFUSED, type, 'refused');
    let tsig: TsigRecord | undefined;
    if (q.tsigOffset >= 0) {
      const rec = readTsig(req, len);
      if (rec === 'formerr') return this.reply(q, w, limit, Rcode.FORMERR, type, 'formerr', xfr);
      const key = this.o.key;
      const err =
        rec === undefined ? 0 : key === undefined ? BADKEY : verifyRequest(key, req, len, rec, this.now());
      if (rec !== undefined && err !== 0) return this.tsigError(q, w, limit, rec, err, type, xfr);
      tsig = rec;
    }
    if (!xfr) {
      if (tsig === undefined) return NOT_MINE;
      this.toSign = tsig;
      return SIGN;
    }
    if (this.o.key !== undefined && tsig === undefined)
      return this.reply(q, w, limit, Rcode.REFUSED, type, 'refused');
    const view = q.qnamePlain || q.qname === '.' ? this.o.views.view(q.qname) : undefined;
    if (view === undefined) return this.signed(q, w, limit, Rcode.NOTAUTH, type, 'notauth', tsig);
    if (!this.o.views.ready) return this.signed(q, w, limit, Rcode.SERVFAIL, type, 'servfail', tsig);
    let clientSerial: number | undefined;
    if (type === 'ixfr') {
      clientSerial = ixfrSerial(req, len);
      if (clientSerial === undefined) return this.signed(q, w, limit, Rcode.FORMERR, type, 'formerr', tsig);
    }
    const stream = late.stream;
    if (client.transport === 'udp' || stream === undefined)
      return this.overUdp(q, w, limit, type, view, clientSerial, tsig);
    // the request's buffer and Query are the transport's and the pipeline's: keep copies
    const own = newQuery();
    const copy = Buffer.from(req.subarray(0, len));
    if (parseQuery(copy, len, own) !== ParseStatus.OK)
      return this.reply(q, w, limit, Rcode.FORMERR, type, 'formerr');
    const signer =
      tsig !== undefined && this.o.key !== undefined
        ? new TsigSigner(this.o.key, tsig.mac, tsig.originalId)
        : undefined;
    const tw = new TransferWriter(own, view.zone, this.o.minTtl, stream, signer, this.now);
    this.active++;
    const peer = { ...client };
    this.run(tw, view, type, clientSerial)
      .then(
        (result) => this.count(type, tw.closed ? 'aborted' : result),
        (err: unknown) => {
          this.count(type, 'aborted');
          this.o.log.warn({ err, zone: view.zone.name, client: peer.address }, 'transfer failed');
        },
      )
      .finally(() => {
        this.active--;
        late.later(peer, null, 0);
      });
    return PENDING;
  }

  /** The limit to answer a request `start` returned SIGN for within: room left for the TSIG. */
  signedLimit(limit: number): number {
    return Math.max(MIN_UDP_SIZE, limit - TSIG_ROOM);
  }

  /** Signs the reply to the request `start` returned SIGN for; returns its new length. */
  sign(w: ResponseWriter, n: number): number {
    const tsig = this.toSign;
    this.toSign = undefined;
    return this.signReply(w, n, tsig);
  }

  private async run(
    tw: TransferWriter,
    view: ZoneView,
    type: TransferType,
    clientSerial: number | undefined,
  ): Promise<TransferResult> {
    const serial = this.o.views.serial;
    if (type === 'ixfr' && clientSerial !== undefined) {
      const d = ((serial >>> 0) - clientSerial) >>> 0;
      if (d === 0) {
        tw.soa(serial);
        await tw.flush();
        return 'uptodate';
      }
      // a client ahead of us (RFC 1982: more than 2^31 behind) gets the whole zone
      const entries = d < 0x80000000 ? view.journal.since(serial - d) : undefined;
      if (entries !== undefined) {
        await this.incremental(tw, serial, serial - d, entries);
        return 'ok';
      }
      await this.whole(tw, view, serial);
      return 'full';
    }
    await this.whole(tw, view, serial);
    return 'ok';
  }

  /** SOA, the apex NS, every name's records, SOA (RFC 5936 §2.2). */
  private async whole(tw: TransferWriter, view: ZoneView, serial: number): Promise<void> {
    // a snapshot of the names: the records arrays are never changed in place
    const names = Array.from(view.names);
    const ns = view.ns;
    tw.soa(serial);
    const apex = view.zone.name;
    for (const k of ns) tw.rr(apex, k);
    for (const [name, recs] of names) {
      for (const k of recs) tw.rr(name, k);
      if (tw.full) {
        await tw.flush();
        if (tw.closed) return;
      }
    }
    tw.soa(serial);
    await tw.flush();
  }

  /** RFC 1995 §4: SOA(new), then per change SOA(old) deletions SOA(new) additions, SOA(new). */
  private async incremental(
    tw: TransferWriter,
    serial: number,
    from: number,
    entries: readonly { to: number; deleted: readonly string[]; added: readonly string[] }[],
  ): Promise<void> {
    tw.soa(serial);
    let old = from;
    const steps = entries.slice();
    // nothing changed in the zone since the last entry: one empty step to the serial now
    if (steps.length === 0 || steps[steps.length - 1].to !== serial)
      steps.push({ to: serial, deleted: [], added: [] });
    for (const e of steps) {
      tw.soa(old);
      for (let i = 0; i < e.deleted.length; i += 2) {
        tw.rr(e.deleted[i], e.deleted[i + 1]);
        if (tw.full) await tw.flush();
      }
      tw.soa(e.to);
      for (let i = 0; i < e.added.length; i += 2) {
        tw.rr(e.added[i], e.added[i + 1]);
        if (tw.full) await tw.flush();
      }
      if (tw.closed) return;
      old = e.to;
    }
    tw.soa(serial);
    await tw.flush();
  }

  private count(type: TransferType, result: TransferResult): void {
    const k = `${type} ${result}`;
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }

  /**
   * A transfer asked over UDP (RFC 1995 §2): the current SOA alone — all an IXFR from the current
   * serial needs; otherwise with TC set, so the client asks again over TCP.
   */
  private overUdp(
    q: Query,
    w: ResponseWriter,
    limit: number,
    type: TransferType,
    view: ZoneView,
    clientSerial: number | undefined,
    tsig: TsigRecord | undefined,
  ): number {
    const serial = this.o.views.serial >>> 0;
    const current = clientSerial === serial;
    this.count(type, current ? 'uptodate' : 'truncated');
    w.start(q, Rcode.NOERROR, Flag.AA);
    writeSOA(w, Section.ANSWER, QNAME, view.zone, this.o.minTtl, serial);
    const n = w.finish(limit);
    // before signing: the MAC covers the header
    if (!current) w.buf[2] |= Flag.TC >> 8;
    return this.signReply(w, n, tsig);
  }

  /** Signs the reply `w.buf[0, n)` to a request signed with `tsig` (none: as it is). */
  private signReply(w: ResponseWriter, n: number, tsig: TsigRecord | undefined): number {
    if (tsig === undefined || this.o.key === undefined || n <= 0) return n;
    const s = new TsigSigner(this.o.key, tsig.mac, tsig.originalId).sign(w.buf, n, this.now());
    return s < 0 ? n : s;
  }

  /** An empty reply with `rcode` (never signed), counted when `xfr`. */
  private reply(
    q: Query,
    w: ResponseWriter,
    limit: number,
    rcode: number,
    type: TransferType,
    result: TransferResult,
    xfr = true,
  ): number {
    if (xfr) this.count(type, result);
    w.start(q, rcode, rcode === Rcode.REFUSED || rcode === Rcode.FORMERR ? 0 : Flag.AA);
    return w.finish(limit);
  }

  /** An empty reply with `rcode`, signed when the request was. */
  private signed(
    q: Query,
    w: ResponseWriter,
    limit: number,
    rcode: number,
    type: TransferType,
    result: TransferResult,
    tsig: TsigRecord | undefined,
  ): number {
    return this.signReply(w, this.reply(q, w, limit, rcode, type, result), tsig);
  }

  /** NOTAUTH with the TSIG error (RFC 8945 §5.2). */
  private tsigError(
    q: Query,
    w: ResponseWriter,
    limit: number,
    rec: TsigRecord,
    err: number,
    type: TransferType,
    xfr: boolean,
  ): number {
    const name = TSIG_ERRORS[err] ?? String(err);
    this.tsigFailures.set(name, (this.tsigFailures.get(name) ?? 0) + 1);
    const n = this.reply(q, w, limit, Rcode.NOTAUTH, type, 'notauth', xfr);
    const key = err === BADTIME ? this.o.key : undefined;
    const s = appendTsigError(key, rec.keyName, rec.algorithm, w.buf, n, rec, err, this.now());
    return s < 0 ? n : s;
  }
}

const BADSIG = 16;
const BADKEY = 17;
const BADTIME = 18;
const TSIG_ERRORS: { [e: number]: string } = { [BADSIG]: 'BADSIG', [BADKEY]: 'BADKEY', [BADTIME]: 'BADTIME' };
/** Room for a TSIG record (hmac-sha512 with long key and algorithm names) in a signed reply. */
const TSIG_ROOM = 400;

/** The serial of the SOA in an IXFR request's authority section (RFC 1995 §3), or undefined. */
function ixfrSerial(req: Buffer, len: number): number | undefined {
  try {
    const m = decode(req, len);
    const soa = m.authorities.find((r) => r.type === RRType.SOA);
    return soa === undefined ? undefined : (soa.data as SoaData).serial >>> 0;
  } catch {
    return undefined;
  }
}
