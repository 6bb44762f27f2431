/**
 * Explain (hades's metrics port, `GET /explain?name=&type=&client=&ecs=`): why a client gets the
 * answer it gets. The answer is a real query through the handler (the same code, the same kept
 * per-name answers, the same selectors: a sticky answer is the one that client gets); the
 * explanation reads the same per-name family and client zone that query used (answer-address.ts
 * `AddressAnswers.family`, `groupFor`), and the name's records with their health, drain, zone
 * and tier. A random-one answer is one draw. The JSON's shape: common/explanation.ts.
 */

import type { Explanation } from '../common/explanation.js';
import { canonicalIP } from '../records/ip.js';
import { NameError, parseName } from '../records/names.js';
import { parseCidr } from '../records/topology.js';
import type { Record } from '../records/types.js';
import { type AddressAnswers, type Family, type Group, groupFor } from './answer-address.js';
import type { AnswerContext } from './answer-context.js';
import { allDownFor, policyFor, weightOf } from './select.js';
import { tierOf } from './tiers.js';
import type { ClientInfo } from './types.js';
import { RRType, rcodeName, typeFromName, typeName } from './wire/constants.js';
import { decode } from './wire/decode.js';
import { encodeQuery } from './wire/encode.js';
import { ResponseWriter } from './wire/writer.js';

/** The query string of `/explain`, as given. */
export interface ExplainParams {
  name?: string;
  type?: string;
  client?: string;
  ecs?: string;
}

/** A bad parameter: the metrics port answers 400 naming it. */
export class ExplainError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.name = 'ExplainError';
    this.field = field;
  }
}

/** What explain needs of a handler (DnsHandler hands its own parts in). */
export interface ExplainParts {
  /** Answers a request as the pipeline's first stage would (DnsHandler.handle). */
  handle(req: Buffer, len: number, client: ClientInfo, w: ResponseWriter, limit: number): number;
  readonly ctx: AnswerContext;
  readonly addresses: AddressAnswers;
  readonly trustEcs: boolean;
}

interface Parsed {
  name: string;
  qtype: number;
  client: string;
  ecs: { address: string; sourcePrefix: number; text: string } | null;
}

function parseParams(p: ExplainParams): Parsed {
  if (p.name === undefined || p.name === '')
    throw new ExplainError('name', 'name: missing (?name=web.hades.local)');
  let name: string;
  try {
    name = parseName(p.name);
  } catch (e) {
    if (e instanceof NameError) throw new ExplainError('name', `name: ${e.message}`);
    throw e;
  }
  const qtype = typeFromName(p.type ?? 'A');
  if (qtype === undefined || qtype === RRType.AXFR || qtype === RRType.IXFR || qtype === RRType.OPT)
    throw new ExplainError('type', `type: "${p.type}" is not a query type (A, AAAA, SRV, TXT, …)`);
  const client = canonicalIP(p.client ?? '');
  if (client === undefined)
    throw new ExplainError(
      'client',
      `client: ${p.client === undefined ? 'missing' : `"${p.client}" is not an IP address`}`,
    );
  let ecs: Parsed['ecs'] = null;
  if (p.ecs !== undefined && p.ecs !== '') {
    const c = parseCidr(p.ecs);
    if (typeof c === 'string') throw new ExplainError('ecs', `ecs: "${p.ecs}" ${c}`);
    ecs = { address: c.text.slice(0, c.text.indexOf('/')), sourcePrefix: c.prefix, text: c.text };
  }
  return { name, qtype, client, ecs };
}

/** Runs the query for the client and explains the answer. Throws ExplainError on bad params. */
export function explain(parts: ExplainParts, params: ExplainParams): Explanation {
  const p = parseParams(params);
  const req = encodeQuery({
    id: 1,
    name: p.name,
    type: p.qtype,
    rd: false,
    edns: {
      udpSize: 65535,
      ecs: p.ecs === null ? null : { address: p.ecs.address, sourcePrefix: p.ecs.sourcePrefix },
    },
  });
  const client: ClientInfo = {
    address: p.client,
    port: 0,
    family: p.client.includes(':') ? 6 : 4,
    transport: 'tcp',
  };
  const w = new ResponseWriter();
  const n = parts.handle(req, req.length, client, w, 65535);
  const question = { name: p.name, type: typeName(p.qtype) };
  const usesEcs = parts.trustEcs && p.ecs !== null && p.ecs.sourcePrefix > 0;
  const who: Explanation['client'] = {
    address: p.client,
    ecs: p.ecs?.text ?? null,
    identity: usesEcs ? 'ECS subnet' : 'source address',
    zone: null,
  };
  const out: Explanation = {
    question,
    client: who,
    rcode: 'NOERROR',
    answer: [],
    name: p.name,
    policy: parts.ctx.policy,
    allDown: parts.ctx.allDown,
    addresses: [],
    tier: null,
    candidateZone: null,
    candidates: [],
    chosen: [],
    rule: '',
  };
  if (n <= 0) {
    out.rcode = 'REFUSED';
    out.rule = `${p.name} is in none of this server's zones: the query is forwarded (or refused)`;
    return out;
  }
  const m = decode(w.buf.subarray(0, n));
  out.rcode = rcodeName(m.rcode);
  out.answer = m.answers.map((r) => ({
    name: r.name,
    type: typeName(r.type),
    ttl: r.ttl,
    data: String(r.data),
  }));
  // the name whose records answered: the end of the CNAME chain
  let name = p.name;
  for (const r of m.answers)
    if (r.type === RRType.CNAME && r.name.toLowerCase() === name) name = String(r.data);
  out.name = name;

  // the query left the context on this client and request: the zone it used
  const ctx = parts.ctx;
  const zone = ctx.clientZone();
  who.zone = zone === '' ? null : zone;
  const recs: Record[] = [];
  const count = ctx.source.lookup(name, recs);
  out.policy = policyFor(recs, count, ctx.policy);
  out.allDown = allDownFor(recs, count, ctx.allDown);
  const family =
    p.qtype === RRType.A || p.qtype === RRType.AAAA ? parts.addresses.family(ctx, name, p.qtype) : null;
  const group = family !== null && !family.closed ? groupFor(ctx, family) : null;
  const chosen = new Set(m.answers.filter((r) => r.type === p.qtype).map((r) => String(r.data)));
  const cands = new Set(group?.cands.map((r) => r.target) ?? []);
  // the name's address records, each address once, as answers collect them
  const addrs: Record[] = [];
  const k = ctx.collectAddresses(recs, count, 'addr', addrs);
  for (let i = 0; i < k; i++) {
    const r = addrs[i];
    const h = ctx.source.health(r.target);
    out.addresses.push({
      address: r.target,
      key: r.key,
      health: h ?? 'unmonitored',
      drained: ctx.source.drained(r.target),
      zone: r.zone ?? null,
      tier: tierOf(r),
      weight: weightOf(r),
      candidate: cands.has(r.target),
      chosen: chosen.has(r.target),
    });
  }
  out.chosen = [...chosen];
  if (family !== null && group !== null) {
    out.tier = family.tier < 0 ? null : family.tier;
    out.candidateZone = group.zone === '' ? null : group.zone;
    out.candidates = group.cands.map((r) => r.target);
  }
  out.rule = ruleOf(out, family, group, zone);
  return out;
}

/** One sentence: which rule chose the answer. */
function ruleOf(e: Explanation, f: Family | null, g: Group | null, zone: string): string {
  if (f === null) {
    if (e.question.type !== 'A' && e.question.type !== 'AAAA')
      return `${e.question.type}: every record of the type, as CoreDNS answers it (no selection)`;
    return e.rcode === 'NXDOMAIN'
      ? `${e.name} does not exist`
      : `${e.name} has no ${e.question.type} address that is not drained: ${e.rcode}, no address`;
  }
  if (f.closed) return `every address not drained is DOWN and the name's all-down policy is closed: SERVFAIL`;
  const parts: string[] = [];
  if (f.failOpen) parts.push('every address not drained is DOWN: all served (fail-open)');
  else parts.push('healthy addresses that are not drained');
  if (f.tier >= 0) parts.push(`of the lowest tier with one (priority ${f.tier})`);
  else parts.push('of every tier (all ignores priorities)');
  if (g !== null && g.zone !== '') parts.push(`in the client's zone ${g.zone}`);
  else if (f.zones !== null)
    parts.push(
      zone === '' ? 'in any zone (the client has none)' : `in any zone (zone ${zone} has none of them)`,
    );
  const among = `${parts.join(', ')}; `;
  const k = g?.cands.length ?? 0;
  switch (f.policy) {
    case 'sticky':
      return k === 1
        ? `${among}the only candidate`
        : `${among}sticky: the highest weighted rendezvous hash of (client identity, name, address) among ${k}`;
    case 'random-one':
      return `${among}random-one: a weighted draw per query among ${k} (this query's draw)`;
    default:
      return `${among}all: every candidate, shuffled`;
  }
}
