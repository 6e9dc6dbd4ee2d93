import {
  INSIGHT_PROXY_TYPES,
  profileCountChanges,
  type DataplaneProfile,
  type InsightProxyType,
} from '../resources/dataplane-profile.js';
import { liveStats, type LiveStats, type LiveStatsCache } from './live-fleet-stats.js';
import type { SqlExecutor } from './sql.js';

/** Dataplanes of one kind: how many, and how many are online (contact within the online window). */
export interface TypeCount {
  total: number;
  online: number;
}

/** What the insights read of a mesh's fleet (or of every mesh's): a few rows, whatever the fleet size. */
export interface FleetCounts {
  byType: Record<InsightProxyType, TypeCount>;
  /** Distinct services per kind of dataplane that names them. */
  services: Record<InsightProxyType, number>;
  /** Online counts and the mTLS counts (see live-fleet-stats.ts). */
  live: LiveStats;
}

const SQL = {
  profile: 'SELECT proxy_type AS "proxyType", services FROM dataplane_profiles WHERE mesh = ? AND name = ?',
  putProfile: `INSERT INTO dataplane_profiles (mesh, name, proxy_type, services) VALUES (?, ?, ?, ?)
    ON CONFLICT (mesh, name) DO UPDATE SET proxy_type = excluded.proxy_type, services = excluded.services`,
  deleteProfile: 'DELETE FROM dataplane_profiles WHERE mesh = ? AND name = ?',
  addCount: `INSERT INTO fleet_counts (mesh, kind, key, n) VALUES (?, ?, ?, ?)
    ON CONFLICT (mesh, kind, key) DO UPDATE SET n = fleet_counts.n + excluded.n`,
  dropZeroCount: 'DELETE FROM fleet_counts WHERE mesh = ? AND kind = ? AND key = ? AND n <= 0',
  deleteMeshProfiles: 'DELETE FROM dataplane_profiles WHERE mesh = ?',
  deleteMeshCounts: 'DELETE FROM fleet_counts WHERE mesh = ?',
  meshCounts: "SELECT kind, key, n FROM fleet_counts WHERE mesh = ? AND (kind = 'type' OR n > 0)",
  // Every mesh: the kinds summed; services counted per (mesh, service), as Kuma's service insights are per mesh.
  allCounts: `SELECT kind, CASE WHEN kind = 'type' THEN key ELSE '' END AS key,
      CASE WHEN kind = 'type' THEN SUM(n) ELSE COUNT(*) END AS n
    FROM fleet_counts WHERE n > 0 GROUP BY kind, CASE WHEN kind = 'type' THEN key ELSE '' END`,
};

const zeroByType = (): Record<InsightProxyType, number> => ({ standard: 0, gatewayBuiltin: 0, gatewayDelegated: 0 });

/**
 * The fleet's indexed facts for the insights: each Dataplane's profile (kind, services), written in the transaction
 * that writes the Dataplane, and the counts kept from them. The insights read counts, never the dataplanes.
 */
export class FleetIndexStore {
  constructor(
    private readonly exec: SqlExecutor,
    /** SQLite: the live stats kept between the moments they may change (every write here drops the mesh's). */
    private readonly live?: LiveStatsCache,
  ) {}

  /** Records the profile of a written Dataplane and moves the counts from its previous profile. */
  async dataplaneWritten(mesh: string, name: string, profile: DataplaneProfile): Promise<void> {
    const before = await this.profileOf(mesh, name);
    // Of the live stats only the online gateways depend on a profile (a new dataplane has no facts yet).
    if (before && before.proxyType !== profile.proxyType) this.live?.invalidate(mesh);
    await this.exec.run(SQL.putProfile, [mesh, name, profile.proxyType, JSON.stringify(profile.services)]);
    await this.applyChanges(mesh, before, profile);
  }

  async dataplaneDeleted(mesh: string, name: string): Promise<void> {
    const before = await this.profileOf(mesh, name);
    if (!before) return;
    this.live?.invalidate(mesh);
    await this.exec.run(SQL.deleteProfile, [mesh, name]);
    await this.applyChanges(mesh, before, undefined);
  }

  async deleteMesh(mesh: string): Promise<void> {
    this.live?.invalidate(mesh);
    await this.exec.run(SQL.deleteMeshProfiles, [mesh]);
    await this.exec.run(SQL.deleteMeshCounts, [mesh]);
  }

  /** `mesh` undefined: every mesh. Online: a contact within `windowMs` before `now`. */
  async counts(mesh: string | undefined, now: number, windowMs: number): Promise<FleetCounts> {
    const rows = await this.exec.all<{ kind: string; key: string; n: number | string }>(
      mesh === undefined ? SQL.allCounts : SQL.meshCounts,
      mesh === undefined ? [] : [mesh],
    );
    const totals = zeroByType();
    const services = zeroByType();
    for (const row of rows) {
      if (row.kind === 'type' && isProxyType(row.key)) totals[row.key] += Number(row.n);
      const type = row.kind.startsWith('service:') ? row.kind.slice('service:'.length) : undefined;
      if (type !== undefined && isProxyType(type)) services[type] += mesh === undefined ? Number(row.n) : 1;
    }
    const live = await liveStats(this.exec, this.live, mesh, now, windowMs);
    const onlineByType = { standard: 0, ...live.gatewaysOnline };
    onlineByType.standard = Math.max(
      0,
      live.online - live.gatewaysOnline.gatewayBuiltin - live.gatewaysOnline.gatewayDelegated,
    );
    const byType = Object.fromEntries(
      INSIGHT_PROXY_TYPES.map((t) => [t, { total: totals[t], online: Math.min(onlineByType[t], totals[t]) }]),
    ) as Record<InsightProxyType, TypeCount>;
    return { byType, services, live };
  }

  private async profileOf(mesh: string, name: string): Promise<DataplaneProfile | undefined> {
    const row = await this.exec.get<{ proxyType: string; services: string }>(SQL.profile, [mesh, name]);
    if (!row || !isProxyType(row.proxyType)) return undefined;
    return { proxyType: row.proxyType, services: JSON.parse(row.services) as string[] };
  }

  private async applyChanges(
    mesh: string,
    before: DataplaneProfile | undefined,
    after: DataplaneProfile | undefined,
  ): Promise<void> {
    for (const change of profileCountChanges(before, after)) {
      await this.exec.run(SQL.addCount, [mesh, change.kind, change.key, change.delta]);
      if (change.delta < 0) await this.exec.run(SQL.dropZeroCount, [mesh, change.kind, change.key]);
    }
  }
}

function isProxyType(value: string): value is InsightProxyType {
  return (INSIGHT_PROXY_TYPES as readonly string[]).includes(value);
}
