/**
 * Out-of-zone CNAME targets of our own records: resolved through the upstreams (the response
 * cache first; then the same tries, limits and health as forwarded queries, UDP first, no DO bit)
 * and appended to our reply after its CNAME.
 */
import { asciiLower, canonicalName } from '../../records/names.js';
import type { Transport } from '../types.js';
import { MAX_MESSAGE, Rcode, RRClass, RRType, replyLimit } from '../wire/constants.js';
import { decode, type Message } from '../wire/decode.js';
import { encodeQuery } from '../wire/encode.js';
import { newQuery, ParseStatus, parseQuery } from '../wire/query.js';
import { externalFrom, mergeExternal } from './external.js';
import type { ExternalCallback, ForwardCache, ForwarderStats } from './forwarder.js';
import { plainNameLength } from './packet.js';
import { Job, KIND_EXTERNAL, type Tries } from './tries.js';
import { listFor, type UpstreamList } from './upstream.js';

export interface CompletionOptions {
  tries: Tries;
  stats: ForwarderStats;
  udpSize: number;
  cache: ForwardCache | undefined;
  /** The upstream lists, as the forwarder picks them (upstream.ts listFor). */
  stubs: ReadonlyMap<string, UpstreamList>;
  nameservers: UpstreamList | null;
}

/** Forwarder.resolveExternal and Forwarder.completeExternal (see there). */
export class Completion {
  private readonly o: CompletionOptions;
  private readonly q = newQuery();
  /** Where cached replies are read to (made on first use). */
  private cacheOut: Buffer | null = null;

  constructor(opts: CompletionOptions) {
    this.o = opts;
  }

  resolve(name: string, qtype: number, done: ExternalCallback): void {
    const o = this.o;
    const s = o.stats;
    s.external++;
    if (o.tries.closed) {
      done(null);
      return;
    }
    let query: Buffer;
    try {
      query = encodeQuery({ id: 0, name, type: qtype, rd: true, edns: { udpSize: o.udpSize } });
    } catch {
      s.malformed++;
      done(null);
      return;
    }
    const lname = canonicalName(name);
    if (o.cache !== undefined) {
      // answered before from upstream (by this path or a client's query for the name): no trip
      this.cacheOut ??= Buffer.allocUnsafe(MAX_MESSAGE);
      const n = o.cache.serve(query, query.length, 'tcp', this.cacheOut);
      if (n > 0) {
        done(externalFrom(this.cacheOut, n, lname, qtype));
        return;
      }
    }
    if (o.tries.full) {
      s.refusedInflight++;
      done(null);
      return;
    }
    const list = listFor(o.stubs, o.nameservers, lname);
    if (list === null) {
      s.noUpstream++;
      done(null);
      return;
    }
    const job = new Job(o.tries, KIND_EXTERNAL, false, list);
    job.extDone = done;
    job.name = lname;
    job.query = query;
    job.qnameLen = plainNameLength(query, 12, query.length);
    job.qtype = qtype;
    job.qclass = RRClass.IN;
    job.clientEdns = true;
    job.limit = MAX_MESSAGE;
    o.tries.begin(job);
  }

  complete(
    req: Buffer,
    reqLen: number,
    reply: Buffer,
    replyLen: number,
    target: string,
    transport: Transport,
    done: (reply: Buffer) => void,
  ): boolean {
    if (target === '' || this.o.tries.closed || replyLen < 12) return false;
    if ((reply[2] & 0x02) !== 0 || (reply[3] & 0x0f) !== Rcode.NOERROR) return false;
    const q = this.q;
    if (parseQuery(req, reqLen, q) !== ParseStatus.OK || !q.hasQuestion) return false;
    if (q.qtype === RRType.CNAME || q.qclass !== RRClass.IN) return false;
    let msg: Message;
    try {
      msg = decode(reply, replyLen);
    } catch {
      return false;
    }
    const last = msg.answers[msg.answers.length - 1];
    if (last === undefined || last.type !== RRType.CNAME || typeof last.data !== 'string') return false;
    if (asciiLower(last.data) !== asciiLower(target)) return false;
    const limit = replyLimit(transport, q.edns, q.udpSize, this.o.udpSize);
    const original = Buffer.from(reply.subarray(0, replyLen));
    this.resolve(target, q.qtype, (ans) => {
      let out: Buffer = original;
      if (ans !== null) {
        try {
          out = mergeExternal(msg, ans, limit);
        } catch {
          out = original;
        }
      }
      done(out);
    });
    return true;
  }
}
