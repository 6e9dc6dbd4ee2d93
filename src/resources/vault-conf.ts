import { CONVERT_ERROR, notAnObject, validateDataSource, type ConfResult, type DataSource } from './ca-conf.js';
import { stripNulls, type Violation } from './violations.js';

/*
 * Conf of a `vault` CA backend, in Kong Mesh's shape: everything under `fromCp` (the control plane talks to Vault;
 * dataplanes never do). Credentials are data sources like a provided backend's cert and key.
 */

export interface VaultConf {
  fromCp: {
    address: string;
    agentAddress?: string;
    namespace?: string;
    tls: { caCert?: DataSource; skipVerify: boolean; serverName?: string };
    auth: { token: DataSource } | { tls: { clientCert: DataSource; clientKey: DataSource } };
    pki: string;
    role: string;
    commonName?: string;
  };
}

/** `{{ tag "name" }}` is the one template action: the value of that tag on the Dataplane. */
export const TAG_ACTION = /\{\{\s*tag\s+"([^"]+)"\s*\}\}/g;

type Json = Record<string, unknown>;

function unknownFields(record: Json, known: string[], at: string, out: Violation[]): void {
  for (const key of Object.keys(record)) {
    if (!known.includes(key)) out.push({ field: `${at}.${key}`, message: `unknown field ${JSON.stringify(key)}` });
  }
}

function optionalString(record: Json, key: string, at: string, out: Violation[]): string | undefined {
  const value = record[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    out.push({ field: `${at}.${key}`, message: 'has to be a string' });
    return undefined;
  }
  return value;
}

function requiredString(record: Json, key: string, at: string, out: Violation[]): string {
  const value = optionalString(record, key, at, out);
  if (value === undefined && record[key] === undefined)
    out.push({ field: `${at}.${key}`, message: 'has to be defined' });
  else if (value === '') out.push({ field: `${at}.${key}`, message: 'cannot be empty' });
  return value ?? '';
}

function objectAt(record: Json, key: string, at: string, out: Violation[], required: boolean): Json | undefined {
  const value = record[key];
  if (value === undefined) {
    if (required) out.push({ field: `${at}.${key}`, message: 'has to be defined' });
    return undefined;
  }
  if (notAnObject(value)) {
    out.push({ field: `${at}.${key}`, message: 'has to be an object' });
    return undefined;
  }
  return value as Json;
}

function checkAddress(address: string, out: Violation[]): void {
  if (address === '') return;
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    out.push({ field: 'fromCp.address', message: 'has to be a URL such as https://vault.example:8200' });
    return;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    out.push({ field: 'fromCp.address', message: 'has to use https (or http for a local Vault agent)' });
  } else if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    out.push({
      field: 'fromCp.address',
      message: 'has to be scheme, host and port only (the API path /v1 is added by meshcp)',
    });
  }
}

/** A mount path: segments of letters, digits, `-`, `_`, `.`; no empty segment, no `..`, no leading or trailing `/`. */
function checkPath(value: string, field: string, out: Violation[]): void {
  if (value === '') return;
  const segments = value.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..' || !/^[A-Za-z0-9._-]+$/.test(s))) {
    out.push({
      field,
      message: 'has to be a Vault path: segments of letters, digits, ".", "-" and "_" separated by "/"',
    });
  }
}

function checkCommonName(template: string, out: Violation[]): void {
  const withoutActions = template.replace(TAG_ACTION, '');
  if (withoutActions.includes('{{') || withoutActions.includes('}}')) {
    out.push({ field: 'fromCp.commonName', message: 'the only template action supported is {{ tag "<tag name>" }}' });
  } else if (template.trim() === '') {
    out.push({ field: 'fromCp.commonName', message: 'cannot be empty (leave it out to send no common name)' });
  }
}

/** Shape checks of a vault backend's conf; loading credentials and contacting Vault are the backend's job. */
export function validateVaultConf(conf: unknown): ConfResult<VaultConf> {
  const input = conf === undefined || conf === null ? {} : stripNulls(conf);
  if (notAnObject(input)) return { violations: [{ field: '', message: CONVERT_ERROR }] };
  const out: Violation[] = [];
  const record = input as Json;
  unknownFields(record, ['fromCp'], '', out);
  const fromCp = objectAt(record, 'fromCp', '', out, true);
  // unknownFields/objectAt root paths at '' produce '.x': strip that leading dot.
  const fix = () => out.forEach((v) => (v.field = v.field.replace(/^\./, '')));
  if (!fromCp) {
    fix();
    return { violations: out };
  }
  const at = 'fromCp';
  unknownFields(fromCp, ['address', 'agentAddress', 'namespace', 'tls', 'auth', 'pki', 'role', 'commonName'], at, out);
  const address = requiredString(fromCp, 'address', at, out);
  checkAddress(address, out);
  const agentAddress = optionalString(fromCp, 'agentAddress', at, out);
  if (agentAddress)
    out.push({
      field: `${at}.agentAddress`,
      message: 'is not supported: meshcp dataplanes never talk to Vault (leave it empty)',
    });
  const namespace = optionalString(fromCp, 'namespace', at, out);
  if (namespace) checkPath(namespace.replace(/\/$/, ''), `${at}.namespace`, out);
  const pki = requiredString(fromCp, 'pki', at, out);
  checkPath(pki, `${at}.pki`, out);
  const role = requiredString(fromCp, 'role', at, out);
  checkPath(role, `${at}.role`, out);
  if (role.includes('/')) out.push({ field: `${at}.role`, message: 'has to be a role name, without "/"' });
  const commonName = optionalString(fromCp, 'commonName', at, out);
  if (commonName !== undefined) checkCommonName(commonName, out);

  const tlsIn = objectAt(fromCp, 'tls', at, out, false) ?? {};
  unknownFields(tlsIn, ['caCert', 'skipVerify', 'serverName'], `${at}.tls`, out);
  const caCert = tlsIn.caCert === undefined ? undefined : validateDataSource(`${at}.tls.caCert`, tlsIn.caCert, out);
  const skipVerify = tlsIn.skipVerify ?? false;
  if (typeof skipVerify !== 'boolean') out.push({ field: `${at}.tls.skipVerify`, message: 'has to be a boolean' });
  const serverName = optionalString(tlsIn, 'serverName', `${at}.tls`, out);

  let auth: VaultConf['fromCp']['auth'] | undefined;
  const authIn = objectAt(fromCp, 'auth', at, out, true);
  if (authIn) {
    unknownFields(authIn, ['token', 'tls'], `${at}.auth`, out);
    const chosen = ['token', 'tls'].filter((k) => authIn[k] !== undefined);
    if (chosen.length !== 1) {
      out.push({ field: `${at}.auth`, message: 'exactly one of token, tls has to be defined' });
    } else if (chosen[0] === 'token') {
      const token = validateDataSource(`${at}.auth.token`, authIn.token, out);
      if (token) auth = { token };
    } else {
      const tlsAuth = objectAt(authIn, 'tls', `${at}.auth`, out, true);
      if (tlsAuth) {
        unknownFields(tlsAuth, ['clientCert', 'clientKey'], `${at}.auth.tls`, out);
        const clientCert = validateDataSource(`${at}.auth.tls.clientCert`, tlsAuth.clientCert, out);
        const clientKey = validateDataSource(`${at}.auth.tls.clientKey`, tlsAuth.clientKey, out);
        if (clientCert && clientKey) auth = { tls: { clientCert, clientKey } };
      }
    }
  }
  fix();
  if (out.length > 0 || !auth) return { violations: out };
  return {
    conf: {
      fromCp: {
        address: address.replace(/\/+$/, ''),
        ...(namespace ? { namespace } : {}),
        tls: { ...(caCert ? { caCert } : {}), skipVerify: skipVerify === true, ...(serverName ? { serverName } : {}) },
        auth,
        pki,
        role,
        ...(commonName !== undefined ? { commonName } : {}),
      },
    },
    violations: [],
  };
}

/** Names of the mesh Secrets a vault conf reads (credentials), for the secret-in-use rule. */
export function vaultConfSecretNames(conf: VaultConf): string[] {
  const { tls, auth } = conf.fromCp;
  const sources = [tls.caCert, ...('token' in auth ? [auth.token] : [auth.tls.clientCert, auth.tls.clientKey])];
  return [...new Set(sources.flatMap((s) => (s && 'secret' in s ? [s.secret] : [])))];
}
