import type Database from 'better-sqlite3';
import type { Db } from './database.js';
import { hasPlaintextInlineSource, sealMeshSpec, unsealMeshSpec } from './ca-key-sealing.js';
import type { SecretCipher } from './secret-cipher.js';
import { dataplaneFilterSql } from './dataplane-filter-sql.js';

export type ResourceType = 'Mesh' | 'Secret' | 'GlobalSecret' | 'Dataplane';

export interface StoredResource<Spec = Record<string, unknown>> {
  type: ResourceType;
  /** '' for global types. */
  mesh: string;
  name: string;
  spec: Spec;
  labels: Record<string, string>;
  creationTime: string;
  modificationTime: string;
  version: number;
}

export interface ListQuery {
  /** Restrict to one mesh; undefined lists across meshes. */
  mesh?: string;
  nameContains?: string;
  labels?: Record<string, string>;
  /** Dataplane lists only: Kuma's `tag=` and `gateway=` filters. */
  dataplane?: DataplaneListFilter;
  offset: number;
  size: number;
}

export type GatewayMode = 'true' | 'false' | 'builtin' | 'delegated';

export interface DataplaneListFilter {
  /** key -> text the value must contain (`*`: any value); all on one inbound, or all on the gateway. */
  tags: Record<string, string>;
  gateway?: GatewayMode;
}

interface Row {
  type: ResourceType;
  mesh: string;
  name: string;
  spec: Buffer | string;
  labels: string;
  creation_time: string;
  modification_time: string;
  version: number;
}

const ENCRYPTED_TYPES: ReadonlySet<ResourceType> = new Set(['Secret', 'GlobalSecret']);

/**
 * The resource half of the store. All methods are synchronous (better-sqlite3), so a `transaction()` callback runs
 * without any other request interleaving: read-check-write is race free by construction.
 */
export class ResourceStore {
  private readonly stmts;
  private readonly listStatements = new Map<string, Database.Statement>();

  constructor(
    readonly db: Db,
    private readonly cipher: SecretCipher,
  ) {
    this.stmts = {
      get: db.prepare('SELECT * FROM resources WHERE type = ? AND mesh = ? AND name = ?'),
      exists: db.prepare('SELECT 1 AS x FROM resources WHERE type = ? AND mesh = ? AND name = ?'),
      insert: db.prepare(`INSERT INTO resources (type, mesh, name, spec, labels, creation_time, modification_time, version)
        VALUES (?, ?, ?, ?, ?, ?, ?, 1)`),
      update: db.prepare(`UPDATE resources SET spec = ?, labels = ?, modification_time = ?, version = version + 1
        WHERE type = ? AND mesh = ? AND name = ?`),
      delete: db.prepare('DELETE FROM resources WHERE type = ? AND mesh = ? AND name = ?'),
      deleteMesh: db.prepare("DELETE FROM resources WHERE mesh = ? AND type != 'GlobalSecret'"),
      count: db.prepare('SELECT COUNT(*) AS n FROM resources WHERE type = ? AND mesh = ?'),
      namesInMesh: db.prepare('SELECT name FROM resources WHERE type = ? AND mesh = ? ORDER BY name'),
    };
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  get<Spec = Record<string, unknown>>(type: ResourceType, mesh: string, name: string): StoredResource<Spec> | undefined {
    const row = this.stmts.get.get(type, mesh, name) as Row | undefined;
    return row ? this.decode<Spec>(row) : undefined;
  }

  /** Existence without decoding (or decrypting) the spec. */
  exists(type: ResourceType, mesh: string, name: string): boolean {
    return this.stmts.exists.get(type, mesh, name) !== undefined;
  }

  /** Creates or replaces; returns whether the resource was created. */
  upsert(type: ResourceType, mesh: string, name: string, spec: object, labels: Record<string, string>, now = new Date()): 'created' | 'updated' {
    const encoded = this.encodeSpec(type, mesh, name, spec);
    const labelsJson = JSON.stringify(labels);
    const time = now.toISOString();
    const changed = this.stmts.update.run(encoded, labelsJson, time, type, mesh, name).changes;
    if (changed > 0) return 'updated';
    this.stmts.insert.run(type, mesh, name, encoded, labelsJson, time, time);
    return 'created';
  }

  delete(type: ResourceType, mesh: string, name: string): boolean {
    return this.stmts.delete.run(type, mesh, name).changes > 0;
  }

  /** Removes every mesh-scoped resource of a mesh (its secrets and CA material), not the Mesh row itself. */
  deleteMeshContents(mesh: string): void {
    this.stmts.deleteMesh.run(mesh);
  }

  count(type: ResourceType, mesh: string): number {
    return (this.stmts.count.get(type, mesh) as { n: number }).n;
  }

  names(type: ResourceType, mesh: string): string[] {
    return (this.stmts.namesInMesh.all(type, mesh) as { name: string }[]).map((r) => r.name);
  }

  /** Sorted by mesh, then name; `total` counts every match, not just the page. */
  list<Spec = Record<string, unknown>>(type: ResourceType, query: ListQuery): { total: number; items: StoredResource<Spec>[] } {
    const where = ['type = ?'];
    const params: unknown[] = [type];
    if (query.mesh !== undefined) {
      where.push('mesh = ?');
      params.push(query.mesh);
    }
    if (query.nameContains) {
      where.push('instr(name, ?) > 0');
      params.push(query.nameContains);
    }
    for (const [key, value] of Object.entries(query.labels ?? {})) {
      where.push('EXISTS (SELECT 1 FROM json_each(resources.labels) WHERE json_each.key = ? AND json_each.value = ?)');
      params.push(key, value);
    }
    if (query.dataplane) where.push(...dataplaneFilterSql(query.dataplane, params));
    const clause = where.join(' AND ');
    const total = (this.statement(`SELECT COUNT(*) AS n FROM resources WHERE ${clause}`).get(...params) as { n: number }).n;
    const rows = this.statement(`SELECT * FROM resources WHERE ${clause} ORDER BY mesh, name LIMIT ? OFFSET ?`).all(
      ...params,
      query.size,
      query.offset,
    ) as Row[];
    return { total, items: rows.map((r) => this.decode<Spec>(r)) };
  }

  /** List queries differ only in which filters are present: a handful of shapes, each prepared once. */
  private statement(sql: string): Database.Statement {
    let statement = this.listStatements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.listStatements.set(sql, statement);
    }
    return statement;
  }

  /**
   * Seals the inline CA material of Mesh rows written before it was sealed (see ca-key-sealing.ts), then makes sure
   * the plaintext is gone from the files too: secure_delete zeroes what the rewrite frees, VACUUM rebuilds the pages
   * (older updates may have left plaintext in free space) and a truncating checkpoint empties the WAL. Returns the
   * names of the meshes it rewrote; a one-time cost on upgrade, a scan of the Mesh rows otherwise.
   */
  sealPlaintextCaKeys(): string[] {
    const rows = this.db
      .prepare(
        `SELECT name, spec FROM resources WHERE type = 'Mesh' AND mesh = '' AND (instr(spec, '"inline"') > 0 OR instr(spec, '"inlineString"') > 0)`,
      )
      .all() as { name: string; spec: string }[];
    const stale = rows.filter((row) => hasPlaintextInlineSource(JSON.parse(row.spec) as Record<string, unknown>));
    if (stale.length === 0) return [];
    const rewrite = this.db.prepare("UPDATE resources SET spec = ? WHERE type = 'Mesh' AND mesh = '' AND name = ?");
    this.db.pragma('secure_delete = ON');
    try {
      this.transaction(() => {
        for (const row of stale) rewrite.run(this.encodeSpec('Mesh', '', row.name, JSON.parse(row.spec) as object), row.name);
      });
      this.db.exec('VACUUM');
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      this.db.pragma('secure_delete = OFF');
    }
    return stale.map((row) => row.name);
  }

  private encodeSpec(type: ResourceType, mesh: string, name: string, spec: object): Buffer | string {
    if (type === 'Mesh') return JSON.stringify(sealMeshSpec(spec as Record<string, unknown>, name, this.cipher));
    const json = JSON.stringify(spec);
    if (!ENCRYPTED_TYPES.has(type)) return json;
    return this.cipher.encrypt(Buffer.from(json), `${type}/${mesh}/${name}`);
  }

  private decode<Spec>(row: Row): StoredResource<Spec> {
    const json = ENCRYPTED_TYPES.has(row.type)
      ? this.cipher.decrypt(row.spec as Buffer, `${row.type}/${row.mesh}/${row.name}`).toString()
      : row.spec.toString();
    const parsed = JSON.parse(json) as Record<string, unknown>;
    return {
      type: row.type,
      mesh: row.mesh,
      name: row.name,
      spec: (row.type === 'Mesh' ? unsealMeshSpec(parsed, row.name, this.cipher) : parsed) as Spec,
      labels: JSON.parse(row.labels) as Record<string, string>,
      creationTime: row.creation_time,
      modificationTime: row.modification_time,
      version: row.version,
    };
  }
}
