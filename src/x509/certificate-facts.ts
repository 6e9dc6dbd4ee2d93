import { X509Certificate, createHash } from 'node:crypto';
import { parseDer } from './der.js';

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
type KeyUsage = (typeof KEY_USAGE_BITS)[number];

const KEY_USAGE_OID = '2.5.29.15';

interface CertificateFacts {
  x509: X509Certificate;
  isCa: boolean;
  /** undefined when the certificate has no keyUsage extension. */
  keyUsage: Set<KeyUsage> | undefined;
  notBefore: Date;
  notAfter: Date;
}

/**
 * Reads what the CA checks need from a certificate. Node's X509Certificate gives the CA flag and validity but not
 * the keyUsage bits, so those come from our DER reader (the one ASN.1 reader of the code base; validation path
 * only, never per request).
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
  const tbs = parseDer(der).children()[0];
  // extensions [3] EXPLICIT (a constructed, context-specific tag) wrap the SEQUENCE of extensions
  const wrapper = tbs.children().find((node) => node.tag === 0xa3);
  if (!wrapper) return undefined;
  for (const extension of wrapper.children()[0].children()) {
    const parts = extension.children();
    if (parts[0].oid() !== KEY_USAGE_OID) continue;
    // extnValue: an OCTET STRING holding the DER of the keyUsage BIT STRING, flags most significant bit first
    const { bytes } = parseDer(parts[parts.length - 1].octetString()).bitString();
    const usages = new Set<KeyUsage>();
    KEY_USAGE_BITS.forEach((usage, bit) => {
      const byte = bytes[bit >> 3];
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
