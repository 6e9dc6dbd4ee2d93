import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Clock } from '../../src/domain/clock.js';
import { openStore } from '../../src/store/open-store.js';
import type { SecretCipher } from '../../src/store/secret-cipher.js';
import type { Store } from '../../src/store/store.js';

/** Which store the API suite runs on: `npm test` runs it on both (scripts/run-tests.mjs). */
export const TEST_STORE: 'sqlite' | 'postgres' = process.env.MESHCP_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';

/** The suite's PostgreSQL server (started by scripts/run-tests.mjs), as the store's settings. */
export function postgresSettings(url = process.env.MESHCP_TEST_POSTGRES_URL) {
  if (!url)
    throw new Error('MESHCP_TEST_STORE=postgres needs MESHCP_TEST_POSTGRES_URL (npm test starts a server and sets it)');
  const u = new URL(url);
  return {
    type: 'postgres' as const,
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password) || undefined,
    dbName: u.pathname.slice(1) || 'postgres',
    tlsMode: 'disable' as const,
    maxOpenConnections: 4,
    autoMigrate: true,
  };
}

/** Runs SQL as the suite's database owner (schemas are created and dropped per app). */
async function admin(sql: string): Promise<void> {
  const settings = postgresSettings();
  const client = new pg.Client({
    host: settings.host,
    port: settings.port,
    user: settings.user,
    password: settings.password,
    database: settings.dbName,
  });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export interface StoreShare {
  key: Buffer;
  /** The PostgreSQL schema of the first instance; undefined on SQLite (one process, one file). */
  schema?: string;
}

/**
 * A fresh store for one test app, or a second instance's connection to an existing schema (`options.schema`).
 * `drop()` removes the PostgreSQL schema it created (the SQLite file goes with the temp dir).
 */
export async function testStore(
  dataDir: string,
  cipher: SecretCipher,
  options: { clock?: Clock; instanceId: string; schema?: string },
): Promise<{ store: Store; schema?: string; drop(): Promise<void> }> {
  const clock = options.clock ? { clock: options.clock } : {};
  if (TEST_STORE === 'sqlite') {
    if (options.schema) throw new Error('several instances share a store only on PostgreSQL');
    const store = await openStore({
      store: { type: 'sqlite' },
      dataDir,
      cipher,
      instanceId: options.instanceId,
      ...clock,
    });
    return { store, drop: async () => {} };
  }
  const joining = options.schema !== undefined;
  const schema = options.schema ?? `t_${randomBytes(6).toString('hex')}`;
  if (!joining) await admin(`CREATE SCHEMA ${schema}`);
  const store = await openStore({
    store: postgresSettings(),
    dataDir,
    cipher,
    instanceId: options.instanceId,
    postgresSchema: schema,
    ...clock,
  });
  return {
    store,
    schema,
    drop: () => (joining ? Promise.resolve() : admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)),
  };
}
