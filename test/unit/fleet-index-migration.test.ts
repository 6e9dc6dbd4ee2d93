// Migration SQLite 005 / PostgreSQL 002 on a store written before it: every stored Dataplane gets its profile and
// counts (what the insights read), and every dataplane in contact its online stretch (its subscription's connectTime).
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { applyMigrations } from '../../src/store/database.js';
import { freshDatabase } from '../helpers/postgres.js';

const MIGRATIONS = fileURLToPath(new URL('../../migrations/', import.meta.url));
const specs: [string, string, object][] = [
  [
    'default',
    'web-1',
    {
      networking: {
        address: '127.0.0.1',
        inbound: [
          { port: 1, tags: { 'kuma.io/service': 'web' } },
          { port: 2, tags: { 'kuma.io/service': 'web' } },
        ],
      },
    },
  ],
  [
    'default',
    'web-2',
    {
      networking: {
        address: '127.0.0.1',
        inbound: [
          { port: 1, tags: { 'kuma.io/service': 'web' } },
          { port: 2, tags: { 'kuma.io/service': 'admin' } },
        ],
      },
    },
  ],
  [
    'default',
    'edge',
    { networking: { address: '127.0.0.1', gateway: { type: 'BUILTIN', tags: { 'kuma.io/service': 'edge' } } } },
  ],
  ['default', 'kong', { networking: { address: '127.0.0.1', gateway: { tags: { 'kuma.io/service': 'kong' } } } }],
  [
    'other',
    'bare',
    { networking: { address: '127.0.0.1', outbound: [{ port: 3, tags: { 'kuma.io/service': 'db' } }] } },
  ],
];
const expectedProfiles = [
  ['default', 'edge', 'gatewayBuiltin', '["edge"]'],
  ['default', 'kong', 'gatewayDelegated', '["kong"]'],
  ['default', 'web-1', 'standard', '["web"]'],
  ['default', 'web-2', 'standard', '["admin","web"]'],
  ['other', 'bare', 'standard', '[]'],
];
const expectedCounts = [
  ['default', 'service:gatewayBuiltin', 'edge', 1],
  ['default', 'service:gatewayDelegated', 'kong', 1],
  ['default', 'service:standard', 'admin', 1],
  ['default', 'service:standard', 'web', 2],
  ['default', 'type', 'gatewayBuiltin', 1],
  ['default', 'type', 'gatewayDelegated', 1],
  ['default', 'type', 'standard', 2],
  ['other', 'type', 'standard', 1],
];

test('SQLite 005: profiles, counts and online stretches of what was stored before', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshcp-migration-'));
  try {
    const before = join(dir, 'before');
    cpSync(join(MIGRATIONS, 'sqlite'), before, { recursive: true });
    for (const f of readdirSync(before)) if (parseInt(f, 10) >= 5) rmSync(join(before, f));
    const db = new Database(join(dir, 'db.sqlite'));
    applyMigrations(db, before);
    const insert = db.prepare(
      "INSERT INTO resources (type, mesh, name, spec, creation_time, modification_time) VALUES ('Dataplane', ?, ?, ?, 't', 't')",
    );
    for (const [mesh, name, spec] of specs) insert.run(mesh, name, JSON.stringify(spec));
    db.prepare("INSERT INTO dataplane_facts (mesh, name, last_contact) VALUES ('default', 'web-1', 1234)").run();
    assert.deepEqual(
      applyMigrations(db, join(MIGRATIONS, 'sqlite')).filter((f) => f.startsWith('005')),
      ['005_online_stretch_and_fleet_index.sql'],
    );
    assert.deepEqual(
      db.prepare('SELECT mesh, name, proxy_type, services FROM dataplane_profiles ORDER BY mesh, name').raw().all(),
      expectedProfiles,
    );
    assert.deepEqual(
      db.prepare('SELECT mesh, kind, key, n FROM fleet_counts ORDER BY mesh, kind, key').raw().all(),
      expectedCounts,
    );
    assert.deepEqual(db.prepare('SELECT online_since FROM dataplane_facts').raw().all(), [[1234]]);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('PostgreSQL 002: the same', async () => {
  const database = await freshDatabase('meshcp_migration');
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    await client.query(readFileSync(join(MIGRATIONS, 'postgres', '001_init.sql'), 'utf8'));
    for (const [mesh, name, spec] of specs) {
      await client.query(
        "INSERT INTO resources (type, mesh, name, spec, creation_time, modification_time) VALUES ('Dataplane', $1, $2, $3, 't', 't')",
        [mesh, name, Buffer.from(JSON.stringify(spec))],
      );
    }
    await client.query("INSERT INTO dataplane_facts (mesh, name, last_contact) VALUES ('default', 'web-1', 1234)");
    await client.query(readFileSync(join(MIGRATIONS, 'postgres', '002_online_stretch_and_fleet_index.sql'), 'utf8'));
    const rows = async (sql: string) => (await client.query({ text: sql, rowMode: 'array' })).rows;
    assert.deepEqual(
      await rows('SELECT mesh, name, proxy_type, services FROM dataplane_profiles ORDER BY mesh, name'),
      expectedProfiles,
    );
    assert.deepEqual(
      await rows('SELECT mesh, kind, key, n::int FROM fleet_counts ORDER BY mesh, kind, key'),
      expectedCounts,
    );
    assert.deepEqual(await rows('SELECT online_since::int FROM dataplane_facts'), [[1234]]);
  } finally {
    await client.end();
    await database.drop();
  }
});
