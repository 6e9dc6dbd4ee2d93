import { z } from 'zod';
import { BuiltinConfSchema, ProvidedConfSchema } from './ca-conf.js';
import { STORED_KINDS, type StoredEntry } from './kinds.js';

type KindSchemas = { [K in StoredEntry as K['type']]: K['schema'] };

export * from './violations.js';
export * from './names.js';
export * from './duration.js';
export * from './labels.js';
export * from './secret.js';
export * from './ca-conf.js';
export * from './mesh.js';
export * from './dataplane.js';

/**
 * One zod schema per resource kind (from the kinds table) and per CA backend conf: request validation, TypeScript
 * types and the OpenAPI document all come from these.
 */
export const resourceSchemas = {
  ...(Object.fromEntries(STORED_KINDS.map((kind) => [kind.type, kind.schema])) as unknown as KindSchemas),
  BuiltinConf: BuiltinConfSchema,
  ProvidedConf: ProvidedConfSchema,
};

export type ResourceSchemaName = keyof typeof resourceSchemas;

interface OpenApiSchemaOptions {
  /**
   * `input` (default) describes what a client may send: fields with defaults are optional; unknown fields
   * are refused (no field is ever silently dropped). `output` describes what the server returns.
   */
  io?: 'input' | 'output';
}

type JsonSchema = Record<string, unknown>;

/**
 * An OpenAPI 3.0 schema object for a zod schema. zod 4 has an `openapi-3.0` target; if this zod build lacks it,
 * falls back to draft-7 without `$schema`.
 */
export function toOpenApiSchema(schema: z.ZodType, options: OpenApiSchemaOptions = {}): JsonSchema {
  const io = options.io ?? 'input';
  let out: JsonSchema;
  try {
    out = z.toJSONSchema(schema, { target: 'openapi-3.0', io }) as JsonSchema;
  } catch (err) {
    if (!(err instanceof Error) || !/target/i.test(err.message)) throw err;
    out = z.toJSONSchema(schema, { target: 'draft-7', io }) as JsonSchema;
  }
  const { $schema: _ignored, ...rest } = out;
  return rest;
}

/** Every resource schema as OpenAPI 3.0 schema objects, keyed by name (for `components.schemas`). */
export function openApiComponents(options: OpenApiSchemaOptions = {}): Record<ResourceSchemaName, JsonSchema> {
  const out = {} as Record<ResourceSchemaName, JsonSchema>;
  for (const [name, schema] of Object.entries(resourceSchemas) as [ResourceSchemaName, z.ZodType][]) {
    out[name] = toOpenApiSchema(schema, options);
  }
  return out;
}
