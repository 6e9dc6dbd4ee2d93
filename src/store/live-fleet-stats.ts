import type { InsightProxyType } from '../resources/dataplane-profile.js';
import type { SqlExecutor } from './sql.js';

type Stat = { total: number; online: number };

/** What of a fleet changes with time and contact: who is online, and the mTLS counts over active certificates. */
export interface LiveStats {
  online: number;
  gatewaysOnline: Record<Exclude<InsightProxyType, 'standard'>, number>;
  /** Per backend, active dataplanes holding its certificates / trusting it (mesh only; empty for every mesh). */
  issued: Map<string, Stat>;
  trusted: Map<string, Stat>;
}

interface Entry {
  stats: LiveStats;
  computedAt: number;
  /** The first moment the counts may differ without a write: an online dataplane's contact ages out, a certificate expires. */
  validUntil: number;
}

const ALL = '\u0000every mesh';

/**
 * The live stats of each mesh (and of every mesh), kept until a write or a moment that may change them: any facts
 * write of the mesh, a Dataplane write, a contact that starts an online stretch (FactsStore tells), the earliest
 * online contact leaving the window, the earliest active certificate expiring. A poll that only repeats a recent
 * contact changes none of them, so at rest the insights read no facts at all (100,000 dataplanes: one scan per
 * ~window, not one per page view). SQLite only, as FleetSummaryCache: on PostgreSQL other instances write facts this
 * one never hears of.
 */
export class LiveStatsCache {
  private readonly entries = new Map<string, Entry>();
  private readonly generations = new Map<string, number>();

  get(mesh: string | undefined, now: number): LiveStats | undefined {
    const entry = this.entries.get(mesh ?? ALL);
    return entry && now >= entry.computedAt && now < entry.validUntil ? entry.stats : undefined;
  }

  generation(mesh: string | undefined): number {
    return this.generations.get(mesh ?? ALL) ?? 0;
  }

  set(mesh: string | undefined, generation: number, entry: Entry): void {
    if (this.generation(mesh) === generation) this.entries.set(mesh ?? ALL, entry);
  }

  invalidate(mesh: string): void {
    for (const key of [mesh, ALL]) {
      this.entries.delete(key);
      this.generations.set(key, (this.generations.get(key) ?? 0) + 1);
    }
  }
}

const SQL = {
  meshOnline:
    'SELECT COUNT(*) AS n, MIN(last_contact) AS first FROM dataplane_facts WHERE last_contact >= ? AND mesh = ?',
  allOnline: 'SELECT COUNT(*) AS n, MIN(last_contact) AS first FROM dataplane_facts WHERE last_contact >= ?',
  // Gateways are few: counted through their profiles; the rest of the online dataplanes are standard ones.
  meshGatewaysOnline: `SELECT p.proxy_type AS "proxyType", COUNT(*) AS n FROM dataplane_profiles p
    JOIN dataplane_facts f ON f.mesh = p.mesh AND f.name = p.name
    WHERE p.mesh = ? AND p.proxy_type IN ('gatewayBuiltin', 'gatewayDelegated') AND f.last_contact >= ? GROUP BY p.proxy_type`,
  allGatewaysOnline: `SELECT p.proxy_type AS "proxyType", COUNT(*) AS n FROM dataplane_profiles p
    JOIN dataplane_facts f ON f.mesh = p.mesh AND f.name = p.name
    WHERE p.proxy_type IN ('gatewayBuiltin', 'gatewayDelegated') AND f.last_contact >= ? GROUP BY p.proxy_type`,
  issuedStats: `SELECT issued_backend AS backend, COUNT(*) AS total, COUNT(*) FILTER (WHERE last_contact >= @onlineSince) AS online,
      MIN(cert_not_after) AS expires
    FROM dataplane_facts WHERE mesh = @mesh AND cert_not_after > @now GROUP BY issued_backend`,
  trustStats: `SELECT b.backend AS backend, SUM(v.total) AS total, SUM(v.online) AS online
    FROM (SELECT acked_bundle_version AS version, COUNT(*) AS total, COUNT(*) FILTER (WHERE last_contact >= @onlineSince) AS online
          FROM dataplane_facts WHERE mesh = @mesh AND cert_not_after > @now GROUP BY acked_bundle_version) v
    JOIN bundle_version_backends b ON b.mesh = @mesh AND b.version = v.version
    GROUP BY b.backend`,
};

type Row = {
  backend: string | null;
  total: number | string;
  online: number | string | null;
  expires?: number | string;
};
const toMap = (rows: Row[]) =>
  new Map(
    rows
      .filter((r) => r.backend !== null)
      .map((r) => [r.backend!, { total: Number(r.total), online: Number(r.online ?? 0) }]),
  );

/** The live stats of a mesh (`mesh` undefined: of every mesh, without the mTLS part), through the cache when there is one. */
export async function liveStats(
  exec: SqlExecutor,
  cache: LiveStatsCache | undefined,
  mesh: string | undefined,
  now: number,
  windowMs: number,
): Promise<LiveStats> {
  const cached = cache?.get(mesh, now);
  if (cached) return cached;
  const generation = cache?.generation(mesh) ?? 0;
  const onlineSince = now - windowMs;
  const online = (await exec.get<{ n: number | string; first: number | string | null }>(
    mesh === undefined ? SQL.allOnline : SQL.meshOnline,
    mesh === undefined ? [onlineSince] : [onlineSince, mesh],
  ))!;
  const gatewayRows = await exec.all<{ proxyType: string; n: number | string }>(
    mesh === undefined ? SQL.allGatewaysOnline : SQL.meshGatewaysOnline,
    mesh === undefined ? [onlineSince] : [mesh, onlineSince],
  );
  const gatewaysOnline = { gatewayBuiltin: 0, gatewayDelegated: 0 };
  for (const row of gatewayRows)
    if (row.proxyType === 'gatewayBuiltin' || row.proxyType === 'gatewayDelegated')
      gatewaysOnline[row.proxyType] = Number(row.n);
  let validUntil = online.first === null ? Infinity : Number(online.first) + windowMs + 1;
  let issued = new Map<string, Stat>();
  let trusted = new Map<string, Stat>();
  if (mesh !== undefined) {
    const params = { mesh, now, onlineSince };
    const issuedRows = await exec.all<Row>(SQL.issuedStats, params);
    for (const row of issuedRows) validUntil = Math.min(validUntil, Number(row.expires));
    issued = toMap(issuedRows);
    trusted = toMap(await exec.all<Row>(SQL.trustStats, params));
  }
  const stats = { online: Number(online.n), gatewaysOnline, issued, trusted };
  cache?.set(mesh, generation, { stats, computedAt: now, validUntil });
  return stats;
}
