import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { backendSecretNames, vaultChainSecretName } from '../resources/backend-secrets.js';
import type { CaBackend } from '../resources/mesh.js';
import type { DataSource } from '../resources/ca-conf.js';
import { validateVaultConf, type VaultConf } from '../resources/vault-conf.js';
import type { Violation } from '../resources/violations.js';
import { canonicalConfKey } from '../resources/ca-conf.js';
import {
  CaMaterialError,
  CaPrepareError,
  type CaBackendPlugin,
  type CaMaterial,
  type SecretSource,
  type SecretToWrite,
} from './backend.js';
import { describeChain } from './pem-chain.js';
import { loadDataSource } from './provided-backend.js';
import {
  checkVaultCredentials,
  fetchVaultCaChain,
  VaultBadAnswer,
  VaultRefused,
  VaultUnavailable,
  type VaultConnection,
} from './vault-client.js';

/*
 * A CA whose key stays in HashiCorp Vault's PKI engine. Vault's CA chain is fetched when the backend is added (or
 * its conf changes) and cached in a mesh Secret, so trust bundles, rotation rules and the status page work from the
 * store exactly as for the other types, and keep working while Vault is down. Issuance is a call to Vault.
 */

/** The mesh Secret caching Vault's CA chain, stamped with the conf it was fetched for. */

const STAMP = 'meshcp-vault-conf-sha256:';

function confStamp(backend: CaBackend): string {
  return createHash('sha256').update(canonicalConfKey('vault', backend.conf)).digest('hex');
}

function readCache(
  mesh: string,
  backend: CaBackend,
  secrets: SecretSource,
): { stamp: string; chainPem: string } | undefined {
  const data = secrets.read(mesh, vaultChainSecretName(mesh, backend.name));
  if (!data) return undefined;
  const text = data.toString();
  const firstLine = text.slice(0, text.indexOf('\n'));
  const stamp = firstLine.startsWith(STAMP) ? firstLine.slice(STAMP.length).trim() : '';
  return { stamp, chainPem: text.slice(text.indexOf('-----BEGIN')) };
}

function parsedConf(backend: CaBackend): VaultConf {
  const { conf } = validateVaultConf(backend.conf);
  if (!conf) throw new CaMaterialError(`vault backend "${backend.name}" has an invalid conf`);
  return conf;
}

/** Credentials from their data sources; each failure is a violation on its own field. */
function resolveConnection(
  mesh: string,
  conf: VaultConf,
  secrets: SecretSource,
): { connection?: VaultConnection; violations: Violation[] } {
  const violations: Violation[] = [];
  const read = (source: DataSource, field: string): string => {
    try {
      return loadDataSource(mesh, source, secrets).toString();
    } catch (err) {
      if (!(err instanceof CaMaterialError)) throw err;
      violations.push({ field, message: err.message });
      return '';
    }
  };
  const { fromCp } = conf;
  const caPem = fromCp.tls.caCert ? read(fromCp.tls.caCert, 'fromCp.tls.caCert') : undefined;
  if (caPem) {
    try {
      new X509Certificate(caPem);
    } catch {
      violations.push({
        field: 'fromCp.tls.caCert',
        message: "has to be a PEM certificate (the CA that signed Vault's TLS certificate)",
      });
    }
  }
  let auth: VaultConnection['auth'];
  if ('token' in fromCp.auth) {
    const token = read(fromCp.auth.token, 'fromCp.auth.token').trim();
    if (token === '' && violations.length === 0)
      violations.push({ field: 'fromCp.auth.token', message: 'the token is empty' });
    else if (/[\r\n\0]/.test(token))
      violations.push({ field: 'fromCp.auth.token', message: 'the token has to be one line' });
    auth = { token };
  } else {
    const clientCertPem = read(fromCp.auth.tls.clientCert, 'fromCp.auth.tls.clientCert');
    const clientKeyPem = read(fromCp.auth.tls.clientKey, 'fromCp.auth.tls.clientKey');
    if (clientCertPem && clientKeyPem) {
      try {
        if (!new X509Certificate(clientCertPem).checkPrivateKey(createPrivateKey(clientKeyPem))) {
          violations.push({
            field: 'fromCp.auth.tls.clientKey',
            message: 'does not match the public key of clientCert',
          });
        }
      } catch {
        violations.push({
          field: 'fromCp.auth.tls',
          message: 'clientCert has to be a PEM certificate and clientKey its PEM private key',
        });
      }
    }
    auth = { clientCertPem, clientKeyPem };
  }
  if (violations.length > 0) return { violations };
  return {
    connection: {
      address: fromCp.address,
      ...(fromCp.namespace ? { namespace: fromCp.namespace } : {}),
      pki: fromCp.pki,
      role: fromCp.role,
      ...(fromCp.commonName !== undefined ? { commonName: fromCp.commonName } : {}),
      tls: {
        ...(caPem ? { caPem } : {}),
        skipVerify: fromCp.tls.skipVerify,
        ...(fromCp.tls.serverName ? { serverName: fromCp.tls.serverName } : {}),
      },
      auth,
    },
    violations,
  };
}

/** The field a Vault failure is reported on: what the operator should look at first. */
function vaultViolation(err: unknown, stage: 'credentials' | 'ca'): Violation {
  if (err instanceof VaultUnavailable) return { field: 'fromCp.address', message: err.message };
  if (err instanceof VaultRefused)
    return { field: stage === 'credentials' ? 'fromCp.auth' : 'fromCp.pki', message: err.message };
  if (err instanceof VaultBadAnswer || err instanceof CaMaterialError)
    return { field: 'fromCp.pki', message: err.message };
  throw err;
}

/** Vault's chain must be CA certificates, issuer first, each signed by the next, currently valid. */
function checkChain(chainPem: string, now: Date): Violation[] {
  const blocks = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  const certs = blocks.map((b) => new X509Certificate(b));
  const problems: string[] = [];
  certs.forEach((cert, i) => {
    if (!cert.ca)
      problems.push(
        `certificate ${i} of Vault's CA chain (${cert.subject.replace(/\n/g, ', ')}) is not a CA certificate`,
      );
    if (new Date(cert.validTo) <= now)
      problems.push(`certificate ${i} of Vault's CA chain expired on ${new Date(cert.validTo).toISOString()}`);
    const next = certs[i + 1];
    if (next && !(cert.checkIssued(next) && cert.verify(next.publicKey))) {
      problems.push(`certificate ${i} of Vault's CA chain is not signed by certificate ${i + 1}`);
    }
  });
  return problems.map((message) => ({ field: 'fromCp.pki', message }));
}

export const vaultBackend: CaBackendPlugin = {
  type: 'vault',

  validateConf(backend: CaBackend): Violation[] {
    return validateVaultConf(backend.conf).violations;
  },

  validateMaterial(mesh: string, backend: CaBackend, secrets: SecretSource): Violation[] {
    return resolveConnection(mesh, parsedConf(backend), secrets).violations;
  },

  usedSecrets: backendSecretNames,

  materialExists(mesh: string, backend: CaBackend, secrets: SecretSource): boolean {
    return readCache(mesh, backend, secrets)?.stamp === confStamp(backend);
  },

  /** Contacts Vault only when the chain is not cached for this conf: a new backend or a changed conf. */
  async prepare(mesh: string, backend: CaBackend, secrets: SecretSource, now: Date): Promise<SecretToWrite[]> {
    if (this.materialExists(mesh, backend, secrets)) return [];
    const resolved = resolveConnection(mesh, parsedConf(backend), secrets);
    if (!resolved.connection) throw new CaPrepareError(resolved.violations);
    const connection = resolved.connection;
    try {
      await checkVaultCredentials(connection);
    } catch (err) {
      throw new CaPrepareError([vaultViolation(err, 'credentials')]);
    }
    let chainPem: string;
    try {
      chainPem = await fetchVaultCaChain(connection);
      describeChain(chainPem);
    } catch (err) {
      throw new CaPrepareError([vaultViolation(err, 'ca')]);
    }
    const problems = checkChain(chainPem, now);
    if (problems.length > 0) throw new CaPrepareError(problems);
    return [
      {
        name: vaultChainSecretName(mesh, backend.name),
        data: Buffer.from(`${STAMP} ${confStamp(backend)}\n${chainPem}`),
        replace: true,
      },
    ];
  },

  load(mesh: string, backend: CaBackend, secrets: SecretSource): CaMaterial {
    const cache = readCache(mesh, backend, secrets);
    if (!cache || cache.stamp !== confStamp(backend)) {
      throw new CaMaterialError(
        `the CA chain of vault backend "${backend.name}" has not been fetched from Vault for its current conf`,
      );
    }
    const resolved = resolveConnection(mesh, parsedConf(backend), secrets);
    if (!resolved.connection) {
      throw new CaMaterialError(
        `vault backend "${backend.name}": ${resolved.violations.map((v) => `${v.field}: ${v.message}`).join('; ')}`,
      );
    }
    const chain = describeChain(cache.chainPem);
    return {
      backend: backend.name,
      type: 'vault',
      trustPem: chain.trustPem,
      fingerprint: chain.fingerprint,
      intermediatesPem: chain.intermediatesPem,
      issuerChainPem: cache.chainPem,
      issuerKeyPem: '',
      notAfter: chain.issuerNotAfter,
      rootSha256: chain.rootSha256,
      vault: resolved.connection,
    };
  },
};
