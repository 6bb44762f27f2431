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
        put: {
          operationId: 'replaceRecord',
          summary: 'Replace one record (its id changes with its value)',
          parameters: [
            nameParam,
            { name: 'id', in: 'path', required: true, schema: { type: 'string' } },
            {
              name: 'If-Match',
              in: 'header',
              schema: { type: 'integer' },
              description: 'expected modRevision',
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
            ...errors,
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
          parameters: [{ name: 'ip', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            '200': {
              description: 'status',
              content: { 'application/json': { schema: { $ref: '#/components/schemas/Health' } } },
            },
            ...errors,
          },
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
            priority: { type: 'integer', minimum: 0, maximum: 65535 },
            weight: { type: 'integer', minimum: 0, maximum: 65535 },
            preference: { type: 'integer', minimum: 0, maximum: 65535 },
            text: { type: 'string' },
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
            priority: { type: 'integer' },
            weight: { type: 'integer' },
            preference: { type: 'integer' },
            text: { type: 'string' },
            source: { type: 'string' },
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
          required: ['ip', 'status'],
          properties: {
            ip: { type: 'string' },
            status: { type: 'string', enum: ['UP', 'DOWN'] },
            ports: { type: 'array', items: { type: 'string' } },
            changed: {
              type: 'string',
              format: 'date-time',
              description:
                'when a scanner wrote the last transition (absent for a status written without it)',
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
