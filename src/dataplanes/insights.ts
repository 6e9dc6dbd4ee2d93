import type { StoredResource } from '../store/resource-store.js';
import type { FactsStore } from '../store/facts-store.js';
import type { MeshInsight } from '../contract/insights.js';
import type { Dataplane } from '../resources/dataplane.js';
import { renderResource } from '../store/render.js';

type Stat = { total: number; online: number };

function statOf(s: Stat) {
  const offline = s.total - s.online;
  return { total: s.total, ...(s.online ? { online: s.online } : {}), ...(offline ? { offline } : {}) };
}

/** Kuma's DataplaneOverview: the dataplane plus what the CP knows about its certificate and trust. */
export async function dataplaneOverview(dp: StoredResource<Dataplane>, facts: FactsStore) {
  const { type: _type, ...rest } = renderResource(dp);
  const known = await facts.get(dp.mesh, dp.name);
  const overview: Record<string, unknown> = {
    type: 'DataplaneOverview',
    mesh: dp.mesh,
    name: dp.name,
    creationTime: dp.creationTime,
    modificationTime: dp.modificationTime,
    ...(Object.keys(dp.labels).length > 0 ? { labels: dp.labels } : {}),
    dataplane: Object.fromEntries(
      Object.entries(rest).filter(([k]) => !['mesh', 'name', 'creationTime', 'modificationTime', 'labels'].includes(k)),
    ),
  };
  if (known?.issuedBackend) {
    overview.dataplaneInsight = {
      mTLS: {
        certificateExpirationTime: new Date(known.certNotAfter).toISOString(),
        lastCertificateRegeneration: new Date(known.lastIssueTime ?? known.certNotAfter).toISOString(),
        certificateRegenerations: known.regenerations,
        issuedBackend: known.issuedBackend,
        supportedBackends: known.trusted.map((t) => t.backend),
      },
    };
  }
  return overview;
}

/** Kuma's MeshInsight, counted from the facts tables (active dataplanes for the mTLS part). */
export async function meshInsight(
  mesh: StoredResource,
  dataplaneCount: number,
  facts: FactsStore,
  now: number,
  onlineWindowMs: number,
): Promise<MeshInsight> {
  const onlineSince = now - onlineWindowMs;
  const online = await facts.countOnline(mesh.name, onlineSince);
  const { issued, trusted } = await facts.backendStats(mesh.name, now, onlineSince);
  return {
    type: 'MeshInsight',
    name: mesh.name,
    creationTime: mesh.creationTime,
    modificationTime: mesh.modificationTime,
    dataplanes: { total: dataplaneCount, online, offline: dataplaneCount - online },
    mTLS: {
      issuedBackends: Object.fromEntries([...issued].map(([b, s]) => [b, statOf(s)])),
      supportedBackends: Object.fromEntries([...trusted].map(([b, s]) => [b, statOf(s)])),
    },
  };
}
