/**
 * Kuma's resource kinds as `/_resources` describes them, and which of them meshcp only answers as an empty
 * collection. Data only: one loop registers the empty collections (src/api/routes/empty-collection-routes.ts), so the
 * entries fold into the kinds table (src/resources/kinds.ts) unchanged.
 */
export interface KumaKind {
  /** Kuma's type name (`MeshTrust`). */
  type: string;
  scope: 'Mesh' | 'Global';
  /** The URL segment: `/meshes/{mesh}/<path>` or `/<path>`. */
  path: string;
  /** The short name in KRIs (`mtrust`); empty for kinds Kuma gives none. */
  shortName: string;
  singularDisplayName: string;
  pluralDisplayName: string;
  /** Kuma's `includeInFederation`: synced from a global control plane to zones and not system-managed. */
  includeInFederation: boolean;
  /** meshcp stores and serves this kind; otherwise every list of it is empty and every item a 404. */
  modelled: boolean;
  /** Kuma also serves `<path>/_overview` (and `<path>/{name}/_overview`) for it. */
  overview?: boolean;
}

const kind = (type: string, scope: KumaKind['scope'], path: string, shortName: string, plural: string, rest: Partial<KumaKind> = {}): KumaKind => ({
  type,
  scope,
  path,
  shortName,
  singularDisplayName: type.replace(/([a-z])([A-Z])/g, '$1 $2'),
  pluralDisplayName: plural,
  includeInFederation: false,
  modelled: false,
  ...rest,
});

export const KUMA_KINDS: readonly KumaKind[] = [
  kind('Mesh', 'Global', 'meshes', 'm', 'Meshes', { modelled: true, includeInFederation: true }),
  kind('Dataplane', 'Mesh', 'dataplanes', 'dp', 'Dataplanes', { modelled: true }),
  kind('Secret', 'Mesh', 'secrets', '', 'Secrets', { modelled: true, includeInFederation: true }),
  kind('GlobalSecret', 'Global', 'global-secrets', '', 'Global Secrets', { modelled: true }),
  kind('MeshIdentity', 'Mesh', 'meshidentities', 'mid', 'Mesh Identities', { includeInFederation: true }),
  kind('MeshTrust', 'Mesh', 'meshtrusts', 'mtrust', 'Mesh Trusts', { includeInFederation: true }),
  kind('MeshGateway', 'Mesh', 'meshgateways', 'mgw', 'Mesh Gateways', { includeInFederation: true }),
  kind('Workload', 'Mesh', 'workloads', 'wl', 'Workloads'),
  kind('MeshService', 'Mesh', 'meshservices', 'msvc', 'Mesh Services'),
  kind('MeshExternalService', 'Mesh', 'meshexternalservices', 'extsvc', 'Mesh External Services', { includeInFederation: true }),
  kind('MeshMultiZoneService', 'Mesh', 'meshmultizoneservices', 'mzsvc', 'Mesh Multi Zone Services', { includeInFederation: true }),
  kind('ExternalService', 'Mesh', 'external-services', '', 'External Services', { includeInFederation: true }),
  kind('ServiceInsight', 'Mesh', 'service-insights', '', 'Service Insights'),
  kind('ZoneEgress', 'Global', 'zoneegresses', 'ze', 'Zone Egresses', { overview: true }),
  kind('ZoneIngress', 'Global', 'zoneingresses', 'zi', 'Zone Ingresses', { overview: true }),
  kind('HostnameGenerator', 'Global', 'hostnamegenerators', 'hg', 'Hostname Generators', { includeInFederation: true }),
];

/** Kuma's `/_resources` answer: every kind, sorted by name. meshcp's API is writable; the unmodelled kinds are not. */
export function resourceTypeDescriptions() {
  const resources = KUMA_KINDS.map((k) => ({
    name: k.type,
    scope: k.scope,
    readOnly: !k.modelled,
    path: k.path,
    singularDisplayName: k.singularDisplayName,
    pluralDisplayName: k.pluralDisplayName,
    shortName: k.shortName,
    includeInFederation: k.includeInFederation,
  }));
  return { resources: resources.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) };
}
