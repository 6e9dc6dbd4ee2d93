import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { openApiComponents, type ResourceSchemaName } from '../resources/index.js';
import { findKind } from '../resources/kinds.js';
import { WriteQuerySchema } from './query-schemas.js';

/**
 * Route schemas. Parts given as zod schemas (query strings, the contract's answers) are enforced by the validator and
 * serializer (zod-compilers.ts) and documented from the same schemas; the resource bodies are validated by the
 * resource manager with Kuma's wording, so their JSON Schema here (generated from the same zod) only documents.
 */
const components = openApiComponents();

const errorBody = {
  description: 'Error (Kuma error body)',
  type: 'object',
  properties: {
    type: { type: 'string' },
    status: { type: 'integer' },
    title: { type: 'string' },
    detail: { type: 'string' },
    invalid_parameters: {
      type: 'array',
      items: { type: 'object', properties: { field: { type: 'string' }, reason: { type: 'string' } } },
    },
    details: { type: 'string' },
    causes: {
      type: 'array',
      items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } },
    },
  },
};

const listQuery = {
  type: 'object',
  properties: {
    size: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    offset: { type: 'string' },
    name: { type: 'string', description: 'substring of the name' },
  },
};

/** Kuma's Dataplane list filters (see src/api/dataplane-list-filters.ts). */
const dataplaneListQuery = {
  type: 'object',
  properties: {
    ...listQuery.properties,
    tag: {
      type: 'array',
      items: { type: 'string' },
      description:
        '<key>:<value>, repeatable (ANDed): one inbound, or the gateway, has the key with a value containing <value> (`*`: any)',
    },
    gateway: {
      type: 'string',
      enum: ['true', 'false', 'builtin', 'delegated'],
      description: 'only gateways, only non-gateways, or one gateway type',
    },
  },
};

/**
 * Path parameters are read from the route URL itself, so no route has to repeat them: a zod schema of strings,
 * enforced and documented like the rest. Names are checked by the resource manager, in Kuma's words.
 */
export function documentPathParams(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const names = [...route.url.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]!);
    if (names.length === 0 || (route.schema as { params?: unknown } | undefined)?.params) return;
    route.schema = { ...route.schema, params: z.object(Object.fromEntries(names.map((n) => [n, z.string()]))) };
  });
}

/** Request bodies: JSON, and YAML as kumactl-style manifests (`text/yaml` and `application/x-yaml` work too). */
const bodyTypes = ['application/json', 'application/yaml'];

const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 409: errorBody };
const empty = { type: 'object', description: 'empty object' };
/** Kuma's answer to a write that has something to say (a deprecated field): `{"warnings": [...]}`, else `{}`. */
const withWarnings = { type: 'object', properties: { warnings: { type: 'array', items: { type: 'string' } } } };
const warnsOnWrite = (kind: string) => findKind(kind)?.envelope?.warnings !== undefined;

export const docs = {
  list: (kind: ResourceSchemaName, summary: string, _meshScoped = false, hide = false) => ({
    summary,
    hide,
    tags: [kind],
    querystring: kind === 'Dataplane' ? dataplaneListQuery : listQuery,
    response: {
      200: {
        type: 'object',
        properties: {
          total: { type: 'integer' },
          items: { type: 'array', items: components[kind] },
          next: { type: 'string', nullable: true },
        },
      },
      ...errors,
    },
  }),
  get: (kind: ResourceSchemaName, summary: string, _meshScoped = false, hide = false) => ({
    summary,
    hide,
    tags: [kind],
    response: { 200: components[kind], ...errors },
  }),
  put: (kind: ResourceSchemaName, summary: string, _meshScoped = false, hide = false) => ({
    summary,
    hide,
    tags: [kind],
    querystring: WriteQuerySchema,
    consumes: bodyTypes,
    body: components[kind],
    response: warnsOnWrite(kind)
      ? {
          200: { ...withWarnings, description: 'replaced' },
          201: { ...withWarnings, description: 'created' },
          ...errors,
        }
      : { 200: { ...empty, description: 'replaced' }, 201: { ...empty, description: 'created' }, ...errors },
  }),
  del: (kind: ResourceSchemaName, summary: string, _meshScoped = false, hide = false) => ({
    summary,
    hide,
    tags: [kind],
    querystring: WriteQuerySchema,
    response: { 200: empty, ...errors },
  }),
  custom: (tag: string, summary: string, extra: Record<string, unknown> = {}) => ({ summary, tags: [tag], ...extra }),
  /** A 200 answer written through its contract schema (src/contract): documented by it, and nothing it does not name is sent. */
  answers: (contract: z.ZodType, description: string) => ({
    response: { 200: contract.describe(description), ...errors },
  }),
  errors,
};
