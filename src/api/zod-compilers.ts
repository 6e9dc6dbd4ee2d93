import type { FastifyInstance, FastifySchema } from 'fastify';
import { z } from 'zod';
import { DomainError, invalidRequest } from '../domain/errors.js';
import { fromZodError } from '../resources/violations.js';

/**
 * zod as Fastify's validator and serializer. A route part given as a zod schema (a querystring, a 200 answer) is
 * enforced by it; a part given as plain JSON Schema (the error answers, the resource bodies, which the resource
 * manager validates with Kuma's wording) only documents the API.
 *
 * Why our own ~60 lines rather than fastify-type-provider-zod: its validator turns failures into Fastify's
 * FST_ERR_VALIDATION with zod's wording, its serializer answers a mismatch with its own error, and its OpenAPI
 * transform would rewrite the whole document. Here a refusal is the domain error the schema itself chose (Kuma's
 * words, through the one error handler), and the document is generated with the same z.toJSONSchema as before.
 */

const isZodSchema = (schema: unknown): schema is z.ZodType => schema instanceof z.ZodType;

/** Refuses a value inside a zod check with the domain's own error, so the answer keeps Kuma's title and words. */
export function refuse(ctx: z.RefinementCtx, refusal: DomainError): void {
  ctx.addIssue({ code: 'custom', message: refusal.detail, params: { refusal } });
}

function refusalOf(error: z.ZodError, part: string): DomainError {
  for (const issue of error.issues) {
    const refusal = issue.code === 'custom' ? (issue.params as { refusal?: unknown } | undefined)?.refusal : undefined;
    if (refusal instanceof DomainError) return refusal;
  }
  return invalidRequest(`invalid ${part}`, fromZodError(error));
}

/**
 * How a request parameter appears in the OpenAPI document when its zod form (say, a flag read from a repeatable
 * query string) would describe the wire badly: `{ type: 'boolean' }` rather than a union of string and array.
 */
export const documentedAs = z.registry<Record<string, unknown>>();

/** The OpenAPI 3.0 form of a zod schema: the same conversion for request parts and answers. */
function openApiSchemaOf(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const { $schema: _drop, ...json } = z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    io,
    unrepresentable: 'any',
    override: (ctx) => {
      const as = documentedAs.get(ctx.zodSchema as unknown as z.ZodType);
      if (!as) return;
      for (const key of Object.keys(ctx.jsonSchema)) delete (ctx.jsonSchema as Record<string, unknown>)[key];
      Object.assign(ctx.jsonSchema, as);
    },
  }) as Record<string, unknown>;
  return json;
}

const REQUEST_PARTS = ['params', 'querystring', 'headers', 'body'] as const;

/** For @fastify/swagger's `transform`: the zod parts of a route schema as OpenAPI (answers keep their description). */
export function openApiOfRoute(schema: FastifySchema | undefined): FastifySchema | undefined {
  if (!schema) return schema;
  const out: Record<string, unknown> = { ...schema };
  for (const part of REQUEST_PARTS) {
    const value = out[part];
    if (isZodSchema(value)) out[part] = openApiSchemaOf(value, 'input');
  }
  if (schema.response && typeof schema.response === 'object') {
    out.response = Object.fromEntries(
      Object.entries(schema.response as Record<string, unknown>).map(([code, answer]) => {
        if (!isZodSchema(answer)) return [code, answer];
        const { description, ...json } = openApiSchemaOf(answer, 'output');
        return [code, { description, ...json }];
      }),
    );
  }
  return out as FastifySchema;
}

export function installZodCompilers(app: FastifyInstance): void {
  app.setValidatorCompiler(({ schema, httpPart }) => {
    if (!isZodSchema(schema)) return () => true;
    return (data: unknown) => {
      const parsed = schema.safeParse(data ?? {});
      return parsed.success ? { value: parsed.data } : { error: refusalOf(parsed.error, httpPart ?? 'request') };
    };
  });
  // An answer is written as its contract schema parses it: a field the contract does not name is never sent.
  app.setSerializerCompiler(({ schema }) => {
    if (!isZodSchema(schema)) return (data) => JSON.stringify(data);
    return (data) => JSON.stringify(schema.parse(data));
  });
}
