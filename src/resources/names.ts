import type { Violation } from './violations.js';

/** Kuma's resource name rule: a lowercase RFC 1123 subdomain (`identifierRegexp` in Kuma's meta validator). */
export const RFC1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** The older, looser rule Kuma still applies to the `mesh` reference of mesh-scoped resources. */
export const MESH_REFERENCE = /^[0-9a-z-_.]*$/;

export const MAX_NAME_LENGTH = 253;
export const MAX_MESH_NAME_LENGTH = 63;

export const NAME_EMPTY = 'cannot be empty';
export const NAME_INVALID_CHARACTERS =
  "invalid characters. A lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
export const MESH_REFERENCE_INVALID_CHARACTERS =
  "invalid characters. Valid characters are numbers, lowercase latin letters and '-', '_', '.' symbols.";

function lengthMessage(maxLen: number): string {
  return `value length must less or equal ${maxLen}`;
}

/** True when `name` is a valid resource name (non-empty, at most `maxLen`, lowercase RFC 1123 subdomain). */
export function isValidResourceName(name: string, maxLen = MAX_NAME_LENGTH): boolean {
  return name !== '' && name.length <= maxLen && RFC1123_SUBDOMAIN.test(name);
}

/**
 * The `name` rule of every resource, as Kuma (one violation at most: empty, then length, then characters).
 */
export function validateResourceName(name: string, maxLen = MAX_NAME_LENGTH, field = 'name'): Violation[] {
  if (name === '') return [{ field, message: NAME_EMPTY }];
  if (name.length > maxLen) return [{ field, message: lengthMessage(maxLen) }];
  if (!RFC1123_SUBDOMAIN.test(name)) return [{ field, message: NAME_INVALID_CHARACTERS }];
  return [];
}

/** The extra rule on Mesh creation (Kuma's `ValidateCreate`): the name fits in 63 characters. */
export function validateMeshNameOnCreate(name: string): Violation[] {
  if (name.length > MAX_MESH_NAME_LENGTH) return [{ field: 'name', message: 'cannot be longer than 63 characters' }];
  return [];
}

/** The `mesh` field of a mesh-scoped resource, as Kuma's `ValidateMesh` (the looser legacy character set). */
export function validateMeshReference(mesh: string): Violation[] {
  const field = 'mesh';
  if (mesh === '') return [{ field, message: NAME_EMPTY }];
  if (mesh.length > MAX_NAME_LENGTH) return [{ field, message: lengthMessage(MAX_NAME_LENGTH) }];
  if (!MESH_REFERENCE.test(mesh)) return [{ field, message: MESH_REFERENCE_INVALID_CHARACTERS }];
  return [];
}
