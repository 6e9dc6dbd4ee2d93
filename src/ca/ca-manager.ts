import { createHash, X509Certificate } from 'node:crypto';
import type { MeshTrustSpec } from '../resources/mesh-trust.js';
import { fingerprintOf } from '../x509/certificate-facts.js';
import { pemEncode } from '../x509/pem.js';
import type { Mesh, CaBackend } from '../resources/mesh.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { BundleBackend } from '../store/facts-store.js';
import type { Store } from '../store/store.js';
import type { Clock } from '../domain/clock.js';
import {
  CaMaterialError,
  type BackendStatusFields,
  type CaIssuer,
  type CaMaterial,
  type FileSourcePolicy,
  type IssuingServices,
  type SecretSource,
} from './backend.js';
import { BackendContacts } from './backend-contacts.js';
import { caBackendPlugins, pluginFor } from './backend-registry.js';
import type { SigningPool } from './signing-pool.js';

/** What one mesh's dataplanes are issued and trust right now. Built once per mesh change, then served from memory. */
export interface MeshCaState {
  mesh: string;
  /** The enabled `Mesh.mtls` backend: absent when mTLS is off and the mesh serves only the new model's trust. */
  enabled?: CaBackend;
  enabledMaterial?: CaMaterial;
  /** Every `Mesh.mtls` backend's material (none when mTLS is off). */
  materials: CaMaterial[];
  /**
   * What dataplanes trust: without MeshTrusts, the roots of every backend, the enabled backend first (as ever); with
   * any, every MeshTrust's CAs (by trust domain, then name) and, while `Mesh.mtls` is on, the backends' roots (the
   * legacy bridge).
   */
  bundlePem: string;
  bundleVersion: string;
  bundleBackends: BundleBackend[];
  supportedBackends: string[];
  /** The stored Mesh row's version this state was built from: a certificate is recorded only while it is current. */
  meshVersion: number;
  /** Issues the enabled backend's certificates; made by its plugin once per state (none while mTLS is off). */
  issuer?: CaIssuer;
  /** The MeshTrusts in the bundle, by trust domain then name. */
  trusts: MeshTrustEntry[];
  /**
   * With MeshTrusts: the SPIFFE trust domains the bundle vouches for (theirs, and the mesh name, the legacy IDs' trust
   * domain, while `Mesh.mtls` is on). Absent otherwise (a peer's ID is then `spiffe://<mesh>/...`, as ever).
   */
  trustDomains?: string[];
}

/** A state with `Mesh.mtls` on: its enabled backend issues. */
export type LegacyCaState = MeshCaState & { enabled: CaBackend; enabledMaterial: CaMaterial; issuer: CaIssuer };

export function hasLegacyCa(state: MeshCaState): state is LegacyCaState {
  return state.enabled !== undefined && state.enabledMaterial !== undefined;
}

/** One MeshTrust as the bundle holds it. */
export interface MeshTrustEntry {
  name: string;
  trustDomain: string;
  pem: string;
  fingerprint: string;
  /** Each CA certificate's fingerprint, as the bundle's backends list them (see `trustCaBackend`). */
  caFingerprints: string[];
}

/** How a MeshTrust is named among a bundle's supported backends. */
const trustBackendName = (trust: string) => `meshtrust/${trust}`;

/**
 * How one CA of a MeshTrust appears among a bundle's backends (facts, acknowledgements, the rules): one entry per CA,
 * so "every dataplane acknowledged a bundle trusting this CA" is the same fleet query as for a backend.
 */
export const trustCaBackend = (trust: string, fingerprint: string) => ({
  name: `${trustBackendName(trust)}/${fingerprint.slice(0, 16)}`,
  fingerprint,
});

/** The certificates of a MeshTrust's PEM bundles (other blocks, which Kuma admits, are not trust anchors). */
export function trustEntry(name: string, spec: MeshTrustSpec): MeshTrustEntry | undefined {
  const ders: Buffer[] = [];
  for (const bundle of spec.caBundles ?? []) {
    if (bundle.type !== 'Pem' || !bundle.pem) continue;
    for (const match of bundle.pem.value.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)) {
      try {
        ders.push(Buffer.from(new X509Certificate(match[0]).raw));
      } catch {
        // not a certificate OpenSSL reads: not something a peer can be verified against
      }
    }
  }
  if (ders.length === 0) return undefined;
  return {
    name,
    trustDomain: spec.trustDomain ?? '',
    pem: ders.map((der) => pemEncode('CERTIFICATE', der)).join(''),
    fingerprint: fingerprintOf(ders),
    caFingerprints: [...new Set(ders.map((der) => fingerprintOf([der])))],
  };
}

/**
 * The state served when the mesh has MeshTrusts: their CAs, plus (the legacy bridge, while `Mesh.mtls` is on) the
 * backends' roots; each MeshTrust counts as a bundle backend, so acknowledgements and the rules see it.
 */
function withTrusts(
  mesh: string,
  legacy: Omit<MeshCaState, 'trusts' | 'meshVersion' | 'issuer'> | undefined,
  trusts: MeshTrustEntry[],
): Omit<MeshCaState, 'meshVersion' | 'issuer'> {
  const sorted = [...trusts].sort((a, b) =>
    a.trustDomain === b.trustDomain ? (a.name < b.name ? -1 : 1) : a.trustDomain < b.trustDomain ? -1 : 1,
  );
  const bundleBackends = [
    ...(legacy?.bundleBackends ?? []),
    ...sorted.flatMap((t) => t.caFingerprints.map((fp) => trustCaBackend(t.name, fp))),
  ];
  const enabledName = legacy?.enabled?.name ?? '';
  return {
    ...(legacy ?? { mesh, materials: [] }),
    bundlePem: sorted.map((t) => t.pem).join('') + (legacy?.bundlePem ?? ''),
    bundleVersion: bundleVersionOf(enabledName, bundleBackends),
    bundleBackends,
    supportedBackends: [...(legacy?.supportedBackends ?? []), ...sorted.map((t) => trustBackendName(t.name))],
    trusts: sorted,
    trustDomains: [...new Set([...(legacy?.enabled ? [mesh] : []), ...sorted.map((t) => t.trustDomain)])],
  };
}

function bundleVersionOf(enabledBackend: string, backends: BundleBackend[]): string {
  const hash = createHash('sha256').update(enabledBackend);
  for (const b of backends) hash.update(`\n${b.name}:${b.fingerprint}`);
  return hash.digest('base64url').slice(0, 22);
}

/**
 * The secrets `backends` of `mesh` read (each plugin names them), loaded up front from `resources` (inside or outside
 * a transaction) so the CA plugins read them from memory; `files` says where their `file` data sources may be read.
 */
export async function loadBackendSecrets(
  resources: ResourceStore,
  mesh: string,
  backends: readonly CaBackend[],
  files: FileSourcePolicy,
): Promise<SecretSource> {
  const names = new Set(backends.flatMap((backend) => pluginFor(backend.type).usedSecrets(mesh, backend)));
  const data = new Map<string, Buffer>();
  for (const name of names) {
    const secret = await resources.get<{ data?: string }>('Secret', mesh, name);
    if (secret) data.set(name, Buffer.from(secret.spec.data ?? '', 'base64'));
  }
  return { read: (from, name) => (from === mesh ? data.get(name) : undefined), files };
}

/** Loads every backend's material and derives the bundle. Throws CaMaterialError when a backend cannot be loaded. */
export function loadMeshCa(
  meshName: string,
  mesh: Mesh,
  secrets: SecretSource,
): Omit<LegacyCaState, 'issuer' | 'meshVersion' | 'trusts'> | undefined {
  const enabledName = mesh.mtls?.enabledBackend;
  const backends = mesh.mtls?.backends ?? [];
  const enabled = backends.find((b) => b.name === enabledName);
  if (!enabled) return undefined;
  const ordered = [enabled, ...backends.filter((b) => b !== enabled)];
  const materials = ordered.map((backend) => {
    try {
      return pluginFor(backend.type).load(meshName, backend, secrets);
    } catch (err) {
      if (err instanceof CaMaterialError) throw err;
      throw new CaMaterialError(
        `the CA material of backend "${backend.name}" cannot be loaded: ${(err as Error).message}`,
      );
    }
  });
  const bundleBackends = materials.map((m) => ({ name: m.backend, fingerprint: m.fingerprint }));
  return {
    mesh: meshName,
    enabled,
    enabledMaterial: materials[0],
    materials,
    bundlePem: materials.map((m) => m.trustPem).join(''),
    bundleVersion: bundleVersionOf(enabled.name, bundleBackends),
    bundleBackends,
    supportedBackends: materials.map((m) => m.backend),
  };
}

/**
 * Caches each mesh's CA state; every write to a mesh or its secrets (on any instance) calls `reload`. Reads
 * (`stateOf`) never write: the bundle versions dataplanes may acknowledge are recorded by writes (the mesh PUT,
 * `reload` after any write) and at startup (`recordCurrentBundles`), which covers material that changed underneath
 * (a `file` source edited before a restart).
 */
export class CaManager {
  private readonly cache = new Map<string, MeshCaState | null>();
  /** Loads in flight, shared by concurrent callers; an invalidation makes a load's result uncacheable. */
  private readonly loading = new Map<string, Promise<MeshCaState | undefined>>();
  private readonly generations = new Map<string, number>();
  /** Last contact with each backend whose CA is remote (vault), shown by `/ca-rotation`. */
  readonly contacts: BackendContacts;
  private readonly issuing: IssuingServices;

  constructor(
    private readonly store: Store,
    signing: SigningPool,
    private readonly clock: Clock,
    /** Where `file` data sources may be read (MESHCP_FILE_SOURCE_DIRS, never the data directory). */
    private readonly files: FileSourcePolicy,
  ) {
    this.contacts = new BackendContacts(clock);
    this.issuing = { signing, contacts: this.contacts };
  }

  /** The mesh's CA state, or undefined when the mesh has mTLS off. Throws CaMaterialError when it cannot be loaded. */
  stateOf(meshName: string): Promise<MeshCaState | undefined> {
    const cached = this.cache.get(meshName);
    if (cached !== undefined) return Promise.resolve(cached ?? undefined);
    let load = this.loading.get(meshName);
    if (!load) {
      load = this.load(meshName).finally(() => {
        if (this.loading.get(meshName) === load) this.loading.delete(meshName);
      });
      this.loading.set(meshName, load);
    }
    return load;
  }

  /** The fields `backend`'s type adds to its `/ca-rotation` entry (vault: its last contact). */
  statusFields(meshName: string, backend: CaBackend): BackendStatusFields {
    return caBackendPlugins.get(backend.type)?.statusFields?.(meshName, backend, this.contacts) ?? {};
  }

  /** The cached state without loading it: undefined when not cached (never touches the store). */
  cachedState(meshName: string): MeshCaState | null | undefined {
    return this.cache.get(meshName);
  }

  invalidate(meshName: string): void {
    this.cache.delete(meshName);
    this.loading.delete(meshName);
    this.generations.set(meshName, (this.generations.get(meshName) ?? 0) + 1);
  }

  /** Forgets every mesh (another instance's changes may have been missed). */
  invalidateAll(): void {
    for (const mesh of new Set([...this.cache.keys(), ...this.loading.keys()])) this.invalidate(mesh);
  }

  /**
   * After a write to the mesh or its secrets: drops the cached state and records the bundle the mesh serves now,
   * so an acknowledgement of any bundle this CP serves can be resolved. Material that cannot be loaded is left to
   * the requests, which answer 409 with the reason.
   */
  async reload(meshName: string): Promise<void> {
    this.invalidate(meshName);
    let state: MeshCaState | undefined;
    try {
      state = await this.stateOf(meshName);
    } catch (err) {
      if (err instanceof CaMaterialError) return;
      throw err;
    }
    if (state)
      await this.store.facts.recordBundleVersion(
        meshName,
        state.bundleVersion,
        state.enabled?.name ?? '',
        state.bundleBackends,
        this.clock.now(),
      );
  }

  /** At startup: records the bundle every mesh serves (its material may have changed while the CP was down). */
  async recordCurrentBundles(): Promise<void> {
    for (const mesh of await this.store.resources.names('Mesh', '')) await this.reload(mesh);
  }

  private async load(meshName: string): Promise<MeshCaState | undefined> {
    const generation = this.generations.get(meshName) ?? 0;
    const mesh = await this.store.resources.get<Mesh>('Mesh', '', meshName);
    let state: MeshCaState | undefined;
    if (mesh) {
      const secrets = await loadBackendSecrets(
        this.store.resources,
        meshName,
        mesh.spec.mtls?.backends ?? [],
        this.files,
      );
      const loaded = loadMeshCa(meshName, mesh.spec, secrets);
      const everything = { mesh: meshName, offset: 0, size: 100_000 };
      const trusts = (await this.store.resources.list<MeshTrustSpec>('MeshTrust', everything)).items.flatMap(
        (t) => trustEntry(t.name, t.spec) ?? [],
      );
      // A mesh of the new model only (mTLS off) is served a state too when it has identities: they issue.
      const newModel = trusts.length > 0 || (await this.store.resources.count('MeshIdentity', meshName)) > 0;
      const composed =
        trusts.length > 0 || (!loaded && newModel)
          ? withTrusts(meshName, loaded, trusts)
          : loaded && { ...loaded, trusts: [] };
      state = composed
        ? {
            ...composed,
            meshVersion: mesh.version,
            ...(loaded
              ? { issuer: pluginFor(loaded.enabled.type).issuer(meshName, loaded, secrets, this.issuing) }
              : {}),
          }
        : undefined;
    }
    // Only meshes that exist (the map cannot grow from requests), and only if nothing changed while loading.
    if (mesh && (this.generations.get(meshName) ?? 0) === generation) this.cache.set(meshName, state ?? null);
    return state;
  }
}
