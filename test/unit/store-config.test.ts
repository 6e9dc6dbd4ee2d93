// The store settings an operator gives (MESHCP_STORE_*, the secrets key, a shared admin token): what start-up refuses
// and what it takes, in Kuma's variable names.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createLogger, loadAdminToken } from '../../src/bootstrap.js';
import { ConfigError, loadConfig } from '../../src/config.js';

const KEY = Buffer.alloc(32, 7).toString('base64');
const refuses = (env: Record<string, string>, message: RegExp) =>
  assert.throws(
    () => loadConfig(env),
    (err: unknown) => err instanceof ConfigError && message.test(err.message),
  );

describe('store settings', () => {
  it('SQLite by default; PostgreSQL with Kuma-style defaults', () => {
    assert.deepEqual(loadConfig({}).store, { type: 'sqlite' });
    assert.deepEqual(loadConfig({ MESHCP_STORE_TYPE: 'postgres', MESHCP_SECRETS_KEY: KEY }).store, {
      type: 'postgres',
      host: '127.0.0.1',
      port: 5432,
      user: 'meshcp',
      password: undefined,
      dbName: 'meshcp',
      tlsMode: 'disable',
      tlsCaFile: undefined,
      maxOpenConnections: 20,
      autoMigrate: false,
    });
  });

  it('refuses postgres without a shared secrets key, an unknown store or TLS mode, and verify-* without a CA file', () => {
    refuses({ MESHCP_STORE_TYPE: 'postgres' }, /MESHCP_SECRETS_KEY must be set with MESHCP_STORE_TYPE=postgres/);
    refuses({ MESHCP_STORE_TYPE: 'mysql' }, /MESHCP_STORE_TYPE must be "sqlite" or "postgres", got "mysql"/);
    refuses(
      { MESHCP_STORE_TYPE: 'postgres', MESHCP_SECRETS_KEY: KEY, MESHCP_STORE_POSTGRES_TLS_MODE: 'prefer' },
      /must be one of disable, require, verify-ca, verify-full/,
    );
    refuses(
      { MESHCP_STORE_TYPE: 'postgres', MESHCP_SECRETS_KEY: KEY, MESHCP_STORE_POSTGRES_TLS_MODE: 'verify-full' },
      /MESHCP_STORE_POSTGRES_TLS_CA_FILE must name the CA/,
    );
    refuses(
      { MESHCP_STORE_TYPE: 'postgres', MESHCP_SECRETS_KEY: KEY, MESHCP_STORE_POSTGRES_PORT: 'x' },
      /MESHCP_STORE_POSTGRES_PORT/,
    );
  });

  it('a shared admin token is taken as given and no token file is written; a short one is refused', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'meshcp-admin-token-'));
    try {
      const token = 'a'.repeat(40);
      const config = loadConfig({ MESHCP_DATA_DIR: dataDir, MESHCP_ADMIN_TOKEN: token });
      assert.equal(loadAdminToken(config, createLogger('silent')), token);
      assert.equal(existsSync(join(dataDir, 'admin-token')), false);
      refuses({ MESHCP_ADMIN_TOKEN: 'short' }, /MESHCP_ADMIN_TOKEN must be at least 32 characters/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
