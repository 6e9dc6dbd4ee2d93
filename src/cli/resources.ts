/** Resource kinds meshctl knows, their names on the command line, and their API routes: all from the kinds table. */
import { KINDS, type ResourceType as Kind } from '../resources/kinds.js';

export interface ResourceType {
  kind: Kind;
  /** The plural used by `get`, as kumactl. */
  plural: string;
  aliases: readonly string[];
  meshScoped: boolean;
  /** The collection's path segment. */
  path: string;
  /** Whether a mesh-scoped kind can be listed across meshes. */
  crossMeshList: boolean;
}

export const RESOURCE_TYPES: readonly ResourceType[] = KINDS.map((kind) => ({
  kind: kind.type,
  plural: kind.cli.plural,
  aliases: kind.cli.aliases,
  meshScoped: kind.scope === 'mesh',
  path: kind.path,
  crossMeshList: 'crossMeshList' in kind && kind.crossMeshList,
}));

export class UsageError extends Error {}

export function resourceTypeByName(name: string): ResourceType {
  const lower = name.toLowerCase();
  const found = RESOURCE_TYPES.find(
    (t) => t.plural === lower || t.aliases.includes(lower) || t.kind.toLowerCase() === lower,
  );
  if (!found) {
    throw new UsageError(
      `unknown resource type "${name}": use one of ${RESOURCE_TYPES.map((t) => t.plural).join(', ')}`,
    );
  }
  return found;
}

export function resourceTypeByKind(kind: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => t.kind === kind);
}

const enc = encodeURIComponent;

/** The route of one resource. */
export function itemPath(type: ResourceType, name: string, mesh: string): string {
  return type.meshScoped ? `/meshes/${enc(mesh)}/${type.path}/${enc(name)}` : `/${type.path}/${enc(name)}`;
}

/**
 * The list route: mesh-scoped types list one mesh, or every mesh when `mesh` is undefined (a kind without a
 * cross-mesh list has none: its mesh is required).
 */
export function listPath(type: ResourceType, mesh: string | undefined): string {
  if (!type.meshScoped) return `/${type.path}`;
  if (mesh === undefined) {
    if (!type.crossMeshList) throw new UsageError(`${type.plural} are listed one mesh at a time: give --mesh`);
    return `/${type.path}`;
  }
  return `/meshes/${enc(mesh)}/${type.path}`;
}
