import { parseDuration } from './resources/duration.js';

export interface Config {
  apiAddress: string;
  httpPort: number;
  /** -1 disables the HTTPS listener. */
  httpsPort: number;
  dataDir: string;
  localhostIsAdmin: boolean;
  secretsKey?: string;
  skipDefaultMeshCreation: boolean;
  dpOnlineWindowMs: number;
  logLevel: string;
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

function parseBool(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new ConfigError(`${name} must be "true" or "false", got "${raw}"`);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const window = env.MESHCP_DP_ONLINE_WINDOW ?? '90s';
  const dpOnlineWindowMs = parseDuration(window);
  if (dpOnlineWindowMs === null || dpOnlineWindowMs <= 0) {
    throw new ConfigError(`MESHCP_DP_ONLINE_WINDOW must be a duration like 90s, got "${window}"`);
  }
  return {
    apiAddress: env.MESHCP_API_ADDRESS || '127.0.0.1',
    httpPort: parsePort('MESHCP_API_HTTP_PORT', env.MESHCP_API_HTTP_PORT, 5681, false),
    httpsPort: parsePort('MESHCP_API_HTTPS_PORT', env.MESHCP_API_HTTPS_PORT, 5682, true),
    dataDir: env.MESHCP_DATA_DIR || './data',
    localhostIsAdmin: parseBool('MESHCP_LOCALHOST_IS_ADMIN', env.MESHCP_LOCALHOST_IS_ADMIN, true),
    secretsKey: env.MESHCP_SECRETS_KEY || undefined,
    skipDefaultMeshCreation: parseBool('MESHCP_DEFAULTS_SKIP_MESH_CREATION', env.MESHCP_DEFAULTS_SKIP_MESH_CREATION, false),
    dpOnlineWindowMs,
    logLevel: env.MESHCP_LOG_LEVEL || 'info',
  };
}
