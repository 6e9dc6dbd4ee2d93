import type { FileSourcePolicy } from '../ca/backend.js';
import { hasLegacyCa, type MeshCaState } from '../ca/ca-manager.js';
import type { Clock } from '../domain/clock.js';
import type { MeshEvents } from '../mesh-events.js';
import { kriOf } from '../resources/kri.js';
import type { Store } from '../store/store.js';
import type { IdentityState, StoredIdentity } from './evaluate.js';
import { readMeshIdentities, type MeshIdentities } from './identity-reads.js';
import { bestMatch } from './selection.js';
import { spiffeIdOf } from './spiffe-id.js';

/** How long an evaluation is reused (Kuma's status reconciler runs every 5 s); any change to the mesh drops it. */
const EVALUATION_TTL_MS = 5_000;

/** Who issues a dataplane's certificate. */
export type Issuer =
  | {
      kind: 'identity';
      identity: StoredIdentity;
      state: IdentityState & { ca: NonNullable<IdentityState['ca']> };
      kri: string;
      spiffeId: string;
    }
  | { kind: 'legacy' }
  | { kind: 'none'; reason: string };

/** The KRI of an identity: what its certificates' facts name as their issuer (Kuma's `issuedBackend`). */
export const identityKri = (identity: Pick<StoredIdentity, 'mesh' | 'name' | 'labels'>) =>
  kriOf('mid', identity.mesh, identity.name, identity.labels);

/**
 * Which identity model answers a dataplane: the MeshIdentity that wins it (by its labels) when it is Ready, else the
 * mesh's `Mesh.mtls` backend, else nothing (and why). A Ready winner whose SPIFFE ID cannot be rendered for this
 * dataplane (no `kuma.io/workload`) is refused, not swapped for the legacy CA, as Kuma refuses the connection.
 */
export class IdentityService {
  private readonly cache = new Map<string, { at: number; value: Promise<MeshIdentities> }>();

  constructor(
    private readonly store: Store,
    events: MeshEvents,
    private readonly clock: Clock,
    /** Where `File` data sources may be read (MESHCP_FILE_SOURCE_DIRS). */
    private readonly files: FileSourcePolicy,
  ) {
    events.onAnyChange((mesh) => {
      if (mesh === '*') this.cache.clear();
      else this.cache.delete(mesh);
    });
  }

  /** Every identity of the mesh, evaluated (cached briefly; dropped at any change of the mesh). */
  identities(mesh: string): Promise<MeshIdentities> {
    const now = this.clock.now();
    const cached = this.cache.get(mesh);
    if (cached && now - cached.at < EVALUATION_TTL_MS && now >= cached.at) return cached.value;
    const value = readMeshIdentities(this.store.resources, mesh, now, this.files);
    this.cache.set(mesh, { at: now, value });
    value.catch(() => this.cache.delete(mesh));
    return value;
  }

  async issuerFor(
    state: MeshCaState | undefined,
    mesh: string,
    dataplane: { name: string; labels: Readonly<Record<string, string>> },
  ): Promise<Issuer> {
    const { identities } = await this.identities(mesh);
    const winner = bestMatch(
      identities.map((i) => ({ ...i, name: i.identity.name, spec: i.identity.spec })),
      dataplane.labels,
    );
    const legacy = state !== undefined && hasLegacyCa(state);
    if (winner?.state.ready && winner.state.ca && winner.state.trustDomain) {
      const id = spiffeIdOf(winner.identity, winner.state.trustDomain, dataplane.labels);
      if (!id.ok) return { kind: 'none', reason: id.reason };
      return {
        kind: 'identity',
        identity: winner.identity,
        state: winner.state as Extract<Issuer, { kind: 'identity' }>['state'],
        kri: identityKri(winner.identity),
        spiffeId: id.value,
      };
    }
    if (legacy) return { kind: 'legacy' };
    if (winner) {
      return {
        kind: 'none',
        reason: `MeshIdentity "${winner.identity.name}" selects dataplane "${dataplane.name}" but is not Ready (${winner.state.reason ?? 'see its status'}), and mTLS is disabled in mesh "${mesh}"`,
      };
    }
    if (identities.length > 0) {
      return {
        kind: 'none',
        reason: `mTLS is disabled in mesh "${mesh}" and no MeshIdentity selects dataplane "${dataplane.name}": give it labels an identity selects, or set mtls.enabledBackend`,
      };
    }
    return { kind: 'none', reason: `mTLS is disabled in mesh "${mesh}": set mtls.enabledBackend first` };
  }
}
