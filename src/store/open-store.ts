import { join } from 'node:path';
import type { StoreConfig } from './store-config.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { openDatabase } from './database.js';
import { PostgresChangeFeed } from './postgres-change-feed.js';
import { PostgresDriver, type PostgresOptions } from './postgres-driver.js';
import { migratePostgres, pendingPostgresMigrations } from './postgres-migrations.js';
import { sealPlaintextCaKeys } from './resource-store.js';
import type { SecretCipher } from './secret-cipher.js';
import { SqliteDriver } from './sqlite-driver.js';
import { Store } from './store.js';

/** The store cannot be used as configured; the message says what to do. */
export class StoreStartError extends Error {}

export interface OpenStoreOptions {
  store: StoreConfig;
  dataDir: string;
  cipher: SecretCipher;
  instanceId: string;
  clock?: Clock;
  /** Tables in this PostgreSQL schema (tests give each app its own). */
  postgresSchema?: string;
  /** Called with what start-up did that the operator should hear of. */
  notice?: (message: string, fields: Record<string, unknown>) => void;
}

export function postgresOptions(store: Extract<StoreConfig, { type: 'postgres' }>, schema?: string): PostgresOptions {
  return {
    host: store.host,
    port: store.port,
    user: store.user,
    password: store.password,
    database: store.dbName,
    tlsMode: store.tlsMode,
    tlsCaFile: store.tlsCaFile,
    maxConnections: store.maxOpenConnections,
    ...(schema ? { schema } : {}),
  };
}

/**
 * Opens the configured store. SQLite (the embedded default) migrates itself: one process owns its file. PostgreSQL
 * is shared by instances of possibly different versions, so its schema moves only by `meshcp migrate up` (or
 * MESHCP_STORE_POSTGRES_AUTO_MIGRATE=true) and an instance refuses to start on a schema older than it needs.
 */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const clock = options.clock ?? systemClock;
  if (options.store.type === 'sqlite') {
    const db = openDatabase(join(options.dataDir, 'meshcp.db'));
    const sealed = sealPlaintextCaKeys(db, options.cipher);
    if (sealed.length > 0)
      options.notice?.('encrypted the inline CA keys that were stored in plaintext', { meshes: sealed });
    return new Store(new SqliteDriver(db), options.cipher, undefined, clock);
  }
  const pgOptions = postgresOptions(options.store, options.postgresSchema);
  const driver = new PostgresDriver(pgOptions);
  try {
    const pending = await pendingPostgresMigrations(driver);
    if (pending.length > 0) {
      if (!options.store.autoMigrate) {
        throw new StoreStartError(
          `the PostgreSQL schema is not up to date (pending: ${pending.join(', ')}): run "meshcp migrate up" with the same MESHCP_STORE_* settings, or set MESHCP_STORE_POSTGRES_AUTO_MIGRATE=true`,
        );
      }
      const applied = await migratePostgres(driver);
      if (applied.length > 0) options.notice?.('applied PostgreSQL migrations', { migrations: applied });
    }
  } catch (err) {
    await driver.close().catch(() => {});
    if (err instanceof StoreStartError) throw err;
    throw new StoreStartError(
      `cannot use PostgreSQL at ${pgOptions.host}:${pgOptions.port} (database "${pgOptions.database}"): ${(err as Error).message}`,
    );
  }
  const feed = new PostgresChangeFeed(pgOptions, options.instanceId);
  await feed.start();
  return new Store(driver, options.cipher, feed, clock);
}

/** `meshcp migrate up`: applies pending PostgreSQL migrations (SQLite migrates at start). Returns what it applied. */
export async function migrateUp(store: StoreConfig, dataDir: string): Promise<string[]> {
  if (store.type === 'sqlite') {
    openDatabase(join(dataDir, 'meshcp.db')).close();
    return [];
  }
  const driver = new PostgresDriver(postgresOptions(store));
  try {
    return await migratePostgres(driver);
  } finally {
    await driver.close();
  }
}
