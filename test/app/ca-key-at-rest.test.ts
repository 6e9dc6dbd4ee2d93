// Issue 10, item 6: CA private keys given inline in a Mesh never reach the database files in plaintext, and the
// database files are 0600 whatever the data directory's mode.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { buildApp } from '../../src/app.js';
import { createLogger, looseDataDirMode } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import { createServices } from '../../src/services.js';
import { openDatabase } from '../../src/store/database.js';
import { openStore } from '../../src/store/open-store.js';
import type { SqliteDriver } from '../../src/store/sqlite-driver.js';
import { SecretCipher } from '../../src/store/secret-cipher.js';
import { b64, opensslCa } from '../helpers/api-assert.js';
import { startCpProcess } from '../helpers/cp-process.js';
import { pooledRsaKeys } from '../helpers/rsa-key-pool.js';

const ca = opensslCa('inline-ca');
const keyBody = ca.keyPem.split('\n')[1]!; // a line of the key's base64 body, as it would appear in plaintext
const secretsKey = randomBytes(32);
const dirs: string[] = [];
after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function newDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshcp-at-rest-'));
  dirs.push(dir);
  return dir;
}

/** The control plane's services and app on `dataDir`, with one secrets key for every start, and its log lines. */
async function start(dataDir: string) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(JSON.parse(String(chunk))), done()) });
  const config = loadConfig({ MESHCP_DATA_DIR: dataDir, MESHCP_SIGNING_WORKERS: '0' });
  const log = createLogger('info', sink);
  const store = await openStore({
    store: config.store,
    dataDir,
    cipher: new SecretCipher(secretsKey),
    instanceId: 'x',
    notice: (message, fields) => log.info(fields, message),
  });
  const services = await createServices({
    store,
    config,
    log,
    adminToken: 'x',
    instanceId: 'x',
    rsaKeys: pooledRsaKeys,
  });
  const app = await buildApp(services);
  // This file is about SQLite's files on disk: it reads and plants rows under the store's feet.
  const db = (store.driver as SqliteDriver).db;
  return { app, services, db, lines, close: () => app.close() };
}

const meshWith = (name: string, key: Record<string, string>) => ({
  type: 'Mesh',
  name,
  mtls: {
    enabledBackend: 'ca-1',
    backends: [{ name: 'ca-1', type: 'provided', conf: { cert: { inline: b64(ca.certPem) }, key } }],
  },
});
const MESHES = [meshWith('inline-string', { inlineString: ca.keyPem }), meshWith('inline', { inline: b64(ca.keyPem) })];

/** What an attacker with a copy of the data directory sees: the database file and its WAL, byte for byte. */
function assertNoKeyInFiles(dataDir: string): void {
  for (const file of ['meshcp.db', 'meshcp.db-wal']) {
    const path = join(dataDir, file);
    if (!existsSync(path)) continue;
    const bytes = readFileSync(path);
    assert.equal(bytes.indexOf('PRIVATE KEY'), -1, `${file} holds a PEM private key`);
    assert.equal(bytes.indexOf(keyBody), -1, `${file} holds the key's PEM body`);
    assert.equal(bytes.indexOf(b64(ca.keyPem).slice(0, 60)), -1, `${file} holds the key's base64 (inline)`);
  }
}

async function getMesh(app: Awaited<ReturnType<typeof start>>['app'], name: string) {
  const res = await app.inject({ method: 'GET', url: `/meshes/${name}` });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

describe('inline CA keys are encrypted at rest', () => {
  test('PUT with inline and inlineString keys: the files hold ciphertext, the API answers what was PUT, a restart signs', async () => {
    const dataDir = newDataDir();
    let cp = await start(dataDir);
    for (const mesh of MESHES) {
      const res = await cp.app.inject({ method: 'PUT', url: `/meshes/${mesh.name}`, payload: mesh });
      assert.equal(res.statusCode, 201, res.body);
    }
    assert.ok(statSync(join(dataDir, 'meshcp.db-wal')).size > 0, 'the writes are in the WAL, not yet checkpointed');
    assertNoKeyInFiles(dataDir);
    for (const mesh of MESHES) assert.deepEqual((await getMesh(cp.app, mesh.name)).mtls, mesh.mtls);
    await cp.close();

    cp = await start(dataDir);
    try {
      assertNoKeyInFiles(dataDir);
      for (const mesh of MESHES) {
        assert.deepEqual((await getMesh(cp.app, mesh.name)).mtls, mesh.mtls, 'unsealed after a restart');
        const dp = {
          type: 'Dataplane',
          mesh: mesh.name,
          name: 'web-1',
          networking: { address: '127.0.0.1', inbound: [{ port: 1, tags: { 'kuma.io/service': 'web' } }] },
        };
        assert.equal(
          (await cp.app.inject({ method: 'PUT', url: `/meshes/${mesh.name}/dataplanes/web-1`, payload: dp }))
            .statusCode,
          201,
        );
        const cert = await cp.app.inject({
          method: 'POST',
          url: `/meshes/${mesh.name}/dataplanes/web-1/certificate`,
          payload: {},
        });
        assert.equal(cert.statusCode, 200, cert.body);
      }
    } finally {
      await cp.close();
    }
  });

  test('a sealed key moved onto another mesh does not decrypt', async () => {
    const dataDir = newDataDir();
    const cp = await start(dataDir);
    try {
      await cp.app.inject({ method: 'PUT', url: '/meshes/a', payload: meshWith('a', { inlineString: ca.keyPem }) });
      const spec = (
        cp.db.prepare("SELECT spec FROM resources WHERE type = 'Mesh' AND name = 'a'").get() as { spec: string }
      ).spec;
      assert.match(spec, /"\$sealed"/);
      cp.db
        .prepare(
          "INSERT INTO resources (type, mesh, name, spec, labels, creation_time, modification_time) VALUES ('Mesh', '', 'b', ?, '{}', 'x', 'x')",
        )
        .run(spec.replace('"name":"a"', '"name":"b"'));
      await assert.rejects(cp.services.store.resources.get('Mesh', '', 'b'));
    } finally {
      await cp.close();
    }
  });

  test('a database from before sealing is sealed at start, with no plaintext left in its free pages or WAL', async () => {
    const dataDir = newDataDir();
    const old = openDatabase(join(dataDir, 'meshcp.db'));
    const insert = old.prepare(
      "INSERT OR REPLACE INTO resources (type, mesh, name, spec, labels, creation_time, modification_time) VALUES ('Mesh', '', ?, ?, '{}', 't', 't')",
    );
    for (let i = 0; i < 3; i++) for (const mesh of MESHES) insert.run(mesh.name, JSON.stringify(mesh)); // old rewrites leave free space
    old.pragma('wal_checkpoint(TRUNCATE)');
    old.close();
    assert.notEqual(
      readFileSync(join(dataDir, 'meshcp.db')).indexOf('PRIVATE KEY'),
      -1,
      'precondition: the old file holds the key',
    );

    const cp = await start(dataDir);
    try {
      assert.ok(cp.lines.some((l) => l.msg === 'encrypted the inline CA keys that were stored in plaintext'));
      assertNoKeyInFiles(dataDir);
      for (const mesh of MESHES) assert.deepEqual((await getMesh(cp.app, mesh.name)).mtls, mesh.mtls);
    } finally {
      await cp.close();
    }
    assertNoKeyInFiles(dataDir);
  });
});

describe('database files are 0600 whatever the data directory', () => {
  const modeOf = (path: string) => statSync(path).mode & 0o777;

  test('a 0755 data directory with a 0644 database left in it', async () => {
    const dataDir = newDataDir();
    chmodSync(dataDir, 0o755);
    writeFileSync(join(dataDir, 'meshcp.db-shm'), '', { mode: 0o644 });
    const db = openDatabase(join(dataDir, 'meshcp.db'));
    db.prepare(
      "INSERT INTO resources (type, mesh, name, spec, labels, creation_time, modification_time) VALUES ('Mesh', '', 'm', '{}', '{}', 't', 't')",
    ).run();
    for (const file of ['meshcp.db', 'meshcp.db-wal', 'meshcp.db-shm'])
      assert.equal(modeOf(join(dataDir, file)), 0o600, file);
    db.close();
    assert.equal(looseDataDirMode(dataDir), '0755');
    chmodSync(dataDir, 0o700);
    assert.equal(looseDataDirMode(dataDir), undefined);
  });

  test('the real process on a hand-made 0775 ./data: files 0600 and a warning naming the mode', async () => {
    const dataDir = join(newDataDir(), 'data');
    mkdirSync(dataDir, { mode: 0o775 });
    chmodSync(dataDir, 0o775);
    const cp = await startCpProcess({}, 30_000, { dataDir });
    try {
      const warning = cp.logs.find((l) => l.level === 40 && l.dataDir === dataDir);
      assert.ok(warning, `a warning about the data directory: ${JSON.stringify(cp.logs)}`);
      assert.equal(warning.mode, '0775');
      assert.match(warning.msg, /mode 0775.*chmod 700/);
      for (const file of ['meshcp.db', 'meshcp.db-wal', 'meshcp.db-shm', 'secrets.key', 'admin-token']) {
        assert.equal(modeOf(join(dataDir, file)), 0o600, file);
      }
    } finally {
      await cp.stop();
    }
  });
});
