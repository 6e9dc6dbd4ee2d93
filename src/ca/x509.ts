// X.509 certificate building. The to-be-signed DER is assembled from precomputed pieces with our own DER
// encoder and signed once with native node:crypto; nothing on the issuing path parses or encodes an OID.

import { createHash, createPrivateKey, createPublicKey, randomFillSync, sign, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import {
  DerError,
  Tag,
  encodeBitString,
  encodeDer,
  encodeHeader,
  encodeExplicit,
  encodeImplicit,
  encodeInteger,
  encodeNull,
  encodeOctetString,
  encodeOid,
  encodeSequence,
  encodeTime,
  encodeUtf8String,
  ia5Bytes,
  parseDer,
} from './der.js';
import type { DerNode } from './der.js';
import { pemDecodeAll, pemEncode } from './pem.js';

export type CaKeyType = 'rsa' | 'ec-p256' | 'ec-p384';

export interface CaSigner {
  certPem: string;
  certDer: Buffer;
  /** Raw DER of the CA's subject Name, used as the leaf's issuer. */
  subjectNameDer: Buffer;
  subjectKeyId: Buffer;
  privateKey: KeyObject;
  keyType: CaKeyType;
  notBefore: Date;
  notAfter: Date;
  /** The CA cert followed by any further certs given (intermediates/root), PEM. */
  chainPem: string;
}

// PEM lives in ./pem.ts (the agent uses it too); re-exported for the CA's callers.
export { pemDecodeAll, pemEncode };

// ---------------------------------------------------------------------------------------------------------------
// Constant pieces

const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  ecdsaWithSHA384: '1.2.840.10045.4.3.3',
} as const;

interface SignatureScheme {
  /** Full AlgorithmIdentifier DER. */
  algorithmId: Buffer;
  hash: 'sha256' | 'sha384';
}

const SIGNATURE_SCHEMES: Record<CaKeyType, SignatureScheme> = {
  rsa: { algorithmId: encodeSequence(encodeOid(OID.sha256WithRSAEncryption), encodeNull()), hash: 'sha256' },
  'ec-p256': { algorithmId: encodeSequence(encodeOid(OID.ecdsaWithSHA256)), hash: 'sha256' },
  'ec-p384': { algorithmId: encodeSequence(encodeOid(OID.ecdsaWithSHA384)), hash: 'sha384' },
};

const VERSION_3 = encodeExplicit(0, encodeInteger(2));
const EMPTY_NAME = encodeSequence();
const DER_TRUE = Buffer.from([Tag.BOOLEAN, 1, 0xff]);

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return critical
    ? encodeSequence(encodeOid(oid), DER_TRUE, encodeOctetString(value))
    : encodeSequence(encodeOid(oid), encodeOctetString(value));
}

// keyUsage bits (RFC 5280 4.2.1.3), as DER named-bit BIT STRINGs (trailing zero bits dropped).
const KU_DIGITAL_SIGNATURE = encodeBitString(Buffer.from([0x80]), 7);
const KU_DIGITAL_SIGNATURE_KEY_ENCIPHERMENT = encodeBitString(Buffer.from([0xa0]), 5);
const KU_KEY_CERT_SIGN_CRL_SIGN = encodeBitString(Buffer.from([0x06]), 1);

const EXT_CA_FALSE = extension(OID.basicConstraints, true, encodeSequence());
const EXT_CA_TRUE = extension(OID.basicConstraints, true, encodeSequence(DER_TRUE));
const EXT_KU_LEAF_EC = extension(OID.keyUsage, true, KU_DIGITAL_SIGNATURE);
const EXT_KU_LEAF_RSA = extension(OID.keyUsage, true, KU_DIGITAL_SIGNATURE_KEY_ENCIPHERMENT);
const EXT_KU_CA = extension(OID.keyUsage, true, KU_KEY_CERT_SIGN_CRL_SIGN);
const EXT_EKU_SERVER_CLIENT = extension(
  OID.extKeyUsage,
  false,
  encodeSequence(encodeOid(OID.serverAuth), encodeOid(OID.clientAuth)),
);
const EXT_EKU_SERVER = extension(OID.extKeyUsage, false, encodeSequence(encodeOid(OID.serverAuth)));
const SAN_EXTENSION_HEAD_CRITICAL = Buffer.concat([encodeOid(OID.subjectAltName), DER_TRUE]);

// GeneralName tags (implicit, context-specific).
const GN_DNS = 0x82;
const GN_URI = 0x86;
const GN_IP = 0x87;

// ---------------------------------------------------------------------------------------------------------------
// Helpers

/** The CA key type of a private or public key; throws for keys we cannot sign certificates with. */
export function caKeyTypeOf(key: KeyObject): CaKeyType {
  if (key.asymmetricKeyType === 'rsa') return 'rsa';
  if (key.asymmetricKeyType === 'ec') {
    const curve = namedCurveOidOf(key);
    if (curve.equals(P256_OID)) return 'ec-p256';
    if (curve.equals(P384_OID)) return 'ec-p384';
    throw new Error('unsupported EC curve (P-256 and P-384 are supported)');
  }
  throw new Error(`unsupported key type ${key.asymmetricKeyType ?? key.type} (RSA, EC P-256 and P-384 are supported)`);
}

const P256_OID = encodeOid('1.2.840.10045.3.1.7');
const P384_OID = encodeOid('1.3.132.0.34');

/**
 * An EC key's named-curve OID, read from its DER (the parameters of its AlgorithmIdentifier), never from
 * `asymmetricKeyDetails`: on Node 20, reading the details (or a JWK export) of a key made by generateKeyPairSync
 * deadlocks the thread when a garbage collection runs inside that call (the collected key-generation job waits for
 * the key's lock, which the call holds). It was seen as a test process hung forever; a server making its HTTPS
 * certificate at start-up could hang the same way.
 */
function namedCurveOidOf(key: KeyObject): Buffer {
  const der =
    key.type === 'private' ? key.export({ type: 'pkcs8', format: 'der' }) : key.export({ type: 'spki', format: 'der' });
  const parts = parseDer(der).children();
  const algorithm = parts[key.type === 'private' ? 1 : 0].children();
  return algorithm[1].raw();
}

// Random bytes are drawn in batches: one randomFillSync per 200 serials instead of one per certificate.
const SERIAL_LENGTH = 20;
const serialPool = Buffer.alloc(SERIAL_LENGTH * 200);
let serialPoolOffset = serialPool.length;

/** A random positive serial of at most 20 octets: the magnitude's top bit is clear, so no sign padding is needed. */
function randomSerial(): Buffer {
  if (serialPoolOffset >= serialPool.length) {
    randomFillSync(serialPool);
    serialPoolOffset = 0;
  }
  const serial = Buffer.from(serialPool.subarray(serialPoolOffset, serialPoolOffset + SERIAL_LENGTH));
  serialPoolOffset += SERIAL_LENGTH;
  serial[0] &= 0x7f;
  if (serial[0] === 0) serial[0] = 0x01; // keeps the encoding exactly 20 octets and the value non-zero
  return serial;
}

function encodeValidity(notBefore: Date, notAfter: Date): Buffer {
  if (!(notBefore instanceof Date) || !(notAfter instanceof Date) || !(notAfter.getTime() > notBefore.getTime())) {
    throw new Error('certificate validity: notAfter must be a date after notBefore');
  }
  return encodeDer(Tag.SEQUENCE, [encodeTime(notBefore), encodeTime(notAfter)]);
}

function encodeName(attributes: ReadonlyArray<readonly [oid: string, value: string]>): Buffer {
  return encodeDer(
    Tag.SEQUENCE,
    attributes.map(([oid, value]) => encodeDer(Tag.SET, encodeSequence(encodeOid(oid), encodeUtf8String(value)))),
  );
}

function spkiDerOf(publicKey: KeyObject): Buffer {
  return publicKey.export({ type: 'spki', format: 'der' });
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's bits. */
function keyIdentifierOfSpki(spkiDer: Buffer): Buffer {
  const [, subjectPublicKey] = parseDer(spkiDer).expect(Tag.SEQUENCE, 'SubjectPublicKeyInfo').items(2);
  return createHash('sha1').update(subjectPublicKey.bitString().bytes).digest();
}

function authorityKeyIdExtension(keyId: Buffer): Buffer {
  return extension(OID.authorityKeyIdentifier, false, encodeSequence(encodeImplicit(0, keyId)));
}

function uriGeneralNames(uris: readonly string[]): Buffer[] {
  return uris.map((uri) => {
    if (typeof uri !== 'string' || uri.length === 0 || !/^[\x21-\x7e]+$/.test(uri)) {
      throw new Error(`invalid URI SAN ${JSON.stringify(uri)}: printable ASCII without spaces is required`);
    }
    return encodeDer(GN_URI, Buffer.from(uri, 'latin1'));
  });
}

/** Checks that `publicKey` is the public half of `privateKey` (a mismatch would produce an unverifiable cert). */
function checkKeyPair(privateKey: KeyObject, publicKey: KeyObject): Buffer {
  if (privateKey?.type !== 'private') throw new Error('privateKey must be a private KeyObject');
  if (publicKey?.type !== 'public') throw new Error('publicKey must be a public KeyObject');
  const spki = spkiDerOf(publicKey);
  if (!spkiDerOf(createPublicKey(privateKey)).equals(spki)) throw new Error('publicKey does not match privateKey');
  return spki;
}

function signCertificate(tbs: Buffer, scheme: SignatureScheme, privateKey: KeyObject): Buffer {
  const signature = sign(scheme.hash, tbs, privateKey);
  const signatureHeader = encodeHeader(Tag.BIT_STRING, signature.length + 1);
  const contentLength = tbs.length + scheme.algorithmId.length + signatureHeader.length + 1 + signature.length;
  const header = encodeHeader(Tag.SEQUENCE, contentLength);
  // A dedicated allocation: certificates are long-lived and should not pin a slab of Buffer's shared pool.
  const out = Buffer.allocUnsafeSlow(header.length + contentLength);
  let off = header.copy(out, 0);
  off += tbs.copy(out, off);
  off += scheme.algorithmId.copy(out, off);
  off += signatureHeader.copy(out, off);
  out[off++] = 0; // no unused bits
  signature.copy(out, off);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Loading a CA

interface ParsedCertificate {
  subjectNameDer: Buffer;
  notBefore: Date;
  notAfter: Date;
  spkiDer: Buffer;
  subjectKeyId?: Buffer;
}

function parseCertificate(der: Buffer): ParsedCertificate {
  const [tbs] = parseDer(der).expect(Tag.SEQUENCE, 'Certificate').items(3, 3, 'Certificate');
  const fields = tbs.expect(Tag.SEQUENCE, 'TBSCertificate').items(6, 10, 'TBSCertificate');
  let i = fields[0].tag === 0xa0 ? 1 : 0;
  const next = (): DerNode => {
    const node = fields[i++];
    if (!node) throw new DerError('TBSCertificate is truncated');
    return node;
  };
  next().integer(); // serialNumber
  next().expect(Tag.SEQUENCE, 'signature');
  next().expect(Tag.SEQUENCE, 'issuer');
  const [notBefore, notAfter] = next().expect(Tag.SEQUENCE, 'validity').items(2, 2, 'validity');
  const subject = next().expect(Tag.SEQUENCE, 'subject');
  const spki = next().expect(Tag.SEQUENCE, 'subjectPublicKeyInfo');
  let subjectKeyId: Buffer | undefined;
  for (const field of fields.slice(i)) {
    if (field.tag !== 0xa3) continue;
    const [extensions] = field.items(1, 1, 'extensions');
    for (const ext of extensions.expect(Tag.SEQUENCE, 'extensions').children()) {
      const parts = ext.expect(Tag.SEQUENCE, 'extension').items(2, 3, 'extension');
      if (parts[0].oid() !== OID.subjectKeyIdentifier) continue;
      subjectKeyId = Buffer.from(parseDer(parts[parts.length - 1].octetString()).octetString());
    }
  }
  return {
    subjectNameDer: Buffer.from(subject.raw()),
    notBefore: notBefore.time(),
    notAfter: notAfter.time(),
    spkiDer: Buffer.from(spki.raw()),
    subjectKeyId,
  };
}

/**
 * Loads an issuing CA: the first certificate of `certChainPem` is the issuer, any further ones are its chain.
 * Everything issuing needs is computed here once.
 */
export function loadCaSigner(certChainPem: string, keyPem: string): CaSigner {
  let ders: Buffer[];
  try {
    ders = pemDecodeAll(String(certChainPem), 'CERTIFICATE');
  } catch (err) {
    throw new Error(`CA certificate is not valid PEM: ${(err as Error).message}`);
  }
  if (ders.length === 0) throw new Error('CA certificate: no PEM CERTIFICATE block found');
  // node:crypto parses every certificate too, so material OpenSSL would refuse fails here and not at first use.
  const x509s = ders.map((der, index) => {
    try {
      return { cert: new X509Certificate(der), parsed: parseCertificate(der) };
    } catch (err) {
      throw new Error(`CA certificate #${index + 1} could not be parsed: ${(err as Error).message}`);
    }
  });
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyPem);
  } catch (err) {
    throw new Error(`CA private key could not be loaded: ${(err as Error).message}`);
  }
  const keyType = caKeyTypeOf(privateKey);
  const ca = x509s[0].parsed;
  if (!x509s[0].cert.checkPrivateKey(privateKey)) {
    throw new Error('CA private key does not match the CA certificate');
  }
  const certPem = pemEncode('CERTIFICATE', ders[0]);
  return {
    certPem,
    certDer: ders[0],
    subjectNameDer: ca.subjectNameDer,
    subjectKeyId: ca.subjectKeyId ?? keyIdentifierOfSpki(ca.spkiDer),
    privateKey,
    keyType,
    notBefore: ca.notBefore,
    notAfter: ca.notAfter,
    chainPem: ders.map((der) => pemEncode('CERTIFICATE', der)).join(''),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Root CA

export function createRootCaCertificate(opts: {
  privateKey: KeyObject;
  publicKey: KeyObject;
  subject: { O: string; OU: string; CN: string };
  uriSan: string;
  notBefore: Date;
  notAfter: Date;
}): string {
  const spki = checkKeyPair(opts.privateKey, opts.publicKey);
  const scheme = SIGNATURE_SCHEMES[caKeyTypeOf(opts.privateKey)];
  const name = encodeName([
    [OID.organization, opts.subject.O],
    [OID.organizationalUnit, opts.subject.OU],
    [OID.commonName, opts.subject.CN],
  ]);
  const keyId = keyIdentifierOfSpki(spki);
  const extensions = encodeSequence(
    EXT_CA_TRUE,
    EXT_KU_CA,
    extension(OID.subjectKeyIdentifier, false, encodeOctetString(keyId)),
    authorityKeyIdExtension(keyId),
    extension(OID.subjectAltName, false, encodeDer(Tag.SEQUENCE, uriGeneralNames([opts.uriSan]))),
  );
  const tbs = encodeSequence(
    VERSION_3,
    encodeInteger(randomSerial()),
    scheme.algorithmId,
    name,
    encodeValidity(opts.notBefore, opts.notAfter),
    name,
    spki,
    encodeExplicit(3, extensions),
  );
  return pemEncode('CERTIFICATE', signCertificate(tbs, scheme, opts.privateKey));
}

// ---------------------------------------------------------------------------------------------------------------
// Leaves

/** A cheap shape check (one header read): exactly one SEQUENCE spanning the buffer. */
function isSingleSequence(der: Buffer): boolean {
  if (!Buffer.isBuffer(der) || der[0] !== Tag.SEQUENCE) return false;
  try {
    parseDer(der);
    return true;
  } catch {
    return false;
  }
}

interface LeafTemplate {
  scheme: SignatureScheme;
  /** signature AlgorithmIdentifier followed by the issuer Name: the TBS fields between serial and validity. */
  algorithmAndIssuer: Buffer;
  authorityKeyId: Buffer;
}

const leafTemplates = new WeakMap<CaSigner, LeafTemplate>();

function leafTemplateFor(ca: CaSigner): LeafTemplate {
  let template = leafTemplates.get(ca);
  if (!template) {
    const scheme = SIGNATURE_SCHEMES[ca.keyType];
    if (!scheme) throw new Error(`unsupported CA key type ${String(ca.keyType)}`);
    template = {
      scheme,
      algorithmAndIssuer: Buffer.concat([scheme.algorithmId, ca.subjectNameDer]),
      authorityKeyId: authorityKeyIdExtension(ca.subjectKeyId),
    };
    leafTemplates.set(ca, template);
  }
  return template;
}

/**
 * Issues a dataplane certificate: empty subject, critical URI SAN (in the given order), digitalSignature
 * (+ keyEncipherment for RSA keys), serverAuth + clientAuth, CA:FALSE. The caller bounds notAfter by the CA's.
 */
export function issueLeafCertificate(opts: {
  ca: CaSigner;
  subjectPublicKeyDer: Buffer;
  publicKeyIsRsa: boolean;
  uris: string[];
  notBefore: Date;
  notAfter: Date;
}): { pem: string; der: Buffer; serialHex: string } {
  const template = leafTemplateFor(opts.ca);
  if (opts.uris.length === 0) throw new Error('a certificate with an empty subject needs at least one URI SAN');
  const spki = opts.subjectPublicKeyDer;
  if (!isSingleSequence(spki)) throw new Error('subjectPublicKeyDer must be a DER SubjectPublicKeyInfo');
  const san = encodeDer(Tag.SEQUENCE, [
    SAN_EXTENSION_HEAD_CRITICAL,
    encodeDer(Tag.OCTET_STRING, encodeDer(Tag.SEQUENCE, uriGeneralNames(opts.uris))),
  ]);
  const extensions = encodeDer(0xa3, [
    encodeDer(Tag.SEQUENCE, [
      san,
      opts.publicKeyIsRsa ? EXT_KU_LEAF_RSA : EXT_KU_LEAF_EC,
      EXT_EKU_SERVER_CLIENT,
      EXT_CA_FALSE,
      template.authorityKeyId,
    ]),
  ]);
  const serial = randomSerial();
  const tbs = encodeDer(Tag.SEQUENCE, [
    VERSION_3,
    encodeDer(Tag.INTEGER, serial),
    template.algorithmAndIssuer,
    encodeValidity(opts.notBefore, opts.notAfter),
    EMPTY_NAME,
    spki,
    extensions,
  ]);
  const der = signCertificate(tbs, template.scheme, opts.ca.privateKey);
  return { pem: pemEncode('CERTIFICATE', der), der, serialHex: serial.toString('hex').toUpperCase() };
}

// ---------------------------------------------------------------------------------------------------------------
// The control plane's own HTTPS certificate

function ipAddressBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (!isIPv6(ip)) throw new Error(`invalid IP address SAN ${JSON.stringify(ip)}`);
  let s = ip.split('%')[0];
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = ipAddressBytes(tail);
    s = `${s.slice(0, lastColon + 1)}${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
  }
  const groupsOf = (part: string): string[] => (part === '' ? [] : part.split(':'));
  let groups: string[];
  const doubleColon = s.indexOf('::');
  if (doubleColon >= 0) {
    const head = groupsOf(s.slice(0, doubleColon));
    const rest = groupsOf(s.slice(doubleColon + 2));
    groups = [...head, ...Array<string>(8 - head.length - rest.length).fill('0'), ...rest];
  } else {
    groups = groupsOf(s);
  }
  if (groups.length !== 8) throw new Error(`invalid IP address SAN ${JSON.stringify(ip)}`);
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** A self-signed serverAuth certificate for the control plane's HTTPS listener. */
export function createSelfSignedServerCertificate(opts: {
  privateKey: KeyObject;
  publicKey: KeyObject;
  commonName: string;
  dnsNames: string[];
  ipAddresses: string[];
  notBefore: Date;
  notAfter: Date;
}): string {
  const spki = checkKeyPair(opts.privateKey, opts.publicKey);
  const keyType = caKeyTypeOf(opts.privateKey);
  const scheme = SIGNATURE_SCHEMES[keyType];
  const name = encodeName([[OID.commonName, opts.commonName]]);
  const keyId = keyIdentifierOfSpki(spki);
  const generalNames = [
    ...opts.dnsNames.map((dns) => {
      if (dns.length === 0 || /[\s]/.test(dns)) throw new Error(`invalid DNS SAN ${JSON.stringify(dns)}`);
      return encodeDer(GN_DNS, ia5Bytes(dns));
    }),
    ...opts.ipAddresses.map((ip) => encodeDer(GN_IP, ipAddressBytes(ip))),
  ];
  const extensions = [
    EXT_CA_FALSE,
    keyType === 'rsa' ? EXT_KU_LEAF_RSA : EXT_KU_LEAF_EC,
    EXT_EKU_SERVER,
    extension(OID.subjectKeyIdentifier, false, encodeOctetString(keyId)),
  ];
  if (generalNames.length > 0) {
    extensions.push(extension(OID.subjectAltName, false, encodeDer(Tag.SEQUENCE, generalNames)));
  }
  const tbs = encodeSequence(
    VERSION_3,
    encodeInteger(randomSerial()),
    scheme.algorithmId,
    name,
    encodeValidity(opts.notBefore, opts.notAfter),
    name,
    spki,
    encodeExplicit(3, encodeDer(Tag.SEQUENCE, extensions)),
  );
  return pemEncode('CERTIFICATE', signCertificate(tbs, scheme, opts.privateKey));
}
