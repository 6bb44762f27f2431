/**
 * DnsHandler: the pipeline's first stage (types.ts `QueryHandler`): answers a parsed request
 * from our own data. The protocol cases (malformed, opcodes, EDNS, classes, CHAOS), the zone
 * match, then the catalog's answer (answer.ts) into the transport's writer; names in none of our
 * zones come back as FORWARD. Synchronous; the common path (A/AAAA for an existing name)
 * allocates nothing of its own.
 */
import { hostname as osHostname } from 'node:os';
import type { Explanation } from '../common/explanation.js';
import type { AllDownPolicy, SelectPolicy } from '../records/types.js';
import { ALL_DOWN_POLICIES, SELECT_POLICIES } from '../records/types.js';
import { VERSION } from '../version.js';
import { answerInZone } from './answer.js';
import { AddressAnswers } from './answer-address.js';
import { AnswerContext, type AnswerSource, type AnswerStats } from './answer-context.js';
import { chaosText } from './chaos.js';
import { type ExplainParams, explain } from './explain.js';
import { makeSelectors, type PolicySelectors } from './select.js';
import { type ClientInfo, DROP, FORWARD, type LocalAnswer, type QueryHandler } from './types.js';
import {
  EDNS_UDP_SIZE,
  Flag,
  MAX_MESSAGE,
  MIN_UDP_SIZE,
  Rcode,
  RRClass,
  RRType,
  replyLimit,
  Section,
} from './wire/constants.js';
import { newQuery, ParseStatus, parseQuery, type Query } from './wire/query.js';
import { QNAME, type ResponseWriter } from './wire/writer.js';
import { Zones } from './zones.js';

export interface DnsHandlerOptions {
  /** The in-memory index answered from (a Catalog). */
  catalog: AnswerSource;
  /** Zones served, canonical or not (`hades.local.`, `10.in-addr.arpa.`); at least one. */
  zones: readonly string[];
  /** TTL of records without a positive `ttl` (default 3600, as SkyDNS). */
  defaultTtl?: number;
  /** SOA MINIMUM, the negative-answer TTL (default 30, as CoreDNS's etcd plugin). */
  minTtl?: number;
  /** EDNS UDP payload size we advertise and the most we send over UDP (default 1232). */
  maxUdpSize?: number;
  /** Server selection policy for A/AAAA (default `sticky`; a record's `select` overrides it). */
  select?: SelectPolicy;
  /**
   * When every address of a name not drained is DOWN: `open` serves them (default), `closed`
   * answers SERVFAIL; a record's `alldown` overrides it.
   */
  allDown?: AllDownPolicy;
  /** CHAOS `hostname.bind` / `id.server` (default os.hostname(); '' refuses them). */
  hostname?: string;
  /** CHAOS `version.bind` / `version.server` (default `hades <VERSION>`; '' refuses them). */
  version?: string;
  /** Seed of the selectors' random numbers (default: random; tests fix it). */
  seed?: number;
  /**
   * `sticky` identifies clients by the query's EDNS Client Subnet (when present) instead of the
   * source address, and replies echo the option with a scope (default false: ECS ignored and
   * never echoed).
   */
  trustEcs?: boolean;
  /** Replacement selectors by policy (tests). */
  selectors?: Partial<PolicySelectors>;
  /**
   * Answers as a zone transfer shows the data (src/dns/transfer): `select` and `allDown` hold for
   * every name, whatever its records say, and no client has a topology zone.
   */
  fixedPolicies?: boolean;
}

export const DEFAULT_TTL = 3600;
export const DEFAULT_MIN_TTL = 30;

function intOption(name: string, v: number | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < min || v > max)
    throw new RangeError(`DnsHandler: ${name} must be an integer from ${min} to ${max}, got ${v}`);
  return v;
}

export class DnsHandler implements QueryHandler {
  readonly zones: Zones;
  readonly defaultTtl: number;
  readonly minTtl: number;
  readonly maxUdpSize: number;
  readonly select: SelectPolicy;
  readonly allDown: AllDownPolicy;
  readonly trustEcs: boolean;
  readonly hostname: string;
  readonly version: string;
  private readonly q: Query = newQuery();
  private readonly result: LocalAnswer = { length: 0, externalTarget: '' };
  private readonly ctx: AnswerContext;
  /** A/AAAA answers before selection per name asked, valid for the catalog's generations. */
  private readonly addresses = new AddressAnswers();
  /** Use them: not for a transfer's handler, which asks each name once per change (memory). */
  private readonly perName: boolean;

  constructor(opts: DnsHandlerOptions) {
    this.zones = new Zones(opts.zones);
    this.defaultTtl = intOption('defaultTtl', opts.defaultTtl, DEFAULT_TTL, 0, 0x7fffffff);
    this.minTtl = intOption('minTtl', opts.minTtl, DEFAULT_MIN_TTL, 0, 0x7fffffff);
    this.maxUdpSize = intOption('maxUdpSize', opts.maxUdpSize, EDNS_UDP_SIZE, MIN_UDP_SIZE, MAX_MESSAGE);
    const select = opts.select ?? 'sticky';
    if (!SELECT_POLICIES.includes(select))
      throw new RangeError(`DnsHandler: select must be one of ${SELECT_POLICIES.join(', ')}, got ${select}`);
    this.select = select;
    const allDown = opts.allDown ?? 'open';
    if (!ALL_DOWN_POLICIES.includes(allDown))
      throw new RangeError(
        `DnsHandler: allDown must be one of ${ALL_DOWN_POLICIES.join(', ')}, got ${allDown}`,
      );
    this.allDown = allDown;
    this.trustEcs = opts.trustEcs === true;
    this.hostname = opts.hostname ?? osHostname();
    this.version = opts.version ?? `hades ${VERSION}`;
    this.ctx = new AnswerContext({
      source: opts.catalog,
      zones: this.zones,
      defaultTtl: this.defaultTtl,
      minTtl: this.minTtl,
      policy: select,
      allDown,
      selectors: makeSelectors({ seed: opts.seed, trustEcs: this.trustEcs }, opts.selectors),
      trustEcs: this.trustEcs,
      fixedPolicies: opts.fixedPolicies,
    });
    this.perName = opts.fixedPolicies !== true;
  }

  /**
   * Why `params.client` gets the answer it gets for `params.name`/`params.type` (explain.ts): a
   * real query through this handler, explained. Throws ExplainError naming a bad parameter.
   */
  explain(params: ExplainParams): Explanation {
    return explain(
      {
        handle: (req, len, client, w, limit) => this.handle(req, len, client, w, limit),
        ctx: this.ctx,
        addresses: this.addresses,
        trustEcs: this.trustEcs,
      },
      params,
    );
  }

  /** Counters (fail-open and closed all-down answers, internal errors) for the metrics. Live object. */
  get stats(): Readonly<AnswerStats> {
    return this.ctx.stats;
  }

  /**
   * Parses and answers one request (`req[0, len)`): the reply's length in `w`, DROP or FORWARD.
   * The pipeline parses once and calls `answer`; this is for tests and benchmarks. `limit` is
   * used on TCP; on UDP the client's limit is computed (512 without EDNS, else its size capped
   * by `maxUdpSize`).
   */
  handle(req: Buffer, len: number, client: ClientInfo, w: ResponseWriter, limit: number): number {
    const q = this.q;
    const st = parseQuery(req, len, q);
    if (st === ParseStatus.DROP) return DROP;
    const lim = client.transport === 'udp' ? replyLimit('udp', q.edns, q.udpSize, this.maxUdpSize) : limit;
    return this.answer(q, st, client, w, lim).length;
  }

  answer(q: Query, status: ParseStatus, client: ClientInfo, w: ResponseWriter, limit: number): LocalAnswer {
    const r = this.result;
    r.externalTarget = '';
    switch (status) {
      case ParseStatus.OK:
        break;
      case ParseStatus.NOTIMP:
        r.length = w.empty(q, Rcode.NOTIMP, this.maxUdpSize, limit);
        return r;
      case ParseStatus.BADVERS:
        r.length = w.empty(q, Rcode.BADVERS, this.maxUdpSize, limit);
        return r;
      default:
        r.length = w.empty(q, Rcode.FORMERR, this.maxUdpSize, limit);
        return r;
    }
    try {
      r.length = this.inClass(q, client, w, limit);
      r.externalTarget = this.ctx.externalTarget;
    } catch {
      // a bug or data the writer cannot encode: never take the process down for one query
      this.ctx.stats.errors++;
      r.length = w.empty(q, Rcode.SERVFAIL, this.maxUdpSize, limit);
    }
    return r;
  }

  private inClass(q: Query, client: ClientInfo, w: ResponseWriter, lim: number): number {
    this.ctx.identityUsed = false;
    this.ctx.externalTarget = '';
    if (q.qclass !== RRClass.IN) {
      const text = q.qclass === RRClass.CH ? chaosText(q, this) : undefined;
      if (text === undefined) {
        w.start(q, Rcode.REFUSED, 0);
      } else {
        w.start(q, Rcode.NOERROR, Flag.AA);
        w.rrClass = RRClass.CH;
        w.addTXT(Section.ANSWER, QNAME, 0, text);
      }
      this.opt(q, w);
      return w.finish(lim);
    }
    const zone = this.zones.find(q.qname, q.qnameEscaped);
    if (zone === undefined) return FORWARD;
    if (q.qtype === RRType.AXFR || q.qtype === RRType.IXFR) {
      // no zone transfers
      w.start(q, Rcode.REFUSED, 0);
      this.opt(q, w);
      return w.finish(lim);
    }
    const ctx = this.ctx;
    ctx.w = w;
    ctx.client = client;
    ctx.query = q;
    w.start(q, Rcode.NOERROR, Flag.AA);
    // the common question: A/AAAA for a name with addresses, from its per-name answers
    const qt = q.qtype;
    if (this.perName && (qt === RRType.A || qt === RRType.AAAA) && q.qnamePlain && q.qname !== zone.name) {
      const rc = this.addresses.answer(ctx, q.qname, qt);
      if (rc === Rcode.NOERROR) {
        this.opt(q, w);
        return w.finish(lim);
      }
      if (rc === Rcode.SERVFAIL) return w.empty(q, Rcode.SERVFAIL, this.maxUdpSize, lim);
    }
    const rcode = answerInZone(ctx, q.qname, q.qtype, zone, q.qnamePlain);
    // all down and closed: "try again later", without the CNAMEs written on the way
    if (rcode === Rcode.SERVFAIL) return w.empty(q, Rcode.SERVFAIL, this.maxUdpSize, lim);
    if (rcode !== Rcode.NOERROR) w.setRcode(rcode);
    this.opt(q, w);
    return w.finish(lim);
  }

  /**
   * Echoes EDNS: an OPT with our size, version 0, the DO bit copied (RFC 3225 §3). With
   * `trustEcs`, the Client Subnet option too (RFC 7871 §7.2.1), its scope the source prefix when
   * the answer depended on it (a sticky choice among several addresses), else 0.
   */
  private opt(q: Query, w: ResponseWriter): void {
    if (!q.edns) return;
    if (this.trustEcs && q.ecs)
      w.addOPT(this.maxUdpSize, 0, q.do, q, this.ctx.identityUsed ? q.ecsSourcePrefix : 0);
    else w.addOPT(this.maxUdpSize, 0, q.do);
  }
}
