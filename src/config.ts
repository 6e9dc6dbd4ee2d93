import { availableParallelism } from 'node:os';
import { isIP } from 'node:net';
import { parseDuration } from './resources/duration.js';
import { POSTGRES_TLS_MODES, type PostgresTlsMode, type StoreConfig } from './store/store-config.js';

/** Certificate profiles (MESHCP_CERT_PROFILE): see src/dataplanes/cert-profile.ts. */
export const CERT_PROFILES = ['kuma', 'spiffe'] as const;
export type CertProfile = (typeof CERT_PROFILES)[number];

/** A DNS name, or a wildcard one, as a server certificate may name it. */
export const DNS_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** MESHCP_API_HTTPS_HOSTNAMES: comma-separated DNS names and IP addresses; returns an error message for a bad entry. */
function parseHostnameList(raw: string | undefined): { names: string[] } | { error: string } {
  const names = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const name of names) {
    if (isIP(name) === 0 && (!DNS_NAME.test(name) || name.length > 253)) {
      return { error: `MESHCP_API_HTTPS_HOSTNAMES: "${name}" is neither a DNS name nor an IP address` };
    }
  }
  return { names };
}

export type { StoreConfig } from './store/store-config.js';

export interface Config {
  apiAddress: string;
  httpPort: number;
  /** -1 disables the HTTPS listener. */
  httpsPort: number;
  dataDir: string;
  localhostIsAdmin: boolean;
  secretsKey?: string;
  /** The admin token, the same on every instance (else one is generated into the data dir). */
  adminToken?: string;
  skipDefaultMeshCreation: boolean;
  dpOnlineWindowMs: number;
  logLevel: string;
  /** Certificate requests per minute allowed to one dataplane token (admins are not limited). */
  dpCertRequestsPerMinute: number;
  /** Worker threads that verify CSRs and sign certificates; 0 signs on the main thread. */
  signingWorkers: number;
  /** Refuse dataplane tokens that are not bound to a `kuma.io/service` value (issuing and using them). */
  dpTokenRequireServiceTag: boolean;
  /** Trust-bundle long-polls that may wait at once, process-wide. */
  maxLongPolls: number;
  /** PEM files for the HTTPS listener; generated into the data dir when unset. */
  httpsCertFile?: string;
  httpsKeyFile?: string;
  /** Connection limits of the API listeners (src/api/connection-gate.ts) and Node's HTTP timeouts. */
  maxConnections: number;
  maxConnectionsPerAddress: number;
  firstByteTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  idleTimeoutMs: number;
  /** URI SANs of dataplane certificates: Kuma's (default) or exactly one SPIFFE ID (strict X.509-SVID verifiers). */
  certProfile: CertProfile;
  /** Prometheus `/metrics` listener (src/api/diagnostics.ts); -1 disables it, 0 picks a free port. */
  diagnosticsPort: number;
  /** One log line per API request at `info` (default: at `debug`). */
  logRequests: boolean;
  /** `pretty` for people, `json` for collectors; unset: pretty when stdout is a terminal. */
  logFormat?: 'json' | 'pretty';
  /** Extra DNS names and IPs of the generated HTTPS certificate (MESHCP_API_HTTPS_HOSTNAMES). */
  httpsHostnames: string[];
  /** Where resources and facts live: one SQLite file in the data dir (default), or PostgreSQL shared by instances. */
  store: StoreConfig;
}

function parseAdminToken(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  if (raw.trim().length < 32)
    throw new ConfigError('MESHCP_ADMIN_TOKEN must be at least 32 characters (openssl rand -base64 32)');
  return raw.trim();
}

/** Kuma's variable names (KUMA_STORE_POSTGRES_*), with our prefix. */
function parseStore(env: NodeJS.ProcessEnv, secretsKey: string | undefined): StoreConfig {
  const type = env.MESHCP_STORE_TYPE || 'sqlite';
  if (type === 'sqlite') return { type };
  if (type !== 'postgres') throw new ConfigError(`MESHCP_STORE_TYPE must be "sqlite" or "postgres", got "${type}"`);
  // Each instance would otherwise make its own key file, and secrets written by one would not decrypt on another.
  if (!secretsKey) {
    throw new ConfigError(
      'MESHCP_SECRETS_KEY must be set with MESHCP_STORE_TYPE=postgres: every instance needs the same key (openssl rand -base64 32)',
    );
  }
  const tlsMode = env.MESHCP_STORE_POSTGRES_TLS_MODE || 'disable';
  if (!(POSTGRES_TLS_MODES as readonly string[]).includes(tlsMode)) {
    throw new ConfigError(
      `MESHCP_STORE_POSTGRES_TLS_MODE must be one of ${POSTGRES_TLS_MODES.join(', ')}, got "${tlsMode}"`,
    );
  }
  if ((tlsMode === 'verify-ca' || tlsMode === 'verify-full') && !env.MESHCP_STORE_POSTGRES_TLS_CA_FILE) {
    throw new ConfigError(
      `MESHCP_STORE_POSTGRES_TLS_CA_FILE must name the CA of the server with MESHCP_STORE_POSTGRES_TLS_MODE=${tlsMode}`,
    );
  }
  return {
    type,
    host: env.MESHCP_STORE_POSTGRES_HOST || '127.0.0.1',
    port: parsePort('MESHCP_STORE_POSTGRES_PORT', env.MESHCP_STORE_POSTGRES_PORT, 5432, false),
    user: env.MESHCP_STORE_POSTGRES_USER || 'meshcp',
    password: env.MESHCP_STORE_POSTGRES_PASSWORD || undefined,
    dbName: env.MESHCP_STORE_POSTGRES_DB_NAME || 'meshcp',
    tlsMode: tlsMode as PostgresTlsMode,
    tlsCaFile: env.MESHCP_STORE_POSTGRES_TLS_CA_FILE || undefined,
    maxOpenConnections: parsePositiveInt(
      'MESHCP_STORE_POSTGRES_MAX_OPEN_CONNECTIONS',
      env.MESHCP_STORE_POSTGRES_MAX_OPEN_CONNECTIONS,
      20,
    ),
    autoMigrate: parseBool('MESHCP_STORE_POSTGRES_AUTO_MIGRATE', env.MESHCP_STORE_POSTGRES_AUTO_MIGRATE, false),
  };
}

export class ConfigError extends Error {}

function parsePort(name: string, raw: string | undefined, fallback: number, allowDisable: boolean): number {
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  const min = allowDisable ? -1 : 0;
  if (!Number.isInteger(port) || port < min || port > 65535) {
    throw new ConfigError(`${name} must be an integer port between ${min} and 65535, got "${raw}"`);
  }
  return port;
}

function parsePositiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new ConfigError(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

function parseNonNegativeInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw new ConfigError(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

function parseTimeout(name: string, raw: string | undefined, fallback: string): number {
  const text = raw === undefined || raw === '' ? fallback : raw;
  const ms = parseDuration(text);
  if (ms === null || ms <= 0)
    throw new ConfigError(`${name} must be a positive duration like ${fallback}, got "${text}"`);
  return ms;
}

function parseCount(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 64)
    throw new ConfigError(`${name} must be an integer from 0 to 64, got "${raw}"`);
  return value;
}

function parseBool(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new ConfigError(`${name} must be "true" or "false", got "${raw}"`);
}

function parseCertProfile(raw: string | undefined): CertProfile {
  if (raw === undefined || raw === '') return 'kuma';
  if ((CERT_PROFILES as readonly string[]).includes(raw)) return raw as CertProfile;
  throw new ConfigError(`MESHCP_CERT_PROFILE must be one of ${CERT_PROFILES.join(', ')}, got "${raw}"`);
}

function parseLogFormat(raw: string | undefined): 'json' | 'pretty' | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'json' || raw === 'pretty') return raw;
  throw new ConfigError(`MESHCP_LOG_FORMAT must be "json" or "pretty", got "${raw}"`);
}

function parseHostnames(raw: string | undefined): string[] {
  const parsed = parseHostnameList(raw);
  if ('error' in parsed) throw new ConfigError(parsed.error);
  return parsed.names;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const window = env.MESHCP_DP_ONLINE_WINDOW ?? '90s';
  const dpOnlineWindowMs = parseDuration(window);
  if (dpOnlineWindowMs === null || dpOnlineWindowMs <= 0) {
    throw new ConfigError(`MESHCP_DP_ONLINE_WINDOW must be a duration like 90s, got "${window}"`);
  }
  const config: Config = {
    apiAddress: env.MESHCP_API_ADDRESS || '127.0.0.1',
    httpPort: parsePort('MESHCP_API_HTTP_PORT', env.MESHCP_API_HTTP_PORT, 5681, false),
    httpsPort: parsePort('MESHCP_API_HTTPS_PORT', env.MESHCP_API_HTTPS_PORT, 5682, true),
    dataDir: env.MESHCP_DATA_DIR || './data',
    localhostIsAdmin: parseBool('MESHCP_LOCALHOST_IS_ADMIN', env.MESHCP_LOCALHOST_IS_ADMIN, true),
    secretsKey: env.MESHCP_SECRETS_KEY || undefined,
    adminToken: parseAdminToken(env.MESHCP_ADMIN_TOKEN),
    skipDefaultMeshCreation: parseBool(
      'MESHCP_DEFAULTS_SKIP_MESH_CREATION',
      env.MESHCP_DEFAULTS_SKIP_MESH_CREATION,
      false,
    ),
    dpOnlineWindowMs,
    logLevel: env.MESHCP_LOG_LEVEL || 'info',
    dpCertRequestsPerMinute: parsePositiveInt(
      'MESHCP_DP_CERT_REQUESTS_PER_MINUTE',
      env.MESHCP_DP_CERT_REQUESTS_PER_MINUTE,
      30,
    ),
    // One core stays with the main thread (HTTP, JSON, SQLite): measured, 2 workers on 2 cores sign 17% less than 1.
    signingWorkers: parseCount(
      'MESHCP_SIGNING_WORKERS',
      env.MESHCP_SIGNING_WORKERS,
      Math.min(4, Math.max(1, availableParallelism() - 1)),
    ),
    dpTokenRequireServiceTag: parseBool(
      'MESHCP_DP_TOKEN_REQUIRE_SERVICE_TAG',
      env.MESHCP_DP_TOKEN_REQUIRE_SERVICE_TAG,
      false,
    ),
    maxLongPolls: parsePositiveInt('MESHCP_MAX_LONG_POLLS', env.MESHCP_MAX_LONG_POLLS, 10_000),
    httpsCertFile: env.MESHCP_API_HTTPS_CERT_FILE || undefined,
    httpsKeyFile: env.MESHCP_API_HTTPS_KEY_FILE || undefined,
    certProfile: parseCertProfile(env.MESHCP_CERT_PROFILE),
    diagnosticsPort: parsePort('MESHCP_DIAGNOSTICS_PORT', env.MESHCP_DIAGNOSTICS_PORT, 5680, true),
    logRequests: parseBool('MESHCP_LOG_REQUESTS', env.MESHCP_LOG_REQUESTS, false),
    logFormat: parseLogFormat(env.MESHCP_LOG_FORMAT),
    httpsHostnames: parseHostnames(env.MESHCP_API_HTTPS_HOSTNAMES),
    store: parseStore(env, env.MESHCP_SECRETS_KEY || undefined),
    maxConnections: parsePositiveInt('MESHCP_API_MAX_CONNECTIONS', env.MESHCP_API_MAX_CONNECTIONS, 15_000),
    maxConnectionsPerAddress: parseNonNegativeInt(
      'MESHCP_API_MAX_CONNECTIONS_PER_ADDRESS',
      env.MESHCP_API_MAX_CONNECTIONS_PER_ADDRESS,
      1_024,
    ),
    firstByteTimeoutMs: parseTimeout('MESHCP_API_FIRST_BYTE_TIMEOUT', env.MESHCP_API_FIRST_BYTE_TIMEOUT, '10s'),
    headersTimeoutMs: parseTimeout('MESHCP_API_HEADERS_TIMEOUT', env.MESHCP_API_HEADERS_TIMEOUT, '10s'),
    // Longer than clients keep idle sockets (Node's agent: 5 s; load balancers: 60 s), so the server is never the one
    // closing a socket a client is about to reuse (the client would see "socket hang up").
    keepAliveTimeoutMs: parseTimeout('MESHCP_API_KEEP_ALIVE_TIMEOUT', env.MESHCP_API_KEEP_ALIVE_TIMEOUT, '65s'),
    // Above the 60 s long-poll bound: a waiting poll's socket is silent until it is answered.
    idleTimeoutMs: parseTimeout('MESHCP_API_IDLE_TIMEOUT', env.MESHCP_API_IDLE_TIMEOUT, '90s'),
  };
  if (config.idleTimeoutMs <= 60_000)
    throw new ConfigError('MESHCP_API_IDLE_TIMEOUT must be above the 60s trust-bundle long-poll bound');
  if (Boolean(config.httpsCertFile) !== Boolean(config.httpsKeyFile)) {
    throw new ConfigError('MESHCP_API_HTTPS_CERT_FILE and MESHCP_API_HTTPS_KEY_FILE must be set together');
  }
  return config;
}
