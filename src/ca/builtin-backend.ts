import { backendSecretNames } from '../resources/backend-secrets.js';
import { CLOCK_SKEW_MS } from '../domain/clock.js';
import type { RsaKeySource } from './keys.js';
import { builtinCertSecretName, builtinKeySecretName, type CaBackend } from '../resources/mesh.js';
import { effectiveCaExpirationMs, effectiveRsaBits, validateBuiltinConf } from '../resources/ca-conf.js';
import type { Violation } from '../resources/violations.js';
import {
  CaMaterialError,
  type CaBackendPlugin,
  type CaMaterial,
  type SecretSource,
  type SecretToWrite,
} from './backend.js';
import { describeChain } from './pem-chain.js';
import { createRootCaCertificate } from './x509.js';

/** A root CA the control plane generates once per backend and keeps in two mesh secrets. */
export const builtinBackend: CaBackendPlugin = {
  type: 'builtin',

  validateConf(backend: CaBackend): Violation[] {
    return validateBuiltinConf(backend.conf ?? {}).violations;
  },

  validateMaterial(): Violation[] {
    return [];
  },

  usedSecrets: backendSecretNames,

  materialExists(mesh: string, backend: CaBackend, secrets: SecretSource): boolean {
    return (
      secrets.read(mesh, builtinCertSecretName(mesh, backend.name)) !== undefined &&
      secrets.read(mesh, builtinKeySecretName(mesh, backend.name)) !== undefined
    );
  },

  async prepare(
    mesh: string,
    backend: CaBackend,
    secrets: SecretSource,
    at: Date,
    rsaKeys: RsaKeySource,
  ): Promise<SecretToWrite[]> {
    if (this.materialExists(mesh, backend, secrets)) return [];
    const { conf } = validateBuiltinConf(backend.conf ?? {});
    const { privateKey, publicKey } = await rsaKeys(effectiveRsaBits(conf));
    const now = at.getTime();
    const certPem = createRootCaCertificate({
      privateKey,
      publicKey,
      subject: { O: 'meshcp', OU: 'Mesh', CN: mesh },
      uriSan: `spiffe://${mesh}`,
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(now + effectiveCaExpirationMs(conf)),
    });
    const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    return [
      { name: builtinCertSecretName(mesh, backend.name), data: Buffer.from(certPem) },
      { name: builtinKeySecretName(mesh, backend.name), data: Buffer.from(keyPem) },
    ];
  },

  load(mesh: string, backend: CaBackend, secrets: SecretSource): CaMaterial {
    const cert = secrets.read(mesh, builtinCertSecretName(mesh, backend.name));
    const key = secrets.read(mesh, builtinKeySecretName(mesh, backend.name));
    if (!cert || !key) {
      throw new CaMaterialError(`the CA of builtin backend "${backend.name}" in mesh "${mesh}" does not exist`);
    }
    const chain = describeChain(cert.toString());
    return {
      backend: backend.name,
      type: 'builtin',
      trustPem: chain.trustPem,
      fingerprint: chain.fingerprint,
      intermediatesPem: chain.intermediatesPem,
      issuerChainPem: cert.toString(),
      issuerKeyPem: key.toString(),
      notAfter: chain.issuerNotAfter,
      rootSha256: chain.rootSha256,
    };
  },
};
