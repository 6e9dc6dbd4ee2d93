// The test PostgreSQL helper is real and survives what the HA tests do to it: a restart keeps the data, a kill -9
// is recovered from on the next start, the password login over TCP works, and stop() leaves nothing behind.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import pg from 'pg';
import { freshDatabase, startPostgres } from '../helpers/postgres.js';

async function query(url: string, sql: string, params: unknown[] = []): Promise<any[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows;
  } finally {
    await client.end();
  }
}

test('a test cluster: password login, its own database, data kept across a restart and a kill -9, removed on stop', {
  timeout: 60_000,
}, async () => {
  const cluster = await startPostgres();
  try {
    assert.equal(cluster.url, `postgres://${cluster.user}:${cluster.password}@127.0.0.1:${cluster.port}/postgres`);
    const [{ version }] = await query(cluster.url, 'SELECT version()');
    assert.match(version, /^PostgreSQL \d+/);
    // The password is checked: a wrong one is refused.
    await assert.rejects(
      query(`postgres://${cluster.user}:wrong@127.0.0.1:${cluster.port}/postgres`, 'SELECT 1'),
      /password authentication failed/,
    );

    await cluster.createDatabase('helper_check');
    const url = cluster.urlOf('helper_check');
    await query(url, 'CREATE TABLE kept (n int)');
    await query(url, 'INSERT INTO kept VALUES (1)');

    await cluster.restart();
    assert.deepEqual(await query(url, 'SELECT n FROM kept'), [{ n: 1 }]);

    // A committed row survives a crash of the server; a session open at the time sees its connection die.
    await query(url, 'INSERT INTO kept VALUES (2)');
    const open = new pg.Client({ connectionString: url });
    await open.connect();
    const lost = new Promise((resolve) => open.on('error', resolve)); // pg may emit it more than once
    await cluster.kill9();
    assert.ok(await lost, 'the open session was cut');
    await assert.rejects(query(url, 'SELECT 1'), /ECONNREFUSED/);
    await cluster.start();
    assert.deepEqual(await query(url, 'SELECT n FROM kept ORDER BY n'), [{ n: 1 }, { n: 2 }]);
    await open.end().catch(() => {});

    await cluster.dropDatabase('helper_check');
    await assert.rejects(query(url, 'SELECT 1'), /does not exist/);
  } finally {
    await cluster.stop();
  }
  assert.equal(existsSync(cluster.dir), false, 'the cluster dir is removed');
  await assert.rejects(query(cluster.url, 'SELECT 1'), /ECONNREFUSED/);
});

test('freshDatabase: a new database for the test on the shared cluster of the run (or its own), dropped after', {
  timeout: 30_000,
}, async () => {
  const db = await freshDatabase();
  try {
    assert.equal(db.storeEnv().MESHCP_STORE_TYPE, 'postgres');
    assert.deepEqual(await query(db.url, 'SELECT current_database() AS name'), [{ name: db.database }]);
    await query(db.url, 'CREATE TABLE mine (n int)'); // the test user may create tables in it
  } finally {
    await db.drop();
  }
});
