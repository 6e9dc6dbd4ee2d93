import { createHash } from 'node:crypto';
import type { Mesh, CaBackend } from '../resources/mesh.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { BundleBackend, FactsStore } from '../store/facts-store.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { CaMaterialError, type CaMaterial, type SecretSource } from './backend.js';
import { pluginFor } from './backend-registry.js';
import { VaultHealth } from './vault-health.js';
import { loadCaSigner, type CaSigner } from './x509.js';

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
  /** The enabled backend's signer, parsed once (loading a private key costs ~750 µs); none when Vault signs. */
  signer?: CaSigner;
}

export function bundleVersionOf(enabledBackend: string, backends: BundleBackend[]): string {
  const hash = createHash('sha256').update(enabledBackend);
  for (const b of backends) hash.update(`\n${b.name}:${b.fingerprint}`);
  return hash.digest('base64url').slice(0, 22);
}

/** Reads decoded secret data straight from the store (inside or outside a transaction). */
export function storeSecretSource(store: ResourceStore): SecretSource {
  return {
    read(mesh, name) {
      const secret = store.get<{ data?: string }>('Secret', mesh, name);
      return secret ? Buffer.from(secret.spec.data ?? '', 'base64') : undefined;
    },
  };
}

/** Loads every backend's material and derives the bundle. Throws CaMaterialError when a backend cannot be loaded. */
export function loadMeshCa(meshName: string, mesh: Mesh, secrets: SecretSource): Omit<MeshCaState, 'signer'> | undefined {
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
      throw new CaMaterialError(`the CA material of backend "${backend.name}" cannot be loaded: ${(err as Error).message}`);
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
 * Caches each mesh's CA state; every write to a mesh or its secrets calls `reload`. Reads (`stateOf`) never write:
 * the bundle versions dataplanes may acknowledge are recorded by writes (the mesh PUT, `reload` after any write)
 * and at startup (`recordCurrentBundles`), which covers material that changed underneath (a `file` source edited
 * before a restart).
 */
export class CaManager {
  private readonly cache = new Map<string, MeshCaState | null>();
  private readonly secrets: SecretSource;
  /** Last contact with each vault backend, shown by `/ca-rotation`. */
  readonly vaultHealth: VaultHealth;

  constructor(
    private readonly store: ResourceStore,
    private readonly facts: FactsStore,
    private readonly clock: Clock = systemClock,
  ) {
    this.secrets = storeSecretSource(store);
    this.vaultHealth = new VaultHealth(clock);
  }

  /** The mesh's CA state, or undefined when the mesh has mTLS off. */
  stateOf(meshName: string): MeshCaState | undefined {
    const cached = this.cache.get(meshName);
    if (cached !== undefined) return cached ?? undefined;
    const mesh = this.store.get<Mesh>('Mesh', '', meshName);
    const loaded = mesh ? loadMeshCa(meshName, mesh.spec, this.secrets) : undefined;
    const state = loaded
      ? { ...loaded, ...(loaded.enabledMaterial.vault ? {} : { signer: loadSigner(loaded.enabledMaterial) }) }
      : undefined;
    if (mesh) this.cache.set(meshName, state ?? null); // only meshes that exist: the map cannot grow from requests
    return state;
  }

  invalidate(meshName: string): void {
    this.cache.delete(meshName);
  }

  /**
   * After a write to the mesh or its secrets: drops the cached state and records the bundle the mesh serves now,
   * so an acknowledgement of any bundle this CP serves can be resolved. Material that cannot be loaded is left to
   * the requests, which answer 409 with the reason.
   */
  reload(meshName: string): void {
    this.invalidate(meshName);
    let state: MeshCaState | undefined;
    try {
      state = this.stateOf(meshName);
    } catch (err) {
      if (err instanceof CaMaterialError) return;
      throw err;
    }
    if (state) this.facts.recordBundleVersion(meshName, state.bundleVersion, state.enabled.name, state.bundleBackends, this.clock.now());
  }

  /** At startup: records the bundle every mesh serves (its material may have changed while the CP was down). */
  recordCurrentBundles(): void {
    for (const mesh of this.store.names('Mesh', '')) this.reload(mesh);
  }
}

function loadSigner(material: CaMaterial): CaSigner {
  try {
    return loadCaSigner(material.issuerChainPem, material.issuerKeyPem);
  } catch (err) {
    throw new CaMaterialError(`the CA of backend "${material.backend}" cannot sign: ${(err as Error).message}`);
  }
}
