import { createHash } from 'node:crypto';
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
  enabled: CaBackend;
  enabledMaterial: CaMaterial;
  materials: CaMaterial[];
  /** Roots of every backend, the enabled backend first. */
  bundlePem: string;
  bundleVersion: string;
  bundleBackends: BundleBackend[];
  supportedBackends: string[];
  /** The stored Mesh row's version this state was built from: a certificate is recorded only while it is current. */
  meshVersion: number;
  /** Issues the enabled backend's certificates; made by its plugin once per state. */
  issuer: CaIssuer;
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
): Omit<MeshCaState, 'issuer' | 'meshVersion'> | undefined {
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
        state.enabled.name,
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
      state = loaded
        ? {
            ...loaded,
            meshVersion: mesh.version,
            issuer: pluginFor(loaded.enabled.type).issuer(meshName, loaded, secrets, this.issuing),
          }
        : undefined;
    }
    // Only meshes that exist (the map cannot grow from requests), and only if nothing changed while loading.
    if (mesh && (this.generations.get(meshName) ?? 0) === generation) this.cache.set(meshName, state ?? null);
    return state;
  }
}
