import type { Clock } from '../domain/clock.js';
import type { Db } from './database.js';
import { hasPlaintextInlineSource, sealMeshSpec, unsealMeshSpec, type SealedConfFields } from './ca-key-sealing.js';
import type { SecretCipher } from './secret-cipher.js';
import type { DataplaneListFilter, Dialect, GatewayMode, SqlExecutor } from './sql.js';

import { kindOf, type ResourceType } from '../resources/kinds.js';

export type { ResourceType };

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
  /** Kuma's new-model kinds: the status computed for this read (never stored from a request). */
  status?: Record<string, unknown>;
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

export type { DataplaneListFilter, GatewayMode };

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

/**
 * The resource half of the store, over either engine. Reads and writes go through `exec`: the driver's own (each
 * statement on its own) or a transaction's (see Store.transaction).
 */
export class ResourceStore {
  constructor(
    private readonly exec: SqlExecutor,
    private readonly dialect: Dialect,
    private readonly cipher: SecretCipher,
    /** The CA backend conf fields kept sealed in Mesh rows. */
    private readonly sealedConfFields: SealedConfFields,
    /** Stamps creationTime and modificationTime. */
    private readonly clock: Clock,
  ) {}

  async get<Spec = Record<string, unknown>>(
    type: ResourceType,
    mesh: string,
    name: string,
  ): Promise<StoredResource<Spec> | undefined> {
    const row = await this.exec.get<Row>('SELECT * FROM resources WHERE type = ? AND mesh = ? AND name = ?', [
      type,
      mesh,
      name,
    ]);
    return row ? this.decode<Spec>(row) : undefined;
  }

  /** Decrypts one sealed row, if there is any: a wrong secrets key is found at start, not on some later request. */
  async checkSecretsKey(): Promise<void> {
    const row = await this.exec.get<Row>(
      "SELECT * FROM resources WHERE type IN ('Secret', 'GlobalSecret') ORDER BY type, mesh, name LIMIT 1",
      [],
    );
    if (row) this.decode(row);
  }

  /** Existence without decoding (or decrypting) the spec. */
  async exists(type: ResourceType, mesh: string, name: string): Promise<boolean> {
    return (
      (await this.exec.get('SELECT 1 AS x FROM resources WHERE type = ? AND mesh = ? AND name = ?', [
        type,
        mesh,
        name,
      ])) !== undefined
    );
  }

  /** The row's version (bumped by every write), without decoding it; undefined when it does not exist. */
  async version(type: ResourceType, mesh: string, name: string): Promise<number | undefined> {
    const row = await this.exec.get<{ version: number }>(
      'SELECT version FROM resources WHERE type = ? AND mesh = ? AND name = ?',
      [type, mesh, name],
    );
    return row?.version;
  }

  /** Creates or replaces; returns whether the resource was created. */
  async upsert(
    type: ResourceType,
    mesh: string,
    name: string,
    spec: object,
    labels: Record<string, string>,
    now = new Date(this.clock.now()),
  ): Promise<'created' | 'updated'> {
    const encoded = this.dialect.specParam(this.encodeSpec(type, mesh, name, spec));
    const labelsJson = JSON.stringify(labels);
    const time = now.toISOString();
    const changed = await this.exec.run(
      `UPDATE resources SET spec = ?, labels = ?, modification_time = ?, version = version + 1
        WHERE type = ? AND mesh = ? AND name = ?`,
      [encoded, labelsJson, time, type, mesh, name],
    );
    if (changed > 0) return 'updated';
    await this.exec.run(
      `INSERT INTO resources (type, mesh, name, spec, labels, creation_time, modification_time, version)
        VALUES (?, ?, ?, ?, ?, ?, ?, 1)`,
      [type, mesh, name, encoded, labelsJson, time, time],
    );
    return 'created';
  }

  async delete(type: ResourceType, mesh: string, name: string): Promise<boolean> {
    return (
      (await this.exec.run('DELETE FROM resources WHERE type = ? AND mesh = ? AND name = ?', [type, mesh, name])) > 0
    );
  }

  /** Removes every mesh-scoped resource of a mesh (its secrets and CA material), not the Mesh row itself. */
  async deleteMeshContents(mesh: string): Promise<void> {
    await this.exec.run("DELETE FROM resources WHERE mesh = ? AND type != 'GlobalSecret'", [mesh]);
  }

  async count(type: ResourceType, mesh: string): Promise<number> {
    return (await this.exec.get<{ n: number }>('SELECT COUNT(*) AS n FROM resources WHERE type = ? AND mesh = ?', [
      type,
      mesh,
    ]))!.n;
  }

  async names(type: ResourceType, mesh: string): Promise<string[]> {
    const rows = await this.exec.all<{ name: string }>(
      'SELECT name FROM resources WHERE type = ? AND mesh = ? ORDER BY name',
      [type, mesh],
    );
    return rows.map((r) => r.name);
  }

  /** Sorted by mesh, then name; `total` counts every match, not just the page. */
  async list<Spec = Record<string, unknown>>(
    type: ResourceType,
    query: ListQuery,
  ): Promise<{ total: number; items: StoredResource<Spec>[] }> {
    const where = ['type = ?'];
    const params: unknown[] = [type];
    if (query.mesh !== undefined) {
      where.push('mesh = ?');
      params.push(query.mesh);
    }
    if (query.nameContains) where.push(this.dialect.contains('name', params, query.nameContains));
    for (const [key, value] of Object.entries(query.labels ?? {}))
      where.push(this.dialect.jsonHasEntry('resources.labels', params, key, value));
    if (query.dataplane) where.push(...this.dialect.dataplaneFilter(query.dataplane, params));
    const clause = where.join(' AND ');
    const total = (await this.exec.get<{ n: number }>(`SELECT COUNT(*) AS n FROM resources WHERE ${clause}`, params))!
      .n;
    const rows = await this.exec.all<Row>(
      `SELECT * FROM resources WHERE ${clause} ORDER BY mesh, name LIMIT ? OFFSET ?`,
      [...params, query.size, query.offset],
    );
    return { total, items: rows.map((r) => this.decode<Spec>(r)) };
  }

  private encodeSpec(type: ResourceType, mesh: string, name: string, spec: object): Buffer | string {
    const storage = kindOf(type).storage;
    if (storage === 'sealed')
      return JSON.stringify(sealMeshSpec(spec as Record<string, unknown>, name, this.cipher, this.sealedConfFields));
    const json = JSON.stringify(spec);
    if (storage === 'plain') return json;
    return this.cipher.encrypt(Buffer.from(json), `${type}/${mesh}/${name}`);
  }

  private decode<Spec>(row: Row): StoredResource<Spec> {
    const storage = kindOf(row.type).storage;
    const json =
      storage === 'encrypted'
        ? this.cipher.decrypt(row.spec as Buffer, `${row.type}/${row.mesh}/${row.name}`).toString()
        : row.spec.toString();
    const parsed = JSON.parse(json) as Record<string, unknown>;
    return {
      type: row.type,
      mesh: row.mesh,
      name: row.name,
      spec: (storage === 'sealed'
        ? unsealMeshSpec(parsed, row.name, this.cipher, this.sealedConfFields)
        : parsed) as Spec,
      labels: JSON.parse(row.labels) as Record<string, string>,
      creationTime: row.creation_time,
      modificationTime: row.modification_time,
      version: row.version,
    };
  }
}

/**
 * SQLite databases written before inline CA material was sealed (see ca-key-sealing.ts): seals those Mesh rows, then
 * makes sure the plaintext is gone from the files too: secure_delete zeroes what the rewrite frees, VACUUM rebuilds
 * the pages (older updates may have left plaintext in free space) and a truncating checkpoint empties the WAL.
 * Returns the names of the meshes it rewrote; a one-time cost on upgrade, a scan of the Mesh rows otherwise.
 * (PostgreSQL stores were never written unsealed.)
 */
export function sealPlaintextCaKeys(db: Db, cipher: SecretCipher, sealedConfFields: SealedConfFields): string[] {
  const rows = db
    .prepare(
      `SELECT name, spec FROM resources WHERE type = 'Mesh' AND mesh = '' AND (instr(spec, '"inline"') > 0 OR instr(spec, '"inlineString"') > 0)`,
    )
    .all() as { name: string; spec: string }[];
  const stale = rows.filter((row) =>
    hasPlaintextInlineSource(JSON.parse(row.spec) as Record<string, unknown>, sealedConfFields),
  );
  if (stale.length === 0) return [];
  const rewrite = db.prepare("UPDATE resources SET spec = ? WHERE type = 'Mesh' AND mesh = '' AND name = ?");
  db.pragma('secure_delete = ON');
  try {
    db.transaction(() => {
      for (const row of stale)
        rewrite.run(
          JSON.stringify(
            sealMeshSpec(JSON.parse(row.spec) as Record<string, unknown>, row.name, cipher, sealedConfFields),
          ),
          row.name,
        );
    })();
    db.exec('VACUUM');
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.pragma('secure_delete = OFF');
  }
  return stale.map((row) => row.name);
}
