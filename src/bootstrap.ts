import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { Config } from './config.js';
import { systemClock, type Clock } from './domain/clock.js';
import { createSelfSignedServerCertificate } from './ca/x509.js';
import { namesKey, serverCertNames } from './ops/server-cert-names.js';

/** Paths pino must never print, wherever they appear in a logged object. */
export const REDACTED_PATHS = [
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'privateKey',
  '*.privateKey',
  'data',
  '*.data',
  'csr',
  '*.csr',
  'key',
  '*.key',
  'token',
  '*.token',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  // ISO times, so a JSON log line is readable as it stands (pino's default is epoch milliseconds).
  return pino(
    { level, timestamp: pino.stdTimeFunctions.isoTime, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } },
    destination,
  );
}

/** A file created once with mode 0600; later starts read it back. */
function readOrCreatePrivateFile(file: string, create: () => string): { value: string; created: boolean } {
  if (existsSync(file)) {
    chmodSync(file, 0o600);
    return { value: readFileSync(file, 'utf8').trim(), created: false };
  }
  const value = create();
  writeFileSync(file, value + '\n', { mode: 0o600, flag: 'wx' });
  return { value, created: true };
}

export function prepareDataDir(config: Config): void {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
}

/**
 * The data directory's mode when other users may enter or list it (an existing volume or a hand-made ./data; meshcp
 * creates it 0700), else undefined. Its files are 0600 either way, but their names and sizes show, and a directory
 * others can write to lets them swap files. Only a warning: the operator may share the directory on purpose.
 */
export function looseDataDirMode(dataDir: string): string | undefined {
  const mode = statSync(dataDir).mode & 0o777;
  return (mode & 0o077) === 0 ? undefined : '0' + mode.toString(8);
}

export function loadAdminToken(config: Config, log: Logger): string {
  if (config.adminToken) {
    log.info('admin token from MESHCP_ADMIN_TOKEN');
    return config.adminToken;
  }
  const file = join(config.dataDir, 'admin-token');
  const { value, created } = readOrCreatePrivateFile(file, () => randomBytes(32).toString('base64url'));
  log.info(
    { file },
    created ? 'admin token written (use it as "Authorization: Bearer <token>")' : 'admin token loaded',
  );
  return value;
}

export function loadInstanceId(config: Config): string {
  return readOrCreatePrivateFile(join(config.dataDir, 'instance-id'), () => randomUUID()).value;
}

/** The HTTPS listener's certificate: from the configured files, or generated once into the data dir (ECDSA P-256, 1 year). */
export function loadServerTls(config: Config, clock: Clock = systemClock): { key: string; cert: string } {
  if (config.httpsCertFile && config.httpsKeyFile) {
    return { key: readFileSync(config.httpsKeyFile, 'utf8'), cert: readFileSync(config.httpsCertFile, 'utf8') };
  }
  const keyFile = join(config.dataDir, 'server-key.pem');
  const certFile = join(config.dataDir, 'server-cert.pem');
  // Regenerated when the names it must carry change (MESHCP_API_HTTPS_HOSTNAMES, the bind address, the interfaces).
  const names = serverCertNames(config.apiAddress, config.httpsHostnames);
  const namesFile = join(config.dataDir, 'server-cert-names');
  const namesChanged = !existsSync(namesFile) || readFileSync(namesFile, 'utf8') !== namesKey(names);
  if (!existsSync(keyFile) || !existsSync(certFile) || namesChanged) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const now = clock.now();
    const cert = createSelfSignedServerCertificate({
      privateKey,
      publicKey,
      commonName: 'meshcp',
      dnsNames: names.dnsNames,
      ipAddresses: names.ipAddresses,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 365 * 24 * 3600_000),
    });
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
    writeFileSync(certFile, cert, { mode: 0o644 });
    writeFileSync(namesFile, namesKey(names), { mode: 0o644 });
  }
  return { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8') };
}
