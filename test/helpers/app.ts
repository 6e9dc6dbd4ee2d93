import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import { buildApp } from '../../src/app.js';
import { createLogger } from '../../src/bootstrap.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { RsaKeySource } from '../../src/ca/keys.js';
import type { Clock } from '../../src/domain/clock.js';
import { createServices, type Services } from '../../src/services.js';
import { SecretCipher } from '../../src/store/secret-cipher.js';
import { pooledRsaKeys } from './rsa-key-pool.js';
import { testStore, type StoreShare } from './test-store.js';

export const ADMIN_TOKEN = 'test-admin-token';

export interface TestApp {
  app: FastifyInstance;
  services: Services;
  dataDir: string;
  /** How another instance joins this one's store (PostgreSQL only): same schema, same secrets key. */
  share: StoreShare;
  close(): Promise<void>;
}

/**
 * A real app for `app.inject()` tests: on a real SQLite file in a fresh temp dir, or, when the suite runs with
 * MESHCP_TEST_STORE=postgres, in a fresh schema of the suite's real PostgreSQL server (see test-store.ts).
 */
export async function createTestApp(
  env: Record<string, string> = {},
  options: {
    defaultMesh?: boolean;
    logTo?: DestinationStream;
    clock?: Clock;
    rsaKeys?: RsaKeySource;
    /** Another instance on the store of `sameStoreAs` (PostgreSQL): the multi-instance tests. */
    sameStoreAs?: TestApp;
  } = {},
): Promise<TestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'meshcp-test-'));
  const config: Config = loadConfig({ MESHCP_DATA_DIR: dataDir, MESHCP_LOG_LEVEL: 'silent', ...env });
  const share = options.sameStoreAs?.share ?? { key: randomBytes(32) };
  const instanceId = options.sameStoreAs ? `test-instance-${randomBytes(3).toString('hex')}` : 'test-instance';
  const store = await testStore(dataDir, new SecretCipher(share.key), {
    clock: options.clock,
    instanceId,
    schema: share.schema,
  });
  const services = await createServices({
    store: store.store,
    config,
    log: createLogger(options.logTo ? 'info' : config.logLevel, options.logTo),
    adminToken: ADMIN_TOKEN,
    instanceId,
    rsaKeys: options.rsaKeys ?? pooledRsaKeys, // real keys, made ahead of time: see rsa-key-pool.ts
    ...(options.clock ? { clock: options.clock } : {}),
  });
  if (options.defaultMesh !== false) {
    await services.meshes.put(
      '',
      'default',
      { type: 'Mesh', name: 'default' },
      { principal: { kind: 'admin' }, dryRun: false, force: false },
    );
  }
  const app = await buildApp(services);
  await app.ready();
  return {
    app,
    services,
    dataDir,
    share: { key: share.key, schema: store.schema },
    async close() {
      await app.close(); // the app owns the services: this also stops the signing pool and closes the database
      await store.drop();
    },
  };
}
