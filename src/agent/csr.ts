/**
 * PKCS#10 certificate requests for the agent: an ECDSA P-256 key made with node:crypto, the request built with the
 * control plane's DER helpers and signed with node:crypto. (node-forge cannot: its PKI layer only knows RSA keys.)
 * The private key never leaves the agent; only the CSR is sent.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import {
  encodeBitString,
  encodeDer,
  encodeInteger,
  encodeOid,
  encodeSequence,
  encodeSet,
  encodeUtf8String,
} from '../ca/der.js';
import { pemEncode } from '../ca/pem.js';

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const COMMON_NAME = '2.5.4.3';

export interface KeyAndCsr {
  privateKey: KeyObject;
  /** PKCS#8 PEM of the private key, for key.pem. */
  keyPem: string;
  csrPem: string;
}

/** A CSR for `privateKey` (EC P-256). The subject is informative only: the control plane derives the identity. */
export function buildCsr(privateKey: KeyObject, publicKey: KeyObject, commonName: string): string {
  const subject = encodeSequence(encodeSet(encodeSequence(encodeOid(COMMON_NAME), encodeUtf8String(commonName))));
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const noAttributes = encodeDer(0xa0, []);
  const info = encodeSequence(encodeInteger(0), subject, spki, noAttributes);
  // node:crypto signs ECDSA as a DER Ecdsa-Sig-Value, which is what X.509 and PKCS#10 carry.
  const signature = sign('sha256', info, privateKey);
  const der = encodeSequence(info, encodeSequence(encodeOid(ECDSA_WITH_SHA256)), encodeBitString(signature));
  return pemEncode('CERTIFICATE REQUEST', der);
}

/** A fresh P-256 key and its CSR. */
export function newKeyAndCsr(commonName: string): KeyAndCsr {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privateKey,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    csrPem: buildCsr(privateKey, publicKey, commonName),
  };
}
