// A control plane must outlive its database: when PostgreSQL goes away while a transaction holds a pooled connection
// between two statements (a certificate being signed inside the transaction, say), the transaction fails with the
// store's 503 and the process lives on. node-postgres's pool takes its 'error' listener off a client while it is
// checked out, so a connection lost then is an unhandled 'error' event, which ends the process (seen in the
// PostgreSQL restart e2e test about one run in ten, as an instance crash).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PostgresDriver } from '../../src/store/postgres-driver.js';
import { startPostgres, type PgCluster } from '../helpers/postgres.js';

for (const [how, loseServer] of [
  ['crashes (kill -9)', (c: PgCluster) => c.kill9()],
  ['shuts down (fast)', (c: PgCluster) => c.shutdown()],
] as const) {
  test(`PostgreSQL ${how} in the middle of a transaction: the transaction fails as unavailable, the process lives`, {
    timeout: 60_000,
  }, async () => {
    const cluster = await startPostgres();
    const driver = new PostgresDriver({
      host: cluster.host,
      port: cluster.port,
      user: cluster.user,
      password: cluster.password,
      database: 'postgres',
      tlsMode: 'disable',
      maxConnections: 2,
    });
    try {
      await assert.rejects(
        driver.transaction(async (tx) => {
          await tx.get('SELECT 1 AS x');
          await loseServer(cluster);
          await sleep(200); // work that is not a statement: the lost connection is noticed now
          await tx.get('SELECT 1 AS x');
        }),
        (err: Error & { status?: number }) => err.status === 503 || /unavailable|cannot be reached/i.test(err.message),
      );
      await cluster.start();
      assert.deepEqual(await driver.get('SELECT 1 AS x'), { x: 1 }, 'the pool serves again once PostgreSQL is back');
    } finally {
      await driver.close().catch(() => {});
      await cluster.stop();
    }
  });
}
