/**
 * `hades standalone`: the pieces that only standalone mode has. Until the API issue lands, the
 * API's address serves only `GET /health` (200 "OK": the process is up) and `GET /ready` (200 once
 * the catalog has its first list, else 503); and the banner that tells a new user what to type.
 */
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatHostPort, type HadesConfig, type HostPort } from '../config/hades.js';
import { nameToKey } from '../records/keys.js';
import { VERSION } from '../version.js';

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves GET /health and GET /ready on `addr`; everything else is 404. */
export function startHealthServer(addr: HostPort, isReady: () => boolean): Promise<HealthServer> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const method = req.method ?? 'GET';
    let status = 404;
    let body = 'not found (the API arrives in a later release: only /health and /ready for now)\n';
    if (url === '/health' || url === '/ready') {
      if (method !== 'GET' && method !== 'HEAD') {
        status = 405;
        body = 'method not allowed\n';
        res.setHeader('allow', 'GET, HEAD');
      } else if (url === '/health') {
        status = 200;
        body = 'OK';
      } else if (isReady()) {
        status = 200;
        body = 'OK';
      } else {
        status = 503;
        body = 'not ready: the catalog has not loaded the store yet';
      }
    }
    res.statusCode = status;
    res.setHeader('content-type', 'text/plain; charset=utf-8');
    res.setHeader('cache-control', 'no-store');
    res.end(method === 'HEAD' ? undefined : body);
  });
  server.keepAliveTimeout = 5000;
  server.requestTimeout = 10_000;
  server.headersTimeout = 5000;
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: addr.host, port: addr.port, exclusive: false }, () => {
      server.removeListener('error', reject);
      const port = (server.address() as { port: number }).port;
      resolve({
        port,
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

/** What standalone prints once it answers: where things are and what to type next. */
export function standaloneBanner(cfg: HadesConfig, dnsPort: number, apiPort: number | undefined): string {
  const zone = cfg.zones[0];
  const shown = zone === '.' ? '.' : zone.slice(0, -1);
  const host = cfg.listen.host;
  const dnsAt = formatHostPort({ ...cfg.listen, port: dnsPort });
  const digAt = `dig -p ${dnsPort} @${host}`;
  const name = zone === '.' ? 'web.' : `web.${zone}`;
  const key = nameToKey(name, cfg.prefix);
  const value = '{"host":"10.0.0.1","ttl":60}';
  const lines = [
    '',
    `hades ${VERSION} standalone`,
    `  DNS     ${dnsAt} (UDP and TCP), authoritative for ${cfg.zones.join(', ')}`,
    cfg.machines.length > 0
      ? `  store   etcd ${cfg.machines.join(', ')}`
      : `  store   embedded, in ${path.resolve(cfg.dataDir)}`,
  ];
  if (apiPort !== undefined && cfg.apiAddr) {
    const api = `http://${formatHostPort({ ...cfg.apiAddr, port: apiPort })}`;
    lines.push(`  API     ${api}/health and /ready (the REST API and web UI come in a later release)`);
  }
  lines.push('', 'Try:', `  ${digAt} ${shown} SOA`, '', 'Add a record:');
  if (cfg.machines.length > 0) {
    lines.push(`  ETCDCTL_API=3 etcdctl --endpoints=${cfg.machines[0]} put ${key} '${value}'`);
  } else {
    lines.push(`  ${addRecordCommand(cfg.dataDir, key, value)}`);
  }
  lines.push(`  ${digAt} ${name.slice(0, -1)} A`, '', 'Ctrl-C stops it.', '');
  return lines.join('\n');
}
