import { generateKeyPairSync } from 'node:crypto';
import { CsrError, parseAndVerifyCsr } from '../x509/csr.js';
import { issueLeafCertificate, type CaSigner } from '../x509/x509.js';

/** What a dataplane certificate needs besides the CA: plain data, so it can cross to a worker thread. */
export interface LeafRequest {
  /** PEM PKCS#10; without it a P-256 key is generated and returned. */
  csr?: string;
  uris: string[];
  notBefore: number;
  notAfter: number;
}

export type LeafResult =
  | { ok: true; certificatePem: string; serialHex: string; privateKeyPem?: string }
  | { ok: false; csrError: string };

/** Verifies the CSR (proof of possession, every time) or makes a key, then signs. Pure CPU: runs on any thread. */
export function signLeaf(signer: CaSigner, request: LeafRequest): LeafResult {
  let subjectPublicKeyDer: Buffer;
  let publicKeyIsRsa = false;
  let privateKeyPem: string | undefined;
  if (request.csr !== undefined) {
    try {
      const csr = parseAndVerifyCsr(request.csr);
      subjectPublicKeyDer = csr.spkiDer;
      publicKeyIsRsa = csr.keyType === 'rsa';
    } catch (err) {
      if (err instanceof CsrError) return { ok: false, csrError: err.message };
      throw err;
    }
  } else {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    subjectPublicKeyDer = pair.publicKey.export({ type: 'spki', format: 'der' });
    privateKeyPem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  }
  const leaf = issueLeafCertificate({
    ca: signer,
    subjectPublicKeyDer,
    publicKeyIsRsa,
    uris: request.uris,
    notBefore: new Date(request.notBefore),
    notAfter: new Date(request.notAfter),
  });
  return { ok: true, certificatePem: leaf.pem, serialHex: leaf.serialHex, ...(privateKeyPem ? { privateKeyPem } : {}) };
}
