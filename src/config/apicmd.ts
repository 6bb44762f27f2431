/** The `hades-apicmd` flags (the seed's, plus -json, -type, -ip, -zone, -cidrs, -priority and the TLS files -cacert, -cert, -key). */
import { VERSION_FLAG } from './cli.js';
import type { FlagSpec, FlagValues } from './flags.js';

export const APICMD_PROGRAM = 'hades-apicmd';

export function apicmdFlagSpecs(): FlagSpec[] {
  return [
    {
      name: 'addr',
      type: 'string',
      default: '127.0.0.1:9001',
      env: 'HADES_API_ADDR',
      help: 'hades API address, host:port or a URL',
    },
    { name: 'token', type: 'string', default: '', env: 'HADES_API_TOKEN', help: 'API token' },
    {
      name: 'cacert',
      type: 'string',
      default: '',
      env: 'HADES_API_CACERT',
      help: 'CA certificate (PEM file) to trust for an https API (set: an -addr without a scheme is https)',
    },
    {
      name: 'cert',
      type: 'string',
      default: '',
      env: 'HADES_API_CERT',
      help: 'client certificate (PEM file) for an API that requires one (-api-client-ca); with -key',
    },
    {
      name: 'key',
      type: 'string',
      default: '',
      env: 'HADES_API_KEY',
      help: 'private key (PEM file) of -cert',
    },
    { name: 'list', type: 'bool', default: 'false', env: false, help: 'show every name' },
    {
      name: 'show',
      type: 'string',
      default: '',
      env: false,
      help: 'show one name (short names: user.<domain>, <svc>.<ns>: svc.<domain>)',
    },
    { name: 'domain', type: 'string', default: '', env: false, help: 'the name to change (with -method)' },
    {
      name: 'method',
      type: 'string',
      default: '',
      env: false,
      choices: [
        'create',
        'delete',
        'update',
        'drain',
        'undrain',
        'topology',
        'set-topology',
        'delete-topology',
      ],
      help: 'create, delete or update -domain; drain or undrain -ip; topology (list, or show -zone), set-topology or delete-topology -zone',
    },
    {
      name: 'ip',
      type: 'string',
      default: '',
      env: false,
      help: 'the address to drain (never served) or undrain (with -method drain|undrain)',
    },
    {
      name: 'type',
      type: 'string',
      default: '',
      env: false,
      help: 'A or AAAA (default: from the addresses)',
    },
    { name: 'ips', type: 'string', default: '', env: false, help: 'addresses, separated by ";": "a;b"' },
    { name: 'alias', type: 'string', default: '', env: false, help: 'an alias (CNAME) of -domain' },
    {
      name: 'zone',
      type: 'string',
      default: '',
      env: false,
      help: 'a topology zone: of -method topology|set-topology|delete-topology, or of the -ips created',
    },
    {
      name: 'cidrs',
      type: 'string',
      default: '',
      env: false,
      help: 'the zone\'s client networks, separated by ";": "10.1.0.0/16;fd00:1::/48" (-method set-topology)',
    },
    {
      name: 'priority',
      type: 'string',
      default: '',
      env: false,
      help: 'failover tier of the -ips created, 0-65535 (lowest with a healthy address wins; unset: 10)',
    },
    {
      name: 'updates',
      type: 'string',
      default: '',
      env: false,
      help: '"ips:old->new;old2->new2" or "alias:old->new"',
    },
    { name: 'json', type: 'bool', default: 'false', env: false, help: 'print JSON instead of lines' },
    {
      name: 'explain',
      type: 'string',
      default: '',
      env: false,
      help: "why -client gets its answer for this name (hades's /explain on -server; -type A|AAAA|…)",
    },
    { name: 'client', type: 'string', default: '', env: false, help: 'the client address -explain asks for' },
    {
      name: 'ecs',
      type: 'string',
      default: '',
      env: false,
      help: "-explain: the client's ECS subnet, e.g. 10.1.2.0/24",
    },
    {
      name: 'server',
      type: 'string',
      default: '',
      env: 'HADES_METRICS_ADDR',
      help: "-explain: hades's metrics port, host:port or a URL",
    },
    VERSION_FLAG,
  ];
}

export interface ApicmdConfig {
  addr: string;
  token: string;
  /** TLS files ('' when not given). */
  cacert: string;
  cert: string;
  key: string;
  list: boolean;
  show: string;
  domain: string;
  /** '' when not given. */
  method:
    | ''
    | 'create'
    | 'delete'
    | 'update'
    | 'drain'
    | 'undrain'
    | 'topology'
    | 'set-topology'
    | 'delete-topology';
  ip: string;
  type: string;
  ips: string;
  alias: string;
  zone: string;
  cidrs: string;
  /** '' when not given. */
  priority: string;
  updates: string;
  json: boolean;
  /** -explain <name>: '' when not given. */
  explain: string;
  client: string;
  ecs: string;
  server: string;
}

export function buildApicmdConfig(v: FlagValues): ApicmdConfig {
  return {
    addr: String(v.addr),
    token: String(v.token),
    cacert: String(v.cacert).trim(),
    cert: String(v.cert).trim(),
    key: String(v.key).trim(),
    list: v.list === true,
    show: String(v.show),
    domain: String(v.domain),
    method: String(v.method) as ApicmdConfig['method'],
    ip: String(v.ip),
    type: String(v.type),
    ips: String(v.ips),
    alias: String(v.alias),
    zone: String(v.zone),
    cidrs: String(v.cidrs),
    priority: String(v.priority),
    updates: String(v.updates),
    json: v.json === true,
    explain: String(v.explain),
    client: String(v.client),
    ecs: String(v.ecs),
    server: String(v.server),
  };
}
