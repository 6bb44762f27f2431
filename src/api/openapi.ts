/** The OpenAPI 3.0 document served at /v1/openapi.json. */
import { VERSION } from '../version.js';
import { RECORD_TYPES } from './v1.js';

const err = { $ref: '#/components/responses/Error' };
const errors = { '400': err, '401': err, '403': err, '404': err, '409': err, '413': err, '429': err };
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
            type: { type: 'string', enum: [...RECORD_TYPES, 'OTHER'] },
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
          },
        },
      },
    },
  };
}
