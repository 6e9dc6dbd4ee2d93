import { X509Certificate } from 'node:crypto';
import { CaMaterialError } from './backend.js';
import { fingerprintOf } from './certificate-facts.js';
import { pemDecodeAll, pemEncode } from './x509.js';

export type ChainDescription = ReturnType<typeof describeUncached>;

const described = new Map<string, ChainDescription>();
const MAX_DESCRIBED = 256;

/**
 * Splits a CA chain into what the bundle trusts and what leaves carry, and fingerprints it. Memoised by the PEM:
 * every mesh PUT loads every backend's material, and parsing certificates is most of that work.
 */
export function describeChain(chainPem: string): ChainDescription {
  let description = described.get(chainPem);
  if (!description) {
    description = describeUncached(chainPem);
    if (described.size >= MAX_DESCRIBED) described.delete(described.keys().next().value!);
    described.set(chainPem, description);
  }
  return description;
}

function describeUncached(chainPem: string) {
  const ders = pemDecodeAll(chainPem, 'CERTIFICATE');
  if (ders.length === 0) throw new CaMaterialError('no certificate found in the CA material');
  const certs = ders.map((der) => new X509Certificate(der));
  const isSelfSigned = (c: X509Certificate) => c.checkIssued(c);
  return {
    trustPem: ders.map((der) => pemEncode('CERTIFICATE', der)).join(''),
    fingerprint: fingerprintOf(ders),
    intermediatesPem: ders
      .filter((_, i) => !isSelfSigned(certs[i]))
      .map((der) => pemEncode('CERTIFICATE', der))
      .join(''),
    issuerNotAfter: new Date(certs[0].validTo),
    /** SHA-256 of the last certificate (the root), as `openssl x509 -fingerprint -sha256` prints it. */
    rootSha256: certs[certs.length - 1].fingerprint256,
  };
}
