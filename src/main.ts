import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { ConnectionGate } from './api/connection-gate.js';
import { buildApp } from './app.js';
import { buildDiagnosticsApp } from './api/diagnostics.js';
import { FleetWatch } from './ops/fleet-watch.js';
import { describeListenError, logDestination } from './ops/log-output.js';
import {
  createLogger,
  loadAdminToken,
  loadInstanceId,
  loadServerTls,
  looseDataDirMode,
  prepareDataDir,
} from './bootstrap.js';
import { ConfigError, loadConfig } from './config.js';
import { createServices } from './services.js';
import { migrateUp, openStore, StoreStartError } from './store/open-store.js';
import { SecretCipher, loadSecretsKey } from './store/secret-cipher.js';

function urlOf(scheme: string, app: FastifyInstance): string {
  const { address, family, port } = app.addresses()[0] as AddressInfo;
  return `${scheme}://${family === 'IPv6' ? `[${address}]` : address}:${port}`;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel, logDestination(config.logFormat));
  prepareDataDir(config);
  const looseMode = looseDataDirMode(config.dataDir);
  if (looseMode) {
    log.warn(
      { dataDir: config.dataDir, mode: looseMode },
      `the data directory has mode ${looseMode}: other users can reach it (its database and key files are still 0600); chmod 700 it`,
    );
  }
  const cipher = new SecretCipher(loadSecretsKey(config.dataDir, config.secretsKey));
  const instanceId = loadInstanceId(config);
  const store = await openStore({
    store: config.store,
    dataDir: config.dataDir,
    cipher,
    instanceId,
    notice: (message, fields) => log.info(fields, message),
  });
  log.info(
    { store: store.kind },
    store.kind === 'sqlite' ? 'store: SQLite in the data directory' : 'store: PostgreSQL (shared by every instance)',
  );
  const services = await createServices({ store, config, log, adminToken: loadAdminToken(config, log), instanceId });

  if (!config.skipDefaultMeshCreation && !(await services.meshes.exists('', 'default'))) {
    // Instances starting together may all get here: the mesh lock makes one create it, the others find it.
    const outcome = await services.meshes.put(
      '',
      'default',
      { type: 'Mesh', name: 'default' },
      { principal: { kind: 'admin' }, dryRun: false, force: false },
    );
    if (outcome === 'created') log.info({ event: 'mesh-created', mesh: 'default' }, 'mesh default created');
  }

  const servers: FastifyInstance[] = [];
  let watch: FleetWatch | undefined;
  // Handlers first: a SIGTERM right after "listening" is logged must still shut down cleanly.
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    watch?.stop();
    // Each listener answers its waiting long-polls, then closes its connections; the last one closes the services.
    await Promise.allSettled(servers.map((s) => s.close()));
    await services.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  const connectionGate = new ConnectionGate(config);
  const http = await buildApp(services, { connectionGate });
  await listenOn(http, config.apiAddress, config.httpPort, 'MESHCP_API_HTTP_PORT');
  servers.push(http);
  log.info({ address: http.addresses()[0], url: urlOf('http', http) }, 'HTTP API listening');
  if (config.httpsPort !== -1) {
    const https = await buildApp(services, {
      https: { ...loadServerTls(config), handshakeTimeout: config.firstByteTimeoutMs },
      connectionGate,
    });
    await listenOn(https, config.apiAddress, config.httpsPort, 'MESHCP_API_HTTPS_PORT');
    servers.push(https);
    log.info({ address: https.addresses()[0], url: urlOf('https', https) }, 'HTTPS API listening');
  }

  if (config.diagnosticsPort !== -1) {
    const diagnostics = await buildDiagnosticsApp(services);
    await listenOn(diagnostics, config.apiAddress, config.diagnosticsPort, 'MESHCP_DIAGNOSTICS_PORT');
    servers.push(diagnostics);
    log.info(
      { address: diagnostics.addresses()[0], url: `${urlOf('http', diagnostics)}/metrics` },
      'diagnostics listening (Prometheus metrics)',
    );
  }
  watch = new FleetWatch({
    ...services,
    store: services.store.resources,
    now: () => services.clock.now(),
    dpOnlineWindowMs: config.dpOnlineWindowMs,
  });
  watch.start();
}

class ListenError extends Error {}

async function listenOn(app: FastifyInstance, host: string, port: number, variable: string): Promise<void> {
  try {
    await app.listen({ host, port });
  } catch (err) {
    const message = describeListenError(err, variable, port);
    throw message ? new ListenError(message) : err;
  }
}

/** `meshcp migrate up`, as `kuma-cp migrate up`: brings the configured store's schema up to date, then exits. */
async function migrate(args: string[]): Promise<void> {
  if (args[0] !== 'up' || args.length !== 1) throw new ConfigError('usage: meshcp migrate up');
  const config = loadConfig();
  if (config.store.type === 'sqlite') prepareDataDir(config);
  const applied = await migrateUp(config.store, config.dataDir);
  console.log(
    config.store.type === 'sqlite'
      ? 'SQLite schema is up to date (the embedded store also migrates itself at start)'
      : applied.length > 0
        ? `applied ${applied.join(', ')}`
        : 'PostgreSQL schema is already up to date',
  );
}

const [command, ...args] = process.argv.slice(2);
const run = command === 'migrate' ? () => migrate(args) : command === undefined || command === 'run' ? main : undefined;

(
  run ??
  (() => Promise.reject(new ConfigError(`unknown command "${command}": use "meshcp" (run) or "meshcp migrate up"`)))
)().catch((err) => {
  if (err instanceof ConfigError || err instanceof ListenError || err instanceof StoreStartError) {
    console.error(`meshcp: ${err.message}`);
  } else {
    console.error('meshcp failed to start:', err);
  }
  process.exit(1);
});
