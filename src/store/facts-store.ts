import type { Db } from './database.js';

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

export interface FleetSummary {
  active: number;
  issuedBy(backend: string): number;
  trusting(backend: string, fingerprint: string): number;
}

/**
 * Per-dataplane certificate and trust facts, kept in indexed tables so the rotation rules and the status page are
 * a few index range scans, whatever the fleet size.
 */
export class FactsStore {
  private readonly stmts;

  constructor(readonly db: Db) {
    this.stmts = {
      get: db.prepare('SELECT * FROM dataplane_facts WHERE mesh = ? AND name = ?'),
      bundleBackends: db.prepare('SELECT backend AS name, fingerprint FROM bundle_version_backends WHERE mesh = ? AND version = ? ORDER BY backend'),
      bundleExists: db.prepare('SELECT 1 AS x FROM bundle_versions WHERE mesh = ? AND version = ?'),
      recordIssue: db.prepare(`INSERT INTO dataplane_facts (mesh, name, issued_backend, identity, cert_not_before, cert_not_after, renew_after,
          regenerations, last_issue_time, last_contact, issued_serial)
        VALUES (@mesh, @name, @backend, @identity, @notBefore, @notAfter, @renewAfter, 1, @issuedAt, @issuedAt, @serial)
        ON CONFLICT (mesh, name) DO UPDATE SET issued_backend = excluded.issued_backend, identity = excluded.identity,
          cert_not_before = excluded.cert_not_before, cert_not_after = excluded.cert_not_after,
          renew_after = excluded.renew_after, regenerations = regenerations + 1,
          last_issue_time = excluded.last_issue_time, last_contact = excluded.last_contact,
          issued_serial = excluded.issued_serial`),
      // The served backend changes only when the report names the newest issued certificate: a serial this CP
      // cannot place keeps the backend it served before (the conservative answer for rule 2).
      reportServed: db.prepare(`UPDATE dataplane_facts SET served_serial = @serial,
          served_backend = CASE WHEN issued_serial = @serial THEN issued_backend ELSE served_backend END
        WHERE mesh = @mesh AND name = @name`),
      touch: db.prepare(`INSERT INTO dataplane_facts (mesh, name, last_contact) VALUES (?, ?, ?)
        ON CONFLICT (mesh, name) DO UPDATE SET last_contact = excluded.last_contact`),
      setAcked: db.prepare(`INSERT INTO dataplane_facts (mesh, name, acked_bundle_version, last_contact) VALUES (?, ?, ?, ?)
        ON CONFLICT (mesh, name) DO UPDATE SET acked_bundle_version = excluded.acked_bundle_version,
          last_contact = excluded.last_contact`),
      deleteFacts: db.prepare('DELETE FROM dataplane_facts WHERE mesh = ? AND name = ?'),
      deleteMeshFacts: db.prepare('DELETE FROM dataplane_facts WHERE mesh = ?'),
      deleteMeshBundles: db.prepare('DELETE FROM bundle_versions WHERE mesh = ?'),
      deleteMeshBundleBackends: db.prepare('DELETE FROM bundle_version_backends WHERE mesh = ?'),
      // Versions whose bundle held this exact root of the backend: few, so NOT IN is a small ephemeral set.
      countNotTrusting: db.prepare(`SELECT COUNT(*) AS n FROM dataplane_facts WHERE mesh = @mesh AND cert_not_after > @now
        AND (acked_bundle_version IS NULL OR acked_bundle_version NOT IN (SELECT version FROM bundle_version_backends
          WHERE mesh = @mesh AND backend = @backend AND fingerprint = @fingerprint))`),
      namesNotTrusting: db.prepare(`SELECT name FROM dataplane_facts WHERE mesh = @mesh AND cert_not_after > @now
        AND (acked_bundle_version IS NULL OR acked_bundle_version NOT IN (SELECT version FROM bundle_version_backends
          WHERE mesh = @mesh AND backend = @backend AND fingerprint = @fingerprint))
        ORDER BY name LIMIT @limit`),
      // "Holds a certificate from backend X": issued by X, or X's certificate is still what its proxy serves.
      countIssuedBy: db.prepare(`SELECT COUNT(*) AS n FROM dataplane_facts
        WHERE mesh = @mesh AND (issued_backend = @backend OR served_backend = @backend) AND cert_not_after > @now`),
      namesIssuedBy: db.prepare(`SELECT name FROM dataplane_facts
        WHERE mesh = @mesh AND (issued_backend = @backend OR served_backend = @backend) AND cert_not_after > @now
        ORDER BY name LIMIT @limit`),
      countNotReloaded: db.prepare(`SELECT COUNT(*) AS n FROM dataplane_facts WHERE mesh = @mesh AND served_backend = @backend
        AND issued_backend IS NOT @backend AND cert_not_after > @now`),
      namesNotReloaded: db.prepare(`SELECT name, issued_backend AS issuedBackend FROM dataplane_facts WHERE mesh = @mesh
        AND served_backend = @backend AND issued_backend IS NOT @backend AND cert_not_after > @now ORDER BY name LIMIT @limit`),
      countActive: db.prepare('SELECT COUNT(*) AS n FROM dataplane_facts WHERE mesh = ? AND cert_not_after > ?'),
      issuedStats: db.prepare(`SELECT issued_backend AS backend, COUNT(*) AS total, SUM(last_contact >= @onlineSince) AS online
        FROM dataplane_facts WHERE mesh = @mesh AND cert_not_after > @now GROUP BY issued_backend`),
      trustStats: db.prepare(`SELECT b.backend AS backend, SUM(v.total) AS total, SUM(v.online) AS online
        FROM (SELECT acked_bundle_version AS version, COUNT(*) AS total, SUM(last_contact >= @onlineSince) AS online
              FROM dataplane_facts WHERE mesh = @mesh AND cert_not_after > @now GROUP BY acked_bundle_version) v
        JOIN bundle_version_backends b ON b.mesh = @mesh AND b.version = v.version
        GROUP BY b.backend`),
      onlineCount: db.prepare(`SELECT COUNT(*) AS n FROM dataplane_facts WHERE mesh = ? AND last_contact >= ?`),
      everEnabled: db.prepare('SELECT 1 AS x FROM bundle_versions WHERE mesh = ? AND enabled_backend = ? LIMIT 1'),
      fleetGroups: db.prepare(`SELECT acked_bundle_version AS version, issued_backend AS issued, served_backend AS served, COUNT(*) AS n
        FROM dataplane_facts WHERE mesh = ? AND cert_not_after > ? GROUP BY acked_bundle_version, issued_backend, served_backend`),
      meshBundleBackends: db.prepare('SELECT version, backend, fingerprint FROM bundle_version_backends WHERE mesh = ?'),
      insertBundle: db.prepare(`INSERT OR IGNORE INTO bundle_versions (mesh, version, enabled_backend, created_at)
        VALUES (?, ?, ?, ?)`),
      insertBundleBackend: db.prepare(`INSERT OR IGNORE INTO bundle_version_backends (mesh, version, backend, fingerprint)
        VALUES (?, ?, ?, ?)`),
    };
  }

  get(mesh: string, name: string): DataplaneFacts | undefined {
    const row = this.stmts.get.get(mesh, name) as FactsRow | undefined;
    if (!row) return undefined;
    const trusted = row.acked_bundle_version
      ? (this.stmts.bundleBackends.all(mesh, row.acked_bundle_version) as BundleBackend[]).map((b) => ({ backend: b.name, fingerprint: b.fingerprint }))
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

  recordIssue(mesh: string, name: string, issue: IssueFacts): void {
    this.stmts.recordIssue.run({ mesh, name, ...issue, serial: issue.serial === undefined ? null : normalizeSerial(issue.serial) });
  }

  /** Records the serial a dataplane reports its proxy serves (after a successful reload). */
  reportServed(mesh: string, name: string, serial: string): void {
    this.stmts.reportServed.run({ mesh, name, serial: normalizeSerial(serial) });
  }

  touch(mesh: string, name: string, now: number): void {
    this.stmts.touch.run(mesh, name, now);
  }

  /**
   * Records that a dataplane holds bundle `version`. Returns false (and records nothing but the contact) when the
   * version is unknown: only a bundle this CP really served can prove trust.
   */
  acknowledge(mesh: string, name: string, version: string, now: number): boolean {
    if (!this.stmts.bundleExists.get(mesh, version)) {
      this.touch(mesh, name, now);
      return false;
    }
    this.stmts.setAcked.run(mesh, name, version, now);
    return true;
  }

  deleteDataplane(mesh: string, name: string): void {
    this.stmts.deleteFacts.run(mesh, name);
  }

  deleteMesh(mesh: string): void {
    this.stmts.deleteMeshFacts.run(mesh);
    this.stmts.deleteMeshBundles.run(mesh);
    this.stmts.deleteMeshBundleBackends.run(mesh);
  }

  /** Active dataplanes that have not acknowledged a bundle holding this exact root of `backend`. */
  activeNotTrusting(mesh: string, backend: string, fingerprint: string, now: number, limit = SAMPLE_NAMES): DataplaneSample {
    const params = { mesh, backend, fingerprint, now, limit };
    const count = (this.stmts.countNotTrusting.get(params) as { n: number }).n;
    const names = count === 0 ? [] : (this.stmts.namesNotTrusting.all(params) as { name: string }[]).map((r) => r.name);
    return { count, names };
  }

  /** Active dataplanes holding a certificate from `backend`: the newest one it issued, or the one their proxy serves. */
  activeIssuedBy(mesh: string, backend: string, now: number, limit = SAMPLE_NAMES): DataplaneSample {
    const params = { mesh, backend, now, limit };
    const count = (this.stmts.countIssuedBy.get(params) as { n: number }).n;
    if (count === 0) return { count, names: [] };
    const names = (this.stmts.namesIssuedBy.all(params) as { name: string }[]).map((r) => r.name);
    const stale = (this.stmts.countNotReloaded.get(params) as { n: number }).n;
    if (stale === 0) return { count, names };
    const dataplanes = this.stmts.namesNotReloaded.all(params) as { name: string; issuedBackend: string }[];
    return { count, names, notReloaded: { count: stale, dataplanes } };
  }

  /**
   * Every count of the rotation status from one covering-index scan: active dataplanes grouped by the bundle they
   * acknowledged and the backend that issued their certificate.
   */
  fleetSummary(mesh: string, now: number): FleetSummary {
    const groups = this.stmts.fleetGroups.all(mesh, now) as { version: string | null; issued: string | null; served: string | null; n: number }[];
    const versionsWith = new Map<string, Set<string>>();
    for (const row of this.stmts.meshBundleBackends.all(mesh) as { version: string; backend: string; fingerprint: string }[]) {
      const key = `${row.backend}\n${row.fingerprint}`;
      if (!versionsWith.has(key)) versionsWith.set(key, new Set());
      versionsWith.get(key)!.add(row.version);
    }
    const sum = (keep: (g: (typeof groups)[number]) => boolean) => groups.filter(keep).reduce((n, g) => n + g.n, 0);
    return {
      active: sum(() => true),
      issuedBy: (backend) => sum((g) => g.issued === backend || g.served === backend),
      trusting: (backend, fingerprint) => {
        const versions = versionsWith.get(`${backend}\n${fingerprint}`);
        return versions ? sum((g) => g.version !== null && versions.has(g.version)) : 0;
      },
    };
  }

  countActive(mesh: string, now: number): number {
    return (this.stmts.countActive.get(mesh, now) as { n: number }).n;
  }

  /** Per backend: active dataplanes holding its certificates (`issued`) or trusting it (`trusted`), and how many are online. */
  backendStats(mesh: string, now: number, onlineSince: number) {
    const params = { mesh, now, onlineSince };
    type Stat = { backend: string; total: number; online: number | null };
    const toMap = (rows: Stat[]) => new Map(rows.map((r) => [r.backend, { total: r.total, online: r.online ?? 0 }]));
    return {
      issued: toMap(this.stmts.issuedStats.all(params) as Stat[]),
      trusted: toMap(this.stmts.trustStats.all(params) as Stat[]),
    };
  }

  countOnline(mesh: string, onlineSince: number): number {
    return (this.stmts.onlineCount.get(mesh, onlineSince) as { n: number }).n;
  }

  /** Whether `backend` was ever the enabled backend of the mesh (so it is an old backend, not a new one). */
  wasEverEnabled(mesh: string, backend: string): boolean {
    return this.stmts.everEnabled.get(mesh, backend) !== undefined;
  }

  recordBundleVersion(mesh: string, version: string, enabledBackend: string, backends: BundleBackend[], now: number): void {
    this.db.transaction(() => {
      if (this.stmts.insertBundle.run(mesh, version, enabledBackend, now).changes === 0) return;
      for (const b of backends) this.stmts.insertBundleBackend.run(mesh, version, b.name, b.fingerprint);
    })();
  }

  bundleBackends(mesh: string, version: string): BundleBackend[] | undefined {
    if (!this.stmts.bundleExists.get(mesh, version)) return undefined;
    return this.stmts.bundleBackends.all(mesh, version) as BundleBackend[];
  }
}
