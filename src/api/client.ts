/**
 * hades-apicmd's side: requests to the seed-compatible /hades API (and `/v1/health` for drain,
 * `/v1/topology` for zones), and the seed's output lines. Over node:http / node:https, so an
 * `https://` base can trust a private CA and present a client certificate (`useTls`).
 */
import http from 'node:http';
import https from 'node:https';

/** PEM contents for https: the CA to trust (instead of the system's), a client certificate and key. */
export interface ClientTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

let tlsOptions: ClientTls = {};

/** The TLS material every later https request uses. */
export function useTls(t: ClientTls): void {
  tlsOptions = t;
}

export interface Entry {
  type: string;
  ips?: string[];
  host?: string;
  text?: string;
  port?: number;
}

export class ClientError extends Error {}

/** `127.0.0.1:9001`, `http://…` or `https://…` → base URL; no scheme: `defaultScheme`. */
export function baseUrl(addr: string, defaultScheme: 'http' | 'https' = 'http'): string {
  const a = addr.trim();
  if (a === '') throw new ClientError('-addr is empty (or set HADES_API_ADDR)');
  const u = /^https?:\/\//i.test(a) ? a : `${defaultScheme}://${a}`;
  try {
    return new URL(u).origin;
  } catch {
    throw new ClientError(`-addr "${addr}" is not host:port or a URL`);
  }
}

export function call(
  base: string,
  token: string,
  method: string,
  domain: string | undefined,
  body?: unknown,
): Promise<string> {
  const headers: Record<string, string> = {};
  if (domain !== undefined) headers.domain = domain;
  return request(`${base}/hades`, token, method, headers, body);
}

/** `PUT /v1/health/{ip}` `{"admin": …}`: the status after the write (the API's JSON). */
export async function setAdmin(
  base: string,
  token: string,
  ip: string,
  admin: 'drain' | 'none',
): Promise<{ ip: string; status?: string; admin: string }> {
  const text = await request(`${base}/v1/health/${encodeURIComponent(ip)}`, token, 'PUT', {}, { admin });
  try {
    return JSON.parse(text) as { ip: string; status?: string; admin: string };
  } catch {
    throw new ClientError(`the API answered something that is not JSON: ${text.slice(0, 80)}`);
  }
}

/** A zone as `/v1/topology` answers it. */
export interface TopologyZone {
  zone: string;
  cidrs?: string[];
  error?: string;
  modRevision: number;
}

function parseAnswer<T>(text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ClientError(`the API answered something that is not JSON: ${text.slice(0, 80)}`);
  }
}

const zoneUrl = (base: string, zone: string): string => `${base}/v1/topology/${encodeURIComponent(zone)}`;

/** `GET /v1/topology` (every zone) or `GET /v1/topology/{zone}`. */
export async function getTopology(base: string, token: string, zone?: string): Promise<TopologyZone[]> {
  if (zone !== undefined)
    return [parseAnswer<TopologyZone>(await request(zoneUrl(base, zone), token, 'GET', {}))];
  return parseAnswer<{ topology: TopologyZone[] }>(await request(`${base}/v1/topology`, token, 'GET', {}))
    .topology;
}

/** `PUT /v1/topology/{zone}` `{"cidrs":[…]}`: the zone as stored. */
export async function setTopology(
  base: string,
  token: string,
  zone: string,
  cidrs: string[],
): Promise<TopologyZone> {
  return parseAnswer<TopologyZone>(await request(zoneUrl(base, zone), token, 'PUT', {}, { cidrs }));
}

/** `DELETE /v1/topology/{zone}`. */
export async function deleteTopology(base: string, token: string, zone: string): Promise<void> {
  await request(zoneUrl(base, zone), token, 'DELETE', {});
}

/** One line per zone, names aligned: `zone:  z1  cidrs: [10.1.0.0/16 fd00:1::/48]`. */
export function formatTopology(zones: TopologyZone[]): string {
  const width = Math.max(0, ...zones.map((z) => z.zone.length));
  return zones
    .map(
      (z) =>
        `zone:  ${z.zone.padStart(width)}  ${z.cidrs ? `cidrs: [${z.cidrs.join(' ')}]` : `error: ${z.error ?? 'unreadable'}`}\n`,
    )
    .join('');
}

function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  const opts: https.RequestOptions = {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
    ...(secure ? { ca: tlsOptions.ca, cert: tlsOptions.cert, key: tlsOptions.key } : {}),
  };
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(u, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.end(body);
  });
}

async function request(
  url: string,
  token: string,
  method: string,
  extra: Record<string, string>,
  body?: unknown,
): Promise<string> {
  const headers: Record<string, string> = { 'content-type': 'application/json;charset=UTF-8', ...extra };
  if (token !== '') headers.token = token;
  const base = new URL(url).origin;
  let res: { status: number; text: string };
  try {
    res = await send(url, method, headers, body === undefined ? undefined : JSON.stringify(body));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ClientError(
      `cannot reach ${base}: ${err.code ?? err.message}${err.code && err.message && !err.message.includes(err.code) ? ` (${err.message})` : ''}`,
    );
  }
  const text = res.text;
  if (res.status < 200 || res.status > 299) {
    let msg = text.trim();
    try {
      msg = (JSON.parse(text) as { error?: string }).error ?? msg;
    } catch {
      // plain text
    }
    throw new ClientError(`${res.status} ${msg}`);
  }
  return text;
}

/** `{ type:A  ips:[a b] }` */
export function formatVal(e: Entry): string {
  const parts = [`type:${e.type}`];
  if (e.ips) parts.push(`ips:[${e.ips.join(' ')}]`);
  if (e.host !== undefined) parts.push(`host:${e.host}`);
  if (e.port !== undefined) parts.push(`port:${e.port}`);
  if (e.text !== undefined) parts.push(`text:${JSON.stringify(e.text)}`);
  return `{ ${parts.join('  ')} }`;
}

/** The seed's lines: `domain:  <name right-aligned>  val: { type:A  ips:[ip1 ip2] }`, names sorted. */
export function formatLines(entries: { [name: string]: Entry }): string {
  const names = Object.keys(entries).sort();
  const width = Math.max(0, ...names.map((n) => n.length));
  return names.map((n) => `domain:  ${n.padStart(width)}  val: ${formatVal(entries[n])}\n`).join('');
}

/** `-updates`: "ips:old->new;old2->new2" or "alias:old->new" → type and the update object. */
export function parseUpdates(text: string): { kind: 'ips' | 'alias'; update: Record<string, string> } {
  const m = /^\s*(ips|alias)\s*:(.*)$/i.exec(text);
  if (!m) throw new ClientError(`-updates "${text}": want "ips:old->new;..." or "alias:old->new"`);
  const kind = m[1].toLowerCase() as 'ips' | 'alias';
  const update: Record<string, string> = {};
  for (let item of m[2].split(';')) {
    item = item.trim().replace(/^(ips|alias)\s*:/i, '');
    if (item === '') continue;
    const p = item.split('->');
    if (p.length !== 2 || p[0].trim() === '' || p[1].trim() === '')
      throw new ClientError(`-updates: "${item}" is not old->new`);
    update[p[0].trim()] = p[1].trim();
  }
  if (Object.keys(update).length === 0) throw new ClientError(`-updates "${text}" has no old->new`);
  if (kind === 'alias' && Object.keys(update).length !== 1)
    throw new ClientError('-updates alias: renames one alias (alias:old->new)');
  return { kind, update };
}

/** `-ips` and `-cidrs`: items separated by ";" (or ","), blanks dropped. */
export function splitIps(text: string): string[] {
  return text
    .split(/[;,]/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
