import { ZONE_NAME } from './computed-labels.js';
import { validateLabels } from './labels.js';
import { validateMeshReference, validateResourceName } from './names.js';
import type { Violation } from './violations.js';

export interface ResourceIdentity {
  type: string;
  name: string;
  /** Mesh-scoped resources only. */
  mesh?: string;
}

/** Kuma's PUT request checks: body identity equals the URL, valid names, valid labels; all reported at once. */
export function checkResourceRequest(
  url: ResourceIdentity,
  body: { type?: string; name?: string; mesh?: string; labels?: Record<string, string> },
): Violation[] {
  const violations: Violation[] = [];
  if (body.name !== url.name)
    violations.push({ field: 'name', message: 'name from the URL has to be the same as in body' });
  if (body.type !== url.type)
    violations.push({ field: 'type', message: 'type from the URL has to be the same as in body' });
  if (url.mesh !== undefined && body.mesh !== url.mesh) {
    violations.push({ field: 'mesh', message: 'mesh from the URL has to be the same as in body' });
  }
  // As Kuma: label checks, then the name (and mesh) rules on the body's meta, not the URL's, so a body whose name
  // differs from the URL gets both the mismatch and the body name's own violations.
  violations.push(...validateLabels(body.labels, { mesh: url.mesh, zone: ZONE_NAME }));
  violations.push(...validateResourceName(body.name ?? ''));
  if (url.mesh !== undefined) violations.push(...validateMeshReference(body.mesh ?? ''));
  return violations;
}

const META_KEYS = new Set(['type', 'mesh', 'name', 'labels', 'creationTime', 'modificationTime', 'kri']);

/** The spec part of a flat resource object: everything but its identity, labels and times. */
export function specOf<T extends object>(resource: T): Record<string, unknown> {
  return Object.fromEntries(Object.entries(resource).filter(([key]) => !META_KEYS.has(key)));
}
