// Real PostgreSQL servers for the tests (see pg-cluster.mjs): `npm test` starts one for the whole run and passes it
// as MESHCP_TEST_POSTGRES_URL; a test that restarts or kills PostgreSQL starts its own with startPostgres().
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startCluster, type PgCluster } from './pg-cluster.mjs';

export type { PgCluster };

/** A fresh cluster of this test's own, removed by its stop(). */
export function startPostgres(): Promise<PgCluster> {
  return startCluster();
}

/** Where a control plane finds one database: the MESHCP_STORE_POSTGRES_* environment of the issue. */
export interface PgDatabase {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  url: string;
  /** The control plane's environment for this database (store type, host, port, user, password, name, TLS off). */
  storeEnv(): Record<string, string>;
  /** Drops the database (and, if this test started the cluster, stops it). */
  drop(): Promise<void>;
}

function databaseOf(url: URL, database: string, drop: () => Promise<void>): PgDatabase {
  const db = {
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database,
  };
  const dbUrl = new URL(url);
  dbUrl.pathname = `/${database}`;
  return {
    ...db,
    url: dbUrl.toString(),
    storeEnv: () => ({
      MESHCP_STORE_TYPE: 'postgres',
      MESHCP_STORE_POSTGRES_HOST: db.host,
      MESHCP_STORE_POSTGRES_PORT: String(db.port),
      MESHCP_STORE_POSTGRES_USER: db.user,
      MESHCP_STORE_POSTGRES_PASSWORD: db.password,
      MESHCP_STORE_POSTGRES_DB_NAME: db.database,
      MESHCP_STORE_POSTGRES_TLS_MODE: 'disable',
    }),
    drop,
  };
}

/**
 * A fresh database on the run's shared cluster (MESHCP_TEST_POSTGRES_URL), or on a cluster of its own when the test
 * file runs alone (`node --import tsx --test test/e2e/x.test.ts`).
 */
export async function freshDatabase(prefix = 'meshcp_test'): Promise<PgDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const shared = process.env.MESHCP_TEST_POSTGRES_URL;
  if (!shared) {
    const cluster = await startPostgres();
    await cluster.createDatabase(name);
    return databaseOf(new URL(cluster.url), name, () => cluster.stop());
  }
  const url = new URL(shared);
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: shared });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  return databaseOf(url, name, () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}
