import { createHash, generateKeyPairSync } from 'node:crypto';
import { z } from 'zod';
import { CaMaterialError } from '../ca/backend.js';
import type { CaManager, MeshCaState } from '../ca/ca-manager.js';
import { CsrError, parseAndVerifyCsr } from '../ca/csr.js';
import { issueLeafCertificate } from '../ca/x509.js';
import { ApiError, badRequest } from '../errors.js';
import { dataplaneSpiffeUris, type Dataplane } from '../resources/dataplane.js';
import { dpCertExpirationMs } from '../resources/mesh.js';
import { describeShapeError, parseShape } from '../resources/violations.js';
import type { FactsStore } from '../store/facts-store.js';
import type { DataplaneService } from './dataplane-service.js';

export const CLOCK_SKEW_MS = 10_000;
/** Renew at about 80% of the lifetime, up to 5% earlier at random so a fleet does not renew at once. */
const RENEW_AT = 0.8;
const RENEW_JITTER = 0.05;

const CertificateRequestSchema = z.object({
  csr: z.string().optional(),
  bundleVersion: z.string().optional(),
});

export interface IssuedCertificate {
  mesh: string;
  dataplane: string;
  issuedBackend: string;
  certificate: string;
  privateKey?: string;
  caBundle: string;
  bundleVersion: string;
  supportedBackends: string[];
  notBefore: string;
  notAfter: string;
  renewAfter: string;
}

const CERT_TITLE = 'Could not issue a certificate';

export function identityOf(uris: string[]): string {
  return createHash('sha256').update(uris.join('\n')).digest('base64url').slice(0, 22);
}

/** The mesh's CA state for dataplane endpoints: 409 when mTLS is off or the CA cannot be used. */
export function requireMeshCa(ca: CaManager, mesh: string): MeshCaState {
  let state: MeshCaState | undefined;
  try {
    state = ca.stateOf(mesh);
  } catch (err) {
    if (!(err instanceof CaMaterialError)) throw err;
    throw new ApiError({ status: 409, title: CERT_TITLE, detail: err.message });
  }
  if (!state) {
    throw new ApiError({
      status: 409,
      title: CERT_TITLE,
      detail: `mTLS is disabled in mesh "${mesh}": set mtls.enabledBackend first`,
    });
  }
  return state;
}

export class CertificateService {
  constructor(
    private readonly dataplanes: DataplaneService,
    private readonly ca: CaManager,
    private readonly facts: FactsStore,
  ) {}

  issue(mesh: string, name: string, body: unknown): IssuedCertificate {
    const dp = this.dataplanes.get(mesh, name).spec as Dataplane;
    const shape = parseShape(CertificateRequestSchema, body ?? {});
    if (!shape.ok) throw badRequest(describeShapeError('certificate request', shape.violations), shape.violations);
    const request = shape.value;
    const state = requireMeshCa(this.ca, mesh);

    let subjectPublicKeyDer: Buffer;
    let publicKeyIsRsa: boolean;
    let privateKey: string | undefined;
    if (request.csr !== undefined) {
      try {
        const csr = parseAndVerifyCsr(request.csr);
        subjectPublicKeyDer = csr.spkiDer;
        publicKeyIsRsa = csr.keyType === 'rsa';
      } catch (err) {
        if (!(err instanceof CsrError)) throw err;
        throw badRequest(err.message, [{ field: 'csr', message: err.message }]);
      }
    } else {
      const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      subjectPublicKeyDer = pair.publicKey.export({ type: 'spki', format: 'der' });
      publicKeyIsRsa = false;
      privateKey = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    }

    const now = Date.now();
    const notBefore = now - CLOCK_SKEW_MS;
    const notAfter = Math.min(now + dpCertExpirationMs(state.enabled), state.signer.notAfter.getTime());
    if (notAfter <= now) {
      throw new ApiError({ status: 409, title: CERT_TITLE, detail: `the CA of backend "${state.enabled.name}" has expired` });
    }
    const uris = dataplaneSpiffeUris(mesh, dp);
    const leaf = issueLeafCertificate({
      ca: state.signer,
      subjectPublicKeyDer,
      publicKeyIsRsa,
      uris,
      notBefore: new Date(notBefore),
      notAfter: new Date(notAfter),
    });
    const renewAfter = Math.round(now + (notAfter - now) * (RENEW_AT - Math.random() * RENEW_JITTER));

    this.facts.db.transaction(() => {
      this.facts.recordIssue(mesh, name, {
        backend: state.enabled.name,
        identity: identityOf(uris),
        notBefore,
        notAfter,
        renewAfter,
        issuedAt: now,
      });
      if (request.bundleVersion) this.facts.acknowledge(mesh, name, request.bundleVersion, now);
    })();

    return {
      mesh,
      dataplane: name,
      issuedBackend: state.enabled.name,
      certificate: leaf.pem + state.enabledMaterial.intermediatesPem,
      ...(privateKey ? { privateKey } : {}),
      caBundle: state.bundlePem,
      bundleVersion: state.bundleVersion,
      supportedBackends: state.supportedBackends,
      notBefore: new Date(notBefore).toISOString(),
      notAfter: new Date(notAfter).toISOString(),
      renewAfter: new Date(renewAfter).toISOString(),
    };
  }
}
