import { randomBytes } from 'node:crypto';
import { buildApp } from '../src/app.js';
import { createLogger } from '../src/bootstrap.js';
import { sealedConfFields } from '../src/ca/backend-registry.js';
import type { Config } from '../src/config.js';
import { systemClock } from '../src/domain/clock.js';
import { createServices } from '../src/services.js';
import { openStore } from '../src/store/open-store.js';
import { SecretCipher } from '../src/store/secret-cipher.js';

/**
 * A control plane in this process on `config` (its data dir and store), listening on a free loopback port: the
 * benches that fill the store directly and then measure over real HTTP.
 */
export async function startInProcessCp(config: Config) {
  const store = await openStore({
    store: config.store,
    dataDir: config.dataDir,
    cipher: new SecretCipher(randomBytes(32)),
    sealedConfFields,
    instanceId: 'bench',
    clock: systemClock,
  });
  const services = await createServices({
    store,
    config,
    log: createLogger('silent'),
    adminToken: 'x',
    instanceId: 'bench',
    clock: systemClock,
  });
  const app = await buildApp(services);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  return { store, services, app, base };
}
