import type { FileSourcePolicy } from '../ca/backend.js';
import { Gauge, type Registry } from 'prom-client';
import type { Clock } from '../domain/clock.js';
import { identityStatus } from '../identity/identity-status.js';
import type { StoredResource } from '../store/resource-store.js';
import type { Mesh } from '../resources/mesh.js';
import type { FactsStore } from '../store/facts-store.js';
import type { ResourceStore } from '../store/resource-store.js';

/** What the gauges read (a part of the metrics' sources). */
interface IdentityGaugeSources {
  store: ResourceStore;
  facts: FactsStore;
  clock: Clock;
  /** Where `File` data sources may be read (MESHCP_FILE_SOURCE_DIRS). */
  files: FileSourcePolicy;
}

/**
 * The new identity model's gauges, from the status page's own computation (so from the guard's fleet queries): per
 * MeshIdentity whether it is Ready and the active dataplanes it wins, issued and that trust its CA; per mesh where the
 * cut-over from Mesh.mtls stands. Only meshes with MeshIdentities or MeshTrusts have series.
 */
export function registerIdentityGauges(
  registers: Registry[],
  sources: IdentityGaugeSources,
  meshes: () => Promise<StoredResource<Mesh>[]>,
): void {
  // The three gauges of one scrape share one computation (a scrape collects them back to back).
  let shared: { at: number; rows: ReturnType<typeof compute> } | undefined;
  const read = () => {
    const now = sources.clock.now();
    // A store that cannot be read (PostgreSQL down) leaves these series out; meshcp_store_up says why.
    if (!shared || now - shared.at > 1_000 || now < shared.at) shared = { at: now, rows: compute().catch(() => []) };
    return shared.rows;
  };
  const compute = async () => {
    const now = sources.clock.now();
    const rows = [];
    for (const mesh of await meshes()) {
      const status = await identityStatus(
        { resources: sources.store, facts: sources.facts },
        mesh.name,
        mesh.spec,
        now,
        sources.files,
      );
      if (status) rows.push({ mesh: mesh.name, status });
    }
    return rows;
  };
  new Gauge({
    name: 'meshcp_meshidentity_dataplanes',
    help: 'Active dataplanes per MeshIdentity: selected (it wins them), issued (hold its certificate), trusting (acknowledged a bundle with its CA)',
    labelNames: ['mesh', 'identity', 'state'],
    registers,
    async collect() {
      const rows = await read();
      this.reset();
      for (const { mesh, status } of rows) {
        for (const identity of status.identities) {
          this.set({ mesh, identity: identity.name, state: 'selected' }, identity.dataplanesSelected);
          this.set({ mesh, identity: identity.name, state: 'issued' }, identity.dataplanesIssued);
          if (identity.dataplanesTrusting !== null)
            this.set({ mesh, identity: identity.name, state: 'trusting' }, identity.dataplanesTrusting);
        }
      }
    },
  });
  new Gauge({
    name: 'meshcp_meshidentity_ready',
    help: '1 when the MeshIdentity is Ready (its CA loads and its MeshTrust holds it), else 0',
    labelNames: ['mesh', 'identity'],
    registers,
    async collect() {
      const rows = await read();
      this.reset();
      for (const { mesh, status } of rows)
        for (const identity of status.identities) this.set({ mesh, identity: identity.name }, identity.ready ? 1 : 0);
    },
  });
  new Gauge({
    name: 'meshcp_cutover_dataplanes',
    help: 'Active dataplanes holding a Mesh.mtls certificate (legacy) or without a Ready MeshIdentity (unidentified), in meshes of the new model',
    labelNames: ['mesh', 'state'],
    registers,
    async collect() {
      const rows = await read();
      this.reset();
      for (const { mesh, status } of rows) {
        this.set({ mesh, state: 'legacy' }, status.cutOver.legacyCertificates);
        this.set({ mesh, state: 'unidentified' }, status.cutOver.withoutReadyIdentity);
      }
    },
  });
}
