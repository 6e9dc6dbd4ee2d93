import { INSIGHT_PROXY_TYPES, profileCountChanges, type DataplaneProfile, type InsightProxyType } from '../resources/dataplane-profile.js';
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
  meshCounts: 'SELECT kind, key, n FROM fleet_counts WHERE mesh = ? AND (kind = \'type\' OR n > 0)',
  // Every mesh: the kinds summed; services counted per (mesh, service), as Kuma's service insights are per mesh.
  allCounts: `SELECT kind, CASE WHEN kind = 'type' THEN key ELSE '' END AS key,
      CASE WHEN kind = 'type' THEN SUM(n) ELSE COUNT(*) END AS n
    FROM fleet_counts WHERE n > 0 GROUP BY kind, CASE WHEN kind = 'type' THEN key ELSE '' END`,
  meshOnline: 'SELECT COUNT(*) AS n FROM dataplane_facts WHERE last_contact >= ? AND mesh = ?',
  allOnline: 'SELECT COUNT(*) AS n FROM dataplane_facts WHERE last_contact >= ?',
  // Gateways are few: counted through their profiles, the rest of the online dataplanes are standard ones.
  meshGatewaysOnline: `SELECT p.proxy_type AS "proxyType", COUNT(*) AS n FROM dataplane_profiles p
    JOIN dataplane_facts f ON f.mesh = p.mesh AND f.name = p.name
    WHERE p.mesh = ? AND p.proxy_type IN ('gatewayBuiltin', 'gatewayDelegated') AND f.last_contact >= ? GROUP BY p.proxy_type`,
  allGatewaysOnline: `SELECT p.proxy_type AS "proxyType", COUNT(*) AS n FROM dataplane_profiles p
    JOIN dataplane_facts f ON f.mesh = p.mesh AND f.name = p.name
    WHERE p.proxy_type IN ('gatewayBuiltin', 'gatewayDelegated') AND f.last_contact >= ? GROUP BY p.proxy_type`,
};

const zeroByType = (): Record<InsightProxyType, number> => ({ standard: 0, gatewayBuiltin: 0, gatewayDelegated: 0 });

/**
 * The fleet's indexed facts for the insights: each Dataplane's profile (kind, services), written in the transaction
 * that writes the Dataplane, and the counts kept from them. The insights read counts, never the dataplanes.
 */
export class FleetIndexStore {
  constructor(private readonly exec: SqlExecutor) {}

  /** Records the profile of a written Dataplane and moves the counts from its previous profile. */
  async dataplaneWritten(mesh: string, name: string, profile: DataplaneProfile): Promise<void> {
    const before = await this.profileOf(mesh, name);
    await this.exec.run(SQL.putProfile, [mesh, name, profile.proxyType, JSON.stringify(profile.services)]);
    await this.applyChanges(mesh, before, profile);
  }

  async dataplaneDeleted(mesh: string, name: string): Promise<void> {
    const before = await this.profileOf(mesh, name);
    if (!before) return;
    await this.exec.run(SQL.deleteProfile, [mesh, name]);
    await this.applyChanges(mesh, before, undefined);
  }

  async deleteMesh(mesh: string): Promise<void> {
    await this.exec.run(SQL.deleteMeshProfiles, [mesh]);
    await this.exec.run(SQL.deleteMeshCounts, [mesh]);
  }

  /** `mesh` undefined: every mesh. `onlineSince`: contacts at or after it count as online. */
  async counts(mesh: string | undefined, onlineSince: number): Promise<FleetCounts> {
    const rows = await this.exec.all<{ kind: string; key: string; n: number | string }>(mesh === undefined ? SQL.allCounts : SQL.meshCounts, mesh === undefined ? [] : [mesh]);
    const totals = zeroByType();
    const services = zeroByType();
    for (const row of rows) {
      if (row.kind === 'type' && isProxyType(row.key)) totals[row.key] += Number(row.n);
      const type = row.kind.startsWith('service:') ? row.kind.slice('service:'.length) : undefined;
      if (type !== undefined && isProxyType(type)) services[type] += mesh === undefined ? Number(row.n) : 1;
    }
    const online = Number((await this.exec.get<{ n: number | string }>(mesh === undefined ? SQL.allOnline : SQL.meshOnline, mesh === undefined ? [onlineSince] : [onlineSince, mesh]))!.n);
    const gatewayRows = await this.exec.all<{ proxyType: string; n: number | string }>(
      mesh === undefined ? SQL.allGatewaysOnline : SQL.meshGatewaysOnline,
      mesh === undefined ? [onlineSince] : [mesh, onlineSince],
    );
    const onlineByType = zeroByType();
    for (const row of gatewayRows) if (isProxyType(row.proxyType)) onlineByType[row.proxyType] = Number(row.n);
    onlineByType.standard = Math.max(0, online - onlineByType.gatewayBuiltin - onlineByType.gatewayDelegated);
    const byType = Object.fromEntries(
      INSIGHT_PROXY_TYPES.map((t) => [t, { total: totals[t], online: Math.min(onlineByType[t], totals[t]) }]),
    ) as Record<InsightProxyType, TypeCount>;
    return { byType, services };
  }

  private async profileOf(mesh: string, name: string): Promise<DataplaneProfile | undefined> {
    const row = await this.exec.get<{ proxyType: string; services: string }>(SQL.profile, [mesh, name]);
    if (!row || !isProxyType(row.proxyType)) return undefined;
    return { proxyType: row.proxyType, services: JSON.parse(row.services) as string[] };
  }

  private async applyChanges(mesh: string, before: DataplaneProfile | undefined, after: DataplaneProfile | undefined): Promise<void> {
    for (const change of profileCountChanges(before, after)) {
      await this.exec.run(SQL.addCount, [mesh, change.kind, change.key, change.delta]);
      if (change.delta < 0) await this.exec.run(SQL.dropZeroCount, [mesh, change.kind, change.key]);
    }
  }
}

function isProxyType(value: string): value is InsightProxyType {
  return (INSIGHT_PROXY_TYPES as readonly string[]).includes(value);
}
