import type { StoredResource } from '../store/resource-store.js';
import type { DataplaneFacts, FactsStore } from '../store/facts-store.js';
import type { FleetCounts, TypeCount } from '../store/fleet-index-store.js';
import type { DiscoverySubscription, GlobalInsight, MeshInsight } from '../contract/insights.js';
import type { Dataplane } from '../resources/dataplane.js';
import { renderResource } from '../store/render.js';

type Stat = { total: number; online: number };

function statOf(s: Stat) {
  const offline = s.total - s.online;
  return { total: s.total, ...(s.online ? { online: s.online } : {}), ...(offline ? { offline } : {}) };
}

/** Kuma's full DataplaneStat: every member, offline = not online (meshcp knows no partially degraded proxy). */
function fullStat(s: TypeCount) {
  return { total: s.total, online: s.online, offline: s.total - s.online, partiallyDegraded: 0 };
}

/** What an overview reads besides the dataplane: the time, the online window and who answers. */
interface OnlineView {
  now: number;
  onlineWindowMs: number;
  instanceId: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The dataplane's subscription as Kuma's GUI reads it: the online stretch meshcp measured (first contact after a
 * silence longer than the online window, last contact). While in contact it has no `disconnectTime`; once silent
 * longer than the window it ended at the moment meshcp counts it offline (last contact + window).
 */
function subscriptionOf(
  known: Pick<DataplaneFacts, 'lastContact' | 'onlineSince'> | undefined,
  view: OnlineView,
): DiscoverySubscription | undefined {
  if (known?.lastContact == null) return undefined;
  const connect = known.onlineSince ?? known.lastContact;
  const online = known.lastContact >= view.now - view.onlineWindowMs;
  return {
    id: `${view.instanceId}-${connect}`,
    controlPlaneInstanceId: view.instanceId,
    connectTime: iso(connect),
    ...(online ? {} : { disconnectTime: iso(known.lastContact + view.onlineWindowMs) }),
    status: {
      lastUpdateTime: iso(known.lastContact),
      total: { responsesSent: 0, responsesAcknowledged: 0, responsesRejected: 0 },
    },
  };
}

/** Kuma's DataplaneOverview: the dataplane plus what the CP knows about its contact, certificate and trust. */
export async function dataplaneOverview(dp: StoredResource<Dataplane>, facts: FactsStore, view: OnlineView) {
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
  const subscription = subscriptionOf(known, view);
  const insight: Record<string, unknown> = {};
  if (subscription) insight.subscriptions = [subscription];
  if (known?.issuedBackend) {
    insight.mTLS = {
      certificateExpirationTime: iso(known.certNotAfter),
      lastCertificateRegeneration: iso(known.lastIssueTime ?? known.certNotAfter),
      certificateRegenerations: known.regenerations,
      issuedBackend: known.issuedBackend,
      supportedBackends: known.trusted.map((t) => t.backend),
    };
  }
  if (Object.keys(insight).length > 0) overview.dataplaneInsight = insight;
  return overview;
}

function sumStats(...stats: TypeCount[]): TypeCount {
  return stats.reduce((a, b) => ({ total: a.total + b.total, online: a.online + b.online }), { total: 0, online: 0 });
}

/** Kuma's MeshInsight from the indexed fleet facts (counts kept with every Dataplane write; active ones for mTLS). */
export function meshInsight(mesh: StoredResource, fleet: FleetCounts, resources: Record<string, number>): MeshInsight {
  const { issued, trusted } = fleet.live;
  const { standard, gatewayBuiltin, gatewayDelegated } = fleet.byType;
  const all = sumStats(standard, gatewayBuiltin, gatewayDelegated);
  const gatewayServices = fleet.services.gatewayBuiltin + fleet.services.gatewayDelegated;
  return {
    type: 'MeshInsight',
    name: mesh.name,
    creationTime: mesh.creationTime,
    modificationTime: mesh.modificationTime,
    dataplanes: { total: all.total, online: all.online, offline: all.total - all.online },
    dataplanesByType: {
      standard: fullStat(standard),
      gateway: fullStat(sumStats(gatewayBuiltin, gatewayDelegated)),
      gatewayBuiltin: fullStat(gatewayBuiltin),
      gatewayDelegated: fullStat(gatewayDelegated),
    },
    services: { total: fleet.services.standard + gatewayServices, internal: fleet.services.standard, external: 0 },
    policies: {},
    resources: Object.fromEntries(Object.entries(resources).map(([type, total]) => [type, { total }])),
    dpVersions: { kumaDp: {}, envoy: {} },
    mTLS: {
      issuedBackends: Object.fromEntries([...issued].map(([b, s]) => [b, statOf(s)])),
      supportedBackends: Object.fromEntries([...trusted].map(([b, s]) => [b, statOf(s)])),
    },
  };
}

/**
 * Kuma's GlobalInsight for one control plane without zones. Services carry their count only: meshcp keeps no
 * per-service health, so their online/offline members are 0 (Kuma's own are refreshed in the background too).
 */
export function globalInsight(
  fleet: FleetCounts,
  meshes: number,
  resources: Record<string, number>,
  now: number,
): GlobalInsight {
  const servicesOnly = (total: number) => ({ total, online: 0, offline: 0, partiallyDegraded: 0 });
  const { standard, gatewayBuiltin, gatewayDelegated } = fleet.services;
  return {
    createdAt: iso(now),
    services: {
      total: standard + gatewayBuiltin + gatewayDelegated,
      internal: servicesOnly(standard),
      external: { total: 0 },
      gatewayBuiltin: servicesOnly(gatewayBuiltin),
      gatewayDelegated: servicesOnly(gatewayDelegated),
    },
    zones: {
      controlPlanes: { online: 1, total: 1 },
      zoneEgresses: { online: 0, total: 0 },
      zoneIngresses: { online: 0, total: 0 },
    },
    dataplanes: {
      standard: fullStat(fleet.byType.standard),
      gatewayBuiltin: fullStat(fleet.byType.gatewayBuiltin),
      gatewayDelegated: fullStat(fleet.byType.gatewayDelegated),
    },
    policies: { total: 0 },
    meshes: { total: meshes },
    resources: Object.fromEntries(Object.entries(resources).map(([type, total]) => [type, { total }])),
  };
}
