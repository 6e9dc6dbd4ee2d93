import type { z } from 'zod';
import { stripNulls, type Violation } from './violations.js';

/**
 * The schema layer of Kuma's new-model kinds (MeshIdentity, MeshTrust): Kuma validates the whole object against the
 * kind's `rest.yaml` before its Go validator runs, and reports in kube-openapi's words (`spec.x in body must be of type
 * string: "number"`), split as Kuma's `toValidationError` does: a message whose path starts with `spec.` becomes that
 * field and the rest, any other the whole text under field `""`. A `null` member is absent, as the Go validator reads it.
 */
export function parseSchemaLayer<S extends z.ZodType>(
  schema: S,
  input: unknown,
): { ok: true; value: z.output<S> } | { ok: false; violations: Violation[] } {
  const cleaned = stripNulls(input);
  const result = schema.safeParse(cleaned);
  if (result.success) return { ok: true, value: result.data as z.output<S> };
  return { ok: false, violations: result.error.issues.map((issue) => toViolation(issue, cleaned)) };
}

function toViolation(issue: z.core.$ZodIssue, root: unknown): Violation {
  const path = openApiPath(issue.path);
  const value = valueAt(root, issue.path);
  let text: string;
  if (value === undefined && (issue.code === 'invalid_type' || issue.code === 'invalid_value')) {
    text = `${issue.path.length === 1 ? '.' : ''}${path} in body is required`;
  } else if (issue.code === 'invalid_type') {
    text = `${path} in body must be of type ${jsonType(issue.expected)}: ${JSON.stringify(actualType(value))}`;
  } else if (issue.code === 'invalid_value') {
    text = `${path} in body should be one of [${issue.values.map(String).join(' ')}]`;
  } else if (issue.code === 'too_big' && issue.origin === 'string') {
    text = `${path} in body should be at most ${String(issue.maximum)} chars long`;
  } else if (issue.code === 'too_small' && issue.origin === 'array') {
    text = `${path} in body should have at least ${String(issue.minimum)} items`;
  } else {
    text = `${path} in body ${issue.message}`;
  }
  if (path === '') return { field: '', message: text.trimStart() };
  const space = text.indexOf(' ');
  const first = text.slice(0, space);
  return first.startsWith('spec.') ? { field: first, message: text.slice(space + 1) } : { field: '', message: text };
}

function openApiPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path)
    out += typeof segment === 'number' ? `[${segment}]` : `${out === '' ? '' : '.'}${String(segment)}`;
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let at = root;
  for (const key of path)
    at = at !== null && typeof at === 'object' ? (at as Record<PropertyKey, unknown>)[key] : undefined;
  return at;
}

function jsonType(expected: string): string {
  if (expected === 'record' || expected === 'map') return 'object';
  if (expected === 'int') return 'integer';
  return expected;
}

function actualType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}
