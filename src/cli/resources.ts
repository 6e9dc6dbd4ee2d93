/** Resource types meshctl knows, their names on the command line, and their API routes. */

export type Kind = 'Mesh' | 'Secret' | 'GlobalSecret' | 'Dataplane';

export interface ResourceType {
  kind: Kind;
  /** The plural used by `get`, as kumactl. */
  plural: string;
  aliases: string[];
  meshScoped: boolean;
}

export const RESOURCE_TYPES: readonly ResourceType[] = [
  { kind: 'Mesh', plural: 'meshes', aliases: ['mesh'], meshScoped: false },
  { kind: 'Secret', plural: 'secrets', aliases: ['secret'], meshScoped: true },
  { kind: 'GlobalSecret', plural: 'global-secrets', aliases: ['global-secret', 'globalsecrets', 'globalsecret'], meshScoped: false },
  { kind: 'Dataplane', plural: 'dataplanes', aliases: ['dataplane', 'dp', 'dps'], meshScoped: true },
];

export class UsageError extends Error {}

export function resourceTypeByName(name: string): ResourceType {
  const lower = name.toLowerCase();
  const found = RESOURCE_TYPES.find((t) => t.plural === lower || t.aliases.includes(lower) || t.kind.toLowerCase() === lower);
  if (!found) {
    throw new UsageError(`unknown resource type "${name}": use one of ${RESOURCE_TYPES.map((t) => t.plural).join(', ')}`);
  }
  return found;
}

export function resourceTypeByKind(kind: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => t.kind === kind);
}

const enc = encodeURIComponent;

/** The route of one resource. */
export function itemPath(type: ResourceType, name: string, mesh: string): string {
  switch (type.kind) {
    case 'Mesh':
      return `/meshes/${enc(name)}`;
    case 'GlobalSecret':
      return `/global-secrets/${enc(name)}`;
    case 'Secret':
      return `/meshes/${enc(mesh)}/secrets/${enc(name)}`;
    case 'Dataplane':
      return `/meshes/${enc(mesh)}/dataplanes/${enc(name)}`;
  }
}

/** The list route: mesh-scoped types list one mesh, or every mesh when `mesh` is undefined. */
export function listPath(type: ResourceType, mesh: string | undefined): string {
  switch (type.kind) {
    case 'Mesh':
      return '/meshes';
    case 'GlobalSecret':
      return '/global-secrets';
    case 'Secret':
      return mesh === undefined ? '/secrets' : `/meshes/${enc(mesh)}/secrets`;
    case 'Dataplane':
      return mesh === undefined ? '/dataplanes' : `/meshes/${enc(mesh)}/dataplanes`;
  }
}
