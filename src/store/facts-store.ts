import type { FleetSummary, FleetSummaryCache } from './fleet-summary-cache.js';
import type { KnownBundles } from './known-bundles.js';
import type { SqlExecutor } from './sql.js';

export interface DataplaneFacts {
  mesh: string;
  name: string;
  issuedBackend: string | null;
  identity: string | null;
  certNotBefore: number | null;
  certNotAfter: number;
  renewAfter: number | null;
  regenerations: number;
  lastIssueTime: number | null;
  ackedBundleVersion: string | null;
  lastContact: number | null;
  /** Serial of the newest issued certificate (upper-case hex, no leading zeros). */
  issuedSerial: string | null;
  /** The serial the dataplane last reported serving, and the backend of that certificate when it was known. */
  servedSerial: string | null;
  servedBackend: string | null;
  /** Backends of the acknowledged bundle, with the root fingerprint each had then. */
  trusted: { backend: string; fingerprint: string }[];
}

export interface BundleBackend {
  name: string;
  fingerprint: string;
}

export interface IssueFacts {
  backend: string;
  identity: string;
  notBefore: number;
  notAfter: number;
  renewAfter: number;
  issuedAt: number;
  /** Serial of the certificate (upper-case hex): lets a later served-serial report name it. */
  serial?: string;
}

/** A count plus the first few names: what a 409 or the rotation status shows the operator. */
export interface DataplaneSample {
  count: number;
  names: string[];
  /**
   * Of `count` (for "holds a certificate from X" only): the dataplanes that were issued a newer certificate by
   * another backend while their proxy still serves X's, i.e. have not reloaded yet; with that other backend.
   */
  notReloaded?: { count: number; dataplanes: { name: string; issuedBackend: string }[] };
}

interface FactsRow {
  mesh: string;
  name: string;
  issued_backend: string | null;
  identity: string | null;
  cert_not_before: number | null;
  cert_not_after: number;
  renew_after: number | null;
  regenerations: number;
  last_issue_time: number | null;
  acked_bundle_version: string | null;
  last_contact: number | null;
  issued_serial: string | null;
  served_serial: string | null;
  served_backend: string | null;
}

export const SAMPLE_NAMES = 10;

/** Serials compare as numbers: upper-case hex without leading zeros, however a client printed them. */
export function normalizeSerial(hex: string): string {
  return hex.toUpperCase().replace(/^0+(?=.)/, '');
}

export type { FleetSummary };

const SQL = {
  get: 'SELECT * FROM dataplane_facts WHERE mesh = ? AND name = ?',
  exists: 'SELECT 1 AS x FROM dataplane_facts WHERE mesh = ? AND name = ?',
  bundleBackends:
    'SELECT backend AS name, fingerprint FROM bundle_version_backends WHERE mesh = ? AND version = ? ORDER BY backend',
  bundleExists: 'SELECT 1 AS x FROM bundle_versions WHERE mesh = ? AND version = ?',
  recordIssue: `INSERT INTO dataplane_facts (mesh, name, issued_backend, identity, cert_not_before, cert_not_after, renew_after,
      regenerations, last_issue_time, last_contact, issued_serial)
    VALUES (@mesh, @name, @backend, @identity, @notBefore, @notAfter, @renewAfter, 1, @issuedAt, @issuedAt, @serial)
    ON CONFLICT (mesh, name) DO UPDATE SET issued_backend = excluded.issued_backend, identity = excluded.identity,
      cert_not_before = excluded.cert_not_before, cert_not_after = excluded.cert_not_after,
      renew_after = excluded.renew_after, regenerations = dataplane_facts.regenerations + 1,
      last_issue_time = excluded.last_issue_time, last_contact = excluded.last_contact,
      issued_serial = excluded.issued_serial`,
  // The served backend changes only when the report names the newest issued certificate: a serial this CP
  // cannot place keeps the backend it served before (the conservative answer for rule 2).
  reportServed: `UPDATE dataplane_facts SET served_serial = @serial,
      served_backend = CASE WHEN issued_serial = @serial THEN issued_backend ELSE served_backend END
    WHERE mesh = @mesh AND name = @name`,
  touch: `INSERT INTO dataplane_facts (mesh, name, last_contact) VALUES (?, ?, ?)
    ON CONFLICT (mesh, name) DO UPDATE SET last_contact = excluded.last_contact`,
  setAcked: `INSERT INTO dataplane_facts (mesh, name, acked_bundle_version, last_contact) VALUES (?, ?, ?, ?)
    ON CONFLICT (mesh, name) DO UPDATE SET acked_bundle_version = excluded.acked_bundle_version,
      last_contact = excluded.last_contact`,
  deleteFacts: 'DELETE FROM dataplane_facts WHERE mesh = ? AND name = ?',
  deleteMeshFacts: 'DELETE FROM dataplane_facts WHERE mesh = ?',
  deleteMeshBundles: 'DELETE FROM bundle_versions WHERE mesh = ?',
  deleteMeshBundleBackends: 'DELETE FROM bundle_version_backends WHERE mesh = ?',
  // Versions whose bundle held this exact root of the backend: few, so NOT IN is a small set.
  namesNotTrusting: `SELECT name FROM dataplane_facts WHERE mesh = @mesh AND cert_not_after > @now
    AND (acked_bundle_version IS NULL OR acked_bundle_version NOT IN (SELECT version FROM bundle_version_backends
      WHERE mesh = @mesh AND backend = @backend AND fingerprint = @fingerprint))
    ORDER BY name LIMIT @limit`,
  // "Holds a certificate from backend X": issued by X, or X's certificate is still what its proxy serves.
  namesIssuedBy: `SELECT name FROM dataplane_facts
    WHERE mesh = @mesh AND (issued_backend = @backend OR served_backend = @backend) AND cert_not_after > @now
    ORDER BY name LIMIT @limit`,
  countNotReloaded: `SELECT COUNT(*) AS n FROM dataplane_facts WHERE mesh = @mesh AND served_backend = @backend
    AND issued_backend IS DISTINCT FROM @backend AND cert_not_after > @now`,
  namesNotReloaded: `SELECT name, issued_backend AS "issuedBackend" FROM dataplane_facts WHERE mesh = @mesh
    AND served_backend = @backend AND issued_backend IS DISTINCT FROM @backend AND cert_not_after > @now ORDER BY name LIMIT @limit`,
  countActive: 'SELECT COUNT(*) AS n FROM dataplane_facts WHERE mesh = ? AND cert_not_after > ?',
  issuedStats: `SELECT issued_backend AS backend, COUNT(*) AS total, COUNT(*) FILTER (WHERE last_contact >= @onlineSince) AS online
    FROM dataplane_facts WHERE mesh = @mesh AND cert_not_after > @now GROUP BY issued_backend`,
  trustStats: `SELECT b.backend AS backend, SUM(v.total) AS total, SUM(v.online) AS online
    FROM (SELECT acked_bundle_version AS version, COUNT(*) AS total, COUNT(*) FILTER (WHERE last_contact >= @onlineSince) AS online
          FROM dataplane_facts WHERE mesh = @mesh AND cert_not_after > @now GROUP BY acked_bundle_version) v
    JOIN bundle_version_backends b ON b.mesh = @mesh AND b.version = v.version
    GROUP BY b.backend`,
  onlineCount: 'SELECT COUNT(*) AS n FROM dataplane_facts WHERE mesh = ? AND last_contact >= ?',
  everEnabled: 'SELECT 1 AS x FROM bundle_versions WHERE mesh = ? AND enabled_backend = ? LIMIT 1',
  fleetGroups: `SELECT acked_bundle_version AS version, issued_backend AS issued, served_backend AS served, COUNT(*) AS n,
      MIN(cert_not_after) AS expires
    FROM dataplane_facts WHERE mesh = ? AND cert_not_after > ? GROUP BY acked_bundle_version, issued_backend, served_backend`,
  meshBundleBackends: 'SELECT version, backend, fingerprint FROM bundle_version_backends WHERE mesh = ?',
  insertBundle: `INSERT INTO bundle_versions (mesh, version, enabled_backend, created_at) VALUES (?, ?, ?, ?)
    ON CONFLICT DO NOTHING`,
  insertBundleBackend: `INSERT INTO bundle_version_backends (mesh, version, backend, fingerprint) VALUES (?, ?, ?, ?)
    ON CONFLICT DO NOTHING`,
  // Contacts that fell out of the online window between two sweeps (fleet watch).
  firstByName: `SELECT name, issued_backend AS "issuedBackend", acked_bundle_version AS "ackedBundleVersion",
      cert_not_after AS "certNotAfter", last_contact AS "lastContact"
    FROM dataplane_facts WHERE mesh = ? ORDER BY name LIMIT ?`,
  contactsBetween:
    'SELECT mesh, name FROM dataplane_facts WHERE last_contact >= ? AND last_contact < ? ORDER BY mesh, name',
};

/**
 * Per-dataplane certificate and trust facts, kept in indexed tables so the rotation rules and the status page are
 * a few index range scans, whatever the fleet size.
 */
export class FactsStore {
  /** In a transaction, once it wrote facts: its reads see uncommitted rows, which the cache must never hold. */
  private wrote = false;
  /** In a transaction: the last summary it read, until it writes. */
  private memo?: { mesh: string; now: number; summary: FleetSummary };

  /**
   * `summaries`: the store's cache of committed fleet summaries (SQLite only). `bundles`: bundle versions seen
   * committed. `inTransaction`: this store's reads may use the caches until it writes, and keep what they compute
   * only while they read committed state (a transaction also sees its own uncommitted rows, so it fills no cache).
   */
  constructor(
    private readonly exec: SqlExecutor,
    private readonly summaries?: FleetSummaryCache,
    private readonly inTransaction = false,
    private readonly bundles?: KnownBundles,
  ) {}

  /** Every write of fleet facts goes through here first. */
  private changing(mesh: string): void {
    this.summaries?.invalidate(mesh);
    this.memo = undefined;
    if (this.inTransaction) this.wrote = true;
  }

  /** `withTrusted: false` skips the backends of the acknowledged bundle (`trusted` is then empty): the poll path. */
  async get(mesh: string, name: string, options: { withTrusted?: boolean } = {}): Promise<DataplaneFacts | undefined> {
    const row = await this.exec.get<FactsRow>(SQL.get, [mesh, name]);
    if (!row) return undefined;
    const trusted =
      row.acked_bundle_version && options.withTrusted !== false
        ? (await this.exec.all<BundleBackend>(SQL.bundleBackends, [mesh, row.acked_bundle_version])).map((b) => ({
            backend: b.name,
            fingerprint: b.fingerprint,
          }))
        : [];
    return {
      mesh: row.mesh,
      name: row.name,
      issuedBackend: row.issued_backend,
      identity: row.identity,
      certNotBefore: row.cert_not_before,
      certNotAfter: row.cert_not_after,
      renewAfter: row.renew_after,
      regenerations: row.regenerations,
      lastIssueTime: row.last_issue_time,
      ackedBundleVersion: row.acked_bundle_version,
      lastContact: row.last_contact,
      issuedSerial: row.issued_serial,
      servedSerial: row.served_serial,
      servedBackend: row.served_backend,
      trusted,
    };
  }

  /** Whether the CP has heard of this dataplane (a primary-key probe: on the hot path of every poll). */
  async exists(mesh: string, name: string): Promise<boolean> {
    return (await this.exec.get(SQL.exists, [mesh, name])) !== undefined;
  }

  async recordIssue(mesh: string, name: string, issue: IssueFacts): Promise<void> {
    this.changing(mesh);
    const { backend, identity, notBefore, notAfter, renewAfter, issuedAt } = issue;
    const serial = issue.serial === undefined ? null : normalizeSerial(issue.serial);
    await this.exec.run(SQL.recordIssue, {
      mesh,
      name,
      backend,
      identity,
      notBefore,
      notAfter,
      renewAfter,
      issuedAt,
      serial,
    });
  }

  /** Records the serial a dataplane reports its proxy serves (after a successful reload). */
  async reportServed(mesh: string, name: string, serial: string): Promise<void> {
    this.changing(mesh);
    await this.exec.run(SQL.reportServed, { mesh, name, serial: normalizeSerial(serial) });
  }

  async touch(mesh: string, name: string, now: number): Promise<void> {
    await this.exec.run(SQL.touch, [mesh, name, now]);
  }

  /**
   * Records that a dataplane holds bundle `version`. Returns false (and records nothing but the contact) when the
   * version is unknown: only a bundle this CP really served can prove trust.
   */
  async acknowledge(mesh: string, name: string, version: string, now: number): Promise<boolean> {
    if (!(await this.bundleRecorded(mesh, version))) {
      await this.touch(mesh, name, now);
      return false;
    }
    this.changing(mesh);
    await this.exec.run(SQL.setAcked, [mesh, name, version, now]);
    return true;
  }

  private async bundleRecorded(mesh: string, version: string): Promise<boolean> {
    if (this.bundles?.has(mesh, version)) return true;
    if (!(await this.exec.get(SQL.bundleExists, [mesh, version]))) return false;
    if (!this.inTransaction) this.bundles?.add(mesh, version);
    return true;
  }

  async deleteDataplane(mesh: string, name: string): Promise<void> {
    this.changing(mesh);
    await this.exec.run(SQL.deleteFacts, [mesh, name]);
  }

  async deleteMesh(mesh: string): Promise<void> {
    this.changing(mesh);
    this.bundles?.forgetMesh(mesh);
    await this.exec.run(SQL.deleteMeshFacts, [mesh]);
    await this.exec.run(SQL.deleteMeshBundles, [mesh]);
    await this.exec.run(SQL.deleteMeshBundleBackends, [mesh]);
  }

  /** Active dataplanes that have not acknowledged a bundle holding this exact root of `backend`. */
  async activeNotTrusting(
    mesh: string,
    backend: string,
    fingerprint: string,
    now: number,
    known?: FleetSummary,
  ): Promise<DataplaneSample> {
    const params = { mesh, backend, fingerprint, now, limit: SAMPLE_NAMES };
    const fleet = known ?? (await this.fleetSummary(mesh, now));
    const count = fleet.active - fleet.trusting(backend, fingerprint);
    const names =
      count === 0 ? [] : (await this.exec.all<{ name: string }>(SQL.namesNotTrusting, params)).map((r) => r.name);
    return { count, names };
  }

  /** Active dataplanes holding a certificate from `backend`: the newest one it issued, or the one their proxy serves. */
  async activeIssuedBy(mesh: string, backend: string, now: number, known?: FleetSummary): Promise<DataplaneSample> {
    const params = { mesh, backend, now, limit: SAMPLE_NAMES };
    const count = (known ?? (await this.fleetSummary(mesh, now))).issuedBy(backend);
    if (count === 0) return { count, names: [] };
    const names = (await this.exec.all<{ name: string }>(SQL.namesIssuedBy, params)).map((r) => r.name);
    const stale = (await this.exec.get<{ n: number }>(SQL.countNotReloaded, params))!.n;
    if (stale === 0) return { count, names };
    const dataplanes = await this.exec.all<{ name: string; issuedBackend: string }>(SQL.namesNotReloaded, params);
    return { count, names, notReloaded: { count: stale, dataplanes } };
  }

  /**
   * Every count of the rotation status from one covering-index scan: active dataplanes grouped by the bundle they
   * acknowledged and the backend that issued their certificate.
   */
  async fleetSummary(mesh: string, now: number): Promise<FleetSummary> {
    // In a transaction the rules may ask several times (step 3: holders of the old backend, then trust): one scan.
    if (this.inTransaction && this.memo?.mesh === mesh && this.memo.now === now) return this.memo.summary;
    const summary = await this.sharedFleetSummary(mesh, now);
    if (this.inTransaction) this.memo = { mesh, now, summary };
    return summary;
  }

  private async sharedFleetSummary(mesh: string, now: number): Promise<FleetSummary> {
    const cache = this.wrote ? undefined : this.summaries;
    const cached = cache?.get(mesh, now);
    if (cached) return cached;
    const generation = cache?.generation(mesh) ?? 0;
    const summary = await this.readFleetSummary(mesh, now);
    if (cache && !this.wrote) cache.set(mesh, generation, { summary, computedAt: now, validUntil: summary.nextExpiry });
    return summary;
  }

  private async readFleetSummary(mesh: string, now: number): Promise<FleetSummary & { nextExpiry: number }> {
    type Group = { version: string | null; issued: string | null; served: string | null; n: number; expires: number };
    const groups = await this.exec.all<Group>(SQL.fleetGroups, [mesh, now]);
    const versionsWith = new Map<string, Set<string>>();
    for (const row of await this.exec.all<{ version: string; backend: string; fingerprint: string }>(
      SQL.meshBundleBackends,
      [mesh],
    )) {
      const key = `${row.backend}\n${row.fingerprint}`;
      if (!versionsWith.has(key)) versionsWith.set(key, new Set());
      versionsWith.get(key)!.add(row.version);
    }
    const sum = (keep: (g: (typeof groups)[number]) => boolean) => groups.filter(keep).reduce((n, g) => n + g.n, 0);
    return {
      nextExpiry: groups.reduce((min, g) => Math.min(min, Number(g.expires)), Infinity),
      active: sum(() => true),
      issuedBy: (backend) => sum((g) => g.issued === backend || g.served === backend),
      trusting: (backend, fingerprint) => {
        const versions = versionsWith.get(`${backend}\n${fingerprint}`);
        return versions ? sum((g) => g.version !== null && versions.has(g.version)) : 0;
      },
    };
  }

  async countActive(mesh: string, now: number): Promise<number> {
    return (await this.exec.get<{ n: number }>(SQL.countActive, [mesh, now]))!.n;
  }

  /** Per backend: active dataplanes holding its certificates (`issued`) or trusting it (`trusted`), and how many are online. */
  async backendStats(mesh: string, now: number, onlineSince: number) {
    const params = { mesh, now, onlineSince };
    type Stat = { backend: string; total: number; online: number | null };
    const toMap = (rows: Stat[]) => new Map(rows.map((r) => [r.backend, { total: r.total, online: r.online ?? 0 }]));
    return {
      issued: toMap(await this.exec.all<Stat>(SQL.issuedStats, params)),
      trusted: toMap(await this.exec.all<Stat>(SQL.trustStats, params)),
    };
  }

  async countOnline(mesh: string, onlineSince: number): Promise<number> {
    return (await this.exec.get<{ n: number }>(SQL.onlineCount, [mesh, onlineSince]))!.n;
  }

  /** Whether `backend` was ever the enabled backend of the mesh (so it is an old backend, not a new one). */
  async wasEverEnabled(mesh: string, backend: string): Promise<boolean> {
    return (await this.exec.get(SQL.everEnabled, [mesh, backend])) !== undefined;
  }

  /**
   * Records a bundle the mesh serves. Its backends go first and every insert is idempotent, so the version row (the
   * one `acknowledge` checks) never exists without its backends, even outside a transaction or from two instances.
   */
  async recordBundleVersion(
    mesh: string,
    version: string,
    enabledBackend: string,
    backends: BundleBackend[],
    now: number,
  ): Promise<void> {
    if (await this.bundleRecorded(mesh, version)) return;
    this.changing(mesh);
    for (const b of backends) await this.exec.run(SQL.insertBundleBackend, [mesh, version, b.name, b.fingerprint]);
    await this.exec.run(SQL.insertBundle, [mesh, version, enabledBackend, now]);
  }

  async bundleBackends(mesh: string, version: string): Promise<BundleBackend[] | undefined> {
    if (!(await this.bundleRecorded(mesh, version))) return undefined;
    return this.exec.all<BundleBackend>(SQL.bundleBackends, [mesh, version]);
  }

  /** The first `limit` dataplanes of a mesh by name, with what the operator's view shows of them. */
  firstByName(mesh: string, limit: number) {
    return this.exec.all<{
      name: string;
      issuedBackend: string | null;
      ackedBundleVersion: string | null;
      certNotAfter: number | null;
      lastContact: number | null;
    }>(SQL.firstByName, [mesh, limit]);
  }

  /** Dataplanes whose last contact lies in [from, to), by mesh then name. */
  contactsBetween(from: number, to: number): Promise<{ mesh: string; name: string }[]> {
    return this.exec.all(SQL.contactsBetween, [from, to]);
  }
}
