/**
 * `hades standalone`: the pieces that only standalone mode has. The API's address serves the REST
 * API (`/hades`, `/v1`: src/api) on the store the DNS catalog follows, plus `GET /health` (200
 * "OK": the process is up) and `GET /ready` (200 once the catalog has its first list and DNS
 * listens, else 503). It listens before the store is open (so /health answers while etcd is
 * away); until then the API's routes answer 503. Also: the API token when none is given
 * (`<data-dir>/api-token`, 0600), and the banner that tells a new user what to type.
 */

import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Authenticator, RateLimiter } from '../api/auth.js';
import { DnsMetrics } from '../api/dns-metrics.js';
import { TrustedProxies } from '../api/forwarded.js';
import { createApiHandler } from '../api/server.js';
import { RecordService } from '../api/service.js';
import { formatHostPort, type HostPort } from '../common/host-port.js';
import { createWebServer, guardHttpServer, type ServerTls } from '../common/http-server.js';
import type { Logger } from '../common/logger.js';
import type { HadesConfig } from '../config/hades.js';
import { isUnspecified } from '../records/ip.js';
import { nameToKey } from '../records/keys.js';
import type { Store } from '../store/types.js';
import { VERSION } from '../version.js';

/** The API's per-client rate limit in standalone (hades-kubeapi's defaults). */
export const STANDALONE_API_RATE = 50;
export const STANDALONE_API_BURST = 100;

/** The file a generated token is written to. */
export function apiTokenFile(dataDir: string): string {
  return path.resolve(dataDir, 'api-token');
}

/**
 * A fresh random token (32 bytes, base64url) in `<dataDir>/api-token`, mode 0600: written to a
 * new 0600 file and renamed over the old one, so the token is never in a file others can read.
 */
export function writeApiToken(dataDir: string): { token: string; file: string } {
  const token = randomBytes(32).toString('base64url');
  const file = apiTokenFile(dataDir);
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  try {
    writeFileSync(tmp, `${token}\n`, { mode: 0o600, flag: 'wx' });
    chmodSync(tmp, 0o600); // whatever the umask
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return { token, file };
}

export interface StandaloneApi {
  readonly port: number;
  /** From now on the API's routes work on `store`. */
  attach(store: Store): void;
  close(): Promise<void>;
}

export interface StandaloneApiOptions {
  /** /ready: the catalog is loaded and DNS listens. */
  isReady: () => boolean;
  token: string;
  domain: string;
  prefix: string;
  monitorPath: string;
  /** `-topology-path`: the zones `/v1/topology` reads and writes. */
  topologyPath: string;
  /** `-api-tls-cert`/`-api-tls-key` (`-api-client-ca`): HTTPS only. */
  tls?: ServerTls;
  /** `-api-trusted-proxies`: canonical CIDRs. */
  trustedProxies?: readonly string[];
  /** This process's metrics port (-metrics-port), shown in the UI's DNS panel; none: no panel. */
  metrics?: { host: string; port: number };
  logger?: Logger;
}

/** Where this process's own metrics are scraped from: a wildcard bind is asked on loopback. */
function ownMetrics(at: { host: string; port: number }): { host: string; port: number } {
  const h = at.host;
  const host = isUnspecified(h) ? (h === '::' ? '::1' : '127.0.0.1') : h;
  return { host, port: at.port };
}

/**
 * Listens on `addr`: GET /health and GET /ready here (other methods 405), everything else to the
 * REST API once `attach` has handed it the store (before: 503, as when the store is away).
 */
export function startStandaloneApi(addr: HostPort, o: StandaloneApiOptions): Promise<StandaloneApi> {
  let api: http.RequestListener | undefined;
  const server = createWebServer(o.tls, (req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    if (url !== '/health' && url !== '/ready') {
      if (api) {
        api(req, res);
        return;
      }
      res.statusCode = 503;
      res.setHeader('content-type', 'application/json');
      res.setHeader('cache-control', 'no-store');
      res.end(`${JSON.stringify({ error: 'the store is not open yet; try again' })}\n`);
      req.resume();
      return;
    }
    let status: number;
    let body: string;
    if (method !== 'GET' && method !== 'HEAD') {
      status = 405;
      body = 'method not allowed\n';
      res.setHeader('allow', 'GET, HEAD');
    } else if (url === '/health' || o.isReady()) {
      status = 200;
      body = 'OK';
    } else {
      status = 503;
      body = 'not ready: the catalog has not loaded the store yet';
    }
    res.statusCode = status;
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.setHeader('cache-control', 'no-store');
    res.end(method === 'HEAD' ? undefined : body);
    req.resume();
  });
  guardHttpServer(server, 30_000, 10_000);
  const auth = new Authenticator([{ token: o.token, scopes: ['read', 'write'] }]);
  const limiter = new RateLimiter(STANDALONE_API_RATE, STANDALONE_API_BURST);
  const proxies = TrustedProxies.parse(o.trustedProxies ?? []);
  if (typeof proxies === 'string') return Promise.reject(new Error(`-api-trusted-proxies: ${proxies}`));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: addr.host, port: addr.port, exclusive: false }, () => {
      server.removeListener('error', reject);
      const port = (server.address() as { port: number }).port;
      resolve({
        port,
        attach: (store) => {
          api = createApiHandler({
            service: new RecordService({
              store,
              prefix: o.prefix,
              monitorPath: o.monitorPath,
              topologyPath: o.topologyPath,
              logger: o.logger,
            }),
            domain: o.domain,
            topologyPath: o.topologyPath,
            auth,
            limiter,
            trustedProxies: proxies,
            logger: o.logger,
            dnsMetrics: o.metrics ? new DnsMetrics({ targets: [ownMetrics(o.metrics)] }) : undefined,
          });
        },
        close: () =>
          new Promise<void>((res) => {
            server.close(() => res());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** Shell-quotes one argument (single quotes). */
function sh(s: string): string {
  return /^[A-Za-z0-9_./:@=,+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * A shell command that writes one A record into the embedded store in `dataDir` (the store is
 * shared between processes, so hades picks the record up at once).
 */
export function addRecordCommand(dataDir: string, key: string, value: string): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const module = path.resolve(here, '../store/embedded/embedded.js');
  const js =
    `import { openEmbeddedStore } from ${JSON.stringify(module)};` +
    ` const s = await openEmbeddedStore({ dir: ${JSON.stringify(path.resolve(dataDir))} });` +
    ` await s.put(${JSON.stringify(key)}, ${JSON.stringify(value)}); await s.close();`;
  return `node --input-type=module -e ${sh(js)}`;
}

/** Where the API's token comes from: the file it was generated into, or the -hades-auth flag. */
export type TokenSource = { file: string } | 'flag';

/** What standalone prints once it answers: where things are and what to type next. */
export function standaloneBanner(
  cfg: HadesConfig,
  dnsPort: number,
  apiPort: number | undefined,
  token?: TokenSource,
): string {
  const zone = cfg.zones[0];
  const shown = zone === '.' ? '.' : zone.slice(0, -1);
  const host = cfg.listen.host;
  const dnsAt = formatHostPort({ ...cfg.listen, port: dnsPort });
  const digAt = `dig -p ${dnsPort} @${host}`;
  const name = zone === '.' ? 'web.' : `web.${zone}`;
  const lines = [
    '',
    `hades ${VERSION} standalone`,
    `  DNS     ${dnsAt} (UDP and TCP), authoritative for ${cfg.zones.join(', ')}`,
    cfg.machines.length > 0
      ? `  store   etcd ${cfg.machines.join(', ')}`
      : `  store   embedded, in ${path.resolve(cfg.dataDir)}`,
  ];
  const apiAt = apiPort !== undefined && cfg.apiAddr ? formatHostPort({ ...cfg.apiAddr, port: apiPort }) : '';
  const scheme = cfg.apiTls ? 'https' : 'http';
  if (apiAt !== '') {
    lines.push(
      `  API     ${scheme}://${apiAt}/hades and /v1 (REST, token needed), /health, /ready${cfg.apiTls ? ' (HTTPS only)' : ''}`,
      `  web UI  ${scheme}://${apiAt}/ui/`,
      token === undefined || token === 'flag'
        ? '  token   the -hades-auth value'
        : `  token   in ${token.file} (new at each start)`,
    );
  }
  lines.push('', 'Try:', `  ${digAt} ${shown} SOA`, '', 'Add a record:');
  if (apiAt !== '') {
    const tok =
      token === undefined || token === 'flag' ? "'<the -hades-auth token>'" : `$(cat ${sh(token.file)})`;
    const body = JSON.stringify({ name: name.slice(0, -1), type: 'A', address: '10.0.0.1', ttl: 60 });
    const here = path.dirname(fileURLToPath(import.meta.url));
    const apicmd = path.resolve(here, '../bin/hades-apicmd.js');
    const ca = cfg.apiTls ? ' HADES_API_CACERT=<the CA of -api-tls-cert>' : '';
    const curlCa = cfg.apiTls ? ' --cacert "$HADES_API_CACERT"' : '';
    lines.push(
      `  export HADES_API_ADDR=${cfg.apiTls ? 'https://' : ''}${apiAt} HADES_API_TOKEN=${tok}${ca}`,
      `  curl${curlCa} -H "Authorization: Bearer $HADES_API_TOKEN" -d ${sh(body)} ${cfg.apiTls ? '' : 'http://'}$HADES_API_ADDR/v1/records`,
      `  ${digAt} ${name.slice(0, -1)} A`,
      '',
      'or with hades-apicmd (same variables):',
      `  node ${sh(apicmd)} -method create -domain app -ips 10.0.0.2`,
      `  node ${sh(apicmd)} -list`,
      `  ${digAt} app.user.${shown} A`,
    );
  } else if (cfg.machines.length > 0) {
    const key = nameToKey(name, cfg.prefix);
    lines.push(
      `  ETCDCTL_API=3 etcdctl --endpoints=${cfg.machines[0]} put ${key} '{"host":"10.0.0.1","ttl":60}'`,
      `  ${digAt} ${name.slice(0, -1)} A`,
    );
  } else {
    const key = nameToKey(name, cfg.prefix);
    lines.push(
      `  ${addRecordCommand(cfg.dataDir, key, '{"host":"10.0.0.1","ttl":60}')}`,
      `  ${digAt} ${name.slice(0, -1)} A`,
    );
  }
  lines.push('', 'Ctrl-C stops it.', '');
  return lines.join('\n');
}
