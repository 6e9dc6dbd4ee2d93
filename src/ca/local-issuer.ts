import { CLOCK_SKEW_MS } from '../domain/clock.js';
import { cannotIssue, DomainError, invalidRequest, Titles } from '../domain/errors.js';
import { dpCertExpirationMs, dpCertRequestTimeoutMs } from '../resources/mesh.js';
import { loadCaSigner, type CaSigner } from '../x509/x509.js';
import {
  CaMaterialError,
  type CaIssuer,
  type CaMaterial,
  type IssuedLeaf,
  type IssuingBackend,
  type LeafIssueRequest,
} from './backend.js';
import type { LeafRequest } from './leaf-signing.js';
import { SigningUnavailableError, type SignerMaterial, type SigningPool } from './signing-pool.js';

/** X.509 times carry whole seconds: the response and the stored facts must say what the certificate says. */
export const wholeSeconds = (ms: number) => Math.floor(ms / 1000) * 1000;

/**
 * Signs on the pool, in the API's terms: a busy or closed pool is a 503 to retry, a CSR that fails its checks a 400.
 * Every certificate a CA key meshcp holds signs goes through here (Mesh.mtls backends and MeshIdentities alike).
 */
export async function signOnPool(
  signing: SigningPool,
  signerId: string,
  material: SignerMaterial,
  signer: CaSigner,
  request: LeafRequest,
  timeoutMs?: number,
): Promise<{ certificatePem: string; serialHex: string; privateKeyPem?: string }> {
  const signed = await signing.sign(signerId, material, signer, request, timeoutMs).catch((err: unknown) => {
    if (!(err instanceof SigningUnavailableError)) throw err;
    throw new DomainError({
      kind: 'unavailable',
      title: Titles.issueCertificate,
      detail: `${err.message}; retry`,
      retryAfterSeconds: 1,
    });
  });
  if (!signed.ok) throw invalidRequest(signed.csrError, [{ field: 'csr', message: signed.csrError }]);
  return signed;
}

/**
 * Issues with a CA key the control plane holds (builtin, provided): the signer is parsed once (loading a private key
 * costs ~750 µs), the signature is made by the signing pool, off the main thread.
 */
export class LocalIssuer implements CaIssuer {
  private readonly signer: CaSigner;

  constructor(
    private readonly state: IssuingBackend,
    private readonly signing: SigningPool,
  ) {
    this.signer = loadSigner(state.enabledMaterial);
  }

  async issue({ csr, uris, now }: LeafIssueRequest): Promise<IssuedLeaf> {
    const state = this.state;
    const signer = this.signer;
    const notBefore = wholeSeconds(now - CLOCK_SKEW_MS);
    const notAfter = wholeSeconds(Math.min(now + dpCertExpirationMs(state.enabled), signer.notAfter.getTime()));
    if (notAfter <= now) {
      throw cannotIssue(`the CA of backend "${state.enabled.name}" has expired`);
    }
    const material = state.enabledMaterial;
    const signed = await signOnPool(
      this.signing,
      material.fingerprint,
      { chainPem: material.issuerChainPem, keyPem: material.issuerKeyPem },
      signer,
      { csr, uris, notBefore, notAfter },
      dpCertRequestTimeoutMs(state.enabled),
    );
    return { ...signed, notBefore, notAfter };
  }
}

function loadSigner(material: CaMaterial): CaSigner {
  try {
    return loadCaSigner(material.issuerChainPem, material.issuerKeyPem);
  } catch (err) {
    throw new CaMaterialError(`the CA of backend "${material.backend}" cannot sign: ${(err as Error).message}`);
  }
}
