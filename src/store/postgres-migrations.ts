import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PostgresDriver } from './postgres-driver.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations', 'postgres');
/** Held by whoever migrates: instances starting together apply each migration once. */
const MIGRATION_LOCK = "hashtextextended('meshcp/migrations', 0)";

interface Migration {
  version: number;
  file: string;
}

function migrationFiles(): Migration[] {
  return readdirSync(DIR)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .map((file) => ({ version: parseInt(file, 10), file }))
    .sort((a, b) => a.version - b.version);
}

async function appliedVersions(driver: PostgresDriver): Promise<Set<number>> {
  const table = await driver.get<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
  if (!table?.t) return new Set();
  return new Set(
    (await driver.all<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => r.version),
  );
}

/** Migrations not yet applied to the database (names of their files). */
export async function pendingPostgresMigrations(driver: PostgresDriver): Promise<string[]> {
  const applied = await appliedVersions(driver);
  return migrationFiles()
    .filter((m) => !applied.has(m.version))
    .map((m) => m.file);
}

/** Applies pending migrations, each in its own transaction, under a session advisory lock; returns what it applied. */
export async function migratePostgres(driver: PostgresDriver): Promise<string[]> {
  const client = await driver.pool.connect();
  const onError = () => {}; // a lost connection fails the pending query; without a listener it would end the process
  client.on('error', onError);
  try {
    await client.query(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
    const applied = new Set(
      (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version),
    );
    const done: string[] = [];
    for (const migration of migrationFiles()) {
      if (applied.has(migration.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(readFileSync(join(DIR, migration.file), 'utf8'));
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
          migration.version,
          migration.file,
          new Date().toISOString(),
        ]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      }
      done.push(migration.file);
    }
    return done;
  } finally {
    await client.query(`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`).catch(() => {});
    client.off('error', onError);
    client.release();
  }
}
