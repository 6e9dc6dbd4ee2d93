import { backendSecretNames } from '../resources/backend-secrets.js';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { CaBackend } from '../resources/mesh.js';
import { validateProvidedConfShape, type DataSource } from '../resources/ca-conf.js';
import type { Violation } from '../resources/violations.js';
import { CaMaterialError, type CaBackendPlugin, type CaMaterial, type SecretSource } from './backend.js';
import { readCertificateFacts } from './certificate-facts.js';
import { describeChain } from './pem-chain.js';
import { pemDecodeAll } from './x509.js';

const MAX_FILE_BYTES = 1024 * 1024;

/** Resolves a data source; throws CaMaterialError with Kuma's `could not load data: ...` wording. */
export function loadDataSource(mesh: string, source: DataSource, secrets: SecretSource): Buffer {
  if ('secret' in source) {
    const data = secrets.read(mesh, source.secret);
    if (data === undefined) {
      throw new CaMaterialError(
        `could not load data: resource not found: type="Secret" name="${source.secret}" mesh="${mesh}"`,
      );
    }
    return data;
  }
  if ('inline' in source) return Buffer.from(source.inline, 'base64');
  if ('inlineString' in source) return Buffer.from(source.inlineString);
  try {
    // Only a regular file of sane size: a path like /dev/zero must not hang or exhaust the control plane.
    const info = statSync(source.file);
    if (!info.isFile()) throw new CaMaterialError(`could not load data: ${source.file} is not a regular file`);
    if (info.size > MAX_FILE_BYTES)
      throw new CaMaterialError(`could not load data: ${source.file} is larger than ${MAX_FILE_BYTES} bytes`);
    return readFileSync(source.file);
  } catch (err) {
    if (err instanceof CaMaterialError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : 'cannot be read';
    throw new CaMaterialError(`could not load data: open ${source.file}: ${reason}`);
  }
}

function describeKey(key: KeyObject): string | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    return (details.modulusLength ?? 0) >= 2048
      ? undefined
      : `RSA keys need at least 2048 bits, got ${details.modulusLength}`;
  }
  if (key.asymmetricKeyType === 'ec') {
    return details.namedCurve === 'prime256v1' || details.namedCurve === 'secp384r1'
      ? undefined
      : `ECDSA keys must use P-256 or P-384, got ${details.namedCurve}`;
  }
  return `key type ${key.asymmetricKeyType} is not supported (use RSA >= 2048 bits or ECDSA P-256/P-384)`;
}

const spkiOf = (key: KeyObject) => key.export({ type: 'spki', format: 'der' });

/** Checks the operator's CA the way Kuma does (key pair, CA flag, key usages), plus its validity period. */
function checkMaterial(certPem: string, keyPem: string, now: Date): Violation[] {
  const blocks = certPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) {
    return [
      { field: 'cert', message: 'not a valid TLS key pair: tls: failed to find any PEM data in certificate input' },
    ];
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyPem);
  } catch {
    return [{ field: 'cert', message: 'not a valid TLS key pair: tls: failed to find any PEM data in key input' }];
  }
  const violations: Violation[] = [];
  blocks.forEach((block, i) => {
    const field = `cert[${i}]`;
    let facts;
    try {
      facts = readCertificateFacts(pemDecodeAll(block, 'CERTIFICATE')[0]);
    } catch (err) {
      violations.push({ field, message: `not a valid x509 certificate: ${(err as Error).message}` });
      return;
    }
    if (i === 0) {
      if (!spkiOf(createPublicKey(privateKey)).equals(spkiOf(facts.x509.publicKey))) {
        violations.push({
          field: 'cert',
          message: 'not a valid TLS key pair: tls: private key does not match public key',
        });
      }
      const keyProblem = describeKey(privateKey);
      if (keyProblem) violations.push({ field: 'key', message: `unsupported CA key: ${keyProblem}` });
    }
    if (!facts.isCa) {
      violations.push({
        field,
        message: "basic constraint 'CA' must be set to 'true' (see X509-SVID: 4.1. Basic Constraints)",
      });
    }
    if (!facts.keyUsage?.has('keyCertSign')) {
      violations.push({
        field,
        message: "key usage extension 'keyCertSign' must be set (see X509-SVID: 4.3. Key Usage)",
      });
    }
    if (facts.keyUsage?.has('keyAgreement')) {
      violations.push({
        field,
        message:
          "key usage extension 'keyAgreement' must NOT be set (see X509-SVID: Appendix A. X.509 Field Reference)",
      });
    }
    if (facts.notAfter <= now) {
      violations.push({ field, message: `certificate expired on ${facts.notAfter.toISOString()}` });
    } else if (facts.notBefore > now) {
      violations.push({ field, message: `certificate is not valid before ${facts.notBefore.toISOString()}` });
    }
  });
  return violations;
}

/** A CA the operator brings: certificate chain and key from secrets, inline values or files. */
export const providedBackend: CaBackendPlugin = {
  type: 'provided',

  validateConf(backend: CaBackend): Violation[] {
    return validateProvidedConfShape(backend.conf ?? {}).violations;
  },

  validateMaterial(mesh: string, backend: CaBackend, secrets: SecretSource, now: Date): Violation[] {
    const { conf } = validateProvidedConfShape(backend.conf ?? {});
    if (!conf?.cert || !conf.key) return [];
    let cert: Buffer;
    let key: Buffer;
    try {
      cert = loadDataSource(mesh, conf.cert, secrets);
      key = loadDataSource(mesh, conf.key, secrets);
    } catch (err) {
      if (!(err instanceof CaMaterialError)) throw err;
      // As Kuma: the pair fails to load as a whole, and the first failure is reported on both fields.
      return [
        { field: 'cert', message: err.message },
        { field: 'key', message: err.message },
      ];
    }
    return checkMaterial(cert.toString(), key.toString(), now);
  },

  usedSecrets: backendSecretNames,

  materialExists(): boolean {
    return true;
  },

  async prepare() {
    return [];
  },

  load(mesh: string, backend: CaBackend, secrets: SecretSource): CaMaterial {
    const { conf } = validateProvidedConfShape(backend.conf ?? {});
    if (!conf?.cert || !conf.key) throw new CaMaterialError(`provided backend "${backend.name}" has no cert or key`);
    const certPem = loadDataSource(mesh, conf.cert, secrets).toString();
    const keyPem = loadDataSource(mesh, conf.key, secrets).toString();
    const chain = describeChain(certPem);
    return {
      backend: backend.name,
      type: 'provided',
      trustPem: chain.trustPem,
      fingerprint: chain.fingerprint,
      intermediatesPem: chain.intermediatesPem,
      issuerChainPem: certPem,
      issuerKeyPem: keyPem,
      notAfter: chain.issuerNotAfter,
      rootSha256: chain.rootSha256,
    };
  },
};
