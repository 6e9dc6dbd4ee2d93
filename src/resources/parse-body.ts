import { invalidRequest, invalidResource, Titles } from '../domain/errors.js';
import type { Kind } from './kinds.js';
import { checkResourceRequest } from './request-checks.js';
import { parseSchemaLayer } from './schema-layer.js';
import { describeShapeError, parseShape, type Violation } from './violations.js';

/** Where a resource lives: `mesh` is '' for global kinds. */
export interface ResourceAt {
  mesh: string;
  name: string;
}

/**
 * A PUT body of one kind, checked in Kuma's order: its shape (400 "invalid request"), then the kind's rules and
 * `moreRules` (which run only on a body the kind's own rules accept), and only for an otherwise valid body, the
 * URL/body identity, names and labels (400 "could not process the resource").
 */
export function parseKindBody<T>(kind: Kind, at: ResourceAt, body: unknown, moreRules?: (value: T) => Violation[]): T {
  // Kuma's new-model kinds answer a schema violation as a resource that is not valid, in kube-openapi's words; the
  // others as a body Kuma's decoder could not read.
  const shape = kind.envelope ? parseSchemaLayer(kind.schema, body) : parseShape(kind.schema, body);
  if (!shape.ok && kind.envelope) throw invalidResource(Titles.process, shape.violations);
  if (!shape.ok) throw invalidRequest(describeShapeError(kind.type, shape.violations), shape.violations);
  const value = shape.value as T & { type?: string; name?: string; mesh?: string; labels?: Record<string, string> };
  const specViolations = kind.validate?.(value as never, at) ?? [];
  if (specViolations.length === 0 && moreRules) specViolations.push(...moreRules(value));
  if (specViolations.length > 0) throw invalidResource(Titles.process, specViolations);
  const url =
    kind.scope === 'mesh' ? { type: kind.type, name: at.name, mesh: at.mesh } : { type: kind.type, name: at.name };
  const violations = checkResourceRequest(url, value);
  if (violations.length > 0) throw invalidResource(Titles.process, violations);
  return value;
}
