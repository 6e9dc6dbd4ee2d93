import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createRootCaCertificate } from '../../src/x509/x509.js';

interface EcdsaRootCa {
  certPem: string;
  keyPem: string;
  publicKey: KeyObject;
}

/** A self-signed P-256 root made by our own X.509 code (fast: tests that need hundreds of distinct CAs use it). */
export function ecdsaRootCa(cn: string, lifetimeMs = 86_400_000, now = Date.now()): EcdsaRootCa {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const certPem = createRootCaCertificate({
    privateKey,
    publicKey,
    subject: { O: 'meshcp test', OU: 'test CA', CN: cn },
    uriSan: `spiffe://${cn}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + lifetimeMs),
  });
  return { certPem, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, publicKey };
}
