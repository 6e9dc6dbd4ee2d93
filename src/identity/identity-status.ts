import type { FileSourcePolicy } from '../ca/backend.js';
import type { CutOverStatusSchema, IdentityStatusSchema } from '../contract/rotation.js';
import type { z } from 'zod';
import type { Mesh } from '../resources/mesh.js';
import { mtlsOffViolations, winnerOf } from '../rotation/identity-rules.js';
import { activeDataplanes, fleetOf, readerWith, readForGuard, viewsOf, type StoreReads } from './identity-guard.js';

/**
 * The new model's part of a mesh's status page: each identity with the dataplanes it wins, issued and that trust its
 * CA, and where the cut-over from Mesh.mtls stands; the same fleet queries as the guard, so `mtlsRemovable: true`
 * means removing `Mesh.mtls` passes now. Undefined for a mesh without MeshIdentities or MeshTrusts.
 */
export async function identityStatus(
  store: StoreReads,
  mesh: string,
  spec: Mesh,
  now: number,
  /** Where `File` data sources may be read (MESHCP_FILE_SOURCE_DIRS). */
  files: FileSourcePolicy,
): Promise<
  { identities: z.infer<typeof IdentityStatusSchema>[]; cutOver: z.infer<typeof CutOverStatusSchema> } | undefined
> {
  const { identities, trusts } = await readForGuard(store, mesh);
  if (identities.length === 0 && trusts.length === 0) return undefined;
  const dataplanes = await activeDataplanes(store, mesh, now);
  const views = viewsOf(identities, trusts, await readerWith(store, mesh, identities, new Map(), files), now);
  const fleet = fleetOf(store, mesh, now);
  const rows = [];
  for (const view of views) {
    const trusted = view.ca?.trustedAs;
    rows.push({
      name: view.name,
      kri: view.kri,
      ready: view.ready,
      ...(view.reason ? { reason: view.reason } : {}),
      dataplanesSelected: dataplanes.filter((dp) => winnerOf(views, dp.labels)?.name === view.name).length,
      dataplanesIssued: (await fleet.issuedBy(view.kri)).count,
      dataplanesTrusting: trusted
        ? dataplanes.length - (await fleet.notTrusting(trusted.name, trusted.fingerprint)).count
        : null,
    });
  }
  const backends = (spec.mtls?.backends ?? []).map((b) => b.name);
  let legacyCertificates = 0;
  for (const backend of backends) legacyCertificates += (await fleet.issuedBy(backend)).count;
  const withoutReadyIdentity = dataplanes.filter((dp) => !winnerOf(views, dp.labels)?.ready).length;
  const removable = (await mtlsOffViolations(views, dataplanes, backends, fleet)).length === 0;
  return { identities: rows, cutOver: { legacyCertificates, withoutReadyIdentity, mtlsRemovable: removable } };
}
