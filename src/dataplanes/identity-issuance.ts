import { generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';
import { signOnPool, wholeSeconds } from '../ca/local-issuer.js';
import type { SigningPool } from '../ca/signing-pool.js';
import { issueLeafCertificate } from '../x509/x509.js';
import { CLOCK_SKEW_MS } from '../domain/clock.js';
import { cannotIssue } from '../domain/errors.js';
import type { Issuer } from '../identity/identity-service.js';
import type { IssuedLeaf } from '../ca/backend.js';

const generateKeyPairAsync = promisify(generateKeyPair);

/**
 * A certificate from a MeshIdentity's Bundled CA, as Kuma's `CreateIdentity`: exactly one URI SAN (the SPIFFE ID),
 * empty subject, serverAuth and clientAuth, valid from now (less the clock skew) for `certificateParameters.expiry`
 * (bounded by the CA). With a CSR its key stays on the dataplane; without, the control plane makes a key of the CA's
 * type (RSA-2048 under an RSA CA, the CA's curve under an EC CA).
 */
export async function signFromIdentity(
  issuer: Extract<Issuer, { kind: 'identity' }>,
  csr: string | undefined,
  uris: string[],
  now: number,
  signing: SigningPool,
): Promise<IssuedLeaf> {
  const signer = issuer.state.ca.signer;
  const notBefore = wholeSeconds(now - CLOCK_SKEW_MS);
  const notAfter = wholeSeconds(Math.min(now + issuer.state.expiryMs, signer.notAfter.getTime()));
  if (notAfter <= now)
    throw cannotIssue(
      `the CA of MeshIdentity "${issuer.identity.name}" has expired, or certificateParameters.expiry is 0`,
    );
  if (csr !== undefined) {
    // A CSR (the agent's default): verified and signed off the main thread, as the backends' certificates are.
    const ca = issuer.state.ca;
    const signed = await signOnPool(
      signing,
      `identity:${ca.fingerprint}`,
      { chainPem: signer.chainPem, keyPem: ca.keyPem },
      signer,
      { csr, uris, notBefore, notAfter },
    );
    return { certificatePem: signed.certificatePem, serialHex: signed.serialHex, notBefore, notAfter };
  }
  // No CSR: a key of the CA's type, made off the main thread (libuv's pool), signed here (one signature).
  const pair =
    signer.keyType === 'rsa'
      ? await generateKeyPairAsync('rsa', { modulusLength: 2048 })
      : await generateKeyPairAsync('ec', { namedCurve: signer.keyType === 'ec-p384' ? 'P-384' : 'P-256' });
  const spki = pair.publicKey.export({ type: 'spki', format: 'der' });
  const isRsa = signer.keyType === 'rsa';
  const privateKeyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const leaf = issueLeafCertificate({
    ca: signer,
    subjectPublicKeyDer: spki,
    publicKeyIsRsa: isRsa,
    uris,
    notBefore: new Date(notBefore),
    notAfter: new Date(notAfter),
  });
  return { certificatePem: leaf.pem, serialHex: leaf.serialHex, notBefore, notAfter, privateKeyPem };
}
