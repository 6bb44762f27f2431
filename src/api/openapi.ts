/** The OpenAPI 3.0 document served at /v1/openapi.json. */
import { VERSION } from '../version.js';
import { RECORD_TYPES } from './v1.js';

const err = { $ref: '#/components/responses/Error' };
const errors = { '400': err, '401': err, '403': err, '404': err, '409': err, '413': err, '429': err };
const COUNTERS = {
  queriesPerSecond: { type: 'number', nullable: true, description: 'between the last two scrapes' },
  requests: { type: 'number', description: 'hades_requests_total' },
  responses: {
    type: 'object',
    additionalProperties: { type: 'number' },
    description: 'hades_responses_total by rcode',
  },
  cacheHits: { type: 'number' },
  cacheMisses: { type: 'number' },
  cacheHitRatio: { type: 'number', nullable: true, description: 'hits / (hits + misses)' },
};
const COUNTERS_REQUIRED = Object.keys(COUNTERS);
const readErrors = { '401': err, '403': err, '429': err };
const ipParam = {
  name: 'ip',
  in: 'path',
  required: true,
  schema: { type: 'string' },
  description: 'IPv4 or IPv6 address',
};
const port = {
  oneOf: [
    { type: 'integer', minimum: 1, maximum: 65535 },
    { type: 'string', pattern: '^[0-9]{1,5}$' },
  ],
  description: 'a port number (named ports are not supported)',
};
const seconds = (min: number, what: string) => ({
  type: 'integer',
  minimum: min,
  maximum: 86400,
  description: what,
});
const zoneParam = {
  name: 'zone',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$' },
  description: 'a topology zone name (a Kubernetes label value)',
};
const ifMatch = {
  name: 'If-Match',
  in: 'header',
  schema: { type: 'string', pattern: '^("[0-9]+"|[0-9]+)$' },
  description:
    'the ETag of GET ("<modRevision>", or the bare number); "0": the zone must not exist yet. No match: 412',
};
const ifNoneMatch = {
  name: 'If-None-Match',
  in: 'header',
  schema: { type: 'string' },
  description: 'ETags ("<modRevision>", comma separated) or *: 304 when one is the current',
};
/** A GET of one stored object: its ETag, and 304 to a matching If-None-Match. */
const etagged = (description: string, schema: string) => ({
  '200': {
    description,
    headers: { ETag: { schema: { type: 'string' }, description: 'strong: "<modRevision>"' } },
    content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } },
  },
  '304': { description: 'not modified (If-None-Match has the current ETag)' },
});
/** Writes guarded by If-Match: 412 when it does not match. */
const guarded = { ...errors, '412': err };
const POLICY = {
  priority: {
    type: 'integer',
    minimum: 0,
    maximum: 65535,
    description:
      'SRV priority; A/AAAA: failover tier, the lowest with a healthy address is answered (absent or 0 = 10)',
  },
  zone: {
    type: 'string',
    pattern: zoneParam.schema.pattern,
    description: 'A/AAAA: the topology zone of the address (locality; /v1/topology)',
  },
  select: {
    type: 'string',
    enum: ['sticky', 'random-one', 'all'],
    description: "A/AAAA: per-name override of the server's -select",
  },
  alldown: {
    type: 'string',
    enum: ['open', 'closed'],
    description: "A/AAAA, SRV, MX: per-name override of the server's -all-down",
  },
};
const nameParam = {
  name: 'name',
  in: 'path',
  required: true,
  schema: { type: 'string' },
  description: 'DNS name',
};

export function openApiDocument(): object {
  return {
    openapi: '3.0.3',
    info: {
      title: 'Hades API',
      version: VERSION,
      description:
        'Records of the Hades DNS service discovery (the seed-compatible /hades API is described in README.md).',
    },
    security: [{ bearer: [] }, { legacyToken: [] }],
    paths: {
      '/v1/records': {
        get: {
          operationId: 'listRecords',
          summary: 'Records at and below a name, in key order, paginated',
          parameters: [
            {
              name: 'prefix',
              in: 'query',
              schema: { type: 'string' },
              description: 'name (default: the zone)',
            },
            { name: 'type', in: 'query', schema: { type: 'string', enum: [...RECORD_TYPES] } },
            {
              name: 'limit',
              in: 'query',
              schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            },
            {
              name: 'cursor',
              in: 'query',
              schema: { type: 'string' },
              description: '`next` of the previous page',
            },
          ],
          responses: {
            '200': {
              description: 'a page',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/RecordPage' } } },
            },
            ...errors,
          },
        },
        post: {
          operationId: 'createRecord',
          summary: 'Add one record',
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/RecordInput' } } },
          },
          responses: {
            '201': {
              description: 'created',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Record' } } },
            },
            ...errors,
          },
        },
      },
      '/v1/records/{name}': {
        get: {
          operationId: 'getName',
          summary: "A name's records",
          parameters: [nameParam],
          responses: {
            '200': {
              description: 'the records',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['name', 'records'],
                    properties: {
                      name: { type: 'string' },
                      records: { type: 'array', items: { $ref: '#/components/schemas/Record' } },
                    },
                  },
                },
              },
            },
            ...errors,
          },
        },
        delete: {
          operationId: 'deleteName',
          summary: 'Delete every API record of a name',
          parameters: [nameParam],
          responses: { '200': { $ref: '#/components/responses/Deleted' }, ...errors },
        },
      },
      '/v1/records/{name}/{id}': {
        get: {
          operationId: 'getRecord',
          summary: 'One record (ETag: its modRevision)',
          parameters: [
            nameParam,
            { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
            ifNoneMatch,
          ],
          responses: { ...etagged('the record', 'Record'), ...errors },
        },
        put: {
          operationId: 'replaceRecord',
          summary: 'Replace one record (its id changes with its value)',
          parameters: [
            nameParam,
            { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
            {
              name: 'If-Match',
              in: 'header',
              schema: { type: 'string', pattern: '^("[0-9]+"|[0-9]+)$' },
              description: 'the record\'s ETag ("<modRevision>", or the bare number); no match: 412',
            },
          ],
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/RecordInput' } } },
          },
          responses: {
            '200': {
              description: 'replaced',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Record' } } },
            },
            ...guarded,
          },
        },
        delete: {
          operationId: 'deleteRecord',
          summary: 'Delete one record',
          parameters: [nameParam, { name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: { '200': { $ref: '#/components/responses/Deleted' }, ...errors },
        },
      },
      '/v1/health': {
        get: {
          operationId: 'listHealth',
          summary: 'Health status of every monitored address',
          responses: {
            '200': {
              description: 'statuses',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: { health: { type: 'array', items: { $ref: '#/components/schemas/Health' } } },
                  },
                },
              },
            },
            ...errors,
          },
        },
      },
      '/v1/health/{ip}': {
        get: {
          operationId: 'getHealth',
          summary: 'Health status of one address',
          parameters: [ipParam],
          responses: {
            '200': {
              description: 'status',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Health' } } },
            },
            ...errors,
          },
        },
        put: {
          operationId: 'setHealthAdmin',
          summary: 'Drain an address (never served, not even when every other address is DOWN) or undrain it',
          description:
            'Compare-and-swap on the status key, keeping every other field. A drain of an address without a status key creates {"status":"UP","admin":"drain"}; "none" there writes nothing (the answer has no status).',
          parameters: [ipParam],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['admin'],
                  additionalProperties: false,
                  properties: { admin: { type: 'string', enum: ['drain', 'none'] } },
                },
              },
            },
          },
          responses: {
            '200': {
              description: 'the status after the write',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Health' } } },
            },
            ...errors,
          },
        },
      },
      '/v1/topology': {
        get: {
          operationId: 'listTopology',
          summary: 'The locality zones and their client networks, sorted by zone',
          responses: {
            '200': {
              description: 'every zone under the topology path',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['topology'],
                    properties: {
                      topology: { type: 'array', items: { $ref: '#/components/schemas/TopologyZone' } },
                    },
                  },
                },
              },
            },
            ...errors,
          },
        },
      },
      '/v1/topology/{zone}': {
        get: {
          operationId: 'getTopologyZone',
          summary: 'One zone (ETag: its modRevision)',
          parameters: [zoneParam, ifNoneMatch],
          responses: { ...etagged('the zone', 'TopologyZone'), ...errors },
        },
        put: {
          operationId: 'putTopologyZone',
          summary: 'Create or replace a zone (stored with canonical CIDRs, repeats once)',
          parameters: [zoneParam, ifMatch],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['cidrs'],
                  additionalProperties: false,
                  properties: {
                    cidrs: {
                      type: 'array',
                      maxItems: 4096,
                      items: { type: 'string', description: 'IPv4 or IPv6 network, as 10.1.0.0/16' },
                    },
                  },
                },
              },
            },
          },
          responses: {
            '200': {
              description: 'the zone as stored',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/TopologyZone' } } },
            },
            ...guarded,
          },
        },
        delete: {
          operationId: 'deleteTopologyZone',
          summary: 'Delete a zone',
          parameters: [zoneParam, ifMatch],
          responses: { '200': { $ref: '#/components/responses/Deleted' }, ...guarded },
        },
      },
      '/v1/zones': {
        get: {
          operationId: 'listZones',
          summary: 'The zone the API writes in and the reverse trees (how the web UI groups names)',
          responses: {
            '200': {
              description: 'zones',
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['zones'],
                    properties: {
                      zones: {
                        type: 'array',
                        items: {
                          type: 'object',
                          required: ['name', 'kind'],
                          properties: {
                            name: { type: 'string' },
                            kind: { type: 'string', enum: ['forward', 'reverse'] },
                          },
                        },
                      },
                    },
                  },
                },
              },
            },
            ...readErrors,
          },
        },
      },
      '/v1/scanners': {
        get: {
          operationId: 'listScanners',
          summary:
            'Scanners (heartbeat keys) with heartbeat age and assigned addresses; the active scheduler',
          responses: {
            '200': {
              description: 'the health pipeline',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Scanners' } } },
            },
            ...readErrors,
          },
        },
      },
      '/v1/dns-metrics': {
        get: {
          operationId: 'getDnsMetrics',
          summary: "The DNS servers' metrics (kubeapi -dns-metrics), scraped server-side",
          responses: {
            '200': {
              description: 'per server and in total; {"configured":false,"servers":[]} without -dns-metrics',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/DnsMetrics' } } },
            },
            ...readErrors,
          },
        },
      },
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        legacyToken: { type: 'apiKey', in: 'header', name: 'token' },
      },
      responses: {
        Error: {
          description: 'the problem, naming the field when there is one',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
        Deleted: {
          description: 'deleted',
          content: {
            'application/json': {
              schema: { type: 'object', required: ['deleted'], properties: { deleted: { type: 'integer' } } },
            },
          },
        },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: { error: { type: 'string' }, field: { type: 'string' } },
        },
        RecordInput: {
          type: 'object',
          required: ['type'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', description: 'owner name (POST only; NS: the zone)' },
            type: { type: 'string', enum: [...RECORD_TYPES] },
            ttl: { type: 'integer', minimum: 0, maximum: 2147483647 },
            address: { type: 'string', description: 'A: IPv4, AAAA: IPv6' },
            target: { type: 'string', description: 'CNAME, SRV, MX, NS: host name' },
            port: { type: 'integer', minimum: 0, maximum: 65535 },
            ...POLICY,
            weight: { type: 'integer', minimum: 0, maximum: 65535 },
            preference: { type: 'integer', minimum: 0, maximum: 65535 },
            text: { type: 'string' },
            probe: {
              allOf: [{ $ref: '#/components/schemas/Probe' }],
              nullable: true,
              description:
                "A and AAAA only: written into the address's status key in the same transaction (null removes it; absent leaves it)",
            },
          },
        },
        Probe: {
          type: 'object',
          description:
            "Kubernetes' core/v1 Probe: exactly one of httpGet, tcpSocket, grpc, icmp (Hades's own); exec is refused. The connection always goes to the address.",
          additionalProperties: false,
          properties: {
            httpGet: {
              type: 'object',
              required: ['port'],
              additionalProperties: false,
              properties: {
                path: { type: 'string', default: '/' },
                port,
                host: {
                  type: 'string',
                  description: 'Host header and TLS server name (default: the address)',
                },
                scheme: { type: 'string', enum: ['HTTP', 'HTTPS'], default: 'HTTP' },
                httpHeaders: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: ['name'],
                    additionalProperties: false,
                    properties: { name: { type: 'string' }, value: { type: 'string' } },
                  },
                },
                expectStatus: {
                  type: 'string',
                  default: '200-399',
                  description: 'codes and ranges, e.g. "200,204,300-399"',
                },
                expectBody: { type: 'string', description: 'a substring the body must contain' },
                insecureSkipVerify: { type: 'boolean', default: false },
              },
            },
            tcpSocket: {
              type: 'object',
              required: ['port'],
              additionalProperties: false,
              properties: { port },
            },
            grpc: {
              type: 'object',
              required: ['port'],
              additionalProperties: false,
              properties: {
                port,
                service: { type: 'string', description: 'grpc.health.v1 service name (default "")' },
              },
            },
            icmp: { type: 'object', additionalProperties: false, properties: {} },
            timeoutSeconds: seconds(1, 'default 1'),
            periodSeconds: seconds(1, "default: the scanner's check-interval"),
            successThreshold: seconds(1, "default: the scanner's rise"),
            failureThreshold: seconds(1, "default: the scanner's fall"),
            initialDelaySeconds: seconds(0, 'default 0'),
            terminationGracePeriodSeconds: { type: 'integer', description: 'accepted and not used' },
          },
        },
        Record: {
          type: 'object',
          required: ['id', 'name', 'type', 'modRevision'],
          properties: {
            id: { type: 'string' },
            name: { type: 'string' },
            type: { type: 'string', enum: [...RECORD_TYPES, 'PTR', 'OTHER'] },
            ttl: { type: 'integer' },
            address: { type: 'string' },
            target: { type: 'string' },
            port: { type: 'integer' },
            ...POLICY,
            weight: { type: 'integer' },
            preference: { type: 'integer' },
            text: { type: 'string' },
            source: { type: 'string' },
            probe: {
              $ref: '#/components/schemas/Probe',
            },
            modRevision: { type: 'integer' },
          },
        },
        TopologyZone: {
          type: 'object',
          required: ['zone', 'modRevision'],
          properties: {
            zone: { type: 'string' },
            cidrs: {
              type: 'array',
              items: { type: 'string' },
              description: 'canonical CIDRs (absent when the stored value does not parse)',
            },
            error: {
              type: 'string',
              description: 'why the stored value is not a topology value (the DNS server skips it)',
            },
            modRevision: { type: 'integer' },
          },
        },
        RecordPage: {
          type: 'object',
          required: ['records'],
          properties: {
            records: { type: 'array', items: { $ref: '#/components/schemas/Record' } },
            next: { type: 'string' },
          },
        },
        Health: {
          type: 'object',
          required: ['ip', 'admin'],
          properties: {
            ip: { type: 'string' },
            status: {
              type: 'string',
              enum: ['UP', 'DOWN'],
              description: 'absent only after an undrain of an address without a status key',
            },
            ports: { type: 'array', items: { type: 'string' } },
            probe: { $ref: '#/components/schemas/Probe' },
            probeSummary: {
              type: 'string',
              description: 'the probe in one line: "httpGet HTTP :80/healthz"',
            },
            probeError: {
              type: 'string',
              description: 'why the stored probe does not validate (the scanner skips it)',
            },
            reason: { type: 'string', description: "the scanner's reason for the last transition" },
            changed: {
              type: 'string',
              format: 'date-time',
              description:
                'when a scanner wrote the last transition (absent for a status written without it)',
            },
            admin: {
              type: 'string',
              enum: ['drain', 'none'],
              description: 'drain: never served, not even when every other address is DOWN',
            },
          },
        },
        Scanners: {
          type: 'object',
          required: ['scanners', 'unassigned', 'scheduler', 'paths'],
          properties: {
            scanners: {
              type: 'array',
              items: {
                type: 'object',
                required: ['hostname', 'live', 'assigned'],
                properties: {
                  hostname: { type: 'string' },
                  live: {
                    type: 'boolean',
                    description: 'false: no heartbeat key, report keys still name it',
                  },
                  pid: { type: 'integer' },
                  since: { type: 'string', format: 'date-time' },
                  renewed: { type: 'string', format: 'date-time' },
                  heartbeatAgeSeconds: { type: 'number', description: 'now - renewed' },
                  assigned: { type: 'integer', description: 'report keys naming this scanner' },
                },
              },
            },
            unassigned: { type: 'integer', description: 'report keys naming no scanner' },
            scheduler: {
              type: 'object',
              nullable: true,
              required: ['id', 'hostname'],
              properties: { id: { type: 'string' }, hostname: { type: 'string' }, pid: { type: 'integer' } },
            },
            paths: {
              type: 'object',
              required: ['heartPath', 'reportPath', 'lockPath'],
              properties: {
                heartPath: { type: 'string' },
                reportPath: { type: 'string' },
                lockPath: { type: 'string' },
              },
            },
          },
        },
        DnsServerMetrics: {
          type: 'object',
          required: ['server', 'up', ...COUNTERS_REQUIRED],
          properties: {
            server: { type: 'string', description: 'host:port' },
            up: { type: 'boolean' },
            error: { type: 'string', description: 'why it is down' },
            ...COUNTERS,
          },
        },
        DnsMetrics: {
          type: 'object',
          required: ['configured', 'servers'],
          properties: {
            configured: { type: 'boolean' },
            servers: { type: 'array', items: { $ref: '#/components/schemas/DnsServerMetrics' } },
            total: {
              type: 'object',
              description: 'sums over the servers that answered',
              required: ['up', 'down', ...COUNTERS_REQUIRED],
              properties: {
                up: { type: 'integer', description: 'servers that answered' },
                down: { type: 'integer', description: 'servers that did not' },
                ...COUNTERS,
              },
            },
            scrapedAt: { type: 'string', format: 'date-time' },
          },
        },
      },
    },
  };
}
