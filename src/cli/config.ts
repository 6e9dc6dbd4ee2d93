/**
 * Where meshctl finds the control plane: flags, then MESHCP_ADDRESS / MESHCP_TOKEN (or MESHCP_TOKEN_FILE), then a config file
 * (MESHCTL_CONFIG, else ~/.config/meshcp/meshctl.yaml), then the default address.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseAddressList } from '../client/addresses.js';
import { ConfigFileError, currentControlPlane, type ConfigFile, type ControlPlanesFile } from './control-planes.js';

export { ConfigFileError, type ConfigFile };

export const DEFAULT_ADDRESS = 'http://127.0.0.1:5681';

export interface ConnectionFlags {
  /** Each value may hold several addresses, comma separated (the flag may be repeated). */
  address?: string | string[];
  token?: string;
  tokenFile?: string;
  caCert?: string;
  insecureSkipVerify?: boolean;
}

export interface ResolvedConnection {
  /** Tried in order; the first that answers serves the command. */
  addresses: string[];
  token?: string;
  caPem?: string;
  insecure: boolean;
  /** Where the address came from, for error messages. */
  source: 'flag' | 'env' | 'config' | 'default';
  configFile?: string;
}

/** The config file path meshctl reads (it need not exist). */
export function configFilePath(env: NodeJS.ProcessEnv, home: string = homedir()): string {
  if (env.MESHCTL_CONFIG) return env.MESHCTL_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(home, '.config');
  return join(base, 'meshcp', 'meshctl.yaml');
}

export function parseConfigFile(text: string, file: string): ConfigFile {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ConfigFileError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new ConfigFileError(`${file}: expected a map with address and token`);
  const contexts = doc as ControlPlanesFile;
  const current = currentControlPlane(contexts, file);
  if (current) doc = current;
  const out: ConfigFile = {};
  for (const key of ['address', 'token', 'tokenFile', 'caCert'] as const) {
    const value = (doc as Record<string, unknown>)[key];
    if (value === undefined || value === null) continue;
    if (key === 'address' && Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')) {
      out.address = value as string[];
      continue;
    }
    if (typeof value !== 'string')
      throw new ConfigFileError(`${file}: ${key} must be a string${key === 'address' ? ' or a list of strings' : ''}`);
    out[key] = value;
  }
  return out;
}

export interface ResolveDeps {
  env: NodeJS.ProcessEnv;
  readFile?: (path: string) => string;
  exists?: (path: string) => boolean;
  home?: string;
}

/** Resolves address, token and CA in precedence order: flag > env > config file > default. */
export function resolveConnection(flags: ConnectionFlags, deps: ResolveDeps): ResolvedConnection {
  const read = deps.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const exists = deps.exists ?? existsSync;
  const file = configFilePath(deps.env, deps.home);
  let config: ConfigFile = {};
  let configFile: string | undefined;
  if (exists(file)) {
    config = parseConfigFile(read(file), file);
    configFile = file;
  } else if (deps.env.MESHCTL_CONFIG) {
    throw new ConfigFileError(`MESHCTL_CONFIG points to ${file}, which does not exist`);
  }

  let address: string | string[] = DEFAULT_ADDRESS;
  let source: ResolvedConnection['source'] = 'default';
  if (flags.address !== undefined && flags.address.length > 0) [address, source] = [flags.address, 'flag'];
  else if (deps.env.MESHCP_ADDRESS) [address, source] = [deps.env.MESHCP_ADDRESS, 'env'];
  else if (config.address) [address, source] = [config.address, 'config'];

  const readToken = (path: string) => {
    if (!exists(path))
      throw new ConfigFileError(
        `the token file ${path} does not exist (the admin token is <data dir>/admin-token on the control plane's host)`,
      );
    return read(path).trim();
  };
  let token: string | undefined;
  if (flags.token) token = flags.token;
  else if (flags.tokenFile) token = readToken(flags.tokenFile);
  else if (deps.env.MESHCP_TOKEN) token = deps.env.MESHCP_TOKEN;
  else if (deps.env.MESHCP_TOKEN_FILE) token = readToken(deps.env.MESHCP_TOKEN_FILE);
  else if (config.token) token = config.token;
  else if (config.tokenFile) token = readToken(config.tokenFile);

  const caFile = flags.caCert ?? deps.env.MESHCP_CA_CERT ?? config.caCert;
  return {
    addresses: addressesFrom(address, source, configFile),
    ...(token ? { token } : {}),
    ...(caFile ? { caPem: read(caFile) } : {}),
    insecure: flags.insecureSkipVerify === true,
    source,
    ...(configFile ? { configFile } : {}),
  };
}

function addressesFrom(
  value: string | string[],
  source: ResolvedConnection['source'],
  configFile: string | undefined,
): string[] {
  try {
    return parseAddressList(value);
  } catch (err) {
    const where = {
      flag: '--address',
      env: 'MESHCP_ADDRESS',
      config: `${configFile}: address`,
      default: 'the default address',
    }[source];
    throw new ConfigFileError(`${where}: ${(err as Error).message}`);
  }
}
