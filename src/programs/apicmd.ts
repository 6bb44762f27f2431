/**
 * hades-apicmd: the command line of the REST API (the seed's `/hades` calls).
 *
 *   hades-apicmd -list
 *   hades-apicmd -show cctv1
 *   hades-apicmd -method create -domain cctv1 -ips "192.168.10.1;192.168.10.2"
 *   hades-apicmd -method create -domain cctv1.user.hades.local -alias tv1
 *   hades-apicmd -method update -domain cctv1 -updates "ips:192.168.10.1->192.168.10.9"
 *   hades-apicmd -method update -domain cctv1 -updates "alias:tv1->tv2"
 *   hades-apicmd -method delete -domain cctv1 [-ips "a;b" | -alias tv1]
 *   hades-apicmd -method drain -ip 192.168.10.1      (never served; /v1/health)
 *   hades-apicmd -method undrain -ip 192.168.10.1
 *   hades-apicmd -method create -domain web -ips "10.1.0.5" -zone z1 -priority 20
 *   hades-apicmd -method topology [-zone z1]                     (zones: /v1/topology)
 *   hades-apicmd -method set-topology -zone z1 -cidrs "10.1.0.0/16;fd00:1::/48"
 *   hades-apicmd -method delete-topology -zone z1
 *   hades-apicmd -explain web.hades.local -client 10.1.4.7 -server 127.0.0.1:9153 [-type AAAA] [-ecs 10.1.4.0/24]
 *
 * -addr / $HADES_API_ADDR, -token / $HADES_API_TOKEN. HTTPS: `https://` in -addr, or -cacert /
 * $HADES_API_CACERT (the CA to trust; an -addr without a scheme is then https); an API that
 * requires client certificates: -cert / $HADES_API_CERT and -key / $HADES_API_KEY.
 * Errors: one line on stderr, exit 1 (2 for flags and unreadable files).
 */
import { readFileSync } from 'node:fs';
import {
  baseUrl,
  ClientError,
  call,
  deleteTopology,
  type Entry,
  formatLines,
  formatTopology,
  getTopology,
  parseUpdates,
  setAdmin,
  setTopology,
  splitIps,
  useTls,
} from '../api/client.js';
import { fetchExplain, formatExplain } from '../api/explain-client.js';
import { APICMD_PROGRAM, type ApicmdConfig, apicmdFlagSpecs, buildApicmdConfig } from '../config/apicmd.js';
import { flagsCommandLine } from '../config/cli.js';
import { canonicalIP } from '../records/ip.js';
import { exitUsage, loadConfig } from './run.js';

function fail(message: string): never {
  process.stderr.write(`${APICMD_PROGRAM}: ${message}\n`);
  process.exit(1);
}

function usageError(message: string): never {
  exitUsage(APICMD_PROGRAM, message);
}

function typeFor(cfg: ApicmdConfig, ips: string[]): string {
  const t = cfg.type.toUpperCase();
  if (t !== '') return t;
  return ips.length > 0 && ips.every((ip) => ip.includes(':')) ? 'AAAA' : 'A';
}

/** The request -method asks for: HTTP method and body. */
function change(cfg: ApicmdConfig): { httpMethod: string; body: unknown } {
  const ips = splitIps(cfg.ips);
  const alias = cfg.alias.trim();
  if (cfg.method === 'create') {
    if (alias !== '' && ips.length > 0) usageError('-method create takes -ips or -alias, not both');
    if (alias !== '') return { httpMethod: 'POST', body: { type: 'cname', alias } };
    if (ips.length > 0)
      return { httpMethod: 'POST', body: { type: typeFor(cfg, ips), ips, ...addrExtra(cfg) } };
    usageError('-method create needs -ips "a;b" or -alias');
  }
  if (cfg.method === 'delete') {
    if (alias !== '') return { httpMethod: 'DELETE', body: { type: 'cname', alias } };
    return { httpMethod: 'DELETE', body: ips.length > 0 ? { type: typeFor(cfg, ips), ips } : undefined };
  }
  if (cfg.updates.trim() === '')
    usageError('-method update needs -updates "ips:old->new" or "alias:old->new"');
  const u = parseUpdates(cfg.updates);
  return {
    httpMethod: 'PUT',
    body: { type: u.kind === 'alias' ? 'cname' : typeFor(cfg, Object.values(u.update)), update: u.update },
  };
}

/** `-zone` and `-priority` of `-method create -ips`: the body's fields (the API checks them too). */
function addrExtra(cfg: ApicmdConfig): { zone?: string; priority?: number } {
  const out: { zone?: string; priority?: number } = {};
  if (cfg.zone !== '') out.zone = cfg.zone;
  if (cfg.priority !== '') {
    if (!/^\d{1,5}$/.test(cfg.priority) || Number(cfg.priority) > 65535)
      usageError(`-priority "${cfg.priority}" is not an integer from 0 to 65535`);
    out.priority = Number(cfg.priority);
  }
  return out;
}

const TOPOLOGY_METHODS = ['topology', 'set-topology', 'delete-topology'];

/** Flags that go with one method only: a stray one is a usage error, not silently ignored. */
function checkPairs(cfg: ApicmdConfig): void {
  const topo = TOPOLOGY_METHODS.includes(cfg.method);
  const createIps = cfg.method === 'create' && splitIps(cfg.ips).length > 0;
  if (cfg.zone !== '' && !topo && !createIps)
    usageError('-zone goes with -method topology|set-topology|delete-topology, or -method create -ips');
  if (cfg.priority !== '' && !createIps) usageError('-priority goes with -method create -ips');
  if (cfg.cidrs !== '' && cfg.method !== 'set-topology') usageError('-cidrs goes with -method set-topology');
  if (topo && cfg.domain !== '') usageError(`-domain does not go with -method ${cfg.method}`);
  if ((cfg.method === 'set-topology' || cfg.method === 'delete-topology') && cfg.zone === '')
    usageError(`-method ${cfg.method} needs -zone <zone>`);
  if (cfg.method === 'set-topology' && splitIps(cfg.cidrs).length === 0)
    usageError('-method set-topology needs -cidrs "10.1.0.0/16;fd00:1::/48"');
}

/** -method topology|set-topology|delete-topology: `/v1/topology`. */
async function runTopology(cfg: ApicmdConfig, base: string): Promise<void> {
  const zone = cfg.zone === '' ? undefined : cfg.zone;
  if (cfg.method === 'delete-topology') {
    await deleteTopology(base, cfg.token, cfg.zone);
    process.stdout.write(cfg.json ? `${JSON.stringify({ result: 'OK' })}\n` : 'OK\n');
    return;
  }
  const zones =
    cfg.method === 'set-topology'
      ? [await setTopology(base, cfg.token, cfg.zone, splitIps(cfg.cidrs))]
      : await getTopology(base, cfg.token, zone);
  const out = cfg.method === 'set-topology' || zone !== undefined ? zones[0] : zones;
  process.stdout.write(cfg.json ? `${JSON.stringify(out, null, 2)}\n` : formatTopology(zones));
}

/** -explain <name> -client <ip> -server <metrics addr>: hades's /explain, for a person. */
async function runExplain(cfg: ApicmdConfig): Promise<void> {
  if (cfg.list || cfg.show !== '' || cfg.method !== '')
    usageError('-explain does not go with -list, -show or -method');
  if (cfg.client === '') usageError('-explain needs -client <address>');
  if (canonicalIP(cfg.client) === undefined)
    usageError(`-client "${cfg.client}" is not an IPv4 or IPv6 address`);
  if (cfg.server === '')
    usageError("-explain needs -server <hades's metrics host:port> (or HADES_METRICS_ADDR)");
  const e = await fetchExplain(cfg.server, {
    name: cfg.explain,
    type: cfg.type === '' ? 'A' : cfg.type,
    client: cfg.client,
    ecs: cfg.ecs,
  });
  process.stdout.write(cfg.json ? `${JSON.stringify(e, null, 2)}\n` : formatExplain(e));
}

function readPem(flag: string, file: string): Buffer {
  let b: Buffer;
  try {
    b = readFileSync(file);
  } catch (err) {
    usageError(`-${flag}: cannot read "${file}": ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  if (!b.toString('latin1').includes('-----BEGIN')) usageError(`-${flag}: "${file}" is not PEM`);
  return b;
}

/** -cacert, -cert, -key: read now (a bad file is exit 2), for an https base only. */
function setupTls(cfg: ApicmdConfig, base: string): void {
  const any = cfg.cacert !== '' || cfg.cert !== '' || cfg.key !== '';
  if (!any) return;
  if (!base.startsWith('https:'))
    usageError(`-cacert, -cert and -key need an https API: ${base} is plain http (write https:// in -addr)`);
  if ((cfg.cert === '') !== (cfg.key === ''))
    usageError(`-cert and -key go together: -${cfg.cert === '' ? 'cert' : 'key'} is missing`);
  useTls({
    ca: cfg.cacert !== '' ? readPem('cacert', cfg.cacert) : undefined,
    cert: cfg.cert !== '' ? readPem('cert', cfg.cert) : undefined,
    key: cfg.key !== '' ? readPem('key', cfg.key) : undefined,
  });
}

async function run(cfg: ApicmdConfig): Promise<void> {
  if (cfg.explain !== '') {
    await runExplain(cfg);
    return;
  }
  if (cfg.client !== '' || cfg.ecs !== '') usageError('-client and -ecs go with -explain');
  if (!cfg.list && cfg.show === '' && cfg.method === '')
    usageError(
      'nothing to do: give -list, -show <name> or -method create|delete|update|drain|undrain|topology|set-topology|delete-topology',
    );
  checkPairs(cfg);
  const admin = cfg.method === 'drain' ? 'drain' : cfg.method === 'undrain' ? 'none' : undefined;
  if (admin !== undefined) {
    if (cfg.ip.trim() === '') usageError(`-method ${cfg.method} needs -ip <address>`);
    if (canonicalIP(cfg.ip.trim()) === undefined)
      usageError(`-ip "${cfg.ip}" is not an IPv4 or IPv6 address`);
  } else if (cfg.ip !== '') usageError('-ip goes with -method drain or undrain');
  const topo = TOPOLOGY_METHODS.includes(cfg.method);
  if (cfg.method !== '' && admin === undefined && !topo && cfg.domain === '')
    usageError(`-method ${cfg.method} needs -domain`);
  if (cfg.token === '') usageError('no API token: give -token or set HADES_API_TOKEN');
  const base = baseUrl(cfg.addr, cfg.cacert !== '' || cfg.cert !== '' ? 'https' : 'http');
  setupTls(cfg, base);
  if (topo) {
    await runTopology(cfg, base);
    return;
  }
  if (admin !== undefined) {
    const st = await setAdmin(base, cfg.token, cfg.ip.trim(), admin);
    process.stdout.write(cfg.json ? `${JSON.stringify(st)}\n` : 'OK\n');
    return;
  }
  const print = (entries: { [name: string]: Entry }): void => {
    process.stdout.write(cfg.json ? `${JSON.stringify(entries, null, 2)}\n` : formatLines(entries));
  };
  if (cfg.list) {
    print(JSON.parse(await call(base, cfg.token, 'GET', undefined)));
    return;
  }
  if (cfg.show !== '') {
    print(JSON.parse(await call(base, cfg.token, 'GET', cfg.show)));
    return;
  }
  const { httpMethod, body } = change(cfg);
  const out = await call(base, cfg.token, httpMethod, cfg.domain, body);
  process.stdout.write(cfg.json ? `${JSON.stringify({ result: out.trim() })}\n` : `${out.trim()}\n`);
}

export async function main(): Promise<void> {
  const cfg = loadConfig(flagsCommandLine(APICMD_PROGRAM, apicmdFlagSpecs(), buildApicmdConfig));
  try {
    await run(cfg);
  } catch (err) {
    fail(err instanceof ClientError ? err.message : ((err as Error).message ?? String(err)));
  }
}
