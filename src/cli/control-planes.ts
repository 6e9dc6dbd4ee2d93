/**
 * kumactl's control-plane contexts in meshctl's config file: a list of named control planes and the current one.
 * The flat keys (address, token, tokenFile, caCert) of older files still work and act as an unnamed entry.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parse, stringify } from 'yaml';

/** A connection as a config file (or one of its contexts) names it. */
export interface ConfigFile {
  /** One address, several comma separated, or a list: instances of one control plane, tried in order. */
  address?: string | string[];
  token?: string;
  tokenFile?: string;
  caCert?: string;
}

export class ConfigFileError extends Error {}

export interface ControlPlaneEntry extends ConfigFile {
  name: string;
  /** Several (a list) for the instances of one HA control plane. */
  address: string | string[];
}

export interface ControlPlanesFile extends ConfigFile {
  controlPlanes?: ControlPlaneEntry[];
  currentContext?: string;
}

export function readControlPlanes(file: string): ControlPlanesFile {
  if (!existsSync(file)) return {};
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigFileError(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigFileError(`${file}: expected a map`);
  return doc as ControlPlanesFile;
}

/** Written whole to a temp file and renamed: a crash never leaves half a config; 0600, it may hold tokens. */
export function writeControlPlanes(file: string, config: ControlPlanesFile): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, stringify(config), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/** The entry named by `currentContext`, as flat connection settings (undefined: use the flat keys). */
export function currentControlPlane(config: ControlPlanesFile, file: string): ControlPlaneEntry | undefined {
  if (!config.currentContext) return undefined;
  const entry = (config.controlPlanes ?? []).find((cp) => cp.name === config.currentContext);
  if (!entry) throw new ConfigFileError(`${file}: currentContext "${config.currentContext}" is not in controlPlanes`);
  return entry;
}

export function addControlPlane(
  config: ControlPlanesFile,
  entry: ControlPlaneEntry,
  overwrite: boolean,
): ControlPlanesFile {
  const list = config.controlPlanes ?? [];
  if (list.some((cp) => cp.name === entry.name) && !overwrite) {
    throw new ConfigFileError(`control plane "${entry.name}" already exists: pass --overwrite to replace it`);
  }
  return {
    ...config,
    controlPlanes: [...list.filter((cp) => cp.name !== entry.name), entry],
    currentContext: entry.name,
  };
}

export function switchControlPlane(config: ControlPlanesFile, name: string): ControlPlanesFile {
  if (!(config.controlPlanes ?? []).some((cp) => cp.name === name)) throw unknown(config, name);
  return { ...config, currentContext: name };
}

export function removeControlPlane(config: ControlPlanesFile, name: string): ControlPlanesFile {
  const list = config.controlPlanes ?? [];
  if (!list.some((cp) => cp.name === name)) throw unknown(config, name);
  const rest = list.filter((cp) => cp.name !== name);
  const next: ControlPlanesFile = { ...config, controlPlanes: rest };
  if (config.currentContext === name) {
    if (rest.length > 0) next.currentContext = rest[0].name;
    else delete next.currentContext;
  }
  return next;
}

function unknown(config: ControlPlanesFile, name: string): ConfigFileError {
  const names = (config.controlPlanes ?? []).map((cp) => cp.name);
  return new ConfigFileError(
    `there is no control plane "${name}"${names.length ? ` (configured: ${names.join(', ')})` : ' (none configured: meshctl config control-planes add)'}`,
  );
}
