/**
 * DNS protocol numbers (RFC 1035, 3596, 2782, 6891, 7871 and the IANA registries).
 * Plain frozen objects of numbers: `RRType.A` is a constant property load, no enum machinery.
 */

/** Resource record types (and query-only meta types). */
export const RRType = Object.freeze({
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  RP: 17,
  SIG: 24,
  AAAA: 28,
  LOC: 29,
  SRV: 33,
  NAPTR: 35,
  DNAME: 39,
  OPT: 41,
  DS: 43,
  SSHFP: 44,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  NSEC3: 50,
  NSEC3PARAM: 51,
  TLSA: 52,
  SVCB: 64,
  HTTPS: 65,
  TKEY: 249,
  TSIG: 250,
  IXFR: 251,
  AXFR: 252,
  MAILB: 253,
  MAILA: 254,
  ANY: 255,
  URI: 256,
  CAA: 257,
} as const);

/** Classes. */
export const RRClass = Object.freeze({
  IN: 1,
  CH: 3,
  HS: 4,
  NONE: 254,
  ANY: 255,
} as const);

/** Header opcodes (the 4-bit field, not shifted). */
export const Opcode = Object.freeze({
  QUERY: 0,
  IQUERY: 1,
  STATUS: 2,
  NOTIFY: 4,
  UPDATE: 5,
  DSO: 6,
} as const);

/**
 * Response codes. Values above 15 are extended (RFC 6891): the low 4 bits go in the header,
 * the upper 8 bits in the OPT record's TTL field.
 */
export const Rcode = Object.freeze({
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
  BADVERS: 16,
  BADCOOKIE: 23,
} as const);

/** Bits of the 16-bit header flags word (opcode and rcode are fields, see the shifts/masks). */
export const Flag = Object.freeze({
  QR: 0x8000,
  AA: 0x0400,
  TC: 0x0200,
  RD: 0x0100,
  RA: 0x0080,
  Z: 0x0040,
  AD: 0x0020,
  CD: 0x0010,
} as const);

export const OPCODE_SHIFT = 11;
export const OPCODE_MASK = 0x7800;
export const RCODE_MASK = 0x000f;

/** The DO bit inside the 16-bit EDNS flags (upper half of the OPT TTL's low 16 bits). */
export const EDNS_DO = 0x8000;

/** EDNS0 option codes. */
export const EdnsOption = Object.freeze({
  NSID: 3,
  CLIENT_SUBNET: 8,
  EXPIRE: 9,
  COOKIE: 10,
  TCP_KEEPALIVE: 11,
  PADDING: 12,
  EDE: 15,
} as const);

/** Address families of the EDNS Client Subnet option (IANA address family numbers). */
export const EcsFamily = Object.freeze({ IPV4: 1, IPV6: 2 } as const);

/** Message sections, in wire order (the question is section 0). */
export const Section = Object.freeze({
  ANSWER: 1,
  AUTHORITY: 2,
  ADDITIONAL: 3,
} as const);
export type SectionId = 1 | 2 | 3;

export const HEADER_SIZE = 12;
export const MAX_NAME_OCTETS = 255;
export const MAX_LABEL_OCTETS = 63;
export const MAX_MESSAGE = 65535;
/** RFC 1035 §4.2.1: UDP payloads without EDNS are at most 512 octets. */
export const MIN_UDP_SIZE = 512;
/**
 * The EDNS UDP payload size Hades advertises and the most it sends over UDP (DNS Flag Day 2020:
 * fits every path's MTU without fragmentation).
 */
export const EDNS_UDP_SIZE = 1232;

/**
 * The largest reply a client takes: 65535 over TCP; over UDP 512 without EDNS, else its EDNS size
 * capped by ours (`ourSize`), never below 512.
 */
export function replyLimit(
  transport: 'udp' | 'tcp',
  edns: boolean,
  clientSize: number,
  ourSize: number,
): number {
  if (transport === 'tcp') return MAX_MESSAGE;
  if (!edns) return MIN_UDP_SIZE;
  return Math.max(MIN_UDP_SIZE, Math.min(clientSize, ourSize));
}

const TYPE_NAMES: Map<number, string> = new Map(Object.entries(RRType).map(([k, v]) => [v, k]));
const CLASS_NAMES: Map<number, string> = new Map(Object.entries(RRClass).map(([k, v]) => [v, k]));
const RCODE_NAMES: Map<number, string> = new Map(Object.entries(Rcode).map(([k, v]) => [v, k]));

/** `1` → `A`; unknown numbers use the RFC 3597 form `TYPE1234`. */
export function typeName(t: number): string {
  return TYPE_NAMES.get(t) ?? `TYPE${t}`;
}

/** `A` / `a` / `TYPE1` → 1; undefined when unknown. */
export function typeFromName(s: string): number | undefined {
  const u = s.toUpperCase();
  const v = (RRType as Record<string, number>)[u];
  if (v !== undefined) return v;
  const m = /^TYPE(\d{1,5})$/.exec(u);
  if (m) {
    const n = Number(m[1]);
    if (n <= 0xffff) return n;
  }
  return undefined;
}

/** `1` → `IN`; unknown numbers use `CLASS1234`. */
export function className(c: number): string {
  return CLASS_NAMES.get(c) ?? `CLASS${c}`;
}

/** `0` → `NOERROR`; unknown numbers use `RCODE1234`. */
export function rcodeName(r: number): string {
  return RCODE_NAMES.get(r) ?? `RCODE${r}`;
}
