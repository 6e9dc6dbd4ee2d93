import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import { CsrError, parseAndVerifyCsr } from '../ca/csr.js';
import { issueLeafCertificate } from '../ca/x509.js';
import { CLOCK_SKEW_MS } from '../domain/clock.js';
import { cannotIssue, invalidRequest } from '../domain/errors.js';
import type { Issuer } from '../identity/identity-service.js';
import type { IssuedLeaf } from './vault-issuance.js';

const generateKeyPairAsync = promisify(generateKeyPair);
const wholeSeconds = (ms: number) => Math.floor(ms / 1000) * 1000;

/**
 * A certificate from a MeshIdentity's Bundled CA, as Kuma's `CreateIdentity`: exactly one URI SAN (the SPIFFE ID),
 * empty subject, serverAuth and clientAuth, valid from now (less the clock skew) for `certificateParameters.expiry`
 * (bounded by the CA). With a CSR its key stays on the dataplane; without, the control plane makes a key of the CA's
 * type (RSA-2048 under an RSA CA, the CA's curve under an EC CA).
 */
export async function signFromIdentity(issuer: Extract<Issuer, { kind: 'identity' }>, csr: string | undefined, uris: string[], now: number): Promise<IssuedLeaf> {
  const signer = issuer.state.ca.signer;
  const notBefore = wholeSeconds(now - CLOCK_SKEW_MS);
  const notAfter = wholeSeconds(Math.min(now + issuer.state.expiryMs, signer.notAfter.getTime()));
  if (notAfter <= now) throw cannotIssue(`the CA of MeshIdentity "${issuer.identity.name}" has expired, or certificateParameters.expiry is 0`);
  let spki: Buffer;
  let isRsa: boolean;
  let privateKeyPem: string | undefined;
  if (csr !== undefined) {
    try {
      const parsed = parseAndVerifyCsr(csr);
      spki = parsed.spkiDer;
      isRsa = parsed.keyType === 'rsa';
    } catch (err) {
      if (err instanceof CsrError) throw invalidRequest(err.message, [{ field: 'csr', message: err.message }]);
      throw err;
    }
  } else {
    const pair =
      signer.keyType === 'rsa'
        ? await generateKeyPairAsync('rsa', { modulusLength: 2048 })
        : await generateKeyPairAsync('ec', { namedCurve: signer.keyType === 'ec-p384' ? 'P-384' : 'P-256' });
    spki = pair.publicKey.export({ type: 'spki', format: 'der' });
    isRsa = signer.keyType === 'rsa';
    privateKeyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  }
  const leaf = issueLeafCertificate({ ca: signer, subjectPublicKeyDer: spki, publicKeyIsRsa: isRsa, uris, notBefore: new Date(notBefore), notAfter: new Date(notAfter) });
  return { certificatePem: leaf.pem, serialHex: leaf.serialHex, notBefore, notAfter, ...(privateKeyPem ? { privateKeyPem } : {}) };
}
