import type { z } from 'zod';
import { dataplaneLabels, validateDataplane } from './dataplane.js';
import { DataplaneSchema } from './dataplane.js';
import { dataplaneSizeViolations } from './dataplane-limits.js';
import type { Labels } from './labels.js';
import { MeshSchema } from './mesh.js';
import { MeshIdentitySchema, normalizeMeshIdentitySpec, validateMeshIdentity } from './mesh-identity.js';
import { MeshTrustSchema, meshTrustWarnings, validateMeshTrust } from './mesh-trust.js';
import { GlobalSecretSchema, SecretSchema } from './secret.js';
import type { Violation } from './violations.js';

/**
 * Every resource kind meshcp serves, once. The store's type, the computed labels, the OpenAPI document, meshctl's
 * names and paths, the service handles and the CRUD routes all derive from this table (Kuma's type registry plays
 * the same part). Adding a kind: its schema (and pure rules) in src/resources, one entry here, and, only if its writes
 * need rules that read the store, a descriptor in the services layer (src/resource-manager/kind-rules.ts).
 */
interface KindBase {
  /** Kuma's type name, as in a body's `type` and in manifests. */
  readonly type: string;
  /** 'mesh': lives in a mesh (`/meshes/{mesh}/<path>`); 'global': `/<path>`. */
  readonly scope: 'global' | 'mesh';
  /** The collection's path segment (Kuma's plural). */
  readonly path: string;
  /** Kuma's short name (in KRIs, `kri_<short>_...`); '' for kinds Kuma gives none. */
  readonly shortName: string;
  /** Kuma's display names (`/_resources`). */
  readonly displayName: { readonly singular: string; readonly plural: string };
  /** Kuma's `includeInFederation` (`/_resources`): synced from a global control plane to zones. */
  readonly includeInFederation: boolean;
}

/**
 * A kind Kuma has and meshcp does not model yet: its collection answers as Kuma answers an empty one (`total: 0`,
 * the mesh's 404 first, Kuma's paging 400s), its items are 404s, and `/_resources` lists it read-only.
 */
export interface UnmodelledKind extends KindBase {
  readonly unmodelled: true;
  /** Kuma also serves `<path>/_overview` and `<path>/{name}/_overview` for it. */
  readonly overview?: boolean;
}

/** A kind meshcp stores and serves. */
export interface Kind extends KindBase {
  /** The request and response shape (one schema per shape). */
  readonly schema: z.ZodType;
  /** Other spellings Kuma serves the collection under; served, left out of the OpenAPI document. */
  readonly pathAliases?: readonly string[];
  /** Mesh-scoped kinds: whether `/<path>` lists the kind across every mesh. */
  readonly crossMeshList?: boolean;
  /** meshctl: the plural `get` prints and the other names it accepts. */
  readonly cli: { readonly plural: string; readonly aliases: readonly string[] };
  /**
   * How the spec is kept at rest: 'encrypted' whole (secrets), 'sealed' (a Mesh: only the CA backends' private
   * material, so the rules can read the rest), 'plain'.
   */
  readonly storage: 'plain' | 'encrypted' | 'sealed';
  /**
   * 'computed': the kinds a zone control plane creates store Kuma's computed labels (see computed-labels.ts), whose
   * immutable members an update may neither change nor remove; 'as-given': the caller's labels (a Mesh).
   */
  readonly labels: 'computed' | 'as-given';
  /** Labels a kind computes from its own spec (a Dataplane's proxy type and zone listeners). */
  readonly specLabels?: (spec: unknown, labels: Labels) => void;
  /** Pure rules of a parsed body, run before the URL/body checks (as Kuma validates the body first). */
  readonly validate?: (value: never, at: { mesh: string; name: string }) => Violation[];
  /** Who may GET and PUT one item besides admins ('own-dataplane': a dataplane, itself). */
  readonly itemAccess?: 'own-dataplane';
  /** Lists take Kuma's dataplane filters (`tag=`, `gateway=`). */
  readonly dataplaneFilters?: boolean;
  /**
   * Kuma's new-model kinds (MeshIdentity, MeshTrust): the body is Kuma's plugin envelope (`spec`, `status`), checked
   * by a schema layer answering in kube-openapi's words before the rules; the answer carries `kri` (with this short
   * name), `spec` and `status` (computed, never written by a PUT). `normalize` gives what is stored of a valid spec,
   * `warnings` what a write answers besides its status (`{"warnings": [...]}`).
   */
  readonly envelope?: {
    readonly shortName: string;
    readonly normalize?: (spec: never) => object;
    readonly warnings?: (body: unknown) => string[];
  };
  /** OpenAPI summaries. */
  readonly docs: {
    readonly list: string;
    readonly get: string;
    readonly put: string;
    readonly del: string;
    readonly crossMeshList?: string;
  };
}

/** Kuma's name for a type, split at its words: `MeshTrust` -> `Mesh Trust`. */
const words = (type: string) => type.replace(/([a-z])([A-Z])/g, '$1 $2');

const unmodelled = (
  type: string,
  scope: 'global' | 'mesh',
  path: string,
  shortName: string,
  plural: string,
  more: { includeInFederation?: boolean; overview?: boolean } = {},
): UnmodelledKind => ({
  type,
  scope,
  path,
  shortName,
  displayName: { singular: words(type), plural },
  includeInFederation: more.includeInFederation ?? false,
  unmodelled: true,
  ...(more.overview ? { overview: true } : {}),
});

export const KINDS = [
  {
    type: 'Mesh',
    scope: 'global',
    schema: MeshSchema,
    path: 'meshes',
    shortName: 'm',
    displayName: { singular: 'Mesh', plural: 'Meshes' },
    includeInFederation: true,
    cli: { plural: 'meshes', aliases: ['mesh'] },
    storage: 'sealed',
    labels: 'as-given',
    docs: { list: 'List meshes', get: 'Get a mesh', put: 'Create or replace a mesh', del: 'Delete a mesh' },
  },
  {
    type: 'Secret',
    scope: 'mesh',
    schema: SecretSchema,
    path: 'secrets',
    shortName: '',
    displayName: { singular: 'Secret', plural: 'Secrets' },
    includeInFederation: true,
    crossMeshList: true,
    cli: { plural: 'secrets', aliases: ['secret'] },
    storage: 'encrypted',
    labels: 'computed',
    docs: {
      list: 'List the secrets of a mesh',
      get: 'Get a secret',
      put: 'Create or replace a secret',
      del: 'Delete a secret',
      crossMeshList: 'List the secrets of every mesh',
    },
  },
  {
    type: 'GlobalSecret',
    scope: 'global',
    schema: GlobalSecretSchema,
    path: 'global-secrets',
    shortName: '',
    displayName: { singular: 'Global Secret', plural: 'Global Secrets' },
    includeInFederation: false,
    pathAliases: ['globalsecrets'],
    cli: { plural: 'global-secrets', aliases: ['global-secret', 'globalsecrets', 'globalsecret'] },
    storage: 'encrypted',
    labels: 'computed',
    docs: {
      list: 'List global secrets',
      get: 'Get a global secret',
      put: 'Create or replace a global secret',
      del: 'Delete a global secret',
    },
  },
  {
    type: 'Dataplane',
    scope: 'mesh',
    schema: DataplaneSchema,
    path: 'dataplanes',
    shortName: 'dp',
    displayName: { singular: 'Dataplane', plural: 'Dataplanes' },
    includeInFederation: false,
    crossMeshList: true,
    cli: { plural: 'dataplanes', aliases: ['dataplane', 'dp', 'dps'] },
    storage: 'plain',
    labels: 'computed',
    specLabels: dataplaneLabels,
    validate: (dp: z.infer<typeof DataplaneSchema>, at: { mesh: string }) => [
      ...validateDataplane(dp),
      ...dataplaneSizeViolations(at.mesh, dp),
    ],
    itemAccess: 'own-dataplane',
    dataplaneFilters: true,
    docs: {
      list: 'List the dataplanes of a mesh',
      get: 'Get a dataplane',
      put: 'Create or replace a dataplane',
      del: 'Delete a dataplane',
      crossMeshList: 'List the dataplanes of every mesh',
    },
  },
  {
    type: 'MeshIdentity',
    scope: 'mesh',
    schema: MeshIdentitySchema,
    path: 'meshidentities',
    shortName: 'mid',
    displayName: { singular: 'Mesh Identity', plural: 'Mesh Identities' },
    includeInFederation: true,
    crossMeshList: true,
    cli: { plural: 'meshidentities', aliases: ['meshidentity', 'mid'] },
    storage: 'plain',
    labels: 'computed',
    validate: validateMeshIdentity,
    envelope: { shortName: 'mid', normalize: normalizeMeshIdentitySpec },
    docs: {
      list: 'List the mesh identities of a mesh',
      get: 'Get a mesh identity',
      put: 'Create or replace a mesh identity',
      del: 'Delete a mesh identity',
      crossMeshList: 'List the mesh identities of every mesh',
    },
  },
  {
    type: 'MeshTrust',
    scope: 'mesh',
    schema: MeshTrustSchema,
    path: 'meshtrusts',
    shortName: 'mtrust',
    displayName: { singular: 'Mesh Trust', plural: 'Mesh Trusts' },
    includeInFederation: true,
    crossMeshList: true,
    cli: { plural: 'meshtrusts', aliases: ['meshtrust', 'mtrust'] },
    storage: 'plain',
    labels: 'computed',
    validate: validateMeshTrust,
    envelope: { shortName: 'mtrust', warnings: meshTrustWarnings },
    docs: {
      list: 'List the mesh trusts of a mesh',
      get: 'Get a mesh trust',
      put: 'Create or replace a mesh trust',
      del: 'Delete a mesh trust',
      crossMeshList: 'List the mesh trusts of every mesh',
    },
  },
  // Kinds Kuma's GUI asks for that meshcp does not model yet: an entry each, no route or schema of their own.
  unmodelled('MeshGateway', 'mesh', 'meshgateways', 'mgw', 'Mesh Gateways', { includeInFederation: true }),
  unmodelled('Workload', 'mesh', 'workloads', 'wl', 'Workloads'),
  unmodelled('MeshService', 'mesh', 'meshservices', 'msvc', 'Mesh Services'),
  unmodelled('MeshExternalService', 'mesh', 'meshexternalservices', 'extsvc', 'Mesh External Services', {
    includeInFederation: true,
  }),
  unmodelled('MeshMultiZoneService', 'mesh', 'meshmultizoneservices', 'mzsvc', 'Mesh Multi Zone Services', {
    includeInFederation: true,
  }),
  unmodelled('ExternalService', 'mesh', 'external-services', '', 'External Services', { includeInFederation: true }),
  unmodelled('ServiceInsight', 'mesh', 'service-insights', '', 'Service Insights'),
  unmodelled('ZoneEgress', 'global', 'zoneegresses', 'ze', 'Zone Egresses', { overview: true }),
  unmodelled('ZoneIngress', 'global', 'zoneingresses', 'zi', 'Zone Ingresses', { overview: true }),
  unmodelled('HostnameGenerator', 'global', 'hostnamegenerators', 'hg', 'Hostname Generators', {
    includeInFederation: true,
  }),
] as const satisfies readonly (Kind | UnmodelledKind)[];

/** The table's entries of the kinds meshcp stores, with their literal types. */
export type StoredEntry = Exclude<(typeof KINDS)[number], UnmodelledKind>;

/** The type names of the kinds meshcp stores. */
export type ResourceType = StoredEntry['type'];

/** A kind of the table, its type name known to be one of them. */
export type KnownKind = Kind & { readonly type: ResourceType };

const isStored = (kind: Kind | UnmodelledKind): kind is KnownKind => !('unmodelled' in kind);

/** The kinds meshcp stores and serves, in table order. */
const ALL_KINDS: readonly (Kind | UnmodelledKind)[] = KINDS;

export const STORED_KINDS: readonly KnownKind[] = ALL_KINDS.filter(isStored);

/** Kuma's kinds meshcp answers as empty collections. */
export const UNMODELLED_KINDS: readonly UnmodelledKind[] = ALL_KINDS.filter(
  (kind): kind is UnmodelledKind => !isStored(kind),
);

const BY_TYPE = new Map<string, KnownKind>(STORED_KINDS.map((kind) => [kind.type, kind]));

/** The kind of a type name (every stored row's type is one). */
export function kindOf(type: ResourceType): KnownKind {
  return BY_TYPE.get(type)!;
}

/** Kuma's `/_resources` answer: every kind of the table, sorted by name; the unmodelled ones read-only. */
export function resourceTypeDescriptions() {
  const resources = ALL_KINDS.map((kind) => ({
    name: kind.type,
    scope: kind.scope === 'mesh' ? ('Mesh' as const) : ('Global' as const),
    readOnly: !isStored(kind),
    path: kind.path,
    singularDisplayName: kind.displayName.singular,
    pluralDisplayName: kind.displayName.plural,
    shortName: kind.shortName,
    includeInFederation: kind.includeInFederation,
  }));
  return { resources: resources.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) };
}

/** The kind whose KRI short name this is (`mid`, `mtrust`), if any. */
export function kindOfShortName(shortName: string): KnownKind | undefined {
  return STORED_KINDS.find((kind) => kind.envelope?.shortName === shortName);
}

/** Every KRI short name meshcp serves. */
export const KRI_SHORT_NAMES: readonly string[] = STORED_KINDS.flatMap((kind) =>
  kind.envelope ? [kind.envelope.shortName] : [],
);

/** The kind of a type name from outside (a manifest, a URL), if it is one. */
export function findKind(type: string): KnownKind | undefined {
  return BY_TYPE.get(type);
}
