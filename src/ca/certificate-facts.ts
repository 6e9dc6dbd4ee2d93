import { X509Certificate, createHash } from 'node:crypto';
import forge from 'node-forge';

/** Key usage bits of RFC 5280 4.2.1.3, by name. */
const KEY_USAGE_BITS = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const;
export type KeyUsage = (typeof KEY_USAGE_BITS)[number];

const KEY_USAGE_OID = '2.5.29.15';

export interface CertificateFacts {
  x509: X509Certificate;
  isCa: boolean;
  /** undefined when the certificate has no keyUsage extension. */
  keyUsage: Set<KeyUsage> | undefined;
  notBefore: Date;
  notAfter: Date;
}

/**
 * Reads what the CA checks need from a certificate. Node's X509Certificate gives the CA flag and validity but not
 * the keyUsage bits, so those come from node-forge's ASN.1 reader (validation path only, never per request).
 */
export function readCertificateFacts(der: Buffer): CertificateFacts {
  const x509 = new X509Certificate(der);
  return {
    x509,
    isCa: x509.ca,
    keyUsage: readKeyUsage(der),
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
  };
}

function readKeyUsage(der: Buffer): Set<KeyUsage> | undefined {
  const cert = forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary')));
  const tbs = (cert.value as forge.asn1.Asn1[])[0];
  const extensionsWrapper = (tbs.value as forge.asn1.Asn1[]).find(
    (node) => node.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && node.type === 3,
  );
  if (!extensionsWrapper) return undefined;
  const extensions = (extensionsWrapper.value as forge.asn1.Asn1[])[0].value as forge.asn1.Asn1[];
  for (const extension of extensions) {
    const parts = extension.value as forge.asn1.Asn1[];
    if (forge.asn1.derToOid(parts[0].value as string) !== KEY_USAGE_OID) continue;
    const octets = parts[parts.length - 1].value as string;
    const bitString = forge.asn1.fromDer(forge.util.createBuffer(octets));
    const bytes = Buffer.from(bitString.value as string, 'binary');
    // bytes[0] is the count of unused bits; the flags follow, most significant bit first.
    const usages = new Set<KeyUsage>();
    KEY_USAGE_BITS.forEach((usage, bit) => {
      const byte = bytes[1 + (bit >> 3)];
      if (byte !== undefined && (byte & (0x80 >> (bit & 7))) !== 0) usages.add(usage);
    });
    return usages;
  }
  return undefined;
}

/** SHA-256 over the DER of every certificate, in order: identifies a backend's root material. */
export function fingerprintOf(ders: Buffer[]): string {
  const hash = createHash('sha256');
  for (const der of ders) hash.update(der);
  return hash.digest('hex');
}
